import { finished, PassThrough, type Readable, Transform, type Writable } from 'node:stream';
import zlib from 'node:zlib';
import ZipStream, { type ZipArchiveEntry } from 'zip-stream';

/** compress-commons' method id of a stored (not deflated) entry. */
const METHOD_STORED = 0;

import { ChunkCoalescer } from './chunk-coalescer.transform.js';

/**
 * A zip archive written as a stream, one entry at a time.
 *
 * ZIP64: zip-stream's engine (compress-commons) switches to ZIP64 by itself exactly where the format
 * needs it: the ZIP64 end records once there are more than 65,535 entries or the central directory
 * starts (or grows) past 4 GiB, and a ZIP64 extra field in the central directory for each entry whose
 * size or local header offset passes 4 GiB. A streamed entry's size is unknown when its local header is
 * written, so it gets a data descriptor, and that descriptor carries 8-byte sizes when the entry turned
 * out larger than 4 GiB. `forceZip64` is left off on purpose: it only forces the ZIP64 end records
 * (entries are unaffected), so it would add nothing to big archives and cost small ones the readers
 * that predate ZIP64. Verified: a streamed 4 GiB + 5,000 byte entry between two others passes
 * `unzip -t` and reads back in Python's zipfile and Java's ZipFile; tests check the ZIP64 records.
 * One corner compress-commons leaves: a size or local header offset of exactly 0xFFFFFFFF is written
 * as is, without a ZIP64 field. Info-ZIP, Python and Java read it literally (correctly); Go's
 * archive/zip would refuse it. It takes an entry starting on exactly that byte.
 *
 * `output` must be read while entries are added: `addFile` waits for the reader (that is the
 * backpressure), so awaiting it before anything consumes `output` never returns.
 */
export interface StudyZip {
  /**
   * The archive bytes. Destroyed with the error when the archive cannot be completed, so a consumer's
   * pipeline fails and the client never sees a zip end record after a failure.
   */
  readonly output: Readable;
  /**
   * Adds one stored entry; resolves when all of it has been written to `output`. Await each call
   * before the next: entries are written one at a time, a stream source is read only as fast as
   * `output` is consumed. A source that fails aborts the whole archive.
   */
  addFile(name: string, source: Readable | Buffer): Promise<void>;
  /** Writes the central directory; resolves once the last byte has been handed to `output`. */
  finalize(): Promise<void>;
  /** Fails the archive: `output` is destroyed with `err` and nothing more is written. No-op once complete. */
  abort(err: Error): void;
}

export interface StudyZipOptions {
  /** Modification time stamped on every entry; the time the zip is created when omitted. */
  date?: Date;
}

/** An entry name that is not a safe relative path of `[A-Za-z0-9_.-]` components, or is already used. */
export class ZipEntryNameError extends Error {
  override name = 'ZipEntryNameError';
}

/**
 * compress-commons writes the whole central directory in one synchronous loop, about 17 writes per
 * entry, and a consumer slower than that loop gets them all queued at once: some 500 MB of heap for
 * 100,000 entries. This does the same steps (compress-commons 7.0 `_finish`) but lets the queue drain
 * every few records, so memory stays flat at the end of a large study too.
 */
class FlatMemoryZipStream extends ZipStream {
  /**
   * Stored entries get their CRC-32 from zlib's native crc32 (Node ≥ 20.15) instead of the `crc-32`
   * JavaScript package compress-commons uses: about 5× faster, a sixth of an export's CPU time.
   * Same steps as compress-commons 7.0 `_smartStream` otherwise.
   */
  protected override _smartStream(
    entry: ZipArchiveEntry,
    callback: (err: Error | null, entry: ZipArchiveEntry) => void,
  ): Writable {
    if (typeof zlib.crc32 !== 'function' || entry.getMethod() !== METHOD_STORED) {
      return super._smartStream(entry, callback);
    }
    let crc = 0;
    let size = 0;
    let error: Error | null = null;
    const checksum = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        crc = zlib.crc32(chunk, crc);
        size += chunk.length;
        done(null, chunk);
      },
    });
    checksum.once('end', () => {
      entry.setCrc(crc >>> 0);
      entry.setSize(size);
      entry.setCompressedSize(size);
      this._afterAppend(entry);
      callback(error, entry);
    });
    checksum.once('error', (err) => {
      error = err;
    });
    checksum.pipe(this as unknown as Writable, { end: false });
    return checksum;
  }

  protected override _finish(): void {
    this.#finishWithBackpressure().catch((err: Error) => this.destroy(err));
  }

  async #finishWithBackpressure(): Promise<void> {
    this._archive.centralOffset = this.offset;
    for (const entry of this._entries) {
      this._writeCentralFileHeader(entry);
      if (this.writableNeedDrain) await this.#drained();
      if (this.destroyed) return;
    }
    this._archive.centralLength = this.offset - this._archive.centralOffset;
    if (this.isZip64()) this._writeCentralDirectoryZip64();
    this._writeCentralDirectoryEnd();
    this._archive.processing = false;
    this._archive.finish = true;
    this._archive.finished = true;
    this.end();
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.once('drain', done);
      this.once('close', done);
    });
  }
}

