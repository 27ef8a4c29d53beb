// The benchmark's table: one line per figure, with the target where the issues set one.

const f = (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits));

function table(title, rows) {
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  const line = (r) =>
    `  ${String(r[0]).padEnd(widths[0])}  ${String(r[1]).padStart(widths[1])}  ${String(r[2] ?? '').padEnd(widths[2])}`;
  process.stdout.write(`\n${title}\n${rows.map(line).join('\n')}\n`);
}

const memoryRows = (label, m) =>
  m
    ? [
        [`${label}: peak RSS`, `${f(m.peakMB, 0)} MB`, 'target ≤ 150 MB'],
        [`${label}: baseline → end`, `${f(m.baselineMB, 0)} → ${f(m.endMB, 0)} MB`, ''],
        ...(m.secondHalfSlopeMBPerMin === null
          ? []
          : [[`${label}: trend, 2nd half`, `${f(m.secondHalfSlopeMBPerMin, 2)} MB/min`, 'flat ≈ 0']]),
        [`${label}: RSS every 10 s`, m.everyTenSecondsMB.join(' '), 'MB'],
      ]
    : [];

/** Prints the figures of one run as plain-text tables. */
export function printReport(r) {
  const m = r.machine;
  process.stdout.write(
    `\nstudylink bench, ${r.at}: ${m.cores} cores, ${m.memoryGB} GB, node ${m.node}, ${m.nginx}, load ${m.loadAverageAtStart.join(' ')}\n`,
  );
  process.stdout.write(`store: ${r.orthanc.version}, ${r.orthanc.config}\n`);
  table(
    `Export of a ${r.study200.instances}-instance CT study (${f(r.study200.MB, 0)} MB), medians of 3, same run`,
    [
      [
        'raw study-level WADO-RS read (curl, no nginx)',
        `${f(r.wado200.medianMBps)} MB/s`,
        `TTFB ${f(r.wado200.medianTtfbMs, 0)} ms, ${f(r.wado200.medianTotalMs, 0)} ms total`,
      ],
      [
        'bare Node http relay of it behind nginx',
        `${f(r.relay200.medianMBps)} MB/s`,
        `TTFB ${f(r.relay200.medianTtfbMs, 0)} ms, ${f(r.relay200.medianTotalMs, 0)} ms total`,
      ],
      [
        'export through nginx',
        `${f(r.export200.medianMBps)} MB/s`,
        `TTFB ${f(r.export200.medianTtfbMs, 0)} ms, ${f(r.export200.medianTotalMs, 0)} ms total`,
      ],
      ['export ÷ relay throughput', f(r.ratios.exportVsRelayThroughput, 2), 'target ≥ 0.85'],
      ['relay ÷ raw read throughput', f(r.ratios.relayVsWadoThroughput, 2), 'the ceiling behind nginx'],
      ['export ÷ raw read throughput', f(r.ratios.exportVsWadoThroughput, 2), ''],
      ['export time to first byte', `${f(r.export200.medianTtfbMs, 0)} ms`, 'target ≤ 100 ms'],
      ...(r.archive200
        ? [
            [
              "Orthanc's /studies/{id}/archive",
              `${f(r.archive200.medianMBps)} MB/s`,
              `export is ${f(r.ratios.exportVsArchiveThroughput, 1)}× faster (target ≥ 10×)`,
            ],
          ]
        : []),
      ...memoryRows('3 exports', r.export200.memory),
    ],
  );
  if (r.study4000) {
    const q = r.study4000;
    table(`Time to first byte, ${q.instances}-instance study (${f(q.MB, 0)} MB), medians of 3`, [
      ["the store's own (raw WADO-RS)", `${f(q.wadoTtfbMs, 0)} ms`, `${f(q.wadoMBps)} MB/s`],
      ['export through nginx', `${f(q.exportTtfbMs, 0)} ms`, `${f(q.exportMBps)} MB/s`],
      ['export − store', `${f(q.ttfbOverStoreMs, 0)} ms`, 'target ≤ +50 ms'],
    ]);
  }
  const pv = r.pageViewStoreRequests;
  if (pv)
    table('Store requests caused by page views (copy due for a refresh at the start)', [
      [`${pv.views} page views through nginx`, `${pv.ok} × 200`, `${f(pv.viewsMs / 1000)} s`],
      ['requests to the store', String(pv.storeRequests), `target ≤ 1: ${pv.requests.join(', ')}`],
    ]);
  table(`Memory of the export service with a 1 MB/s client (${r.settings.throttleSeconds} s window)`, [
    ['200 MB study: received', `${f(r.throttled200.receivedMB)} MB`, ''],
    ...memoryRows('200 MB, 1 MB/s', r.throttled200.memory),
    ...(r.throttled2g
      ? [
          ['2 GB study: received', `${f(r.throttled2g.receivedMB)} MB`, ''],
          ...memoryRows('2 GB, 1 MB/s', r.throttled2g.memory),
        ]
      : []),
  ]);
  if (r.unthrottled2g) {
    const u = r.unthrottled2g;
    table(`The ${r.study2g.instances}-instance study (${f(r.study2g.MB, 0)} MB), unthrottled`, [
      [
        'export through nginx',
        `${f(u.MBps)} MB/s`,
        `${f(u.MB, 0)} MB, status ${u.status}, curl exit ${u.exitCode}`,
      ],
      ['time to first byte', `${f(u.ttfbMs, 0)} ms`, ''],
      ['total', `${f(u.totalMs / 1000)} s`, ''],
      ...memoryRows('2 GB', u.memory),
    ]);
  }
  const layoutRows = (label, l) =>
    l
      ? [
          [
            `${label}: making the zip layout`,
            `${f(l.ms / 1000, 2)} s`,
            `${l.storeRequests} store request(s), ${f((l.bytesRead ?? 0) / 2 ** 20, 0)} MB read; HEAD saw it after ${f(l.seenAfterMs / 1000, 2)} s`,
          ],
        ]
      : [];
  const q = r.middleRange2g;
  const z = r.resumes20;
  table('Fixed zip layouts and ranges (issue 18)', [
    ...layoutRows(`${f(r.study200.MB, 0)} MB study`, r.study200.layout),
    ...(r.study2g ? layoutRows(`${f(r.study2g.MB, 0)} MB study`, r.study2g.layout) : []),
    ...(q
      ? [
          [
            '2 GB study: a range in the middle, first byte',
            `${f(q.medianTtfbMs, 0)} ms`,
            `target ≤ 300 ms (statuses ${q.statuses.join(' ')}; ${q.ttfbMs.map((x) => f(x, 0)).join(', ')} ms)`,
          ],
        ]
      : []),
    ...(z
      ? [
          [
            '20 concurrent ranged resumes (200 MB study)',
            `${z.completed} / ${z.failed}`,
            `206 / failed, median TTFB ${f(z.medianTtfbMs, 0)} ms, wall ${f(z.wallMs / 1000)} s`,
          ],
          ...memoryRows('20 resumes at once', z.memory),
        ]
      : []),
  ]);
  const c = r.concurrent20;
  table('20 concurrent downloads of the 200 MB study', [
    ['completed / failed', `${c.completed} / ${c.failed}`, c.failures.slice(0, 3).join('; ')],
    ['aggregate throughput', `${f(c.aggregateMBps)} MB/s`, `wall ${f(c.wallMs / 1000)} s`],
    ['median download time', `${f(c.medianTotalMs / 1000)} s`, `median TTFB ${f(c.medianTtfbMs, 0)} ms`],
    ...memoryRows('20 at once', c.memory),
  ]);
  printPageReport(r);
}

