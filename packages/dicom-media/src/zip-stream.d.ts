// zip-stream@7 ships no types. Only the surface study-zip.writer.ts uses is declared; the instance is a
// `readable-stream` Transform, so it behaves like a node stream but is not `instanceof` node's classes.
declare module 'zip-stream' {
  import type { Readable, Writable } from 'node:stream';

  export interface ZipStreamOptions {
    comment?: string;
    forceLocalTime?: boolean;
    forceZip64?: boolean;
    store?: boolean;
    namePrependSlash?: boolean;
    zlib?: { level?: number };
  }

  export interface ZipEntryData {
    name: string;
    date?: Date;
    mode?: number;
    store?: boolean;
    comment?: string;
    type?: 'file' | 'directory';
  }

  /** compress-commons' ZipArchiveEntry, opaque here. */
  export interface ZipArchiveEntry {
    getName(): string;
    getMethod(): number;
    setCrc(crc: number): void;
    setSize(size: number): void;
    setCompressedSize(size: number): void;
  }

  export default class ZipStream {
    constructor(options?: ZipStreamOptions);
    entry(
      source: Buffer | Readable,
      data: ZipEntryData,
      callback: (err: Error | null) => void,
    ): this | undefined;
    finalize(): void;
    getBytesWritten(): number;
    readonly writableNeedDrain: boolean;
    readonly destroyed: boolean;
    pipe<T extends Writable>(destination: T, options?: { end?: boolean }): T;
    unpipe(destination?: Writable): this;
    destroy(err?: Error): this;
    end(): this;
    on(event: 'error', listener: (err: Error) => void): this;
    once(event: 'drain' | 'close', listener: () => void): this;
    off(event: 'drain' | 'close', listener: () => void): this;

    // compress-commons internals (ZipArchiveOutputStream), used to write the central directory with
    // backpressure. Checked against compress-commons 7.0.x.
    protected offset: number;
    protected _entries: ZipArchiveEntry[];
    protected _archive: {
      centralLength: number;
      centralOffset: number;
      finish: boolean;
      finished: boolean;
      processing: boolean;
    };
    protected _finish(): void;
    protected _writeCentralFileHeader(entry: ZipArchiveEntry): void;
    protected _writeCentralDirectoryZip64(): void;
    protected _writeCentralDirectoryEnd(): void;
    protected isZip64(): boolean;
    protected _smartStream(
      entry: ZipArchiveEntry,
      callback: (err: Error | null, entry: ZipArchiveEntry) => void,
    ): Writable;
    protected _afterAppend(entry: ZipArchiveEntry): void;
  }
}
