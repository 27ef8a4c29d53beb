#!/usr/bin/env node
// `make bench-viewer` (also run by `make bench`): the patient viewer on the real stack, in Debian's
// Chromium (headless, SwiftShader WebGL) on loopback, against a stock Orthanc with a 400-instance CT.
// Prints what it measured next to the limit measured in the same run (raw WADO-RS reads from the
// store) and the targets; writes .bench/viewer.json. It asserts nothing.
//
//   BENCH_VIEWER_INSTANCES=400   slices of the CT series
//   BENCH_VIEWER_RUNS=3          openings measured one after the other (the median is shown)
//   BENCH_VIEWER_CONCURRENT=10   viewers opened at once for the memory figure
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { curlTimed, median, sampleMemory } from './bench/probes.mjs';
import { ROOT, startStack } from './stack.mjs';

const INSTANCES = Number(process.env.BENCH_VIEWER_INSTANCES ?? 400);
const RUNS = Number(process.env.BENCH_VIEWER_RUNS ?? 3);
const CONCURRENT = Number(process.env.BENCH_VIEWER_CONCURRENT ?? 10);
const MB = 1024 * 1024;
const say = (msg) =>
  process.stderr.write(`[bench-viewer ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const testkit = await import('@studylink/testkit');
const cleanups = [];
const cleanup = async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
};

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'studylink-bench-viewer-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const template = await testkit.createTemplateDatabase();
  cleanups.push(() => testkit.dropTemplateDatabase(template));
  const db = await testkit.createTestDatabase({ template });
  const orthanc = await testkit.startOrthanc({ dir: work });
  cleanups.push(() => orthanc.stop());
  const adminKey = `slk_${randomBytes(32).toString('base64url')}`;
  const logDir = join(ROOT, '.bench', 'logs-viewer');
  await rm(logDir, { recursive: true, force: true });
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
    },
    publicPort: await testkit.freePort(),
    tokenPort: await testkit.freePort(),
    exportPort: await testkit.freePort(),
    tokenInternalPort: await testkit.freePort(),
    exportInternalPort: await testkit.freePort(),
    logDir,
    stateDir: join(work, 'state'),
  });
  cleanups.push(() => stack.stop());
  const exportPid = stack.processes['export-service'].pid;

  const dir = join(work, 'ct');
  const study = await testkit.writeSyntheticStudy({
    dir,
    patientName: 'BENCH^Viewer',
    patientId: 'BV1',
    series: 1,
    instancesPerSeries: INSTANCES,
  });
  await testkit.uploadDirectory(orthanc, dir, 4);
  await rm(dir, { recursive: true, force: true });
  say(`CT: ${INSTANCES} instances, ${(study.totalBytes / MB).toFixed(0)} MB in the store`);
  const tokenRes = await fetch(`${stack.publicUrl}/api/v1/studies/${study.studyInstanceUid}/token`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminKey}` },
  });
  const { token } = await tokenRes.json();
  const series = study.seriesInstanceUids[0];

  // The limit, in the same run: the store's own answers, straight from Orthanc.
  const metaUrl = `${orthanc.dicomwebUrl}/studies/${study.studyInstanceUid}/series/${series}/metadata`;
  const meta = await (await fetch(metaUrl)).json();
  const sop = meta[0]['00080018'].Value[0];
  const frameUrl = `${orthanc.dicomwebUrl}/studies/${study.studyInstanceUid}/series/${series}/instances/${sop}/frames/1`;
  const frameAccept = 'Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*';
  const limit = {
    seriesMetadataMs: median(
      await Promise.all([0, 1, 2].map(() => timed(() => fetch(metaUrl).then((r) => r.arrayBuffer())))),
    ),
    oneFrameMs: (await repeatCurl(3, frameUrl, [frameAccept])).medianTotalMs,
    wadoSeriesMs: (
      await repeatCurl(2, `${orthanc.dicomwebUrl}/studies/${study.studyInstanceUid}/series/${series}`, [
        'Accept: multipart/related; type="application/dicom"; transfer-syntax=*',
      ])
    ).medianTotalMs,
  };

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--use-gl=angle',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
  cleanups.push(() => browser.close());
  const viewerUrl = `${stack.publicUrl}/token/viewer?${token}`;

  /** Opens the viewer in a fresh context (empty cache): ms to the first image, to the whole series. */
  const openOnce = async (context) => {
    const page = await context.newPage();
    await page.goto(viewerUrl);
    await page.waitForFunction(
      () => performance.getEntriesByName('studylink:series-loaded').length > 0,
      null,
      {
        timeout: 600_000,
        polling: 100,
      },
    );
    const marks = await page.evaluate(() => {
      const resources = performance.getEntriesByType('resource');
      const end = (test) => {
        const hits = resources.filter((r) => test(r.name)).map((r) => r.responseEnd);
        return hits.length ? Math.min(...hits) : null;
      };
      return {
        firstImageMs: performance.getEntriesByName('studylink:first-image')[0]?.startTime ?? null,
        seriesLoadedMs: performance.getEntriesByName('studylink:series-loaded')[0]?.startTime ?? null,
        // Where the time to the first image goes: when each first answer had arrived.
        scriptLoadedMs: end((n) => n.endsWith('/viewer.js')),
        seriesSearchMs: end((n) => n.endsWith('/series')),
        seriesMetadataMs: end((n) => n.endsWith('/metadata')),
        firstFrameMs: end((n) => n.includes('/frames/')),
      };
    });
    await page.close();
    return marks;
  };

  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    runs.push(await openOnce(context));
    await context.close();
    say(
      `opening ${i + 1}: first image ${runs.at(-1).firstImageMs?.toFixed(0)} ms, series ${runs.at(-1).seriesLoadedMs?.toFixed(0)} ms`,
    );
  }

  say(`${CONCURRENT} viewers at once`);
  const mem = await sampleMemory(exportPid, 100);
  const contexts = await Promise.all(
    Array.from({ length: CONCURRENT }, () => browser.newContext({ viewport: { width: 390, height: 844 } })),
  );
  const t = Date.now();
  const together = await Promise.all(contexts.map((c) => openOnce(c)));
  const concurrentMs = Date.now() - t;
  const memory = await mem.stop();
  await Promise.all(contexts.map((c) => c.close()));

  const results = {
    at: new Date().toISOString(),
    instances: INSTANCES,
    storeMB: study.totalBytes / MB,
    limit,
    sequential: {
      runs,
      medianFirstImageMs: median(runs.map((r) => r.firstImageMs)),
      medianSeriesLoadedMs: median(runs.map((r) => r.seriesLoadedMs)),
    },
    concurrent: {
      viewers: CONCURRENT,
      wallMs: concurrentMs,
      medianFirstImageMs: median(together.map((r) => r.firstImageMs)),
      medianSeriesLoadedMs: median(together.map((r) => r.seriesLoadedMs)),
      exportServiceMemory: memory,
    },
  };
  await mkdir(join(ROOT, '.bench'), { recursive: true });
  await writeFile(join(ROOT, '.bench', 'viewer.json'), `${JSON.stringify(results, null, 2)}\n`);

  const row = (what, measured, against) =>
    `  ${what.padEnd(52)} ${String(measured).padStart(12)}   ${against}`;
  const ms = (x) => (x === null || x === undefined ? 'n/a' : `${Math.round(x)} ms`);
  process.stdout.write(
    [
      '',
      `viewer, ${INSTANCES}-instance CT (${results.storeMB.toFixed(0)} MB) on a stock Orthanc, Chromium on loopback`,
      row(
        'first image on screen (median of sequential openings)',
        ms(results.sequential.medianFirstImageMs),
        'target <= 1500 ms',
      ),
      row(
        'whole first series loaded',
        ms(results.sequential.medianSeriesLoadedMs),
        `limit: WADO-RS series read ${ms(limit.wadoSeriesMs)}`,
      ),
      row(
        '  store: series metadata / one frame',
        `${ms(limit.seriesMetadataMs)} / ${ms(limit.oneFrameMs)}`,
        '',
      ),
      row(
        `${CONCURRENT} viewers at once: first image (median)`,
        ms(results.concurrent.medianFirstImageMs),
        '',
      ),
      row(
        `${CONCURRENT} viewers at once: series loaded (median)`,
        ms(results.concurrent.medianSeriesLoadedMs),
        `all done in ${ms(concurrentMs)}`,
      ),
      row(
        `export service RSS with ${CONCURRENT} viewers: peak`,
        `${memory.peakMB?.toFixed?.(0) ?? memory.peakSampledMB ?? JSON.stringify(memory)} MB`,
        'see make bench: the export ceiling',
      ),
      '',
      `figures written to ${join(ROOT, '.bench', 'viewer.json')}`,
      '',
    ].join('\n'),
  );
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function repeatCurl(n, url, headers) {
  const totals = [];
  for (let i = 0; i < n; i++) {
    const r = await curlTimed(url, { headers });
    if (r.status !== 200) throw new Error(`the store answered ${r.status} to ${url}`);
    totals.push(r.totalMs);
  }
  return { medianTotalMs: median(totals) };
}

try {
  await main();
} finally {
  await cleanup();
}
