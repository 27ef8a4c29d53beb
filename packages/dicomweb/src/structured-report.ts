import type { DicomJsonAttribute, DicomJsonObject } from './dicom-json.helpers.js';

/**
 * A DICOM Structured Report (Basic Text, Enhanced, Comprehensive SR; PS3.3 C.17.3) read from its DICOM
 * JSON (PS3.18 F.2, as a store's `/metadata` answers it, with text already decoded from the document's
 * Specific Character Set) into the tree a person reads: headings from the concept names' meanings,
 * CONTAINER nesting kept, each value written out. Pure and browser-safe (no I/O): the token service's
 * report page and the patient viewer both use it.
 */

/** One content item (PS3.3 C.17.3.2): a heading (its concept name) and its value, and its children. */
export interface ReportItem {
  /** The concept name's meaning, e.g. "Findings", "Impression"; null when the item has none. */
  heading: string | null;
  /** The concept name's code value and scheme, e.g. `121072/DCM` (Impression); '' when none. */
  code: string;
  /** Value Type (0040,A040): CONTAINER, TEXT, CODE, NUM, DATE, TIME, DATETIME, PNAME, UIDREF, ... */
  valueType: string;
  /** Relationship Type (0040,A010) to the parent: CONTAINS, HAS OBS CONTEXT, ...; '' at the root. */
  relationship: string;
  /** The value as text (a code's meaning, a number with its unit, a date as YYYY-MM-DD); null for a container or a reference. */
  value: string | null;
  children: ReportItem[];
}

/** A structured report as a reader sees it. */
export interface StructuredReport {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** The document title: the root container's concept name ("Radiology Report"); '' when none. */
  title: string;
  /** Content Date (0008,0023) as YYYY-MM-DD; '' when absent or malformed. */
  contentDate: string;
  /** Completion Flag (0040,A491): COMPLETE or PARTIAL ('' when absent). */
  completion: string;
  /** Verification Flag (0040,A493): VERIFIED or UNVERIFIED ('' when absent). */
  verification: string;
  /** Verifying Observer Name(s) (0040,A073 > 0040,A075), as written (`^` between name parts). */
  verifiedBy: string[];
  /** The root container's children: the report's sections and statements. */
  content: ReportItem[];
}

/** Tags an SR is read by (DICOM JSON keys). */
export const SrTag = {
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  SeriesInstanceUID: '0020000E',
  ContentDate: '00080023',
  CodeValue: '00080100',
  CodingSchemeDesignator: '00080102',
  CodeMeaning: '00080104',
  MeasurementUnitsCodeSequence: '004008EA',
  RelationshipType: '0040A010',
  ValueType: '0040A040',
  ConceptNameCodeSequence: '0040A043',
  VerifyingObserverSequence: '0040A073',
  VerifyingObserverName: '0040A075',
  DateTime: '0040A120',
  Date: '0040A121',
  Time: '0040A122',
  PersonName: '0040A123',
  UID: '0040A124',
  TextValue: '0040A160',
  ConceptCodeSequence: '0040A168',
  MeasuredValueSequence: '0040A300',
  NumericValue: '0040A30A',
  CompletionFlag: '0040A491',
  VerificationFlag: '0040A493',
  ContentSequence: '0040A730',
} as const;

/** SR SOP classes whose documents are text a patient can read (Basic Text, Enhanced, Comprehensive, Comprehensive 3D). */
export const TEXT_SR_SOP_CLASSES: ReadonlySet<string> = new Set([
  '1.2.840.10008.5.1.4.1.1.88.11',
  '1.2.840.10008.5.1.4.1.1.88.22',
  '1.2.840.10008.5.1.4.1.1.88.33',
  '1.2.840.10008.5.1.4.1.1.88.34',
]);

/** Code of the concept "Impression" (DCM 121072), which a radiology report's conclusion carries. */
export const IMPRESSION_CODES: ReadonlySet<string> = new Set(['121072/DCM', '121076/DCM', 'RID13170/RADLEX']);

// Deeper than any report a person writes; a guard against a malicious or looping document.
const MAX_DEPTH = 32;
const MAX_ITEMS = 10_000;

