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

/**
 * The best of `supported` for an `Accept-Language` header (RFC 9110 §12.5.4: quality values, then
 * order; `fr-CH` matches `fr`), else `fallback`.
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
  for (const r of ranges) {
    if (r.tag === '*') return fallback;
    const primary = r.tag.split('-')[0] as string;
    if ((supported as readonly string[]).includes(primary)) return primary as L;
  }
  return fallback;
}
