// The one list of languages, for the patient side and the staff pages alike (its own module: both
// index.ts and staff.ts read it as they load).

/**
 * The languages patient pages, error pages, the zip's README and the handout are written in, as
 * BCP 47 tags: the tag is the switcher's cookie value, `<html lang>` and the Intl locale. Chinese is
 * `zh-Hans` (Simplified): `lang="zh-Hans"` picks Simplified glyphs, and the negotiation gives it to
 * `zh`, `zh-CN`, `zh-SG`, `zh-Hans-*` but not to a Traditional reader (`zh-TW`, `zh-HK`, `zh-Hant`)
 * while the header names anything better.
 */
export const LANGUAGES = [
  'en',
  'fr',
  'de',
  'es',
  'it',
  'pt',
  'nl',
  'pl',
  'tr',
  'el',
  'ar',
  'ru',
  'uk',
  'zh-Hans',
  'ja',
  'he',
] as const;
export type Language = (typeof LANGUAGES)[number];

/** The languages written right to left: `dir="rtl"` on every patient page, the viewer and the handout. */
export const RTL_LANGUAGES: ReadonlySet<Language> = new Set<Language>(['ar', 'he']);
