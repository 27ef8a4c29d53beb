import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  newUid,
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

/** SOP classes of series that hold no image, by the modality they are stored with. */
const NON_IMAGE_SERIES = [
  { modality: 'SEG', sopClass: '1.2.840.10008.5.1.4.1.1.66.4', description: 'Liver segmentation' },
  { modality: 'SR', sopClass: '1.2.840.10008.5.1.4.1.1.88.11', description: 'Radiology report' },
  { modality: 'DOC', sopClass: '1.2.840.10008.5.1.4.1.1.104.1', description: 'Referral letter' },
  { modality: 'KO', sopClass: '1.2.840.10008.5.1.4.1.1.88.59', description: 'Key images' },
] as const;

/**
 * Adds one series without images of each kind (a segmentation, a report, a PDF, a key-object
 * selection) to a study, written with dcmtk's dump2dcm (attributes only: what a viewer sees of them
 * in QIDO-RS and the metadata). Series numbers from `firstSeriesNumber` on.
 */
export async function uploadNonImageSeries(
  orthanc: Pick<OrthancInstance, 'upload'>,
  study: { studyInstanceUid: string; patientName: string; patientId: string; firstSeriesNumber: number },
): Promise<Array<{ modality: string; seriesInstanceUid: string; description: string }>> {
  const dir = mkdtempSync(join(tmpdir(), 'studylink-nonimage-'));
  const out = [];
  try {
    for (const [i, s] of NON_IMAGE_SERIES.entries()) {
      const series = newUid();
      const dump = [
        `(0008,0016) UI [${s.sopClass}]`,
        `(0008,0018) UI [${newUid()}]`,
        `(0008,0060) CS [${s.modality}]`,
        `(0008,103e) LO [${s.description}]`,
        `(0010,0010) PN [${study.patientName}]`,
        `(0010,0020) LO [${study.patientId}]`,
        `(0020,000d) UI [${study.studyInstanceUid}]`,
        `(0020,000e) UI [${series}]`,
        `(0020,0011) IS [${study.firstSeriesNumber + i}]`,
        '(0020,0013) IS [1]',
      ].join('\n');
      writeFileSync(join(dir, `${i}.dump`), `${dump}\n`);
      execFileSync('dump2dcm', ['-q', '+te', join(dir, `${i}.dump`), join(dir, `${i}.dcm`)]);
      await orthanc.upload(readFileSync(join(dir, `${i}.dcm`)));
      out.push({ modality: s.modality, seriesInstanceUid: series, description: s.description });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** pydicom's samples in as many transfer syntaxes as the viewer reads, for one multi-syntax study. */
export const MULTI_SYNTAX_SAMPLES = [
  'CT_small.dcm',
  'MR_small_implicit.dcm',
  'MR_small_bigendian.dcm',
  'SC_rgb_jpeg_dcmtk.dcm',
  'MR_small_jpeg_ls_lossless.dcm',
  'JPEG2000.dcm',
  'MR_small_RLE.dcm',
  'SC_rgb_rle_2frame.dcm',
];

/**
 * One study holding a series per sample of MULTI_SYNTAX_SAMPLES (explicit and implicit little
 * endian, big endian, JPEG baseline, JPEG-LS, JPEG 2000, RLE, a multi-frame RLE), rewritten by dcmtk's
 * dcmodify onto one patient and study with fresh series and instance UIDs. Returns the study UID.
 */
export async function uploadMultiSyntaxStudy(orthanc: Pick<OrthancInstance, 'upload'>): Promise<string> {
  const study = newUid();
  const dir = mkdtempSync(join(tmpdir(), 'studylink-multi-'));
  try {
    for (const [i, name] of MULTI_SYNTAX_SAMPLES.entries()) {
      const file = join(dir, name);
      writeFileSync(file, readFileSync(samplePathOrThrow(name)));
      execFileSync('dcmodify', [
        '-nb',
        '-q',
        '-i',
        `(0020,000d)=${study}`,
        '-i',
        `(0020,000e)=${newUid()}`,
        '-i',
        `(0008,0018)=${newUid()}`,
        '-i',
        '(0010,0020)=MULTI-0001',
        '-i',
        '(0010,0010)=MULTI^Syntax',
        '-i',
        `(0020,0011)=${i + 1}`,
        file,
      ]);
      await orthanc.upload(readFileSync(file));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return study;
}
