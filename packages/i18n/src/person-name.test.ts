import { describe, expect, it } from 'vitest';
import { bidiIsolate, formatPersonName, personNameDirection } from './person-name.js';

const FSI = '\u2068';
const PDI = '\u2069';

describe('formatPersonName', () => {
  it.each([
    // Latin: the store's case, "Family, Given Middle", prefix before the given name, suffix after.
    ['DOE^JANE', 'en', 'DOE, JANE'],
    ['Doe^Jane', 'fr', 'Doe, Jane'],
    ['DOE^JANE^M^DR^PHD', 'en', 'DOE, DR JANE M, PHD'],
    ['Smith^John^^^Jr', 'en', 'Smith, John, Jr'],
    ["O'Neil^Mary-Kate", 'en', "O'Neil, Mary-Kate"],
    ['van der Berg^Anna', 'nl', 'van der Berg, Anna'],
    // Empty given name, empty family name, nothing.
    ['DOE', 'en', 'DOE'],
    ['DOE^', 'en', 'DOE'],
    ['^JANE', 'en', 'JANE'],
    ['', 'en', ''],
    ['^^^^', 'en', ''],
    // Greek and Russian: as Latin.
    ['Παπαδόπουλος^Γιώργος', 'el', 'Παπαδόπουλος, Γιώργος'],
    ['Διονυσιος', 'el', 'Διονυσιος'],
    ['Иванов^Иван^Иванович', 'ru', 'Иванов, Иван Иванович'],
    ['Шевченко^Тарас^Григорович', 'uk', 'Шевченко, Тарас Григорович'],
    // Japanese (PS3.5 H.3.1): the ideographic group on a Japanese page, the alphabetic one elsewhere.
    ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'ja', '山田太郎'],
    ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'zh', '山田太郎'],
    ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'en', 'Yamada, Tarou'],
    ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'ar', 'Yamada, Tarou'],
    // Only one group: that one, whatever the page's language.
    ['=山田^太郎', 'en', '山田太郎'],
    ['山田^太郎', 'en', '山田太郎'],
    ['==やまだ^たろう', 'fr', 'やまだたろう'],
    ['Yamada^Tarou', 'ja', 'Yamada, Tarou'],
    // Chinese (PS3.5 I.2): no comma, no space.
    ['Wang^XiaoDong=王^小東=', 'zh-Hans', '王小東'],
    ['Wang^XiaoDong=王^小東=', 'de', 'Wang, XiaoDong'],
    ['张^伟', 'en', '张伟'],
    // Korean (PS3.5 I.2): family, a space, given; a Hanja group is spaced too when the name is Korean.
    ['Hong^Gildong=洪^吉洞=홍^길동', 'ko', '洪 吉洞'],
    ['Hong^Gildong=洪^吉洞=홍^길동', 'en', 'Hong, Gildong'],
    ['홍^길동', 'ko', '홍 길동'],
    ['=김^민준', 'pl', '김 민준'],
    // Arabic and Hebrew: given name first, family name last, no Latin comma.
    ['الأحمد^محمد', 'ar', 'محمد الأحمد'],
    ['عبد الله^فاطمة^علي', 'ar', 'فاطمة علي عبد الله'],
    ['כהן^שרה', 'he', 'שרה כהן'],
    // Control characters and runs of spaces from the store do not reach the page.
    ['DOE\n^  JANE\t', 'en', 'DOE, JANE'],
  ])('%s in %s → %s', (pn, lang, expected) => {
    expect(formatPersonName(pn, { lang })).toBe(expected);
  });

  it('takes a missing name or language', () => {
    expect(formatPersonName(null)).toBe('');
    expect(formatPersonName(undefined, { lang: 'ja' })).toBe('');
    expect(formatPersonName('Yamada^Tarou=山田^太郎')).toBe('Yamada, Tarou');
    expect(formatPersonName('Yamada^Tarou=山田^太郎', { lang: 'not a language!' })).toBe('Yamada, Tarou');
  });

  it('isolates a name that runs the other way from the text around it (plain text)', () => {
    expect(formatPersonName('الأحمد^محمد', { lang: 'en', isolate: true })).toBe(`${FSI}محمد الأحمد${PDI}`);
    expect(formatPersonName('כהן^שרה', { lang: 'fr', isolate: true })).toBe(`${FSI}שרה כהן${PDI}`);
    expect(formatPersonName('DOE^JANE', { lang: 'ar', isolate: true })).toBe(`${FSI}DOE, JANE${PDI}`);
    // Same direction: nothing added.
    expect(formatPersonName('الأحمد^محمد', { lang: 'ar', isolate: true })).toBe('محمد الأحمد');
    expect(formatPersonName('DOE^JANE', { lang: 'en', isolate: true })).toBe('DOE, JANE');
    expect(formatPersonName('', { lang: 'ar', isolate: true })).toBe('');
    expect(bidiIsolate('123', 'ar')).toBe('123');
  });

  it('says which way a name runs', () => {
    expect(personNameDirection('محمد الأحمد')).toBe('rtl');
    expect(personNameDirection('שרה כהן')).toBe('rtl');
    expect(personNameDirection('DOE, JANE')).toBe('ltr');
    expect(personNameDirection('山田太郎')).toBe('ltr');
  });
});
