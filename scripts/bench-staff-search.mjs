#!/usr/bin/env node
// `make bench-staff-search`: the staff search's index against a stock Orthanc (Debian defaults,
// DefaultEncoding Latin1: every QIDO-RS answer is labelled ISO_IR 100, so each study's names are read
// once from a file). Measures the first walk of the store into the index, a second walk (nothing
// changed: no file read), and a search page (the store asked to freshen, then the index) beside
// QIDO-RS alone. Prints each figure beside its limit; asserts nothing.
//
//   BENCH_SEARCH_STUDIES=1000   studies in the store (a quarter each Latin, accented, Greek, Japanese)
//
// Needs `make build` (it runs the compiled token service and testkit).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './stack.mjs';

const N = Number(process.env.BENCH_SEARCH_STUDIES ?? 1000);
const say = (msg) =>
  process.stderr.write(`[bench-search ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const dist = (p) => import(join(ROOT, 'services/token-service/dist', p));

const testkit = await import('@studylink/testkit');
const { createDicomwebClient } = await import('@studylink/dicomweb');
const { createLogger } = await import('@studylink/service-kit');
const { createDatabase } = await dist('db/database.js');
const { StudyService } = await dist('studies/study.service.js');
const { qidoStudySource } = await dist('studies/study.source.js');
const { qidoStudySearch } = await dist('staff/studies/study-search.source.js');
const { indexedText } = await dist('staff/studies/study-index.repository.js');
const { StudyFinder } = await dist('staff/studies/study-finder.service.js');

const NAMES = [
  (i) => `Smith${i}^John`,
  (i) => `Müller${i}^Jérôme`,
  (i) => `Παπαδόπουλος${i}^Ελένη`,
  (i) => `山田${i}^太郎=やまだ${i}^たろう`,
];

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'studylink-bench-search-'));
  const orthanc = await testkit.startOrthanc({ preset: 'stock' });
  const template = await testkit.createTemplateDatabase();
  const testDb = await testkit.createTestDatabase({ template });
  const database = createDatabase({ url: testDb.url });
  const client = createDicomwebClient({ baseUrl: orthanc.dicomwebUrl, requestTimeoutMs: 30_000 });
  try {
    say(`storing ${N} one-image studies in a stock Orthanc`);
    for (let i = 0; i < N; i++) {
      const dir = join(work, `s${i}`);
      await testkit.writeSyntheticStudy({
        dir,
        patientName: NAMES[i % NAMES.length](i),
        patientId: `B-${i}`,
        series: 1,
        instancesPerSeries: 1,
        rows: 8,
        columns: 8,
        studyDate: `2024${String((i % 12) + 1).padStart(2, '0')}${String((i % 28) + 1).padStart(2, '0')}`,
      });
      await testkit.uploadDirectory(orthanc, dir, 1);
      await rm(dir, { recursive: true, force: true });
    }
    const log = createLogger({ service: 'bench', level: 'silent' });
    const studies = new StudyService(database.db, qidoStudySource(client), log, {
      storeMs: 30_000,
      pageMs: 5_000,
    });
    const search = qidoStudySearch(client, 30_000, {
      studies,
      known: (uids) => indexedText(database.db, uids),
      log,
      cacheMs: 60_000,
    });
    const finder = new StudyFinder(database.db, search, log);

    let t0 = process.hrtime.bigint();
    const first = await finder.walkStore();
    const firstMs = ms(t0);
    t0 = process.hrtime.bigint();
    const second = await finder.walkStore();
    const secondMs = ms(t0);

    const pages = [];
    const words = ['Παπαδόπουλος1', 'やまだ2', 'muller3', 'smith4', 'ελενη', '山田1*'];
    for (let i = 0; i < 30; i++) {
      t0 = process.hrtime.bigint();
      const r = await finder.find({ patientName: words[i % words.length] }, 25, 0);
      pages.push(ms(t0));
      if (r.rows.length === 0) throw new Error(`no rows for ${words[i % words.length]}`);
    }
    const qido = [];
    for (let i = 0; i < 30; i++) {
      t0 = process.hrtime.bigint();
      await client.searchStudies({ PatientName: `smith${i}*`, limit: 100 });
      qido.push(ms(t0));
    }
    const rows = [
      ['studies in the store', String(N), ''],
      [
        'first walk (reads each file once)',
        `${(firstMs / 1000).toFixed(1)} s, ${((first.seen / firstMs) * 1000).toFixed(0)} studies/s`,
        '≥ 20 studies/s',
      ],
      [
        'second walk (nothing changed)',
        `${(secondMs / 1000).toFixed(1)} s, ${((second.seen / secondMs) * 1000).toFixed(0)} studies/s`,
        '≥ 200 studies/s',
      ],
      [
        'search page, median / p95 (store freshen + index)',
        `${pct(pages, 50).toFixed(0)} / ${pct(pages, 95).toFixed(0)} ms`,
        'p95 ≤ 500 ms',
      ],
      [
        'QIDO-RS alone (ASCII name), median / p95',
        `${pct(qido, 50).toFixed(0)} / ${pct(qido, 95).toFixed(0)} ms`,
        '(for comparison)',
      ],
    ];
    const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i])).join('  '));
  } finally {
    await client.close();
    await database.close();
    await testDb.drop();
    await testkit.dropTemplateDatabase(template);
    await orthanc.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
