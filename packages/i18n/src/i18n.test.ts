import { readdirSync } from 'node:fs';
import { IntlMessageFormat } from 'intl-messageformat';
import { describe, expect, it } from 'vitest';
import {
  catalogue,
  LANGUAGES,
  languageName,
  messagesWithPrefix,
  negotiateLanguage,
  pickLanguage,
  RTL_LANGUAGES,
  STAFF_LANGUAGES,
  type StaffLanguage,
  staffCatalogue,
  staffTranslator,
  translator,
} from './index.js';

const english = catalogue('en');

// Words that are the same in a language and in English (and were checked to be right there): the
// viewer's "Images" title and "1 image / 2 images" in French, its "Zoom" tool in French, German and
// Italian, "Contrast" in Dutch.
const SAME_AS_ENGLISH: Record<string, string[]> = {
  fr: [
    'page.patient',
    'page.date',
    'readme.patient',
    'readme.description',
    'viewer.title',
    'viewer.zoom',
    'viewer.imageCount',
  ],
  de: ['page.patient', 'readme.patient', 'viewer.zoom'],
  it: ['viewer.zoom'],
  nl: ['viewer.contrast'],
};

/** Argument names used anywhere in a message (placeholders, plural and select arguments). */
function argumentsOf(message: string, lang: string): string[] {
  const names = new Set<string>();
  // biome-ignore lint/suspicious/noExplicitAny: the parser's AST is walked generically
  const walk = (nodes: any[]) => {
    for (const n of nodes) {
      if (typeof n.value === 'string' && n.type !== 0) names.add(n.value);
      for (const option of Object.values(n.options ?? {})) walk((option as { value: unknown[] }).value);
    }
  };
  walk(new IntlMessageFormat(message, lang).getAst());
  return [...names].sort();
}

/** The plural categories each plural argument of a message offers, by argument. */
function pluralOptions(message: string, lang: string): string[][] {
  const found: string[][] = [];
  // biome-ignore lint/suspicious/noExplicitAny: the parser's AST is walked generically
  const walk = (nodes: any[]) => {
    for (const n of nodes) {
      if (n.type === 6) found.push(Object.keys(n.options));
      for (const option of Object.values(n.options ?? {})) walk((option as { value: unknown[] }).value);
    }
  };
  walk(new IntlMessageFormat(message, lang).getAst());
  return found;
}

