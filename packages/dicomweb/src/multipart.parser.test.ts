import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { boundaryFromContentType, parseContentType } from './content-type.parser.js';
import { MultipartFormatError, MultipartTruncatedError } from './multipart.errors.js';
import { type MultipartPart, parseMultipart } from './multipart.parser.js';

interface ParsedPart {
  headers: Record<string, string>;
  body: string;
}

/** A source that records what was pulled from it and whether it was closed. */
class RecordingSource implements AsyncIterable<Uint8Array> {
  pulledBytes = 0;
  returned = false;
  private index = 0;

  constructor(
    private readonly chunks: Uint8Array[],
    private readonly failWith?: Error,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async () => {
        await Promise.resolve();
        const chunk = this.chunks[this.index++];
        if (chunk === undefined) {
          if (this.failWith) throw this.failWith;
          return { done: true, value: undefined };
        }
        this.pulledBytes += chunk.length;
        return { done: false, value: chunk };
      },
      return: async () => {
        this.returned = true;
        return { done: true, value: undefined };
      },
    };
  }
}

function splitAt(data: Buffer, ...positions: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of positions) {
    chunks.push(data.subarray(start, p));
    start = p;
  }
  chunks.push(data.subarray(start));
  return chunks;
}

function chunksOf(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return chunks;
}

async function parseAll(chunks: Uint8Array[], boundary: string): Promise<ParsedPart[]> {
  const parts: ParsedPart[] = [];
  for await (const part of parseMultipart(new RecordingSource(chunks), boundary)) {
    const body = Buffer.concat(await part.body.toArray());
    parts.push({ headers: { ...part.headers }, body: body.toString('latin1') });
  }
  return parts;
}

const B = 'frontier';

// Preamble, transport padding, a folded header, lookalike delimiters in a body, a body that
// ends in CRLF, an empty part, a headers-only part and an epilogue, all in one message.
const TRICKY = Buffer.from(
  [
    'This is the preamble.\r\n--frontie\r\n--frontierX\r\n',
    '--frontier  \t\r\n',
    'Content-Type: application/dicom\r\nX-Folded: one\r\n two\r\nCONTENT-location: a\r\n\r\n',
    'ab\r\n--frontie\r\n--frontierX\r\n--frontier \tz\r\n-frontier\r\n--frontier-x --frontier\r\n\rcd\r\n',
    '\r\n--frontier\r\n',
    '\r\n',
    '\r\n--frontier\r\n',
    'Content-Type: text/plain\r\n',
    '\r\n--frontier\r\n',
    '\r\n\r\n\r\n',
    '\r\n--frontier--  \r\nThis is the epilogue.\r\n--frontier\r\nContent-Type: x\r\n\r\nnot a part',
  ].join(''),
  'latin1',
);

const TRICKY_PARTS: ParsedPart[] = [
  {
    headers: { 'content-type': 'application/dicom', 'x-folded': 'one two', 'content-location': 'a' },
    body: 'ab\r\n--frontie\r\n--frontierX\r\n--frontier \tz\r\n-frontier\r\n--frontier-x --frontier\r\n\rcd\r\n',
  },
  { headers: {}, body: '' },
  { headers: { 'content-type': 'text/plain' }, body: '' },
  { headers: {}, body: '\r\n\r\n' },
];

