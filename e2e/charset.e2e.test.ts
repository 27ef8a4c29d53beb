import { mkdtemp } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPersonName } from '@studylink/i18n';
import {
  CHARSET_SAMPLES,
  dciodvfy,
  pydicomFileSet,
  pydicomHeaders,
  samplePathOrThrow,
  uploadDirectory,
  uploadWithFreshUids,
  writeSyntheticStudy,
} from '@studylink/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest } from './support/patient-http.js';
import { type ProxiedStack, startProxiedStack } from './support/proxied-stack.js';
import { curlDownload, testAndExtract } from './support/zip-inspect.js';

const GREEK_DESCRIPTION = 'Αξονική τομογραφία θώρακος';

interface Case {
  name: string;
  uid: string;
  token: string;
  /** pydicom's reading of the file: the names every view must show. */
  patientName: string;
  patientId: string;
  description: string;
}

let nextClient = 1;
const client = () => `127.0.2.${nextClient++}`;

/**
 * Every character-set sample of pydicom's charset_files and a study with a Greek description, through
 * nginx, on Orthanc as Debian installs it (QIDO-RS labelled ISO_IR 100, non-Latin-1 names dropped)
 * and as the project tunes it: the patient page shows the files' names, and the zip's DICOMDIR holds
 * them as pydicom reads them from the files, valid for dciodvfy, dcmdump and pydicom.
 */
describe.each(['stock', 'tuned'] as const)('names in every character set (%s Orthanc)', (preset) => {
  let p: ProxiedStack;
  const cases: Case[] = [];

  beforeAll(async () => {
    p = await startProxiedStack(`charset-${preset}`, {}, { preset });
    const fresh = await uploadWithFreshUids(p.orthanc, CHARSET_SAMPLES);
    const theirs = await pydicomHeaders(CHARSET_SAMPLES.map(samplePathOrThrow));
    const dir = await mkdtemp(join(tmpdir(), 'studylink-greek-'));
    const greek = await writeSyntheticStudy({
      dir,
      patientName: 'Παπαδόπουλος^Ελένη',
      patientId: 'GR-7',
      series: 2,
      instancesPerSeries: 2,
      rows: 16,
      columns: 16,
      studyDescription: GREEK_DESCRIPTION,
    });
    await uploadDirectory(p.orthanc, dir, 2);
    const all = [
      ...fresh.map((s, i) => {
        const t = theirs[i];
        if (!t) throw new Error(`pydicom cannot read ${s.name}`);
        return {
          name: s.name,
          uid: s.studyInstanceUid,
          patientName: t.patientName,
          patientId: t.patientId,
          description: t.studyDescription,
        };
      }),
      {
        name: 'greek-description',
        uid: greek.studyInstanceUid,
        patientName: 'Παπαδόπουλος^Ελένη',
        patientId: 'GR-7',
        description: GREEK_DESCRIPTION,
      },
    ];
    for (const c of all) cases.push({ ...c, token: (await p.s.issueToken(c.uid)).token });
  });
  afterAll(async () => {
    await p?.stop();
  });

  it('the patient page shows each file’s own name and description', async () => {
    for (const c of cases) {
      const page = await httpRequest(`${p.s.url}/token?${c.token}`, { localAddress: client() });
      expect(page.status, c.name).toBe(200);
      const html = page.body.toString('utf8');
      expect(html, c.name).toContain(
        formatPersonName(c.patientName, { lang: 'en' }).replaceAll('&', '&amp;'),
      );
      if (c.description) expect(html, c.name).toContain(c.description);
    }
  });

  it('the DICOMDIR holds the names as pydicom reads them from the files, and passes the validators', async () => {
    for (const c of cases) {
      const dl = await curlDownload(`${p.s.url}/token/study.zip?${c.token}`, { from: client() });
      expect(dl.status, c.name).toBe(200);
      const { zip } = await testAndExtract(dl.file);
      const dicomdir = join(zip.dir, 'DICOMDIR');
      const records = await pydicomFileSet(dicomdir);
      expect(records.length, c.name).toBeGreaterThan(0);
      for (const r of records) {
        expect(r.patientName, c.name).toBe(c.patientName);
        expect(r.patientId, c.name).toBe(c.patientId);
        expect(r.studyDescription, c.name).toBe(c.description);
        expect(r.transferSyntaxUid, c.name).toBe(r.fileTransferSyntaxUid);
      }
      const verified = await dciodvfy(dicomdir);
      expect(verified.errors, `${c.name}\n${verified.output}`).toEqual([]);
    }
  });
});

