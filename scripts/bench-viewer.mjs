#!/usr/bin/env node
// `make bench-viewer` (also run by `make bench`): the patient viewer on the real stack, in Debian's
// Chromium (headless, SwiftShader WebGL), against a stock Orthanc with a CT of 4 series × 100 slices
// (512², uncompressed), on loopback and on emulated 4G (30 Mbit/s down, 10 up, 40 ms round trip,
// shaped by a TCP proxy in front of nginx: Chromium's own throttling leaves worker requests
// unthrottled). Prints what it measured next to the targets and the store's own times measured in
// the same run; writes .bench/viewer.json. It asserts nothing.
//
//   BENCH_VIEWER_SERIES=4        series of the CT
//   BENCH_VIEWER_INSTANCES=100   slices per series
//   BENCH_VIEWER_RUNS=3          openings measured one after the other, per link (the median is shown)
//   BENCH_VIEWER_CONCURRENT=10   viewers opened at once (loopback, one address)
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { curlTimed, median, sampleMemory } from './bench/probes.mjs';
import { startShapingProxy } from './bench/shaping-proxy.mjs';
import { ROOT, startStack } from './stack.mjs';

const SERIES = Number(process.env.BENCH_VIEWER_SERIES ?? 4);
const INSTANCES = Number(process.env.BENCH_VIEWER_INSTANCES ?? 100);
const FOUR_G = { downBitsPerSecond: 30e6, upBitsPerSecond: 10e6, rttMs: 40 };
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
    series: SERIES,
    instancesPerSeries: INSTANCES,
    rows: 512,
    columns: 512,
  });
  await testkit.uploadDirectory(orthanc, dir, 4);
  await rm(dir, { recursive: true, force: true });
  say(`CT: ${SERIES} × ${INSTANCES} instances, ${(study.totalBytes / MB).toFixed(0)} MB in the store`);
  const tokenRes = await fetch(`${stack.publicUrl}/api/v1/studies/${study.studyInstanceUid}/token`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminKey}` },
  });
  const { token } = await tokenRes.json();
  // The first series by number: the one the viewer opens on.
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
    renderedJpegMs: (await repeatCurl(3, `${frameUrl}/rendered`, ['Accept: image/jpeg'])).medianTotalMs,
    renderedJpegBytes: (await curlTimed(`${frameUrl}/rendered`, { headers: ['Accept: image/jpeg'] })).bytes,
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

  const proxy = await startShapingProxy(Number(new URL(stack.publicUrl).port), FOUR_G);
  cleanups.push(() => proxy.close());

  /**
   * Opens the viewer in a fresh context (empty cache) through `base`; the figures of one opening:
   * ms to the first image and to every preview of the first series (every image can then be shown
   * with the network cut), and to the first series at full fidelity when `full`; bytes of previews,
   * of frames at full fidelity, and of the viewer's own code (as sent, gzipped) before the first image.
   */
  const openOnce = async (context, base, { full = false, timeout = 120_000 } = {}) => {
    await context.addInitScript(() => performance.setResourceTimingBufferSize(100_000));
    const page = await context.newPage();
    await page.goto(`${base}/token/viewer?${token}`, { waitUntil: 'commit', timeout });
    const mark = (name) =>
      page
        .waitForFunction((n) => performance.getEntriesByName(n).length > 0, name, { timeout, polling: 50 })
        .catch(async () => {
          // Reported as not reached (n/a), with the page's state: a miss, not a crash of the bench.
          const state = await page.evaluate(() =>
            JSON.stringify({
              ...document.getElementById('app')?.dataset,
              messages: undefined,
              title: document.title,
            }),
          );
          say(`${name} not reached within ${timeout / 1000} s: ${state}`);
        });
    await mark('studylink:first-image');
    await mark('studylink:series-previews');
    if (full) await mark('studylink:series-loaded');
    const marks = await page.evaluate((seriesUid) => {
      const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
      const firstImageMs = at('studylink:first-image');
      const resources = performance.getEntriesByType('resource');
      const sum = (test) => resources.filter((r) => test(r)).reduce((n, r) => n + r.transferSize, 0);
      const end = (test) => {
        const hits = resources.filter(test).map((r) => Math.round(r.responseEnd));
        return hits.length ? Math.min(...hits) : null;
      };
      const ofSeries = (r) => r.name.includes(`/series/${seriesUid}/instances/`);
      return {
        firstImageMs,
        previewsMs: at('studylink:series-previews'),
        seriesLoadedMs: at('studylink:series-loaded'),
        previewBytes: sum((r) => ofSeries(r) && r.name.endsWith('/rendered')),
        fullBytes: sum((r) => ofSeries(r) && /\/frames\/[0-9]+$/.test(r.name)),
        codeBeforeFirstImage: sum((r) => r.name.includes('/assets/viewer/') && r.responseEnd <= firstImageMs),
        // Where the time to the first image goes: when each first answer on its path had arrived.
        path: {
          script: end((r) => r.name.endsWith('/viewer.js')),
          seriesSearchSent: resources.find((r) => r.name.endsWith('/series'))?.requestStart ?? null,
          seriesSearch: end((r) => r.name.endsWith('/series')),
          metadata: end((r) => r.name.endsWith('/metadata')),
          preview: end((r) => r.name.endsWith('/rendered')),
        },
        codeFiles: resources
          .filter((r) => r.name.includes('/assets/viewer/') && r.responseEnd <= firstImageMs)
          .map((r) => r.name.split('/').pop()),
      };
    }, series);
    await page.close();
    return marks;
  };
  const phone = () =>
    browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

  // One opening first, not counted: the services' first requests (connections, JIT) are not a patient's.
  {
    const context = await phone();
    await openOnce(context, stack.publicUrl);
    await context.close();
  }
  const runs = { loopback: [], fourG: [] };
  for (const [link, base] of [
    ['loopback', stack.publicUrl],
    ['fourG', proxy.url],
  ]) {
    for (let i = 0; i < RUNS; i++) {
      const context = await phone();
      // The first series at full fidelity is waited for on loopback only (52 MB on 4G take ~15 s more).
      runs[link].push(await openOnce(context, base, { full: link === 'loopback' }));
      await context.close();
      const r = runs[link].at(-1);
      say(
        `${link} opening ${i + 1}: first image ${r.firstImageMs?.toFixed(0)} ms (script ${r.path.script}, series ${r.path.seriesSearch}, metadata ${r.path.metadata}, preview ${r.path.preview}), previews ${r.previewsMs?.toFixed(0)} ms, full ${r.seriesLoadedMs?.toFixed(0) ?? '-'} ms`,
      );
    }
  }

  const med = (list, key) => median(list.map((r) => r[key]));
  say(`${CONCURRENT} viewers at once`);
  const mem = await sampleMemory(exportPid, 100);
  const contexts = await Promise.all(Array.from({ length: CONCURRENT }, () => phone()));
  const t = Date.now();
  const together = await Promise.all(contexts.map((c) => openOnce(c, stack.publicUrl, { timeout: 600_000 })));
  const concurrentMs = Date.now() - t;
  const memory = await mem.stop();
  // Where the time to the first image goes with ten at once (medians of when each step's first answer arrived).
  const pathOf = (list) =>
    Object.fromEntries(
      ['script', 'seriesSearchSent', 'seriesSearch', 'metadata', 'preview'].map((k) => [
        k,
        median(list.map((r) => r.path[k])),
      ]),
    );
  say(
    `${CONCURRENT} at once, medians: ${JSON.stringify(pathOf(together))}, first image ${med(together, 'firstImageMs')?.toFixed(0)} ms`,
  );
  await Promise.all(contexts.map((c) => c.close()));

  const results = {
    at: new Date().toISOString(),
    series: SERIES,
    instances: INSTANCES,
    storeMB: study.totalBytes / MB,
    fourG: FOUR_G,
    limit,
    runs,
    loopback: {
      medianFirstImageMs: med(runs.loopback, 'firstImageMs'),
      medianPreviewsMs: med(runs.loopback, 'previewsMs'),
      medianSeriesLoadedMs: med(runs.loopback, 'seriesLoadedMs'),
    },
    fourGResult: {
      medianFirstImageMs: med(runs.fourG, 'firstImageMs'),
      medianPreviewsMs: med(runs.fourG, 'previewsMs'),
    },
    bytes: {
      previews: med(runs.loopback, 'previewBytes'),
      full: med(runs.loopback, 'fullBytes'),
      codeBeforeFirstImage: med(runs.loopback, 'codeBeforeFirstImage'),
      codeFiles: runs.loopback[0]?.codeFiles,
    },
    concurrent: {
      viewers: CONCURRENT,
      wallMs: concurrentMs,
      medianFirstImageMs: med(together, 'firstImageMs'),
      medianPreviewsMs: med(together, 'previewsMs'),
      medianPath: pathOf(together),
      exportServiceMemory: memory,
    },
  };
  await mkdir(join(ROOT, '.bench'), { recursive: true });
  await writeFile(join(ROOT, '.bench', 'viewer.json'), `${JSON.stringify(results, null, 2)}\n`);

  const row = (what, measured, against) =>
    `  ${what.padEnd(60)} ${String(measured).padStart(14)}   ${against}`;
  const ms = (x) => (x === null || x === undefined ? 'n/a' : `${Math.round(x)} ms`);
  const kb = (x) => (x === null || x === undefined ? 'n/a' : `${(x / 1024).toFixed(0)} KiB`);
  const mb = (x) => (x === null || x === undefined ? 'n/a' : `${(x / MB).toFixed(1)} MB`);
  const verdict = (x, target) => (x === null || x === undefined ? '' : x <= target ? 'met' : 'MISSED');
  const n = `${INSTANCES}`;
  process.stdout.write(
    [
      '',
      `viewer, CT ${SERIES} × ${n} slices 512² (${results.storeMB.toFixed(0)} MB) on a stock Orthanc, Chromium at 390 × 844, cold browser cache, median of ${RUNS} (after one opening not counted)`,
      row(
        'first image on screen, loopback',
        ms(results.loopback.medianFirstImageMs),
        `target <= 500 ms ${verdict(results.loopback.medianFirstImageMs, 500)}`,
      ),
      row(
        'first image on screen, 4G (30 Mbit/s, 40 ms)',
        ms(results.fourGResult.medianFirstImageMs),
        `target <= 1500 ms ${verdict(results.fourGResult.medianFirstImageMs, 1500)}`,
      ),
      row(
        `every image of the first series showable (network cut), loopback`,
        ms(results.loopback.medianPreviewsMs),
        `target <= 2000 ms ${verdict(results.loopback.medianPreviewsMs, 2000)}`,
      ),
      row(
        `every image of the first series showable (network cut), 4G`,
        ms(results.fourGResult.medianPreviewsMs),
        `target <= 8000 ms ${verdict(results.fourGResult.medianPreviewsMs, 8000)}`,
      ),
      row(
        'first series at full fidelity, loopback',
        ms(results.loopback.medianSeriesLoadedMs),
        `store: WADO-RS series read ${ms(limit.wadoSeriesMs)}`,
      ),
      row(
        `bytes: first series as previews (${n} rendered JPEGs)`,
        mb(results.bytes.previews),
        `store: one rendered JPEG ${kb(limit.renderedJpegBytes)} in ${ms(limit.renderedJpegMs)}`,
      ),
      row(`bytes: first series at full fidelity (${n} frames)`, mb(results.bytes.full), ''),
      row(
        'viewer code before the first image (as sent, gzipped)',
        kb(results.bytes.codeBeforeFirstImage),
        `${(results.bytes.codeFiles ?? []).join(', ')}`,
      ),
      row(
        '  store: series metadata / one frame as stored',
        `${ms(limit.seriesMetadataMs)} / ${ms(limit.oneFrameMs)}`,
        '',
      ),
      row(
        `${CONCURRENT} viewers at once (one address): first image, median`,
        ms(results.concurrent.medianFirstImageMs),
        `target <= 3000 ms ${verdict(results.concurrent.medianFirstImageMs, 3000)}`,
      ),
      row(
        `${CONCURRENT} viewers at once: first series showable, median`,
        ms(results.concurrent.medianPreviewsMs),
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
