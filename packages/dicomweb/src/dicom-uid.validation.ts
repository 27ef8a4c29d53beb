import { isStudyUid, STUDY_UID_MAX_LENGTH as MAX_UID_LENGTH } from '@studylink/contracts';
import { DicomwebArgumentError } from './dicomweb.errors.js';

// PS3.5 §9.1: digits and dots, at most 64 characters (the pattern lives once, in the contracts).
// Checking this before a UID goes into a URL path also rules out path traversal and query injection.

/**
 * True when `value` is a syntactically valid DICOM UID.
 * @example isDicomUid('1.2.840.113619.2.55') // true
 */
export const isDicomUid: (value: unknown) => value is string = isStudyUid;

/**
 * Throws DicomwebArgumentError unless `value` is a valid DICOM UID.
 * @example assertDicomUid(params.studyUid, 'StudyInstanceUID');
 */
export function assertDicomUid(value: unknown, what = 'UID'): asserts value is string {
  // The value is not echoed: a caller mixing up arguments could otherwise log a secret.
  if (!isDicomUid(value)) {
    throw new DicomwebArgumentError(
      `invalid ${what}: expected digits and dots, at most ${MAX_UID_LENGTH} characters`,
    );
  }
}
