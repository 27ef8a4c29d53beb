import { once } from 'node:events';
import { Readable } from 'node:stream';
import { type InstanceHeader, MAX_HEADER_LENGTH, parseInstanceHeader } from './instance-header.parser.js';
import { InvalidDicomError } from './part10-meta.parser.js';

export interface InstanceHeaderRead {
  /** The header, or the reason it could not be read (the bytes still stream on in `body`). */
  header: InstanceHeader | InvalidDicomError;
  /** The whole instance from its first byte, unchanged: the stream passed in, or a copy once it ended. */
  body: Readable;
}

/**
 * Reads a PS3.10 stream until its header is known (see parseInstanceHeader), then puts the bytes back
 * with `unshift`, so the stream goes on from its first byte, unchanged: only the header prefix is held,
 * never the instance. Stream errors reject; bytes that are no DICOM header come back as `header`.
 */
export async function readInstanceHeader(stream: Readable): Promise<InstanceHeaderRead> {
  const read: { body: Readable } = { body: stream };
  try {
    return { header: await readHeader(stream, read), body: read.body };
  } catch (err) {
    if (err instanceof InvalidDicomError) return { header: err, body: read.body };
    throw err;
  }
}

async function readHeader(body: Readable, read: { body: Readable }): Promise<InstanceHeader> {
  const chunks: Buffer[] = [];
  let length = 0;
  let joined: Buffer | null = null;
  const bytes = () => {
    if (joined === null || joined.length !== length)
      joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
    return joined;
  };
  try {
    for (;;) {
      const chunk: Buffer | null = body.read();
      if (chunk === null) {
        if (body.readableEnded || body.destroyed) {
          const header = length > 0 ? parseInstanceHeader(bytes(), true) : null;
          if (header) return header;
          throw new InvalidDicomError('part ended before its DICOM header');
        }
        // `once` rejects if the stream errors meanwhile; a stream destroyed without an error closes.
        const [event] = await Promise.race([
          once(body, 'readable').then(() => ['readable']),
          once(body, 'end').then(() => ['end']),
          once(body, 'close').then(() => ['close']),
        ]);
        if (event === 'close' && !body.readableEnded) throw new Error('part closed before its DICOM header');
        if (event === 'end' && body.readableLength === 0) {
          const header = length > 0 ? parseInstanceHeader(bytes(), true) : null;
          if (header) return header;
          throw new InvalidDicomError('part ended before its DICOM header');
        }
        continue;
      }
      chunks.push(chunk);
      length += chunk.length;
      const header = parseInstanceHeader(bytes(), false);
      if (header) return header;
      if (length > MAX_HEADER_LENGTH + 64 * 1024)
        throw new InvalidDicomError(`DICOM header longer than ${MAX_HEADER_LENGTH} bytes`);
    }
  } finally {
    if (length > 0) {
      // A stream that has ended takes nothing back: the prefix (which is then the whole instance)
      // goes on in a stream of its own.
      if (body.readableEnded) read.body = Readable.from([bytes()]);
      else if (!body.destroyed) body.unshift(bytes());
    }
  }
}
