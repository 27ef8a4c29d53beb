import { escapeHtml, html } from '@studylink/service-kit';
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDicomDate, formatDicomTime } from './format.js';

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