describe('message catalogues', () => {
  it('the language list is the catalogue files: one JSON per language, each wired in', () => {
    const files = readdirSync(new URL('./messages/', import.meta.url))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
    expect([...LANGUAGES].sort()).toEqual(files);
    expect(new Set(LANGUAGES).size).toBe(LANGUAGES.length);
  });

  it('every plural offers the categories its language has, and no other', () => {
    // `many` in French, Spanish, Italian and Portuguese is for millions (`1 million d'images`), where
    // `other` reads the same; Arabic's `zero` may fall back to `other` (`0 صورة`).
    const optional = new Set(['many', 'zero']);
    for (const lang of LANGUAGES) {
      const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories as string[];
      for (const [key, message] of Object.entries(catalogue(lang))) {
        for (const options of pluralOptions(message, lang)) {
          const named = options.filter((o) => !o.startsWith('='));
          expect(
            named.filter((o) => !categories.includes(o)),
            `${lang} ${key}: categories ${lang} does not have`,
          ).toEqual([]);
          expect(
            categories.filter((c) => !optional.has(c) && !named.includes(c)),
            `${lang} ${key}: categories missing`,
          ).toEqual([]);
        }
      }
    }
  });

  it('every language has exactly the keys English has', () => {
    for (const lang of LANGUAGES) {
      const keys = Object.keys(catalogue(lang)).sort();
      expect(keys, lang).toEqual(Object.keys(english).sort());
    }
  });

  it('every message parses as ICU MessageFormat and uses the same arguments as English', () => {
    for (const lang of LANGUAGES) {
      for (const [key, message] of Object.entries(catalogue(lang))) {
        expect(argumentsOf(message, lang), `${lang} ${key}`).toEqual(
          argumentsOf(english[key] as string, 'en'),
        );
      }
    }
  });

  it('no language but English is left with English text', () => {
    for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
      const same = Object.entries(catalogue(lang))
        .filter(([key, message]) => message === english[key])
        .map(([key]) => key);
      expect(same, lang).toEqual(SAME_AS_ENGLISH[lang] ?? []);
    }
  });

  it('plurals follow each language through Intl.PluralRules', () => {
    expect(translator('en').t('page.counts', { series: 1, images: 1 })).toBe('1 series, 1 image');
    expect(translator('en').t('page.counts', { series: 2, images: 20 })).toBe('2 series, 20 images');
    expect(translator('pl').t('readme.counts', { series: 2, files: 5 })).toBe('2 serie, 5 plików');
    expect(translator('pl').t('readme.counts', { series: 1, files: 22 })).toBe('1 seria, 22 pliki');
    expect(translator('ar').t('page.counts', { series: 2, images: 1 })).toBe('سلسلتان، صورة واحدة');
    expect(translator('fr').t('page.counts', { series: 1, images: 0 })).toBe('1 série, 0 image');
    expect(translator('he').t('page.counts', { series: 1, images: 2 })).toBe('סדרה אחת, שתי תמונות');
    expect(translator('he').t('page.counts', { series: 3, images: 40 })).toBe('3 סדרות, 40 תמונות');
    expect(translator('ja').t('page.counts', { series: 1, images: 1 })).toBe('1シリーズ、1枚の画像');
    expect(translator('zh-Hans').t('readme.counts', { series: 2, files: 1234 })).toBe('2个序列，1,234个文件');
    expect(translator('ja').t('error.locked.text', { minutes: 15 })).toContain('15分間');
    // Numbers in the language's own digits and separators.
    expect(translator('de').t('page.counts', { series: 1, images: 1234 })).toBe('1 Serie, 1.234 Bilder');
  });

  // Russian and Ukrainian have four plural categories (one: 1, 21, 31…; few: 2–4, 22…; many: 0, 5–20,
  // 25…; other: fractions); each message must pick the right form through all of them.
  it('Russian and Ukrainian plurals: one, few, many and other', () => {
    const ru = translator('ru');
    const uk = translator('uk');
    const forms = (lang: 'ru' | 'uk', key: 'viewer.imageCount', ns: number[]) =>
      ns.map((count) => translator(lang).t(key, { count }));
    expect(forms('ru', 'viewer.imageCount', [1, 2, 5, 21, 11, 0, 1.5])).toEqual([
      '1 изображение',
      '2 изображения',
      '5 изображений',
      '21 изображение',
      '11 изображений',
      '0 изображений',
      '1,5 изображения',
    ]);
    expect(forms('uk', 'viewer.imageCount', [1, 2, 5, 21, 11, 0, 1.5])).toEqual([
      '1 зображення',
      '2 зображення',
      '5 зображень',
      '21 зображення',
      '11 зображень',
      '0 зображень',
      '1,5 зображення',
    ]);
    expect(ru.t('page.counts', { series: 1, images: 2 })).toBe('1 серия, 2 изображения');
    expect(ru.t('page.counts', { series: 5, images: 21 })).toBe('5 серий, 21 изображение');
    expect(ru.t('page.counts', { series: 2, images: 1234 })).toBe('2 серии, 1\u00a0234 изображения');
    expect(uk.t('page.counts', { series: 1, images: 2 })).toBe('1 серія, 2 зображення');
    expect(uk.t('page.counts', { series: 5, images: 21 })).toBe('5 серій, 21 зображення');
    expect(uk.t('page.counts', { series: 22, images: 5 })).toBe('22 серії, 5 зображень');
    expect([1, 2, 5, 21].map((files) => ru.t('readme.counts', { series: files, files }))).toEqual([
      '1 серия, 1 файл',
      '2 серии, 2 файла',
      '5 серий, 5 файлов',
      '21 серия, 21 файл',
    ]);
    expect([1, 2, 5, 21].map((files) => uk.t('readme.counts', { series: files, files }))).toEqual([
      '1 серія, 1 файл',
      '2 серії, 2 файли',
      '5 серій, 5 файлів',
      '21 серія, 21 файл',
    ]);
    expect([1, 2, 5, 21].map((minutes) => ru.t('error.locked.text', { minutes }))).toEqual(
      ['1 минуту', '2 минуты', '5 минут', '21 минуту'].map(
        (m) =>
          `Для этой ссылки слишком много раз ввели неверные данные. Она заблокирована на ${m}; пожалуйста, попробуйте позже.`,
      ),
    );
    expect([1, 2, 5, 21].map((minutes) => uk.t('error.locked.text', { minutes }))).toEqual(
      ['1 хвилину', '2 хвилини', '5 хвилин', '21 хвилину'].map(
        (m) =>
          `Для цього посилання забагато разів ввели неправильні дані. Його заблоковано на ${m}; будь ласка, спробуйте пізніше.`,
      ),
    );
    expect([1, 2, 5, 21].map((left) => ru.t('page.downloadsLeft', { left }))).toEqual(
      ['1 раз', '2 раза', '5 раз', '21 раз'].map(
        (n) => `По этой ссылке исследование можно скачать ещё ${n}.`,
      ),
    );
    expect([1, 2, 5, 21].map((left) => uk.t('page.downloadsLeft', { left }))).toEqual(
      ['1 раз', '2 рази', '5 разів', '21 раз'].map(
        (n) => `За цим посиланням дослідження можна завантажити ще ${n}.`,
      ),
    );
    // One use is "the last use"; 21 uses take the plural adjective with the singular noun.
    const intro = (lang: 'ru' | 'uk', count: number) =>
      translator(lang).t('history.intro', { count }).split('.')[0];
    expect([1, 2, 5, 21].map((n) => intro('ru', n))).toEqual([
      'Последнее использование этой ссылки',
      'Последние 2 использования этой ссылки',
      'Последние 5 использований этой ссылки',
      'Последние 21 использование этой ссылки',
    ]);
    expect([1, 2, 5, 21].map((n) => intro('uk', n))).toEqual([
      'Останнє використання цього посилання',
      'Останні 2 використання цього посилання',
      'Останні 5 використань цього посилання',
      'Останні 21 використання цього посилання',
    ]);
    expect(ru.t('viewer.counter', { index: 3, total: 1200 })).toBe('снимок 3 из 1\u00a0200');
    expect(uk.t('viewer.counter', { index: 3, total: 1200 })).toBe('знімок 3 з 1\u00a0200');
  });

  it('Russian and Ukrainian name the sender without declining it or giving it a gender', () => {
    // A verb in the present tense agrees with any institution's name, which stays in the nominative.
    expect(translator('ru').t('delivery.intro', { institution: 'St. Example Hospital' })).toBe(
      'St. Example Hospital открывает вам онлайн-доступ к вашему медицинскому исследованию.',
    );
    expect(translator('uk').t('delivery.intro', { institution: 'Лікарня №1' })).toBe(
      'Лікарня №1 надає вам онлайн-доступ до вашого медичного дослідження.',
    );
    expect(translator('uk').t('sender.questionsTo', { institution: 'Лікарня №1' })).toBe(
      'Маєте запитання щодо цього посилання? Звертайтеся: Лікарня №1.',
    );
  });

  it('Russian and Ukrainian dates, and the birth-date fields in day, month, year order', () => {
    const d = new Date(Date.UTC(2021, 0, 21, 14, 5));
    // The space before the year's abbreviation is plain or no-break depending on Node's ICU.
    const spaced = (s: string) => s.replace(/\s/g, ' ');
    expect(spaced(translator('ru').date(d, { timeZone: 'UTC' }))).toBe('21 января 2021 г.');
    expect(spaced(translator('uk').date(d, { timeZone: 'UTC' }))).toBe('21 січня 2021 р.');
    expect(translator('ru').dateTime(d, 'Europe/Kyiv')).toContain('16:05');
    expect(translator('uk').dateTime(d, 'Europe/Kyiv')).toContain('21 січня 2021');
    // Sizes as the page writes them: a decimal comma and the language's own unit.
    const mb = { style: 'unit', unit: 'megabyte', maximumFractionDigits: 1 } as const;
    expect(spaced(translator('ru').number(12.34, mb))).toBe('12,3 МБ');
    expect(spaced(translator('uk').number(12.34, mb))).toBe('12,3 МБ');
    expect(translator('ru').dateFieldOrder).toEqual(['day', 'month', 'year']);
    expect(translator('uk').dateFieldOrder).toEqual(['day', 'month', 'year']);
  });

  it('the viewer formats its counts and counter in the language', () => {
    expect(translator('pl').t('viewer.imageCount', { count: 1 })).toBe('1 obraz');
    expect(translator('pl').t('viewer.imageCount', { count: 3 })).toBe('3 obrazy');
    expect(translator('pl').t('viewer.imageCount', { count: 12 })).toBe('12 obrazów');
    expect(translator('ar').t('viewer.imageCount', { count: 2 })).toBe('صورتان');
    expect(translator('ar').t('viewer.imageCount', { count: 5 })).toBe('5 صور');
    expect(translator('fr').t('viewer.counter', { index: 3, total: 1200 })).toBe('image 3 sur 1\u202f200');
    expect(translator('en').t('viewer.counter', { index: 1, total: 120 })).toBe('image 1 / 120');
  });

  it('dates through Intl in the language', () => {
    const d = new Date(Date.UTC(2021, 0, 21));
    expect(translator('fr').date(d, { timeZone: 'UTC' })).toBe('21 janvier 2021');
    expect(translator('de').date(d, { timeZone: 'UTC' })).toBe('21. Januar 2021');
    expect(translator('el').date(d, { timeZone: 'UTC' })).toContain('2021');
    expect(translator('ja').date(d, { timeZone: 'UTC' })).toBe('2021年1月21日');
    expect(translator('zh-Hans').date(d, { timeZone: 'UTC' })).toBe('2021年1月21日');
    expect(translator('he').date(d, { timeZone: 'UTC' })).toBe('21 בינואר 2021');
  });

  it('the birth-date form asks year, month, day in Chinese and Japanese, day first in Hebrew', () => {
    expect(translator('zh-Hans').dateFieldOrder).toEqual(['year', 'month', 'day']);
    expect(translator('ja').dateFieldOrder).toEqual(['year', 'month', 'day']);
    expect(translator('he').dateFieldOrder).toEqual(['day', 'month', 'year']);
    expect(translator('en').dateFieldOrder).toEqual(['day', 'month', 'year']);
    for (const lang of LANGUAGES)
      expect([...translator(lang).dateFieldOrder].sort(), lang).toEqual(['day', 'month', 'year']);
  });

  it('Arabic and Hebrew are right to left, the others left to right', () => {
    expect([...RTL_LANGUAGES].sort()).toEqual(['ar', 'he']);
    expect(translator('he').dir).toBe('rtl');
    expect(translator('ar').dir).toBe('rtl');
    for (const lang of LANGUAGES)
      expect(translator(lang).dir, lang).toBe(RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr');
  });

  it('hands browser code the messages under a prefix', () => {
    const history = messagesWithPrefix('fr', 'history.');
    expect(history['history.when']).toBe('Quand');
    expect(Object.keys(history).every((k) => k.startsWith('history.'))).toBe(true);
  });

  it('names each language in itself, for the switcher', () => {
    expect(languageName('de')).toBe('Deutsch');
    expect(languageName('el')).toBe('Ελληνικά');
    expect(languageName('ar')).toBe('العربية');
    expect(languageName('ru')).toBe('Русский');
    expect(languageName('uk')).toBe('Українська');
    expect(languageName('zh-Hans')).toBe('简体中文');
    expect(languageName('ja')).toBe('日本語');
    expect(languageName('he')).toBe('עברית');
    const names = LANGUAGES.map(languageName);
    expect(new Set(names).size, names.join()).toBe(LANGUAGES.length);
  });
});

