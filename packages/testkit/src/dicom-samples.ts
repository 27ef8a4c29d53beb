import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import type { OrthancInstance } from './orthanc.fixture.js';
import { newUidOfLength } from './uid.js';

/** pydicom's test files as shipped by Debian's python3-pydicom (override with `PYDICOM_DATA_DIR`). */
const PYDICOM_DATA = process.env.PYDICOM_DATA_DIR ?? '/usr/lib/python3/dist-packages/pydicom/data';
export const SAMPLE_DIR = join(PYDICOM_DATA, 'test_files');
export const CHARSET_DIR = join(PYDICOM_DATA, 'charset_files');

/** A DICOM PN value as DICOM JSON (QIDO-RS) carries it. */
export interface PersonName {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

export interface SampleStudy {
  /** File name, e.g. 'MR_small_bigendian.dcm'. */
  name: string;
  path: string;
  /** What the sample is there for. */
  covers: string;
  transferSyntaxUid: string;
  sopClassUid: string;
  modality: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** SpecificCharacterSet (0008,0005) of the file, '' when absent. */
  specificCharacterSet: string;
  /** PatientName (0010,0010) as Orthanc 1.10 / DICOMweb 1.7 QIDO-RS returns it with DefaultEncoding Utf8. */
  qidoPatientName: PersonName;
  /** Another sample with the same Study/Series/SOP Instance UIDs: in one store only the first is kept. */
  sameUidsAs?: string;
}

const TS = {
  explicitLE: '1.2.840.10008.1.2.1',
  implicitLE: '1.2.840.10008.1.2',
  explicitBE: '1.2.840.10008.1.2.2',
  rle: '1.2.840.10008.1.2.5',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpeg2000: '1.2.840.10008.1.2.4.91',
} as const;
const SOP = {
  ct: '1.2.840.10008.5.1.4.1.1.2',
  mr: '1.2.840.10008.5.1.4.1.1.4',
  cr: '1.2.840.10008.5.1.4.1.1.1',
  sc: '1.2.840.10008.5.1.4.1.1.7',
} as const;

const MR_SMALL = {
  sopClassUid: SOP.mr,
  modality: 'MR',
  studyInstanceUid: '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457',
  seriesInstanceUid: '1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457',
  sopInstanceUid: '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457',
  specificCharacterSet: '',
  qidoPatientName: { Alphabetic: 'CompressedSamples^MR1' },
};

// The charset files of David Clunie's set share one naming scheme for their UIDs.
function clunieCharset(stamp: string) {
  return {
    sopClassUid: SOP.sc,
    modality: 'OT',
    transferSyntaxUid: TS.explicitLE,
    studyInstanceUid: `1.3.6.1.4.1.5962.1.2.0.${stamp}`,
    seriesInstanceUid: `1.3.6.1.4.1.5962.1.3.0.1.${stamp}`,
    sopInstanceUid: `1.3.6.1.4.1.5962.1.1.0.1.1.${stamp}`,
  };
}

/**
 * pydicom samples that Orthanc 1.10 stores, one per transfer syntax and character set we care about.
 * Orthanc refuses some other pydicom files on purpose (MR_truncated, no_meta, SC_rgb_jpeg,
 * rtplan_truncated: "Bad file format"; UN_sequence, priv_SQ, chrSQEncoding*: "Inexistent tag").
 */
export const SAMPLE_STUDIES: readonly SampleStudy[] = Object.freeze([
  {
    name: 'CT_small.dcm',
    path: join(SAMPLE_DIR, 'CT_small.dcm'),
    covers: 'CT, Explicit VR Little Endian, ISO_IR 100',
    transferSyntaxUid: TS.explicitLE,
    sopClassUid: SOP.ct,
    modality: 'CT',
    studyInstanceUid: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322',
    seriesInstanceUid: '1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322',
    sopInstanceUid: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322',
    specificCharacterSet: 'ISO_IR 100',
    qidoPatientName: { Alphabetic: 'CompressedSamples^CT1' },
  },
  {
    name: 'MR_small.dcm',
    path: join(SAMPLE_DIR, 'MR_small.dcm'),
    covers: 'MR, Explicit VR Little Endian',
    transferSyntaxUid: TS.explicitLE,
    ...MR_SMALL,
  },
  {
    name: 'MR_small_implicit.dcm',
    path: join(SAMPLE_DIR, 'MR_small_implicit.dcm'),
    covers: 'Implicit VR Little Endian',
    transferSyntaxUid: TS.implicitLE,
    ...MR_SMALL,
    sameUidsAs: 'MR_small.dcm',
  },
  {
    name: 'MR_small_bigendian.dcm',
    path: join(SAMPLE_DIR, 'MR_small_bigendian.dcm'),
    covers: 'Explicit VR Big Endian (retired)',
    transferSyntaxUid: TS.explicitBE,
    ...MR_SMALL,
    sameUidsAs: 'MR_small.dcm',
  },
  {
    name: 'MR_small_RLE.dcm',
    path: join(SAMPLE_DIR, 'MR_small_RLE.dcm'),
    covers: 'RLE Lossless',
    transferSyntaxUid: TS.rle,
    ...MR_SMALL,
    sameUidsAs: 'MR_small.dcm',
  },
  {
    name: 'MR_small_jpeg_ls_lossless.dcm',
    path: join(SAMPLE_DIR, 'MR_small_jpeg_ls_lossless.dcm'),
    covers: 'JPEG-LS Lossless',
    transferSyntaxUid: TS.jpegLsLossless,
    ...MR_SMALL,
    sameUidsAs: 'MR_small.dcm',
  },
  {
    name: 'JPEG2000.dcm',
    path: join(SAMPLE_DIR, 'JPEG2000.dcm'),
    covers: 'JPEG 2000, NM secondary capture',
    transferSyntaxUid: TS.jpeg2000,
    sopClassUid: SOP.sc,
    modality: 'NM',
    studyInstanceUid: '1.3.6.1.4.1.5962.1.2.8.20040826185059.5457',
    seriesInstanceUid: '1.3.6.1.4.1.5962.1.3.8.1.20040826185059.5457',
    sopInstanceUid: '1.3.6.1.4.1.5962.1.1.8.1.3.20040826185059.5457',
    specificCharacterSet: '',
    qidoPatientName: { Alphabetic: 'CompressedSamples^NM1' },
  },
  {
    name: 'SC_rgb_jpeg_dcmtk.dcm',
    path: join(SAMPLE_DIR, 'SC_rgb_jpeg_dcmtk.dcm'),
    covers: 'JPEG Baseline (process 1), RGB, ISO_IR 192',
    transferSyntaxUid: TS.jpegBaseline,
    sopClassUid: SOP.sc,
    modality: 'OT',
    studyInstanceUid: '1.2.826.0.1.3680043.8.498.12406831542731051035295345080039845114',
    seriesInstanceUid: '1.2.826.0.1.3680043.8.498.16157229083793556332623330502397121062',
    sopInstanceUid: '1.2.276.0.7230010.3.1.4.8323329.15150.1506363677.126194',
    specificCharacterSet: 'ISO_IR 192',
    qidoPatientName: { Alphabetic: 'Lestrade^G' },
  },
  {
    name: 'chrGreek.dcm',
    path: join(CHARSET_DIR, 'chrGreek.dcm'),
    covers: 'Greek, ISO_IR 126',
    ...clunieCharset('1175775772.5717.0'),
    specificCharacterSet: 'ISO_IR 126',
    qidoPatientName: { Alphabetic: 'Διονυσιος' },
  },
  {
    name: 'chrRuss.dcm',
    path: join(CHARSET_DIR, 'chrRuss.dcm'),
    covers: 'Cyrillic, ISO_IR 144',
    ...clunieCharset('1175775772.5729.0'),
    specificCharacterSet: 'ISO_IR 144',
    // Sic: the file mixes Cyrillic with Latin look-alikes ("c", "e", "y", "p").
    qidoPatientName: { Alphabetic: 'Люкceмбypг' },
  },
  {
    name: 'chrGerm.dcm',
    path: join(CHARSET_DIR, 'chrGerm.dcm'),
    covers: 'Latin-1 with umlauts and a ^ in the name, ISO_IR 100',
    ...clunieCharset('1175775772.5723.0'),
    specificCharacterSet: 'ISO_IR 100',
    qidoPatientName: { Alphabetic: 'Äneas^Rüdiger' },
  },
  {
    name: 'chrX1.dcm',
    path: join(CHARSET_DIR, 'chrX1.dcm'),
    covers: 'UTF-8 (ISO_IR 192), PN with ^ and = component groups',
    ...clunieCharset('1175775771.5711.0'),
    specificCharacterSet: 'ISO_IR 192',
    qidoPatientName: { Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小東', Phonetic: '' },
  },
  {
    name: 'chrH31.dcm',
    path: join(CHARSET_DIR, 'chrH31.dcm'),
    covers: 'Japanese, ISO 2022 IR 87 code extensions, three PN groups',
    ...clunieCharset('1175775771.5702.0'),
    specificCharacterSet: '\\ISO 2022 IR 87',
    qidoPatientName: { Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' },
  },
  {
    name: 'chrJapMulti.dcm',
    path: join(CHARSET_DIR, 'chrJapMulti.dcm'),
    covers: 'Japanese, ISO 2022 IR 87, CR',
    transferSyntaxUid: TS.explicitLE,
    sopClassUid: SOP.cr,
    modality: 'CR',
    studyInstanceUid: '1.3.51.0.7.11986030739.15242.20106.39861.48967.23056.44420',
    seriesInstanceUid: '1.3.51.5156.11871.20080504.1104919',
    sopInstanceUid: '1.3.51.0.7.11267079384.54094.16836.47802.41082.29308.17462',
    specificCharacterSet: '\\ISO 2022 IR 87',
    qidoPatientName: { Alphabetic: 'やまだ^たろう' },
  },
]);

/** The catalog entry for a sample name, or undefined. */
export function sampleStudy(name: string): SampleStudy | undefined {
  return SAMPLE_STUDIES.find((s) => s.name === name);
}

/** Absolute path of a pydicom sample given by name (looked up in SAMPLE_DIR, then CHARSET_DIR) or path. */
export function samplePathOrThrow(nameOrPath: string): string {
  if (isAbsolute(nameOrPath)) return nameOrPath;
  const known = sampleStudy(nameOrPath);
  if (known) return known.path;
  for (const dir of [SAMPLE_DIR, CHARSET_DIR]) {
    const candidate = join(dir, nameOrPath);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`no pydicom sample named ${nameOrPath} in ${SAMPLE_DIR} or ${CHARSET_DIR}`);
}

export interface LoadedSample {
  name: string;
  path: string;
  /** The bytes uploaded (the file itself, or the copy with new UIDs): compare downloads with these. */
  bytes: Buffer;
  orthancId: string;
  /** 'Success', or 'AlreadyStored' if an instance with the same SOP Instance UID was there. */
  status: string;
  studyInstanceUid: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
}

export interface LoadSamplesOptions {
  /**
   * 'as-is' (default) uploads the files unchanged. 'unique' gives each catalog sample fresh Study, Series
   * and SOP Instance UIDs of the same lengths (an in-place byte substitution, valid in every transfer
   * syntax), so samples that share UIDs, like the MR_small variants, become separate studies.
   */
  uids?: 'as-is' | 'unique';
}

/**
 * Uploads pydicom samples (names from SAMPLE_STUDIES or any file in SAMPLE_DIR/CHARSET_DIR, or paths)
 * in order and reports what Orthanc made of each.
 * @example const [ct] = await loadSamples(orthanc, ['CT_small.dcm']); ct.studyInstanceUid
 */
export async function loadSamples(
  orthanc: Pick<OrthancInstance, 'upload'>,
  names: readonly string[] = SAMPLE_STUDIES.map((s) => s.name),
  { uids = 'as-is' }: LoadSamplesOptions = {},
): Promise<LoadedSample[]> {
  const loaded: LoadedSample[] = [];
  for (const name of names) {
    const path = samplePathOrThrow(name);
    const known = sampleStudy(basename(path));
    let bytes: Buffer = await readFile(path);
    let ids = known
      ? {
          seriesInstanceUid: known.seriesInstanceUid,
          sopInstanceUid: known.sopInstanceUid,
        }
      : {};
    if (uids === 'unique') {
      if (!known) throw new Error(`loadSamples: new UIDs need a catalog entry, and ${name} has none`);
      const fresh = {
        studyInstanceUid: newUidOfLength(known.studyInstanceUid.length),
        seriesInstanceUid: newUidOfLength(known.seriesInstanceUid.length),
        sopInstanceUid: newUidOfLength(known.sopInstanceUid.length),
      };
      bytes = replaceUids(bytes, {
        [known.studyInstanceUid]: fresh.studyInstanceUid,
        [known.seriesInstanceUid]: fresh.seriesInstanceUid,
        [known.sopInstanceUid]: fresh.sopInstanceUid,
      });
      ids = fresh;
    }
    const result = await orthanc.upload(bytes);
    loaded.push({
      name: basename(path),
      path,
      bytes,
      orthancId: result.id,
      status: result.status,
      studyInstanceUid: result.studyInstanceUid,
      ...ids,
    });
  }
  return loaded;
}

/**
 * Replaces UID strings in raw DICOM bytes by others of the same length (so no length field changes),
 * wherever they stand as a whole value. Throws if a UID is missing or a replacement has another length.
 */
export function replaceUids(bytes: Buffer, replacements: Record<string, string>): Buffer {
  const out = Buffer.from(bytes);
  for (const [from, to] of Object.entries(replacements)) {
    if (from.length !== to.length) throw new Error(`replaceUids: ${to} is not as long as ${from}`);
    const needle = Buffer.from(from, 'latin1');
    let found = 0;
    for (let at = out.indexOf(needle); at !== -1; at = out.indexOf(needle, at + needle.length)) {
      // A whole value: not part of a longer UID on either side. Before it only a digit counts: in
      // big endian, a value length of 46 (0x002E) ends in the byte of '.'.
      if (isDigit(out[at - 1]) || isUidChar(out[at + needle.length])) continue;
      out.write(to, at, 'latin1');
      found += 1;
    }
    if (found === 0) throw new Error(`replaceUids: ${from} does not occur`);
  }
  return out;
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

function isUidChar(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || byte === 0x2e);
}

/**
 * Every file of pydicom's charset_files that Orthanc 1.10 stores (it refuses chrSQEncoding*:
 * "Inexistent tag"): ISO 8859 sets, ISO 2022 with Japanese and Korean, GB18030, UTF-8.
 */
export const CHARSET_SAMPLES: readonly string[] = Object.freeze([
  'chrArab.dcm',
  'chrFren.dcm',
  'chrFrenMulti.dcm',
  'chrGerm.dcm',
  'chrGreek.dcm',
  'chrH31.dcm',
  'chrH32.dcm',
  'chrHbrw.dcm',
  'chrI2.dcm',
  'chrJapMulti.dcm',
  'chrJapMultiExplicitIR6.dcm',
  'chrKoreanMulti.dcm',
  'chrRuss.dcm',
  'chrX1.dcm',
  'chrX2.dcm',
]);

export interface FreshSample {
  name: string;
  /** The bytes uploaded: the file with new Study, Series and SOP Instance UIDs of the same lengths. */
  bytes: Buffer;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/**
 * Uploads any pydicom sample under fresh UIDs, read from the file itself with pydicom (so samples
 * that share UIDs, like chrFren and chrFrenMulti, become studies of their own).
 */
export async function uploadWithFreshUids(
  orthanc: Pick<OrthancInstance, 'upload'>,
  names: readonly string[],
): Promise<FreshSample[]> {
  const { pydicomHeaders } = await import('./dicom-validators.js');
  const paths = names.map(samplePathOrThrow);
  const headers = await pydicomHeaders(paths);
  const out: FreshSample[] = [];
  for (const [i, path] of paths.entries()) {
    const h = headers[i];
    if (!h) throw new Error(`uploadWithFreshUids: pydicom cannot read ${path}`);
    const fresh = {
      studyInstanceUid: newUidOfLength(h.studyInstanceUid.length),
      seriesInstanceUid: newUidOfLength(h.seriesInstanceUid.length),
      sopInstanceUid: newUidOfLength(h.sopInstanceUid.length),
    };
    const bytes = replaceUids(await readFile(path), {
      [h.studyInstanceUid]: fresh.studyInstanceUid,
      [h.seriesInstanceUid]: fresh.seriesInstanceUid,
      [h.sopInstanceUid]: fresh.sopInstanceUid,
    });
    const result = await orthanc.upload(bytes);
    if (result.status !== 'Success') throw new Error(`uploadWithFreshUids: ${path}: ${result.status}`);
    out.push({ name: basename(path), bytes, ...fresh });
  }
  return out;
}
