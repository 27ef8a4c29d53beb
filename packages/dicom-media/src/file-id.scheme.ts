/**
 * PS3.10 file IDs of the instances in a study zip.
 *
 * Scheme: `DICOM/S<series>/I<instance>`, both numbers 1-based and written as 7 decimal digits
 * (`DICOM/S0000001/I0000001`). Three components of at most 8 characters of `[A-Z0-9_]` fit PS3.10 8.2
 * and PS3.12 media (≤ 8 components, ≤ 8 characters each); that character set has no `.`, so the files
 * have no extension. They carry nothing from the patient: only counters. Seven digits allow 9,999,999 series per study and
 * 9,999,999 instances per series, far beyond any real study.
 */

/** Largest 1-based series or instance number the seven-digit components can carry. */
export const MAX_FILE_ID_NUMBER = 9_999_999;

const ROOT_COMPONENT = 'DICOM';
const COMPONENT = /^[A-Z0-9_]{1,8}$/;

/**
 * File ID components for a zero-based series and instance index.
 * @example fileIdFor(0, 41) // → ['DICOM', 'S0000001', 'I0000042']
 */
export function fileIdFor(seriesIndex: number, instanceIndex: number): string[] {
  return [ROOT_COMPONENT, component('S', seriesIndex), component('I', instanceIndex)];
}

/**
 * Zip entry name for a file ID: its components joined by `/`, with no extension.
 * @example zipEntryNameFor(['DICOM', 'S0000001', 'I0000001']) // → 'DICOM/S0000001/I0000001'
 */
export function zipEntryNameFor(fileId: readonly string[]): string {
  assertValidFileId(fileId);
  return fileId.join('/');
}

/**
 * Throws unless `fileId` is a valid PS3.10 file ID (1–8 components of 1–8 characters `[A-Z0-9_]`).
 * @example assertValidFileId(['DICOM', 'S0000001', 'I0000001']) // passes
 */
export function assertValidFileId(fileId: readonly string[]): void {
  if (fileId.length < 1 || fileId.length > 8 || !fileId.every((part) => COMPONENT.test(part))) {
    throw new RangeError(`invalid DICOM file ID ${JSON.stringify(fileId)}: 1-8 components of 1-8 [A-Z0-9_]`);
  }
}

function component(prefix: string, index: number): string {
  if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_FILE_ID_NUMBER) {
    throw new RangeError(`file ID index ${index} outside 0..${MAX_FILE_ID_NUMBER - 1}`);
  }
  return prefix + String(index + 1).padStart(7, '0');
}
