// One person-name formatter for every place a patient or staff member reads a name: the patient page,
// the viewer, the staff handout and pages, the zip's README.txt. It imports nothing, so the viewer's
// browser bundle can import this file as it is, without the catalogues (a test in patient-viewer checks).
//
// Case rule, once for all: the name keeps the store's case ("DOE, JANE" stays upper case). Title-casing
// would spoil "McDonald", "van der Berg" and "O'Neil", and a name on a letter must match the record.

/** Options of {@link formatPersonName}. */
export interface PersonNameOptions {
  /**
   * The language of the text around the name (BCP 47, e.g. `ja`, `fr-CH`). For Chinese, Japanese and
   * Korean the ideographic group is preferred; otherwise the alphabetic one (each only when present).
   */
  lang?: string | null | undefined;
  /**
   * Plain text only (HTML uses `<bdi>`): wrap the name in FIRST STRONG ISOLATE … POP DIRECTIONAL
   * ISOLATE (U+2068 … U+2069) when it runs the other way from `lang`'s text, so that an Arabic name in
   * an English line (or a Latin one in an Arabic line) keeps its own order and does not reorder the
   * punctuation around it.
   */
  isolate?: boolean;
}

const CJK_LANGUAGES: ReadonlySet<string> = new Set(['ja', 'zh', 'ko']);
const RTL_LANGUAGES: ReadonlySet<string> = new Set(['ar', 'he', 'fa', 'ur', 'yi']);
const FSI = '\u2068';
const PDI = '\u2069';

const HAN_KANA = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const HANGUL = /\p{Script=Hangul}/u;
const RTL_SCRIPT = /[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}]/u;
// A strong left-to-right letter: any letter not of a right-to-left script.
const LTR_LETTER = /(?![\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}])\p{L}/u;

interface Components {
  family: string;
  given: string;
  middle: string;
  prefix: string;
  suffix: string;
}

/**
 * A DICOM person name (PN: `family^given^middle^prefix^suffix`, with up to three `=`-separated
 * groups: alphabetic, ideographic, phonetic) as a reader expects it in its script:
 * - Latin, Cyrillic, Greek…: `Family, Prefix Given Middle, Suffix`;
 * - Chinese and Japanese: family then given, no comma, no space (`山田太郎`); Korean: a space (`홍 길동`);
 * - Arabic and Hebrew: given then family as those languages write them, no Latin comma.
 * The group shown: the ideographic one for a Chinese, Japanese or Korean `lang`, else the alphabetic
 * one, unless only one is there. The store's case is kept. '' for an empty name.
 * @example formatPersonName('Yamada^Tarou=山田^太郎=やまだ^たろう', { lang: 'ja' }) === '山田太郎'
 * @example formatPersonName('Yamada^Tarou=山田^太郎=やまだ^たろう', { lang: 'en' }) === 'Yamada, Tarou'
 */
export function formatPersonName(pn: string | null | undefined, opts: PersonNameOptions = {}): string {
  const raw = pn ?? '';
  const groups = raw.split('=').slice(0, 3).map(components);
  const [alphabetic, ideographic, phonetic] = groups;
  const present = (g: Components | undefined): g is Components =>
    g !== undefined && Object.values(g).some((c) => c !== '');
  const cjkPage = CJK_LANGUAGES.has(languageOf(opts.lang));
  const chosen =
    (cjkPage && present(ideographic) ? ideographic : undefined) ??
    (present(alphabetic) ? alphabetic : undefined) ??
    (present(ideographic) ? ideographic : undefined) ??
    (present(phonetic) ? phonetic : undefined);
  if (!chosen) return '';
  const text = formatGroup(chosen, HANGUL.test(raw));
  return opts.isolate ? bidiIsolate(text, opts.lang) : text;
}

/**
 * `text` wrapped in U+2068 … U+2069 when its direction differs from `lang`'s (an Arabic name in an
 * English sentence, a Latin one in an Arabic sentence); unchanged otherwise. For plain text.
 * @example bidiIsolate('محمد', 'en') === '\u2068محمد\u2069'
 */
export function bidiIsolate(text: string, lang?: string | null): string {
  if (text === '') return text;
  const rtlText = RTL_LANGUAGES.has(languageOf(lang));
  const differs = rtlText ? LTR_LETTER.test(text) : RTL_SCRIPT.test(text);
  return differs ? `${FSI}${text}${PDI}` : text;
}

/** `rtl` when the name's first letter is of a right-to-left script (as `dir="auto"` decides), else `ltr`. */
export function personNameDirection(name: string): 'ltr' | 'rtl' {
  const first = /\p{L}/u.exec(name)?.[0] ?? '';
  return RTL_SCRIPT.test(first) ? 'rtl' : 'ltr';
}

function formatGroup(c: Components, korean: boolean): string {
  const all = [c.family, c.given, c.middle, c.prefix, c.suffix].join('');
  if (HAN_KANA.test(all) || HANGUL.test(all)) {
    // Family name first, as these languages write it; Korean separates the two with a space.
    const core = [c.family, c.given, c.middle].filter(Boolean).join(korean ? ' ' : '');
    return [c.prefix, core, c.suffix].filter(Boolean).join(' ');
  }
  if (RTL_SCRIPT.test(all)) {
    // Arabic and Hebrew put the given name first and the family name last: no Latin comma.
    return [c.prefix, c.given, c.middle, c.family, c.suffix].filter(Boolean).join(' ');
  }
  const first = [c.prefix, c.given, c.middle].filter(Boolean).join(' ');
  const name = c.family && first ? `${c.family}, ${first}` : c.family || first;
  return c.suffix ? (name ? `${name}, ${c.suffix}` : c.suffix) : name;
}

function components(group: string): Components {
  // Control characters (line breaks from a badly written store) would break a page's or a file's lines.
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^').map((s) =>
    s
      .replace(/\p{Cc}/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
  return { family, given, middle, prefix, suffix };
}

/** The primary language subtag of a BCP 47 tag (`zh-Hant-TW` → `zh`), '' when there is none or it is invalid. */
function languageOf(lang: string | null | undefined): string {
  if (!lang) return '';
  try {
    return new Intl.Locale(lang).language;
  } catch {
    return '';
  }
}