const NAME_COMPONENT = /^[A-Za-z0-9_.-]+$/;
const MAX_NAME_LENGTH = 255;

/**
 * Throws unless `name` is a safe zip entry name: relative, `/`-separated components of
 * `[A-Za-z0-9_.-]`, no empty, `.` or `..` component.
 * @example assertValidEntryName('DICOM/S0000001/I0000001') // passes; '../etc/passwd' throws
 */
export function assertValidEntryName(name: string): void {
  const components = name.split('/');
  const valid =
    name.length > 0 &&
    name.length <= MAX_NAME_LENGTH &&
    components.every((part) => NAME_COMPONENT.test(part) && part !== '.' && part !== '..');
  if (!valid) throw new ZipEntryNameError(`unsafe zip entry name: ${JSON.stringify(name)}`);
}

/**
 * Starts a streaming, stored (not deflated) zip archive.
 * @example const zip = createStudyZip(); const sent = pipeline(zip.output, res); await zip.addFile('DICOMDIR', bytes); await zip.finalize(); await sent;
 */
export function createStudyZip(options: StudyZipOptions = {}): StudyZip {
  const date = options.date ?? new Date();
  // STORE only: pixel data is mostly compressed already, and deflate would cost more CPU than it saves.
  const zip = new FlatMemoryZipStream({ store: true, forceZip64: false });
  // The consumer reads from our own stream, never from zip-stream's: after a failure nothing zip-stream
  // still writes (a data descriptor, a central directory) can reach it.
  const output = new ChunkCoalescer();
  const names = new Set<string>();
  let failure: Error | null = null;
  let complete = false;
  let current: { source: Readable | null; reject: (err: Error) => void } | null = null;
  let finalizing: Promise<void> | null = null;
  let settleFinalize: ((err: Error | null) => void) | null = null;

  const fail = (err: Error): void => {
    if (failure !== null || complete) return;
    failure = err;
    zip.unpipe(output);
    output.destroy(err);
    zip.destroy();
    const entry = current;
    current = null;
    entry?.source?.destroy();
    entry?.reject(err);
    settleFinalize?.(err);
  };

  // The failure is reported through the promises and to whoever consumes `output`. Without this
  // listener, an `output` that nobody has piped yet would turn the error into an uncaught exception.
  output.on('error', () => {});
  output.on('finish', () => {
    complete = true;
    settleFinalize?.(null);
  });
  output.on('close', () => fail(new Error('zip output closed before the archive was complete')));
  zip.on('error', fail);
  zip.pipe(output);

  const addFile = (name: string, source: Readable | Buffer): Promise<void> => {
    if (failure !== null) return Promise.reject(failure);
    if (finalizing !== null) return Promise.reject(new Error('zip is finalized: no more entries'));
    if (current !== null) return Promise.reject(new Error('the previous addFile() has not finished'));
    try {
      assertValidEntryName(name);
    } catch (err) {
      return Promise.reject(err);
    }
    if (names.has(name)) return Promise.reject(new ZipEntryNameError(`duplicate zip entry name: ${name}`));
    names.add(name);

    return new Promise<void>((resolve, reject) => {
      const entry = { source: Buffer.isBuffer(source) ? null : source, reject };
      current = entry;
      let input: Buffer | Readable = source;
      if (!Buffer.isBuffer(source)) {
        // zip-stream on its own would close the entry normally after a source error (and a source that
        // just closes would stall it). The gate never ends on a failure, so the entry can't be closed,
        // and we abort before anything else is written.
        // pipe + finished rather than pipeline: pipeline makes (and aborts) an AbortController per
        // call, whose DOMException cost about a tenth of an export's CPU at one entry per instance.
        const gate = new PassThrough();
        finished(source, (err) => {
          if (err) fail(err);
          else gate.end();
        });
        source.pipe(gate, { end: false });
        input = gate;
      }
      zip.entry(input, { name, date }, (err) => {
        if (current !== entry) return;
        if (err) {
          fail(err);
          return;
        }
        const settle = () => {
          if (current !== entry) return;
          current = null;
          resolve();
        };
        // zip-stream writes a buffer entry whole, whatever `output`'s backpressure says; waiting for
        // its queue to drain before the next entry keeps memory flat over many buffer entries too.
        if (zip.writableNeedDrain) zip.once('drain', settle);
        else settle();
      });
    });
  };

  const finalize = (): Promise<void> => {
    if (failure !== null) return Promise.reject(failure);
    if (current !== null)
      return Promise.reject(new Error('finalize() called while an entry is being written'));
    if (finalizing === null) {
      finalizing = new Promise<void>((resolve, reject) => {
        settleFinalize = (err) => (err ? reject(err) : resolve());
      });
      zip.finalize();
    }
    return finalizing;
  };

  return { output, addFile, finalize, abort: fail };
}
