import { bidiIsolate, formatPersonName, isLanguage, type Translator, translator } from '@studylink/i18n';

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
  /** The patient's language (one of @studylink/i18n's LANGUAGES); English otherwise. */
  language?: string | null;
}

// Byte order mark: Notepad before Windows 10 (1903) reads a file without one in the ANSI code page,
// which garbles a non-ASCII patient name. Editors elsewhere skip it.
const BOM = '\uFEFF';
const CRLF = '\r\n';
const MAX_FIELD_LENGTH = 200;
const WIDTH = 76;
// Under the description, past the file names of WHAT IS INSIDE.
const INSIDE_HANGING = ' '.repeat(15);

/**
 * Text of the README.txt at the root of a study zip, in the patient's language: what is inside,
 * how to open it, that it is private. Lines end in CRLF for Windows users; encode it as UTF-8.
 * @example buildReadme({ institution: 'General Hospital', patientName: 'Doe^Jane', studyDate: '20210121', studyDescription: 'CT HEAD', instanceCount: 245, seriesCount: 3, viewerUrl: 'https://viewer.example/', language: 'fr' })
 */
export function buildReadme(input: ReadmeInput): string {
  const t: Translator = translator(isLanguage(input.language) ? input.language : 'en');
  const details: [string, string][] = [
    [t.t('readme.patient'), personName(input.patientName, t.lang)],
    [t.t('readme.studyDate'), studyDate(input.studyDate)],
    [t.t('readme.description'), clean(input.studyDescription)],
    [t.t('readme.providedBy'), clean(input.institution)],
    [
      t.t('readme.contents'),
      t.t('readme.counts', { series: count(input.seriesCount), files: count(input.instanceCount) }),
    ],
  ].filter(([, value]) => value !== '') as [string, string][];
  const labelWidth = Math.max(14, ...details.map(([label]) => columns(label) + 3));
  const viewer = httpUrl(input.viewerUrl);
  const title = t.t('readme.title');
  const lines = [
    title,
    '='.repeat(Math.max(4, columns(title))),
    '',
    ...wrap(t.t('readme.intro'), ''),
    '',
    ...details.map(([label, value]) => `  ${pad(`${label}:`, labelWidth)}${value}`),
    '',
    t.t('readme.inside'),
    ...wrap(t.t('readme.insideDicomdir'), '  DICOMDIR     ', INSIDE_HANGING),
    ...wrap(t.t('readme.insideDicom'), '  DICOM        ', INSIDE_HANGING),
    ...wrap(t.t('readme.insideReadme'), '  README.txt   ', INSIDE_HANGING),
    '',
    t.t('readme.howTo'),
    // The URL goes on a line of its own so that no wrapping breaks it.
    ...(viewer
      ? [...wrap(`1. ${t.t('readme.step1Url', { url: '' }).trim()}`, '  ', '     '), `     ${viewer}`]
      : wrap(`1. ${t.t('readme.step1')}`, '  ', '     ')),
    ...wrap(`2. ${t.t('readme.step2')}`, '  ', '     '),
    ...wrap(`3. ${t.t('readme.step3')}`, '  ', '     '),
    '',
    ...wrap(t.t('readme.share'), ''),
    '',
    t.t('readme.private'),
    ...wrap(t.t('readme.privateText'), '  '),
    '',
  ];
  return BOM + lines.join(CRLF);
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(1, width - columns(s)));
}

/**
 * Greedy line wrap at WIDTH columns, first and following line indents. Lines break at spaces and,
 * in Chinese and Japanese (written without spaces), between characters, except before closing
 * punctuation and small kana or after opening punctuation (kinsoku).
 */
function wrap(text: string, indent: string, hanging = indent): string[] {
  const out: string[] = [];
  let line = indent;
  let lineHasWord = false;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    breakUnits(word).forEach((unit, i) => {
      const candidate = lineHasWord && i === 0 ? `${line} ${unit}` : `${line}${unit}`;
      if (lineHasWord && columns(candidate) > WIDTH) {
        out.push(line);
        line = `${hanging}${unit}`;
      } else {
        line = candidate;
      }
      lineHasWord = true;
    });
  }
  if (lineHasWord) out.push(line);
  return out;
}

// East Asian wide and fullwidth characters (UAX #11): two columns in a monospace editor.
const WIDE =
  /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{20000}-\u{3FFFD}]/u;
// Characters a line may not start with, or end with (JIS X 4051 kinsoku, the common subset).
const NO_LINE_START = new Set(
  Array.from('、。，．・：；？！）」』】〉》〕］｝ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々〜…'),
);
const NO_LINE_END = new Set(Array.from('（「『【〈《〔［｛'));

/** Columns `s` takes in a monospace editor (Notepad, a terminal): wide characters count two. */
function columns(s: string): number {
  let n = 0;
  for (const ch of s) n += WIDE.test(ch) ? 2 : 1;
  return n;
}

/** A word cut where a line may break inside it: beside a wide character, kinsoku kept. */
function breakUnits(word: string): string[] {
  const chars = Array.from(word);
  const units: string[] = [];
  let unit = '';
  chars.forEach((ch, i) => {
    const prev = chars[i - 1];
    const breakable =
      prev !== undefined &&
      (WIDE.test(prev) || WIDE.test(ch)) &&
      !NO_LINE_START.has(ch) &&
      !NO_LINE_END.has(prev);
    if (breakable) {
      units.push(unit);
      unit = '';
    }
    unit += ch;
  });
  units.push(unit);
  return units;
}

// Values come from the DICOM store: control characters (line breaks included) would break the layout.
function clean(value: string | null | undefined): string {
  const text = (value ?? '')
    .replace(/\p{Cc}/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > MAX_FIELD_LENGTH ? `${Array.from(text).slice(0, MAX_FIELD_LENGTH).join('')}...` : text;
}

// As the page, the viewer and the handout show it (`DOE^JANE` → `DOE, JANE`; `山田^太郎` → `山田太郎`), cut
// to length, then isolated where it runs the other way from the README's language.
function personName(value: string | null | undefined, lang: string): string {
  return bidiIsolate(clean(formatPersonName(value, { lang })), lang);
}

function studyDate(value: string | null | undefined): string {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec((value ?? '').trim());
  return match ? `${match[1]}-${match[2]}-${match[3]}` : '';
}

function count(n: number): number {
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

function httpUrl(value: string | null | undefined): string | null {
  try {
    const url = new URL(value ?? '');
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}
