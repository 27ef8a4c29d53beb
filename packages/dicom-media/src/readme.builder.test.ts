import { catalogue, LANGUAGES } from '@studylink/i18n';
import { describe, expect, it } from 'vitest';
import { buildReadme, type ReadmeInput } from './readme.builder.js';

const input: ReadmeInput = {
  institution: 'General Hospital',
  patientName: 'Doe^Jane',
  studyDate: '20210121',
  studyDescription: 'CT HEAD',
  instanceCount: 245,
  seriesCount: 3,
  viewerUrl: 'https://viewer.example/download',
};

describe('buildReadme', () => {
  it('says what is inside and how to open it', () => {
    const text = buildReadme(input);
    for (const expected of [
      'Patient:      Doe, Jane',
      'Study date:   2021-01-21',
      'Description:  CT HEAD',
      'Provided by:  General Hospital',
      'Contents:     3 series, 245 files',
      '  DICOMDIR     the index of the study, which DICOM viewers read first\r\n',
      '  README.txt   this file\r\n',
      'https://viewer.example/download',
      'Unzip',
      'open the extracted folder, or the DICOMDIR',
      'medical data',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('in every patient language: its own title and words, no line wider than 76 columns', () => {
    // Han, kana, CJK punctuation and fullwidth forms take two columns in Notepad or a terminal.
    const width = (line: string) =>
      Array.from(line).reduce(
        (n, ch) =>
          n + (/[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\u3000-\u303f\uff00-\uff60]/u.test(ch) ? 2 : 1),
        0,
      );
    for (const language of LANGUAGES) {
      const text = buildReadme({ ...input, language });
      expect(text.startsWith(`\uFEFF${catalogue(language)['readme.title']}\r\n`), language).toBe(true);
      expect(text, language).toContain(catalogue(language)['readme.private']);
      const wide = text.split('\r\n').filter((line) => width(line) > 76);
      expect(wide, language).toEqual([]);
      // The viewer's address whole, on a line of its own.
      expect(text, language).toContain('\r\n     https://viewer.example/download\r\n');
    }
  });

  it('wraps Chinese and Japanese between characters, never before a closing mark or small kana', () => {
    const ja = buildReadme({ ...input, language: 'ja' }).split('\r\n');
    const wrapped = ja.filter((line) => line.startsWith('     ') && /\p{sc=Han}|\p{sc=Hiragana}/u.test(line));
    expect(wrapped.length).toBeGreaterThan(0);
    for (const line of ja) expect(line.trimStart(), line).not.toMatch(/^[、。）」ーっゃゅょ]/u);
    // A description too long for its line goes on under itself, past the file names.
    expect(buildReadme({ ...input, language: 'fr' })).toContain(
      "  DICOMDIR     l'index de l'examen, que les visionneuses DICOM lisent en\r\n               premier\r\n",
    );
    const zh = buildReadme({ ...input, language: 'zh-Hans' });
    expect(zh).toContain('安装一款免费的 DICOM 查看器，例如：\r\n     https://viewer.example/download');
    expect(zh).toContain('3个序列，245个文件');
  });

  it('uses CRLF line endings only, after a UTF-8 byte order mark', () => {
    const text = buildReadme(input);
    expect(text.startsWith('\uFEFF')).toBe(true);
    expect(text).toMatch(/\r\n/);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('keeps values from the store on their line', () => {
    const text = buildReadme({
      ...input,
      studyDescription: 'CT\r\nHEAD\tWITH\u0000CONTRAST',
      institution: 'A\nB',
    });
    expect(text).toContain('Description:  CT HEAD WITH CONTRAST\r\n');
    expect(text).toContain('Provided by:  A B\r\n');
  });

  it('writes names as the page does, per script and language (@studylink/i18n formatPersonName)', () => {
    const pn = 'Yamada^Tarou=山田^太郎=やまだ^たろう';
    expect(buildReadme({ ...input, patientName: pn })).toContain('Patient:      Yamada, Tarou\r\n');
    expect(buildReadme({ ...input, patientName: pn, language: 'fr' })).toMatch(/: +Yamada, Tarou\r\n/);
    expect(buildReadme({ ...input, patientName: '=山田^太郎' })).toContain('Patient:      山田太郎\r\n');
    expect(buildReadme({ ...input, patientName: 'DOE^JANE^^^JR' })).toContain(
      'Patient:      DOE, JANE, JR\r\n',
    );
    // An Arabic name in an English README is isolated (U+2068 … U+2069) so it keeps its own order.
    expect(buildReadme({ ...input, patientName: 'الأحمد^محمد' })).toContain(
      'Patient:      \u2068محمد الأحمد\u2069\r\n',
    );
    // In an Arabic README it needs no isolation; a Latin name there does.
    expect(buildReadme({ ...input, patientName: 'الأحمد^محمد', language: 'ar' })).toMatch(/ محمد الأحمد\r\n/);
    expect(buildReadme({ ...input, patientName: 'DOE^JANE', language: 'ar' })).toContain(
      '\u2068DOE, JANE\u2069\r\n',
    );
  });

  it('is written in Russian and in Ukrainian, plurals and line widths included', () => {
    const cyrillic = { ...input, patientName: 'ШЕВЧЕНКО^ОЛЕНА', seriesCount: 21, instanceCount: 2 };
    const ru = buildReadme({ ...cyrillic, language: 'ru' });
    const uk = buildReadme({ ...cyrillic, language: 'uk' });
    for (const [text, expected] of [
      [
        ru,
        [
          'Ваше медицинское исследование\r\n=============================\r\n',
          '  Дата исследования:  2021-01-21\r\n',
          '  Кем предоставлено:  General Hospital\r\n',
          '  Содержимое:         21 серия, 2 файла\r\n',
          'ЧТО ВНУТРИ',
          'КАК ОТКРЫТЬ',
          '«Извлечь все...»',
          'НЕ ПЕРЕДАВАЙТЕ ПОСТОРОННИМ',
        ],
      ],
      [
        uk,
        [
          'Ваше медичне дослідження\r\n========================\r\n',
          '  Дата дослідження:  2021-01-21\r\n',
          '  Ким надано:        General Hospital\r\n',
          '  Вміст:             21 серія, 2 файли\r\n',
          'ЩО ВСЕРЕДИНІ',
          'ЯК ВІДКРИТИ',
          '«Видобути все...»',
          'НЕ ПЕРЕДАВАЙТЕ СТОРОННІМ',
        ],
      ],
    ] as const) {
      for (const line of expected) expect(text).toContain(line);
      expect(text).toContain('ШЕВЧЕНКО');
      // The viewer's address on a line of its own, after the sentence that leads to it.
      expect(text).toMatch(/:\r\n {5}https:\/\/viewer\.example\/download\r\n/);
      expect(text).not.toMatch(/HOW TO OPEN|WHAT IS INSIDE|KEEP IT PRIVATE|Install a free/);
      // Wrapped at 76 characters, counted as characters (Cyrillic is two bytes each in UTF-8).
      for (const line of text.split('\r\n')) expect(Array.from(line).length, line).toBeLessThanOrEqual(76);
    }
    expect(buildReadme({ ...input, seriesCount: 5, instanceCount: 5, language: 'ru' })).toContain(
      '5 серий, 5 файлов',
    );
    expect(buildReadme({ ...input, seriesCount: 5, instanceCount: 5, language: 'uk' })).toContain(
      '5 серій, 5 файлів',
    );
    expect(buildReadme({ ...input, seriesCount: 1, instanceCount: 1, language: 'ru' })).toContain(
      '1 серия, 1 файл',
    );
    // Ukrainian is its own text, not Russian with letters swapped.
    expect(uk).not.toContain('Ваше медицинское');
    expect(ru).not.toContain('дослідження');
  });

  it('leaves out what is unknown and only prints http(s) viewer links', () => {
    const text = buildReadme({ instanceCount: 1, seriesCount: 1, viewerUrl: 'javascript:alert(1)' });
    expect(text).not.toMatch(/Patient:|Study date:|Description:|Provided by:/);
    expect(text).toContain('Contents:     1 series, 1 file\r\n');
    expect(text).not.toContain('javascript');
    expect(text).toContain('Install a free DICOM viewer.');
  });
});
