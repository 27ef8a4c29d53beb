#!/usr/bin/env node
// `make bench`: export throughput, time to first byte and memory, and page-view latency, on the real
// stack (scripts/stack.mjs) with a private Orthanc and a private PostgreSQL database. Prints a table
// and writes .bench/results.json. It asserts nothing: compare the figures with the targets shown.
//
//   BENCH_PAGE_SECONDS=30      length of each page-view load run
//   BENCH_THROTTLE_SECONDS=60  how long a 1 MB/s client reads before the memory trend is taken
//   BENCH_SKIP_2GB=1           leave out the 2 GB study (generating and storing it takes a while)
//   BENCH_SKIP_4000=1          leave out the 4,000-instance first-byte comparison
//   BENCH_PAGES_ONLY=1         page views only (cost in SQL statements, load at 50 and 200 clients)
//   BENCH_QUICK=1              leave out Orthanc's /archive and the page-view runs (export figures only)
//
// The store is Orthanc as Debian installs it and most sites leave it (startOrthanc's 'stock' preset:
// DefaultEncoding Latin1, the DICOMweb plugin's default metadata modes, HTTP compression on).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  curlTimed,
  loadTest,
  median,
  pageStatus,
  sampleMemory,
  startCountingProxy,
} from './bench/probes.mjs';
import { startRelayBehindNginx } from './bench/relay.mjs';
import { printPageReport, printReport } from './bench/report.mjs';
import { ROOT, startStack } from './stack.mjs';

const PAGE_SECONDS = Number(process.env.BENCH_PAGE_SECONDS ?? 30);
const THROTTLE_SECONDS = Number(process.env.BENCH_THROTTLE_SECONDS ?? 60);
const SKIP_2GB = process.env.BENCH_SKIP_2GB === '1';
const SKIP_4000 = process.env.BENCH_SKIP_4000 === '1';
const PAGES_ONLY = process.env.BENCH_PAGES_ONLY === '1';
const QUICK = process.env.BENCH_QUICK === '1';
const WADO_ACCEPT = 'Accept: multipart/related; type="application/dicom"; transfer-syntax=*';
const MB = 1024 * 1024;
// The last run's service and nginx logs, kept for a look (git-ignored like all of .bench/).
const LOG_DIR = join(ROOT, '.bench', 'logs');

