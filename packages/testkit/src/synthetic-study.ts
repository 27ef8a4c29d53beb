import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrthancInstance, UploadResult } from './orthanc.fixture.js';
import { newUid } from './uid.js';

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const TRANSFER_SYNTAXES = {
  'explicit-le': '1.2.840.10008.1.2.1',
  'implicit-le': '1.2.840.10008.1.2',
} as const;
// Identifies files written here (PS3.7 D.3.3.2): a fixed UID under 2.25 and a short version name.
const IMPLEMENTATION_CLASS_UID = '2.25.318275470284183960434911432795542716817';
const IMPLEMENTATION_VERSION = 'STUDYLINK_TK_1';

export interface SyntheticStudyOptions {
  /** Directory to write into (created if missing). Files are named `s<series>_i<instance>.dcm`. */
  dir: string;
  studyInstanceUid?: string;
  patientName: string;
  patientId: string;
  series: number;
  instancesPerSeries: number;
  rows?: number;
  columns?: number;
  bitsAllocated?: 8 | 16;
  modality?: 'CT';
  transferSyntax?: keyof typeof TRANSFER_SYNTAXES;
  studyDate?: string;
  studyTime?: string;
  studyDescription?: string;
  studyId?: string;
  accessionNumber?: string;
  institutionName?: string;
  patientBirthDate?: string;
  patientSex?: 'M' | 'F' | 'O' | '';
}

export interface SyntheticStudy {
  studyInstanceUid: string;
  seriesInstanceUids: string[];
  /** Paths in order: series by series, instance by instance. */
  files: string[];
  totalBytes: number;
}

/**
 * Writes a CT study as PS3.10 files (CT Image Storage, MONOCHROME2, 12 of 16 bits stored by default)
 * with every type 1 and type 2 attribute of the CT image IOD. Patient name may be any Unicode text
 * (written as ISO_IR 192). One pixel buffer serves all images; each differs in its first row.
 * @example const study = await writeSyntheticStudy({ dir, patientName: 'Doe^Jane', patientId: 'P1', series: 2, instancesPerSeries: 10 });
 */
