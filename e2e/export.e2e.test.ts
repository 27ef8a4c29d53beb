import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  dciodvfy,
  type LoadedSample,
  loadSamples,
  pydicomFileSet,
  uploadDirectory,
  writeSyntheticStudy,
} from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Json } from './support/e2e-stack.js';
import { runCommand } from './support/e2e-stack.js';
import { header, httpRequest } from './support/patient-http.js';
import { type ProxiedStack, startProxiedStack } from './support/proxied-stack.js';
import { tokenLeaksInLogs } from './support/token-leaks.js';
import {
  type CurlResult,
  curlDownload,
  type ExtractedZip,
  hasEndOfCentralDirectory,
  readDicomdir,
  readFileMetas,
  sha256,
  testAndExtract,
} from './support/zip-inspect.js';

const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';
const SAMPLES = [
  'CT_small.dcm',
  'MR_small_bigendian.dcm',
  'MR_small_RLE.dcm',
  'JPEG2000.dcm',
  'SC_rgb_jpeg_dcmtk.dcm',
  'MR_small_jpeg_ls_lossless.dcm',
  'chrH31.dcm',
];
const ENTRY_NAME = /^(DICOMDIR|README\.txt|DICOM\/S\d{7}\/I\d{7})$/;
const SAFE_DISPOSITION = /^attachment; filename="study(-\d{8})?(-[A-Z0-9]{1,16})*\.zip"$/;

// nginx allows each client address 2 downloads a second (burst 10): every download here comes from
// its own loopback address, so the limit never decides a scenario it is not about.
let nextClient = 1;
const client = () => `127.0.1.${nextClient++}`;

interface Study {
  uid: string;
  token: string;
  /** sha256 of each instance as the store holds it (the bytes uploaded). */
  hashes: string[];
}

/** Checks a downloaded study zip: unzip -t, names, bytes, DICOMDIR records, README. */
async function checkStudyZip(dl: CurlResult, study: Study): Promise<{ zip: ExtractedZip; ts: string[] }> {
  expect(dl.exitCode, dl.stderr).toBe(0);
  expect(dl.status).toBe(200);
  expect(dl.headers['content-type']).toBe('application/zip');
  expect(dl.headers['content-disposition']).toMatch(SAFE_DISPOSITION);
  expect(dl.headers['cache-control']).toBe('no-store');
  expect(dl.headers['referrer-policy']).toBe('no-referrer');
  const { zip } = await testAndExtract(dl.file);
  for (const name of zip.entries) expect(name).toMatch(ENTRY_NAME);
  expect(zip.entries).toContain('DICOMDIR');
  expect(zip.entries).toContain('README.txt');
  expect(zip.files.get('README.txt')?.toString('utf8')).toContain('Your imaging study');

  const instances = [...zip.files.keys()].filter((k) => k.startsWith('DICOM/')).sort();
  const { records } = await readDicomdir(join(zip.dir, 'DICOMDIR'));
  const images = records.filter((r) => r.type === 'IMAGE');
  expect(images).toHaveLength(instances.length);
  expect(records.filter((r) => r.type === 'STUDY').map((r) => r.values.get('0020,000d'))).toEqual([
    study.uid,
  ]);
  const metas = await readFileMetas(instances.map((i) => join(zip.dir, i)));
  const referenced = new Set<string>();
  for (const image of images) {
    const fileId = image.values.get('0004,1500') ?? '';
    const path = fileId.split('\\').join('/');
    expect(zip.files.has(path), `DICOMDIR references ${fileId}, which is not in the zip`).toBe(true);
    referenced.add(path);
    const meta = metas.get(join(zip.dir, path));
    expect(image.values.get('0004,1511')).toBe(meta?.sopInstanceUid);
    expect(image.values.get('0004,1512')).toBe(meta?.transferSyntaxUid);
  }
  expect([...referenced].sort()).toEqual(instances);
  // The validators we did not write: dicom3tools (no line starting with Error) and pydicom's FileSet,
  // which loads every referenced file and reads its transfer syntax from the file itself.
  const verified = await dciodvfy(join(zip.dir, 'DICOMDIR'));
  expect(verified.errors, verified.output).toEqual([]);
  const fileSet = await pydicomFileSet(join(zip.dir, 'DICOMDIR'));
  expect(fileSet.map((r) => r.path).sort()).toEqual(instances);
  for (const r of fileSet) expect(r.transferSyntaxUid, r.path).toBe(r.fileTransferSyntaxUid);
  return { zip, ts: instances.map((i) => metas.get(join(zip.dir, i))?.transferSyntaxUid ?? '') };
}

