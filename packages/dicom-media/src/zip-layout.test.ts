import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildZipLayout,
  planZip,
  readInstanceFacts,
  readZipRange,
  type ZipPlan,
  ZipSourceChangedError,
  zipArchiveId,
  zipLayoutFor,
  zipLayoutId,
  zipPlanFor,
} from './index.js';

const TEST_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const FILES = ['CT_small.dcm', 'MR_small.dcm', 'JPEG2000.dcm', 'image_dfl.dcm'];
const work = mkdtempSync(join(tmpdir(), 'zip-layout-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bytesOf = (name: string) => readFileSync(join(TEST_FILES, name));

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

function reader(sources: Buffer[], opened: number[] = []) {
  return {
    open: async (i: number) => {
      opened.push(i);
      return Readable.from([sources[i] as Buffer]) as AsyncIterable<Buffer>;
    },
    signal: new AbortController().signal,
    holdBackBytes: 1 << 20,
    prefetch: 2,
  };
}

async function layoutOf(files: string[]) {
  const facts = [];
  for (const f of files) facts.push(await readInstanceFacts(createReadStream(join(TEST_FILES, f))));
  return buildZipLayout({
    studyInstanceUid: '1.2.3',
    zipContent: 'as-stored',
    transferSyntax: '*',
    instances: facts,
    fallback: { patientName: '', studyDate: '', studyDescription: '' },
    // As @studylink/contracts' isReportSopClass says of the SOP classes here (Comprehensive SR).
    isReport: (uid) => uid === '1.2.840.10008.5.1.4.1.1.88.33',
  });
}

describe('a fixed zip layout', () => {
  it('is the same whatever order the instances came in, and its zip passes unzip -t', async () => {
    const a = await layoutOf(FILES);
    const b = await layoutOf([...FILES].reverse());
    expect(zipLayoutId(a)).toBe(zipLayoutId(b));
    expect(a.instances).toHaveLength(FILES.length);

    const plan = zipPlanFor(a, Buffer.from('read me\n'));
    const sources = a.instances.map(([, sop]) => {
      const file = FILES.find((f) => bytesOf(f).includes(Buffer.from(sop))) as string;
      return bytesOf(file);
    });
    const whole = await collect(readZipRange(plan, 0, plan.length - 1, reader(sources)));
    expect(whole.length).toBe(plan.length);
    const path = join(work, 'a.zip');
    writeFileSync(path, whole);
    const test = spawnSync('unzip', ['-t', path], { encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
    const list = spawnSync('unzip', ['-Z1', path], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(list.slice(0, 2)).toEqual(['DICOMDIR', 'README.txt']);
    expect(list.slice(2).every((n) => /^DICOM\/S\d{7}\/I\d{7}$/.test(n))).toBe(true);

    // Every range is the same slice of the whole, and opens only the sources it touches.
    for (const [s, e] of [
      [0, 10],
      [100, 5000],
      [Math.floor(plan.length / 2), plan.length - 1],
      [plan.length - 22, plan.length - 1],
    ] as const) {
      const opened: number[] = [];
      const part = await collect(readZipRange(plan, s, e, reader(sources, opened)));
      expect(part.equals(whole.subarray(s, e + 1))).toBe(true);
      const touched = plan.segments.filter((g) => 'source' in g && g.start <= e && g.start + g.length > s);
      expect(opened.length).toBe(touched.length);
    }
  });

  it('knows its report objects: the held zip leaves them out of the zip and the DICOMDIR; a pushed PDF goes beside README.txt', async () => {
    const files = [...FILES, 'test-SR.dcm'];
    const layout = await layoutOf(files);
    expect(layout.held?.instances).toHaveLength(FILES.length);
    expect(layout.held?.readme.instanceCount).toBe(FILES.length);
    expect((await layoutOf(FILES)).held).toBeNull();
    const sourcesOf = (l: typeof layout) =>
      l.instances.map(([, sop]) =>
        bytesOf(files.find((f) => bytesOf(f).includes(Buffer.from(sop))) as string),
      );
    const pdf = Buffer.from('%PDF-1.4\n%%EOF\n');
    const cases = [
      { report: true, pushed: pdf, entries: files.length, hasPdf: true },
      { report: false, pushed: null, entries: FILES.length, hasPdf: false },
    ];
    for (const c of cases) {
      const chosen = zipLayoutFor(layout, { report: c.report });
      const plan = zipPlanFor(chosen, Buffer.from('read me\n'), c.pushed);
      const whole = await collect(readZipRange(plan, 0, plan.length - 1, reader(sourcesOf(chosen))));
      expect(whole.length).toBe(plan.length);
      const path = join(work, `r-${c.report}.zip`);
      writeFileSync(path, whole);
      expect(spawnSync('unzip', ['-t', path], { encoding: 'utf8' }).status).toBe(0);
      const list = spawnSync('unzip', ['-Z1', path], { encoding: 'utf8' }).stdout.trim().split('\n');
      expect(list.slice(0, c.hasPdf ? 3 : 2)).toEqual([
        'DICOMDIR',
        'README.txt',
        ...(c.hasPdf ? ['REPORT.PDF'] : []),
      ]);
      expect(list.filter((n) => n.startsWith('DICOM/'))).toHaveLength(c.entries);
      const dicomdir = Buffer.from(chosen.dicomdir, 'base64');
      const srUid = layout.instances.find(([, sop]) =>
        bytesOf('test-SR.dcm').includes(Buffer.from(sop)),
      )?.[1] as string;
      expect(dicomdir.includes(Buffer.from(srUid))).toBe(c.report);
      if (c.hasPdf) expect(spawnSync('unzip', ['-p', path, 'REPORT.PDF']).stdout.equals(pdf)).toBe(true);
    }
    // The archive's identity follows the choice: the whole study alone keeps the layout's id.
    const id = zipLayoutId(layout);
    const ids = new Set([
      zipArchiveId(id, { report: true, pushedSha256: null }),
      zipArchiveId(id, { report: false, pushedSha256: null }),
      zipArchiveId(id, { report: true, pushedSha256: 'a'.repeat(64) }),
      zipArchiveId(id, { report: true, pushedSha256: 'b'.repeat(64) }),
    ]);
    expect(ids.size).toBe(4);
    expect(zipArchiveId(id, { report: true, pushedSha256: null })).toBe(id);
    // A held report never carries the pushed PDF: the same archive as without one.
    expect(zipArchiveId(id, { report: false, pushedSha256: 'a'.repeat(64) })).toBe(
      zipArchiveId(id, { report: false, pushedSha256: null }),
    );
  });

  it('cuts when a source differs from the plan, before any of its bytes', async () => {
    const data = Buffer.from('0123456789');
    const plan: ZipPlan = planZip(
      [{ name: 'a', size: 10, crc32: crc32(data), data: { source: 0 } }],
      new Date(0),
    );
    const changed = Buffer.from('0123456780');
    const out: Buffer[] = [];
    await expect(
      (async () => {
        for await (const c of readZipRange(plan, 0, plan.length - 1, reader([changed]))) out.push(c);
      })(),
    ).rejects.toBeInstanceOf(ZipSourceChangedError);
    expect(Buffer.concat(out).includes(changed)).toBe(false);
    await expect(
      collect(readZipRange(plan, 0, plan.length - 1, reader([Buffer.from('01234')]))),
    ).rejects.toThrow(ZipSourceChangedError);
  });

  it('writes ZIP64 end records past 65,534 entries', () => {
    const entries = Array.from({ length: 65_535 }, (_, i) => ({
      name: `f${i}`,
      size: 0,
      crc32: 0,
      data: Buffer.alloc(0),
    }));
    const plan = planZip(entries, new Date(0));
    const last = plan.segments[plan.segments.length - 1] as { bytes: Buffer };
    expect(last.bytes.readUInt32LE(last.bytes.length - 22 - 20 - 56)).toBe(0x06064b50);
  });
});
