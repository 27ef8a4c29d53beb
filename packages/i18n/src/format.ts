import { IntlMessageFormat } from 'intl-messageformat';

/** Values a message may take: numbers are formatted (and pluralised) in the message's language. */
export type MessageValues = Record<string, string | number | Date>;

const formatters = new Map<string, IntlMessageFormat>();

/**
 * A message of one catalogue formatted in `lang`: parsed once, then cached (under `scope`, so the
 * patient and the staff catalogues keep apart). A key the catalogue lacks falls back to `fallback`.
 */
export function formatMessage(
  scope: string,
  lang: string,
  messages: Readonly<Record<string, string>>,
  fallback: Readonly<Record<string, string>>,
  key: string,
  values?: MessageValues,
): string {
  const id = `${scope}\u0000${lang}\u0000${key}`;
  let f = formatters.get(id);
  if (!f) {
    const source = messages[key] ?? fallback[key] ?? key;
    f = new IntlMessageFormat(source, lang, undefined, { ignoreTag: true });
    formatters.set(id, f);
  }
  return String(f.format(values));
}

/** Language subtags older systems still send for a language that has since got another (Java, old Android). */
const DEPRECATED_LANGUAGES: Readonly<Record<string, string>> = { iw: 'he', in: 'id', ji: 'yi' };

/** Regions whose Chinese is written in Traditional characters when a tag names no script. */
const TRADITIONAL_CHINESE_REGIONS: ReadonlySet<string> = new Set(['tw', 'hk', 'mo']);

/**
 * The script a lowercased language range is written in: its own script subtag (`zh-hant-tw`), else
 * the likely one where it matters (Chinese: Traditional in Taiwan, Hong Kong and Macau, Simplified
 * elsewhere), else undefined (any script will do).
 */
function scriptOf(subtags: readonly string[]): string | undefined {
  const explicit = subtags.slice(1).find((s) => /^[a-z]{4}$/.test(s));
  if (explicit) return explicit;
  if (subtags[0] === 'zh')
    return subtags.slice(1).some((s) => TRADITIONAL_CHINESE_REGIONS.has(s)) ? 'hant' : 'hans';
  return undefined;
}

/**
 * How well one of our tags serves a language range: `strong` (same language, and same script when
 * ours names one: `zh-cn` for `zh-Hans`, `fr-ch` for `fr`), `weak` (same language in another script:
 * `zh-tw` for `zh-Hans`, readable but not what was asked), else none.
 */
function match(range: readonly string[], ours: string): 'strong' | 'weak' | undefined {
  const [language, ...rest] = ours.toLowerCase().split('-');
  if (range[0] !== language) return undefined;
  const script = rest.find((s) => /^[a-z]{4}$/.test(s));
  if (!script) return 'strong';
  const wanted = scriptOf(range);
  return wanted === undefined || wanted === script ? 'strong' : 'weak';
}

/**
 * The best of `supported` for an `Accept-Language` header (RFC 9110 §12.5.4: quality values, then
 * order; `fr-CH` matches `fr`, `zh-CN` and `zh-Hans-SG` match `zh-Hans`), else `fallback`. A range
 * in another script of one of our languages (`zh-TW`, `zh-Hant` for `zh-Hans`) is taken only when no
 * other range matches, `*` included (which otherwise means the fallback).
 */
export function negotiate<L extends string>(
  acceptLanguage: string | null | undefined,
  supported: readonly L[],
  fallback: L,
): L {
  if (!acceptLanguage) return fallback;
  const ranges = acceptLanguage
    .slice(0, 1000)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(p)?.[1]).find(Boolean);
      return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((r) => r.tag !== '' && r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  let weak: L | undefined;
  for (const r of ranges) {
    if (r.tag === '*') return weak ?? fallback;
    const subtags = r.tag.split('-');
    subtags[0] = DEPRECATED_LANGUAGES[subtags[0] as string] ?? (subtags[0] as string);
    for (const ours of supported) {
      const m = match(subtags, ours);
      if (m === 'strong') return ours;
      if (m === 'weak') weak ??= ours;
    }
  }
  return weak ?? fallback;
}
