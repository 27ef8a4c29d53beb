import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** One HTTP request a service sent to the store, as read off the wire. */
export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/dicom-web/studies/1.2.3`. */
  target: string;
  accept: string;
  at: number;
}

export interface StoreProxy {
  port: number;
  /** The store's DICOMweb root through the proxy; give it to the stack as DICOMWEB_URL. */
  dicomwebUrl: string;
  /** Every request seen so far, in order. */
  readonly requests: RecordedRequest[];
  /** The WADO-RS retrievals (requests that accept multipart/related) seen so far. */
  retrievals(): RecordedRequest[];
  /**
   * From now on, a WADO-RS response stops being forwarded once `afterBytes` of it went through: the
   * connection stays open and silent (a store that hangs mid-stream) until `release()`.
   */
  stallRetrievals(afterBytes: number): void;
  /** Stops stalling and forwards what was held back. */
  release(): void;
  /** Connections currently stalled. */
  stalledCount(): number;
  /** Open connections whose latest request was a WADO-RS retrieval (finished ones idle in keep-alive count too). */
  openRetrievals(): number;
  close(): Promise<void>;
}

interface Connection {
  client: Socket;
  upstream: Socket;
  /** Client-to-store bytes not yet split into request heads. */
  pending: string;
  /** Request body bytes still to skip before the next head. */
  skip: number;
  retrieval: boolean;
  responseBytes: number;
  held: Buffer[] | null;
}

const HEAD_END = '\r\n\r\n';
const MAX_PENDING = 64 * 1024;

/**
 * A TCP proxy in front of the store (node:net, byte for byte): it records the HTTP requests the
 * services send and can freeze WADO-RS responses halfway, which no real store does on demand.
 * @example const proxy = await startStoreProxy(orthanc.port); startE2EStack('x', { orthanc, env: { DICOMWEB_URL: proxy.dicomwebUrl } });
 */
export async function startStoreProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<StoreProxy> {
  const requests: RecordedRequest[] = [];
  const connections = new Set<Connection>();
  let stallAfter: number | null = null;

  const readHeads = (c: Connection, data: Buffer) => {
    c.pending += data.toString('latin1');
    for (;;) {
      if (c.skip > 0) {
        const n = Math.min(c.skip, c.pending.length);
        c.skip -= n;
        c.pending = c.pending.slice(n);
        if (c.skip > 0) return;
      }
      const end = c.pending.indexOf(HEAD_END);
      if (end === -1) {
        if (c.pending.length > MAX_PENDING) c.pending = '';
        return;
      }
      const [requestLine = '', ...lines] = c.pending.slice(0, end).split('\r\n');
      c.pending = c.pending.slice(end + HEAD_END.length);
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const [method = '', target = ''] = requestLine.split(' ');
      const accept = headers.get('accept') ?? '';
      requests.push({ method, target, accept, at: Date.now() });
      c.skip = Number(headers.get('content-length') ?? 0) || 0;
      c.retrieval = /multipart\/related/i.test(accept);
      c.responseBytes = 0;
    }
  };

  const forwardResponse = (c: Connection, chunk: Buffer) => {
    if (c.held) {
      c.held.push(chunk);
      return;
    }
    let out = chunk;
    if (stallAfter !== null && c.retrieval && c.responseBytes + chunk.length > stallAfter) {
      const keep = Math.max(0, stallAfter - c.responseBytes);
      out = chunk.subarray(0, keep);
      c.held = [chunk.subarray(keep)];
      c.upstream.pause();
    }
    c.responseBytes += out.length;
    if (out.length > 0 && !c.client.write(out)) {
      c.upstream.pause();
      c.client.once('drain', () => {
        if (!c.held) c.upstream.resume();
      });
    }
  };

  const server: Server = createServer((client) => {
    const upstream = tcpConnect({ port: targetPort, host: targetHost });
    const c: Connection = {
      client,
      upstream,
      pending: '',
      skip: 0,
      retrieval: false,
      responseBytes: 0,
      held: null,
    };
    connections.add(c);
    client.on('data', (data: Buffer) => {
      readHeads(c, data);
      if (!upstream.write(data)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.on('data', (chunk: Buffer) => forwardResponse(c, chunk));
    // A store that goes away closes the service's connection too, the way a real one would.
    upstream.on('end', () => {
      if (!c.held) client.end();
    });
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      if (!c.held) client.destroy();
    });
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    client.on('close', () => {
      upstream.destroy();
      connections.delete(c);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');

  return {
    port: address.port,
    dicomwebUrl: `http://127.0.0.1:${address.port}/dicom-web`,
    requests,
    retrievals: () => requests.filter((r) => /multipart\/related/i.test(r.accept)),
    stallRetrievals(afterBytes) {
      stallAfter = afterBytes;
    },
    release() {
      stallAfter = null;
      for (const c of connections) {
        const held = c.held;
        if (!held) continue;
        c.held = null;
        for (const chunk of held) c.client.write(chunk);
        if (c.upstream.destroyed) c.client.destroy();
        else c.upstream.resume();
      }
    },
    stalledCount: () => [...connections].filter((c) => c.held !== null).length,
    openRetrievals: () => [...connections].filter((c) => c.retrieval).length,
    async close() {
      for (const c of connections) {
        c.client.destroy();
        c.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
