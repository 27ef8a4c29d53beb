// Faults with real processes: the store hanging or resetting mid-download, a client that walks away,
// and SIGTERM to the export service while downloads run. (A store process killed mid-download is
// e2e/export.e2e.test.ts's.) The services reach Orthanc through a
// TCP fault proxy (e2e/support/fault-proxy.ts); each download comes from its own loopback address so
// nginx's per-address limits stay out of the way.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type OrthancInstance, startOrthanc, uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, type Json, startE2EStack } from './support/e2e-stack.js';
import {
  curlToFile,
  exportReadiness,
  hasZipEnd,
  openConnections,
  unzipTests,
  waitUntil,
} from './support/fault-helpers.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';
import { malformedLogLines, tokenLeaks } from './support/log-checks.js';

const STALL_TIMEOUT_MS = 3_000;
const SHUTDOWN_GRACE_MS = 5_000;
const MB = 1024 * 1024;

let orthanc: OrthancInstance;
let proxy: FaultProxy;
let s: E2EStack;
let work: string;
const study = { small: { uid: '', token: '', bytes: 0 }, large: { uid: '', token: '', bytes: 0 } };
let nextClient = 1;
const client = () => `127.0.5.${nextClient++}`;
const zipUrl = (token: string) => `${s.url}/token/study.zip?${token}`;
const exportPid = () => s.stack.processes['export-service'].pid as number;

async function writeStudy(name: string, rows: number, count: number) {
  const dir = join(work, name);
  const written = await writeSyntheticStudy({
    dir,
    patientName: `Faults^${name}`,
    patientId: name,
    series: 1,
    instancesPerSeries: count,
    rows,
    columns: rows,
  });
  return { dir, uid: written.studyInstanceUid, bytes: written.totalBytes };
}

async function accessEvents(event: string): Promise<Json[]> {
  const r = await s.api('GET', `/api/v1/access-log?event=${event}&limit=500`);
  return r.json.items as Json[];
}