function attr(ds: DicomJsonObject | undefined, tag: string): DicomJsonAttribute | undefined {
  if (!ds || typeof ds !== 'object') return undefined;
  return ds[tag] ?? ds[tag.toLowerCase()];
}

function first(ds: DicomJsonObject | undefined, tag: string): unknown {
  const v = attr(ds, tag)?.Value;
  return Array.isArray(v) ? v[0] : undefined;
}

function text(ds: DicomJsonObject | undefined, tag: string): string {
  const v = first(ds, tag);
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return '';
}

function items(ds: DicomJsonObject | undefined, tag: string): DicomJsonObject[] {
  const v = attr(ds, tag)?.Value;
  return Array.isArray(v) ? v.filter((x): x is DicomJsonObject => x !== null && typeof x === 'object') : [];
}

/** A person name value: the alphabetic group, or the ideographic one when only that is given; `^` become spaces. */
function personName(v: unknown): string {
  let s = '';
  if (typeof v === 'string') s = v.split('=')[0] ?? '';
  else if (v !== null && typeof v === 'object') {
    const g = v as { Alphabetic?: unknown; Ideographic?: unknown; Phonetic?: unknown };
    const pick = [g.Alphabetic, g.Ideographic, g.Phonetic].find((x) => typeof x === 'string' && x.trim());
    s = typeof pick === 'string' ? pick : '';
  }
  return s
    .split('^')
    .map((p) => p.trim())
    .filter(Boolean)
    .join(' ');
}

/** A DA value as YYYY-MM-DD ('' when it is not eight digits). */
function isoDate(da: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : '';
}

/** A TM value as HH:MM (seconds mean nothing to a reader) ('' when malformed). */
function isoTime(tm: string): string {
  const m = /^(\d{2}):?(\d{2})?/.exec(tm.trim());
  return m ? `${m[1]}:${m[2] ?? '00'}` : '';
}

function codeOf(ds: DicomJsonObject | undefined): { meaning: string; code: string } {
  const value = text(ds, SrTag.CodeValue);
  const scheme = text(ds, SrTag.CodingSchemeDesignator);
  return { meaning: text(ds, SrTag.CodeMeaning), code: value ? `${value}/${scheme.toUpperCase()}` : '' };
}

function itemValue(ds: DicomJsonObject, valueType: string): string | null {
  switch (valueType) {
    case 'TEXT':
      return text(ds, SrTag.TextValue);
    case 'CODE':
      return codeOf(items(ds, SrTag.ConceptCodeSequence)[0]).meaning;
    case 'NUM': {
      const measured = items(ds, SrTag.MeasuredValueSequence)[0];
      const n = text(measured, SrTag.NumericValue);
      if (!n) return '';
      const unit = items(measured, SrTag.MeasurementUnitsCodeSequence)[0];
      const u = codeOf(unit);
      // UCUM's "1" (no unit) is not written out; otherwise the code value (mm, cm2) reads better than "millimeter".
      const symbol = text(unit, SrTag.CodeValue);
      const shown = symbol === '1' ? '' : symbol || u.meaning;
      return shown ? `${n} ${shown}` : n;
    }
    case 'DATE':
      return isoDate(text(ds, SrTag.Date));
    case 'TIME':
      return isoTime(text(ds, SrTag.Time));
    case 'DATETIME': {
      const dt = text(ds, SrTag.DateTime);
      const d = isoDate(dt.slice(0, 8));
      const t = dt.length > 8 ? isoTime(dt.slice(8)) : '';
      return [d, t].filter(Boolean).join(' ');
    }
    case 'PNAME':
      return personName(first(ds, SrTag.PersonName));
    case 'UIDREF':
      return text(ds, SrTag.UID);
    default:
      // CONTAINER, and references (IMAGE, COMPOSITE, WAVEFORM, SCOORD, TCOORD): no text of their own.
      return null;
  }
}

/**
 * Reads one SR document from its DICOM JSON data set. Text arrives decoded (DICOM JSON is Unicode),
 * so any Specific Character Set the document was written in (Latin-1, UTF-8, ISO 2022 Japanese...)
 * reads as written.
 * @example readStructuredReport(metadata[0]).content[0].heading // 'Findings'
 */
