import { createHash } from 'node:crypto';
import { PUSHED_REPORT_MAX_BYTES } from '@studylink/contracts';
import { samplePdfReport, samplePdfWithJavaScript } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyService } from '../src/api-keys/api-key.service.js';
import { FakeStudySource, type Harness, readJson, startHarness } from './harness.js';

/**
 * Reports (issue 20), against the token service on PostgreSQL: the link's release control
 * (includeReport on PUT .../token, the setup's reportsOnPage) as the export service's grant says it,
 * and the RIS push (PUT/GET/DELETE .../report) with the internal route the export service reads.
 */

const source = new FakeStudySource();
let h: Harness;
let n = 0;
const newStudy = () => {
  n += 1;
  const uid = `1.2.826.0.1.3680043.8.498.20.${n}.${Math.floor(Math.random() * 1e6)}`;
  source.add({ studyInstanceUid: uid });
  return uid;
};

beforeAll(async () => {
  h = await startHarness(source);
});
afterAll(async () => {
  await h?.close();
});

function grant(token: string, purpose: 'view' | 'download' = 'view') {
  return fetch(`${h.internalUrl}/internal/v1/grants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-secret': h.internalSecret },
    body: JSON.stringify({ token, purpose }),
  });
}

async function setReportsOnPage(value: boolean) {
  const res = await h.api('PUT', '/api/v1/server-config', { reportsOnPage: value });
  expect(res.status).toBe(200);
}

describe('includeReport on PUT .../token', () => {
  it('defaults to null (follow the setup); the grant follows reportsOnPage', async () => {
    const uid = newStudy();
    const put = await h.api('PUT', `/api/v1/studies/${uid}/token`);
    expect(put.status).toBe(201);
    const issued = await readJson(put);
    expect(issued.includeReport).toBeNull();
    expect((await readJson(await grant(issued.token))).may.report).toBe(true);
    await setReportsOnPage(false);
    try {
      expect((await readJson(await grant(issued.token))).may.report).toBe(false);
    } finally {
      await setReportsOnPage(true);
    }
  });

  it('false holds the report back whatever the setup; changed in place on the same link, logged', async () => {
    const uid = newStudy();
    const put = await h.api('PUT', `/api/v1/studies/${uid}/token`, { includeReport: false });
    const issued = await readJson(put);
    expect(issued.includeReport).toBe(false);
    const held = await readJson(await grant(issued.token, 'download'));
    expect(held.may.report).toBe(false);
    expect(held.pushedReport).toBeNull();
    const got = await readJson(await h.api('GET', `/api/v1/studies/${uid}/token`));
    expect(got.includeReport).toBe(false);

    // The doctor has spoken to the patient: released on the same link.
    const again = await h.api('PUT', `/api/v1/studies/${uid}/token`, { includeReport: true });
    expect(again.status).toBe(200);
    const released = await readJson(again);
    expect(released.token).toBe(issued.token);
    expect(released.includeReport).toBe(true);
    await setReportsOnPage(false);
    try {
      expect((await readJson(await grant(issued.token))).may.report).toBe(true);
    } finally {
      await setReportsOnPage(true);
    }
    const log = await readJson(
      await h.api('GET', `/api/v1/access-log?study=${uid}&event=token_report_changed`),
    );
    expect(log.items).toHaveLength(1);
    expect(log.items[0].detail).toEqual({ includeReport: true });
  });

  it('refuses a value that is not a boolean or null (400)', async () => {
    const uid = newStudy();
    const res = await h.api('PUT', `/api/v1/studies/${uid}/token`, { includeReport: 'yes' });
    expect(res.status).toBe(400);
  });
});

function pushReport(uid: string, body: Buffer | string, { type = 'application/pdf', key = h.adminKey } = {}) {
  return fetch(`${h.url}/api/v1/studies/${uid}/report`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': type },
    body,
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PUT/GET/DELETE /api/v1/studies/{uid}/report', () => {
  it('keeps a PDF from the RIS, serves it byte for byte, names it in a grant that may show it, deletes it', async () => {
    const uid = newStudy();
    const pdf = samplePdfReport('CT CHEST. Impression: no acute findings.');
    const put = await pushReport(uid, pdf);
    expect(put.status).toBe(201);
    expect(await readJson(put)).toMatchObject({ studyInstanceUid: uid, bytes: pdf.length, sha256: sha(pdf) });

    const got = await h.api('GET', `/api/v1/studies/${uid}/report`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await got.arrayBuffer()).equals(pdf)).toBe(true);

    // A link that may show reports names the pushed one; the internal listener serves it by that id.
    const issued = await readJson(await h.api('PUT', `/api/v1/studies/${uid}/token`));
    const granted = await readJson(await grant(issued.token, 'download'));
    expect(granted.may.report).toBe(true);
    expect(granted.pushedReport).toMatchObject({ bytes: pdf.length, sha256: sha(pdf) });
    const internal = `${h.internalUrl}/internal/v1/reports/${granted.pushedReport.id}`;
    expect((await fetch(internal)).status).toBe(401);
    const bytes = await fetch(internal, { headers: { 'x-internal-secret': h.internalSecret } });
    expect(bytes.status).toBe(200);
    expect(Buffer.from(await bytes.arrayBuffer()).equals(pdf)).toBe(true);

    // Held back: the grant names no report, though one exists.
    await h.api('PUT', `/api/v1/studies/${uid}/token`, { includeReport: false });
    const held = await readJson(await grant(issued.token, 'download'));
    expect(held.may.report).toBe(false);
    expect(held.pushedReport).toBeNull();
    await h.api('PUT', `/api/v1/studies/${uid}/token`, { includeReport: null });

    // A second push replaces it (200), under a new id: the old id serves nothing.
    const second = samplePdfReport('Addendum: compared with prior, unchanged.');
    expect((await pushReport(uid, second)).status).toBe(200);
    const regranted = await readJson(await grant(issued.token, 'download'));
    expect(regranted.pushedReport.sha256).toBe(sha(second));
    expect(regranted.pushedReport.id).not.toBe(granted.pushedReport.id);
    expect((await fetch(internal, { headers: { 'x-internal-secret': h.internalSecret } })).status).toBe(404);

    expect((await h.api('DELETE', `/api/v1/studies/${uid}/report`)).status).toBe(204);
    expect((await h.api('GET', `/api/v1/studies/${uid}/report`)).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/studies/${uid}/report`)).status).toBe(404);
    expect((await readJson(await grant(issued.token, 'download'))).pushedReport).toBeNull();

    const log = await readJson(await h.api('GET', `/api/v1/access-log?study=${uid}&limit=100`));
    const events = (log.items as { event: string; outcome: string; actor: string }[])
      .filter((e) => e.event.startsWith('report_'))
      .map((e) => `${e.event} ${e.outcome} ${e.actor}`)
      .reverse();
    expect(events).toEqual([
      'report_pushed ok api-key:1:admin (ADMIN_API_KEY)',
      'report_pushed ok api-key:1:admin (ADMIN_API_KEY)',
      'report_deleted ok api-key:1:admin (ADMIN_API_KEY)',
    ]);
  });

  it.each([
    ['a text file', Buffer.from('Impression: normal.\n'), 'not_a_pdf'],
    ['a PDF with JavaScript', samplePdfWithJavaScript(), 'pdf_active_content'],
    [
      'a PDF with JavaScript in an object stream',
      samplePdfReport('x', { extra: '/S /JavaScript /JS (a)' }),
      'pdf_active_content',
    ],
  ])('refuses %s: 422 with its reason, nothing kept', async (_name, body, code) => {
    const uid = newStudy();
    const res = await pushReport(uid, body);
    expect(res.status).toBe(422);
    const err = await readJson(res);
    expect(err.error.code).toBe(code);
    expect(err.error.message).toMatch(/PDF/);
    expect((await h.api('GET', `/api/v1/studies/${uid}/report`)).status).toBe(404);
  });

  it('refuses a file over 20 MB (413), a wrong type (415), an unknown study (404), a wrong scope (403)', async () => {
    const uid = newStudy();
    const big = Buffer.concat([samplePdfReport(), Buffer.alloc(PUSHED_REPORT_MAX_BYTES)]);
    expect((await pushReport(uid, big)).status).toBe(413);
    // Sent without a length (chunked): cut at the limit as it arrives.
    const chunked = await fetch(`${h.url}/api/v1/studies/${uid}/report`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${h.adminKey}`, 'content-type': 'application/pdf' },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await pushReport(uid, samplePdfReport(), { type: 'application/octet-stream' })).status).toBe(415);
    expect((await pushReport('1.2.3.404', samplePdfReport())).status).toBe(404);
    const audit = (await new ApiKeyService(h.database.db).create('audit only', ['audit'], 'test')).key;
    expect((await pushReport(uid, samplePdfReport(), { key: audit })).status).toBe(403);
    expect((await h.api('GET', `/api/v1/studies/${uid}/report`, undefined, audit)).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/studies/${uid}/report`, undefined, audit)).status).toBe(403);
    const tokens = (await new ApiKeyService(h.database.db).create('ris', ['tokens'], 'test')).key;
    expect((await pushReport(uid, samplePdfReport(), { key: tokens })).status).toBe(201);
    expect((await h.api('GET', `/api/v1/studies/${uid}/report`)).status).toBe(200);
  });
});

describe('OpenAPI', () => {
  it('documents PUT/GET/DELETE .../report (scope tokens, a PDF body, its refusals) and includeReport', async () => {
    const doc = await readJson(await fetch(`${h.url}/api/v1/openapi.json`));
    const report = doc.paths['/studies/{studyInstanceUid}/report'];
    expect(Object.keys(report)).toEqual(expect.arrayContaining(['put', 'get', 'delete']));
    expect(report.put['x-required-scopes']).toEqual(['tokens', 'admin']);
    expect(Object.keys(report.put.requestBody.content)).toEqual(['application/pdf']);
    expect(Object.keys(report.put.responses)).toEqual(
      expect.arrayContaining(['200', '201', '403', '404', '413', '415', '422']),
    );
    expect(Object.keys(report.get.responses['200'].content)).toEqual(['application/pdf']);
    const put = doc.paths['/studies/{studyInstanceUid}/token'].put;
    expect(put.requestBody.content['application/json'].schema.properties.includeReport).toBeDefined();
  });
});
