import type { DicomJsonObject } from '@studylink/dicomweb';
import { describe, expect, it } from 'vitest';
import { parseReportPdfName } from './report-pdf.js';
import { studyReportsOf } from './study-reports.js';

const instance = (study: string, series: string, sop: string, sopClass: string): DicomJsonObject => ({
  '0020000D': { vr: 'UI', Value: [study] },
  '0020000E': { vr: 'UI', Value: [series] },
  '00080018': { vr: 'UI', Value: [sop] },
  '00080016': { vr: 'UI', Value: [sopClass] },
});
const CT = '1.2.840.10008.5.1.4.1.1.2';
const SR = '1.2.840.10008.5.1.4.1.1.88.11';
const PDF = '1.2.840.10008.5.1.4.1.1.104.1';

describe("a study's report instances", () => {
  it('are found by SOP class; a series of reports only is hidden whole, a mixed one is known as such', () => {
    const found = studyReportsOf(
      [
        instance('1.1', '2.1', '3.1', CT),
        instance('1.1', '2.2', '3.2', SR),
        instance('1.1', '2.3', '3.3', PDF),
        instance('1.1', '2.4', '3.4', CT),
        instance('1.1', '2.4', '3.5', SR),
        // The store is not trusted to filter: another study's report is not this study's.
        instance('9.9', '2.9', '3.9', PDF),
      ],
      '1.1',
    );
    expect([...found.instances.keys()]).toEqual(['3.2', '3.3', '3.5']);
    expect(found.instances.get('3.3')).toEqual({ series: '2.3', sopClassUid: PDF });
    expect([...found.reportOnlySeries]).toEqual(['2.2', '2.3']);
    expect([...found.seriesWithReports]).toEqual(['2.2', '2.3', '2.4']);
  });
});

describe('the name of a report PDF in its path', () => {
  it('is a UID with .pdf, or pushed.pdf; nothing else names one', () => {
    expect(parseReportPdfName('1.2.3.pdf')).toEqual({ kind: 'study', sopInstanceUid: '1.2.3' });
    expect(parseReportPdfName('pushed.pdf')).toEqual({ kind: 'pushed' });
    for (const bad of [
      '1.2.3.PDF',
      '1.2.3',
      '1..2.pdf',
      '.pdf',
      'PUSHED.pdf',
      '1%2E2.pdf',
      '1.2.pdf/',
      `${'1'.repeat(65)}.pdf`,
    ])
      expect(parseReportPdfName(bad), bad).toBeNull();
  });
});