export function readStructuredReport(ds: DicomJsonObject): StructuredReport {
  let budget = MAX_ITEMS;
  const walk = (parent: DicomJsonObject, depth: number): ReportItem[] => {
    if (depth > MAX_DEPTH) return [];
    const out: ReportItem[] = [];
    for (const child of items(parent, SrTag.ContentSequence)) {
      if (budget-- <= 0) break;
      const valueType = text(child, SrTag.ValueType).toUpperCase();
      const name = codeOf(items(child, SrTag.ConceptNameCodeSequence)[0]);
      out.push({
        heading: name.meaning || null,
        code: name.code,
        valueType,
        relationship: text(child, SrTag.RelationshipType).toUpperCase(),
        value: itemValue(child, valueType),
        children: walk(child, depth + 1),
      });
    }
    return out;
  };
  return {
    sopInstanceUid: text(ds, SrTag.SOPInstanceUID),
    seriesInstanceUid: text(ds, SrTag.SeriesInstanceUID),
    title: codeOf(items(ds, SrTag.ConceptNameCodeSequence)[0]).meaning,
    contentDate: isoDate(text(ds, SrTag.ContentDate)),
    completion: text(ds, SrTag.CompletionFlag).toUpperCase(),
    verification: text(ds, SrTag.VerificationFlag).toUpperCase(),
    verifiedBy: items(ds, SrTag.VerifyingObserverSequence)
      .map((o) => personName(first(o, SrTag.VerifyingObserverName)))
      .filter(Boolean),
    content: walk(ds, 0),
  };
}

/**
 * True for a DICOM JSON data set of an SR whose text a patient can read (Basic Text, Enhanced,
 * Comprehensive, Comprehensive 3D).
 */
export function isTextStructuredReport(ds: DicomJsonObject): boolean {
  return TEXT_SR_SOP_CLASSES.has(text(ds, SrTag.SOPClassUID));
}

/**
 * The items a reader sees: observation context (who observed, which procedure: HAS OBS CONTEXT,
 * HAS ACQ CONTEXT, HAS CONCEPT MOD) and image references are left out, empty containers too.
 */
export function readableItems(list: readonly ReportItem[]): ReportItem[] {
  const out: ReportItem[] = [];
  for (const item of list) {
    if (/^HAS (OBS|ACQ) CONTEXT$|^HAS CONCEPT MOD$/.test(item.relationship)) continue;
    const children = readableItems(item.children);
    if (item.valueType === 'CONTAINER') {
      if (children.length > 0) out.push({ ...item, children });
      continue;
    }
    if (item.value === null || item.value === '') {
      if (children.length > 0) out.push(...children);
      continue;
    }
    out.push({ ...item, children });
  }
  return out;
}

/**
 * The report as plain text: the title, each container's heading on its own line, each value under
 * its heading, nested containers indented by two spaces.
 * @example reportToText(readStructuredReport(ds)) // 'Radiology Report\n\nFindings\n  ...'
 */
export function reportToText(report: StructuredReport): string {
  const lines: string[] = [];
  if (report.title) lines.push(report.title, '');
  const write = (list: readonly ReportItem[], indent: string) => {
    for (const item of list) {
      if (item.valueType === 'CONTAINER') {
        if (item.heading) lines.push(`${indent}${item.heading}`);
        write(item.children, `${indent}  `);
        continue;
      }
      const value = item.value ?? '';
      lines.push(`${indent}${item.heading ? `${item.heading}: ` : ''}${value}`);
      write(item.children, `${indent}  `);
    }
  };
  write(readableItems(report.content), '');
  return lines.join('\n');
}

/** The report's impression(s) (its conclusion): the text under an Impression heading, or ''. */
export function reportImpression(report: StructuredReport): string {
  const found: string[] = [];
  const collect = (list: readonly ReportItem[], inside: boolean) => {
    for (const item of list) {
      const here = inside || IMPRESSION_CODES.has(item.code) || /^impressions?$/i.test(item.heading ?? '');
      if (here && item.value) found.push(item.value);
      collect(item.children, here);
    }
  };
  collect(report.content, false);
  return found.join('\n');
}
