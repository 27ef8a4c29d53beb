import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHARSET_DIR, loadSamples, SAMPLE_DIR } from './dicom-samples.js';
import type { OrthancInstance } from './orthanc.fixture.js';
import { uploadDirectory, writeSyntheticStudy } from './synthetic-study.js';

/**
 * Loads the demo studies of `make dev` and `make up` into a store: a synthetic two-series CT
 * under `studyInstanceUid` (DEMO^PATIENT) and the pydicom samples named, where this machine has them.
 * @example await loadDemoData(orthanc, { studyInstanceUid: DEMO_STUDY_UID, samples: DEMO_SAMPLES });
 */
export async function loadDemoData(
  orthanc: Pick<OrthancInstance, 'upload'>,
  opts: { studyInstanceUid: string; samples: readonly string[] },
): Promise<{ instances: number; samples: string[]; missingSamples: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-demo-'));
  let instances: number;
  try {
    const study = await writeSyntheticStudy({
      dir,
      studyInstanceUid: opts.studyInstanceUid,
      patientName: 'DEMO^PATIENT',
      patientId: 'DEMO-0001',
      series: 2,
      instancesPerSeries: 12,
      rows: 256,
      columns: 256,
    });
    await uploadDirectory(orthanc, dir, 4);
    instances = study.files.length;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const present = opts.samples.filter(
    (n) => existsSync(join(SAMPLE_DIR, n)) || existsSync(join(CHARSET_DIR, n)),
  );
  const loaded = await loadSamples(orthanc, present, { uids: 'as-is' });
  return {
    instances,
    samples: loaded.map((s) => s.name),
    missingSamples: opts.samples.length - present.length,
  };
}
