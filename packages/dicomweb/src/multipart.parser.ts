import { Readable } from 'node:stream';
import { assertValidBoundary } from './content-type.parser.js';
import { MultipartFormatError, MultipartTruncatedError } from './multipart.errors.js';

/** One body part of a multipart message; `body` streams the part's bytes as they arrive. */
export interface MultipartPart {
  /** Part headers with lower-cased names; repeated headers are joined with ", ". */
  headers: Record<string, string>;
  body: Readable;
}

export interface ParseMultipartOptions {
  /** Bytes a part body buffers before the parser stops reading upstream (default 64 KiB). */
  highWaterMark?: number;
  /** Largest accepted header block of one part (default 16 KiB). */
  maxHeaderBytes?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const DASH = 0x2d;
const CRLFCRLF = Buffer.from('\r\n\r\n');
// RFC 2046 transport padding is unbounded; a cap keeps the look-behind buffer small.
const MAX_TRANSPORT_PADDING = 256;
// When a short tail must be joined to the next chunk, only this much of that chunk is copied.
const SEAM_BYTES = 8 * 1024;
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

type DelimiterKind = 'delimiter' | 'close';
type ScanResult = { kind: DelimiterKind; at: number; end: number } | { kind: 'more'; safe: number };

/**
 * Streams the parts of a multipart body (RFC 2046) with backpressure; throws MultipartTruncatedError without `--boundary--`.
 * @example for await (const part of parseMultipart(res.body, boundary)) await pipeline(part.body, sink);
 */
// Each part's body must be consumed or destroyed before the next part is yielded. Ending the
// iteration early (break, return, throw) closes the source iterator, which cancels an HTTP body.
export function parseMultipart(
  body: AsyncIterable<Uint8Array>,
  boundary: string,
  options: ParseMultipartOptions = {},
): AsyncGenerator<MultipartPart, void, undefined> {
  assertValidBoundary(boundary);
  const reader = new MultipartReader(body[Symbol.asyncIterator](), boundary, options);
  const generator = readParts(reader);
  // A wrapper rather than the bare generator: return() on a generator that never started runs no
  // code, so the source would stay open; here abandoning always reaches the source.
  const parts: AsyncGenerator<MultipartPart, void, undefined> & AsyncDisposable = {
    next: () => generator.next(),
    async return(value) {
      reader.abandon();
      const result = await generator.return(value);
      await reader.close();
      return result;
    },
    async throw(error: unknown) {
      reader.abandon();
      try {
        return await generator.throw(error);
      } finally {
        await reader.close();
      }
    },
    [Symbol.asyncIterator]: () => parts,
    async [Symbol.asyncDispose]() {
      await parts.return(undefined);
    },
  };
  return parts;
}

async function* readParts(reader: MultipartReader): AsyncGenerator<MultipartPart, void, undefined> {
  try {
    let next: DelimiterKind | 'abandoned' = await reader.skipPreamble();
    while (next === 'delimiter') {
      const headers = await reader.readHeaders();
      const body = reader.openPartBody();
      yield { headers, body };
      next = await reader.finishPartBody(body);
    }
  } finally {
    await reader.close();
  }
}

class MultipartReader {
  private readonly delimiter: Buffer;
  private readonly highWaterMark: number;
  private readonly maxHeaderBytes: number;
  // Unscanned bytes. It starts as a virtual CRLF so that a delimiter on the very first line
  // matches the same "CRLF--boundary" pattern as every later one.
  private buf: Buffer = Buffer.from('\r\n');
  private pushback: Buffer | null = null;
  private sourceDone = false;
  private inflight: Promise<boolean> | null = null;
  private part: Readable | null = null;
  private partEnd: DelimiterKind | null = null;
  private pumping = false;
  private failure: { error: unknown } | null = null;
  private abandoned = false;
  private sourceClosing: Promise<void> | null = null;

  constructor(
    private readonly source: AsyncIterator<Uint8Array>,
    boundary: string,
    options: ParseMultipartOptions,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  }

  /** Discards the preamble; 'close' means a message without parts. */
  skipPreamble(): Promise<DelimiterKind> {
    return this.discardToDelimiter();
  }

