import { randomUUID } from 'node:crypto';
import {
  encodeTextFields,
  type FieldSpec,
  headerLength,
  textElementLength,
  writeHeader,
  writeText,
  writeUl,
  writeUs,
} from './dicom-element.encoder.js';
import { assertValidFileId } from './file-id.scheme.js';

/** One instance of the file-set and where it lives. */
export interface DicomdirInstance {
  /** PS3.10 file ID of the instance inside the file-set, e.g. `fileIdFor(0, 0)`. */
  fileId: readonly string[];
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** Instance Number (0020,0013); its 1-based position in the series when unknown. */
  instanceNumber?: number | null;
}

export interface DicomdirSeries {
  seriesInstanceUid: string;
  /** Modality (0008,0060); `OT` when unknown. */
  modality?: string | null;
  /** Series Number (0020,0011); the series' 1-based position when unknown. */
  seriesNumber?: number | null;
  instances: readonly DicomdirInstance[];
}

/** What goes into a DICOMDIR of one patient's study. Text may be any Unicode: it is written as UTF-8. */
export interface DicomdirInput {
  /** File-set ID (0004,1130): up to 16 of `[A-Z0-9_ ]`; empty when omitted. */
  fileSetId?: string;
  /** Media Storage SOP Instance UID of the DICOMDIR itself; a new `2.25.` UUID-derived UID when omitted. */
  mediaStorageSopInstanceUid?: string;
  /**
   * Text is always written as UTF-8, and records carrying non-ASCII text always declare `ISO_IR 192`.
   * Setting it declares `ISO_IR 192` on every patient and study record as well.
   */
  specificCharacterSet?: 'ISO_IR 192';
  patient: {
    /** Patient ID (0010,0020); `UNKNOWN` when empty (type 1 in the record). */
    patientId?: string | null;
    /** Patient's Name (0010,0010) in DICOM PN form, e.g. `Doe^Jane` or `Yamada^Tarou=山田^太郎`. */
    patientName?: string | null;
  };
  study: {
    studyInstanceUid: string;
    /** Study Date (0008,0020) as `YYYYMMDD`; `19000101` when missing or malformed (type 1). */
    studyDate?: string | null;
    /** Study Time (0008,0030) as `HHMMSS[.FFFFFF]`; `000000` when missing or malformed (type 1). */
    studyTime?: string | null;
    studyDescription?: string | null;
    /** Study ID (0020,0010); `1` when empty (type 1). */
    studyId?: string | null;
    accessionNumber?: string | null;
  };
  /** Series in the order they should be listed; series without instances are left out. */
  series: readonly DicomdirSeries[];
}

/** The input cannot be written into a valid DICOMDIR (a malformed UID, file ID or file-set ID). */
export class InvalidDicomdirInputError extends Error {
  override name = 'InvalidDicomdirInputError';
}

const MEDIA_STORAGE_DIRECTORY_STORAGE = '1.2.840.10008.1.3.10';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
// Implementation Class UID (0002,0012) is type 1 in the File Meta (PS3.10 7.1). Without a registered
// root it is a UUID-derived UID (PS3.5 B.2), made once and fixed: it names this writer, not a file.
const IMPLEMENTATION_CLASS_UID = '2.25.132055534032711218459787390851656196177';
const IMPLEMENTATION_VERSION_NAME = 'STUDYLINK_1';
const UTF8_CHARACTER_SET = 'ISO_IR 192';

// Tags as (group << 16) | element.
const TAG = {
  metaGroupLength: 0x00020000,
  metaVersion: 0x00020001,
  firstRootRecord: 0x00041200,
  lastRootRecord: 0x00041202,
  fileSetConsistency: 0x00041212,
  directoryRecordSequence: 0x00041220,
  nextRecord: 0x00041400,
  recordInUse: 0x00041410,
  lowerLevelRecord: 0x00041420,
} as const;

