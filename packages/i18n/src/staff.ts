import { formatMessage, type MessageValues, negotiate } from './format.js';
import { dateTimeFormat } from './intl-cache.js';
import { LANGUAGES, type Language, RTL_LANGUAGES } from './languages.js';
import ar from './messages/staff/ar.json' with { type: 'json' };
import de from './messages/staff/de.json' with { type: 'json' };
import el from './messages/staff/el.json' with { type: 'json' };
import en from './messages/staff/en.json' with { type: 'json' };
import es from './messages/staff/es.json' with { type: 'json' };
import fr from './messages/staff/fr.json' with { type: 'json' };
import he from './messages/staff/he.json' with { type: 'json' };
import it from './messages/staff/it.json' with { type: 'json' };
import ja from './messages/staff/ja.json' with { type: 'json' };
import nl from './messages/staff/nl.json' with { type: 'json' };
import pl from './messages/staff/pl.json' with { type: 'json' };
import pt from './messages/staff/pt.json' with { type: 'json' };
import ru from './messages/staff/ru.json' with { type: 'json' };
import tr from './messages/staff/tr.json' with { type: 'json' };
import uk from './messages/staff/uk.json' with { type: 'json' };
import zhHans from './messages/staff/zh-Hans.json' with { type: 'json' };

/**
 * The staff interface's messages: ICU MessageFormat like the patient catalogues, one JSON file per
 * language under `messages/staff/`, in the patient side's languages (LANGUAGES: a language added
 * there needs its staff file here, or this does not compile). English is the reference; every
 * other file has exactly English's keys (a test checks).
 */
export type StaffMessageKey = keyof typeof en;

export const STAFF_LANGUAGES = LANGUAGES;
export type StaffLanguage = Language;

const CATALOGUES: Record<StaffLanguage, Readonly<Record<string, string>>> = {
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

export function isStaffLanguage(value: unknown): value is StaffLanguage {
  return typeof value === 'string' && (STAFF_LANGUAGES as readonly string[]).includes(value);
}

/**
 * The staff member's language: the one kept with the account when it is one of ours, else the best
 * match for the browser's `Accept-Language`, else English.
 */
export function pickStaffLanguage(p: {
  chosen?: string | null | undefined;
  acceptLanguage?: string | null | undefined;
}): StaffLanguage {
  if (isStaffLanguage(p.chosen)) return p.chosen;
  return negotiate(p.acceptLanguage, STAFF_LANGUAGES, 'en');
}

export function staffCatalogue(lang: StaffLanguage): Readonly<Record<string, string>> {
  return CATALOGUES[lang];
}

/** Formats staff messages in one language. */
export interface StaffTranslator {
  readonly lang: StaffLanguage;
  readonly dir: 'ltr' | 'rtl';
  /** A message with its ICU placeholders, plurals and selects filled in. */
  t(key: StaffMessageKey, values?: MessageValues): string;
  /** A calendar date the way this language writes it, through Intl (`5 January 2024`). */
  date(d: Date, opts?: { timeZone?: string }): string;
}

/** @example staffTranslator('en').t('layout.signOut') === 'Sign out' */
export function staffTranslator(lang: StaffLanguage = 'en'): StaffTranslator {
  const messages = CATALOGUES[lang];
  // English as hospitals outside the US write dates: day first, unambiguous.
  const intlLocale = lang === 'en' ? 'en-GB' : lang;
  return {
    lang,
    dir: RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr',
    t: (key, values) => formatMessage('staff', lang, messages, en, key, values),
    date: (d, opts = {}) =>
      dateTimeFormat(intlLocale, {
        dateStyle: 'long',
        ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      }).format(d),
  };
}
