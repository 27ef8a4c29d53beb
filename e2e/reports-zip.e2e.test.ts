// Issue 20, the RIS push and the zip, through nginx on a stock Orthanc: a PDF the RIS pushes is
// kept (non-PDF, JavaScript-carrying and oversized files refused), served back byte for byte and put
// in the zip as REPORT.PDF beside README.txt; a held report (the link's includeReport false, or the
// setup's reportsOnPage false) leaves the study's SR and encapsulated PDF out of the zip and its
// DICOMDIR, and REPORT.PDF too, and the grant says may.report false. The fixed zip's HEAD length
// is the GET's byte count in every case, and each case has its own ETag.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ReportFiles,
  type SyntheticStudy,
  samplePdfReport,
  samplePdfWithJavaScript,
  startOrthanc,
  uploadDirectory,
  writeReportFiles,
  writeSyntheticStudy,
} from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, type Json, startE2EStack } from './support/e2e-stack.js';
import { type ExtractedZip, testAndExtract } from './support/zip-inspect.js';

let s: E2EStack;
let study: SyntheticStudy;
let reports: ReportFiles;
let token: string;
const RIS_PDF = samplePdfReport('CT CHEST. Impression: no acute findings. Signed: Dr Example.');

const uid = () => study.studyInstanceUid;
const zipUrl = () => `${s.url}/token/study.zip?${token}`;
// As a browser following the page's link.
const BROWSER = { 'sec-fetch-site': 'same-origin' };

function pushReport(body: Buffer, type = 'application/pdf') {
  return fetch(`${s.url}/api/v1/studies/${uid()}/report`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': type },
    body,
  });
}

