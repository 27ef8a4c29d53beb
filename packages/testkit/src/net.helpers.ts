import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when `port` can be bound on `host` right now (it is closed again at once). */
function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Ports this process handed out: not handed out again while it runs (a stack may not have bound them yet). */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Under vitest each worker (VITEST_POOL_ID) takes
 * its ports from its own block of 1,000 below Linux's ephemeral range (32768-60999, where the OS
 * picks for `listen(0)` and for every outgoing connection), so two test files starting stacks at
 * once cannot be handed the same port: seen before, a token service that lost its port to another
 * stack's internal listener, and the stack talking to the wrong process. Elsewhere the OS picks; a
 * caller that can retry should.
 * @example const port = await freePort();
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const pool = Number(process.env.VITEST_POOL_ID);
  if (Number.isInteger(pool) && pool > 0) {
    if (handedOut.size > 900) handedOut.clear();
    const base = 20_000 + ((pool - 1) % 12) * 1_000;
    for (let tries = 0; tries < 200; tries++) {
      const port = base + Math.floor(Math.random() * 1_000);
      if (handedOut.has(port)) continue;
      handedOut.add(port); // before the check: a concurrent call must not pick it meanwhile
      if (await canBind(port, host)) return port;
      handedOut.delete(port);
    }
  }
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a listening socket'));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

export interface WaitForHttpOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Pause between attempts (default 100 ms). */
  intervalMs?: number;
  /** Which answer counts as ready (default: any status below 500). */
  isReady?: (res: Response) => boolean;
  /** Stop waiting early, e.g. when the process being waited for has exited. */
  signal?: AbortSignal;
}

/**
 * Polls `url` until it answers (status < 500 by default); throws after the timeout with the last error.
 * @example await waitForHttp('http://127.0.0.1:8042/system', 30_000);
 */
export async function waitForHttp(url: string, options: number | WaitForHttpOptions = {}): Promise<Response> {
  const opts = typeof options === 'number' ? { timeoutMs: options } : options;
  const {
    timeoutMs = 30_000,
    intervalMs = 100,
    isReady = (res: Response) => res.status < 500,
    signal,
  } = opts;
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no attempt made';
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    try {
      const perAttempt = AbortSignal.timeout(Math.max(250, Math.min(5_000, deadline - Date.now())));
      const res = await fetch(url, { signal: signal ? AbortSignal.any([signal, perAttempt]) : perAttempt });
      // Drain the body so the connection is released; the caller gets status and headers.
      await res.arrayBuffer();
      if (isReady(res)) return res;
      lastProblem = `HTTP ${res.status}`;
    } catch (err) {
      signal?.throwIfAborted();
      lastProblem = describeError(err);
    }
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not become ready within ${timeoutMs} ms (last: ${lastProblem})`);
}

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
