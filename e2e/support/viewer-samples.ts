import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  newUidOfLength,
  type OrthancInstance,
  replaceUids,
  samplePathOrThrow,
  sampleStudy,
} from '@studylink/testkit';

/**
 * A CT stack for the viewer: pydicom's CT_small.dcm `count` times in one series of a new study, each
 * slice with its own SOP Instance UID and its pixels shifted by a few rows, so
 * scrolling shows a different image. Returns the study's UIDs as uploaded.
 */
export async function uploadCtStack(
  orthanc: Pick<OrthancInstance, 'upload'>,
  count: number,
  seriesCount = 1,
): Promise<{ studyInstanceUid: string; seriesInstanceUids: string[] }> {
  const ct = sampleStudy('CT_small.dcm');
  if (!ct) throw new Error('CT_small.dcm is not in the sample catalogue');
  const original = readFileSync(samplePathOrThrow(ct.name));
  const study = newUidOfLength(ct.studyInstanceUid.length);
  const series = Array.from({ length: seriesCount }, () => newUidOfLength(ct.seriesInstanceUid.length));
  // CT_small: 128 x 128 x 16 bits in (7FE0,0010) OW, explicit VR little endian.
  const pixelBytes = 128 * 128 * 2;
  const tag = original.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0]));
  if (tag < 0 || original.readUInt32LE(tag + 8) !== pixelBytes)
    throw new Error('CT_small.dcm: no PixelData found');
  const pixelStart = tag + 12;
  for (const seriesUid of series) {
    for (let i = 0; i < count; i++) {
      const bytes = replaceUids(original, {
        [ct.studyInstanceUid]: study,
        [ct.seriesInstanceUid]: seriesUid,
        [ct.sopInstanceUid]: newUidOfLength(ct.sopInstanceUid.length),
      });
      const pixels = bytes.subarray(pixelStart, pixelStart + pixelBytes);
      const shift = (i * 2 * 128 * 2) % pixelBytes;
      const rotated = Buffer.concat([pixels.subarray(shift), pixels.subarray(0, shift)]);
      rotated.copy(pixels);
      await orthanc.upload(bytes);
    }
  }
  return { studyInstanceUid: study, seriesInstanceUids: series };
}

/**
 * Uploads a pydicom sample under fresh Study, Series and SOP Instance UIDs (read from the file with
 * dcmtk's dcmdump), so samples that share UIDs become studies of their own. A deflated file's UIDs
 * are not in its bytes as such: it goes up as it is.
 */
export async function uploadWithNewUids(
  orthanc: Pick<OrthancInstance, 'upload'>,
  name: string,
): Promise<{ name: string; studyInstanceUid: string }> {
  const path = samplePathOrThrow(name);
  const read = (tag: string) =>
    /\[([0-9.]+)\]/.exec(execFileSync('dcmdump', ['-s', '+P', tag, path], { encoding: 'latin1' }))?.[1] ?? '';
  const [study, series, sop] = ['0020,000d', '0020,000e', '0008,0018'].map(read) as [string, string, string];
  const bytes = readFileSync(path);
  if (!bytes.includes(Buffer.from(study, 'latin1'))) {
    await orthanc.upload(bytes);
    return { name, studyInstanceUid: study };
  }
  const fresh = newUidOfLength(study.length);
  await orthanc.upload(
    replaceUids(bytes, {
      [study]: fresh,
      [series]: newUidOfLength(series.length),
      [sop]: newUidOfLength(sop.length),
    }),
  );
  return { name, studyInstanceUid: fresh };
}
