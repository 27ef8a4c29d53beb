import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildDicomdir,
  type DicomdirInput,
  type DicomdirSeries,
  InvalidDicomdirInputError,
} from './dicomdir.writer.js';
import { fileIdFor } from './file-id.scheme.js';
import { readPart10Meta } from './part10-meta.parser.js';

const CT_SMALL = '/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const JPEG_LOSSLESS = '1.2.840.10008.1.2.4.70';

const work = mkdtempSync(join(tmpdir(), 'dicomdir-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---- an independent reader: Explicit VR Little Endian, explicit-length sequences and items ----------

class Element {
  constructor(
    readonly tag: number,
    readonly vr: string,
    readonly items: Item[],
    private readonly buf: Buffer,
    private readonly at: number,
    private readonly length: number,
  ) {}

  // Made on demand: a 100,000-instance DICOMDIR has a million elements.
  get value(): Buffer {
    return this.buf.subarray(this.at, this.at + this.length);
  }
}
interface Item {
  /** File offset of the item tag: what directory record offsets point at. */
  offset: number;
  elements: Element[];
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV', 'SV', 'UV']);

function readElements(buf: Buffer, start: number, end: number): Element[] {
  const elements: Element[] = [];
  let pos = start;
  let previousTag = -1;
  while (pos < end) {
    const tag = ((buf.readUInt16LE(pos) << 16) | buf.readUInt16LE(pos + 2)) >>> 0;
    // Plain asserts: a 100,000-instance DICOMDIR has a million elements.
    assert(tag > previousTag, 'tags ascend');
    previousTag = tag;
    const vr = String.fromCharCode(buf[pos + 4] ?? 0, buf[pos + 5] ?? 0);
    const long = LONG_VRS.has(vr);
    const length = long ? buf.readUInt32LE(pos + 8) : buf.readUInt16LE(pos + 6);
    const valueAt = pos + (long ? 12 : 8);
    assert(length !== 0xffffffff, 'explicit length');
    if (length % 2 !== 0) assert.fail(`odd length of ${tag.toString(16)}`);
    const items: Item[] = [];
    if (vr === 'SQ') {
      let itemAt = valueAt;
      while (itemAt < valueAt + length) {
        assert(buf.readUInt16LE(itemAt) === 0xfffe && buf.readUInt16LE(itemAt + 2) === 0xe000, 'item tag');
        const itemLength = buf.readUInt32LE(itemAt + 4);
        items.push({ offset: itemAt, elements: readElements(buf, itemAt + 8, itemAt + 8 + itemLength) });
        itemAt += 8 + itemLength;
      }
      assert(itemAt === valueAt + length, 'items fill the sequence');
    }
    elements.push(new Element(tag, vr, items, buf, valueAt, length));
    pos = valueAt + length;
  }
  assert(pos === end, 'elements fill their container');
  return elements;
}

function readDicomFile(buf: Buffer) {
  expect(buf.subarray(0, 128).every((byte) => byte === 0)).toBe(true);
  expect(buf.toString('latin1', 128, 132)).toBe('DICM');
  const groupLength = readElements(buf, 132, 144)[0] as Element;
  expect(groupLength.tag).toBe(0x00020000);
  const metaEnd = 144 + groupLength.value.readUInt32LE(0);
  return { meta: readElements(buf, 144, metaEnd), dataset: readElements(buf, metaEnd, buf.length) };
}

const find = (elements: Element[], tag: number) => elements.find((element) => element.tag === tag);
const str = (elements: Element[], tag: number) =>
  find(elements, tag)
    ?.value.toString('utf8')
    .replace(/[\0 ]+$/, '');
const ul = (elements: Element[], tag: number) => find(elements, tag)?.value.readUInt32LE(0);

interface RecordNode {
  type: string;
  offset: number;
  elements: Element[];
  children: RecordNode[];
}

/** Follows the offsets from the root; every offset must land on a record start, every record be reached once. */
function readDicomdir(buf: Buffer) {
  const { meta, dataset } = readDicomFile(buf);
  const items = find(dataset, 0x00041220)?.items ?? [];
  const byOffset = new Map(items.map((item) => [item.offset, item]));
  const visited = new Set<number>();
  const chain = (offset: number): RecordNode[] => {
    const nodes: RecordNode[] = [];
    for (let at = offset; at !== 0; ) {
      const item = byOffset.get(at);
      if (!item) throw new Error(`offset ${at} is not the start of a directory record`);
      if (visited.has(at)) assert.fail(`record at ${at} reached twice`);
      visited.add(at);
      assert(find(item.elements, 0x00041410)?.value.readUInt16LE(0) === 0xffff, 'record in use');
      nodes.push({
        type: str(item.elements, 0x00041430) ?? '',
        offset: at,
        elements: item.elements,
        children: chain(ul(item.elements, 0x00041420) ?? 0),
      });
      at = ul(item.elements, 0x00041400) ?? 0;
    }
    return nodes;
  };
  const roots = chain(ul(dataset, 0x00041200) ?? 0);
  expect(ul(dataset, 0x00041202)).toBe(roots.at(-1)?.offset);
  expect(visited.size, 'every record is linked').toBe(items.length);
  return { meta, dataset, roots, recordCount: items.length };
}

// ---- dcmtk ---------------------------------------------------------------------------------------

function run(command: string, args: string[], cwd = work) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.error) throw result.error;
  return result;
}

/** `dcmdump` of the data set with record offsets replaced by record ordinals, so files with File Meta
 * groups of different lengths compare equal when their directories are. */
function normalizedDump(path: string): string {
  const dump = run('dcmdump', ['-Un', path]);
  expect(dump.status).toBe(0);
  expect(dump.stderr).toBe('');
  const dataset = dump.stdout.slice(dump.stdout.indexOf('# Dicom-Data-Set'));
  const offsets = [...dataset.matchAll(/offset=\$(\d+)/g)].map((match) => match[1]);
  return dataset
    .replace(/offset=\$(\d+)/g, (_, n: string) => `record#${offsets.indexOf(n)}`)
    .replace(/ up (\d+)/g, (_, n: string) => ` up ${n === '0' ? '0' : `record#${offsets.indexOf(n)}`}`);
}

// ---- fixtures --------------------------------------------------------------------------------------

function syntheticStudy(seriesCount: number, instancesPerSeries: number): DicomdirInput {
  const series: DicomdirSeries[] = Array.from({ length: seriesCount }, (_, s) => ({
    seriesInstanceUid: `1.2.826.0.1.3680043.8.498.1.${s + 1}`,
    modality: ['CT', 'MR', 'PT'][s % 3] ?? 'OT',
    seriesNumber: s + 1,
    instances: Array.from({ length: instancesPerSeries }, (_, i) => ({
      fileId: fileIdFor(s, i),
      sopClassUid: CT_IMAGE_STORAGE,
      sopInstanceUid: `1.2.826.0.1.3680043.8.498.1.${s + 1}.${i + 1}`,
      transferSyntaxUid: i % 2 ? JPEG_LOSSLESS : EXPLICIT_LE,
      instanceNumber: i + 1,
    })),
  }));
  return {
    fileSetId: 'STUDYLINK',
    mediaStorageSopInstanceUid: '1.2.826.0.1.3680043.8.498.99',
    patient: { patientId: 'P123', patientName: 'Doe^Jane' },
    study: {
      studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
      studyDate: '20210121',
      studyTime: '101530',
      studyDescription: 'CT HEAD',
      studyId: 'S1',
      accessionNumber: 'ACC1',
    },
    series,
  };
}

describe('buildDicomdir', () => {
  it('writes a DICOMDIR whose offsets link patient → study → series → images', () => {
    const input = syntheticStudy(3, 40);
    const bytes = buildDicomdir(input);
    const { meta, dataset, roots, recordCount } = readDicomdir(bytes);

    expect(str(meta, 0x00020002)).toBe('1.2.840.10008.1.3.10');
    expect(str(meta, 0x00020003)).toBe('1.2.826.0.1.3680043.8.498.99');
    expect(str(meta, 0x00020010)).toBe(EXPLICIT_LE);
    expect(find(meta, 0x00020001)?.value).toEqual(Buffer.from([0x00, 0x01]));
    expect(str(dataset, 0x00041130)).toBe('STUDYLINK');
    expect(recordCount).toBe(1 + 1 + 3 + 120);

    expect(roots.map((node) => node.type)).toEqual(['PATIENT']);
    const patient = roots[0] as RecordNode;
    expect(str(patient.elements, 0x00100010)).toBe('Doe^Jane');
    expect(str(patient.elements, 0x00100020)).toBe('P123');
    expect(find(patient.elements, 0x00080005)).toBeUndefined();
    const study = patient.children[0] as RecordNode;
    expect(patient.children).toHaveLength(1);
    expect(study.type).toBe('STUDY');
    expect(
      [0x00080020, 0x00080030, 0x00080050, 0x00081030, 0x0020000d, 0x00200010].map((tag) =>
        str(study.elements, tag),
      ),
    ).toEqual(['20210121', '101530', 'ACC1', 'CT HEAD', '1.2.826.0.1.3680043.8.498.1', 'S1']);

    expect(study.children.map((node) => node.type)).toEqual(['SERIES', 'SERIES', 'SERIES']);
    study.children.forEach((seriesNode, s) => {
      const series = input.series[s] as DicomdirSeries;
      expect(str(seriesNode.elements, 0x0020000e)).toBe(series.seriesInstanceUid);
      expect(str(seriesNode.elements, 0x00080060)).toBe(series.modality);
      expect(str(seriesNode.elements, 0x00200011)).toBe(String(s + 1));
      expect(seriesNode.children).toHaveLength(40);
      seriesNode.children.forEach((image, i) => {
        const instance = series.instances[i];
        expect(image.type).toBe('IMAGE');
        expect(image.children).toEqual([]);
        expect(str(image.elements, 0x00041500)).toBe(instance?.fileId.join('\\'));
        expect(str(image.elements, 0x00041510)).toBe(instance?.sopClassUid);
        expect(str(image.elements, 0x00041511)).toBe(instance?.sopInstanceUid);
        expect(str(image.elements, 0x00041512)).toBe(instance?.transferSyntaxUid);
        expect(str(image.elements, 0x00200013)).toBe(String(i + 1));
      });
    });
  });

  it('pads UIDs with NUL and text with spaces to even lengths', () => {
    const bytes = buildDicomdir(syntheticStudy(1, 1));
    const { roots } = readDicomdir(bytes);
    const image = roots[0]?.children[0]?.children[0]?.children[0] as RecordNode;
    // '1.2.826.0.1.3680043.8.498.1.1.1' has 31 characters; 'IMAGE' 5.
    expect(find(image.elements, 0x00041511)?.value.toString('latin1')).toBe(
      '1.2.826.0.1.3680043.8.498.1.1.1\0',
    );
    expect(find(image.elements, 0x00041430)?.value.toString('latin1')).toBe('IMAGE ');
  });

  it('is byte-for-byte deterministic for the same input', () => {
    expect(buildDicomdir(syntheticStudy(2, 5)).equals(buildDicomdir(syntheticStudy(2, 5)))).toBe(true);
  });

  it('gives each DICOMDIR a fresh 2.25 UID when none is given', () => {
    const input = { ...syntheticStudy(1, 1), mediaStorageSopInstanceUid: undefined };
    const first = str(readDicomFile(buildDicomdir(input)).meta, 0x00020003) ?? '';
    const second = str(readDicomFile(buildDicomdir(input)).meta, 0x00020003) ?? '';
    expect(first).toMatch(/^2\.25\.[1-9]\d{0,38}$/);
    expect(second).not.toBe(first);
  });

  it('parses with dcmdump without warnings and dcmtk sees the same records at the same offsets', () => {
    const input = syntheticStudy(3, 25);
    const bytes = buildDicomdir(input);
    const path = join(work, 'synthetic-DICOMDIR');
    writeFileSync(path, bytes);
    const dump = run('dcmdump', ['-Un', path]);
    expect(dump.status).toBe(0);
    expect(dump.stderr).toBe('');

    const { roots } = readDicomdir(bytes);
    const ours: string[] = [];
    const walk = (nodes: RecordNode[]) => {
      for (const node of nodes) {
        ours.push(`${node.offset} ${node.type}`);
        walk(node.children);
      }
    };
    walk(roots);
    // dcmdump prints each directory record's file offset as it found it while reading.
    const dcmtk = [...dump.stdout.matchAll(/"Directory Record" (\w+) .*\n\s+#\s+offset=\$(\d+)/g)].map(
      (match) => `${match[2]} ${match[1]}`,
    );
    expect(dcmtk).toEqual(ours);
    const fileIds = [...dump.stdout.matchAll(/refFileID="([^"]+)"/g)].map((match) => match[1]);
    expect(fileIds).toEqual(
      input.series.flatMap((series) => series.instances.map((i) => i.fileId.join('\\'))),
    );
  });

  it('declares ISO_IR 192 on records with non-ASCII text, which round-trips as UTF-8', () => {
    const input = syntheticStudy(1, 2);
    input.patient.patientName = 'Παπαδόπουλος^Γιάννης';
    input.study.studyDescription = 'CT 頭部 単純';
    const { roots } = readDicomdir(buildDicomdir(input));
    const patient = roots[0] as RecordNode;
    const study = patient.children[0] as RecordNode;
    expect(str(patient.elements, 0x00080005)).toBe('ISO_IR 192');
    expect(str(patient.elements, 0x00100010)).toBe('Παπαδόπουλος^Γιάννης');
    expect(str(study.elements, 0x00080005)).toBe('ISO_IR 192');
    expect(str(study.elements, 0x00081030)).toBe('CT 頭部 単純');
    // Series and image records carry no text that a character set affects.
    expect(find(study.children[0]?.elements ?? [], 0x00080005)).toBeUndefined();

    const path = join(work, 'utf8-DICOMDIR');
    writeFileSync(path, buildDicomdir(input));
    const dump = run('dcmdump', ['+U8', path]);
    expect(dump.stderr).toBe('');
    expect(dump.stdout).toContain('[Παπαδόπουλος^Γιάννης]');
    expect(dump.stdout).toContain('[CT 頭部 単純]');
  });

  it('passes dicom3tools dciodvfy (no line starting with Error), ASCII and UTF-8 alike', () => {
    for (const [name, input] of [
      ['ascii', syntheticStudy(2, 3)],
      [
        'utf8',
        { ...syntheticStudy(1, 2), patient: { patientId: 'P1', patientName: 'Yamada^Tarou=山田^太郎' } },
      ],
    ] as const) {
      const path = join(work, `dciodvfy-${name}-DICOMDIR`);
      writeFileSync(path, buildDicomdir(input));
      const out = run('dciodvfy', [path]);
      const output = `${out.stdout}${out.stderr}`;
      expect(
        output.split('\n').filter((line) => line.startsWith('Error')),
        output,
      ).toEqual([]);
      expect(output, name).toMatch(/Basic Directory|DirectoryRecord|Directory/);
    }
  });

  it('keeps all three PN component groups of a Japanese name', () => {
    const input = syntheticStudy(1, 1);
    input.patient.patientName = 'Yamada^Tarou=山田^太郎=やまだ^たろう';
    const { roots } = readDicomdir(buildDicomdir(input));
    expect(str(roots[0]?.elements ?? [], 0x00100010)).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  it('can declare ISO_IR 192 on patient and study records even for ASCII text', () => {
    const input = { ...syntheticStudy(1, 1), specificCharacterSet: 'ISO_IR 192' as const };
    const { roots } = readDicomdir(buildDicomdir(input));
    expect(str(roots[0]?.elements ?? [], 0x00080005)).toBe('ISO_IR 192');
    expect(str(roots[0]?.children[0]?.elements ?? [], 0x00080005)).toBe('ISO_IR 192');
  });

  it('cleans text and invents missing type 1 values instead of writing invalid records', () => {
    const input = syntheticStudy(2, 2);
    input.patient = { patientId: '', patientName: null };
    input.study = {
      studyInstanceUid: '1.2.3',
      studyDate: 'yesterday',
      studyTime: '10:15:30',
      studyDescription: `line one\nline\\two ${'x'.repeat(100)}`,
      studyId: null,
      accessionNumber: undefined,
    };
    input.series = input.series.map((series) => ({
      ...series,
      modality: null,
      seriesNumber: null,
      instances: series.instances.map((instance) => ({ ...instance, instanceNumber: null })),
    }));
    const { roots } = readDicomdir(buildDicomdir(input));
    const patient = roots[0] as RecordNode;
    const study = patient.children[0] as RecordNode;
    expect(str(patient.elements, 0x00100020)).toBe('UNKNOWN');
    expect(find(patient.elements, 0x00100010)?.value.length).toBe(0);
    expect(str(study.elements, 0x00080020)).toBe('19000101');
    expect(str(study.elements, 0x00080030)).toBe('101530');
    expect(str(study.elements, 0x00200010)).toBe('1');
    expect(find(study.elements, 0x00080050)?.value.length).toBe(0);
    const description = str(study.elements, 0x00081030) ?? '';
    expect(description).toMatch(/^line one line two x+$/);
    expect(description).toHaveLength(64);
    expect(study.children.map((series) => str(series.elements, 0x00080060))).toEqual(['OT', 'OT']);
    expect(study.children.map((series) => str(series.elements, 0x00200011))).toEqual(['1', '2']);
    expect(study.children[1]?.children.map((image) => str(image.elements, 0x00200013))).toEqual(['1', '2']);
  });

  it('leaves out series without instances', () => {
    const input = syntheticStudy(3, 2);
    input.series = [
      input.series[0],
      { ...input.series[1], instances: [] },
      input.series[2],
    ] as DicomdirSeries[];
    const { roots } = readDicomdir(buildDicomdir(input));
    const series = roots[0]?.children[0]?.children ?? [];
    expect(series.map((node) => str(node.elements, 0x0020000e))).toEqual([
      input.series[0]?.seriesInstanceUid,
      input.series[2]?.seriesInstanceUid,
    ]);
  });

  it('writes patient and study records for a study without instances', () => {
    const { roots, recordCount } = readDicomdir(buildDicomdir(syntheticStudy(0, 0)));
    expect(recordCount).toBe(2);
    expect(roots[0]?.children[0]?.children).toEqual([]);
  });

  it('rejects input it cannot write validly', () => {
    const attempt = (change: (input: DicomdirInput, instance: Record<string, unknown>) => void) => {
      const input = syntheticStudy(1, 2);
      change(input, input.series[0]?.instances[0] as unknown as Record<string, unknown>);
      return () => buildDicomdir(input);
    };
    const invalid = [
      attempt((input) => {
        input.study.studyInstanceUid = '1.2.abc';
      }),
      attempt((input) => {
        input.study.studyInstanceUid = `1.${'2'.repeat(70)}`;
      }),
      attempt((_, instance) => {
        instance.sopInstanceUid = '';
      }),
      attempt((_, instance) => {
        instance.fileId = ['DICOM', 'TOOLONG12'];
      }),
      attempt((_, instance) => {
        instance.fileId = ['dicom'];
      }),
      attempt((input) => {
        input.fileSetId = 'lower case';
      }),
      attempt((input) => {
        input.fileSetId = 'A'.repeat(17);
      }),
    ];
    for (const build of invalid) expect(build).toThrow(InvalidDicomdirInputError);
    const duplicate = attempt((_, instance) => {
      instance.fileId = fileIdFor(0, 1);
    });
    expect(duplicate).toThrow(/referenced twice/);
  });

  it('strips NUL/space padding a UID may still carry', () => {
    const input = syntheticStudy(1, 1);
    input.study.studyInstanceUid = '1.2.34\0';
    const { roots } = readDicomdir(buildDicomdir(input));
    expect(find(roots[0]?.children[0]?.elements ?? [], 0x0020000d)?.value.toString('latin1')).toBe('1.2.34');
  });

  it('writes 100,000 instances with every link intact', () => {
    const bytes = buildDicomdir(syntheticStudy(4, 25_000));
    const { roots, recordCount } = readDicomdir(bytes);
    expect(recordCount).toBe(2 + 4 + 100_000);
    const series = roots[0]?.children[0]?.children ?? [];
    expect(series.map((node) => node.children.length)).toEqual([25_000, 25_000, 25_000, 25_000]);
    expect(str(series[3]?.children[24_999]?.elements ?? [], 0x00041500)).toBe('DICOM\\S0000004\\I0025000');
  });
});

describe('buildDicomdir against dcmtk on a real file-set', () => {
  // Three series of four instances made from a real CT file, with a Greek patient name and a Japanese
  // study description (UTF-8). ImageType is removed because dcmgpdir copies it into IMAGE records.
  const seriesCount = 3;
  const perSeries = 4;
  const patientName = 'Παπαδόπουλος^Γιάννης';
  const description = '頭部 CT';
  const fileSet = join(work, 'fileset');

  const files = Array.from({ length: seriesCount }, (_, s) =>
    Array.from({ length: perSeries }, (_, i) => ({ s, i, fileId: fileIdFor(s, i) })),
  ).flat();

  function makeFileSet() {
    for (const { s, i, fileId } of files) {
      mkdirSync(join(fileSet, ...fileId.slice(0, -1)), { recursive: true });
      const path = join(fileSet, ...fileId);
      copyFileSync(CT_SMALL, path);
      const modified = run('dcmodify', [
        '-nb',
        '-e',
        '(0008,0008)',
        '-i',
        '(0008,0005)=ISO_IR 192',
        '-m',
        `(0010,0010)=${patientName}`,
        '-m',
        `(0008,1030)=${description}`,
        '-m',
        `(0020,000e)=1.2.826.0.1.3680043.8.498.7.${s + 1}`,
        '-m',
        `(0020,0011)=${s + 1}`,
        '-m',
        `(0008,0018)=1.2.826.0.1.3680043.8.498.7.${s + 1}.${i + 1}`,
        '-m',
        `(0020,0013)=${i + 1}`,
        path,
      ]);
      expect(modified.status, modified.stderr).toBe(0);
    }
  }

  function ourDicomdir(): Buffer {
    const ct = readFileSync(CT_SMALL);
    expect(readPart10Meta(ct)).not.toBeNull();
    return buildDicomdir({
      fileSetId: 'STUDYLINK',
      patient: { patientId: '1CT1', patientName },
      study: {
        studyInstanceUid: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322',
        studyDate: '20040119',
        studyTime: '072730',
        studyDescription: description,
        studyId: '1CT1',
        accessionNumber: '',
      },
      series: Array.from({ length: seriesCount }, (_, s) => ({
        seriesInstanceUid: `1.2.826.0.1.3680043.8.498.7.${s + 1}`,
        modality: 'CT',
        seriesNumber: s + 1,
        instances: files
          .filter((file) => file.s === s)
          .map(({ i, fileId }) => {
            const meta = readPart10Meta(readFileSync(join(fileSet, ...fileId)));
            if (!meta) throw new Error('no meta');
            return { ...meta, fileId, instanceNumber: i + 1 };
          }),
      })),
    });
  }

  beforeAll(makeFileSet);

  it('describes the file-set exactly as dcmgpdir does', () => {
    const reference = join(work, 'dcmtk-DICOMDIR');
    const made = run(
      'dcmgpdir',
      ['-nb', '+F', 'STUDYLINK', '+D', reference, ...files.map((f) => f.fileId.join('/'))],
      fileSet,
    );
    expect(made.status, made.stderr).toBe(0);
    const ours = join(work, 'our-DICOMDIR');
    writeFileSync(ours, ourDicomdir());
    expect(normalizedDump(ours)).toBe(normalizedDump(reference));
  });

  it('lets dcmtk resolve every record offset when it loads the DICOMDIR', () => {
    // In append mode dcmgpdir loads the existing DICOMDIR through its offsets (warning about any it
    // cannot resolve) and then reports each file it already finds a record for.
    writeFileSync(join(fileSet, 'DICOMDIR'), ourDicomdir());
    const appended = run('dcmgpdir', ['-nb', '+A', ...files.map((f) => f.fileId.join('/'))], fileSet);
    expect(appended.status).toBe(0);
    const warnings = appended.stderr.split('\n').filter((line) => line.trim() !== '');
    expect(warnings).toHaveLength(files.length);
    for (const warning of warnings)
      expect(warning).toMatch(/directory record for this SOP instance already exists/);
  });

  it('is noticed by that dcmtk check when an offset is wrong', () => {
    const broken = ourDicomdir();
    const patientAt = broken.readUInt32LE(broken.indexOf(Buffer.from([0x04, 0x00, 0x00, 0x12])) + 8);
    // The patient's lower-level offset (item header 8 + UL 12 + US 10 + header 8 = 38) now misses.
    broken.writeUInt32LE(broken.readUInt32LE(patientAt + 38) + 2, patientAt + 38);
    writeFileSync(join(fileSet, 'DICOMDIR'), broken);
    const appended = run('dcmgpdir', ['-nb', '+A', ...files.map((f) => f.fileId.join('/'))], fileSet);
    expect(appended.stderr).toMatch(/Cannot resolve offset/);
    expect(appended.stderr).not.toMatch(/already exists/);
  });
});
