import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { CHARSET_DIR, pydicomHeaders, SAMPLE_DIR } from '@studylink/testkit';
import { describe, expect, it } from 'vitest';
import { type InstanceHeader, parseInstanceHeader } from './instance-header.parser.js';
import { readInstanceHeader } from './instance-header.reader.js';
import { InvalidDicomError } from './part10-meta.parser.js';

// Every PS3.10 file pydicom ships (with a DICM prefix) in every transfer syntax and character set.
const FILES = [CHARSET_DIR, SAMPLE_DIR].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.dcm'))
    .map((f) => join(dir, f))
    .filter((path) => readFileSync(path).subarray(128, 132).toString('latin1') === 'DICM'),
);

const COMPARED = [
  'specificCharacterSet',
  'studyInstanceUid',
  'seriesInstanceUid',
  'patientName',
  'patientId',
  'studyDate',
  'studyTime',
  'studyDescription',
  'studyId',
  'accessionNumber',
  'modality',
  'seriesNumber',
  'instanceNumber',
] as const;

describe('parseInstanceHeader', () => {
  it('reads what pydicom reads from every sample, text decoded from its character set', async () => {
    const expected = new Map<string, NonNullable<Awaited<ReturnType<typeof pydicomHeaders>>[number]>>();
    // pydicom cannot read some samples (no transfer syntax in the meta, say); those are left out.
    const theirs = await pydicomHeaders(FILES);
    for (const [i, path] of FILES.entries()) {
      const header = theirs[i];
      if (header) expected.set(path, header);
    }
    expect(expected.size).toBeGreaterThan(60);
    const transferSyntaxes = new Set<string>();
    const charsets = new Set<string>();
    let compared = 0;
    for (const [path, theirs] of expected) {
      let mine: InstanceHeader | null;
      try {
        mine = parseInstanceHeader(readFileSync(path), true);
      } catch (err) {
        // Only files that have no SOP Instance UID anywhere may be refused.
        expect(err, path).toBeInstanceOf(InvalidDicomError);
        expect(theirs.sopInstanceUid, path).toBe('');
        continue;
      }
      expect(mine, path).not.toBeNull();
      for (const key of COMPARED)
        expect(String(mine?.[key] ?? ''), `${path} ${key}`).toBe(String(theirs[key] ?? ''));
      // The file's own name for itself: the meta's Media Storage SOP Instance UID, else (0008,0018).
      expect(mine?.sopInstanceUid, path).toBe(theirs.mediaStorageSopInstanceUid || theirs.sopInstanceUid);
      transferSyntaxes.add(theirs.transferSyntaxUid);
      if (theirs.specificCharacterSet) charsets.add(theirs.specificCharacterSet);
      compared += 1;
    }
    expect(compared).toBeGreaterThan(60);
    for (const ts of [
      '1.2.840.10008.1.2',
      '1.2.840.10008.1.2.1',
      '1.2.840.10008.1.2.2',
      '1.2.840.10008.1.2.1.99',
      '1.2.840.10008.1.2.5',
      '1.2.840.10008.1.2.4.50',
      '1.2.840.10008.1.2.4.90',
    ])
      expect(transferSyntaxes, ts).toContain(ts);
    for (const cs of ['ISO_IR 100', 'ISO_IR 126', 'ISO_IR 144', 'ISO_IR 192', 'GB18030', '\\ISO 2022 IR 87'])
      expect(charsets, cs).toContain(cs);
  });

  it('decodes ISO 2022 Japanese and Korean, GB18030 and UTF-8 names', () => {
    const name = (file: string) =>
      parseInstanceHeader(readFileSync(join(CHARSET_DIR, file)), true)?.patientName;
    expect(name('chrH31.dcm')).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
    expect(name('chrI2.dcm')).toBe('Hong^Gildong=洪^吉洞=홍^길동');
    expect(name('chrX1.dcm')).toBe('Wang^XiaoDong=王^小東');
    expect(name('chrGreek.dcm')).toBe('Διονυσιος');
    expect(
      parseInstanceHeader(readFileSync(join(CHARSET_DIR, 'chrH32.dcm')), true)?.specificCharacterSet,
    ).toBe('ISO 2022 IR 13\\ISO 2022 IR 87');
  });

  it('needs no byte past Instance Number: a prefix up to Pixel Data is enough, a shorter one asks for more', () => {
    const file = readFileSync(join(SAMPLE_DIR, 'CT_small.dcm'));
    const pixelData = file.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
    expect(pixelData).toBeGreaterThan(0);
    const header = parseInstanceHeader(file.subarray(0, pixelData), false);
    expect(header?.instanceNumber).toBe(1);
    expect(header?.seriesInstanceUid).toBe('1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322');
    // Before the element after (0020,0013) is in, the parser cannot know (0020,0013) is complete.
    const instanceNumberAt = file.indexOf(Buffer.from([0x20, 0x00, 0x13, 0x00]));
    expect(parseInstanceHeader(file.subarray(0, instanceNumberAt + 9), false)).toBeNull();
  });

  it('reads the deflated sample from a prefix of its compressed bytes', () => {
    const file = readFileSync(join(SAMPLE_DIR, 'image_dfl.dcm'));
    const header = parseInstanceHeader(file.subarray(0, Math.min(file.length, 2048)), false);
    expect(header?.meta.transferSyntaxUid).toBe('1.2.840.10008.1.2.1.99');
    expect(header?.sopInstanceUid).not.toBe('');
  });

  it('refuses what is not DICOM', () => {
    expect(() => parseInstanceHeader(Buffer.alloc(300, 0x41), false)).toThrow(InvalidDicomError);
  });
});

describe('readInstanceHeader', () => {
  it('reads the header from a trickle of small chunks and the stream still yields every byte', async () => {
    const file = readFileSync(join(CHARSET_DIR, 'chrH31.dcm'));
    const stream = new PassThrough();
    const read = readInstanceHeader(stream);
    for (let at = 0; at < file.length; at += 7) stream.write(file.subarray(at, at + 7));
    stream.end();
    const { header, body } = await read;
    expect(header).not.toBeInstanceOf(Error);
    expect((header as InstanceHeader).patientName).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
    expect((await buffer(body)).equals(file)).toBe(true);
  });

  it('gives back bytes that are no DICOM header, unchanged', async () => {
    const junk = Buffer.alloc(1000, 0x42);
    const { header, body } = await readInstanceHeader(Readable.from([junk]));
    expect(header).toBeInstanceOf(InvalidDicomError);
    expect((await buffer(body)).equals(junk)).toBe(true);
  });

  it('rejects when the stream fails or closes before the header, instead of waiting for ever', async () => {
    const failing = new PassThrough();
    const read = readInstanceHeader(failing);
    failing.write(Buffer.alloc(64));
    failing.destroy(new Error('store connection reset'));
    await expect(read).rejects.toThrow('store connection reset');
    const closing = new PassThrough();
    const closed = readInstanceHeader(closing);
    closing.write(Buffer.alloc(64));
    closing.destroy();
    await expect(closed).rejects.toThrow(/closed before/);
  });
});
