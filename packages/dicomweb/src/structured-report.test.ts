import { describe, expect, it } from 'vitest';
import type { DicomJsonObject } from './dicom-json.helpers.js';
import {
  isTextStructuredReport,
  readableItems,
  readStructuredReport,
  reportImpression,
  reportToText,
} from './structured-report.js';

const code = (value: string, scheme: string, meaning: string) => ({
  vr: 'SQ',
  Value: [
    {
      '00080100': { vr: 'SH', Value: [value] },
      '00080102': { vr: 'SH', Value: [scheme] },
      '00080104': { vr: 'LO', Value: [meaning] },
    },
  ],
});
const item = (rel: string, type: string, name: ReturnType<typeof code>, rest: DicomJsonObject = {}) => ({
  '0040A010': { vr: 'CS', Value: [rel] },
  '0040A040': { vr: 'CS', Value: [type] },
  '0040A043': name,
  ...rest,
});
const content = (...children: DicomJsonObject[]) => ({ '0040A730': { vr: 'SQ', Value: children } });

// A Basic Text SR as a store's /metadata answers it (text decoded from ISO_IR 100).
const basic: DicomJsonObject = {
  '00080005': { vr: 'CS', Value: ['ISO_IR 100'] },
  '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.88.11'] },
  '00080018': { vr: 'UI', Value: ['1.2.3.4'] },
  '0020000E': { vr: 'UI', Value: ['1.2.3'] },
  '00080023': { vr: 'DA', Value: ['20240131'] },
  '0040A491': { vr: 'CS', Value: ['COMPLETE'] },
  '0040A493': { vr: 'CS', Value: ['VERIFIED'] },
  '0040A073': {
    vr: 'SQ',
    Value: [{ '0040A075': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen^^Dr.' }] } }],
  },
  '0040A040': { vr: 'CS', Value: ['CONTAINER'] },
  '0040A043': code('18748-4', 'LN', 'Diagnostic Imaging Report'),
  ...content(
    item('HAS OBS CONTEXT', 'PNAME', code('121008', 'DCM', 'Person Observer Name'), {
      '0040A123': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen' }] },
    }),
    item('CONTAINS', 'CONTAINER', code('121070', 'DCM', 'Findings'), {
      ...content(
        item('CONTAINS', 'TEXT', code('121071', 'DCM', 'Finding'), {
          '0040A160': { vr: 'UT', Value: ['Rundherd im rechten Oberlappen, größer als 2022.'] },
        }),
        item('CONTAINS', 'NUM', code('G-D7FE', 'SRT', 'Diameter'), {
          '0040A300': {
            vr: 'SQ',
            Value: [
              {
                '0040A30A': { vr: 'DS', Value: [12.5] },
                ...{ '004008EA': code('mm', 'UCUM', 'millimeter') },
              },
            ],
          },
        }),
        item('CONTAINS', 'CODE', code('121071', 'DCM', 'Finding'), {
          '0040A168': code('M-03010', 'SRT', 'Nodule'),
        }),
        item('CONTAINS', 'DATE', code('111060', 'DCM', 'Study Date'), {
          '0040A121': { vr: 'DA', Value: ['20220315'] },
        }),
        item('CONTAINS', 'IMAGE', code('121112', 'DCM', 'Source of Measurement')),
        item('CONTAINS', 'CONTAINER', code('1', '99X', 'Empty section')),
      ),
    }),
    item('CONTAINS', 'CONTAINER', code('121072', 'DCM', 'Impression'), {
      ...content(
        item('CONTAINS', 'TEXT', code('121073', 'DCM', 'Impression'), {
          '0040A160': { vr: 'UT', Value: ['Kontrolle in 3 Monaten empfohlen.'] },
        }),
      ),
    }),
  ),
};

describe('structured report from DICOM JSON', () => {
  it('keeps the headings, the nesting and every value type a reader needs', () => {
    const r = readStructuredReport(basic);
    expect(r.title).toBe('Diagnostic Imaging Report');
    expect(r.contentDate).toBe('2024-01-31');
    expect(r.completion).toBe('COMPLETE');
    expect(r.verification).toBe('VERIFIED');
    expect(r.verifiedBy).toEqual(['Müller Jürgen Dr.']);
    expect(r.sopInstanceUid).toBe('1.2.3.4');
    const shown = readableItems(r.content);
    // The observer context is not a section; the empty container is dropped.
    expect(shown.map((i) => i.heading)).toEqual(['Findings', 'Impression']);
    const findings = shown[0]?.children ?? [];
    expect(findings.map((i) => [i.heading, i.value])).toEqual([
      ['Finding', 'Rundherd im rechten Oberlappen, größer als 2022.'],
      ['Diameter', '12.5 mm'],
      ['Finding', 'Nodule'],
      ['Study Date', '2022-03-15'],
    ]);
  });

  it('writes the report as indented text and finds the impression', () => {
    const r = readStructuredReport(basic);
    expect(reportToText(r)).toBe(
      [
        'Diagnostic Imaging Report',
        '',
        'Findings',
        '  Finding: Rundherd im rechten Oberlappen, größer als 2022.',
        '  Diameter: 12.5 mm',
        '  Finding: Nodule',
        '  Study Date: 2022-03-15',
        'Impression',
        '  Impression: Kontrolle in 3 Monaten empfohlen.',
      ].join('\n'),
    );
    expect(reportImpression(r)).toBe('Kontrolle in 3 Monaten empfohlen.');
  });

  it('reads Japanese text and names as the document wrote them (ISO 2022 IR 87, decoded by the store)', () => {
    const ds: DicomJsonObject = {
      '00080005': { vr: 'CS', Value: [null, 'ISO 2022 IR 87'] },
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.88.33'] },
      '0040A043': code('18748-4', 'LN', '画像診断報告書'),
      ...content(
        item('CONTAINS', 'TEXT', code('121072', 'DCM', '所見'), {
          '0040A160': { vr: 'UT', Value: ['異常なし'] },
        }),
        item('CONTAINS', 'PNAME', code('121008', 'DCM', '読影医'), {
          '0040A123': { vr: 'PN', Value: [{ Ideographic: '山田^太郎' }] },
        }),
      ),
    };
    expect(isTextStructuredReport(ds)).toBe(true);
    const r = readStructuredReport(ds);
    expect(reportToText(r)).toBe('画像診断報告書\n\n所見: 異常なし\n読影医: 山田 太郎');
    expect(reportImpression(r)).toBe('異常なし');
  });

  it('survives what a malformed document holds: missing values, wrong shapes, deep nesting', () => {
    let deep: DicomJsonObject = item('CONTAINS', 'TEXT', code('1', 'X', 'Leaf'), {
      '0040A160': { vr: 'UT', Value: ['deep'] },
    });
    for (let i = 0; i < 100; i++)
      deep = item('CONTAINS', 'CONTAINER', code('2', 'X', 'Level'), content(deep));
    const ds: DicomJsonObject = {
      '0040A730': { vr: 'SQ', Value: [null, 'x', {}, deep] as unknown[] },
      '0040A043': { vr: 'SQ' },
      '00080023': { vr: 'DA', Value: ['garbage'] },
    };
    const r = readStructuredReport(ds);
    expect(r.title).toBe('');
    expect(r.contentDate).toBe('');
    expect(reportToText(r)).not.toContain('deep');
    expect(isTextStructuredReport(ds)).toBe(false);
    expect(isTextStructuredReport(basic)).toBe(true);
  });
});