describe('parseMultipart', () => {
  it('parses preamble, padding, lookalike delimiters, empty parts and epilogue', async () => {
    expect(await parseAll([TRICKY], B)).toEqual(TRICKY_PARTS);
  });

  it('parses identically when split in two at every byte position', async () => {
    for (let i = 0; i <= TRICKY.length; i++) {
      const parts = await parseAll(splitAt(TRICKY, i), B);
      expect(parts, `split at ${i}`).toEqual(TRICKY_PARTS);
    }
  });

  it('parses identically when split in three around every position', async () => {
    for (let i = 1; i < TRICKY.length - 2; i++) {
      const parts = await parseAll(splitAt(TRICKY, i, i + 2), B);
      expect(parts, `split at ${i} and ${i + 2}`).toEqual(TRICKY_PARTS);
    }
  });

  it('parses identically from 1-byte chunks and from Uint8Array chunks', async () => {
    expect(await parseAll(chunksOf(TRICKY, 1), B)).toEqual(TRICKY_PARTS);
    const plain = chunksOf(TRICKY, 7).map((c) => new Uint8Array(c));
    expect(await parseAll(plain, B)).toEqual(TRICKY_PARTS);
  });

  it('accepts a first delimiter without a preamble and a boundary with special characters', async () => {
    const boundary = boundaryFromContentType(`multipart/related; boundary="a b'()+_,-./:=?z"`);
    const message = `--${boundary}\r\nA: 1\r\n\r\nx\r\n--${boundary}--`;
    expect(await parseAll([Buffer.from(message)], boundary)).toEqual([{ headers: { a: '1' }, body: 'x' }]);
  });

  it('yields nothing for a message that closes without parts', async () => {
    expect(await parseAll([Buffer.from('preamble\r\n--frontier--\r\n')], B)).toEqual([]);
  });

  it('passes body bytes through as views of the source chunks, without copying them', async () => {
    const a = Buffer.alloc(256 * 1024, 7);
    const b = Buffer.alloc(100 * 1024, 9);
    const big = Buffer.concat([
      Buffer.from('\r\n'),
      a,
      Buffer.from('\r\n--frontier\r\nN: 2\r\n\r\n'),
      b,
      Buffer.from('\r\n--frontier--'),
    ]);
    const source = new RecordingSource([Buffer.from('--frontier\r\n'), big]);
    const bodies: Buffer[] = [];
    for await (const part of parseMultipart(source, B)) {
      const pieces: Buffer[] = await part.body.toArray();
      for (const piece of pieces) expect(piece.buffer).toBe(big.buffer);
      bodies.push(Buffer.concat(pieces));
    }
    expect(bodies).toHaveLength(2);
    expect(bodies[0]?.equals(a)).toBe(true);
    expect(bodies[1]?.equals(b)).toBe(true);
  });

  describe('truncation', () => {
    const cases: Array<[string, string]> = [
      ['empty input', ''],
      ['only a preamble', 'no delimiter here'],
      ['cut in the headers', '--frontier\r\nContent-Ty'],
      ['cut right after a delimiter line', '--frontier\r\nA: 1\r\n\r\nx\r\n--frontier\r\n'],
      ['cut in a delimiter', '--frontier\r\nA: 1\r\n\r\nx\r\n--fron'],
      ['cut before the closing dashes', '--frontier\r\nA: 1\r\n\r\nx\r\n--frontier'],
      ['cut after one closing dash', '--frontier\r\nA: 1\r\n\r\nx\r\n--frontier-'],
    ];
    for (const [name, message] of cases) {
      it(`throws MultipartTruncatedError when ${name}`, async () => {
        await expect(parseAll([Buffer.from(message)], B)).rejects.toBeInstanceOf(MultipartTruncatedError);
      });
    }

    it('destroys the open part body with MultipartTruncatedError and throws it', async () => {
      const source = new RecordingSource([Buffer.from('--frontier\r\n\r\nsome bytes of an instance')]);
      const parts = parseMultipart(source, B);
      const first = await parts.next();
      if (first.done) throw new Error('expected a part');
      const received: Buffer[] = [];
      const bodyError = await new Promise<unknown>((resolve) => {
        first.value.body.on('data', (c: Buffer) => received.push(c));
        first.value.body.on('error', resolve);
        first.value.body.on('end', () => resolve('ended cleanly'));
      });
      expect(bodyError).toBeInstanceOf(MultipartTruncatedError);
      expect(Buffer.concat(received).toString()).toBe('some bytes of an instance');
      await expect(parts.next()).rejects.toBeInstanceOf(MultipartTruncatedError);
      expect(source.returned).toBe(true);
    });
  });

  it('destroys the part body with an upstream error and throws it', async () => {
    const failure = Object.assign(new Error('socket reset'), { code: 'ECONNRESET' });
    const source = new RecordingSource([Buffer.from('--frontier\r\n\r\npartial')], failure);
    const parts = parseMultipart(source, B);
    const first = await parts.next();
    if (first.done) throw new Error('expected a part');
    await expect(first.value.body.toArray()).rejects.toBe(failure);
    await expect(parts.next()).rejects.toBe(failure);
  });

  it('skips the rest of a part whose body the consumer destroyed', async () => {
    const big = 'x'.repeat(200_000);
    const message = Buffer.from(
      `--frontier\r\nN: 1\r\n\r\n${big}\r\n--frontier\r\nN: 2\r\n\r\nsecond\r\n--frontier--`,
    );
    const seen: ParsedPart[] = [];
    for await (const part of parseMultipart(new RecordingSource(chunksOf(message, 1000)), B)) {
      if (part.headers.n === '1') {
        // Read one chunk, then drop the body as a consumer that lost interest would.
        for await (const _ of part.body) break;
        continue;
      }
      seen.push({ headers: { ...part.headers }, body: Buffer.concat(await part.body.toArray()).toString() });
    }
    expect(seen).toEqual([{ headers: { n: '2' }, body: 'second' }]);
  });

  it('yields the next part only after the previous body has ended', async () => {
    const message = Buffer.from('--frontier\r\n\r\nfirst\r\n--frontier\r\n\r\nsecond\r\n--frontier--');
    const parts = parseMultipart(new RecordingSource(chunksOf(message, 3)), B);
    const first = await parts.next();
    if (first.done) throw new Error('expected a part');
    let settled = false;
    const second = parts.next().then((r) => {
      settled = true;
      return r;
    });
    for (let i = 0; i < 20; i++) await tick();
    expect(settled).toBe(false);
    expect(Buffer.concat(await first.value.body.toArray()).toString()).toBe('first');
    const result = await second;
    expect(result.done).toBe(false);
    expect(Buffer.concat(await (result.value as MultipartPart).body.toArray()).toString()).toBe('second');
    expect((await parts.next()).done).toBe(true);
  });

  it('keeps buffering bounded for a multi-megabyte part and a slow consumer', async () => {
    const chunkSize = 64 * 1024;
    const partSize = 8 * 1024 * 1024;
    const message = Buffer.concat([
      Buffer.from('--frontier\r\nContent-Type: application/dicom\r\n\r\n'),
      Buffer.alloc(partSize, 0x42),
      Buffer.from('\r\n--frontier--'),
    ]);
    const source = new RecordingSource(chunksOf(message, chunkSize));
    let consumed = 0;
    let maxAhead = 0;
    // A slow client: every write completes only after a turn of the event loop.
    const slowSink = () =>
      new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _encoding, callback) {
          consumed += chunk.length;
          maxAhead = Math.max(maxAhead, source.pulledBytes - consumed);
          setImmediate(callback);
        },
      });
    for await (const part of parseMultipart(source, B, { highWaterMark: 64 * 1024 })) {
      await pipeline(part.body, slowSink());
    }
    expect(consumed).toBe(partSize);
    expect(source.pulledBytes).toBe(message.length);
    // About the body's high-water mark plus an upstream chunk or two, far below the part size.
    expect(maxAhead).toBeLessThanOrEqual(4 * chunkSize);
  });

  it('closes the source when the consumer abandons the iteration mid-part', async () => {
    const message = Buffer.from(`--frontier\r\n\r\n${'y'.repeat(100_000)}\r\n--frontier--`);
    const source = new RecordingSource(chunksOf(message, 1024));
    let body: Readable | undefined;
    for await (const part of parseMultipart(source, B, { highWaterMark: 1024 })) {
      body = part.body;
      await new Promise((resolve) => part.body.once('readable', resolve));
      break;
    }
    expect(source.returned).toBe(true);
    expect(body?.destroyed).toBe(true);
    expect(body?.readableEnded).toBe(false);
    expect(source.pulledBytes).toBeLessThan(message.length);
  });

  it('closes the source when the generator is returned or thrown before it started', async () => {
    const a = new RecordingSource([Buffer.from('--frontier--')]);
    await parseMultipart(a, B).return(undefined);
    expect(a.returned).toBe(true);
    const b = new RecordingSource([Buffer.from('--frontier--')]);
    await expect(parseMultipart(b, B).throw(new Error('stop'))).rejects.toThrow('stop');
    expect(b.returned).toBe(true);
  });

  it('rejects oversized part headers and malformed header lines', async () => {
    const huge = Buffer.from(`--frontier\r\nX: ${'h'.repeat(20_000)}\r\n\r\nbody\r\n--frontier--`);
    await expect(parseAll(chunksOf(huge, 4096), B)).rejects.toBeInstanceOf(MultipartFormatError);
    const bad = Buffer.from('--frontier\r\nno colon here\r\n\r\nbody\r\n--frontier--');
    await expect(parseAll([bad], B)).rejects.toBeInstanceOf(MultipartFormatError);
  });

  it('rejects an invalid boundary before reading anything', () => {
    const source = new RecordingSource([]);
    expect(() => parseMultipart(source, '')).toThrow(MultipartFormatError);
    expect(() => parseMultipart(source, 'a\r\nb')).toThrow(MultipartFormatError);
    expect(() => parseMultipart(source, 'x'.repeat(71))).toThrow(MultipartFormatError);
  });
});

