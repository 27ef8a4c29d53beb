import { IntlMessageFormat } from 'intl-messageformat';
// The English catalogue, for a message the page did not send (the bundle keeps only `viewer.*`).
import english from '../../i18n/src/messages/en.json' with { type: 'json' };

/** Values a message takes: numbers are formatted (and pluralised) in the page's language. */
export type MessageValues = Record<string, string | number>;

/** A `viewer.*` message of the page's language, filled in; never throws. */
export type Format = (key: string, values?: MessageValues) => string;

const ENGLISH: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(english as Record<string, string>).filter(([k]) => k.startsWith('viewer.')),
);

/** `lang` when Intl knows it as a language tag, else English. */
function localeOf(lang: string | undefined): string {
  try {
    return (lang && Intl.getCanonicalLocales(lang)[0]) || 'en';
  } catch {
    return 'en';
  }
}

/**
 * The viewer's messages as the page hands them over (`data-messages`, JSON of ICU MessageFormat by
 * key): `{}` when missing or not JSON, so that the English ones apply.
 */
export function parseMessages(json: string | undefined): Record<string, string> {
  try {
    const value: unknown = JSON.parse(json ?? '{}');
    if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string'));
  } catch {
    return {};
  }
}

/**
 * Formats the page's messages in its language with intl-messageformat (plurals through
 * Intl.PluralRules, numbers through Intl.NumberFormat). A message that is missing, does not parse or
 * cannot be filled in falls back to English, and past that to its key: the viewer never fails on one.
 * @example formatter('pl', { 'viewer.imageCount': '{count, plural, one {# obraz} few {# obrazy} many {# obrazów} other {# obrazu}}' })('viewer.imageCount', { count: 3 }) === '3 obrazy'
 */
export function formatter(lang: string | undefined, messages: Readonly<Record<string, string>>): Format {
  const locale = localeOf(lang);
  const compiled = new Map<string, IntlMessageFormat | null>();
  const compile = (id: string, source: string, loc: string) => {
    let f = compiled.get(id);
    if (f === undefined) {
      try {
        f = new IntlMessageFormat(source, loc, undefined, { ignoreTag: true });
      } catch {
        f = null;
      }
      compiled.set(id, f);
    }
    return f;
  };
  return (key, values) => {
    const candidates: Array<[string, string | undefined, string]> = [
      [`${locale}\u0000${key}`, messages[key], locale],
      [`en\u0000${key}`, ENGLISH[key], 'en'],
    ];
    for (const [id, source, loc] of candidates) {
      if (typeof source !== 'string') continue;
      try {
        const text = compile(id, source, loc)?.format(values);
        if (text !== undefined) return String(text);
      } catch {
        // A value the message needs is missing: the next candidate.
      }
    }
    return key;
  };
}

/** The counter under the image: `image 12 / 100` in English, '' for an empty stack. */
export function imageCounter(t: Format, index: number, total: number): string {
  return total > 0 ? t('viewer.counter', { index: index + 1, total }) : '';
}

/** A series' label in the strip: its modality and description, else its number. */
export function seriesLabel(
  t: Format,
  s: { modality: string; description: string; seriesNumber: number | string },
): string {
  return `${s.modality} ${s.description || t('viewer.seriesNumber', { number: String(s.seriesNumber) })}`.trim();
}
