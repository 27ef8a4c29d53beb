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
      'DICOMDIR',
      'https://viewer.example/download',
      'Unzip',
      'open the extracted folder, or the DICOMDIR',
      'medical data',
    ]) {
      expect(text).toContain(expected);
    }
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

  it('leaves out what is unknown and only prints http(s) viewer links', () => {
    const text = buildReadme({ instanceCount: 1, seriesCount: 1, viewerUrl: 'javascript:alert(1)' });
    expect(text).not.toMatch(/Patient:|Study date:|Description:|Provided by:/);
    expect(text).toContain('Contents:     1 series, 1 file\r\n');
    expect(text).not.toContain('javascript');
    expect(text).toContain('Install a free DICOM viewer.');
  });
});
