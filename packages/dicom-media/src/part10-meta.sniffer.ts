import { Transform, type TransformCallback } from 'node:stream';
import { InvalidDicomError, type Part10Meta, parsePart10Meta } from './part10-meta.parser.js';

/**
 * Pass-through stream that reads the File Meta Information of the PS3.10 file flowing through it.
 * Every chunk is forwarded at once and unchanged; `meta` settles as soon as the header has been seen.
 */
export class Part10MetaSniffer extends Transform {
  /** Resolves with the file's meta; rejects if the header is invalid or the stream ends or fails before it. */
  readonly meta: Promise<Part10Meta>;
  #resolve!: (meta: Part10Meta) => void;
  #reject!: (err: Error) => void;
  #settled = false;
  // Only bytes of a still incomplete header are held here; a header that arrives in one chunk is parsed
  // in place without a copy.
  #head: Buffer | null = null;

  constructor() {
    super();
    this.meta = new Promise<Part10Meta>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller that only wants the bytes may never look at `meta`; its rejection must not become an
    // unhandled rejection that takes the process down. Callers that await it still see the error.
    this.meta.catch(() => {});
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#settled) {
      this.#head = this.#head === null ? chunk : Buffer.concat([this.#head, chunk]);
      this.#inspect(false);
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#settled) {
      this.#inspect(true);
      if (!this.#settled) this.#settle(new InvalidDicomError('stream ended before a DICOM header was seen'));
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#settled) this.#settle(error ?? new Error('stream closed before the DICOM header was seen'));
    callback(error);
  }

  #inspect(atEnd: boolean): void {
    const head = this.#head ?? Buffer.alloc(0);
    try {
      const meta = parsePart10Meta(head, atEnd);
      if (meta) this.#settle(meta);
    } catch (err) {
      this.#settle(err as Error);
    }
  }

  #settle(outcome: Part10Meta | Error): void {
    this.#settled = true;
    this.#head = null;
    if (outcome instanceof Error) this.#reject(outcome);
    else this.#resolve(outcome);
  }
}

/**
 * Creates a pass-through stream whose `meta` promise yields the PS3.10 header of the bytes piped through.
 * @example const sniffer = createMetaSniffer(); await pipeline(part, sniffer, sink); (await sniffer.meta).sopInstanceUid
 */
export function createMetaSniffer(): Part10MetaSniffer {
  return new Part10MetaSniffer();
}
