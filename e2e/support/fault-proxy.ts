import { once } from 'node:events';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';

/** One proxied connection, as the proxy saw it. */
export interface ProxiedConnection {
  id: number;
  openedAt: number;
  /** When either side went away; null while open. */
  closedAt: number | null;
  /** Who closed it first: the side that connected to the proxy ('client'), the target, or the proxy (cut). */
  closedBy: 'client' | 'target' | 'proxy' | null;
  /** Bytes forwarded from the target to the client. */
  bytesDown: number;
  bytesUp: number;
}

export interface FaultProxy {
  port: number;
  /** `http://127.0.0.1:<port><path>` */
  url(path?: string): string;
  /** From now on, once `bytes` more have gone from target to client (all connections together), stop forwarding. */
  stallAfter(bytes: number): void;
  /** Stop forwarding at once, both ways; connections stay open and silent, new ones too. */
  stall(): void;
  /** When the current stall began (Date.now()), or null while forwarding. */
  stalledSince(): number | null;
  /** Forward again, held bytes first. */
  resume(): void;
  /** Limit every connection to `bytesPerSecond` from target to client (null: no limit): a slow store. */
  throttle(bytesPerSecond: number | null): void;
  /** Reset every open connection (RST), as a store that crashed would leave them. */
  cut(): void;
  /** New connections go to this target from now on. */
  setTarget(port: number, host?: string): void;
  /** Every connection so far, oldest first. */
  connections(): ProxiedConnection[];
  close(): Promise<void>;
}

interface Link {
  info: ProxiedConnection;
  client: Socket;
  target: Socket;
  held: Buffer[];
  /** Waiting for the client side to drain. */
  draining: boolean;
  /** Throttled: not before this time (Date.now()). */
  nextReadAt: number;
}

/**
 * A byte-for-byte TCP proxy for fault tests: it can go silent mid-stream (a hung store), reset
 * everything (a crashed one), and tells which connections closed, when, and from which side (so a
 * test sees whether a cancelled download really cancelled its upstream request).
 * @example const proxy = await startFaultProxy(orthanc.port); proxy.stallAfter(2 << 20);
 */
export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  let target = { port: targetPort, host: targetHost };
  const links = new Set<Link>();
  const all: ProxiedConnection[] = [];
  let stalled = false;
  let stalledAt: number | null = null;
  let budget: number | null = null; // bytes still to forward before stalling
  let nextId = 1;
  let rate: number | null = null;

  /** Reads from the target again once nothing holds it back: a stall, a full client, the throttle. */
  const maybeResume = (link: Link) => {
    if (stalled || link.draining || link.target.destroyed) return;
    const wait = link.nextReadAt - Date.now();
    if (wait > 0) setTimeout(() => maybeResume(link), wait);
    else link.target.resume();
  };

  const finish = (link: Link, by: ProxiedConnection['closedBy']) => {
    if (link.info.closedAt === null) {
      link.info.closedAt = Date.now();
      link.info.closedBy = by;
    }
    links.delete(link);
  };

  const sendDown = (link: Link, chunk: Buffer) => {
    if (stalled) {
      link.held.push(chunk);
      link.target.pause();
      return;
    }
    let out = chunk;
    if (budget !== null && chunk.length >= budget) {
      out = chunk.subarray(0, budget);
      link.held.push(chunk.subarray(budget));
      budget = null;
      stalled = true;
      stalledAt = Date.now();
      for (const l of links) {
        l.target.pause();
        l.client.pause();
      }
    } else if (budget !== null) {
      budget -= chunk.length;
    }
    link.info.bytesDown += out.length;
    if (rate !== null && out.length > 0) {
      link.nextReadAt = Math.max(link.nextReadAt, Date.now()) + (out.length / rate) * 1000;
      link.target.pause();
    }
    if (out.length > 0 && !link.client.write(out)) {
      link.draining = true;
      link.target.pause();
      link.client.once('drain', () => {
        link.draining = false;
        maybeResume(link);
      });
    } else if (rate !== null) {
      maybeResume(link);
    }
  };

  const server = createServer((client) => {
    const info: ProxiedConnection = {
      id: nextId++,
      openedAt: Date.now(),
      closedAt: null,
      closedBy: null,
      bytesDown: 0,
      bytesUp: 0,
    };
    all.push(info);
    const link: Link = {
      info,
      client,
      target: tcpConnect(target),
      held: [],
      draining: false,
      nextReadAt: 0,
    };
    links.add(link);
    if (stalled) {
      client.pause();
      link.target.pause();
    }
    client.on('data', (data: Buffer) => {
      info.bytesUp += data.length;
      if (!link.target.write(data)) {
        client.pause();
        link.target.once('drain', () => {
          if (!stalled) client.resume();
        });
      }
    });
    link.target.on('data', (chunk: Buffer) => sendDown(link, chunk));
    client.on('end', () => link.target.end());
    link.target.on('end', () => {
      if (link.held.length === 0) client.end();
    });
    client.on('close', () => {
      finish(link, 'client');
      link.target.destroy();
    });
    link.target.on('close', (hadError) => {
      if (link.held.length > 0) return; // silent until resume() or cut()
      finish(link, 'target');
      // A clean close still lets the client have what is queued for it; an error cuts it off.
      if (hadError) client.destroy();
      else client.end();
    });
    client.on('error', () => {});
    link.target.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no port');
  const port = address.port;

  return {
    port,
    url: (path = '') => `http://127.0.0.1:${port}${path}`,
    stallAfter(bytes) {
      budget = bytes;
    },
    stall() {
      stalled = true;
      stalledAt = Date.now();
      for (const l of links) {
        l.target.pause();
        l.client.pause();
      }
    },
    stalledSince: () => stalledAt,
    resume() {
      stalled = false;
      stalledAt = null;
      budget = null;
      for (const l of links) {
        const held = l.held.splice(0);
        for (const chunk of held) sendDown(l, chunk);
        if (l.target.destroyed) {
          finish(l, 'target');
          l.client.end();
          continue;
        }
        l.client.resume();
        maybeResume(l);
      }
    },
    throttle(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    cut() {
      for (const l of [...links]) {
        finish(l, 'proxy');
        l.held = [];
        l.client.resetAndDestroy();
        l.target.resetAndDestroy();
      }
    },
    setTarget(p, host = '127.0.0.1') {
      target = { port: p, host };
    },
    connections: () => all.map((c) => ({ ...c })),
    async close() {
      for (const l of links) {
        l.client.destroy();
        l.target.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