/** Waits for the export service to have no export running, and returns how long that took. */
const exportsDrained = () =>
  waitUntil(
    async () => (await exportReadiness(s.stack.exportPort)).exportsInFlight === 0,
    10_000,
    'exports in flight back to 0',
  );

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'studylink-faults-'));
  orthanc = await startOrthanc();
  proxy = await startFaultProxy(orthanc.port);
  const [small, large] = await Promise.all([writeStudy('small', 512, 8), writeStudy('large', 1024, 24)]);
  await Promise.all([uploadDirectory(orthanc, small.dir, 4), uploadDirectory(orthanc, large.dir, 4)]);
  s = await startE2EStack('reliability-faults', {
    orthanc,
    env: {
      DICOMWEB_URL: proxy.url('/dicom-web'),
      STORE_STALL_TIMEOUT_MS: String(STALL_TIMEOUT_MS),
      EXPORT_SERVICE_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
      TOKEN_SERVICE_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
      // These faults run several downloads of one link from one address at once: the shares of the
      // export slots (e2e/security.e2e.test.ts) are not what is tested here.
      MAX_EXPORTS_PER_LINK: '7',
      MAX_EXPORTS_PER_CLIENT: '7',
    },
  });
  for (const [key, w] of [
    ['small', small],
    ['large', large],
  ] as const) {
    study[key] = { uid: w.uid, token: (await s.issueToken(w.uid)).token, bytes: w.bytes };
  }
  // Each link's zip layout is made in the background by reading the study through the same proxy:
  // wait for both (HEAD answers with a length), so no background read shares the faults below.
  for (const key of ['small', 'large'] as const)
    await waitUntil(
      async () => {
        const r = await fetch(zipUrl(study[key].token), { method: 'HEAD' });
        return r.status === 200 && r.headers.get('content-length') !== null;
      },
      60_000,
      `the ${key} study's zip layout`,
    );
});
afterAll(async () => {
  await s?.stop();
  await proxy?.close();
  await orthanc?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('faults while a study downloads', () => {
  it('through the proxy, a download completes and unzips (the baseline)', async () => {
    const file = join(work, 'baseline.zip');
    const run = await curlToFile(zipUrl(study.small.token), file, { from: client() });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.status).toBe(200);
    expect(run.bytes).toBeGreaterThan(study.small.bytes);
    expect(await unzipTests(file)).toBe(true);
  });

  it('the store stalls mid-stream: the download breaks within the stall timeout, visibly incomplete', async () => {
    proxy.stallAfter(2 * MB);
    const file = join(work, 'stalled.zip');
    const download = curlToFile(zipUrl(study.small.token), file, { from: client() });
    const stalledAt = await waitForStall();
    const run = await download;
    const brokenAfter = run.endedAt - stalledAt;
    console.log(
      `stall → broken download after ${brokenAfter} ms (STORE_STALL_TIMEOUT_MS=${STALL_TIMEOUT_MS})`,
    );
    expect(run.exitCode, 'curl must see a failed transfer').not.toBe(0);
    expect(run.status).toBe(200); // headers went out before the stall: only a cut can say "failed"
    expect(brokenAfter).toBeGreaterThanOrEqual(STALL_TIMEOUT_MS - 500);
    expect(brokenAfter).toBeLessThanOrEqual(STALL_TIMEOUT_MS + 3_000);
    expect(await hasZipEnd(file)).toBe(false);
    expect(await unzipTests(file)).toBe(false);
    proxy.resume();
    await exportsDrained();
    const aborts = (await accessEvents('download_aborted')).filter(
      (e) => e.studyInstanceUid === study.small.uid,
    );
    expect(aborts.map((e) => e.outcome)).toContain('upstream_error');
  });

  it('the store connection is reset mid-stream: the download breaks at once, no retry after the first byte', async () => {
    proxy.stallAfter(2 * MB);
    const file = join(work, 'reset.zip');
    const download = curlToFile(zipUrl(study.small.token), file, { from: client() });
    await waitForStall();
    const cutAt = Date.now();
    proxy.cut();
    proxy.resume();
    const run = await download;
    console.log(`reset → broken download after ${run.endedAt - cutAt} ms`);
    expect(run.exitCode).not.toBe(0);
    expect(run.endedAt - cutAt).toBeLessThan(2_000);
    expect(await unzipTests(file)).toBe(false);
    await exportsDrained();
    // Retries happen only before the first byte reached the client: none after this cut.
    const exportLog = await readFile(join(s.logDir, 'export-service.log'), 'utf8');
    const retriesAfterCut = exportLog
      .split('\n')
      .filter((l) => l.includes('retrying') && Date.parse(JSON.parse(l).time) >= cutAt);
    expect(retriesAfterCut).toEqual([]);
  });

  it('a client that disconnects midway cancels the upstream request and leaks nothing', async () => {
    await exportsDrained();
    // Idle: keep-alive connections (nginx, store, token service) expire within about 5 s.
    await waitUntil(
      async () => (await openConnections(exportPid())).length === 0,
      15_000,
      'idle export service',
    );
    const since = proxy.connections().length;
    const received = await readThenHangUp(zipUrl(study.large.token), 2 * MB, client());
    const hungUpAt = Date.now();
    expect(received).toBeGreaterThanOrEqual(2 * MB);
    const retrieval = () =>
      proxy
        .connections()
        .slice(since)
        .sort((a, b) => b.bytesDown - a.bytesDown)[0];
    const cancelledAfter = await waitUntil(
      () => retrieval()?.closedAt != null,
      5_000,
      'store connection closed',
    );
    const wado = retrieval();
    console.log(
      `client hang-up → store connection closed after ${cancelledAfter} ms, ${(wado?.bytesDown ?? 0) / MB} MB of ${study.large.bytes / MB} MB read`,
    );
    // Closed by the export service (the proxy's client side), long before the store had sent it all.
    expect(wado?.closedBy).toBe('client');
    expect(wado?.bytesDown ?? 0).toBeLessThan(study.large.bytes * 0.9);
    expect(await exportsDrained()).toBeLessThan(5_000);
    const socketsBackAfter = await waitUntil(
      async () => (await openConnections(exportPid())).length === 0,
      15_000,
      'export service back to no open connections',
    );
    console.log(`open connections of the export service back to 0 after ${Date.now() - hungUpAt} ms`);
    expect(socketsBackAfter).toBeLessThan(15_000);
    const aborts = (await accessEvents('download_aborted')).filter(
      (e) => e.studyInstanceUid === study.large.uid,
    );
    expect(aborts.map((e) => e.outcome)).toContain('client_disconnected');
  });

  it('SIGTERM during three slow downloads: new ones refused, two finish valid, the slowest is cut at the grace period', async () => {
    // The store is slow too (2 MB/s per connection): a throttled client alone would not do, since
    // tens of MB fit into loopback socket buffers (tcp_rmem goes up to 32 MB) and the export service
    // would be done long before the client. This way the third export is still running at the end of
    // the grace period, and its client sees the cut right away.
    proxy.throttle(2 * MB);
    const files = ['a', 'b', 'c'].map((n) => join(work, `sigterm-${n}.zip`));
    const downloads = [
      curlToFile(zipUrl(study.small.token), files[0] as string, { from: client(), limitRate: '4M' }),
      curlToFile(zipUrl(study.small.token), files[1] as string, { from: client(), limitRate: '4M' }),
      curlToFile(zipUrl(study.large.token), files[2] as string, { from: client(), limitRate: '3M' }),
    ];
    await waitUntil(
      async () => (await exportReadiness(s.stack.exportPort)).exportsInFlight === 3,
      10_000,
      '3 exports running',
    );
    const exporter = s.stack.processes['export-service'];
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      exporter.once('exit', (code) => resolve({ code, at: Date.now() })),
    );
    const termAt = Date.now();
    exporter.kill('SIGTERM');
    await sleep(300);
    // New requests are refused while the old ones drain: 503 through nginx, with Retry-After.
    for (let i = 0; i < 3; i++) {
      const late = await fetch(zipUrl(study.small.token));
      expect(late.status).toBe(503);
      expect(late.headers.get('retry-after')).toBeTruthy();
      await late.arrayBuffer();
    }
    const exit = await exited;
    const exitedAfter = exit.at - termAt;
    const [a, b, c] = await Promise.all(downloads);
    for (const [run, file] of [
      [a, files[0]],
      [b, files[1]],
    ] as const) {
      expect(run?.exitCode, run?.stderr).toBe(0);
      expect((run?.endedAt ?? 0) - termAt).toBeLessThan(SHUTDOWN_GRACE_MS);
      expect(await unzipTests(file as string)).toBe(true);
    }
    console.log(
      `SIGTERM: two downloads done ${(a?.endedAt ?? 0) - termAt} / ${(b?.endedAt ?? 0) - termAt} ms after it; export service cut the third and exited after ${exitedAfter} ms (grace ${SHUTDOWN_GRACE_MS} ms, code ${exit.code}); that client saw the cut after ${(c?.endedAt ?? 0) - termAt} ms with ${((c?.bytes ?? 0) / MB).toFixed(1)} of ${(study.large.bytes / MB).toFixed(1)} MB`,
    );
    // The slow one held the process until the grace period ended, and no longer.
    expect(exitedAfter).toBeGreaterThanOrEqual(SHUTDOWN_GRACE_MS - 250);
    expect(exitedAfter).toBeLessThan(SHUTDOWN_GRACE_MS + 1_500);
    expect(exit.code).toBe(0);
    expect(c?.exitCode).not.toBe(0);
    // It sees the cut once the bytes already on their way (socket buffers, at its slow reading
    // rate) have drained: seconds, not nginx's 300 s read timeout.
    expect((c?.endedAt ?? 0) - exit.at).toBeLessThan(5_000);
    expect(c?.bytes ?? 0).toBeLessThan(study.large.bytes);
    expect(await unzipTests(files[2] as string)).toBe(false);
  });

  it('the download cut at shutdown is in the access log as aborted by the shutdown', async () => {
    // Reported while the process exits: Node calls server.close()'s callback before the cut
    // responses emit 'close', so the export service must wait for their bookkeeping.
    const aborts = await eventuallyEvents('download_aborted', study.large.uid, 2);
    expect(aborts.map((e) => e.outcome).sort()).toEqual(['client_disconnected', 'shutdown']);
  });

  it('leaves every log line JSON and no token in any log', async () => {
    expect(await malformedLogLines(s.logDir)).toEqual([]);
    expect(await tokenLeaks(s.logDir, [study.small.token, study.large.token])).toEqual([]);
  });
});

/** The study's events of one kind, polled until there are `count` (they are reported asynchronously). */
async function eventuallyEvents(event: string, uid: string, count: number): Promise<Json[]> {
  let found: Json[] = [];
  await waitUntil(
    async () => {
      found = (await accessEvents(event)).filter((e) => e.studyInstanceUid === uid);
      return found.length >= count;
    },
    5_000,
    `${count} ${event} events`,
  ).catch(() => {});
  return found;
}

/** Resolves once the armed stall has begun; returns when it began. */
async function waitForStall(): Promise<number> {
  await waitUntil(() => proxy.stalledSince() !== null, 10_000, 'proxy stalled');
  return proxy.stalledSince() as number;
}

/** GETs `url` from `from`, reads at least `bytes` of the body, then drops the connection. */
function readThenHangUp(url: string, bytes: number, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, agent: false }, (res) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= bytes) {
          req.destroy();
          resolve(received);
        }
      });
      res.on('end', () => reject(new Error(`the whole body (${received} bytes) arrived before the hang-up`)));
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}