// String-valued elements.
const F = {
  mediaStorageSopClass: { tag: 0x00020002, vr: 'UI' },
  mediaStorageSopInstance: { tag: 0x00020003, vr: 'UI' },
  transferSyntax: { tag: 0x00020010, vr: 'UI' },
  implementationClass: { tag: 0x00020012, vr: 'UI' },
  implementationVersion: { tag: 0x00020013, vr: 'SH' },
  fileSetId: { tag: 0x00041130, vr: 'CS' },
  recordType: { tag: 0x00041430, vr: 'CS' },
  referencedFileId: { tag: 0x00041500, vr: 'CS' },
  referencedSopClass: { tag: 0x00041510, vr: 'UI' },
  referencedSopInstance: { tag: 0x00041511, vr: 'UI' },
  referencedTransferSyntax: { tag: 0x00041512, vr: 'UI' },
  specificCharacterSet: { tag: 0x00080005, vr: 'CS' },
  studyDate: { tag: 0x00080020, vr: 'DA' },
  studyTime: { tag: 0x00080030, vr: 'TM' },
  accessionNumber: { tag: 0x00080050, vr: 'SH' },
  modality: { tag: 0x00080060, vr: 'CS' },
  studyDescription: { tag: 0x00081030, vr: 'LO' },
  patientName: { tag: 0x00100010, vr: 'PN' },
  patientId: { tag: 0x00100020, vr: 'LO' },
  studyInstanceUid: { tag: 0x0020000d, vr: 'UI' },
  seriesInstanceUid: { tag: 0x0020000e, vr: 'UI' },
  studyId: { tag: 0x00200010, vr: 'SH' },
  seriesNumber: { tag: 0x00200011, vr: 'IS' },
  instanceNumber: { tag: 0x00200013, vr: 'IS' },
} as const satisfies Record<string, FieldSpec>;

// Elements of each record type after (0004,1400-1420), in the ascending tag order an item needs
// (PS3.3 F.5). Specific Character Set (0008,0005) goes right after the (0004,xxxx) elements.
const PATIENT_FIELDS = [F.patientName, F.patientId];
const STUDY_FIELDS = [
  F.studyDate,
  F.studyTime,
  F.accessionNumber,
  F.studyDescription,
  F.studyInstanceUid,
  F.studyId,
];
const SERIES_FIELDS = [F.recordType, F.modality, F.seriesInstanceUid, F.seriesNumber];
const IMAGE_FIELDS = [
  F.recordType,
  F.referencedFileId,
  F.referencedSopClass,
  F.referencedSopInstance,
  F.referencedTransferSyntax,
  F.instanceNumber,
];

const PREFIX_LENGTH = 132;
// (0002,0001) OB with value 00 01: 12 header bytes and 2 value bytes.
const META_VERSION_LENGTH = 14;
const ITEM_HEADER_LENGTH = 8;
// (0004,1400) UL, (0004,1410) US, (0004,1420) UL: the numeric elements every record starts with.
const FIXED_RECORD_ELEMENTS_LENGTH = 12 + 10 + 12;

/**
 * Writes a complete DICOMDIR (PS3.10 file, Media Storage Directory Storage) for one patient's study.
 * @example const bytes = buildDicomdir({ patient, study, series: [{ seriesInstanceUid, modality: 'CT', seriesNumber: 1, instances }] })
 * @throws InvalidDicomdirInputError for malformed UIDs or file IDs, a bad file-set ID, a file ID used twice.
 */