async function grant(): Promise<Json> {
  const res = await fetch(`http://127.0.0.1:${s.stack.tokenInternalPort}/internal/v1/grants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-secret': s.stack.internalSecret },
    body: JSON.stringify({ token, purpose: 'download' }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

/** HEAD until the zip has a fixed layout (made in the background) whose ETag is not `notEtag`. */
async function head(notEtag?: string): Promise<{ length: number; etag: string }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(zipUrl(), { method: 'HEAD', headers: BROWSER });
    const etag = r.headers.get('etag');
    if (r.status === 200 && etag && etag !== notEtag)
      return { length: Number(r.headers.get('content-length')), etag };
    if (Date.now() > deadline) throw new Error(`no layout in time: ${r.status}`);
    // nginx lets an address ask for downloads 2 times a second (a burst of 10): polling stays below.
    await sleep(600);
  }
}

/** GETs the whole zip: its bytes, ETag, and what `unzip` finds in it. */
async function download(): Promise<{ bytes: Buffer; etag: string | null; zip: ExtractedZip }> {
  let r = await fetch(zipUrl(), { headers: BROWSER });
  // Over nginx's download rate (2 a second, a burst of 10): once more after its Retry-After.
  if (r.status === 429) {
    await r.arrayBuffer();
    await sleep(1000 * Number(r.headers.get('retry-after') ?? 1));
    r = await fetch(zipUrl(), { headers: BROWSER });
  }
  expect(r.status).toBe(200);
  const bytes = Buffer.from(await r.arrayBuffer());
  const path = join(await mkdtemp(join(tmpdir(), 'studylink-reports-zip-')), 'study.zip');
  await writeFile(path, bytes);
  const { zip } = await testAndExtract(path);
  return { bytes, etag: r.headers.get('etag'), zip };
}

const dicomFiles = (zip: ExtractedZip) => zip.entries.filter((e) => e.startsWith('DICOM/'));
const holds = (buf: Buffer | undefined, text: string) => (buf ?? Buffer.alloc(0)).includes(Buffer.from(text));

beforeAll(async () => {
  s = await startE2EStack('reports-zip', { orthanc: await startOrthanc({ preset: 'stock' }) });
  const dir = await mkdtemp(join(tmpdir(), 'studylink-reports-zip-study-'));
  const patient = { patientName: 'Report^Zip', patientId: 'REP-ZIP' };
  study = await writeSyntheticStudy({
    dir,
    ...patient,
    series: 1,
    instancesPerSeries: 2,
    rows: 64,
    columns: 64,
  });
  reports = await writeReportFiles({
    dir: await mkdtemp(join(tmpdir(), 'studylink-reports-zip-files-')),
    studyInstanceUid: study.studyInstanceUid,
    ...patient,
    findings: 'No nodule.',
    impression: 'Normal chest.',
  });
  await uploadDirectory(s.orthanc, dir, 2);
  await s.orthanc.upload(reports.sr.path);
  await s.orthanc.upload(reports.pdf.path);
  expect((await s.api('PUT', '/api/v1/server-config', { reportsOnPage: true })).status).toBe(200);
  token = (await s.issueToken(study.studyInstanceUid)).token;
}, 180_000);

afterAll(async () => {
  const orthanc = s?.orthanc;
  await s?.stop();
  await orthanc?.stop();
});

describe('the RIS push through nginx', () => {
  it('refuses a non-PDF, a PDF with JavaScript (422) and a file over 20 MB (413); keeps a PDF (201) and serves it back', async () => {
    const text = await pushReport(Buffer.from('Impression: normal.\n'));
    expect(text.status).toBe(422);
    expect(((await text.json()) as Json).error.code).toBe('not_a_pdf');
    const js = await pushReport(samplePdfWithJavaScript());
    expect(js.status).toBe(422);
    expect(((await js.json()) as Json).error.code).toBe('pdf_active_content');
    const big = await pushReport(Buffer.concat([RIS_PDF, Buffer.alloc(20 * 1024 * 1024)]));
    expect(big.status).toBe(413);
    expect((await pushReport(RIS_PDF, 'text/plain')).status).toBe(415);
    const noKey = await fetch(`${s.url}/api/v1/studies/${uid()}/report`, {
      method: 'PUT',
      headers: { 'content-type': 'application/pdf' },
      body: RIS_PDF,
    });
    expect(noKey.status).toBe(401);

    const ok = await pushReport(RIS_PDF);
    expect(ok.status).toBe(201);
    const back = await fetch(`${s.url}/api/v1/studies/${uid()}/report`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(back.status).toBe(200);
    expect(back.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await back.arrayBuffer()).equals(RIS_PDF)).toBe(true);
  });
});

describe('the zip and the report rule', () => {
  let shownEtag: string;

  it('a link that shows reports: REPORT.PDF beside README.txt (byte for byte, the README names it), the SR and PDF instances in; HEAD length = GET bytes', async () => {
    const g = await grant();
    expect(g.may.report).toBe(true);
    expect(g.pushedReport).toMatchObject({ bytes: RIS_PDF.length });
    const h = await head();
    const got = await download();
    expect(got.bytes.length).toBe(h.length);
    expect(got.etag).toBe(h.etag);
    shownEtag = h.etag;
    expect(got.zip.entries.slice(0, 3)).toEqual(['DICOMDIR', 'README.txt', 'REPORT.PDF']);
    expect(got.zip.files.get('REPORT.PDF')?.equals(RIS_PDF)).toBe(true);
    expect(holds(got.zip.files.get('README.txt'), 'REPORT.PDF')).toBe(true);
    expect(dicomFiles(got.zip)).toHaveLength(4);
    const dicomdir = got.zip.files.get('DICOMDIR');
    expect(holds(dicomdir, reports.sr.sopInstanceUid)).toBe(true);
    expect(holds(dicomdir, reports.pdf.sopInstanceUid)).toBe(true);
  });

  it('held on the link (includeReport false): no SR, no PDF instance, no REPORT.PDF, in the zip nor the DICOMDIR; may.report false; its own ETag, HEAD = GET', async () => {
    expect((await s.api('PUT', `/api/v1/studies/${uid()}/token`, { includeReport: false })).status).toBe(200);
    const g = await grant();
    expect(g.may.report).toBe(false);
    expect(g.pushedReport).toBeNull();
    const h = await head(shownEtag);
    const got = await download();
    expect(got.bytes.length).toBe(h.length);
    expect(got.etag).toBe(h.etag);
    expect(got.zip.entries).not.toContain('REPORT.PDF');
    expect(holds(got.zip.files.get('README.txt'), 'REPORT.PDF')).toBe(false);
    expect(dicomFiles(got.zip)).toHaveLength(2);
    for (const file of dicomFiles(got.zip)) {
      const bytes = got.zip.files.get(file);
      expect(holds(bytes, reports.sr.sopInstanceUid) || holds(bytes, reports.pdf.sopInstanceUid)).toBe(false);
    }
    const dicomdir = got.zip.files.get('DICOMDIR');
    expect(holds(dicomdir, reports.sr.sopInstanceUid)).toBe(false);
    expect(holds(dicomdir, reports.pdf.sopInstanceUid)).toBe(false);
    // A range of the held archive under the shown archive's ETag is not served as a part of it.
    const mixed = await fetch(zipUrl(), {
      headers: { ...BROWSER, range: 'bytes=100-', 'if-range': shownEtag },
    });
    expect(mixed.status).toBe(200);
    await mixed.arrayBuffer();
  });

  it('held by the setup (reportsOnPage false, the link following it): the same held archive; released again, REPORT.PDF is back', async () => {
    expect((await s.api('PUT', `/api/v1/studies/${uid()}/token`, { includeReport: null })).status).toBe(200);
    expect((await s.api('PUT', '/api/v1/server-config', { reportsOnPage: false })).status).toBe(200);
    try {
      expect((await grant()).may.report).toBe(false);
      const got = await download();
      expect(got.zip.entries).not.toContain('REPORT.PDF');
      expect(dicomFiles(got.zip)).toHaveLength(2);
    } finally {
      expect((await s.api('PUT', '/api/v1/server-config', { reportsOnPage: true })).status).toBe(200);
    }
    const h = await head();
    expect(h.etag).toBe(shownEtag);
    const got = await download();
    expect(got.bytes.length).toBe(h.length);
    expect(got.zip.files.get('REPORT.PDF')?.equals(RIS_PDF)).toBe(true);
  });

  it('a new push changes the archive (another ETag); after DELETE the zip has no REPORT.PDF', async () => {
    const second = samplePdfReport('Addendum: unchanged on review.');
    expect((await pushReport(second)).status).toBe(200);
    const h = await head(shownEtag);
    const got = await download();
    expect(got.bytes.length).toBe(h.length);
    expect(got.zip.files.get('REPORT.PDF')?.equals(second)).toBe(true);
    const del = await fetch(`${s.url}/api/v1/studies/${uid()}/report`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(del.status).toBe(204);
    const after = await download();
    expect(after.zip.entries).not.toContain('REPORT.PDF');
    expect(dicomFiles(after.zip)).toHaveLength(4);
  });
});
