/** One attribute of a DICOM JSON object (PS3.18 F.2). */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

/** A DICOM JSON dataset: attributes keyed by 8 upper-case hex digits of the tag. */
export type DicomJsonObject = Record<string, DicomJsonAttribute | undefined>;

/** Tags (as DICOM JSON keys) of the attributes this product reads. */
export const Tag = {
  SpecificCharacterSet: '00080005',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  StudyTime: '00080030',
  AccessionNumber: '00080050',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  InstitutionName: '00080080',
  ReferringPhysicianName: '00080090',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  PatientName: '00100010',
  PatientID: '00100020',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  TransferSyntaxUID: '00020010',
} as const;

export type TagKeyword = keyof typeof Tag;

function values(obj: DicomJsonObject | null | undefined, tag: string): unknown[] {
  if (!obj) return [];
  // Keys are upper-case hex per PS3.18, but a lower-case tag from a caller should still match.
  const attribute = obj[tag] ?? obj[tag.toUpperCase()];
  return Array.isArray(attribute?.Value) ? attribute.Value : [];
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  // A PN value is an object of component groups; the alphabetic one is what people read.
  if (value !== null && typeof value === 'object' && 'Alphabetic' in value) {
    const alphabetic = (value as { Alphabetic?: unknown }).Alphabetic;
    return typeof alphabetic === 'string' ? alphabetic : '';
  }
  return '';
}

/**
 * First value of an attribute as a string, or '' when absent or empty.
 * @example dicomString(study, Tag.StudyDescription) // 'CT CHEST'
 */
export function dicomString(obj: DicomJsonObject | null | undefined, tag: string): string {
  return asText(values(obj, tag)[0]);
}

/**
 * All values of an attribute as strings (empty values as '').
 * @example dicomStrings(study, Tag.ModalitiesInStudy) // ['CT', 'SR']
 */
export function dicomStrings(obj: DicomJsonObject | null | undefined, tag: string): string[] {
  return values(obj, tag).map(asText);
}

/**
 * First value of an attribute as a number, or undefined when absent or not numeric (IS/DS may arrive as strings).
 * @example dicomNumber(study, Tag.NumberOfStudyRelatedInstances) // 120
 */
export function dicomNumber(obj: DicomJsonObject | null | undefined, tag: string): number | undefined {
  const value = values(obj, tag)[0];
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value.trim());
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

/**
 * The Alphabetic component group of a person name, or '' when absent.
 * @example dicomPersonName(study, Tag.PatientName) // 'DOE^JANE'
 */
export function dicomPersonName(obj: DicomJsonObject | null | undefined, tag: string): string {
  return asText(values(obj, tag)[0]);
}

/**
 * A person name with all its component groups, in DICOM's own `alphabetic=ideographic=phonetic`
 * form (trailing empty groups dropped), so scripts other than Latin survive.
 * @example dicomPersonNameGroups(study, Tag.PatientName) // 'Yamada^Tarou=山田^太郎=やまだ^たろう'
 */
export function dicomPersonNameGroups(obj: DicomJsonObject | null | undefined, tag: string): string {
  const v = values(obj, tag)[0];
  if (typeof v === 'string') return v;
  if (v === null || typeof v !== 'object') return '';
  const g = v as { Alphabetic?: unknown; Ideographic?: unknown; Phonetic?: unknown };
  const text = (x: unknown) => (typeof x === 'string' ? x : '');
  return [text(g.Alphabetic), text(g.Ideographic), text(g.Phonetic)].join('=').replace(/=+$/, '');
}
