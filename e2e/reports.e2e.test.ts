// Issue 20: the study's own reports, through nginx on a stock Orthanc. A Basic Text SR (written by
// pydicom in ISO_IR 100) is on the patient's report page as text with its headings; an encapsulated
// PDF is served as application/pdf, byte for byte the document pydicom encapsulated (its pad byte
// aside); a link that may not show reports (the setup's reportsOnPage false) has them in none of the
// page, the report page, the PDF path, and the gateway (QIDO, metadata, retrieve).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ReportFiles,
  type SyntheticStudy,
  samplePdfReport,
  startOrthanc,
  uploadDirectory,
  writeReportFiles,
  writeSyntheticStudy,
} from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';
import { tokenLeaks } from './support/log-checks.js';

const FINDINGS = 'Rundherd im rechten Oberlappen, größer als 2022 (Ø 12 mm).';
const IMPRESSION = 'Kontrolle in drei Monaten empfohlen; am ehesten gutartig.';
const SR_CLASS = '1.2.840.10008.5.1.4.1.1.88.11';
const PDF_CLASS = '1.2.840.10008.5.1.4.1.1.104.1';

let s: E2EStack;
interface WithReports {
  study: SyntheticStudy;
  reports: ReportFiles;
}
let shown: WithReports;
let held: WithReports;
let shownToken: string;
const issued: string[] = [];

async function studyWithReports(
  name: string,
  sr: { charset: string; findings: string; impression: string; title: string } = {
    charset: 'ISO_IR 100',
    findings: FINDINGS,
    impression: IMPRESSION,
    title: 'Befundbericht',
  },
): Promise<WithReports> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-reports-'));
  const patient = { patientName: `Report^${name}`, patientId: `REP-${name}` };
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
    ...sr,
  });
  await uploadDirectory(s.orthanc, dir, 2);
  await s.orthanc.upload(reports.sr.path);
  await s.orthanc.upload(reports.pdf.path);
  return { study, reports };
}

const setReportsOnPage = async (on: boolean) =>
  expect((await s.api('PUT', '/api/v1/server-config', { reportsOnPage: on })).status).toBe(200);

beforeAll(async () => {
  s = await startE2EStack('reports', {
    orthanc: await startOrthanc({ preset: 'stock' }),
    // The gateway asks the token service on every request: a changed rule applies at once.
    env: { GATEWAY_GRANT_CACHE_MS: '0' },
  });
  shown = await studyWithReports('Shown');
  held = await studyWithReports('Held');
  await setReportsOnPage(true);
  shownToken = (await s.issueToken(shown.study.studyInstanceUid)).token;
  issued.push(shownToken);
}, 180_000);

afterAll(async () => {
  const orthanc = s?.orthanc;
  await s?.stop();
  await orthanc?.stop();
});

const gateway = (token: string, path: string, accept = 'application/dicom+json') =>
  fetch(`${s.url}/token/dicomweb/${path}`, { headers: { authorization: `Bearer ${token}`, accept } });
const sopClasses = (datasets: unknown) =>
  (datasets as Array<Record<string, { Value?: unknown[] }>>).map((d) => String(d['00080016']?.Value?.[0]));