  async readHeaders(): Promise<Record<string, string>> {
    let searchFrom = 0;
    for (;;) {
      const buf = this.buf;
      let headerEnd = -1;
      let bodyStart = -1;
      if (buf.length >= 2 && buf[0] === CR && buf[1] === LF) {
        headerEnd = 0;
        bodyStart = 2;
      } else {
        headerEnd = buf.indexOf(CRLFCRLF, searchFrom);
        if (headerEnd !== -1) bodyStart = headerEnd + 4;
      }
      // A delimiter that begins before the body would start means a part without a body
      // (RFC 2046 makes "CRLF body" optional); its CRLF belongs to the delimiter. Only the window
      // that could hold such a delimiter is scanned, so the body is not searched twice.
      const window =
        bodyStart === -1
          ? buf
          : buf.subarray(0, bodyStart + this.delimiter.length + MAX_TRANSPORT_PADDING + 2);
      const found = scan(window, this.delimiter);
      const delimiterFirst = found.kind !== 'more' && (bodyStart === -1 || found.at < bodyStart);
      const headerBytes = delimiterFirst ? found.at : headerEnd === -1 ? buf.length : headerEnd;
      if (headerBytes > this.maxHeaderBytes) {
        throw new MultipartFormatError(`multipart part headers exceed ${this.maxHeaderBytes} bytes`);
      }
      if (delimiterFirst) {
        const headers = parseHeaderBlock(
          buf.subarray(0, headerEnd === -1 ? found.at : Math.min(found.at, headerEnd)),
        );
        this.buf = buf.subarray(found.at);
        return headers;
      }
      // Undecided while a possible delimiter starts inside the header block: wait for more bytes.
      const undecided = found.kind === 'more' && found.safe < bodyStart;
      if (bodyStart !== -1 && !undecided) {
        const headers = parseHeaderBlock(buf.subarray(0, headerEnd));
        this.buf = buf.subarray(bodyStart);
        return headers;
      }
      searchFrom = headerEnd !== -1 ? headerEnd : Math.max(0, buf.length - 3);
      if (!(await this.fill())) throw new MultipartTruncatedError();
    }
  }

  openPartBody(): Readable {
    this.partEnd = null;
    const body: Readable = new Readable({
      highWaterMark: this.highWaterMark,
      read: () => {
        void this.pump(body);
      },
    });
    this.part = body;
    return body;
  }

  /** Waits until the consumer is done with `body`, then positions after the part's delimiter. */
  async finishPartBody(body: Readable): Promise<DelimiterKind | 'abandoned'> {
    await closed(body);
    if (this.abandoned) return 'abandoned';
    if (this.failure) throw this.failure.error;
    this.part = null;
    // The consumer destroyed the body early: skip the rest of that part.
    if (this.partEnd === null) return this.discardToDelimiter();
    return this.partEnd;
  }

  /** Stops everything: destroys an unfinished part body and closes the source. Idempotent. */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    // Destroyed without an error (so no unhandled 'error' event), which still never looks like a
    // clean end: readers get ERR_STREAM_PREMATURE_CLOSE, not 'end'.
    if (this.part && this.partEnd === null && !this.part.destroyed) this.part.destroy();
    this.sourceClosing = (async () => {
      try {
        await this.source.return?.();
      } catch {
        // The source already failed; that error was reported where it happened.
      }
    })();
  }

  async close(): Promise<void> {
    this.abandon();
    // With a read in flight, return() of an async generator source queues behind it and could
    // wait forever; the caller must not hang on that.
    if (this.inflight === null) await this.sourceClosing;
  }

