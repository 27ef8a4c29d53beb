import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeStudySource, type Harness, readJson, startHarness } from './harness.js';

/**
 * Reports (issue 20), against the token service on PostgreSQL: the link's release control
 * (includeReport on PUT .../token, the setup's reportsOnPage) as the export service's grant says it.
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
