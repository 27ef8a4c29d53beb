import { Transform, type TransformCallback } from 'node:stream';

/**
 * Merges runs of small chunks into one before passing them on; large chunks go through untouched.
 *
 * zip-stream writes every header field as its own chunk (about 30 per entry). Straight to an HTTP
 * response that is a chunked-encoding frame and a syscall each: for 100,000 instances, millions.
 * Small chunks wait at most until the next turn of the event loop, so nothing is held back.
 */
export class ChunkCoalescer extends Transform {
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #scheduled: NodeJS.Immediate | null = null;

  constructor(
    private readonly smallChunk = 16 * 1024,
    private readonly batchSize = 64 * 1024,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length >= this.smallChunk) {
      this.#release();
      this.push(chunk);
    } else {
      this.#pending.push(chunk);
      this.#pendingLength += chunk.length;
      if (this.#pendingLength >= this.batchSize) this.#release();
      else this.#scheduled ??= setImmediate(() => this.#release());
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#release();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    this.#pending = [];
    callback(error);
  }

  #release(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    if (this.#pendingLength === 0 || this.destroyed) return;
    const batch =
      this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending, this.#pendingLength);
    this.#pending = [];
    this.#pendingLength = 0;
    this.push(batch);
  }
}
