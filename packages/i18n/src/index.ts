import { formatMessage, type MessageValues, negotiate } from './format.js';
import { dateTimeFormat, numberFormat } from './intl-cache.js';
import { LANGUAGES, type Language, RTL_LANGUAGES } from './languages.js';
import ar from './messages/ar.json' with { type: 'json' };
import de from './messages/de.json' with { type: 'json' };
import el from './messages/el.json' with { type: 'json' };
import en from './messages/en.json' with { type: 'json' };
import es from './messages/es.json' with { type: 'json' };
import fr from './messages/fr.json' with { type: 'json' };
import he from './messages/he.json' with { type: 'json' };
import it from './messages/it.json' with { type: 'json' };
import ja from './messages/ja.json' with { type: 'json' };
import nl from './messages/nl.json' with { type: 'json' };
import pl from './messages/pl.json' with { type: 'json' };
import pt from './messages/pt.json' with { type: 'json' };
import ru from './messages/ru.json' with { type: 'json' };
import tr from './messages/tr.json' with { type: 'json' };
import uk from './messages/uk.json' with { type: 'json' };
import zhHans from './messages/zh-Hans.json' with { type: 'json' };

/** English is the reference catalogue: every other one has exactly its keys (a test checks). */
export type MessageKey = keyof typeof en;
export type Catalogue = Record<MessageKey, string>;

export { LANGUAGES, type Language, RTL_LANGUAGES };

const CATALOGUES: Record<Language, Record<string, string>> = {
  en,
  fr,
  de,
  es,
  it,
  pt,
  nl,
  pl,
  tr,
  el,
  ar,
  ru,
  uk,
  'zh-Hans': zhHans,
  ja,
  he,
};

/** The raw catalogue of one language (ICU MessageFormat strings by key). */
export function catalogue(lang: Language): Readonly<Record<string, string>> {
  return CATALOGUES[lang];
}

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/**
 * The best of our languages for an `Accept-Language` header (RFC 9110 §12.5.4: quality values, then
 * order; `fr-CH` matches `fr`, `zh-CN` matches `zh-Hans`), else `fallback`. A Traditional Chinese
 * range (`zh-TW`, `zh-Hant`) reaches Simplified only when no other range matches.
 * @example negotiateLanguage('de-CH,de;q=0.9,en;q=0.8', 'en') === 'de'
 * @example negotiateLanguage('zh-CN,zh;q=0.9', 'en') === 'zh-Hans'
 */
export function negotiateLanguage(acceptLanguage: string | null | undefined, fallback: Language): Language {
  return negotiate(acceptLanguage, LANGUAGES, fallback);
}

/**
 * The patient's language: an explicit choice (the page's switcher) when it is one of ours, else
 * the best match for `Accept-Language`, else `fallback` (the server setup's default).
 * @example pickLanguage({ chosen: undefined, acceptLanguage: 'ar-EG,ar;q=0.9', fallback: 'en' }) === 'ar'
 */
export function pickLanguage(p: {
  chosen?: string | null | undefined;
  acceptLanguage?: string | null | undefined;
  fallback: Language;
}): Language {
  return isLanguage(p.chosen) ? p.chosen : negotiateLanguage(p.acceptLanguage, p.fallback);
}

export type { MessageValues } from './format.js';

/** Formats messages, dates and numbers in one language. */
export interface Translator {
  readonly lang: Language;
  /** `rtl` for Arabic and Hebrew (RTL_LANGUAGES), `ltr` otherwise: for `<html dir>`. */
  readonly dir: 'ltr' | 'rtl';
  /** A message with its ICU placeholders, plurals and selects filled in. */
  t(key: MessageKey, values?: MessageValues): string;
  /** A date (and time, with `withTime`) the way this language writes it. */
  date(d: Date, opts?: { withTime?: boolean; timeZone?: string }): string;
  /**
   * A date and time in `timeZone`, hours and minutes, with the zone's label (`4 March 2031, 14:05 JST`):
   * every time a patient reads.
   */
  dateTime(d: Date, timeZone: string): string;
  number(n: number, opts?: Intl.NumberFormatOptions): string;
  /** The order this language writes a numeric date in: `['day', 'month', 'year']` in French. */
  readonly dateFieldOrder: ReadonlyArray<'day' | 'month' | 'year'>;
}

const translators = new Map<Language, Translator>();

/**
 * The translator for `lang`; a key missing from its catalogue (never in a tested build) falls back
 * to English rather than failing a patient's page.
 * @example translator('fr').t('study.images', { count: 3 }) === '3 images'
 */
export function translator(lang: Language): Translator {
  const cached = translators.get(lang);
  if (cached) return cached;
  const messages = CATALOGUES[lang];
  // English dates as hospitals outside the US write them (21 January 2021): unambiguous, day first.
  const intlLocale = lang === 'en' ? 'en-GB' : lang;
  const t: Translator = {
    lang,
    dir: RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr',
    t(key, values) {
      return formatMessage('patient', lang, messages, en, key, values);
    },
    date(d, opts = {}) {
      return dateTimeFormat(intlLocale, {
        dateStyle: 'long',
        ...(opts.withTime ? { timeStyle: 'short' } : {}),
        ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      }).format(d);
    },
    dateTime(d, timeZone) {
      return dateTimeFormat(intlLocale, {
        year: 'numeric',
        month: 'long',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        timeZone,
        timeZoneName: 'short',
      }).format(d);
    },
    number(n, opts) {
      return numberFormat(intlLocale, opts).format(n);
    },
    dateFieldOrder: new Intl.DateTimeFormat(intlLocale, { year: 'numeric', month: 'numeric', day: 'numeric' })
      .formatToParts(new Date(Date.UTC(2000, 11, 31)))
      .map((part) => part.type)
      .filter(
        (type): type is 'day' | 'month' | 'year' => type === 'day' || type === 'month' || type === 'year',
      ),
  };
  translators.set(lang, t);
  return t;
}

/**
 * The messages whose keys start with `prefix`, for browser code that formats them itself with
 * intl-messageformat (the viewer: its page hands `messagesWithPrefix(t.lang, 'viewer.')` to the
 * script in `data-messages`, packages/patient-viewer/src/messages.ts formats them).
 * @example messagesWithPrefix('fr', 'history.')['history.when'] === 'Quand'
 */
export function messagesWithPrefix(lang: Language, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(CATALOGUES[lang]).filter(([k]) => k.startsWith(prefix)));
}

/** The language names as each language writes its own, for a language switcher. */
export function languageName(lang: Language): string {
  let name = languageNames.get(lang);
  if (name === undefined) {
    const own = new Intl.DisplayNames([lang], { type: 'language' }).of(lang) ?? lang;
    name = own.charAt(0).toLocaleUpperCase(lang) + own.slice(1);
    languageNames.set(lang, name);
  }
  return name;
}
const languageNames = new Map<Language, string>();

export {
  bidiIsolate,
  formatPersonName,
  type PersonNameOptions,
  personNameDirection,
} from './person-name.js';
export {
  isStaffLanguage,
  pickStaffLanguage,
  STAFF_LANGUAGES,
  type StaffLanguage,
  type StaffMessageKey,
  type StaffTranslator,
  staffCatalogue,
  staffTranslator,
} from './staff.js';
export {
  dayInZone,
  endOfDayInZone,
  formatNumericInZone,
  partsInZone,
  wallTimeInZone,
  zoneLabel,
} from './time.js';
