import { connect } from 'node:net';

export interface RawHttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawHttpOptions {
  /** Source address of the connection (127.0.0.x makes nginx see another client). */
  localAddress?: string;
  timeoutMs?: number;
}

/**
 * Sends bytes exactly as given on a fresh connection and reads one HTTP/1.1 answer. Unlike fetch or
 * node:http, nothing is validated or escaped on the way out: CR, LF, NUL and raw UTF-8 reach the
 * server as they are. Send `Connection: close` (rawRequest does) so the answer ends with the socket.
 * @example await sendRaw(8080, 'GET /x\r\nHTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
 */
export function sendRaw(
  port: number,
  request: string | Buffer,
  opts: RawHttpOptions = {},
): Promise<RawHttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    const chunks: Buffer[] = [];
    socket.setTimeout(opts.timeoutMs ?? 30_000, () =>
      socket.destroy(new Error(`no complete answer within ${opts.timeoutMs ?? 30_000} ms`)),
    );
    // Not end(): nginx takes a half-closed request connection for a client that gave up (499).
    socket.on('connect', () => socket.write(request));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end());
    let failure: Error | null = null;
    socket.on('error', (err) => {
      failure = err;
    });
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        // A server that answers before the request is fully sent (413 to an oversized body) may
        // reset the connection: the answer, if it arrived, is still the answer.
        reject(failure ?? err);
      }
    });
  });
}

/**
 * A request line and headers assembled verbatim (the target is not escaped), with Host and
 * `Connection: close` added.
 * @example await rawRequest(port, 'GET', '/token?a%0d%0ab', { 'user-agent': 'x\r\ny' });
 */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
  opts: RawHttpOptions = {},
): Promise<RawHttpResponse> {
  const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  if (body !== undefined) lines.push(`Content-Length: ${payload.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  return sendRaw(port, Buffer.concat([head, payload]), opts);
}

function parseResponse(raw: Buffer): RawHttpResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1)
    throw new Error(`no HTTP answer (${raw.length} bytes: ${raw.subarray(0, 80).toString('latin1')})`);
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = raw.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(m[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}
