import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeHeader, writeText, writeUl } from './dicom-element.encoder.js';
import { InvalidDicomError, MAX_META_LENGTH, parsePart10Meta, readPart10Meta } from './part10-meta.parser.js';

const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data';
const TEST_FILES = join(PYDICOM, 'test_files');
const CHARSET_FILES = join(PYDICOM, 'charset_files');

/** What dcmtk reads from the File Meta Information, as an independent reference. */
function dcmtkMeta(path: string) {
  const dump = spawnSync(
    'dcmdump',
    ['-Un', '+P', '0002,0000', '+P', '0002,0002', '+P', '0002,0003', '+P', '0002,0010', path],
    {
      encoding: 'utf8',
    },
  );
  const value = (tag: string) =>
    new RegExp(`^\\(${tag}\\) \\w\\w \\[?([^\\]\\s]*)`, 'm').exec(dump.stdout)?.[1];
  return {
    groupLength: Number(value('0002,0000')),
    sopClassUid: value('0002,0002'),
    sopInstanceUid: value('0002,0003'),
    transferSyntaxUid: value('0002,0010'),
  };
}

/** A Part 10 header built element by element, for the cases no sample file has. */
function part10(elements: (buf: Buffer, pos: number) => number, withGroupLength = true): Buffer {
  const buf = Buffer.alloc(4096);
  buf.write('DICM', 128, 'latin1');
  const start = withGroupLength ? 144 : 132;
  const end = elements(buf, start);
  if (withGroupLength) writeUl(buf, 132, 0x00020000, end - 144);
  return buf.subarray(0, end);
}

const standardMeta = (transferSyntax: string) => (buf: Buffer, pos: number) => {
  let at = writeText(buf, pos, { tag: 0x00020002, vr: 'UI' }, '1.2.840.10008.5.1.4.1.1.7', false);
  at = writeText(buf, at, { tag: 0x00020003, vr: 'UI' }, '1.2.3.4', false);
  return writeText(buf, at, { tag: 0x00020010, vr: 'UI' }, transferSyntax, false);
};

describe('readPart10Meta', () => {
  const samples = [
    ...[
      'CT_small.dcm',
      'MR_small.dcm',
      'image_dfl.dcm',
      'ExplVR_BigEnd.dcm',
      'JPEG2000.dcm',
      'rtplan.dcm',
    ].map((name) => join(TEST_FILES, name)),
    ...readdirSync(CHARSET_FILES)
      .filter((name) => name.endsWith('.dcm'))
      .map((name) => join(CHARSET_FILES, name)),
  ];

  it.each(samples)('reads what dcmtk reads from %s', (path) => {
    const expected = dcmtkMeta(path);
    const meta = readPart10Meta(readFileSync(path));
    expect(meta).toEqual({
      transferSyntaxUid: expected.transferSyntaxUid,
      sopClassUid: expected.sopClassUid,
      sopInstanceUid: expected.sopInstanceUid,
      metaLength: 132 + 12 + expected.groupLength,
    });
  });

  it('returns null for every prefix shorter than the header, and the meta once it is complete', () => {
    const bytes = readFileSync(join(TEST_FILES, 'CT_small.dcm'));
    const meta = readPart10Meta(bytes);
    expect(meta?.metaLength).toBe(336);
    for (let length = 0; length < 336; length++) expect(readPart10Meta(bytes.subarray(0, length))).toBeNull();
    expect(readPart10Meta(bytes.subarray(0, 336))).toEqual(meta);
  });

  it('finds the end of a meta group without group length at the first element of another group', () => {
    const bytes = readFileSync(join(TEST_FILES, 'no_meta_group_length.dcm'));
    // The data set starts at 0x152 with (0008,0008); four bytes of its tag are needed to see that.
    expect(readPart10Meta(bytes.subarray(0, 0x152 + 3))).toBeNull();
    expect(readPart10Meta(bytes.subarray(0, 0x152 + 4))).toEqual({
      transferSyntaxUid: '1.2.840.10008.1.2',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.481.1',
      sopInstanceUid: '1.3.46.423632.131558.1322675745.41',
      metaLength: 0x152,
    });
    // A file holding nothing but the meta group ends it too, once the caller says no more bytes come.
    expect(parsePart10Meta(bytes.subarray(0, 0x152), false)).toBeNull();
    expect(parsePart10Meta(bytes.subarray(0, 0x152), true)?.metaLength).toBe(0x152);
  });

  it('strips trailing NUL and space padding from the UIDs', () => {
    const bytes = part10((buf, pos) => {
      let at = writeHeader(buf, pos, 0x00020002, 'UI', 8);
      at += buf.write('1.2.34 ', at, 'latin1') + 1; // space then NUL
      at = writeText(buf, at, { tag: 0x00020003, vr: 'UI' }, '5.6.7', false);
      return writeText(buf, at, { tag: 0x00020010, vr: 'UI' }, '1.2.840.10008.1.2.1', false);
    });
    expect(readPart10Meta(bytes)).toMatchObject({ sopClassUid: '1.2.34', sopInstanceUid: '5.6.7' });
  });

  it('throws InvalidDicomError for input that is not PS3.10', () => {
    const notPart10 = [
      readFileSync(join(TEST_FILES, 'no_meta.dcm')),
      Buffer.from('%PDF-1.7\n'.repeat(40)),
      Buffer.alloc(131), // 128 zero bytes, then a zero where 'D' belongs: known bad before the end
    ];
    for (const bytes of notPart10) expect(() => readPart10Meta(bytes)).toThrow(InvalidDicomError);
  });

  it('throws InvalidDicomError when a required meta element is missing', () => {
    // (0002,0002) and (0002,0003) are empty and there is no (0002,0010).
    expect(() => readPart10Meta(readFileSync(join(TEST_FILES, 'meta_missing_tsyntax.dcm')))).toThrow(
      /Transfer Syntax UID/,
    );
  });

  it('throws InvalidDicomError for a malformed meta group', () => {
    const malformed = [
      // group length claims more than fits
      part10((buf, pos) => standardMeta('1.2.840.10008.1.2.1')(buf, pos), true).fill(0xff, 140, 144),
      // an element that runs past the group length
      (() => {
        const bytes = Buffer.from(part10(standardMeta('1.2.840.10008.1.2.1')));
        bytes.writeUInt32LE(20, 140);
        return bytes;
      })(),
      // implicit VR in group 0002
      part10((buf, pos) => {
        buf.writeUInt16LE(0x0002, pos);
        buf.writeUInt16LE(0x0010, pos + 2);
        buf.writeUInt32LE(20, pos + 4);
        return pos + 8 + 20;
      }),
      // no element of group 0002 at all
      part10((buf, pos) => writeText(buf, pos, { tag: 0x00080016, vr: 'UI' }, '1.2.3', false), false),
    ];
    for (const bytes of malformed) expect(() => readPart10Meta(bytes)).toThrow(InvalidDicomError);
  });

  it('gives up instead of buffering without bound', () => {
    const huge = part10((buf, pos) => {
      const at = writeHeader(buf, pos, 0x00020102, 'OB', MAX_META_LENGTH);
      return at;
    });
    expect(() => readPart10Meta(huge)).toThrow(InvalidDicomError);
  });
});
