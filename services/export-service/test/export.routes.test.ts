import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDicomwebClient, type DicomwebClient } from '@studylink/dicomweb';
import { createLogger, listen, type RunningServer } from '@studylink/service-kit';
import { dciodvfy, pydicomFileSet, replaceUids } from '@studylink/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { ExportLimiter } from '../src/export.limiter.js';
import { createTokenServiceClient } from '../src/grant.client.js';
import { fallbackSeriesUid } from '../src/study.export.js';
import {
  download,
  EOCD,
  FakeStore,
  type FakeStudy,
  FakeTokenService,
  logSink,
  makeStudy,
  type ReportedEvent,
  until,
} from './fakes.js';

const SECRET = randomBytes(32).toString('hex');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A well-formed token (64 of [A-Za-z0-9]); modulo bias does not matter in a test. */
const token = () => [...randomBytes(64)].map((b) => ALPHABET[b % ALPHABET.length]).join('');

/**
 * The export service's real app (koa routes, zip writer, DICOMweb client, token-service client) over
 * HTTP, against a fake store and a fake token service, both node:http.
 */
describe('export service routes against a fake store and token service', () => {
  let store: FakeStore;
  let tokens: FakeTokenService;
  let dicomweb: DicomwebClient;
  let limiter: ExportLimiter;
  let http: RunningServer;
  let base: string;
  let logs: ReturnType<typeof logSink>;
  let small: FakeStudy;
  let large: FakeStudy;
  let odd: FakeStudy;
  const smallToken = token();
  const largeToken = token();
  const losslessToken = token();
  const oddToken = token();

  beforeAll(async () => {
    store = new FakeStore();
    await store.start();
    tokens = new FakeTokenService(SECRET);
    await tokens.start();
    small = store.add(makeStudy(4, 2));
    large = store.add(makeStudy(300, 3)); // about 12 MB
    tokens.grants.set(smallToken, small.uid);
    tokens.grants.set(largeToken, large.uid);
    tokens.grants.set(losslessToken, small.uid);
    tokens.jpegLossless.add(losslessToken);
    // Three instances, one of them with a Series Instance UID no DICOMDIR may carry (letters).
    odd = makeStudy(3, 2);
    const broken = odd.instances[2];
    if (!broken) throw new Error('no third instance');
    const badSeries = `9.${'X'.repeat(broken.seriesUid.length - 2)}`;
    broken.bytes = replaceUids(broken.bytes, { [broken.seriesUid]: badSeries });
    store.add(odd);
    tokens.grants.set(oddToken, odd.uid);
    logs = logSink();
    dicomweb = createDicomwebClient({
      baseUrl: store.dicomwebUrl,
      requestTimeoutMs: 5_000,
      stallTimeoutMs: 1_000,
    });
    limiter = new ExportLimiter(2);
    const app = createApp({
      log: createLogger({ service: 'export-service', level: 'debug', destination: logs.stream }),
      tokens: createTokenServiceClient({ baseUrl: tokens.url, secret: SECRET, timeoutMs: 2_000 }),
      dicomweb,
      limiter,
      trustedProxies: new Set(['127.0.0.1']),
      isDraining: () => false,
      retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 },
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
  beforeEach(() => {
    store.mode = 'complete';
    store.failRetrievals = 0;
    store.failStatus = 503;
    store.transcodeStatus = null;
    store.retrieveDelayMs = 0;
    tokens.events.length = 0;
  });
  afterEach(async () => {
    // Whatever a test did, no export may keep its slot or its store request.
    await until(() => limiter.inFlight === 0, 'the export slot to be released');
    await until(() => store.openRetrievals === 0, 'the store request to be closed');
    // Every started download reported how it ended (so no event spills into the next test).
    const count = (name: string) => tokens.events.filter((e) => e.event === name).length;
    await until(
      () => count('download_started') === count('download_complete') + count('download_aborted'),
      'every download_started to be followed by complete or abort',
    );
  });

  const url = (t: string) => `${base}/token/study.zip?${t}`;
  const eventsOf = (name: string): ReportedEvent[] => tokens.events.filter((e) => e.event === name);

  it('streams a complete zip and reports start, then complete with bytes and counts', async () => {
    const r = await download(url(smallToken));
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(r.headers['content-type']).toBe('application/zip');
    expect(r.headers['content-disposition']).toBe('attachment; filename="study-20040119-CT.zip"');
    expect(r.body.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    expect(r.body.includes(EOCD)).toBe(true);
    for (const i of small.instances) expect(r.body.includes(i.bytes)).toBe(true);

    await until(() => eventsOf('download_complete').length === 1, 'download_complete');
    expect(eventsOf('download_started')).toEqual([
      expect.objectContaining({ outcome: 'ok', tokenId: 7, studyInstanceUid: small.uid }),
    ]);
    const [complete] = eventsOf('download_complete');
    expect(complete).toMatchObject({
      outcome: 'ok',
      tokenId: 7,
      studyInstanceUid: small.uid,
      bytes: r.body.length,
    });
    expect(complete?.detail).toMatchObject({ instances: 4, series: 2 });
    expect(eventsOf('download_aborted')).toEqual([]);
    expect(tokens.events.map((e) => e.event)).toEqual(['download_started', 'download_complete']);
  });

  it('a download link with tracking parameters appended still downloads', async () => {
    const r = await download(`${url(smallToken)}&utm_source=newsletter`);
    expect(r.status).toBe(200);
    expect(r.body.includes(EOCD)).toBe(true);
    await until(() => eventsOf('download_complete').length === 1, 'download_complete');
  });

  it('reports complete only once the last byte went out: not while the client is not reading', async () => {
    let resume: () => void = () => {};
    const got = download(url(largeToken), {
      onHeaders: (pause, res) => {
        pause();
        resume = res;
      },
    });
    await until(() => eventsOf('download_started').length === 1, 'download_started');
    await new Promise((r) => setTimeout(r, 500));
    // 12 MB cannot all sit in socket buffers: the export is still waiting for the client.
    expect(eventsOf('download_complete')).toEqual([]);
    expect(limiter.inFlight).toBe(1);
    resume();
    const r = await got;
    expect(r.complete).toBe(true);
    await until(() => eventsOf('download_complete').length === 1, 'download_complete');
    expect(eventsOf('download_complete')[0]?.bytes).toBe(r.body.length);
  });

  it('keeps memory flat: a client that reads nothing holds the store back (backpressure)', async () => {
    store.mode = 'endless';
    const before = store.bytesWritten;
    let resume: () => void = () => {};
    let destroyAt = Number.POSITIVE_INFINITY;
    const got = download(url(largeToken), {
      onHeaders: (pause, res) => {
        pause();
        resume = res;
      },
      onBytes: (n, destroy) => {
        if (n > destroyAt) destroy();
      },
    });
    await until(() => eventsOf('download_started').length === 1, 'download_started');
    await new Promise((r) => setTimeout(r, 1_000));
    const pulled = store.bytesWritten - before;
    // Socket buffers on both sides plus a few stream buffers; an export that buffered would pull on.
    expect(pulled).toBeLessThan(24 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 500));
    expect(store.bytesWritten - before - pulled).toBeLessThan(1024 * 1024);
    destroyAt = 0;
    resume();
    await got;
  });

  it('a multipart body without its closing delimiter: the connection is cut, no zip end record', async () => {
    store.mode = 'truncated';
    const r = await download(url(smallToken));
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.body.length).toBeGreaterThan(0);
    expect(r.body.includes(EOCD)).toBe(false);
    await until(() => eventsOf('download_aborted').length === 1, 'download_aborted');
    expect(eventsOf('download_aborted')[0]).toMatchObject({
      outcome: 'upstream_error',
      studyInstanceUid: small.uid,
    });
    expect(eventsOf('download_complete')).toEqual([]);
  });

  it('a store that falls silent mid-stream: cut after the stall timeout', async () => {
    store.mode = 'stall';
    const started = Date.now();
    const r = await download(url(smallToken));
    expect(r.complete).toBe(false);
    expect(r.body.includes(EOCD)).toBe(false);
    expect(Date.now() - started).toBeLessThan(4_000);
    await until(() => eventsOf('download_aborted').length === 1, 'download_aborted');
    expect(eventsOf('download_aborted')[0]?.outcome).toBe('upstream_error');
  });

  it('the client leaves midway: the store request is closed and the slot freed', async () => {
    store.mode = 'endless';
    const closedBefore = store.closedRetrievals;
    const r = await download(url(largeToken), {
      onBytes: (n, destroy) => {
        if (n > 1024 * 1024) destroy();
      },
    });
    expect(r.complete).toBe(false);
    await until(() => store.closedRetrievals === closedBefore + 1, 'the store to see its connection close');
    await until(() => limiter.inFlight === 0, 'the slot to be released');
    await until(() => eventsOf('download_aborted').length === 1, 'download_aborted');
    expect(eventsOf('download_aborted')[0]).toMatchObject({ outcome: 'client_disconnected' });
    expect(eventsOf('download_aborted')[0]?.bytes).toBeGreaterThan(1024 * 1024);
    expect(eventsOf('download_complete')).toEqual([]);
  });

  it('the client leaves before the first byte: the slot is freed and the store request closed', async () => {
    store.retrieveDelayMs = 1_500;
    const retrievals = store.retrievals;
    const controller = new AbortController();
    const got = fetch(url(smallToken), { signal: controller.signal }).catch(() => null);
    await until(() => store.retrievals === retrievals + 1, 'the store to be asked');
    controller.abort();
    await got;
    await until(() => limiter.inFlight === 0, 'the slot to be released', 1_000);
    await until(() => store.openRetrievals === 0, 'the store request to be closed', 1_000);
    // The slot is free for the next patient.
    store.retrieveDelayMs = 0;
    const next = await download(url(smallToken));
    expect(next.complete).toBe(true);
    await until(() => eventsOf('download_complete').length === 1, 'download_complete');
    expect(eventsOf('download_started')).toHaveLength(1);
  });

  it('retries a 503 from the store before the first byte, then streams', async () => {
    store.failRetrievals = 2;
    const before = store.retrievals;
    const r = await download(url(smallToken));
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(r.body.includes(EOCD)).toBe(true);
    expect(store.retrievals - before).toBe(3);
    await until(() => eventsOf('download_complete').length === 1, 'download_complete');
    expect(eventsOf('download_started')).toHaveLength(1);
    expect(logs.lines.some((l) => l.includes('store not ready; retrying'))).toBe(true);
  });

  it('a store that stays at 503: a 503 page with Retry-After, no download events', async () => {
    store.failRetrievals = 10;
    const r = await download(url(smallToken));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toMatch(/^\d+$/);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.body.toString('utf8')).toContain('Temporarily unavailable');
    expect(tokens.events.filter((e) => e.event.startsWith('download_'))).toEqual([]);
  });

  it('asks the store for the study alone (no QIDO-RS); the DICOMDIR comes from the instances and passes the validators', async () => {
    const qido = store.qidoRequests;
    const r = await download(url(oddToken));
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(store.qidoRequests).toBe(qido);
    const dir = mkdtempSync(join(tmpdir(), 'studylink-export-test-'));
    writeFileSync(join(dir, 'study.zip'), r.body);
    execFileSync('unzip', ['-q', 'study.zip', '-d', 'out'], { cwd: dir });
    const dicomdir = join(dir, 'out', 'DICOMDIR');
    const records = await pydicomFileSet(dicomdir);
    expect(records).toHaveLength(3);
    const series = new Set(records.map((rec) => rec.seriesInstanceUid));
    // The two real series, and ours for the instance whose series UID is unusable.
    expect(series).toEqual(
      new Set([odd.instances[0]?.seriesUid, odd.instances[1]?.seriesUid, fallbackSeriesUid(odd.uid)]),
    );
    for (const rec of records) {
      expect(rec.transferSyntaxUid).toBe(rec.fileTransferSyntaxUid);
      expect(rec.patientName).toBe('CompressedSamples^CT1');
    }
    expect((await dciodvfy(dicomdir)).errors).toEqual([]);
    await until(() => eventsOf('download_complete').length === 1, 'download_complete');
  });

  it('a 406 to JPEG lossless: the study as stored, in a second request', async () => {
    store.transcodeStatus = 406;
    const before = store.retrieveAccepts.length;
    const r = await download(url(losslessToken));
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    for (const i of small.instances) expect(r.body.includes(i.bytes)).toBe(true);
    const accepts = store.retrieveAccepts.slice(before);
    expect(accepts).toHaveLength(2);
    expect(accepts[0]).toContain('transfer-syntax=1.2.840.10008.1.2.4.70');
    expect(accepts[1]).toContain('transfer-syntax=*');
    expect(logs.lines.some((l) => l.includes('sending it as stored'))).toBe(true);
    await until(() => eventsOf('download_complete').length === 1, 'download_complete');
  });

  it('a 400 from the store is not retried: one request, then a 503 page', async () => {
    store.failRetrievals = 5;
    store.failStatus = 400;
    const before = store.retrievals;
    const r = await download(url(smallToken));
    expect(r.status).toBe(503);
    expect(store.retrievals - before).toBe(1);
    store.failRetrievals = 0;
  });

  it('HEAD of the download (a link checker) answers without asking the store', async () => {
    const before = store.retrievals;
    const r = await fetch(url(smallToken), { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/zip');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(store.retrievals).toBe(before);
    expect(limiter.inFlight).toBe(0);
  });

  it('unknown and malformed tokens: 404 and the store is never asked', async () => {
    const before = store.retrievals;
    for (const t of [token(), 'short', '', `${smallToken}x`]) {
      const r = await download(url(t));
      expect(r.status, t).toBe(404);
      expect(r.body.includes(Buffer.from('PK'))).toBe(false);
    }
    expect(store.retrievals).toBe(before);
  });

  it('never logs the token', () => {
    const all = logs.lines.join('\n');
    for (const t of [smallToken, largeToken]) expect(all).not.toContain(t);
    expect(all).toContain('export complete');
  });
});
