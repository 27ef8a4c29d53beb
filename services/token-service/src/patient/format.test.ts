import { escapeHtml, html } from '@studylink/service-kit';
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDicomDate, formatDicomTime, formatPersonName } from './format.js';

describe('formatPersonName', () => {
  it.each([
    ['DOE^JANE', 'DOE, JANE'],
    ['DOE^JANE^M^DR^PHD', 'DOE, DR JANE M, PHD'],
    ['DOE', 'DOE'],
    ['^JANE', 'JANE'],
    ['', ''],
    ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'Yamada, Tarou (山田 太郎 / やまだ たろう)'],
    ['=山田^太郎', '山田 太郎'],
    ['Διονυσιος', 'Διονυσιος'],
    ['Люкceмбypг^Гept', 'Люкceмбypг, Гept'],
  ])('%s → %s', (pn, expected) => {
    expect(formatPersonName(pn)).toBe(expected);
  });
});

describe('dates, times, sizes', () => {
  it('formats DICOM dates', () => {
    expect(formatDicomDate('20210121')).toBe('21 January 2021');
    expect(formatDicomDate('20211321')).toBe('20211321');
    expect(formatDicomDate('')).toBe('');
  });
  it('formats DICOM times', () => {
    expect(formatDicomTime('143005.123')).toBe('14:30');
    expect(formatDicomTime('1430')).toBe('14:30');
    expect(formatDicomTime('14')).toBe('14:00');
    expect(formatDicomTime('')).toBe('');
  });
  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1_536)).toBe('1.5 KB');
    expect(formatBytes(214_000_000)).toBe('214 MB');
  });
});

describe('html escaping', () => {
  it('escapes interpolations but not nested html', () => {
    const name = '<script>alert(1)</script>';
    expect(html`<p title="${'"x"'}">${name}</p>${html`<b>ok</b>`}`.value).toBe(
      '<p title="&quot;x&quot;">&lt;script&gt;alert(1)&lt;/script&gt;</p><b>ok</b>',
    );
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });
});
