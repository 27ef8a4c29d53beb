import { describe, expect, it } from 'vitest';
import { foldName, nameSearchPatterns, nameSortKey, nameWords } from './name-fold.js';

describe('name folding for the staff search', () => {
  it('drops case and accents in every script that has them, keeps the kana voicing marks', () => {
    expect(foldName('Jérôme ÄNEAS Rüdiger')).toBe('jerome aneas rudiger');
    expect(foldName('ΔΙΟΝΎΣΙΟΣ')).toBe('διονυσιοσ');
    expect(foldName('Διονυσιος')).toBe('διονυσιοσ');
    expect(foldName('Ёлкин')).toBe('елкин');
    expect(foldName('قَبَّانِي')).toBe('قباني');
    expect(foldName('שָׁרוֹן')).toBe('שרון');
    expect(foldName('ﾔﾏﾀﾞ')).toBe('やまだ');
    expect(foldName('ヤマダ')).toBe('やまだ');
    expect(foldName('Straße')).toBe('strasse');
    expect(foldName('김희중')).toBe('김희중');
  });

  it('indexes every word of every group and each group run together', () => {
    expect(nameWords('Yamada^Tarou=山田^太郎=やまだ^たろう').sort()).toEqual(
      [
        'yamada',
        'tarou',
        'yamadatarou',
        '山田',
        '太郎',
        '山田太郎',
        'やまだ',
        'たろう',
        'やまだたろう',
      ].sort(),
    );
    expect(nameWords('')).toEqual([]);
    expect(nameSortKey('=山田^太郎')).toBe('山田^太郎');
  });

  it('makes each typed word a prefix pattern, with * and ? as wildcards and LIKE characters escaped', () => {
    expect(nameSearchPatterns('Doe, J?ne')).toEqual(['doe%', 'j_ne%']);
    expect(nameSearchPatterns('Люк*')).toEqual(['люк%']);
    expect(nameSearchPatterns('*ονυσ*')).toEqual(['%ονυσ%']);
    expect(nameSearchPatterns('100%_x')).toEqual(['100\\%%', 'x%']);
    expect(nameSearchPatterns(' * ')).toEqual([]);
  });
});