function instanceHashes(zip: ExtractedZip): string[] {
  return [...zip.files.entries()]
    .filter(([k]) => k.startsWith('DICOM/'))
    .map(([, v]) => sha256(v))
    .sort();
}

async function accessEvents(p: ProxiedStack, event: string, study: string): Promise<Json[]> {
  const r = await p.s.api('GET', `/api/v1/access-log?event=${event}&study=${study}`);
  expect(r.status).toBe(200);
  return r.json.items as Json[];
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

describe('export through nginx: the zip as the store holds it', () => {
  let p: ProxiedStack;
  const studies = new Map<string, Study>();
  let samples: LoadedSample[];

  beforeAll(async () => {
    p = await startProxiedStack('export');
    samples = await loadSamples(p.orthanc, SAMPLES, { uids: 'unique' });
    const dir = await mkdtemp(join(tmpdir(), 'studylink-synth-'));
    const synth = await writeSyntheticStudy({
      dir,
      patientName: 'Synthetic^Three^Series',
      patientId: 'SYN-3X10',
      series: 3,
      instancesPerSeries: 10,
      rows: 256,
      columns: 256,
      studyDate: '20240229',
    });
    await uploadDirectory(p.orthanc, dir, 4);
    const synthHashes = await Promise.all(synth.files.map(async (f) => sha256(await readFile(f))));
    for (const s of samples) {
      expect(s.status).toBe('Success');
      const { token } = await p.s.issueToken(s.studyInstanceUid);
      studies.set(s.name, { uid: s.studyInstanceUid, token, hashes: [sha256(s.bytes)] });
    }
    const { token } = await p.s.issueToken(synth.studyInstanceUid);
    studies.set('synthetic', { uid: synth.studyInstanceUid, token, hashes: synthHashes.sort() });
    // Zip layouts are made in the background, one study after the other: the last one's is there
    // once they all are (the refusal tests count the store's retrievals).
    await eventually(async () => {
      const head = await httpRequest(`${p.s.url}/token/study.zip?${token}`, {
        method: 'HEAD',
        localAddress: client(),
      });
      return head.headers.etag ? true : undefined;
    }, 60_000);
  });
  afterAll(async () => {
    await p?.stop();
  });

  const zipUrl = (token: string) => `${p.s.url}/token/study.zip?${token}`;

  it.each(SAMPLES)('%s: byte-identical instance, valid DICOMDIR', async (name) => {
    const study = studies.get(name) as Study;
    const dl = await curlDownload(zipUrl(study.token), { from: client() });
    const { zip } = await checkStudyZip(dl, study);
    expect(instanceHashes(zip)).toEqual(study.hashes);
  });

  it('a synthetic 3 × 10 study: 30 byte-identical instances under 3 series records', async () => {
    const study = studies.get('synthetic') as Study;
    const dl = await curlDownload(zipUrl(study.token), { from: client() });
    expect(dl.headers['content-disposition']).toBe('attachment; filename="study-20240229-CT.zip"');
    const { zip } = await checkStudyZip(dl, study);
    expect(instanceHashes(zip)).toEqual(study.hashes);
    const { records } = await readDicomdir(join(zip.dir, 'DICOMDIR'));
    expect(records.filter((r) => r.type === 'SERIES')).toHaveLength(3);
    expect(records.filter((r) => r.type === 'IMAGE')).toHaveLength(30);
    const complete = await eventually(async () => {
      const items = await accessEvents(p, 'download_complete', study.uid);
      return items.length > 0 ? items : undefined;
    });
    expect(complete[0]?.bytes).toBe((await stat(dl.file)).size);
    expect(complete[0]?.detail).toMatchObject({ instances: 30, series: 3 });
  });

  describe('JPEG-lossless mode', () => {
    beforeAll(async () => {
      const r = await p.s.api('PUT', '/api/v1/server-config', { zipContent: 'jpeg-lossless' });
      expect(r.status).toBe(200);
      expect(r.json.zipContent).toBe('jpeg-lossless');
    });
    afterAll(async () => {
      await p.s.api('PUT', '/api/v1/server-config', { zipContent: 'as-stored' });
    });

    it('the synthetic CT: every file and the DICOMDIR say 1.2.840.10008.1.2.4.70', async () => {
      const study = studies.get('synthetic') as Study;
      const { zip, ts } = await checkStudyZip(
        await curlDownload(zipUrl(study.token), { from: client() }),
        study,
      );
      expect(ts).toHaveLength(30);
      expect(new Set(ts)).toEqual(new Set([JPEG_LOSSLESS_SV1]));
      const { records } = await readDicomdir(join(zip.dir, 'DICOMDIR'));
      const images = records.filter((r) => r.type === 'IMAGE');
      expect(images.map((r) => r.values.get('0004,1512'))).toEqual(Array(30).fill(JPEG_LOSSLESS_SV1));
      const series = records.filter((r) => r.type === 'SERIES');
      expect(series.map((r) => r.values.get('0008,0060'))).toEqual(['CT', 'CT', 'CT']);
      // Transcoded, so not the stored bytes.
      expect(instanceHashes(zip)).not.toEqual(study.hashes);
    });

    // Orthanc 1.10 (Debian, DCMTK codecs) transcodes every sample but JPEG 2000, for which it has
    // no decoder: its WADO-RS answers 500, the export retries and gives the patient a 503 page.
    it.each(SAMPLES)(
      '%s: transcoded to JPEG lossless, or sent as stored where the store cannot transcode',
      async (name) => {
        const study = studies.get(name) as Study;
        const dl = await curlDownload(zipUrl(study.token), { from: client() });
        if (name === 'JPEG2000.dcm') {
          // Orthanc cannot transcode this JPEG 2000 file: the patient gets it as stored instead
          // of an error page, byte for byte.
          const { ts } = await checkStudyZip(dl, study);
          expect(ts).toEqual(['1.2.840.10008.1.2.4.91']);
          return;
        }
        const { ts } = await checkStudyZip(dl, study);
        expect(ts).toEqual([JPEG_LOSSLESS_SV1]);
      },
    );
  });

  describe('refusals: nothing leaves without a granted token', () => {
    it('a revoked token downloads nothing, and the store is not asked', async () => {
      const study = studies.get('CT_small.dcm') as Study;
      const before = p.proxy.retrievals().length;
      expect((await p.s.api('DELETE', `/api/v1/studies/${study.uid}/token`)).status).toBe(204);
      const dl = await curlDownload(zipUrl(study.token), { from: client() });
      expect(dl.status).toBe(404);
      expect(dl.headers['cache-control']).toBe('no-store');
      const body = await readFile(dl.file, 'utf8');
      expect(body).toContain('Link not found');
      expect(body).not.toContain('CompressedSamples');
      expect(p.proxy.retrievals().length).toBe(before);
      // The next PUT makes a new token, which works; the old one stays dead.
      const fresh = await p.s.issueToken(study.uid);
      expect(fresh.token).not.toBe(study.token);
      const ok = await curlDownload(zipUrl(fresh.token), { from: client() });
      expect(ok.status).toBe(200);
      expect((await curlDownload(zipUrl(study.token), { from: client() })).status).toBe(404);
      studies.set('CT_small.dcm', { ...study, token: fresh.token });
    });

    it('malformed tokens on the download path: 404 page (414 when nginx refuses the line), no store access', async () => {
      const valid = (studies.get('synthetic') as Study).token;
      const before = p.proxy.retrievals().length;
      const queries = [
        '',
        '?',
        '?abc',
        `?${valid.slice(0, 63)}`,
        `?${valid}A`,
        `?${valid.slice(0, 63)}-`,
        `?x=1&${valid}`,
        `?${valid}%26x=1`,
        `?token=${valid}`,
        `?${'%41'.repeat(64)}`,
        `?${valid.slice(0, 60)}%00AB`,
        '?../../../etc/passwd',
        `?${'A'.repeat(64)}`,
        `?${'a'.repeat(3000)}`,
      ];
      for (const q of queries) {
        const r = await httpRequest(`${p.s.url}/token/study.zip${q}`, { localAddress: client() });
        expect(r.status, q).toBe(404);
        expect(header(r, 'cache-control'), q).toBe('no-store');
        expect(header(r, 'content-type'), q).toMatch(/^text\/html/);
        expect(r.body.subarray(0, 2).toString('latin1'), q).not.toBe('PK');
      }
      const tooLong = await httpRequest(`${p.s.url}/token/study.zip?${'a'.repeat(9000)}`, {
        localAddress: client(),
      });
      expect(tooLong.status).toBe(414);
      // Another path under /token/ with a valid token: not the download.
      const other = await httpRequest(`${p.s.url}/token/study.zip/x?${valid}`, { localAddress: client() });
      expect(other.status).toBe(404);
      expect(p.proxy.retrievals().length).toBe(before);
    });

    it('straight to the export port: forged or absent tokens and forged secrets get a 404 and no bytes', async () => {
      const base = `http://127.0.0.1:${p.s.stack.exportPort}`;
      const study = studies.get('synthetic') as Study;
      const before = p.proxy.retrievals().length;
      const forged = randomBytes(48)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, 'x')
        .slice(0, 64);
      const attempts: { path: string; headers?: Record<string, string> }[] = [
        { path: '/token/study.zip' },
        { path: `/token/study.zip?${forged}` },
        {
          path: `/token/study.zip?${forged}`,
          headers: { 'x-internal-secret': p.s.stack.internalSecret.slice(1) },
        },
        {
          path: `/token/study.zip?${forged}`,
          headers: { 'x-internal-secret': 'x'.repeat(64), 'x-real-ip': '10.0.0.1' },
        },
        { path: `/token/study.zip?${study.uid}` },
        { path: `/token/study.zip?study=${study.uid}` },
        { path: `/studies/${study.uid}` },
        { path: `/dicom-web/studies/${study.uid}` },
        { path: '/internal/v1/grants' },
      ];
      for (const a of attempts) {
        const r = await httpRequest(`${base}${a.path}`, { headers: a.headers });
        expect(r.status, a.path).toBe(404);
        expect(r.body.includes(Buffer.from('PK\x03\x04', 'latin1')), a.path).toBe(false);
      }
      expect(p.proxy.retrievals().length).toBe(before);
      // The same port with the real token does serve: the refusals above are the grant check at work.
      const r = await httpRequest(`${base}/token/study.zip?${study.token}`);
      expect(r.status).toBe(200);
      expect(r.body.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
      // One study-level WADO-RS, or (with the study's fixed layout) one per instance.
      expect(p.proxy.retrievals().length).toBeGreaterThan(before);
    });
  });
});

// The same zips from Orthanc as Debian installs it and most sites leave it (startOrthanc's 'stock'
// preset: DefaultEncoding Latin1, default metadata modes, HTTP compression on); the suite above
// runs against the tuned fixture.
describe('export through nginx from a stock Orthanc: the zip as the store holds it', () => {
  let p: ProxiedStack;
  const studies = new Map<string, Study>();

  beforeAll(async () => {
    p = await startProxiedStack('export-stock', {}, { preset: 'stock' });
    const samples = await loadSamples(p.orthanc, SAMPLES, { uids: 'unique' });
    const dir = await mkdtemp(join(tmpdir(), 'studylink-synth-'));
    const synth = await writeSyntheticStudy({
      dir,
      patientName: 'Synthetic^Stock',
      patientId: 'SYN-STOCK',
      series: 3,
      instancesPerSeries: 10,
      rows: 256,
      columns: 256,
    });
    await uploadDirectory(p.orthanc, dir, 4);
    const synthHashes = await Promise.all(synth.files.map(async (f) => sha256(await readFile(f))));
    for (const s of samples) {
      expect(s.status).toBe('Success');
      const { token } = await p.s.issueToken(s.studyInstanceUid);
      studies.set(s.name, { uid: s.studyInstanceUid, token, hashes: [sha256(s.bytes)] });
    }
    const { token } = await p.s.issueToken(synth.studyInstanceUid);
    studies.set('synthetic', { uid: synth.studyInstanceUid, token, hashes: synthHashes.sort() });
  });
  afterAll(async () => {
    await p?.stop();
  });

  it.each([...SAMPLES, 'synthetic'])(
    '%s: byte-identical instances, a DICOMDIR the validators accept',
    async (name) => {
      const study = studies.get(name) as Study;
      const dl = await curlDownload(`${p.s.url}/token/study.zip?${study.token}`, { from: client() });
      const { zip } = await checkStudyZip(dl, study);
      expect(instanceHashes(zip)).toEqual(study.hashes);
    },
  );
});

describe('export under failure: limits, a stalled store, a dead store', () => {
  let p: ProxiedStack;
  let big: Study;
  let small: Study;
  const STALL_MS = 1500;

  beforeAll(async () => {
    p = await startProxiedStack('export-limits', {
      MAX_CONCURRENT_EXPORTS: '1',
      STORE_STALL_TIMEOUT_MS: String(STALL_MS),
    });
    const bigDir = await mkdtemp(join(tmpdir(), 'studylink-big-'));
    // About 60 MB: more than the socket buffers between Orthanc and curl can hide.
    const bigStudy = await writeSyntheticStudy({
      dir: bigDir,
      patientName: 'Large^Study',
      patientId: 'BIG-1',
      series: 2,
      instancesPerSeries: 15,
      rows: 1024,
      columns: 1024,
    });
    const smallDir = await mkdtemp(join(tmpdir(), 'studylink-small-'));
    const smallStudy = await writeSyntheticStudy({
      dir: smallDir,
      patientName: 'Small^Study',
      patientId: 'SMALL-1',
      series: 1,
      instancesPerSeries: 2,
      rows: 64,
      columns: 64,
    });
    await uploadDirectory(p.orthanc, bigDir, 4);
    await uploadDirectory(p.orthanc, smallDir, 2);
    big = {
      uid: bigStudy.studyInstanceUid,
      token: (await p.s.issueToken(bigStudy.studyInstanceUid)).token,
      hashes: [],
    };
    small = {
      uid: smallStudy.studyInstanceUid,
      token: (await p.s.issueToken(smallStudy.studyInstanceUid)).token,
      hashes: [],
    };
  });
  afterAll(async () => {
    await p?.stop();
  });

  const zipUrl = (token: string) => `${p.s.url}/token/study.zip?${token}`;
  const inFlight = async () => {
    const r = await httpRequest(`http://127.0.0.1:${p.s.stack.exportPort}/readyz`);
    return JSON.parse(r.body.toString('utf8')).checks.exportsInFlight as number;
  };

  it('over MAX_CONCURRENT_EXPORTS a second download gets 503 with Retry-After; the slot frees when the first client leaves', async () => {
    let file = '';
    let curl: ChildProcess | undefined;
    const first = curlDownload(zipUrl(big.token), {
      from: client(),
      limitRate: '500K',
      onSpawn: (f, c) => {
        file = f;
        curl = c;
      },
    });
    await eventually(async () => ((await stat(file).catch(() => null))?.size ?? 0) > 0 || undefined);
    expect(await inFlight()).toBe(1);

    const second = await httpRequest(zipUrl(small.token), { localAddress: client() });
    expect(second.status).toBe(503);
    expect(header(second, 'retry-after')).toMatch(/^\d+$/);
    expect(header(second, 'cache-control')).toBe('no-store');
    expect(second.body.subarray(0, 2).toString('latin1')).not.toBe('PK');

    curl?.kill('SIGKILL');
    const gone = await first;
    expect(gone.exitCode).not.toBe(0);
    // The export notices, cancels its store request and frees the slot.
    await eventually(async () => ((await inFlight()) === 0 ? true : undefined));
    await eventually(async () => (p.proxy.openRetrievals() === 0 ? true : undefined));
    const aborts = await eventually(async () => {
      const items = await accessEvents(p, 'download_aborted', big.uid);
      return items.length > 0 ? items : undefined;
    });
    expect(aborts[0]?.outcome).toBe('client_disconnected');

    const third = await curlDownload(zipUrl(small.token), { from: client() });
    expect(third.status).toBe(200);
    expect(third.exitCode).toBe(0);
    await testAndExtract(third.file);
  });

  it('a store that stalls mid-stream: the client sees a broken download within the stall timeout', async () => {
    // Counted over every retrieval (a series' read, then instance reads). The store sends a series in
    // its arrival order (uploaded 4 at a time here) and the zip's order is fixed: up to 8 MiB of
    // early instances are held before the rest is asked one by one. Past 14 MB of the store's
    // bytes the client has had more than 1 MB whatever the order; then the store stalls.
    p.proxy.stallRetrievals(14_000_000, { acrossResponses: true });
    try {
      const dl = await curlDownload(zipUrl(big.token), { from: client() });
      expect(dl.status).toBe(200);
      expect([18, 56, 92]).toContain(dl.exitCode);
      expect(dl.elapsedMs).toBeLessThan(STALL_MS + 8_000);
      const bytes = await readFile(dl.file);
      expect(bytes.length).toBeGreaterThan(1_000_000);
      expect(hasEndOfCentralDirectory(bytes)).toBe(false);
      expect((await runCommand('unzip', ['-t', dl.file])).code).not.toBe(0);
    } finally {
      p.proxy.release();
    }
    const aborts = await eventually(async () => {
      const items = (await accessEvents(p, 'download_aborted', big.uid)).filter(
        (e) => e.outcome === 'upstream_error',
      );
      return items.length > 0 ? items : undefined;
    });
    expect(aborts[0]?.bytes).toBeGreaterThan(1_000_000);
    await eventually(async () => ((await inFlight()) === 0 ? true : undefined));
  });

  it('the store is killed mid-download: curl fails, unzip -t fails, the abort is logged', async () => {
    let file = '';
    const dl = curlDownload(zipUrl(big.token), {
      from: client(),
      limitRate: '4M',
      onSpawn: (f) => {
        file = f;
      },
    });
    await eventually(async () => ((await stat(file).catch(() => null))?.size ?? 0) > 2_000_000 || undefined);
    p.orthanc.kill('SIGKILL');
    await p.orthanc.exited;
    const result = await dl;
    expect(result.status).toBe(200);
    expect(result.exitCode).not.toBe(0);
    const bytes = await readFile(result.file);
    expect(hasEndOfCentralDirectory(bytes)).toBe(false);
    expect((await runCommand('unzip', ['-t', result.file])).code).not.toBe(0);
    const aborts = await eventually(async () => {
      const items = (await accessEvents(p, 'download_aborted', big.uid)).filter(
        (e) => e.outcome === 'upstream_error',
      );
      return items.length > 1 ? items : undefined;
    });
    expect(aborts.length).toBe(2);
  });

  it('the store down before the first byte: a 503 page with Retry-After, not a 500', async () => {
    const dl = await curlDownload(zipUrl(small.token), { from: client() });
    expect(dl.status).toBe(503);
    expect(dl.headers['retry-after']).toMatch(/^\d+$/);
    expect(dl.headers['cache-control']).toBe('no-store');
    expect(dl.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(await readFile(dl.file, 'utf8')).toContain('Temporarily unavailable');
    expect(await inFlight()).toBe(0);
  });

  it('after the cut downloads, no log (nginx error log included) holds a token', async () => {
    const leaks = await tokenLeaksInLogs(p.s.logDir, [big.token, small.token]);
    expect(leaks).toEqual([]);
    // nginx did see the cut downloads (it logs them in the access log, path only).
    expect(await readFile(join(p.s.logDir, 'nginx-access.log'), 'utf8')).toContain(
      '"path":"/token/study.zip"',
    );
  });
});