describe('boundaryFromContentType', () => {
  it('extracts quoted, unquoted and escaped boundaries', () => {
    expect(boundaryFromContentType('multipart/related; type="application/dicom"; boundary=abc123')).toBe(
      'abc123',
    );
    expect(boundaryFromContentType('Multipart/Related; BOUNDARY="a;b=c"; type=application/dicom')).toBe(
      'a;b=c',
    );
    expect(boundaryFromContentType('multipart/related;boundary="q\\"x"')).toBe('q"x');
  });

  it('throws a clear error without a usable boundary', () => {
    expect(() => boundaryFromContentType(undefined)).toThrow(/missing Content-Type/);
    expect(() => boundaryFromContentType('application/dicom+json')).toThrow(/expected a multipart/);
    expect(() => boundaryFromContentType('multipart/related; type="application/dicom"')).toThrow(
      /no boundary parameter/,
    );
    expect(() => boundaryFromContentType('multipart/related; boundary="unterminated')).toThrow(
      /unterminated/,
    );
  });

  it('parses all parameters of a Content-Type', () => {
    expect(parseContentType('multipart/related; type="application/dicom"; transfer-syntax=*')).toEqual({
      mediaType: 'multipart/related',
      params: { type: 'application/dicom', 'transfer-syntax': '*' },
    });
  });
});
