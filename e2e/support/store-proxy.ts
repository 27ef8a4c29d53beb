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
   * connection stays open and silent (a store that hangs mid-stream) until `release()`. With
   * `acrossResponses`, once `afterBytes` of all retrievals together went through (a download made
   * of many instance-level requests).
   */
  stallRetrievals(afterBytes: number, opts?: { acrossResponses?: boolean }): void;
  /** Stops stalling and forwards what was held back. */
  release(): void;
  /**
   * Holds requests that `match` for `ms` before they reach the store (a store whose instance-level
   * QIDO-RS opens every file, say); later requests on the same connection wait behind them.
   */
  delayRequests(match: (r: RecordedRequest) => boolean, ms: number): void;
  /** Answers requests that `match` with `status` and an empty body, without asking the store. */
  answerRequests(match: (r: RecordedRequest) => boolean, status: number): void;
  /** Forgets the delay and answer rules. */
  clearRules(): void;
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
  /** Client-to-store writes waiting behind a delayed request. */
  queue: Promise<void>;
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
  let stallAcross = false;
  let stallTotal = 0;

  let delayRule: { match: (r: RecordedRequest) => boolean; ms: number } | null = null;
  let answerRule: { match: (r: RecordedRequest) => boolean; status: number } | null = null;

  /** Parses the request heads that `data` completes; returns them. */
  const readHeads = (c: Connection, data: Buffer): RecordedRequest[] => {
    const heads: RecordedRequest[] = [];
    c.pending += data.toString('latin1');
    for (;;) {
      if (c.skip > 0) {
        const n = Math.min(c.skip, c.pending.length);
        c.skip -= n;
        c.pending = c.pending.slice(n);
        if (c.skip > 0) return heads;
      }
      const end = c.pending.indexOf(HEAD_END);
      if (end === -1) {
        if (c.pending.length > MAX_PENDING) c.pending = '';
        return heads;
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
      const recorded = { method, target, accept, at: Date.now() };
      requests.push(recorded);
      heads.push(recorded);
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
    const sent = stallAcross ? stallTotal : c.responseBytes;
    if (stallAfter !== null && c.retrieval && sent + chunk.length > stallAfter) {
      const keep = Math.max(0, stallAfter - sent);
      out = chunk.subarray(0, keep);
      c.held = [chunk.subarray(keep)];
      c.upstream.pause();
    }
    c.responseBytes += out.length;
    if (c.retrieval) stallTotal += out.length;
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
      queue: Promise.resolve(),
    };
    connections.add(c);
    let queued = 0;
    client.on('data', (data: Buffer) => {
      const heads = readHeads(c, data);
      const answer = answerRule;
      if (answer && heads.length > 0 && heads.every((h) => answer.match(h))) {
        // A GET head and nothing else: answered here, never forwarded.
        client.write(`HTTP/1.1 ${answer.status} Refused\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      const delay = delayRule;
      const ms = delay && heads.some((h) => delay.match(h)) ? delay.ms : 0;
      if (ms > 0 || queued > 0) {
        queued += 1;
        c.queue = c.queue.then(async () => {
          if (ms > 0) await new Promise((r) => setTimeout(r, ms));
          queued -= 1;
          if (!upstream.destroyed) upstream.write(data);
        });
        return;
      }
      if (!upstream.write(data)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.on('data', (chunk: Buffer) => forwardResponse(c, chunk));
    // A store that goes away closes the service's connection too, the way a real one would.
    let upstreamEnded = false;
    upstream.on('end', () => {
      upstreamEnded = true;
      if (!c.held) client.end();
    });
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      // After a clean end, client.end() above flushes what is still queued and then closes:
      // destroying here could drop the last bytes (a store that closes right after its answer).
      if (!c.held && !upstreamEnded) client.destroy();
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
    stallRetrievals(afterBytes, opts = {}) {
      stallAfter = afterBytes;
      stallAcross = opts.acrossResponses ?? false;
      stallTotal = 0;
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
    delayRequests(match, ms) {
      delayRule = { match, ms };
    },
    answerRequests(match, status) {
      answerRule = { match, status };
    },
    clearRules() {
      delayRule = null;
      answerRule = null;
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
