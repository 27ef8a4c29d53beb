export interface ZipFilenameInput {
  /** Study Date as DICOM `YYYYMMDD`; left out of the name when missing or malformed. */
  studyDate?: string | null;
  /** Modalities in the study, e.g. `['CT', 'PT']`. */
  modalities?: readonly string[] | null;
}

const MAX_MODALITIES = 4;

/**
 * Download file name for a study zip, built from a fixed template so no patient-entered text can reach a
 * `Content-Disposition` header or a file system: only `[A-Za-z0-9-]` besides the `.zip` extension.
 * @example safeZipFilename({ studyDate: '20210121', modalities: ['CT'] }) // → 'study-20210121-CT.zip'
 */
export function safeZipFilename(input: ZipFilenameInput): string {
  const parts = ['study'];
  const date = (input.studyDate ?? '').trim();
  if (/^\d{8}$/.test(date)) parts.push(date);
  const modalities = new Set<string>();
  for (const modality of input.modalities ?? []) {
    // Modality is a CS code (`CT`, `MR`...); anything else in it is dropped rather than escaped.
    const code = modality
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, '')
      .slice(0, 16);
    if (code) modalities.add(code);
  }
  parts.push(...[...modalities].slice(0, MAX_MODALITIES));
  return `${parts.join('-')}.zip`;
}
