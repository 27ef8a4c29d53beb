import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OrthancInstance, startOrthanc } from './orthanc.fixture.js';
import { uploadDirectory, writeSyntheticStudy } from './synthetic-study.js';

function dcmdump(file: string, ...args: string[]) {
  const run = spawnSync('dcmdump', [...args, file], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The value dcmdump prints for a tag, e.g. '[Doe^Jane]' or '512'. */
function dumped(stdout: string, tag: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`(${tag})`));
  return line
    ?.slice(14)
    .replace(/\s+#.*$/, '')
    .trim();
}

describe('writeSyntheticStudy', () => {
  let work: string;
  let orthanc: OrthancInstance;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'studylink-synthetic-'));
    orthanc = await startOrthanc();
  });
  afterAll(async () => {
    await orthanc?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('writes PS3.10 CT files that dcmtk reads without a warning', async () => {
    const study = await writeSyntheticStudy({
      dir: join(work, 'small'),
      patientName: 'Müller^Jürgen=ミュラー^ユルゲン',
      patientId: 'SYN-1',
      series: 2,
      instancesPerSeries: 3,
    });
    expect(study.files).toHaveLength(6);
    expect(study.studyInstanceUid).toMatch(/^2\.25\.[1-9]\d{0,38}$/);
    const sizes = await Promise.all(study.files.map(async (f) => (await stat(f)).size));
    expect(study.totalBytes).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(Math.min(...sizes)).toBeGreaterThan(512 * 512 * 2);

    const ftest = spawnSync('dcmftest', study.files, { encoding: 'utf8' });
    expect(ftest.stdout.match(/^yes:/gm)).toHaveLength(6);

    const dump = dcmdump(study.files[4] as string);
    expect(dump.stderr).toBe('');
    expect(dump.status).toBe(0);
    expect({
      groupLength: dumped(dump.stdout, '0002,0000'),
      transferSyntax: dumped(dump.stdout, '0002,0010'),
      sopClass: dumped(dump.stdout, '0008,0016'),
      charset: dumped(dump.stdout, '0008,0005'),
      patientName: dumped(dump.stdout, '0010,0010'),
      study: dumped(dump.stdout, '0020,000d'),
      series: dumped(dump.stdout, '0020,000e'),
      seriesNumber: dumped(dump.stdout, '0020,0011'),
      instanceNumber: dumped(dump.stdout, '0020,0013'),
      rows: dumped(dump.stdout, '0028,0010'),
      bitsAllocated: dumped(dump.stdout, '0028,0100'),
      bitsStored: dumped(dump.stdout, '0028,0101'),
      highBit: dumped(dump.stdout, '0028,0102'),
      photometric: dumped(dump.stdout, '0028,0004'),
    }).toEqual({
      groupLength: expect.stringMatching(/^\d+$/),
      transferSyntax: '=LittleEndianExplicit',
      sopClass: '=CTImageStorage',
      charset: '[ISO_IR 192]',
      patientName: '[Müller^Jürgen=ミュラー^ユルゲン]',
      study: `[${study.studyInstanceUid}]`,
      series: `[${study.seriesInstanceUids[1]}]`,
      seriesNumber: '[2]',
      instanceNumber: '[2]',
      rows: '512',
      bitsAllocated: '16',
      bitsStored: '12',
      highBit: '11',
      photometric: '[MONOCHROME2]',
    });
    // dcmdump checks the meta group length it reads against what follows; and the pixel data length:
    expect(dump.stdout).toMatch(/\(7fe0,0010\) OW .*# 524288,/);

    // Orthanc takes them, as one study of two series with distinct instances.
    const uploaded = await uploadDirectory(orthanc, join(work, 'small'), 3);
    expect(uploaded.map((u) => u.file)).toEqual(study.files);
    expect(
      uploaded.every((u) => u.status === 'Success' && u.studyInstanceUid === study.studyInstanceUid),
    ).toBe(true);
    const orthancStudy = (await (
      await fetch(`${orthanc.httpUrl}/studies/${uploaded[0]?.parentStudy}`)
    ).json()) as {
      Series: string[];
      PatientMainDicomTags: { PatientName: string };
    };
    expect(orthancStudy.Series).toHaveLength(2);
    expect(orthancStudy.PatientMainDicomTags.PatientName).toBe('Müller^Jürgen=ミュラー^ユルゲン');
    const stats = (await (
      await fetch(`${orthanc.httpUrl}/studies/${uploaded[0]?.parentStudy}/statistics`)
    ).json()) as {
      CountInstances: number;
    };
    expect(stats.CountInstances).toBe(6);
  });

  it('makes images a viewer can render and Orthanc can transcode to JPEG lossless', async () => {
    const study = await writeSyntheticStudy({
      dir: join(work, 'render'),
      patientName: 'Render^Test',
      patientId: 'SYN-2',
      series: 1,
      instancesPerSeries: 1,
      rows: 64,
      columns: 48,
    });
    const file = study.files[0] as string;
    const png = spawnSync('dcm2pnm', ['--write-png', file, join(work, 'render.png')], { encoding: 'utf8' });
    expect(png.stderr).toBe('');
    expect(png.status).toBe(0);

    const [uploaded] = await uploadDirectory(orthanc, join(work, 'render'));
    const res = await fetch(`${orthanc.dicomwebUrl}/studies/${uploaded?.studyInstanceUid}`, {
      headers: {
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.70',
      },
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.includes('1.2.840.10008.1.2.4.70')).toBe(true);
    expect(body.length).toBeLessThan((await readFile(file)).length);
  });

  it('writes Implicit VR Little Endian and 8-bit images on request', async () => {
    const study = await writeSyntheticStudy({
      dir: join(work, 'implicit'),
      patientName: 'Implicit^Eight',
      patientId: 'SYN-3',
      series: 1,
      instancesPerSeries: 2,
      rows: 33,
      columns: 31,
      bitsAllocated: 8,
      transferSyntax: 'implicit-le',
    });
    const dump = dcmdump(study.files[1] as string);
    expect(dump.stderr).toBe('');
    expect(dumped(dump.stdout, '0002,0010')).toBe('=LittleEndianImplicit');
    expect(dumped(dump.stdout, '0028,0101')).toBe('8');
    expect(dump.stdout).toMatch(/\(7fe0,0010\) O[BW] .*# 1024,/); // 33 × 31 = 1023, padded to even
    const uploaded = await uploadDirectory(orthanc, join(work, 'implicit'));
    expect(uploaded.map((u) => u.status)).toEqual(['Success', 'Success']);
  });

  it('writes 400 images of 512 × 512 × 16 bit in a few seconds', async () => {
    const started = performance.now();
    const study = await writeSyntheticStudy({
      dir: join(work, 'large'),
      patientName: 'Large^Study',
      patientId: 'SYN-4',
      series: 4,
      instancesPerSeries: 100,
    });
    const seconds = (performance.now() - started) / 1000;
    expect(study.files).toHaveLength(400);
    expect(study.totalBytes).toBeGreaterThan(400 * 512 * 512 * 2);
    expect(seconds).toBeLessThan(10);
    await rm(join(work, 'large'), { recursive: true, force: true });
  });

  it('refuses shapes it cannot write', async () => {
    const base = {
      dir: join(work, 'bad'),
      patientName: 'X',
      patientId: 'X',
      series: 1,
      instancesPerSeries: 1,
    };
    await expect(writeSyntheticStudy({ ...base, series: 0 })).rejects.toThrow(/series/);
    await expect(writeSyntheticStudy({ ...base, rows: 0 })).rejects.toThrow(/rows/);
  });
});
