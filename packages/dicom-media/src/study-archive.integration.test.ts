import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildDicomdir,
  buildReadme,
  createStudyZip,
  type DicomdirInstance,
  fileIdFor,
  readInstanceHeader,
  safeZipFilename,
  zipEntryNameFor,
} from './index.js';

const TEST_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const work = mkdtempSync(join(tmpdir(), 'study-archive-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a study zip as the export service builds it', () => {
  it('opens as DICOM media: DICOMDIR, PS3.10 files under their file IDs, README', async () => {
    // Two "series" of real files, streamed in as the store would send them, each header read as it passes.
    const series = [
      ['CT_small.dcm', 'JPEG2000.dcm'],
      ['MR_small.dcm', 'image_dfl.dcm', 'ExplVR_BigEnd.dcm'],
    ];
    const zip = createStudyZip({ date: new Date('2021-01-21T10:00:00Z') });
    const path = join(work, safeZipFilename({ studyDate: '20210121', modalities: ['CT', 'MR'] }));
    const sent = pipeline(zip.output, createWriteStream(path));

    const recorded: DicomdirInstance[][] = [];
    for (const [s, files] of series.entries()) {
      recorded[s] = [];
      for (const [i, file] of files.entries()) {
        const fileId = fileIdFor(s, i);
        const { header, body } = await readInstanceHeader(
          createReadStream(join(TEST_FILES, file), { highWaterMark: 4096 }),
        );
        if (header instanceof Error) throw header;
        await zip.addFile(zipEntryNameFor(fileId), body);
        const { sopClassUid, sopInstanceUid, transferSyntaxUid } = header.meta;
        recorded[s]?.push({ fileId, sopClassUid, sopInstanceUid, transferSyntaxUid, instanceNumber: i + 1 });
      }
    }
    const dicomdir = buildDicomdir({
      fileSetId: 'STUDY',
      patient: { patientId: 'P1', patientName: 'Doe^Jane' },
      study: { studyInstanceUid: '1.2.3.4', studyDate: '20210121', studyTime: '101010', studyId: '1' },
      series: recorded.map((instances, s) => ({
        seriesInstanceUid: `1.2.3.4.${s + 1}`,
        modality: s === 0 ? 'CT' : 'MR',
        seriesNumber: s + 1,
        instances,
      })),
    });
    await zip.addFile('DICOMDIR', dicomdir);
    const readme = buildReadme({
      patientName: 'Doe^Jane',
      studyDate: '20210121',
      instanceCount: 5,
      seriesCount: 2,
    });
    await zip.addFile('README.txt', Buffer.from(readme, 'utf8'));
    await zip.finalize();
    await sent;

    expect(path.endsWith('study-20210121-CT-MR.zip')).toBe(true);
    expect(spawnSync('unzip', ['-tq', path]).status).toBe(0);
    const extracted = join(work, 'extracted');
    expect(spawnSync('unzip', ['-q', path, '-d', extracted]).status).toBe(0);

    for (const [s, files] of series.entries()) {
      for (const [i, file] of files.entries()) {
        const copy = readFileSync(join(extracted, ...fileIdFor(s, i)));
        expect(copy.equals(readFileSync(join(TEST_FILES, file))), file).toBe(true);
      }
    }
    const check = spawnSync(
      'dcmftest',
      [
        join(extracted, 'DICOMDIR'),
        ...series.flatMap((files, s) => files.map((_, i) => join(extracted, ...fileIdFor(s, i)))),
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(check.status, check.stdout).toBe(0);
    const dump = spawnSync('dcmdump', [join(extracted, 'DICOMDIR')], { encoding: 'utf8' });
    expect(dump.stderr).toBe('');
    expect([...dump.stdout.matchAll(/refFileID="([^"]+)"/g)].map((match) => match[1])).toEqual([
      'DICOM\\S0000001\\I0000001',
      'DICOM\\S0000001\\I0000002',
      'DICOM\\S0000002\\I0000001',
      'DICOM\\S0000002\\I0000002',
      'DICOM\\S0000002\\I0000003',
    ]);
    // The transfer syntaxes come from each file's own meta: JPEG 2000, deflate, big endian...
    expect(dump.stdout).toContain('=JPEG2000');
    expect(dump.stdout).toContain('=DeflatedLittleEndianExplicit');
    expect(dump.stdout).toContain('=BigEndianExplicit');
    expect(readFileSync(join(extracted, 'README.txt'), 'utf8')).toContain('Study date:   2021-01-21');
  });
});
