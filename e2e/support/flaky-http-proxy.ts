import { once } from 'node:events';
import { Agent, createServer, request } from 'node:http';

/** How the proxy spoils the first attempt of a request it picked. */
export type Spoil = 'bad_gateway' | 'cut_mid_body';

export interface FlakyHttpProxy {
  port: number;
  /** What each spoiled request path met, and what the requests for it answered after (statuses, in order). */
  spoiled(): Map<string, { spoil: Spoil; later: number[] }>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy for tests of a flaky link: it forwards every request to `targetPort`, except that the
 * first request for a path `pick` chooses fails once, as a mobile link and its proxies fail: a 502
 * from a proxy, or an answer cut off midway (the headers and half the body, then a reset).
 * @example const p = await startFlakyHttpProxy(nginxPort, (path) => (path.endsWith('/rendered') ? 'bad_gateway' : null));
 */
export async function startFlakyHttpProxy(
  targetPort: number,
  pick: (path: string) => Spoil | null,
): Promise<FlakyHttpProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const spoiled = new Map<string, { spoil: Spoil; later: number[] }>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const seen = spoiled.get(path);
    const spoil = seen ? null : pick(path);
    if (spoil) spoiled.set(path, { spoil, later: [] });
    if (spoil === 'bad_gateway') {
      req.resume();
      res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
      res.end('bad gateway (a flaky link, in a test)\n');
      return;
    }
    const up = request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        seen?.later.push(upRes.statusCode ?? 0);
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (spoil !== 'cut_mid_body') {
          upRes.pipe(res);
          return;
        }
        // Half of what the answer says it holds (or of its first chunk), then the connection dies.
        const length = Number(upRes.headers['content-length']);
        let budget = Number.isFinite(length) && length > 1 ? Math.floor(length / 2) : null;
        upRes.on('data', (chunk: Buffer) => {
          if (budget === null) budget = Math.max(1, Math.floor(chunk.length / 2));
          if (budget > 0) res.write(chunk.subarray(0, budget));
          budget -= Math.min(budget, chunk.length);
          if (budget === 0) {
            upRes.destroy();
            res.socket?.resetAndDestroy();
          }
        });
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('flaky proxy has no port');
  return {
    port: address.port,
    spoiled: () => new Map(spoiled),
    async close() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
