import { request } from 'node:http';
import type { WalkRoute } from './route-walk.js';

export interface RawAnswer {
  status: number;
  location: string;
  body: string;
}

/**
 * Sends `method path` exactly as written (no normalisation of case, dots, slashes or escapes) and
 * reads the whole answer.
 * @example await sendExact('http://127.0.0.1:3001', 'GET', '/api/V1/access-log', { localAddress: '127.0.0.9' });
 */
export function sendExact(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string; localAddress?: string } = {},
) {
  const url = new URL(base);
  const { body } = opts;
  return new Promise<RawAnswer>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { connection: 'close', ...opts.headers },
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: String(res.headers.location ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    if (body !== undefined) req.end(body);
    // A body-carrying method gets an empty JSON body, as a careless client would send.
    else if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') {
      req.setHeader('content-type', 'application/json');
      req.end('{}');
    } else req.end();
  });
}

/** How a route guards itself: what its refusal looks like when the credentials are missing. */
export type Guard = 'api-key' | 'staff-session' | 'shared-secret' | 'bearer-token';

/**
 * Whether `answer` is a refusal for a request without credentials: the guard's own answer (401, or
 * a redirect to the staff sign-in), or no route at all (404 not_found, 405). Anything else means
 * a handler ran: a 2xx, a handler's own 4xx, a 500.
 */
export function isRefusal(guard: Guard, answer: RawAnswer, canonical: boolean): boolean {
  const code = (/"code":"([a-z_]+)"/.exec(answer.body)?.[1] ?? '') as string;
  const guardAnswer =
    guard === 'staff-session'
      ? answer.status === 303 && answer.location.startsWith('/staff/sign-in')
      : answer.status === 401 && code === 'unauthorized';
  if (canonical) return guardAnswer;
  // nginx's own answers to paths it will not pass on: 400 (bad request), 404 (its default location).
  const noRoute =
    answer.status === 405 ||
    answer.status === 400 ||
    (answer.status === 404 && (code === 'not_found' || code === '' || guard === 'staff-session'));
  return guardAnswer || noRoute;
}

/** The guard of a route by where its template lives; null for the few public routes. */
export function guardOf(route: WalkRoute): Guard | null {
  const { method, path } = route;
  if (path.startsWith('/internal/') || path === '/metrics') return 'shared-secret';
  // The viewer's DICOMweb gateway: the link's token as `Authorization: Bearer`.
  if (path.startsWith('/token/dicomweb/')) return 'bearer-token';
  if (path.startsWith('/api/')) return path === '/api/v1/openapi.json' ? null : 'api-key';
  if (path.startsWith('/staff')) {
    if (path.startsWith('/staff/assets/') || path === '/staff/' || path === '/staff') return null;
    if (path === '/staff/sign-in' || (path === '/staff/sign-out' && method === 'POST')) return null;
    return 'staff-session';
  }
  return null;
}