describe('the staff catalogue', () => {
  const staffEnglish = staffCatalogue('en');

  it('every staff language has exactly the keys English has, each message valid ICU with the same arguments', () => {
    for (const lang of STAFF_LANGUAGES) {
      expect(Object.keys(staffCatalogue(lang)).sort(), lang).toEqual(Object.keys(staffEnglish).sort());
      for (const [key, message] of Object.entries(staffCatalogue(lang))) {
        expect(argumentsOf(message, lang), `${lang} ${key}`).toEqual(
          argumentsOf(staffEnglish[key] as string, 'en'),
        );
      }
    }
  });

  it('an accessible name (`x.yLabel`) holds the visible text of its control (`x.y`) in every language', () => {
    // axe's label-content-name-mismatch: a voice user says what they see.
    for (const lang of STAFF_LANGUAGES) {
      const messages = staffCatalogue(lang);
      for (const [key, label] of Object.entries(messages)) {
        const visible = key.endsWith('Label') ? messages[key.slice(0, -'Label'.length)] : undefined;
        if (visible === undefined) continue;
        expect(label.toLocaleLowerCase(lang), `${lang} ${key}`).toContain(visible.toLocaleLowerCase(lang));
      }
    }
  });

  it('the staff side speaks the patient side’s languages', () => {
    expect([...STAFF_LANGUAGES].sort()).toEqual([...LANGUAGES].sort());
  });

  it('every staff plural offers the categories its language has (many and zero may fall to other)', () => {
    const optional = new Set(['many', 'zero']);
    for (const lang of STAFF_LANGUAGES) {
      const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories as string[];
      // Russian and Ukrainian need `many` (5 записей, 11 записів): not optional there.
      const required = categories.filter((c) => (['ru', 'uk'].includes(lang) ? true : !optional.has(c)));
      for (const [key, message] of Object.entries(staffCatalogue(lang))) {
        for (const options of pluralOptions(message, lang)) {
          const named = options.filter((o) => !o.startsWith('='));
          expect(
            named.filter((o) => !categories.includes(o)),
            `${lang} ${key}`,
          ).toEqual([]);
          expect(
            required.filter((c) => !named.includes(c)),
            `${lang} ${key}`,
          ).toEqual([]);
        }
      }
    }
  });

  it('formats Russian, Ukrainian and Hebrew plurals in the staff pages with their own forms', () => {
    // The caption of the users' table: one, few and many (ru, uk), one, two and other (he).
    const forms = (lang: StaffLanguage, counts: number[]) =>
      counts.map((count) => staffTranslator(lang).t('users.caption', { count }).replace(String(count), '#'));
    for (const lang of ['ru', 'uk'] as const) expect(new Set(forms(lang, [1, 3, 5])).size, lang).toBe(3);
    expect(new Set(forms('he', [1, 2, 5])).size).toBe(3);
    expect(staffTranslator('ja').t('users.caption', { count: 3 })).toContain('3');
  });

  it('formats placeholders, selects and plurals', () => {
    const st = staffTranslator('en');
    expect(st.t('layout.errorSummary', { count: 1 })).toBe('Please correct this problem');
    expect(st.t('layout.errorSummary', { count: 3 })).toBe('Please correct these 3 problems');
    expect(st.t('layout.signedInAs', { username: 'alice', role: 'admin' })).toBe(
      'Signed in as alice (administrator)',
    );
    expect(st.t('layout.signedInAs', { username: 'bob', role: 'staff' })).toBe('Signed in as bob (staff)');
  });

  it('keeps apart from the patient catalogues (a key of one is not looked up in the other)', () => {
    expect(Object.keys(staffEnglish).some((k) => k in english)).toBe(false);
  });
});