export function buildDicomdir(input: DicomdirInput): Buffer {
  const forceUtf8 = input.specificCharacterSet === UTF8_CHARACTER_SET;
  // Records are planned first (values and byte length) so that every record's file offset is known
  // before anything is written; then the file is written once, links included, into one buffer.
  const records: RecordPlan[] = [];
  const add = (record: RecordPlan): RecordPlan => {
    records.push(record);
    return record;
  };

  const patient = add(patientPlan(input.patient, forceUtf8));
  const study = add(studyPlan(input.study, forceUtf8));
  patient.lower = study;

  const fileIds = new Set<string>();
  let previousSeries: RecordPlan | null = null;
  for (const [seriesPosition, series] of input.series.entries()) {
    if (series.instances.length === 0) continue;
    const seriesRecord = add(seriesPlan(series, seriesPosition + 1));
    if (previousSeries === null) study.lower = seriesRecord;
    else previousSeries.next = seriesRecord;
    previousSeries = seriesRecord;
    let previousImage: RecordPlan | null = null;
    for (const [instancePosition, instance] of series.instances.entries()) {
      const image = add(imagePlan(instance, instancePosition + 1, fileIds));
      if (previousImage === null) seriesRecord.lower = image;
      else previousImage.next = image;
      previousImage = image;
    }
  }

  const meta = encodeTextFields([
    [F.mediaStorageSopClass, MEDIA_STORAGE_DIRECTORY_STORAGE],
    [
      F.mediaStorageSopInstance,
      uid(input.mediaStorageSopInstanceUid ?? newUid(), 'DICOMDIR SOP Instance UID'),
    ],
    [F.transferSyntax, EXPLICIT_VR_LITTLE_ENDIAN],
    [F.implementationClass, IMPLEMENTATION_CLASS_UID],
    [F.implementationVersion, IMPLEMENTATION_VERSION_NAME],
  ]);
  const fileSetId = fileSetIdValue(input.fileSetId);
  const metaGroupLength = META_VERSION_LENGTH + meta.length;
  const firstRecordAt =
    PREFIX_LENGTH +
    12 + // (0002,0000) UL
    metaGroupLength +
    textElementLength(F.fileSetId.vr, fileSetId, false) +
    12 + // (0004,1200) UL
    12 + // (0004,1202) UL
    10 + // (0004,1212) US
    headerLength('SQ');

  // PS3.3 F.3-3: offsets count from the first byte of the File Meta Information, i.e. of the preamble,
  // which is the first byte of the file. Record sizes do not depend on the offsets' values (UL is
  // fixed size), so one pass over the sizes gives every position.
  let end = firstRecordAt;
  for (const record of records) {
    record.offset = end;
    end += record.length;
  }
  if (end > 0xfffffffe)
    throw new InvalidDicomdirInputError('DICOMDIR would exceed the 4 GiB a UL offset can address');

  const out = Buffer.allocUnsafe(end);
  // The preamble is 128 zero bytes, as PS3.10 7.1 asks when it is not used.
  out.fill(0, 0, 128);
  out.write('DICM', 128, 'latin1');
  let pos = writeUl(out, PREFIX_LENGTH, TAG.metaGroupLength, metaGroupLength);
  pos = writeHeader(out, pos, TAG.metaVersion, 'OB', 2);
  out[pos++] = 0x00; // File Meta Information Version: 00 01
  out[pos++] = 0x01;
  pos += meta.copy(out, pos);
  pos = writeText(out, pos, F.fileSetId, fileSetId, false);
  // Only one patient: it is both the first and the last record of the root directory entity.
  pos = writeUl(out, pos, TAG.firstRootRecord, firstRecordAt);
  pos = writeUl(out, pos, TAG.lastRootRecord, firstRecordAt);
  pos = writeUs(out, pos, TAG.fileSetConsistency, 0x0000);
  // Explicit sequence and item lengths, as dcmtk writes DICOMDIRs.
  pos = writeHeader(out, pos, TAG.directoryRecordSequence, 'SQ', end - firstRecordAt);
  for (const record of records) pos = writeRecord(out, pos, record);
  return out;
}

/**
 * A directory record to be written. One small object per record: a DICOMDIR of 100,000 instances
 * should not cost a million objects.
 */
interface RecordPlan {
  /** Elements from (0004,1430) on; the three numeric ones before it come from `next` and `lower`. */
  readonly fields: readonly FieldSpec[];
  readonly values: readonly string[];
  /** Text is UTF-8 and Specific Character Set is among the fields; otherwise all text is ASCII. */
  readonly utf8: boolean;
  /** Bytes of the whole item, item header included. */
  readonly length: number;
  offset: number;
  next: RecordPlan | null;
  lower: RecordPlan | null;
}

function plan(fields: readonly FieldSpec[], values: readonly string[], utf8: boolean): RecordPlan {
  let length = ITEM_HEADER_LENGTH + FIXED_RECORD_ELEMENTS_LENGTH;
  for (let i = 0; i < fields.length; i++) {
    length += textElementLength((fields[i] as FieldSpec).vr, values[i] ?? '', utf8);
  }
  return { fields, values, utf8, length, offset: 0, next: null, lower: null };
}

/** Patient and study records: Specific Character Set (type 1C) is added when their text needs UTF-8. */
function textRecordPlan(type: string, keys: readonly FieldSpec[], values: readonly string[], force: boolean) {
  const utf8 = force || values.some((value) => /[^\x20-\x7e]/.test(value));
  return utf8
    ? plan([F.recordType, F.specificCharacterSet, ...keys], [type, UTF8_CHARACTER_SET, ...values], true)
    : plan([F.recordType, ...keys], [type, ...values], false);
}

// Records are items with explicit lengths, as dcmtk writes them.
function writeRecord(out: Buffer, at: number, record: RecordPlan): number {
  out.writeUInt16LE(0xfffe, at);
  out.writeUInt16LE(0xe000, at + 2);
  out.writeUInt32LE(record.length - ITEM_HEADER_LENGTH, at + 4);
  let pos = writeUl(out, at + ITEM_HEADER_LENGTH, TAG.nextRecord, record.next?.offset ?? 0);
  pos = writeUs(out, pos, TAG.recordInUse, 0xffff);
  pos = writeUl(out, pos, TAG.lowerLevelRecord, record.lower?.offset ?? 0);
  const { fields, values, utf8 } = record;
  for (let i = 0; i < fields.length; i++)
    pos = writeText(out, pos, fields[i] as FieldSpec, values[i] ?? '', utf8);
  return pos;
}

