import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish within graceMs, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

/**
 * Starts an HTTP server with timeouts set and a graceful close that drains in-flight requests.
 * @example const http = await listen(app.callback(), { host: '127.0.0.1', port: 3001 });
 */
export async function listen(
  handler: Handler,
  opts: { host: string; port: number; requestTimeoutMs?: number; headersTimeoutMs?: number },
): Promise<RunningServer> {
  const server = createServer(
    {
      // A slow download may take hours; only the request head must arrive in time.
      requestTimeout: opts.requestTimeoutMs ?? 0,
      headersTimeout: opts.headersTimeoutMs ?? 20_000,
      keepAliveTimeout: 5_000,
    },
    handler,
  );
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    server,
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

/**
 * Runs `stop` once on SIGTERM or SIGINT and exits; a second signal exits at once.
 * @example onShutdown(log, () => service.stop());
 */
export function onShutdown(log: { info: (o: object, m: string) => void }, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
