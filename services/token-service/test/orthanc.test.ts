import { createDicomwebClient } from '@studylink/dicomweb';
import { loadSamples, type OrthancInstance, startOrthanc } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qidoStudySource } from '../src/studies/study.source.js';
import { type Harness, readJson, startHarness } from './harness.js';

let orthanc: OrthancInstance;
let h: Harness;
const uids: Record<string, string> = {};

beforeAll(async () => {
  orthanc = await startOrthanc();
  for (const s of await loadSamples(orthanc, ['CT_small.dcm', 'chrH31.dcm', 'chrGreek.dcm', 'chrRuss.dcm'])) {
    uids[s.name] = s.studyInstanceUid as string;
  }
  const client = createDicomwebClient({ baseUrl: orthanc.dicomwebUrl, requestTimeoutMs: 5000 });
  h = await startHarness(qidoStudySource(client));
});

afterAll(async () => {
  await h?.close();
  await orthanc?.stop();
});

async function pageFor(uid: string): Promise<{ token: string; page: string }> {
  const res = await h.api('PUT', `/api/v1/studies/${uid}/token`);
  expect(res.status).toBe(201);
  const { token } = await readJson(res);
  const page = await fetch(`${h.url}/token?${token}`);
  expect(page.status).toBe(200);
  return { token, page: await page.text() };
}

describe('study details from a real Orthanc (QIDO-RS)', () => {
  it('shows a CT study', async () => {
    const { page } = await pageFor(uids['CT_small.dcm'] as string);
    expect(page).toContain('CompressedSamples, CT1');
    expect(page).toContain('<dd>CT</dd>');
    expect(page).toContain('1 series, 1 image');
  });

  it('keeps Japanese, Greek and Russian names intact', async () => {
    expect((await pageFor(uids['chrH31.dcm'] as string)).page).toContain(
      'Yamada, Tarou (山田 太郎 / やまだ たろう)',
    );
    expect((await pageFor(uids['chrGreek.dcm'] as string)).page).toContain('Διονυσιος');
    expect((await pageFor(uids['chrRuss.dcm'] as string)).page).toContain('Люкceмбypг');
  });

  it('refuses a UID the store does not have, and a revoked token at once', async () => {
    expect((await h.api('PUT', '/api/v1/studies/1.2.3.4.5.6.7.8.9.0/token')).status).toBe(404);
    const uid = uids['CT_small.dcm'] as string;
    const { token } = await readJson(await h.api('GET', `/api/v1/studies/${uid}/token`));
    expect((await h.api('DELETE', `/api/v1/studies/${uid}/token`)).status).toBe(204);
    expect((await fetch(`${h.url}/token?${token}`)).status).toBe(404);
  });

  it('answers 503 when the store is down and keeps showing the copy', async () => {
    const uid = uids['chrGreek.dcm'] as string;
    const { token } = await readJson(await h.api('GET', `/api/v1/studies/${uid}/token`));
    await h.database.pool.query("UPDATE studies SET refreshed_at = now() - interval '1 hour'");
    await orthanc.stop();
    const page = await fetch(`${h.url}/token?${token}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Διονυσιος');
    const res = await h.api('PUT', '/api/v1/studies/1.2.3.4.5.6.7.8.9.1/token');
    expect(res.status).toBe(503);
    expect((await readJson(res)).error.code).toBe('store_unavailable');
  });
});