function patientPlan(patient: DicomdirInput['patient'], forceUtf8: boolean): RecordPlan {
  const values = [personName(patient.patientName), text(patient.patientId, 64) || 'UNKNOWN'];
  return textRecordPlan('PATIENT', PATIENT_FIELDS, values, forceUtf8);
}

function studyPlan(study: DicomdirInput['study'], forceUtf8: boolean): RecordPlan {
  const values = [
    date(study.studyDate),
    time(study.studyTime),
    text(study.accessionNumber, 16),
    text(study.studyDescription, 64),
    uid(study.studyInstanceUid, 'Study Instance UID'),
    text(study.studyId, 16) || '1',
  ];
  return textRecordPlan('STUDY', STUDY_FIELDS, values, forceUtf8);
}

function seriesPlan(series: DicomdirSeries, position: number): RecordPlan {
  const values = [
    'SERIES',
    modality(series.modality),
    uid(series.seriesInstanceUid, 'Series Instance UID'),
    integerString(series.seriesNumber, position),
  ];
  return plan(SERIES_FIELDS, values, false);
}

function imagePlan(instance: DicomdirInstance, position: number, seen: Set<string>): RecordPlan {
  try {
    assertValidFileId(instance.fileId);
  } catch (err) {
    throw new InvalidDicomdirInputError((err as Error).message);
  }
  // Referenced File ID (0004,1500) is CS with one value per path component, separated by backslashes.
  const fileId = instance.fileId.join('\\');
  if (seen.has(fileId)) throw new InvalidDicomdirInputError(`file ID ${fileId} is referenced twice`);
  seen.add(fileId);
  const values = [
    'IMAGE',
    fileId,
    uid(instance.sopClassUid, 'SOP Class UID'),
    uid(instance.sopInstanceUid, 'SOP Instance UID'),
    uid(instance.transferSyntaxUid, 'Transfer Syntax UID'),
    integerString(instance.instanceNumber, position),
  ];
  return plan(IMAGE_FIELDS, values, false);
}

function uid(value: string, what: string): string {
  const trimmed = value.replace(/[\0 ]+$/, '');
  if (!/^[0-9]+(\.[0-9]+)*$/.test(trimmed) || trimmed.length > 64) {
    throw new InvalidDicomdirInputError(`${what} is not a valid UID: ${JSON.stringify(value)}`);
  }
  return trimmed;
}

function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`).toString()}`;
}

function fileSetIdValue(value: string | undefined): string {
  const id = (value ?? '').trimEnd();
  if (!/^[A-Z0-9_ ]{0,16}$/.test(id)) {
    throw new InvalidDicomdirInputError(
      `File-set ID must be up to 16 of [A-Z0-9_ ]: ${JSON.stringify(value)}`,
    );
  }
  return id;
}

/**
 * Cleans free text for SH/LO/PN values: control characters are not allowed there and a backslash would
 * split the value in two (PS3.5 6.2), so both become spaces; then it is cut to the VR's maximum length
 * in characters.
 */
function text(value: string | null | undefined, maxChars: number): string {
  if (!value) return '';
  const cleaned = value.replace(/[\p{Cc}\\]/gu, ' ').trim();
  if (cleaned.length <= maxChars) return cleaned;
  return Array.from(cleaned).slice(0, maxChars).join('').trimEnd();
}

// PN: up to three component groups (alphabetic=ideographic=phonetic) of at most 64 characters each.
function personName(value: string | null | undefined): string {
  if (!value) return '';
  return value
    .split('=')
    .slice(0, 3)
    .map((group) => text(group, 64))
    .join('=')
    .replace(/=+$/, '');
}

function modality(value: string | null | undefined): string {
  const cleaned = (value ?? '')
    .toUpperCase()
    .replace(/[^A-Z0-9_ ]/g, '')
    .trim();
  return cleaned.slice(0, 16).trimEnd() || 'OT';
}

function date(value: string | null | undefined): string {
  // Tolerates the ACR-NEMA style `YYYY.MM.DD` and ISO `YYYY-MM-DD` some stores still return.
  const digits = (value ?? '').replace(/[.-]/g, '').trim();
  return /^\d{8}$/.test(digits) ? digits : '19000101';
}

function time(value: string | null | undefined): string {
  const cleaned = (value ?? '').replace(/:/g, '').trim();
  return /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/.test(cleaned) ? cleaned : '000000';
}

// IS holds a 32-bit signed integer in at most 12 characters.
function integerString(value: number | null | undefined, fallback: number): string {
  const n =
    typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? value : fallback;
  return String(n);
}