/** The store as it behaves in hospitals: slow instance-level QIDO-RS, 406, and page-view load. */
describe('store behaviour through nginx (stock Orthanc)', () => {
  let p: ProxiedStack;
  let uid: string;
  let token: string;

  beforeAll(async () => {
    p = await startProxiedStack('store-behaviour', {}, { preset: 'stock' });
    const dir = await mkdtemp(join(tmpdir(), 'studylink-behaviour-'));
    const study = await writeSyntheticStudy({
      dir,
      patientName: 'Behaviour^Test',
      patientId: 'B-1',
      series: 2,
      instancesPerSeries: 20,
      rows: 128,
      columns: 128,
    });
    await uploadDirectory(p.orthanc, dir, 4);
    uid = study.studyInstanceUid;
    token = (await p.s.issueToken(uid)).token;
  });
  afterAll(async () => {
    await p?.stop();
  });

  it('a store whose instance-level QIDO-RS takes 5 s: the first zip byte still leaves within 0.5 s', async () => {
    p.proxy.delayRequests(
      (r) => /\/instances(\?|$)/.test(r.target) && !r.accept.includes('multipart'),
      5_000,
    );
    try {
      const before = p.proxy.requests.length;
      const firstByte = () =>
        new Promise<number>((resolve, reject) => {
          const started = performance.now();
          const req = request(
            `${p.s.url}/token/study.zip?${token}`,
            { agent: false, localAddress: client() },
            (res) => {
              if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
              res.once('data', () => {
                resolve(performance.now() - started);
                res.destroy();
              });
            },
          );
          req.on('error', reject);
          req.end();
        });
      // The best of three, so a moment of load from elsewhere on a shared 2-core machine does not
      // decide it; an export that waited for the 5 s QIDO-RS would miss every time.
      const tries: number[] = [];
      for (let i = 0; i < 3; i++) tries.push(await firstByte());
      const firstByteMs = Math.min(...tries);
      expect(firstByteMs, `first bytes after ${tries.map(Math.round).join(', ')} ms`).toBeLessThan(500);
      // The export asked for the study, and no instance-level QIDO-RS (the slow one). Beside a
      // download with a known layout, a study-level search counts the store's instances (a study
      // changed since its layout is cut); it never holds the first byte back.
      const asked = p.proxy.requests.slice(before);
      expect(
        asked.filter((r) => !r.accept.includes('multipart') && /\/instances(\?|$)/.test(r.target)),
      ).toEqual([]);
      // And the proxy really holds instance-level QIDO-RS: one asked directly takes the 5 s.
      const probeStarted = performance.now();
      await (await fetch(`${p.proxy.dicomwebUrl}/studies/${uid}/instances`)).arrayBuffer();
      expect(performance.now() - probeStarted).toBeGreaterThanOrEqual(4_900);
    } finally {
      p.proxy.clearRules();
    }
  });

  it('a store that answers 406 to JPEG lossless: the zip as stored', async () => {
    expect((await p.s.api('PUT', '/api/v1/server-config', { zipContent: 'jpeg-lossless' })).status).toBe(200);
    p.proxy.answerRequests((r) => r.accept.includes('transfer-syntax=1.2.840.10008.1.2.4.70'), 406);
    try {
      const before = p.proxy.retrievals().length;
      const dl = await curlDownload(`${p.s.url}/token/study.zip?${token}`, { from: client() });
      expect(dl.status).toBe(200);
      const { zip } = await testAndExtract(dl.file);
      expect([...zip.files.keys()].filter((k) => k.startsWith('DICOM/'))).toHaveLength(40);
      const records = await pydicomFileSet(join(zip.dir, 'DICOMDIR'));
      expect(new Set(records.map((r) => r.fileTransferSyntaxUid))).toEqual(new Set(['1.2.840.10008.1.2.1']));
      // Each retrieval asking for JPEG lossless (the download's, and the background layout's for
      // this zip content) got its 406 and asked again as stored: as many of one as of the other.
      const asked = p.proxy
        .retrievals()
        .slice(before)
        .map((r) => /transfer-syntax=([^;\s]+)/.exec(r.accept)?.[1]);
      const lossless = asked.filter((t) => t === '1.2.840.10008.1.2.4.70').length;
      expect(lossless).toBeGreaterThanOrEqual(1);
      expect(asked.filter((t) => t === '*')).toHaveLength(lossless);
      expect(asked).toHaveLength(2 * lossless);
    } finally {
      p.proxy.clearRules();
      await p.s.api('PUT', '/api/v1/server-config', { zipContent: 'as-stored' });
    }
  });

  it('1,000 page views of a study whose copy is due for a refresh cause one store request', async () => {
    const db = new pg.Client({ connectionString: p.s.db.url });
    await db.connect();
    try {
      await db.query(
        "UPDATE studies SET refreshed_at = now() - interval '1 hour', refresh_attempted_at = NULL WHERE study_instance_uid = $1",
        [uid],
      );
    } finally {
      await db.end();
    }
    const before = p.proxy.requests.length;
    const views = 1_000;
    // 20 keep-alive clients, each on its own loopback address (nginx's per-address limit is not
    // what this is about), so 1,000 views leave 20 connections behind, not 1,000 in TIME_WAIT.
    const agents = Array.from({ length: 20 }, (_, i) => ({
      agent: new Agent({ keepAlive: true, maxSockets: 1 }),
      localAddress: `127.0.3.${i + 1}`,
    }));
    const view = (c: (typeof agents)[number]) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${p.s.url}/token?${token}`, c, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    let ok = 0;
    try {
      for (let i = 0; i < views; i += agents.length) {
        const batch = await Promise.all(agents.map(view));
        ok += batch.filter((status) => status === 200).length;
      }
    } finally {
      for (const c of agents) c.agent.destroy();
    }
    expect(ok).toBe(views);
    // Let a refresh the views started finish before counting.
    await new Promise((r) => setTimeout(r, 500));
    const asked = p.proxy.requests.slice(before);
    expect(asked.length, JSON.stringify(asked.map((r) => r.target))).toBeLessThanOrEqual(1);
    expect(asked.length).toBe(1);
  });
});