describe('a link that may show reports', () => {
  it('links the report page from the patient page', async () => {
    const page = await (await fetch(`${s.url}/token?${shownToken}`)).text();
    expect(page).toContain(`href="/token/report?${shownToken}"`);
  });

  it("shows the SR on the report page as text, its headings and the impression in the document's character set", async () => {
    const r = await fetch(`${s.url}/token/report?${shownToken}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await r.text();
    expect(html).toContain('<h2>Befundbericht</h2>');
    expect(html).toContain('<h3>Findings</h3>');
    expect(html).toContain('<h3>Impression</h3>');
    expect(html).toContain(FINDINGS);
    expect(html).toContain(IMPRESSION);
    // The PDF is linked, token in the query as everywhere.
    expect(html).toContain(`href="/token/report/${shown.reports.pdf.sopInstanceUid}.pdf?${shownToken}"`);
  });

  it('shows an SR written in ISO 2022 Japanese as the document wrote it', async () => {
    const japanese = {
      charset: '\\ISO 2022 IR 87',
      title: '画像診断報告書',
      findings: '右肺上葉に結節影を認める。',
      impression: '３か月後の経過観察を推奨します。',
    };
    const jp = await studyWithReports('Japanese', japanese);
    const { token } = await s.issueToken(jp.study.studyInstanceUid);
    issued.push(token);
    const html = await (await fetch(`${s.url}/token/report?${token}`)).text();
    expect(html).toContain(`<h2>${japanese.title}</h2>`);
    expect(html).toContain(japanese.findings);
    expect(html).toContain(japanese.impression);
  });

  it('follows the language of the page', async () => {
    const html = await (
      await fetch(`${s.url}/token/report?${shownToken}`, { headers: { 'accept-language': 'de' } })
    ).text();
    expect(html).toContain('<html lang="de"');
    expect(html).toContain('Ihr Befund');
  });

  it('serves the encapsulated PDF inline as application/pdf, byte for byte (pad byte aside)', async () => {
    const path = `/token/report/${shown.reports.pdf.sopInstanceUid}.pdf?${shownToken}`;
    const r = await fetch(`${s.url}${path}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.headers.get('content-disposition')).toMatch(/^inline; filename="report-[0-9]+-[0-9]+\.pdf"$/);
    // Set by the service, and by nginx on every answer.
    expect(r.headers.get('x-content-type-options')).toMatch(/^nosniff(, nosniff)?$/);
    expect(r.headers.get('content-security-policy')).toMatch(/^sandbox;/);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const bytes = Buffer.from(await r.arrayBuffer());
    // pydicom padded the odd-length PDF to an even value length: that byte is not the document's.
    expect(shown.reports.pdf.document.length % 2).toBe(1);
    expect(bytes.equals(shown.reports.pdf.document)).toBe(true);
    const head = await fetch(`${s.url}${path}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/pdf');
  });

  it('lists and reads the reports through the gateway', async () => {
    const st = `studies/${shown.study.studyInstanceUid}`;
    const series = (await (await gateway(shownToken, `${st}/series`)).json()) as unknown[];
    expect(series).toHaveLength(3);
    const metadata = await (await gateway(shownToken, `${st}/metadata`)).json();
    expect(sopClasses(metadata)).toEqual(expect.arrayContaining([SR_CLASS, PDF_CLASS]));
  });

  it('refuses what is not one of the study’s PDFs, and any other spelling of the paths, through nginx and straight to the services', async () => {
    const sop = shown.reports.pdf.sopInstanceUid;
    const direct = {
      token: `http://127.0.0.1:${s.stack.tokenPort}`,
      export: `http://127.0.0.1:${s.stack.exportPort}`,
    };
    const refused = [
      // The SR and an image are no PDF; an unknown UID; the pushed one (none pushed).
      `/token/report/${shown.reports.sr.sopInstanceUid}.pdf?${shownToken}`,
      `/token/report/${shown.study.seriesInstanceUids[0]}.pdf?${shownToken}`,
      `/token/report/1.2.3.4.pdf?${shownToken}`,
      `/token/report/pushed.pdf?${shownToken}`,
      `/token/report/${sop}.PDF?${shownToken}`,
      `/token/report/${sop}?${shownToken}`,
      `/token/report/${sop.replaceAll('.', '%2E')}.pdf?${shownToken}`,
      `/token/report/?${shownToken}`,
      `/token/REPORT?${shownToken}`,
      `/token/Report/${sop}.pdf?${shownToken}`,
      `/token/report/${sop}.pdf/?${shownToken}`,
      `/token/%72eport?${shownToken}`,
      // No token, a malformed one, an unknown one.
      `/token/report/${sop}.pdf`,
      `/token/report?${'x'.repeat(10)}`,
      `/token/report/${sop}.pdf?${'A'.repeat(64)}`,
      `/token/report?${'A'.repeat(64)}`,
    ];
    for (const base of [s.url, direct.token, direct.export]) {
      for (const path of refused) {
        const r = await fetch(`${base}${path}`);
        // Straight to a service, the other service's path is its plain 404 as well.
        expect([404, 429], `${base}${path}`).toContain(r.status);
        const body = await r.text();
        expect(body).not.toContain('%PDF-');
        expect(body).not.toContain(IMPRESSION);
      }
    }
  });
});

