import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DicomJsonObject, DicomwebClient, MultipartPart } from '@studylink/dicomweb';
import { CHARSET_DIR } from '@studylink/testkit';
import { describe, expect, it } from 'vitest';
import { qidoStudySource, qidoTextDigest } from './study.source.js';

const UID = '1.3.6.1.4.1.5962.1.2.0.1175775772.5717.0';
const attr = (vr: string, ...Value: unknown[]) => ({ vr, Value });

/** What Orthanc's default (Latin1) QIDO-RS says of chrGreek.dcm: ISO_IR 100 and no name at all. */
const LOSSY_ANSWER: DicomJsonObject = {
  '00080005': attr('CS', 'ISO_IR 100'),
  '0020000D': attr('UI', UID),
  '00100010': { vr: 'PN' },
  '00100020': attr('LO', 'GREEK-1'),
};

/** Just enough of a DICOMweb client: QIDO-RS answers as given, the instance from the file. */
function fakeClient(opts: { instanceFails?: boolean } = {}) {
  const calls = { studies: 0, instances: 0, retrieves: 0 };
  const client = {
    async searchStudies() {
      calls.studies += 1;
      return [LOSSY_ANSWER];
    },
    async searchInstances() {
      calls.instances += 1;
      return [{ '0020000E': attr('UI', '1.2.3.4'), '00080018': attr('UI', '1.2.3.4.5') }];
    },
    async retrieveInstance() {
      calls.retrieves += 1;
      if (opts.instanceFails) throw new Error('store answered 500');
      const bytes = readFileSync(join(CHARSET_DIR, 'chrGreek.dcm'));
      async function* parts(): AsyncGenerator<MultipartPart, void, undefined> {
        yield { headers: {}, body: Readable.from([bytes]) };
      }
      return { parts: parts(), headers: {} };
    },
  } as unknown as DicomwebClient;
  return { client, calls };
}

describe('qidoStudySource: names checked against an instance header', () => {
  it('takes the name from the file when the QIDO-RS answer lost it', async () => {
    const { client, calls } = fakeClient();
    const details = await qidoStudySource(client).findStudy(UID, 1000);
    expect(details?.patientName).toBe('Διονυσιος');
    expect(details?.textSource).toBe('instance');
    expect(details?.qidoTextDigest).toBe(qidoTextDigest(LOSSY_ANSWER));
    expect(calls).toEqual({ studies: 1, instances: 1, retrieves: 1 });
  });

  it('asks no more than QIDO-RS while its answer is the one the copy was checked against', async () => {
    const { client, calls } = fakeClient();
    const details = await qidoStudySource(client).findStudy(UID, 1000, {
      qidoTextDigest: qidoTextDigest(LOSSY_ANSWER),
      textSource: 'instance',
      text: { patientName: 'Διονυσιος', patientId: 'GREEK-1', description: '' },
    });
    expect(details?.patientName).toBe('Διονυσιος');
    expect(calls).toEqual({ studies: 1, instances: 0, retrieves: 0 });
  });

  it('a failed instance read keeps the copy’s names and leaves no digest, so the next refresh tries again', async () => {
    const { client } = fakeClient({ instanceFails: true });
    const details = await qidoStudySource(client).findStudy(UID, 1000, {
      qidoTextDigest: 'an older answer',
      textSource: 'instance',
      text: { patientName: 'Διονυσιος', patientId: 'GREEK-1', description: '' },
    });
    expect(details?.patientName).toBe('Διονυσιος');
    expect(details?.qidoTextDigest).toBeNull();
  });
});
