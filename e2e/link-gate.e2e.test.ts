// Issue 17: what "view" includes, through nginx on a stock Orthanc. A view-only link and a link whose
// downloads are used up still view (series, metadata, frames, rendered images) but receive no original
// DICOM file at any level of the gateway (study, series, instance retrieve: 403 with the zip's error
// code); a link that may download gets the files as stored (the viewer's path for big endian and
// deflated files).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SyntheticStudy, startOrthanc, uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';

let s: E2EStack;
const studies: Record<'viewOnly' | 'spent' | 'downloading', { study: SyntheticStudy; token: string }> =
  {} as never;
const PART10 = 'multipart/related; type="application/dicom"; transfer-syntax=*';

async function smallStudy(name: string): Promise<SyntheticStudy> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-gate-'));
  const study = await writeSyntheticStudy({
    dir,
    patientName: `Gate^${name}`,
    patientId: `GATE-${name}`,
    series: 1,
    instancesPerSeries: 2,
    rows: 64,
    columns: 64,
  });
  await uploadDirectory(s.orthanc, dir, 2);
  return study;
}

beforeAll(async () => {
  s = await startE2EStack('link-gate', {
    orthanc: await startOrthanc({ preset: 'stock' }),
    // The gateway asks the token service on every request: a spent link is spent at once.
    env: { GATEWAY_GRANT_CACHE_MS: '0' },
  });
  const issue = async (study: SyntheticStudy, body: Record<string, unknown>) => {
    const r = await s.api('PUT', `/api/v1/studies/${study.studyInstanceUid}/token`, body);
    expect(r.status).toBe(201);
    return r.json.token as string;
  };
  const viewOnly = await smallStudy('ViewOnly');
  studies.viewOnly = { study: viewOnly, token: await issue(viewOnly, { allowDownload: false }) };
  const spent = await smallStudy('Spent');
  studies.spent = { study: spent, token: await issue(spent, { maxDownloads: 1 }) };
  const downloading = await smallStudy('Downloading');
  studies.downloading = { study: downloading, token: await issue(downloading, {}) };

  // The spent link's one download, through nginx, to its last byte.
  // As the patient's browser clicks it on the page (a link scanner's GET spends no download).
  const zip = await fetch(`${s.url}/token/study.zip?${studies.spent.token}`, {
    headers: { 'sec-fetch-site': 'same-origin' },
  });
  expect(zip.status).toBe(200);
  await zip.arrayBuffer();
  // Counted when the export service's report of the completed download arrives.
  const used = async () =>
    (await s.api('GET', `/api/v1/studies/${spent.studyInstanceUid}/token`)).json.downloadsUsed;
  for (let i = 0; i < 150 && (await used()) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await used()).toBe(1);
}, 180_000);

afterAll(async () => {
  const orthanc = s?.orthanc;
  await s?.stop();
  await orthanc?.stop();
});

const gateway = (token: string, path: string, accept: string, method = 'GET') =>
  fetch(`${s.url}/token/dicomweb/${path}`, { method, headers: { authorization: `Bearer ${token}`, accept } });

function paths(study: SyntheticStudy) {
  const st = `studies/${study.studyInstanceUid}`;
  const se = `${st}/series/${study.seriesInstanceUids[0]}`;
  return { st, se, instancePath: (sop: string) => `${se}/instances/${sop}` };
}

async function sopUidsOf(token: string, study: SyntheticStudy): Promise<string[]> {
  const { se } = paths(study);
  const res = await gateway(token, `${se}/metadata`, 'application/dicom+json');
  expect(res.status).toBe(200);
  const json = (await res.json()) as Array<Record<string, { Value?: string[] }>>;
  return json.map((d) => d['00080018']?.Value?.[0] as string);
}

