// A TCP proxy that makes loopback look like a mobile link: every byte, in either direction, waits
// half the round trip, and all connections share one bandwidth per direction (a phone has one
// radio). Used by `make bench-viewer` for its 4G figures: Chromium's own throttling leaves the
// requests of workers and some fetches unthrottled, this shapes everything the browser sends and gets.
import { createServer, connect as tcpConnect } from 'node:net';

/**
 * Starts the proxy on 127.0.0.1 (a free port) in front of `targetPort`.
 * @example const p = await startShapingProxy(8080, { downBitsPerSecond: 30e6, upBitsPerSecond: 10e6, rttMs: 40 });
 */
export async function startShapingProxy(targetPort, { downBitsPerSecond, upBitsPerSecond, rttMs }) {
  const sockets = new Set();
  const bytes = { down: 0, up: 0 };
  // When each direction's shared link is next free (ms, performance.now()).
  const free = { down: 0, up: 0 };
  let offline = false;

  /** Forwards `from` to `to` through the shaped direction `dir`. */
  const pipe = (from, to, dir, bitsPerSecond) => {
    let queued = 0;
    let lastDeliverAt = 0;
    from.on('data', (chunk) => {
      if (offline) return;
      const now = performance.now();
      const sendAt = Math.max(free[dir], now);
      free[dir] = sendAt + (chunk.length * 8 * 1000) / bitsPerSecond;
      // Delivered once it has gone through the link and the half round trip.
      const deliverAt = free[dir] + rttMs / 2;
      lastDeliverAt = deliverAt;
      queued += chunk.length;
      if (queued > 512 * 1024) from.pause();
      setTimeout(
        () => {
          queued -= chunk.length;
          if (queued <= 512 * 1024) from.resume();
          if (offline || to.destroyed) return;
          bytes[dir] += chunk.length;
          to.write(chunk);
        },
        Math.max(0, deliverAt - now),
      );
    });
    // The end goes after the last byte (timers of the same delay run in order).
    from.on('end', () =>
      setTimeout(() => to.end(), Math.max(rttMs / 2, lastDeliverAt - performance.now() + 1)),
    );
  };

  const server = createServer((client) => {
    const target = tcpConnect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client);
    sockets.add(target);
    for (const s of [client, target]) {
      s.setNoDelay(true);
      s.on('error', () => {
        client.destroy();
        target.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    pipe(client, target, 'up', upBitsPerSecond);
    pipe(target, client, 'down', downBitsPerSecond);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    bytes,
    /** The link is lost: nothing more goes through, existing connections included. */
    cut() {
      offline = true;
    },
    restore() {
      offline = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