describe('negotiateLanguage', () => {
  it('follows quality values, then order, and matches regional tags to their language', () => {
    expect(negotiateLanguage('de-CH,de;q=0.9,en;q=0.8', 'en')).toBe('de');
    expect(negotiateLanguage('ko,pt-BR;q=0.8,fr;q=0.9', 'en')).toBe('fr');
    expect(negotiateLanguage('en;q=0.1, ar-EG', 'fr')).toBe('ar');
    expect(negotiateLanguage('xx, yy', 'nl')).toBe('nl');
    expect(negotiateLanguage('fr;q=0, *', 'it')).toBe('it');
    expect(negotiateLanguage('', 'tr')).toBe('tr');
    expect(negotiateLanguage(undefined, 'pl')).toBe('pl');
    expect(negotiateLanguage('el;q=bogus,es', 'en')).toBe('el');
    expect(negotiateLanguage('uk-UA,uk;q=0.9,ru;q=0.8,en;q=0.5', 'en')).toBe('uk');
    expect(negotiateLanguage('ru-RU,ru;q=0.9', 'en')).toBe('ru');
    expect(negotiateLanguage('be-BY,ru;q=0.7', 'en')).toBe('ru');
    expect(negotiateLanguage('ja-JP,ja;q=0.9,en;q=0.8', 'en')).toBe('ja');
    expect(negotiateLanguage('he-IL,he;q=0.9', 'en')).toBe('he');
    expect(negotiateLanguage('iw-IL', 'en')).toBe('he'); // Hebrew's old subtag (Java, old Android)
  });

  it('gives Simplified Chinese to zh, zh-CN, zh-Hans-*, and to Traditional only when nothing better', () => {
    for (const header of [
      'zh-CN',
      'zh',
      'zh-Hans-CN',
      'zh-Hans',
      'zh-SG',
      'ZH-cn',
      'zh-CN,zh;q=0.9,en;q=0.8',
    ])
      expect(negotiateLanguage(header, 'en'), header).toBe('zh-Hans');
    // A Traditional reader gets a language the header names in full before Simplified...
    expect(negotiateLanguage('zh-TW,en;q=0.5', 'fr')).toBe('en');
    expect(negotiateLanguage('zh-Hant,ja;q=0.3', 'en')).toBe('ja');
    expect(negotiateLanguage('zh-HK,zh-Hant;q=0.9,de;q=0.1', 'en')).toBe('de');
    expect(negotiateLanguage('zh-Hant-CN,fr;q=0.2', 'en')).toBe('fr');
    // ...a plain `zh` is any Chinese, at its own quality...
    expect(negotiateLanguage('zh-TW,zh;q=0.9,en;q=0.8', 'fr')).toBe('zh-Hans');
    // ...and Simplified rather than the setup's default when the header names nothing else of ours.
    expect(negotiateLanguage('zh-TW', 'en')).toBe('zh-Hans');
    expect(negotiateLanguage('zh-Hant-TW,xx;q=0.5,*;q=0.1', 'de')).toBe('zh-Hans');
    expect(pickLanguage({ chosen: 'zh-Hans', acceptLanguage: 'zh-TW,en', fallback: 'en' })).toBe('zh-Hans');
    expect(pickLanguage({ chosen: 'zh', acceptLanguage: 'en', fallback: 'fr' })).toBe('en');
  });

  it('an explicit choice wins when it is one of ours', () => {
    expect(pickLanguage({ chosen: 'es', acceptLanguage: 'de', fallback: 'en' })).toBe('es');
    expect(pickLanguage({ chosen: 'xx', acceptLanguage: 'de', fallback: 'en' })).toBe('de');
    expect(pickLanguage({ chosen: undefined, acceptLanguage: undefined, fallback: 'pt' })).toBe('pt');
  });
});