const say = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const testkit = await import('@studylink/testkit');
const cleanups = [];
const cleanup = async () => {
  while (cleanups.length)
    await cleanups
      .pop()()
      .catch((err) => say(`cleanup: ${err.message}`));
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

let nextClient = 1;
/** Each download from its own loopback address: nginx allows one address 2 downloads/s and 8 at once. */
const client = () => `127.0.8.${(nextClient++ % 250) + 1}`;

async function main() {
  await rm(LOG_DIR, { recursive: true, force: true });
  const work = await mkdtemp(join(tmpdir(), 'studylink-bench-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const template = await testkit.createTemplateDatabase();
  cleanups.push(() => testkit.dropTemplateDatabase(template));
  const db = await testkit.createTestDatabase({ template });
  const orthanc = await testkit.startOrthanc({ dir: work, preset: 'stock' });
  cleanups.push(() => orthanc.stop());
  // The token service reaches the store through a counting proxy: store requests per page view.
  const tokenStore = await startCountingProxy(orthanc.dicomwebUrl);
  cleanups.push(() => tokenStore.close());
  const adminKey = `slk_${randomBytes(32).toString('base64url')}`;
  say('starting the stack');
  const stack = await startStack({
    env: {
      DATABASE_URL: db.url,
      MIGRATION_DATABASE_URL: db.ownerUrl,
      DICOMWEB_URL: orthanc.dicomwebUrl,
      ADMIN_API_KEY: adminKey,
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      INTERNAL_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
      // Neither guessing limit may distort the load figures.
      NGINX_TOKEN_RATE: '100000r/s',
      INVALID_TOKEN_LIMIT: '1000000', // raised, not off: its check query is part of a page view's cost
      MAX_CONCURRENT_EXPORTS: '32',
      // The 20 concurrent downloads share one link: its share of the slots must not refuse them.
      MAX_EXPORTS_PER_LINK: '31',
    },
    publicPort: await testkit.freePort(),
    tokenPort: await testkit.freePort(),
    exportPort: await testkit.freePort(),
    tokenInternalPort: await testkit.freePort(),
    exportInternalPort: await testkit.freePort(),
    logDir: LOG_DIR,
    stateDir: join(work, 'state'),
    tokenEnv: { DICOMWEB_URL: tokenStore.url },
  });
  cleanups.push(() => stack.stop());
  const relay = await startRelayBehindNginx({
    dicomwebUrl: orthanc.dicomwebUrl,
    relayPort: await testkit.freePort(),
    nginxPort: await testkit.freePort(),
    logDir: LOG_DIR,
  });
  cleanups.push(() => relay.stop());
  const exportPid = stack.processes['export-service'].pid;

  const results = {
    at: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      memoryGB: Math.round(totalmem() / 2 ** 30),
      loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
      node: process.version,
      // nginx prints its version on stderr.
      nginx: spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', ''),
    },
    settings: { pageSeconds: PAGE_SECONDS, throttleSeconds: THROTTLE_SECONDS },
    orthanc: {
      preset: 'stock',
      config:
        'Debian orthanc + orthanc-dicomweb, nothing set but the DICOMweb root (DefaultEncoding Latin1, default metadata modes, HTTP compression on)',
      version: await fetch(`${orthanc.httpUrl}/system`)
        .then((r) => r.json())
        .then((s) => `Orthanc ${s.Version}`)
        .catch(() => 'unknown'),
    },
  };

  /** Generates a CT study on disk, stores it in Orthanc, deletes the files, issues its token. */
  const prepareStudy = async (name, series, perSeries, size = {}) => {
    const dir = join(work, name);
    let t = Date.now();
    const study = await testkit.writeSyntheticStudy({
      dir,
      patientName: `BENCH^${name}`,
      patientId: name,
      series,
      instancesPerSeries: perSeries,
      ...size,
    });
    const writtenMs = Date.now() - t;
    t = Date.now();
    const stored = await testkit.uploadDirectory(orthanc, dir, 4);
    const uploadMs = Date.now() - t;
    await rm(dir, { recursive: true, force: true });
    const res = await fetch(`${stack.publicUrl}/api/v1/studies/${study.studyInstanceUid}/token`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminKey}` },
    });
    if (!res.ok) throw new Error(`issuing a token failed: ${res.status}`);
    const { token } = await res.json();
    // Issue 18: the token service makes the study's zip layout in the background, reading the study
    // once from the store (through the counting proxy): its time, store requests and bytes read.
    const layoutStarted = Date.now();
    const readsBefore = tokenStore.requests.length;
    const layout = await waitForLayout(`${stack.publicUrl}/token/study.zip?${token}`);
    const made = await layoutLogLine(study.studyInstanceUid);
    const layoutCost = {
      ms: made?.ms ?? Date.now() - layoutStarted,
      seenAfterMs: Date.now() - layoutStarted,
      storeRequests: tokenStore.requests.length - readsBefore,
      bytesRead: made?.bytesRead ?? null,
      zipBytes: layout.length,
    };
    say(
      `${name}: ${series * perSeries} instances, ${(study.totalBytes / MB).toFixed(0)} MB (written ${writtenMs} ms, stored ${uploadMs} ms)`,
    );
    return {
      uid: study.studyInstanceUid,
      orthancId: stored[0].parentStudy,
      instances: series * perSeries,
      bytes: study.totalBytes,
      token,
      storeUploadMs: uploadMs,
      layoutCost,
      zipBytes: layout.length,
      etag: layout.etag,
    };
  };

  /** HEAD the zip until it has an ETag (its layout is made); its length and ETag. */
  const waitForLayout = async (url) => {
    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      const head = await fetch(url, { method: 'HEAD' });
      const etag = head.headers.get('etag');
      if (head.ok && etag) return { etag, length: Number(head.headers.get('content-length')) };
      if (Date.now() > deadline) throw new Error('the zip layout was not made in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** The token service's own account of making a study's layout (ms, bytes read), from its log. */
  const layoutLogLine = async (uid) => {
    const text = await readFile(join(LOG_DIR, 'token-service.log'), 'utf8').catch(() => '');
    const lines = text.split('\n').filter((l) => l.includes('"zip layout made"') && l.includes(uid));
    try {
      return lines.length ? JSON.parse(lines[lines.length - 1]) : null;
    } catch {
      return null;
    }
  };

  const exportUrl = (s) => `${stack.publicUrl}/token/study.zip?${s.token}`;
  const wadoUrl = (s) => `${orthanc.dicomwebUrl}/studies/${s.uid}`;
  const archiveUrl = (s) => `${orthanc.httpUrl}/studies/${s.orthancId}/archive`;

  /** A download with the export service's memory sampled throughout. */
  const withMemory = async (work) => {
    const mem = await sampleMemory(exportPid);
    const value = await work();
    return { value, memory: await mem.stop() };
  };

  /** Medians of a few downloads; any failed download fails the benchmark. */
  const summarize = (runs) => {
    for (const r of runs)
      if (r.exitCode !== 0 || r.status !== 200) throw new Error(`download failed: ${JSON.stringify(r)}`);
    return {
      runs: runs.map((r) => ({
        bytes: r.bytes,
        ttfbMs: r.ttfbMs,
        totalMs: r.totalMs,
        MBps: r.bytesPerSec / MB,
      })),
      medianMBps: median(runs.map((r) => r.bytesPerSec)) / MB,
      medianTtfbMs: median(runs.map((r) => r.ttfbMs)),
      medianTotalMs: median(runs.map((r) => r.totalMs)),
    };
  };
  const repeat = async (n, fn) => {
    const runs = [];
    for (let i = 0; i < n; i++) runs.push(await fn());
    return summarize(runs);
  };

  /** The token service's SQL statements so far, by kind (its /metrics, studylink_db_statements_total). */
  const statementsSoFar = async () => {
    const res = await fetch(`http://127.0.0.1:${stack.tokenInternalPort}/metrics`, {
      headers: { authorization: `Bearer ${stack.metricsToken}` },
    });
    const text = await res.text();
    const out = {};
    for (const m of text.matchAll(
      /^studylink_db_statements_total\{[^}]*kind="([a-z]+)"[^}]*\} ([0-9.e+]+)$/gm,
    ))
      out[m[1]] = Number(m[2]);
    return out;
  };

  /** Issue 6 and 17: what one page view costs (SQL statements), then page views under load beside a static file. */
  const measurePages = async (study) => {
    const pageUrl = `${stack.publicUrl}/token?${study.token}`;
    const cssUrl = `${stack.publicUrl}/assets/patient.css`;
    say('page-view load: warm-up');
    await loadTest(pageUrl, { connections: 10, seconds: 3 });
    // Sequential views from 200 addresses: every statement between the two readings is theirs.
    const views = 200;
    const before = await statementsSoFar();
    let ok = 0;
    for (let i = 0; i < views; i++)
      if ((await pageStatus(pageUrl, `127.0.7.${(i % 250) + 1}`)) === 200) ok += 1;
    const after = await statementsSoFar();
    const per = (kind) => ((after[kind] ?? 0) - (before[kind] ?? 0)) / views;
    results.pageCost = {
      views,
      ok,
      selectsPerView: per('select'),
      insertsPerView: per('insert'),
      updatesPerView: per('update'),
      deletesPerView: per('delete'),
      otherPerView: per('other'),
    };
    results.pages = {};
    for (const connections of [50, 200]) {
      say(`page-view load: ${connections} clients × ${PAGE_SECONDS} s, page and stylesheet`);
      const css = await loadTest(cssUrl, { connections, seconds: PAGE_SECONDS });
      const page = await loadTest(pageUrl, { connections, seconds: PAGE_SECONDS });
      results.pages[`c${connections}`] = {
        page,
        css,
        pageVsCssThroughput: page.requestsPerSec / css.requestsPerSec,
      };
    }
  };

  if (PAGES_ONLY) {
    const small = await prepareStudy('study-pages', 2, 10, { rows: 64, columns: 64 });
    await measurePages(small);
    await mkdir(join(ROOT, '.bench'), { recursive: true });
    await writeFile(join(ROOT, '.bench', 'results-pages.json'), `${JSON.stringify(results, null, 2)}\n`);
    printPageReport(results, { header: true });
    return;
  }

  // Issue 3: throughput and time to first byte on a 400-instance CT study (~200 MB).
  const s200 = await prepareStudy('study-200MB', 2, 200);
  results.study200 = {
    instances: s200.instances,
    MB: s200.bytes / MB,
    storeUploadMs: s200.storeUploadMs,
    layout: s200.layoutCost,
  };
  say('warming up (page cache, connections)');
  await curlTimed(exportUrl(s200), { from: client() });
  await curlTimed(wadoUrl(s200), { headers: [WADO_ACCEPT] });

  await curlTimed(relay.url(s200.uid), { from: client() });
  // The same run, in three rounds of raw read (the store's own speed), bare relay behind nginx (the
  // floor of a Node service behind nginx) and export, so that load from elsewhere on the machine
  // falls on all three alike; medians of the three.
  const rounds = { wado: [], relay: [], export: [] };
  const exportMemory = await sampleMemory(exportPid);
  for (let i = 0; i < 3; i++) {
    say(`round ${i + 1} of 3: raw WADO-RS read, relay behind nginx, export through nginx`);
    rounds.wado.push(await curlTimed(wadoUrl(s200), { headers: [WADO_ACCEPT] }));
    rounds.relay.push(await curlTimed(relay.url(s200.uid), { from: client() }));
    rounds.export.push(await curlTimed(exportUrl(s200), { from: client() }));
  }
  results.wado200 = summarize(rounds.wado);
  results.relay200 = summarize(rounds.relay);
  results.export200 = { ...summarize(rounds.export), memory: await exportMemory.stop() };
  if (!QUICK) {
    say("Orthanc's /archive ×2");
    results.archive200 = await repeat(2, () => curlTimed(archiveUrl(s200), { maxTime: 600 }));
  }
  results.ratios = {
    exportVsRelayThroughput: results.export200.medianMBps / results.relay200.medianMBps,
    relayVsWadoThroughput: results.relay200.medianMBps / results.wado200.medianMBps,
    exportVsWadoThroughput: results.export200.medianMBps / results.wado200.medianMBps,
    exportVsArchiveThroughput: results.export200.medianMBps / results.archive200?.medianMBps,
    archiveVsExportTotalTime: results.archive200?.medianTotalMs / results.export200.medianTotalMs,
  };

  say(`200 MB study to a 1 MB/s client for ${THROTTLE_SECONDS} s`);
  const slow200 = await withMemory(() =>
    curlTimed(exportUrl(s200), { from: client(), limitRate: '1M', maxTime: THROTTLE_SECONDS }),
  );
  results.throttled200 = {
    receivedMB: slow200.value.bytes / MB,
    ttfbMs: slow200.value.ttfbMs,
    memory: slow200.memory,
  };

  // Issue 6: page views against a trivial endpoint of the same service, behind the same nginx.
  if (QUICK) results.pages = {};
  else await measurePages(s200);

  say('20 concurrent downloads of the 200 MB study');
  const started = Date.now();
  const many = await withMemory(() =>
    Promise.all(
      Array.from({ length: 20 }, () => curlTimed(exportUrl(s200), { from: client(), maxTime: 900 })),
    ),
  );
  const wallMs = Date.now() - started;
  const ok = many.value.filter((r) => r.exitCode === 0 && r.status === 200 && r.bytes > s200.bytes);
  results.concurrent20 = {
    completed: ok.length,
    failed: many.value.length - ok.length,
    failures: many.value.filter((r) => !ok.includes(r)).map((r) => `${r.status} ${r.exitCode} ${r.stderr}`),
    wallMs,
    aggregateMBps: many.value.reduce((a, r) => a + r.bytes, 0) / MB / (wallMs / 1000),
    medianTotalMs: median(many.value.map((r) => r.totalMs)),
    medianTtfbMs: median(many.value.map((r) => r.ttfbMs)),
    memory: many.memory,
  };

  // Issue 18: 20 ranged resumes at once (each from its own offset of the 200 MB study's zip).
  say('20 concurrent ranged resumes of the 200 MB study');
  {
    const startedR = Date.now();
    const resumes = await withMemory(() =>
      Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          curlTimed(exportUrl(s200), {
            from: client(),
            maxTime: 900,
            headers: [
              `Range: bytes=${Math.floor((s200.zipBytes * (i + 1)) / 22)}-`,
              `If-Range: ${s200.etag}`,
            ],
          }),
        ),
      ),
    );
    const okR = resumes.value.filter((r) => r.exitCode === 0 && r.status === 206);
    results.resumes20 = {
      completed: okR.length,
      failed: resumes.value.length - okR.length,
      wallMs: Date.now() - startedR,
      medianTtfbMs: median(resumes.value.map((r) => r.ttfbMs)),
      memory: resumes.memory,
    };
  }

  // Store requests caused by 1,000 page views of one study within one refresh interval, its copy
  // due for a refresh when they start (counted at the token service's proxy to the store).
  if (!QUICK) {
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    await sql.query(
      "UPDATE studies SET refreshed_at = now() - interval '1 hour', refresh_attempted_at = NULL WHERE study_instance_uid = $1",
      [s200.uid],
    );
    await sql.end();
    const before = tokenStore.requests.length;
    let ok = 0;
    const t = Date.now();
    // 50 at a time, each from its own loopback address (nginx's per-address limit is not measured here).
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          pageStatus(`${stack.publicUrl}/token?${s200.token}`, `127.0.9.${j + 1}`),
        ),
      );
      ok += batch.filter((status) => status === 200).length;
    }
    const viewsMs = Date.now() - t;
    await new Promise((r) => setTimeout(r, 1000)); // a refresh the views started has finished
    results.pageViewStoreRequests = {
      views: 1000,
      ok,
      viewsMs,
      storeRequests: tokenStore.requests.length - before,
      requests: tokenStore.requests.slice(before).map((r) => r.replace(/[?].*/, '?…')),
    };
  }

  if (!SKIP_4000) {
    // Time to first byte against the store's own, for a study of 4,000 small instances (64×64): the
    // instance count, not the bytes, is what a QIDO-RS before the first byte would cost.
    const s4k = await prepareStudy('study-4000', 8, 500, { rows: 64, columns: 64 });
    await curlTimed(exportUrl(s4k), { from: client() });
    await curlTimed(wadoUrl(s4k), { headers: [WADO_ACCEPT] });
    say('4,000-instance study: raw WADO-RS and export, three rounds');
    const w = [];
    const e = [];
    for (let i = 0; i < 3; i++) {
      w.push(await curlTimed(wadoUrl(s4k), { headers: [WADO_ACCEPT] }));
      e.push(await curlTimed(exportUrl(s4k), { from: client() }));
    }
    const wado = summarize(w);
    const exp4k = summarize(e);
    results.study4000 = {
      instances: s4k.instances,
      MB: s4k.bytes / MB,
      wadoTtfbMs: wado.medianTtfbMs,
      exportTtfbMs: exp4k.medianTtfbMs,
      ttfbOverStoreMs: exp4k.medianTtfbMs - wado.medianTtfbMs,
      wadoMBps: wado.medianMBps,
      exportMBps: exp4k.medianMBps,
    };
  }

  if (!SKIP_2GB) {
    // The 2 GB study: 4,000 CT instances, generated on disk and deleted once stored.
    const s2g = await prepareStudy('study-2GB', 8, 500);
    results.study2g = {
      instances: s2g.instances,
      MB: s2g.bytes / MB,
      storeUploadMs: s2g.storeUploadMs,
      layout: s2g.layoutCost,
    };
    say('2 GB study: a range in the middle, three times');
    const middle = [];
    for (let i = 0; i < 3; i++) {
      const from = Math.floor(s2g.zipBytes / 2) + i * 7 * MB;
      middle.push(
        await curlTimed(exportUrl(s2g), {
          from: client(),
          headers: [`Range: bytes=${from}-${from + 16 * MB - 1}`],
        }),
      );
    }
    results.middleRange2g = {
      statuses: middle.map((r) => r.status),
      medianTtfbMs: median(middle.map((r) => r.ttfbMs)),
      ttfbMs: middle.map((r) => r.ttfbMs),
    };
    say('2 GB study, unthrottled');
    const fast = await withMemory(() => curlTimed(exportUrl(s2g), { from: client(), maxTime: 900 }));
    results.unthrottled2g = {
      status: fast.value.status,
      exitCode: fast.value.exitCode,
      MB: fast.value.bytes / MB,
      MBps: fast.value.bytesPerSec / MB,
      ttfbMs: fast.value.ttfbMs,
      totalMs: fast.value.totalMs,
      memory: fast.memory,
    };
    say(`2 GB study to a 1 MB/s client for ${THROTTLE_SECONDS} s`);
    const slow = await withMemory(() =>
      curlTimed(exportUrl(s2g), { from: client(), limitRate: '1M', maxTime: THROTTLE_SECONDS }),
    );
    results.throttled2g = {
      receivedMB: slow.value.bytes / MB,
      ttfbMs: slow.value.ttfbMs,
      memory: slow.memory,
    };
  }

  await mkdir(join(ROOT, '.bench'), { recursive: true });
  await writeFile(join(ROOT, '.bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  printReport(results);
  process.stdout.write(`\nfigures written to ${join(ROOT, '.bench', 'results.json')}\n`);
}

try {
  await main();
} catch (err) {
  say(`failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
