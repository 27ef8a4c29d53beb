#!/usr/bin/env node
// The `demo-data` one-shot service of docker-compose.yml (profile `demo`): loads the demo PACS
// (Orthanc, DICOMweb) with a synthetic CT under DEMO_STUDY_UID and a few pydicom samples, once.
// On later starts it finds the demo study in the store and does nothing. Exits 0 when done.
//
//   ORTHANC_URL=http://orthanc:8042 node deploy/demo-data/load.mjs
import { readFile } from 'node:fs/promises';
import { loadDemoData } from '@studylink/testkit';
import { DEMO_SAMPLES, DEMO_STUDY_UID } from '../demo-study.mjs';

const orthancUrl = (process.env.ORTHANC_URL || 'http://orthanc:8042').replace(/\/+$/, '');
const timeoutMs = Number(process.env.DEMO_DATA_TIMEOUT_MS || 120_000);

const log = (msg, extra = {}) =>
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), service: 'demo-data', msg, ...extra })}\n`,
  );

/** Orthanc's REST API as the testkit's upload helpers expect it (POST /instances). */
const orthanc = {
  async upload(fileOrBytes) {
    const body = typeof fileOrBytes === 'string' ? await readFile(fileOrBytes) : fileOrBytes;
    const res = await fetch(`${orthancUrl}/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      body,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Orthanc refused an instance: HTTP ${res.status} ${text.slice(0, 200)}`);
    const answer = JSON.parse(text);
    return { id: answer.ID, status: answer.Status, parentStudy: answer.ParentStudy, studyInstanceUid: '' };
  },
};

async function waitForOrthanc() {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${orthancUrl}/system`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline)
      throw new Error(`Orthanc at ${orthancUrl} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function demoStudyLoaded() {
  const res = await fetch(`${orthancUrl}/dicom-web/studies?StudyInstanceUID=${DEMO_STUDY_UID}`, {
    headers: { accept: 'application/dicom+json' },
  });
  if (res.status === 204) return false;
  if (!res.ok) throw new Error(`QIDO-RS answered HTTP ${res.status}: is the DICOMweb plugin enabled?`);
  const body = await res.text();
  return body.trim() !== '' && JSON.parse(body).length > 0;
}

try {
  await waitForOrthanc();
  if (await demoStudyLoaded()) {
    log('demo study already in the store; nothing to load', { studyInstanceUid: DEMO_STUDY_UID });
  } else {
    const loaded = await loadDemoData(orthanc, { studyInstanceUid: DEMO_STUDY_UID, samples: DEMO_SAMPLES });
    log('demo study loaded', { studyInstanceUid: DEMO_STUDY_UID, ...loaded });
  }
} catch (err) {
  log('demo data not loaded', { error: err.message });
  process.exitCode = 1;
}
