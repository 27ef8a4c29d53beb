import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type MessageValues,
  type StaffLanguage,
  type StaffMessageKey,
  type StaffTranslator,
  staffCatalogue,
  staffTranslator,
} from '@studylink/i18n';
import { escapeHtml, SafeHtml } from '@studylink/service-kit';
import { dicomDateAsDate } from '../../patient/format.js';

/** Values of a message that is put into markup: SafeHtml values (a link, a <strong>) go in as they are. */
export type HtmlMessageValues = Record<string, string | number | Date | SafeHtml>;

/** The staff interface's text: every word a staff page shows comes through here, from the catalogue. */
export interface StaffText {
  readonly lang: string;
  readonly dir: 'ltr' | 'rtl';
  /** A message as plain text (the `html` tag escapes it where it goes into a page). */
  t(key: StaffMessageKey, values?: MessageValues): string;
  /** A message as markup: the text escaped, SafeHtml values inserted as they are. */
  html(key: StaffMessageKey, values: HtmlMessageValues): SafeHtml;
  /** A DICOM date (DA, `YYYYMMDD`) through Intl in the staff language; anything else as it is. */
  dicomDate(da: string): string;
  /** Whether the catalogue has `key` (for keys built from codes, such as `error.<code>`). */
  has(key: string): key is StaffMessageKey;
  /**
   * A finished page with the texts made when the code was loaded (schema messages, field labels,
   * choices: English then, no request being under way) put into this language.
   */
  localize(page: string): string;
}

// Private-use characters mark where markup goes: escaping leaves them alone, no message has them.
const MARK = (i: number) => `\uE000${i}\uE001`;

export function staffText(tr: StaffTranslator): StaffText {
  const messages = staffCatalogue(tr.lang);
  return {
    lang: tr.lang,
    dir: tr.dir,
    t: (key, values) => tr.t(key, values),
    html(key, values) {
      const plain: MessageValues = {};
      const markup: SafeHtml[] = [];
      for (const [name, v] of Object.entries(values)) {
        if (v instanceof SafeHtml) {
          plain[name] = MARK(markup.length);
          markup.push(v);
        } else plain[name] = v;
      }
      const text = escapeHtml(tr.t(key, plain));
      return new SafeHtml(text.replace(/\uE000(\d+)\uE001/g, (_, i) => markup[Number(i)]?.value ?? ''));
    },
    dicomDate(da) {
      const d = dicomDateAsDate(da);
      return d ? tr.date(d, { timeZone: 'UTC' }) : da.trim();
    },
    has: (key): key is StaffMessageKey => Object.hasOwn(messages, key),
    localize: (page) => page,
  };
}

/** The language of the request under way (a holder, so the session's choice can still change it). */
const current = new AsyncLocalStorage<{ text: StaffText }>();
const texts = new Map<StaffLanguage, StaffText>();
const textIn = (lang: StaffLanguage): StaffText => {
  let t = texts.get(lang);
  if (!t) {
    t = staffText(staffTranslator(lang));
    texts.set(lang, t);
  }
  return t;
};
const english = textIn('en');
/** Texts made outside a request (when modules load), English, with their key and values. */
const madeAtLoad = new Map<string, [StaffMessageKey, MessageValues | undefined]>();
const active = (): StaffText => current.getStore()?.text ?? english;

const pairCache = new Map<string, { size: number; pairs: [RegExp, string][] }>();
/** Each load-time text as it stands escaped in a page (whole words only), and its translation. */
function loadTimePairs(text: StaffText): [RegExp, string][] {
  const cached = pairCache.get(text.lang);
  if (cached && cached.size === madeAtLoad.size) return cached.pairs;
  // Longest first, so a text never replaces part of a longer one.
  const pairs = [...madeAtLoad]
    .sort((a, b) => b[0].length - a[0].length)
    .map(([en, [key, values]]) => [escapeHtml(en), escapeHtml(text.t(key, values))] as const)
    .filter(([from, to]) => from !== to)
    .map(([from, to]): [RegExp, string] => [
      new RegExp(`(?<![\\p{L}\\p{N}])${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`, 'gu'),
      to.replace(/\$/g, '$$$$'),
    ]);
  pairCache.set(text.lang, { size: madeAtLoad.size, pairs });
  return pairs;
}

/** Runs `fn` with staff pages in `lang` (from the Accept-Language header at first). */
export function inStaffLanguage<T>(lang: StaffLanguage, fn: () => T): T {
  return current.run({ text: textIn(lang) }, fn);
}

/** Switches the request under way to `lang` (the language kept with the signed-in account). */
export function useStaffLanguage(lang: StaffLanguage): void {
  const holder = current.getStore();
  if (holder) holder.text = textIn(lang);
}

/**
 * The staff interface's text, in the language of the request under way: the account's choice, else
 * the browser's Accept-Language, else English (see staff.module.ts). Every string comes from
 * `@studylink/i18n`'s staff catalogues (ICU MessageFormat). Tests replace this module with a
 * pseudo-locale to prove no page text bypasses it.
 */
export const st: StaffText = {
  get lang() {
    return active().lang;
  },
  get dir() {
    return active().dir;
  },
  t(key, values) {
    const holder = current.getStore();
    if (holder) return holder.text.t(key, values);
    const text = english.t(key, values);
    madeAtLoad.set(text, [key, values]);
    return text;
  },
  html: (key, values) => active().html(key, values),
  dicomDate: (da) => active().dicomDate(da),
  has: (key): key is StaffMessageKey => english.has(key),
  localize(page) {
    const text = active();
    if (text.lang === 'en' || madeAtLoad.size === 0) return page;
    let out = page;
    for (const [from, to] of loadTimePairs(text)) out = out.replace(from, to);
    return out;
  },
};
