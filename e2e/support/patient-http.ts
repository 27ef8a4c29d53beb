import { type IncomingHttpHeaders, request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request on its own connection, optionally from another loopback source address
 * (127.0.0.x): nginx then sees a different client, for its per-address limits and for the client
 * IP a page shows. Header names and values go out exactly as given, spoofed ones included.
 * @example const page = await httpRequest(link, { localAddress: '127.0.0.7', headers: { 'x-real-ip': '203.0.113.9' } });
 */
export function httpRequest(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    localAddress?: string;
    timeoutMs?: number;
    body?: string;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        localAddress: opts.localAddress,
        agent: false,
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A header as one string ('' when absent). */
export function header(res: RawResponse, name: string): string {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

/** The same link on the test's nginx: the issued URL names the configured public host, not ours. */
export function localLink(issuedUrl: string, publicUrl: string): string {
  return issuedUrl.replace(/^https?:\/\/[^/]+/, publicUrl);
}

/** Every distinct run of 64 or more `[A-Za-z0-9]` in a text (security.md's `grep -E '[A-Za-z0-9]{64}'`). */
export function tokenLikeRuns(text: string): string[] {
  return [...new Set(text.match(/[A-Za-z0-9]{64,}/g) ?? [])];
}
