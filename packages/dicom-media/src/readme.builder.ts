export interface ReadmeInput {
  institution?: string | null;
  /** Patient's Name in DICOM PN form (`Family^Given`, optionally `=ideographic=phonetic` groups). */
  patientName?: string | null;
  /** Study Date as DICOM `YYYYMMDD`. */
  studyDate?: string | null;
  studyDescription?: string | null;
  instanceCount: number;
  seriesCount: number;
  /** Where to get a free DICOM viewer; only http(s) URLs are printed. */
  viewerUrl?: string | null;
}

// Byte order mark: Notepad before Windows 10 (1903) reads a file without one in the ANSI code page,
// which garbles a non-ASCII patient name. Editors elsewhere skip it.
const BOM = '\uFEFF';
const CRLF = '\r\n';
const MAX_FIELD_LENGTH = 200;

/**
 * Text of the README.txt at the root of a study zip: what is inside, how to open it, that it is private.
 * Lines end in CRLF for Windows users; encode it as UTF-8.
 * @example buildReadme({ institution: 'General Hospital', patientName: 'Doe^Jane', studyDate: '20210121', studyDescription: 'CT HEAD', instanceCount: 245, seriesCount: 3, viewerUrl: 'https://viewer.example/' })
 */
export function buildReadme(input: ReadmeInput): string {
  const details: [string, string][] = [
    ['Patient', personName(input.patientName)],
    ['Study date', studyDate(input.studyDate)],
    ['Description', clean(input.studyDescription)],
    ['Provided by', clean(input.institution)],
    [
      'Contents',
      `${count(input.seriesCount, 'series', 'series')}, ${count(input.instanceCount, 'file', 'files')}`,
    ],
  ];
  const viewer = httpUrl(input.viewerUrl);
  const lines = [
    'Your imaging study',
    '==================',
    '',
    'This archive holds a copy of a medical imaging study in DICOM, the format',
    'hospitals and imaging centres use for X-ray, CT, MRI and ultrasound images.',
    '',
    ...details
      .filter(([, value]) => value !== '')
      .map(([label, value]) => `  ${`${label}:`.padEnd(14)}${value}`),
    '',
    'WHAT IS INSIDE',
    '  DICOMDIR     the index of the study, which DICOM viewers read first',
    '  DICOM        a folder with the DICOM files, one sub-folder per series',
    '  README.txt   this file',
    '',
    'HOW TO OPEN IT',
    ...(viewer
      ? ['  1. Install a free DICOM viewer, for example the one at', `     ${viewer}`]
      : ['  1. Install a free DICOM viewer.']),
    '  2. Unzip (extract) this archive into a folder. On Windows: right-click it,',
    '     then "Extract All...". On a Mac: double-click it.',
    '  3. Start the viewer and open the extracted folder, or the DICOMDIR file',
    '     in it. Some viewers call this "Open DICOM CD/DVD" or "Import folder".',
    '',
    'To give the study to another doctor or hospital, pass on this zip file as',
    'it is, or the extracted folder.',
    '',
    'KEEP IT PRIVATE',
    '  These files are your medical data. They contain your name and other',
    '  personal details. Keep them safe and share them only with people you',
    '  trust, such as your doctors.',
    '',
  ];
  return BOM + lines.join(CRLF);
}

// Values come from the DICOM store: control characters (line breaks included) would break the layout.
function clean(value: string | null | undefined): string {
  const text = (value ?? '')
    .replace(/\p{Cc}/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > MAX_FIELD_LENGTH ? `${Array.from(text).slice(0, MAX_FIELD_LENGTH).join('')}...` : text;
}

// `Doe^Jane` → `Doe Jane`: components in the order stored, from the first non-empty component group.
function personName(value: string | null | undefined): string {
  const group = (value ?? '').split('=').find((part) => part.replace(/\^/g, '').trim() !== '') ?? '';
  return clean(group.replace(/\^/g, ' '));
}

function studyDate(value: string | null | undefined): string {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec((value ?? '').trim());
  return match ? `${match[1]}-${match[2]}-${match[3]}` : '';
}

function count(n: number, one: string, many: string): string {
  const value = Number.isSafeInteger(n) && n >= 0 ? n : 0;
  return `${value} ${value === 1 ? one : many}`;
}

function httpUrl(value: string | null | undefined): string | null {
  try {
    const url = new URL(value ?? '');
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}