/** The page-view tables: what one view costs in SQL, and views under load beside the stylesheet. */
export function printPageReport(r, { header = false } = {}) {
  if (header) {
    const m = r.machine;
    process.stdout.write(
      `\nstudylink bench (page views), ${r.at}: ${m.cores} cores, node ${m.node}, ${m.nginx}, load ${m.loadAverageAtStart.join(' ')}\n`,
    );
  }
  const c = r.pageCost;
  if (c) {
    const reads = c.selectsPerView + c.updatesPerView + c.deletesPerView + c.otherPerView;
    table(`What one page view costs (${c.views} views of a link without a second factor, ${c.ok} × 200)`, [
      ['SQL statements per view, access-log insert aside', f(reads, 2), 'target ≤ 3'],
      [
        '  of which select / update / delete / other',
        `${f(c.selectsPerView, 2)} / ${f(c.updatesPerView, 2)} / ${f(c.deletesPerView, 2)} / ${f(c.otherPerView, 2)}`,
        '',
      ],
      ['inserts per view (the access-log row)', f(c.insertsPerView, 2), 'target 1'],
    ]);
  }
  const rows = [];
  const limits = { 50: 'target ≥ 600 req/s, p99 ≤ 100 ms' };
  for (const [key, v] of Object.entries(r.pages)) {
    const n = key.slice(1);
    for (const [what, x] of [
      ['page GET /token?<token>', v.page],
      ['stylesheet /assets/patient.css', v.css],
    ]) {
      rows.push([
        `${n} clients, ${what}`,
        `${f(x.requestsPerSec, 0)} req/s`,
        `p50 ${f(x.p50Ms, 2)} ms, p99 ${f(x.p99Ms, 2)} ms, errors ${x.non2xx + x.socketErrors} of ${x.requests} (${x.tool})${what.startsWith('page') && limits[n] ? `; ${limits[n]}` : ''}`,
      ]);
    }
    rows.push([
      `${n} clients, page ÷ stylesheet throughput`,
      f(v.pageVsCssThroughput, 2),
      'the cost of our own work',
    ]);
  }
  if (rows.length) table(`Page views through nginx, ${r.settings.pageSeconds} s per run`, rows);
}