describe.each([
  ['view-only', 'viewOnly', 'download_not_allowed'],
  ['spent', 'spent', 'download_limit_reached'],
] as const)('a %s link', (_label, key, code) => {
  it('views: series, metadata, frames and rendered images', async () => {
    const { study, token } = studies[key];
    const { st, se, instancePath } = paths(study);
    const [sop] = await sopUidsOf(token, study);
    for (const [path, accept] of [
      [`${st}/series`, 'application/dicom+json'],
      [`${st}/metadata`, 'application/dicom+json'],
      [`${se}/metadata`, 'application/dicom+json'],
      [
        `${instancePath(sop as string)}/frames/1`,
        'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      ],
      [`${instancePath(sop as string)}/rendered`, 'image/png'],
      [`${instancePath(sop as string)}/frames/1/rendered`, 'image/png'],
    ] as const) {
      const res = await gateway(token, path, accept);
      expect(res.status, path).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length, path).toBeGreaterThan(0);
      // No Part 10 file in any of it (the preamble's marker).
      expect(body.includes(Buffer.from('DICM')), path).toBe(false);
    }
  });

  it(`gets no original file at any level: 403 ${code}, GET and HEAD, whatever it accepts; the zip is 410`, async () => {
    const { study, token } = studies[key];
    const { st, se, instancePath } = paths(study);
    const sops = await sopUidsOf(token, study);
    for (const path of [st, se, ...sops.map(instancePath)]) {
      for (const accept of [
        PART10,
        'multipart/related; type="application/dicom"',
        '*/*',
        'application/dicom',
      ]) {
        for (const method of ['GET', 'HEAD']) {
          const res = await gateway(token, path, accept, method);
          expect(res.status, `${method} ${path} ${accept}`).toBe(403);
          if (method === 'GET') {
            const body = await res.text();
            expect(JSON.parse(body).error.code).toBe(code);
            expect(body).not.toContain('DICM');
          }
        }
      }
    }
    const zip = await fetch(`${s.url}/token/study.zip?${token}`);
    expect(zip.status).toBe(410);
    await zip.arrayBuffer();
  });
});

describe('a link that may download', () => {
  it('gets the instances as stored, byte for byte, and the series and the study', async () => {
    const { study, token } = studies.downloading;
    const { st, se, instancePath } = paths(study);
    const stored = await Promise.all(study.files.map((f) => readFile(f)));
    const sops = await sopUidsOf(token, study);
    expect(sops).toHaveLength(stored.length);
    let matched = 0;
    for (const sop of sops) {
      const res = await gateway(token, instancePath(sop), PART10);
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      if (stored.some((file) => body.includes(file))) matched += 1;
    }
    expect(matched).toBe(stored.length);
    for (const path of [se, st]) {
      const res = await gateway(token, path, PART10);
      expect(res.status, path).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      for (const file of stored) expect(body.includes(file), path).toBe(true);
    }
  });
});

describe('the logs (issue 17, probe item 2)', () => {
  it('hold no API key and no token, whole or split, sent in paths and headers, through nginx or straight to a service', async () => {
    const { token } = studies.downloading;
    // The stack's admin key (slk_ and 43 base64url characters, as the service makes keys), and an
    // admin key of another shape, as an operator may choose one (ADMIN_API_KEY: 32+ characters).
    const key = s.adminKey;
    const apiKey = `Ops-Chosen_${randomBytes(24).toString('base64url')}`;
    const halves = [token.slice(0, 32), token.slice(32)];
    const thirds = [token.slice(0, 20), token.slice(20, 40), token.slice(40)];
    const paths = [
      `/api/v1/${key}`,
      `/api/v1/${apiKey}`,
      `/token/${key}`,
      `/staff/${key}`,
      `/staff/${apiKey}/x`,
      `/token/dicomweb/${halves[0]}/${halves[1]}`,
      `/token/dicomweb/${thirds.join('/')}`,
      `/token/${halves[0]}%2F${halves[1]}`,
      `/token/${halves[0]}%20${halves[1]}`,
    ];
    const headers = {
      'user-agent': `probe ${halves[0]} ${halves[1]} ${key}`,
      referer: `http://evil.example/${key}/${halves[0]}/${halves[1]}?${token}`,
      'x-forwarded-for': key,
    };
    const bases = [s.url, `http://127.0.0.1:${s.stack.tokenPort}`, `http://127.0.0.1:${s.stack.exportPort}`];
    for (const base of bases)
      for (const path of paths) {
        const res = await fetch(`${base}${path}`, { headers });
        expect(res.status, `${base}${path}`).toBeLessThan(500);
        await res.arrayBuffer();
      }
    // Every request above is in the logs (nginx writes its line when the answer is sent).
    const logs = await s.allLogs();
    expect(logs).toContain('[redacted]');
    for (const secret of [key, apiKey, token, ...halves, ...thirds.slice(0, 2)])
      expect(logs.includes(secret), `${secret.slice(0, 6)}… in a log`).toBe(false);
    expect(logs).not.toMatch(/slk_[A-Za-z0-9_-]|Ops-Chosen/);
  });
});
