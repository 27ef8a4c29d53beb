// Issue 20: the study's report in the viewer, in Chromium through nginx on a stock Orthanc. The SR's
// impression (written by pydicom in ISO_IR 100) is in the viewer's report panel; the strip names the
// SR and the PDF as reports and links the PDF's token-scoped path; a link that may not show reports
// shows none of them (the gateway lists none).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ReportFiles,
  type SyntheticStudy,
  startOrthanc,
  uploadDirectory,
  writeReportFiles,
  writeSyntheticStudy,
} from '@studylink/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordPageProblems, screenshot } from './support/browser.js';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';

// biome-ignore lint/suspicious/noExplicitAny: the page's DOM, seen from Node.
type Dom = any;
const IMPRESSION = 'Kontrolle in drei Monaten empfohlen; am ehesten gutartig.';

let s: E2EStack;
let browser: Browser;
let shown: { study: SyntheticStudy; reports: ReportFiles };
let held: { study: SyntheticStudy; reports: ReportFiles };

async function studyWithReports(name: string) {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-reports-viewer-'));
  const patient = { patientName: `Viewer^${name}`, patientId: `REPV-${name}` };
  const study = await writeSyntheticStudy({
    dir,
    ...patient,
    series: 1,
    instancesPerSeries: 2,
    rows: 64,
    columns: 64,
  });
  const reports = await writeReportFiles({
    dir: await mkdtemp(join(tmpdir(), 'studylink-report-files-')),
    studyInstanceUid: study.studyInstanceUid,
    ...patient,
    charset: 'ISO_IR 100',
    findings: 'Rundherd im rechten Oberlappen, größer als 2022.',
    impression: IMPRESSION,
    title: 'Befundbericht',
  });
  await uploadDirectory(s.orthanc, dir, 2);
  await s.orthanc.upload(reports.sr.path);
  await s.orthanc.upload(reports.pdf.path);
  return { study, reports };
}

beforeAll(async () => {
  s = await startE2EStack('reports-browser', { orthanc: await startOrthanc({ preset: 'stock' }) });
  shown = await studyWithReports('Shown');
  held = await studyWithReports('Held');
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  const orthanc = s?.orthanc;
  await s?.stop();
  await orthanc?.stop();
});

async function openViewer(token: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems = recordPageProblems(page);
  await page.goto(`${s.url}/token/viewer?${token}`);
  await page.waitForFunction(
    () => (globalThis as Dom).document.getElementById('app').dataset.ready === 'true',
  );
  await page.waitForFunction(() =>
    ['ready', 'none'].includes((globalThis as Dom).document.getElementById('app').dataset.report),
  );
  return { page, problems };
}

describe('the viewer', () => {
  it("shows the SR's impression in its report panel and names the SR and the PDF as reports", async () => {
    const { token } = await s.issueToken(shown.study.studyInstanceUid);
    const { page, problems } = await openViewer(token);
    expect(await page.evaluate(() => (globalThis as Dom).document.getElementById('app').dataset.report)).toBe(
      'ready',
    );
    // The panel opens from the toolbar.
    await page.click('#report-toggle');
    expect(await page.isVisible('#report')).toBe(true);
    const text = await page.textContent('#report');
    expect(text).toContain('Befundbericht');
    expect(text).toContain('Impression');
    expect(text).toContain(IMPRESSION);
    expect(text).toContain('größer als 2022');
    // The strip: the SR opens the panel, the PDF links its token-scoped path.
    const strip = await page.$$eval('#series .thumb.report', (els) =>
      els.map((e) => ({ text: e.textContent, href: e.getAttribute('href') })),
    );
    expect(strip).toHaveLength(2);
    expect(strip.map((e) => e.text).join(' ')).toContain('Report (PDF)');
    expect(strip.find((e) => e.href)?.href).toBe(
      `/token/report/${shown.reports.pdf.sopInstanceUid}.pdf?${token}`,
    );
    await screenshot(page, 'viewer-report-panel');
    // The PDF the link names is the document, as application/pdf.
    const pdf = await page.evaluate(async (href) => {
      const r = await fetch(href);
      return { type: r.headers.get('content-type'), length: (await r.arrayBuffer()).byteLength };
    }, `/token/report/${shown.reports.pdf.sopInstanceUid}.pdf?${token}`);
    expect(pdf).toEqual({ type: 'application/pdf', length: shown.reports.pdf.document.length });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows no report of a link that may not show it', async () => {
    expect((await s.api('PUT', '/api/v1/server-config', { reportsOnPage: false })).status).toBe(200);
    try {
      const { token } = await s.issueToken(held.study.studyInstanceUid);
      const { page } = await openViewer(token);
      expect(
        await page.evaluate(() => (globalThis as Dom).document.getElementById('app').dataset.report),
      ).toBe('none');
      expect(await page.isVisible('#report-toggle')).toBe(false);
      expect(await page.$$('#series .thumb.other')).toHaveLength(0);
      expect(await page.content()).not.toContain(IMPRESSION);
      await page.close();
    } finally {
      await s.api('PUT', '/api/v1/server-config', { reportsOnPage: true });
    }
  });
});
