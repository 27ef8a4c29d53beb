import { IntlMessageFormat } from 'intl-messageformat';
import { describe, expect, it } from 'vitest';
import {
  catalogue,
  LANGUAGES,
  languageName,
  messagesWithPrefix,
  negotiateLanguage,
  pickLanguage,
  STAFF_LANGUAGES,
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

describe('message catalogues', () => {
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
    // Numbers in the language's own digits and separators.
    expect(translator('de').t('page.counts', { series: 1, images: 1234 })).toBe('1 Serie, 1.234 Bilder');
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
  });

  it('Arabic is right to left, the others left to right', () => {
    for (const lang of LANGUAGES) expect(translator(lang).dir, lang).toBe(lang === 'ar' ? 'rtl' : 'ltr');
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
    expect(negotiateLanguage('ja,pt-BR;q=0.8,fr;q=0.9', 'en')).toBe('fr');
    expect(negotiateLanguage('en;q=0.1, ar-EG', 'fr')).toBe('ar');
    expect(negotiateLanguage('xx, yy', 'nl')).toBe('nl');
    expect(negotiateLanguage('fr;q=0, *', 'it')).toBe('it');
    expect(negotiateLanguage('', 'tr')).toBe('tr');
    expect(negotiateLanguage(undefined, 'pl')).toBe('pl');
    expect(negotiateLanguage('el;q=bogus,es', 'en')).toBe('el');
  });

  it('an explicit choice wins when it is one of ours', () => {
    expect(pickLanguage({ chosen: 'es', acceptLanguage: 'de', fallback: 'en' })).toBe('es');
    expect(pickLanguage({ chosen: 'xx', acceptLanguage: 'de', fallback: 'en' })).toBe('de');
    expect(pickLanguage({ chosen: undefined, acceptLanguage: undefined, fallback: 'pt' })).toBe('pt');
  });
});
