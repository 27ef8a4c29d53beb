import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { boundaryFromContentType, parseContentType, parseMultipart } from '@studylink/dicomweb';

const SAFE_TYPE =
  /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(; ?[A-Za-z0-9_-]+=("[^"\\\r\n]*"|[A-Za-z0-9._*+-]+))*$/;

/**
 * A store's multipart/related answer (frames, an instance) re-framed part by part under a boundary of
 * our own, each part with its Content-Type only: part headers such as Content-Location carry the
 * store's address, and the browser must never see it. Streams with backpressure; a store answer that
 * is cut short makes the returned stream fail, so the client sees a broken body, not a shorter one.
 * @example const { contentType, body } = reframeMultipart(up.headers['content-type'], up.body);
 */
export function reframeMultipart(
  upstreamContentType: string,
  upstream: AsyncIterable<Uint8Array>,
): { contentType: string; body: Readable } {
  const boundary = `studylink-${randomBytes(12).toString('hex')}`;
  const parts = parseMultipart(upstream, boundaryFromContentType(upstreamContentType));
  const { params } = parseContentType(upstreamContentType);
  const type = params.type && SAFE_TYPE.test(params.type) ? params.type : 'application/octet-stream';
  async function* frame() {
    for await (const part of parts) {
      const partType = part.headers['content-type'];
      const header = `--${boundary}\r\nContent-Type: ${partType && SAFE_TYPE.test(partType) ? partType : type}\r\n\r\n`;
      yield Buffer.from(header, 'latin1');
      for await (const chunk of part.body) yield chunk as Buffer;
      yield Buffer.from('\r\n');
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return {
    contentType: `multipart/related; type="${type.replaceAll('"', '')}"; boundary=${boundary}`,
    body: Readable.from(frame(), { objectMode: false }),
  };
}
