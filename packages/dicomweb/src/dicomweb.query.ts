import { assertDicomUid } from './dicom-uid.validation.js';
import { DicomwebArgumentError } from './dicomweb.errors.js';

/** Paging, return keys and matching options shared by all QIDO-RS searches. */
export interface QidoCommonQuery {
  limit?: number;
  offset?: number;
  /** Extra attributes to return, by keyword or 8-hex-digit tag; added to this client's defaults. */
  includefield?: readonly string[];
  /** Sent as `fuzzymatching=false` unless true. */
  fuzzymatching?: boolean;
}

/** QIDO-RS study-level matching keys. */
export interface StudySearchQuery extends QidoCommonQuery {
  /** One UID, or several for UID list matching. */
  StudyInstanceUID?: string | readonly string[];
  /** Wildcards `*` and `?` allowed, e.g. `DOE^J*`. */
  PatientName?: string;
  PatientID?: string;
  AccessionNumber?: string;
  /** `YYYYMMDD`, or a range `YYYYMMDD-YYYYMMDD`, `YYYYMMDD-`, `-YYYYMMDD`. */
  StudyDate?: string;
  /** A modality code such as `CT`. */
  ModalitiesInStudy?: string;
  StudyID?: string;
  ReferringPhysicianName?: string;
}

/** QIDO-RS series-level matching keys. */
export interface SeriesSearchQuery extends QidoCommonQuery {
  SeriesInstanceUID?: string | readonly string[];
  Modality?: string;
  SeriesNumber?: number;
}

/** QIDO-RS instance-level matching keys. */
export interface InstanceSearchQuery extends QidoCommonQuery {
  SOPInstanceUID?: string | readonly string[];
  SOPClassUID?: string | readonly string[];
  InstanceNumber?: number;
}

/** What the study page and the staff search show; the rest come back by default. */
export const DEFAULT_STUDY_FIELDS: readonly string[] = [
  'StudyDescription',
  'InstitutionName',
  'ModalitiesInStudy',
  'NumberOfStudyRelatedSeries',
  'NumberOfStudyRelatedInstances',
];
/** What the DICOMDIR series records need. */
export const DEFAULT_SERIES_FIELDS: readonly string[] = [
  'Modality',
  'SeriesNumber',
  'SeriesDescription',
  'NumberOfSeriesRelatedInstances',
];
/** What the DICOMDIR image records need. */
export const DEFAULT_INSTANCE_FIELDS: readonly string[] = [
  'SeriesInstanceUID',
  'SOPClassUID',
  'SOPInstanceUID',
  'InstanceNumber',
];

const DATE_RANGE = /^(\d{8}|\d{8}-\d{8}|\d{8}-|-\d{8})$/;
const MODALITY = /^[A-Za-z0-9_]{1,16}$/;
const FIELD = /^([0-9A-Fa-f]{8}|[A-Za-z][A-Za-z0-9]{0,63})$/;
// Printable text only: control characters have no place in a matching key and would only
// serve to smuggle something into the store's query parser.
const TEXT = /^\P{Cc}{1,256}$/u;

type Pairs = Array<[string, string]>;

function text(pairs: Pairs, key: string, value: string | undefined): void {
  if (value === undefined) return;
  if (!TEXT.test(value))
    throw new DicomwebArgumentError(`invalid ${key}: expected 1-256 printable characters`);
  pairs.push([key, value]);
}

function uids(pairs: Pairs, key: string, value: string | readonly string[] | undefined): void {
  if (value === undefined) return;
  const list = typeof value === 'string' ? [value] : value;
  if (list.length === 0) throw new DicomwebArgumentError(`invalid ${key}: empty UID list`);
  for (const uid of list) assertDicomUid(uid, key);
  pairs.push([key, list.join(',')]);
}

function integer(pairs: Pairs, key: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new DicomwebArgumentError(`invalid ${key}: expected an integer >= ${min}`);
  }
  pairs.push([key, String(value)]);
}

function common(pairs: Pairs, query: QidoCommonQuery, defaults: readonly string[]): void {
  integer(pairs, 'limit', query.limit, 1);
  integer(pairs, 'offset', query.offset, 0);
  const fields = new Set([...defaults, ...(query.includefield ?? [])]);
  for (const field of fields) {
    if (!FIELD.test(field) && field !== 'all') {
      throw new DicomwebArgumentError(
        'invalid includefield: expected a keyword, an 8-digit hex tag or "all"',
      );
    }
    pairs.push(['includefield', field]);
  }
  pairs.push(['fuzzymatching', query.fuzzymatching === true ? 'true' : 'false']);
}

function serialize(pairs: Pairs): string {
  // encodeURIComponent rather than URLSearchParams: a space must travel as %20, not '+', which
  // some stores take literally. The '?' wildcard becomes %3F; '*' needs no escaping.
  return pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/**
 * Builds the query string of a QIDO-RS study search, validating every key.
 * @example studyQueryString({ PatientID: '123', StudyDate: '20240101-20241231' })
 */
export function studyQueryString(query: StudySearchQuery): string {
  const pairs: Pairs = [];
  uids(pairs, 'StudyInstanceUID', query.StudyInstanceUID);
  text(pairs, 'PatientName', query.PatientName);
  text(pairs, 'PatientID', query.PatientID);
  text(pairs, 'AccessionNumber', query.AccessionNumber);
  if (query.StudyDate !== undefined && !DATE_RANGE.test(query.StudyDate)) {
    throw new DicomwebArgumentError('invalid StudyDate: expected YYYYMMDD or a range YYYYMMDD-YYYYMMDD');
  }
  text(pairs, 'StudyDate', query.StudyDate);
  if (query.ModalitiesInStudy !== undefined && !MODALITY.test(query.ModalitiesInStudy)) {
    throw new DicomwebArgumentError('invalid ModalitiesInStudy: expected a modality code such as CT');
  }
  text(pairs, 'ModalitiesInStudy', query.ModalitiesInStudy);
  text(pairs, 'StudyID', query.StudyID);
  text(pairs, 'ReferringPhysicianName', query.ReferringPhysicianName);
  common(pairs, query, DEFAULT_STUDY_FIELDS);
  return serialize(pairs);
}

/**
 * Builds the query string of a QIDO-RS series search.
 * @example seriesQueryString({ Modality: 'CT' })
 */
export function seriesQueryString(query: SeriesSearchQuery): string {
  const pairs: Pairs = [];
  uids(pairs, 'SeriesInstanceUID', query.SeriesInstanceUID);
  if (query.Modality !== undefined && !MODALITY.test(query.Modality)) {
    throw new DicomwebArgumentError('invalid Modality: expected a modality code such as CT');
  }
  text(pairs, 'Modality', query.Modality);
  integer(pairs, 'SeriesNumber', query.SeriesNumber, 0);
  common(pairs, query, DEFAULT_SERIES_FIELDS);
  return serialize(pairs);
}

/**
 * Builds the query string of a QIDO-RS instance search.
 * @example instanceQueryString({ limit: 500, offset: 500 })
 */
export function instanceQueryString(query: InstanceSearchQuery): string {
  const pairs: Pairs = [];
  uids(pairs, 'SOPInstanceUID', query.SOPInstanceUID);
  uids(pairs, 'SOPClassUID', query.SOPClassUID);
  integer(pairs, 'InstanceNumber', query.InstanceNumber, 0);
  common(pairs, query, DEFAULT_INSTANCE_FIELDS);
  return serialize(pairs);
}
