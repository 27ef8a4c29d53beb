import { z } from 'zod';

/** A link's token: exactly 64 characters of [A-Za-z0-9]. Checked before any lookup. */
export const TOKEN_PATTERN = /^[A-Za-z0-9]{64}$/;

/**
 * The token of a patient URL's query string: the whole query (`/token?<token>`), or its part before
 * the first `&` when a mail system appended tracking parameters (`/token?<token>&utm_source=...`).
 * Not validated here: check it with TOKEN_PATTERN.
 * @example tokenFromQuery(`${token}&utm_source=newsletter`) === token
 */
export function tokenFromQuery(querystring: string): string {
  const amp = querystring.indexOf('&');
  return amp < 0 ? querystring : querystring.slice(0, amp);
}

/** The zip download, linked from the patient page and served by the export service. */
export const DOWNLOAD_PATH = '/token/study.zip';

/** The patient viewer's page (`/token/viewer?<token>`), served by the token service. */
export const VIEWER_PATH = '/token/viewer';
/** The viewer's token-scoped DICOMweb gateway (bearer token only), served by the export service. */
export const DICOMWEB_GATEWAY_PREFIX = '/token/dicomweb/';

/** The patient's report page (`/token/report?<token>`): the study's SR as text, its PDFs linked. Token service. */
export const REPORT_PAGE_PATH = '/token/report';
/** A report PDF (`/token/report/<sopInstanceUid>.pdf?<token>`, or the RIS-pushed one), served by the export service. */
export const REPORT_PDF_PREFIX = '/token/report/';
/** The file name of the RIS-pushed report under REPORT_PDF_PREFIX (a UID never spells it). */
export const PUSHED_REPORT_PDF = 'pushed.pdf';

/**
 * The path of a report PDF: an encapsulated PDF of the study by its SOP Instance UID, or the pushed one.
 * @example reportPdfPath('1.2.3') === '/token/report/1.2.3.pdf'
 */
export function reportPdfPath(sopInstanceUid: string | 'pushed'): string {
  return `${REPORT_PDF_PREFIX}${sopInstanceUid === 'pushed' ? PUSHED_REPORT_PDF : `${sopInstanceUid}.pdf`}`;
}

/** The token service's internal listener (its own port, never routed by nginx). */
export const INTERNAL_GRANTS_PATH = '/internal/v1/grants';
export const INTERNAL_ACCESS_EVENTS_PATH = '/internal/v1/access-events';
/** The header that carries the shared secret (`Authorization: Bearer <secret>` is accepted too). */
export const INTERNAL_SECRET_HEADER = 'x-internal-secret';

/** PS3.5 §9.1: a UID is digits separated by dots, at most 64 characters. */
export const STUDY_UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;
export const STUDY_UID_MAX_LENGTH = 64;

/**
 * True when `value` is a syntactically valid DICOM UID.
 * @example isStudyUid('1.2.840.113619.2.55') // true
 */
export function isStudyUid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= STUDY_UID_MAX_LENGTH && STUDY_UID_PATTERN.test(value);
}

/** A DICOM UID as a zod schema, with messages fit for an API client. */
export const studyUidSchema = z
  .string()
  .max(STUDY_UID_MAX_LENGTH, 'a UID has at most 64 characters')
  .regex(STUDY_UID_PATTERN, 'a UID is digits separated by dots');