  /** Moves the current part's bytes into its body stream, as far as the body wants them. */
  private async pump(body: Readable): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!body.destroyed && this.partEnd === null) {
        const found = scan(this.buf, this.delimiter);
        if (found.kind === 'more') {
          const data = this.buf.subarray(0, found.safe);
          this.buf = this.buf.subarray(found.safe);
          // The body's buffer is full: stop reading upstream until it asks again (backpressure).
          if (data.length > 0 && !body.push(data)) return;
          if (!(await this.fill())) throw new MultipartTruncatedError();
          continue;
        }
        const data = this.buf.subarray(0, found.at);
        this.buf = this.buf.subarray(found.end);
        this.partEnd = found.kind;
        if (data.length > 0) body.push(data);
        body.push(null);
      }
    } catch (error) {
      this.failure ??= { error };
      body.destroy(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.pumping = false;
    }
  }

  private async discardToDelimiter(): Promise<DelimiterKind> {
    for (;;) {
      const found = scan(this.buf, this.delimiter);
      if (found.kind !== 'more') {
        this.buf = this.buf.subarray(found.end);
        return found.kind;
      }
      this.buf = this.buf.subarray(found.safe);
      if (!(await this.fill())) throw new MultipartTruncatedError();
    }
  }

  /** Appends upstream bytes to `buf`; false at the end of the source. One read at a time. */
  private fill(): Promise<boolean> {
    if (this.inflight === null) {
      this.inflight = this.pull().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async pull(): Promise<boolean> {
    for (;;) {
      if (this.abandoned) return false;
      let chunk = this.pushback;
      this.pushback = null;
      if (chunk === null) {
        if (this.sourceDone) return false;
        let result: IteratorResult<Uint8Array>;
        try {
          result = await this.source.next();
        } catch (error) {
          this.sourceDone = true;
          throw error;
        }
        if (result.done) {
          this.sourceDone = true;
          return false;
        }
        chunk = asBuffer(result.value);
      }
      if (chunk.length === 0) continue;
      if (this.buf.length === 0) {
        this.buf = chunk;
        return true;
      }
      // What is left in `buf` is a short tail that might start a delimiter (or a header block);
      // joining it to the head of the next chunk keeps the copy small and the rest zero-copy.
      this.buf = Buffer.concat([this.buf, chunk.subarray(0, SEAM_BYTES)]);
      if (chunk.length > SEAM_BYTES) this.pushback = chunk.subarray(SEAM_BYTES);
      return true;
    }
  }
}

/**
 * Finds the first real delimiter in `buf`: "CRLF--boundary" followed by "--" (close) or by
 * optional transport padding and CRLF. Text that merely starts like a delimiter is content.
 * When none is found, `safe` is how many leading bytes can no longer be part of one.
 */
function scan(buf: Buffer, delimiter: Buffer): ScanResult {
  let from = 0;
  for (;;) {
    const at = buf.indexOf(delimiter, from);
    if (at === -1) return { kind: 'more', safe: partialDelimiterStart(buf, delimiter, from) };
    const after = at + delimiter.length;
    if (after + 2 > buf.length) return { kind: 'more', safe: at };
    if (buf[after] === DASH && buf[after + 1] === DASH) return { kind: 'close', at, end: after + 2 };
    let k = after;
    while (k < buf.length && k - after < MAX_TRANSPORT_PADDING && (buf[k] === SP || buf[k] === HT)) k++;
    if (k + 2 > buf.length) return { kind: 'more', safe: at };
    if (buf[k] === CR && buf[k + 1] === LF) return { kind: 'delimiter', at, end: k + 2 };
    from = at + 1;
  }
}

/** Start of the shortest suffix of `buf` that is a proper prefix of `delimiter`, else buf.length. */
function partialDelimiterStart(buf: Buffer, delimiter: Buffer, from: number): number {
  // Only the last delimiter.length - 1 bytes can hold a partial match, and it must start with CR.
  let k = buf.indexOf(CR, Math.max(from, buf.length - delimiter.length + 1));
  while (k !== -1) {
    if (delimiter.compare(buf, k, buf.length, 0, buf.length - k) === 0) return k;
    k = buf.indexOf(CR, k + 1);
  }
  return buf.length;
}

function parseHeaderBlock(block: Buffer): Record<string, string> {
  // Null prototype: a part header named "__proto__" or "constructor" stays plain data.
  const headers: Record<string, string> = Object.create(null);
  if (block.length === 0) return headers;
  let last: string | null = null;
  // latin1 maps bytes 1:1, the usual reading of HTTP header octets.
  for (const line of block.toString('latin1').split('\r\n')) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && last !== null) {
      headers[last] = `${headers[last]} ${line.trim()}`; // obsolete line folding
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartFormatError('malformed multipart part header line');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
    last = name;
  }
  return headers;
}

function asBuffer(chunk: Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('multipart source must yield Uint8Array chunks (is an encoding set on the stream?)');
}

function closed(stream: Readable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}