export async function writeSyntheticStudy(options: SyntheticStudyOptions): Promise<SyntheticStudy> {
  const {
    dir,
    patientName,
    patientId,
    series,
    instancesPerSeries,
    rows = 512,
    columns = 512,
    bitsAllocated = 16,
    modality = 'CT',
    transferSyntax = 'explicit-le',
    studyDate = '20240115',
    studyTime = '101500',
    studyDescription = 'Synthetic CT',
    studyId = '1',
    accessionNumber = '',
    institutionName = 'Studylink Test Hospital',
    patientBirthDate = '',
    patientSex = '',
  } = options;
  if (!Number.isInteger(series) || series < 1) throw new Error('writeSyntheticStudy: series must be >= 1');
  if (!Number.isInteger(instancesPerSeries) || instancesPerSeries < 1) {
    throw new Error('writeSyntheticStudy: instancesPerSeries must be >= 1');
  }
  if (
    !Number.isInteger(rows) ||
    !Number.isInteger(columns) ||
    rows < 1 ||
    columns < 1 ||
    rows > 65535 ||
    columns > 65535
  ) {
    throw new Error('writeSyntheticStudy: rows and columns must be 1..65535');
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16)
    throw new Error('writeSyntheticStudy: bitsAllocated must be 8 or 16');
  const transferSyntaxUid = TRANSFER_SYNTAXES[transferSyntax];
  if (!transferSyntaxUid)
    throw new Error(`writeSyntheticStudy: unsupported transfer syntax ${transferSyntax}`);
  const explicit = transferSyntax === 'explicit-le';

  await mkdir(dir, { recursive: true });
  const studyInstanceUid = options.studyInstanceUid ?? newUid();
  const bitsStored = bitsAllocated === 16 ? 12 : 8;
  const bytesPerPixel = bitsAllocated / 8;
  const rowBytes = columns * bytesPerPixel;
  const pixels = phantom(rows, columns, bitsAllocated);
  const pixelLength = rows * rowBytes;
  const pixelPadding = pixelLength % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  const pixelBody = pixels.subarray(rowBytes); // shared by every image; row 0 is written per image
  const sliceThickness = 2.5;

  const files: string[] = [];
  const seriesInstanceUids: string[] = [];
  let totalBytes = 0;
  for (let s = 1; s <= series; s += 1) {
    const seriesInstanceUid = newUid();
    const frameOfReferenceUid = newUid();
    seriesInstanceUids.push(seriesInstanceUid);
    for (let i = 1; i <= instancesPerSeries; i += 1) {
      const sopInstanceUid = newUid();
      const z = (i - 1) * sliceThickness;
      const dataset = new ElementWriter(explicit);
      dataset.str(0x0008, 0x0005, 'CS', 'ISO_IR 192');
      dataset.str(0x0008, 0x0008, 'CS', 'ORIGINAL\\PRIMARY\\AXIAL');
      dataset.str(0x0008, 0x0016, 'UI', CT_IMAGE_STORAGE);
      dataset.str(0x0008, 0x0018, 'UI', sopInstanceUid);
      dataset.str(0x0008, 0x0020, 'DA', studyDate);
      dataset.str(0x0008, 0x0021, 'DA', studyDate);
      dataset.str(0x0008, 0x0023, 'DA', studyDate);
      dataset.str(0x0008, 0x0030, 'TM', studyTime);
      dataset.str(0x0008, 0x0031, 'TM', studyTime);
      dataset.str(0x0008, 0x0033, 'TM', studyTime);
      dataset.str(0x0008, 0x0050, 'SH', accessionNumber);
      dataset.str(0x0008, 0x0060, 'CS', modality);
      dataset.str(0x0008, 0x0070, 'LO', 'Studylink testkit');
      dataset.str(0x0008, 0x0080, 'LO', institutionName);
      dataset.str(0x0008, 0x0090, 'PN', '');
      dataset.str(0x0008, 0x1030, 'LO', studyDescription);
      dataset.str(0x0008, 0x103e, 'LO', `Synthetic series ${s}`);
      dataset.str(0x0010, 0x0010, 'PN', patientName);
      dataset.str(0x0010, 0x0020, 'LO', patientId);
      dataset.str(0x0010, 0x0030, 'DA', patientBirthDate);
      dataset.str(0x0010, 0x0040, 'CS', patientSex);
      dataset.str(0x0018, 0x0050, 'DS', String(sliceThickness));
      dataset.str(0x0018, 0x0060, 'DS', '120');
      dataset.str(0x0018, 0x5100, 'CS', 'HFS');
      dataset.str(0x0020, 0x000d, 'UI', studyInstanceUid);
      dataset.str(0x0020, 0x000e, 'UI', seriesInstanceUid);
      dataset.str(0x0020, 0x0010, 'SH', studyId);
      dataset.str(0x0020, 0x0011, 'IS', String(s));
      dataset.str(0x0020, 0x0012, 'IS', '1');
      dataset.str(0x0020, 0x0013, 'IS', String(i));
      dataset.str(0x0020, 0x0032, 'DS', `-250\\-250\\${-z}`);
      dataset.str(0x0020, 0x0037, 'DS', '1\\0\\0\\0\\1\\0');
      dataset.str(0x0020, 0x0052, 'UI', frameOfReferenceUid);
      dataset.str(0x0020, 0x1040, 'LO', '');
      dataset.str(0x0020, 0x1041, 'DS', String(-z));
      dataset.us(0x0028, 0x0002, 1);
      dataset.str(0x0028, 0x0004, 'CS', 'MONOCHROME2');
      dataset.us(0x0028, 0x0010, rows);
      dataset.us(0x0028, 0x0011, columns);
      dataset.str(0x0028, 0x0030, 'DS', '0.9765625\\0.9765625');
      dataset.us(0x0028, 0x0100, bitsAllocated);
      dataset.us(0x0028, 0x0101, bitsStored);
      dataset.us(0x0028, 0x0102, bitsStored - 1);
      dataset.us(0x0028, 0x0103, 0);
      dataset.str(0x0028, 0x1050, 'DS', '40');
      dataset.str(0x0028, 0x1051, 'DS', '400');
      dataset.str(0x0028, 0x1052, 'DS', bitsAllocated === 16 ? '-1024' : '0');
      dataset.str(0x0028, 0x1053, 'DS', '1');
      dataset.str(0x0028, 0x1054, 'LO', 'HU');
      dataset.header(0x7fe0, 0x0010, bitsAllocated === 16 ? 'OW' : 'OB', pixelLength + pixelPadding.length);

      const head = Buffer.concat([
        fileMeta(sopInstanceUid, transferSyntaxUid),
        dataset.toBuffer(),
        firstRow(pixels, rowBytes, s * 10_000 + i),
      ]);
      const path = join(dir, `s${pad(s, 3)}_i${pad(i, 4)}.dcm`);
      const handle = await open(path, 'w');
      try {
        await handle.writev([head, pixelBody, pixelPadding]);
      } finally {
        await handle.close();
      }
      files.push(path);
      totalBytes += head.length + pixelBody.length + pixelPadding.length;
    }
  }
  return { studyInstanceUid, seriesInstanceUids, files, totalBytes };
}

export interface UploadedFile extends UploadResult {
  file: string;
}

/**
 * Uploads every file under `dir` (recursively, in name order) to Orthanc, `concurrency` at a time.
 * @example await uploadDirectory(orthanc, study.dir, 8);
 */
