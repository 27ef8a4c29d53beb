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