describe('the report the RIS pushed', () => {
  const pushed = samplePdfReport('Impression: pushed by the RIS.');
  beforeAll(async () => {
    const r = await fetch(`${s.url}/api/v1/studies/${shown.study.studyInstanceUid}/report`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/pdf' },
      body: pushed,
    });
    expect(r.status).toBeLessThan(300);
  });

  it('is listed on the report page and served inline as application/pdf, byte for byte', async () => {
    const html = await (await fetch(`${s.url}/token/report?${shownToken}`)).text();
    expect(html).toContain(`href="/token/report/pushed.pdf?${shownToken}"`);
    // The study's own PDF and SR are still there beside it.
    expect(html).toContain(IMPRESSION);
    const r = await fetch(`${s.url}/token/report/pushed.pdf?${shownToken}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.headers.get('content-disposition')).toMatch(/^inline; filename="report(-[0-9]+)?\.pdf"$/);
    expect(Buffer.from(await r.arrayBuffer()).equals(pushed)).toBe(true);
  });
});

describe('a link that may not show reports', () => {
  let token: string;
  beforeAll(async () => {
    await setReportsOnPage(false);
    token = (await s.issueToken(held.study.studyInstanceUid)).token;
    issued.push(token);
  });
  afterAll(async () => {
    await setReportsOnPage(true);
  });

  it('has no report on the page, and its report page and PDF path are the patient’s "not found" page', async () => {
    const page = await (await fetch(`${s.url}/token?${token}`)).text();
    expect(page).not.toContain('/token/report');
    const reportPage = await fetch(`${s.url}/token/report?${token}`);
    expect(reportPage.status).toBe(404);
    expect(reportPage.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await reportPage.text();
    expect(html).not.toContain(IMPRESSION);
    expect(html).not.toContain(FINDINGS);
    const pdf = await fetch(`${s.url}/token/report/${held.reports.pdf.sopInstanceUid}.pdf?${token}`);
    expect(pdf.status).toBe(404);
    expect(pdf.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await pdf.text()).not.toContain('%PDF-');
    // Nor the pushed one (none pushed for this study, and none shown either way).
    const pushed = await fetch(`${s.url}/token/report/pushed.pdf?${token}`);
    expect(pushed.status).toBe(404);
  });

  it('lists no report in the gateway: series, instances, metadata', async () => {
    const st = `studies/${held.study.studyInstanceUid}`;
    const series = (await (await gateway(token, `${st}/series`)).json()) as Array<
      Record<string, { Value?: unknown[] }>
    >;
    expect(series.map((d) => d['0020000E']?.Value?.[0])).toEqual(held.study.seriesInstanceUids);
    const metadata = await (await gateway(token, `${st}/metadata`)).json();
    expect(metadata).toHaveLength(2);
    expect(sopClasses(metadata)).not.toContain(SR_CLASS);
    expect(sopClasses(metadata)).not.toContain(PDF_CLASS);
    for (const report of [held.reports.sr, held.reports.pdf]) {
      const se = `${st}/series/${report.seriesInstanceUid}`;
      expect((await gateway(token, `${se}/metadata`)).status).toBe(404);
      expect((await gateway(token, `${se}/instances`)).status).toBe(404);
    }
    // The image series is as before.
    const images = await gateway(token, `${st}/series/${held.study.seriesInstanceUids[0]}/metadata`);
    expect(await images.json()).toHaveLength(2);
  });

  it('retrieves no report from the gateway: instance, rendered, frames, series, study', async () => {
    const st = `studies/${held.study.studyInstanceUid}`;
    for (const report of [held.reports.sr, held.reports.pdf]) {
      const inst = `${st}/series/${report.seriesInstanceUid}/instances/${report.sopInstanceUid}`;
      const dicom = 'multipart/related; type="application/dicom"; transfer-syntax=*';
      expect((await gateway(token, inst, dicom)).status).toBe(404);
      expect((await gateway(token, `${inst}/rendered`, 'image/jpeg')).status).toBe(404);
      expect(
        (await gateway(token, `${inst}/frames/1`, 'multipart/related; type="application/octet-stream"'))
          .status,
      ).toBe(404);
      expect((await gateway(token, `${st}/series/${report.seriesInstanceUid}`, dicom)).status).toBe(404);
    }
    const study = await gateway(token, st, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    expect(study.status).toBe(403);
    expect(((await study.json()) as { error: { code: string } }).error.code).toBe('report_held');
  });

  it('shows the reports again once the setup allows them (the same study, a link that may)', async () => {
    await setReportsOnPage(true);
    // A new link (the old one revoked): made while the setup shows reports.
    expect(
      (await s.api('DELETE', `/api/v1/studies/${held.study.studyInstanceUid}/token`)).status,
    ).toBeLessThan(300);
    const again = (await s.issueToken(held.study.studyInstanceUid)).token;
    issued.push(again);
    const html = await (await fetch(`${s.url}/token/report?${again}`)).text();
    expect(html).toContain(IMPRESSION);
  });
});

describe('logs', () => {
  it('hold no token after every request above', async () => {
    expect(await tokenLeaks(s.logDir, issued)).toEqual([]);
  });
});
