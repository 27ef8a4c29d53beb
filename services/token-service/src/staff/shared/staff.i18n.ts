import {
  type MessageValues,
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
  };
}

/**
 * The staff interface's language. It is English: the issue lets staff pages stay English, but their
 * strings come from `@studylink/i18n`'s staff catalogue (ICU MessageFormat), so a translation is a
 * catalogue file, not a code change. Tests replace this module to prove no page text bypasses it.
 */
export const st: StaffText = staffText(staffTranslator('en'));