export async function uploadDirectory(
  orthanc: Pick<OrthancInstance, 'upload'>,
  dir: string,
  concurrency = 4,
): Promise<UploadedFile[]> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  const results: UploadedFile[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const index = next;
      next += 1;
      const file = files[index] as string;
      results[index] = { file, ...(await orthanc.upload(file)) };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, worker));
  return results;
}

// A disc of soft tissue in air with a little noise: looks like something in a viewer and compresses
// like an image, not like random bytes. Computed once per study.
function phantom(rows: number, columns: number, bitsAllocated: 8 | 16): Buffer {
  const buffer = Buffer.alloc(rows * columns * (bitsAllocated / 8));
  const cy = rows / 2;
  const cx = columns / 2;
  const radius2 = (Math.min(rows, columns) * 0.42) ** 2;
  let seed = 0x2545f491;
  for (let y = 0; y < rows; y += 1) {
    for (let x = 0; x < columns; x += 1) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const noise = (seed >>> 0) % 24;
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < radius2;
      const offset = (y * columns + x) * (bitsAllocated / 8);
      if (bitsAllocated === 16)
        buffer.writeUInt16LE((inside ? 1064 : 24) + noise, offset); // ~40 HU / air
      else buffer[offset] = (inside ? 128 : 8) + noise;
    }
  }
  return buffer;
}

// Row 0 of each image carries its number, so no two images of a study have the same pixels.
function firstRow(pixels: Buffer, rowBytes: number, stamp: number): Buffer {
  const row = Buffer.from(pixels.subarray(0, rowBytes));
  const text = String(stamp);
  for (let k = 0; k < text.length && k * 2 < rowBytes; k += 1) row[k * 2] = text.charCodeAt(k);
  return row;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Little-endian element encoder; elements must be added in ascending tag order. */
class ElementWriter {
  private readonly parts: Buffer[] = [];
  private length = 0;

  constructor(private readonly explicitVr: boolean) {}

  str(group: number, element: number, vr: string, value: string): void {
    let bytes = Buffer.from(value, vr === 'PN' || vr === 'LO' || vr === 'SH' ? 'utf8' : 'latin1');
    if (bytes.length % 2 === 1) bytes = Buffer.concat([bytes, Buffer.from([vr === 'UI' ? 0x00 : 0x20])]);
    this.header(group, element, vr, bytes.length);
    this.push(bytes);
  }

  us(group: number, element: number, value: number): void {
    const bytes = Buffer.alloc(2);
    bytes.writeUInt16LE(value);
    this.header(group, element, 'US', 2);
    this.push(bytes);
  }

  ob(group: number, element: number, value: Buffer): void {
    this.header(group, element, 'OB', value.length);
    this.push(value);
  }

  /** Tag, VR and length only; the caller supplies the value bytes. */
  header(group: number, element: number, vr: string, valueLength: number): void {
    const long = LONG_VRS.has(vr);
    if (this.explicitVr && !long && valueLength > 0xffff) throw new Error(`value too long for ${vr}`);
    const bytes = Buffer.alloc(this.explicitVr ? (long ? 12 : 8) : 8);
    bytes.writeUInt16LE(group, 0);
    bytes.writeUInt16LE(element, 2);
    if (!this.explicitVr) {
      bytes.writeUInt32LE(valueLength, 4);
    } else {
      bytes.write(vr, 4, 'latin1');
      if (long) bytes.writeUInt32LE(valueLength, 8);
      else bytes.writeUInt16LE(valueLength, 6);
    }
    this.push(bytes);
  }

  get byteLength(): number {
    return this.length;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }

  private push(bytes: Buffer): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }
}

// PS3.10 preamble, "DICM" and the File Meta Information (always Explicit VR Little Endian).
function fileMeta(sopInstanceUid: string, transferSyntaxUid: string): Buffer {
  const meta = new ElementWriter(true);
  meta.ob(0x0002, 0x0001, Buffer.from([0x00, 0x01]));
  meta.str(0x0002, 0x0002, 'UI', CT_IMAGE_STORAGE);
  meta.str(0x0002, 0x0003, 'UI', sopInstanceUid);
  meta.str(0x0002, 0x0010, 'UI', transferSyntaxUid);
  meta.str(0x0002, 0x0012, 'UI', IMPLEMENTATION_CLASS_UID);
  meta.str(0x0002, 0x0013, 'SH', IMPLEMENTATION_VERSION);
  const groupLength = new ElementWriter(true);
  const value = Buffer.alloc(4);
  value.writeUInt32LE(meta.byteLength);
  groupLength.header(0x0002, 0x0000, 'UL', 4);
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM', 'latin1'),
    groupLength.toBuffer(),
    value,
    meta.toBuffer(),
  ]);
}
