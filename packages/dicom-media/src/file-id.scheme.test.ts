import { describe, expect, it } from 'vitest';
import { assertValidFileId, fileIdFor, MAX_FILE_ID_NUMBER, zipEntryNameFor } from './file-id.scheme.js';

describe('fileIdFor', () => {
  it('numbers series and instances from 1 in seven digits', () => {
    expect(fileIdFor(0, 0)).toEqual(['DICOM', 'S0000001', 'I0000001']);
    expect(fileIdFor(2, 41)).toEqual(['DICOM', 'S0000003', 'I0000042']);
    expect(fileIdFor(1_000_000, 1_234_566)).toEqual(['DICOM', 'S1000001', 'I1234567']);
  });

  it('reaches 9,999,999 series and instances, and no further', () => {
    expect(fileIdFor(MAX_FILE_ID_NUMBER - 1, MAX_FILE_ID_NUMBER - 1)).toEqual([
      'DICOM',
      'S9999999',
      'I9999999',
    ]);
    for (const index of [MAX_FILE_ID_NUMBER, -1, 1.5, Number.NaN]) {
      expect(() => fileIdFor(index, 0)).toThrow(RangeError);
      expect(() => fileIdFor(0, index)).toThrow(RangeError);
    }
  });

  it('always yields a valid PS3.10 file ID', () => {
    for (const [s, i] of [
      [0, 0],
      [9, 99],
      [123_456, 7_654_321],
      [MAX_FILE_ID_NUMBER - 1, 0],
    ] as const) {
      const fileId = fileIdFor(s, i);
      expect(() => assertValidFileId(fileId)).not.toThrow();
      for (const component of fileId) expect(component).toMatch(/^[A-Z0-9_]{1,8}$/);
    }
  });
});

describe('zipEntryNameFor', () => {
  it('joins the components with slashes and adds no extension', () => {
    expect(zipEntryNameFor(fileIdFor(0, 0))).toBe('DICOM/S0000001/I0000001');
  });

  it('refuses what is not a PS3.10 file ID', () => {
    const invalid = [
      [],
      ['dicom'],
      ['DICOM', 'S00000001'],
      ['A.DCM'],
      ['..'],
      Array.from({ length: 9 }, () => 'A'),
      [''],
    ];
    for (const fileId of invalid) expect(() => zipEntryNameFor(fileId)).toThrow(RangeError);
  });
});
