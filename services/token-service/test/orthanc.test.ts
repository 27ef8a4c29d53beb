import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDicomwebClient, type DicomwebClient } from '@studylink/dicomweb';
import { formatPersonName } from '@studylink/i18n';
import { createLogger } from '@studylink/service-kit';
import {
  CHARSET_SAMPLES,
  loadSamples,
  type OrthancInstance,
  pydicomHeaders,
  samplePathOrThrow,
  startOrthanc,
  uploadDirectory,
  uploadWithFreshUids,
  writeSyntheticStudy,
} from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qidoStudySearch } from '../src/staff/studies/study-search.source.js';
import { qidoStudySource } from '../src/studies/study.source.js';
import { type Harness, readJson, startHarness } from './harness.js';

const GREEK_DESCRIPTION = 'Αξονική τομογραφία θώρακος';

interface Expected {
  uid: string;
  patientName: string;
  description: string;
}

/**
 * The study copy, the patient page and the staff search against Orthanc as Debian installs it
 * (DefaultEncoding Latin1: its QIDO-RS labels answers ISO_IR 100 and drops what Latin-1 cannot
 * hold) and as the project tunes it (Utf8). Expected values are pydicom's reading of the files.
 */
describe.each(['stock', 'tuned'] as const)('study details from a real Orthanc (%s)', (preset) => {
  let orthanc: OrthancInstance;
  let h: Harness;
  let client: DicomwebClient;
  const expected = new Map<string, Expected>();
  const uids: Record<string, string> = {};

  beforeAll(async () => {
    orthanc = await startOrthanc({ preset });
    for (const s of await loadSamples(orthanc, ['CT_small.dcm', 'chrGreek.dcm']))
      uids[s.name] = s.studyInstanceUid;
    const fresh = await uploadWithFreshUids(orthanc, CHARSET_SAMPLES);
    const theirs = await pydicomHeaders(CHARSET_SAMPLES.map(samplePathOrThrow));
    for (const [i, s] of fresh.entries()) {
      const t = theirs[i];
      if (!t) throw new Error(`pydicom cannot read ${s.name}`);
      expected.set(s.name, {
        uid: s.studyInstanceUid,
        patientName: t.patientName,
        description: t.studyDescription,
      });
    }
    const dir = await mkdtemp(join(tmpdir(), 'studylink-greek-'));
    const greek = await writeSyntheticStudy({
      dir,
      patientName: 'Παπαδόπουλος^Ελένη',
      patientId: 'GR-1',
      series: 1,
      instancesPerSeries: 2,
      rows: 16,
      columns: 16,
      studyDescription: GREEK_DESCRIPTION,
    });
    await uploadDirectory(orthanc, dir, 2);
    expected.set('greek-description', {
      uid: greek.studyInstanceUid,
      patientName: 'Παπαδόπουλος^Ελένη',
      description: GREEK_DESCRIPTION,
    });
    client = createDicomwebClient({ baseUrl: orthanc.dicomwebUrl, requestTimeoutMs: 5000 });
    h = await startHarness(qidoStudySource(client));
  });

  afterAll(async () => {
    await h?.close();
    await client?.close();
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

  it('the staff search shows the files’ own names, also for studies without a copy', async () => {
    // Before any page view or token: none of these studies has a copy yet.
    expect((await h.database.pool.query('SELECT count(*)::int AS n FROM studies')).rows[0].n).toBe(0);
    const log = createLogger({ service: 'token-service', level: 'silent' });
    const search = qidoStudySearch(client, 5000, { studies: h.studies, log, cacheMs: 60_000 });
    const found = await search.search({ limit: 100, offset: 0 });
    for (const [name, e] of expected) {
      const row = found.find((r) => r.studyInstanceUid === e.uid);
      expect(row?.patientName, name).toBe(e.patientName);
      expect(row?.description, name).toBe(e.description);
    }
  });

  it('shows a CT study', async () => {
    const { page } = await pageFor(uids['CT_small.dcm'] as string);
    expect(page).toContain('CompressedSamples, CT1');
    expect(page).toContain('<dd>CT</dd>');
    expect(page).toContain('1 series, 1 image');
  });

  it('every character-set sample and the Greek-description study: the copy and the page have the files’ own names', async () => {
    for (const [name, e] of expected) {
      const { page } = await pageFor(e.uid);
      const { rows } = await h.database.pool.query(
        'SELECT patient_name, description, text_source FROM studies WHERE study_instance_uid = $1',
        [e.uid],
      );
      expect(rows[0]?.patient_name, name).toBe(e.patientName);
      expect(rows[0]?.description, name).toBe(e.description);
      expect(page, name).toContain(formatPersonName(e.patientName, { lang: 'en' }).replaceAll('&', '&amp;'));
      if (e.description) expect(page, name).toContain(e.description);
      // Where the store's QIDO-RS answer lost or garbled text, the names are the file's.
      if (name === 'chrH32.dcm' || (preset === 'stock' && name === 'chrGreek.dcm'))
        expect(rows[0]?.text_source, name).toBe('instance');
      if (name === 'chrGerm.dcm') expect(rows[0]?.text_source, name).toBe('qido');
    }
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
    await pageFor(uid);
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
