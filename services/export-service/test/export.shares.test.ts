// One link holder must not be able to block every download: slots are shared per link and per
// client address below the service's capacity, and a client that holds a slot without reading
// loses it. Access events survive a token service that is briefly away.
import { randomBytes } from 'node:crypto';
import { createDicomwebClient, type DicomwebClient } from '@studylink/dicomweb';
import { createLogger, listen, type RunningServer } from '@studylink/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { ExportLimiter } from '../src/export.limiter.js';
import { createTokenServiceClient } from '../src/grant.client.js';
import { download, EOCD, FakeStore, FakeTokenService, logSink, makeStudy, until } from './fakes.js';

const SECRET = randomBytes(32).toString('hex');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const token = () => [...randomBytes(64)].map((b) => ALPHABET[b % ALPHABET.length]).join('');

describe('export slots: per link, per client address, and stalled clients', () => {
  let store: FakeStore;
  let tokens: FakeTokenService;
  let dicomweb: DicomwebClient;
  let limiter: ExportLimiter;
  let http: RunningServer;
  let base: string;
  const links = Array.from({ length: 6 }, () => token());

  beforeAll(async () => {
    store = new FakeStore();
    await store.start();
    tokens = new FakeTokenService(SECRET);
    await tokens.start();
    const study = store.add(makeStudy(1500, 3)); // about 60 MB: far more than the sockets buffer
    links.forEach((t, i) => {
      tokens.grants.set(t, study.uid);
      tokens.tokenIds.set(t, 100 + i);
    });
    dicomweb = createDicomwebClient({
      baseUrl: store.dicomwebUrl,
      requestTimeoutMs: 5_000,
      stallTimeoutMs: 10_000,
    });
    limiter = new ExportLimiter(5, { perLink: 2, perClient: 3 });
    const app = createApp({
      log: createLogger({ service: 'export-service', level: 'info', destination: logSink().stream }),
      tokens: createTokenServiceClient({ baseUrl: tokens.url, secret: SECRET, timeoutMs: 2_000 }),
      dicomweb,
      limiter,
      trustedProxies: new Set(['127.0.0.1']),
      isDraining: () => false,
      retry: { attempts: 1, baseDelayMs: 20, maxDelayMs: 50 },
      // Long enough that the downloads the tests hold on purpose for a moment are not taken for stalled.
      clientStall: { windowMs: 2_000, minBytes: 64 * 1024 },
      checkStore: async () => true,
    });
    http = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${http.port}`;
  });
  afterAll(async () => {
    await http?.close(0);
    await dicomweb?.close();
    await store?.stop();
    await tokens?.stop();
  });

  const url = (t: string) => `${base}/token/study.zip?${t}`;
  /** A download that reads nothing after the headers; resolves once headers came, with a way to finish. */
  const held = (t: string, ip: string) =>
    new Promise<{ status: number; done: Promise<{ complete: boolean; cut: boolean }>; resume: () => void }>(
      (resolve) => {
        let resumeIt: () => void = () => {};
        const done = download(url(t), {
          headers: { 'x-real-ip': ip },
          onHeaders: (pause, resume) => {
            pause();
            resumeIt = resume;
            setImmediate(() => resolve({ status: 200, done: doneMapped, resume: () => resumeIt() }));
          },
        });
        const doneMapped = done.then((r) => ({
          complete: r.complete && r.body.includes(EOCD),
          cut: !r.complete,
        }));
        void done.then((r) => {
          if (r.status !== 200) resolve({ status: r.status, done: doneMapped, resume: () => {} });
        });
      },
    );

  it('caps the capacity a single client and a single link can take; others still download', async () => {
    expect(limiter.limits).toEqual({ perLink: 2, perClient: 3 });
    const a = '203.0.113.1';
    // One link: two at once, the third is refused (429 with Retry-After), from any address.
    const l1 = await held(links[0] as string, a);
    const l2 = await held(links[0] as string, '203.0.113.2');
    expect([l1.status, l2.status]).toEqual([200, 200]);
    const l3 = await download(url(links[0] as string), { headers: { 'x-real-ip': '203.0.113.3' } });
    expect(l3.status).toBe(429);
    expect(l3.headers['retry-after']).toMatch(/^\d+$/);
    expect(l3.headers['cache-control']).toBe('no-store');
    // One address: three at once over any links, the fourth is refused.
    const c3 = await held(links[1] as string, a);
    const c4 = await held(links[2] as string, a);
    const c5 = await download(url(links[3] as string), { headers: { 'x-real-ip': a } });
    expect([c3.status, c4.status, c5.status]).toEqual([200, 200, 429]);
    // Of the capacity of 5, a holds three and 203.0.113.2 one: another client still finds a slot.
    expect(limiter.inFlight).toBe(4);
    const free = await held(links[3] as string, '198.51.100.8');
    expect(free.status).toBe(200);
    free.resume();
    for (const d of [l1, l2, c3, c4]) d.resume();
    const results = await Promise.all([l1.done, l2.done, c3.done, c4.done, free.done]);
    expect(results.every((r) => r.complete)).toBe(true);
    await until(() => limiter.inFlight === 0, 'slots released');
    const other = await download(url(links[3] as string), { headers: { 'x-real-ip': '198.51.100.9' } });
    expect(other.status).toBe(200);
    expect(other.body.includes(EOCD)).toBe(true);
    // Six whole zips from a real store: a bound for a loaded machine (seen at 30 s), not a timing.
  }, 120_000);

  it('an IPv6 client is one client per /64: rotating addresses does not get it more slots', async () => {
    const ds = [];
    for (let i = 1; i <= 3; i++) ds.push(await held(links[4 - (i % 2)] as string, `2001:db8:5:5::${i}`));
    const fourth = await download(url(links[5] as string), { headers: { 'x-real-ip': '2001:db8:5:5::99' } });
    expect(fourth.status).toBe(429);
    for (const d of ds) d.resume();
    await Promise.all(ds.map((d) => d.done));
    await until(() => limiter.inFlight === 0, 'slots released');
  });

  it('a client that stops reading loses its slot after the stall window: the zip is cut, the abort logged', async () => {
    const before = tokens.events.filter((e) => e.event === 'download_aborted').length;
    const d = await held(links[5] as string, '192.0.2.77');
    expect(d.status).toBe(200);
    await until(() => limiter.inFlight === 0, 'the stalled client to lose its slot', 10_000);
    d.resume();
    const r = await d.done;
    expect(r.complete).toBe(false);
    await until(
      () => tokens.events.filter((e) => e.event === 'download_aborted').length === before + 1,
      'download_aborted',
    );
    expect(tokens.events.filter((e) => e.event === 'download_aborted').at(-1)).toMatchObject({
      outcome: 'client_stalled',
      tokenId: 105,
    });
  });
});

describe('access events on their way to the token service', () => {
  let tokens: FakeTokenService;
  beforeAll(async () => {
    tokens = new FakeTokenService(SECRET);
    await tokens.start();
  });
  afterAll(async () => {
    await tokens?.stop();
  });

  it('are retried through a token service restart (503s, then refused connections) and arrive once', async () => {
    const dropped: string[] = [];
    const client = createTokenServiceClient({
      baseUrl: tokens.url,
      secret: SECRET,
      timeoutMs: 1_000,
      reportRetry: { attempts: 6, baseDelayMs: 20, maxDelayMs: 100 },
      onDropped: (e) => dropped.push(e.event),
    });
    tokens.failEvents = 3;
    await client.report({ event: 'download_complete', tokenId: 1, bytes: 10 });
    expect(tokens.events.filter((e) => e.event === 'download_complete')).toHaveLength(1);
    expect(dropped).toEqual([]);
  });

  it('a refusal that retrying cannot change (400) is dropped at once, and counted', async () => {
    const dropped: string[] = [];
    const client = createTokenServiceClient({
      baseUrl: tokens.url,
      secret: SECRET,
      timeoutMs: 1_000,
      reportRetry: { attempts: 6, baseDelayMs: 20, maxDelayMs: 100 },
      onDropped: (e) => dropped.push(e.event),
    });
    tokens.failEvents = 1;
    tokens.failEventsWith = 400;
    await expect(client.report({ event: 'download_aborted', tokenId: 1 })).rejects.toThrow(/dropped/);
    tokens.failEventsWith = 503;
    expect(dropped).toEqual(['download_aborted']);
  });

  it('what is still pending at shutdown is given up and counted, not lost silently', async () => {
    const dropped: string[] = [];
    const client = createTokenServiceClient({
      baseUrl: 'http://127.0.0.1:9', // nothing listens there
      secret: SECRET,
      timeoutMs: 200,
      reportRetry: { attempts: 50, baseDelayMs: 50, maxDelayMs: 200 },
      onDropped: (e) => dropped.push(e.event),
    });
    const sent = client.report({ event: 'download_started', tokenId: 2 }).catch(() => 'dropped');
    await client.flushReports(300);
    expect(await sent).toBe('dropped');
    expect(dropped).toEqual(['download_started']);
  });
});
