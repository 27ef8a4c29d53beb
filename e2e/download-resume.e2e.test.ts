import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dciodvfy, pydicomFileSet, uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, runCommand } from './support/e2e-stack.js';
import { httpRequest } from './support/patient-http.js';
import { type ProxiedStack, startProxiedStack } from './support/proxied-stack.js';
import { sha256, testAndExtract } from './support/zip-inspect.js';

const MB = 1024 * 1024;
let nextClient = 1;
// Each request from its own loopback address: nginx's per-address limits decide nothing here.
const client = () => `127.0.3.${(nextClient++ % 250) + 1}`;

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** True when the response ended as the server meant it to (not cut by us or by the server). */
  complete: boolean;
}

/** A GET that reads at most `limit` bytes of the body, then closes the connection (a patient who gives up). */
function get(
  url: string,
  headers: Record<string, string> = {},
  limit = Number.POSITIVE_INFINITY,
): Promise<Got> {
  return new Promise((resolve, reject) => {
    // As a browser following the page's link (a limited link sends anything else to the page).
    const sent = { 'sec-fetch-site': 'same-origin', ...headers };
    const req = request(url, { headers: sent, localAddress: client(), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      let done = false;
      const finish = (complete: boolean) => {
        if (done) return;
        done = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete });
      };
      res.on('data', (c: Buffer) => {
        if (n >= limit) return;
        const take = c.subarray(0, Math.min(c.length, limit - n));
        chunks.push(take);
        n += take.length;
        if (n >= limit) {
          finish(false);
          req.destroy();
        }
      });
      res.on('end', () => finish(true));
      res.on('aborted', () => finish(false));
      res.on('error', () => finish(false));
    });
    // Once we closed it ourselves the promise is settled: a late error changes nothing.
    req.on('error', reject);
    req.end();
  });
}

describe.each(['stock', 'tuned'] as const)('zip downloads that resume (%s Orthanc)', (preset) => {
  let p: ProxiedStack;
  let uid: string;
  let token: string;
  let work: string;
  const zipUrl = (t: string) => `${p.s.url}/token/study.zip?${t}`;

  /** HEAD until the study's layout is made (in the background after the link was issued). */
  async function layoutHead(t: string, notEtag?: string): Promise<Got> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await httpRequest(zipUrl(t), { method: 'HEAD', localAddress: client() });
      const etag = r.headers.etag as string | undefined;
      if (r.status === 200 && etag && etag !== notEtag) return { ...r, complete: true };
      if (Date.now() > deadline)
        throw new Error(`no layout in time: ${r.status} ${JSON.stringify(r.headers)}`);
      await sleep(200);
    }
  }

  async function linkState(): Promise<Json> {
    const r = await p.s.api('GET', `/api/v1/studies/${uid}/token`);
    expect(r.status).toBe(200);
    return r.json;
  }

  async function events(event: string): Promise<Json[]> {
    const r = await p.s.api('GET', `/api/v1/access-log?event=${event}&study=${uid}`);
    expect(r.status).toBe(200);
    return r.json.items as Json[];
  }

  async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await sleep(100);
    }
  }

  /** A new link for the study (the layout is the study's: it stays). */
  async function relink(body: Json): Promise<string> {
    await p.s.api('DELETE', `/api/v1/studies/${uid}/token`);
    const r = await p.s.api('PUT', `/api/v1/studies/${uid}/token`, body);
    expect(r.status).toBe(201);
    return r.json.token as string;
  }

  beforeAll(async () => {
    p = await startProxiedStack(`resume-${preset}`, {}, { preset });
    work = await mkdtemp(join(tmpdir(), 'studylink-resume-'));
    // About 24 MB in 48 instances: more than the socket buffers between the service and a client.
    const synth = await writeSyntheticStudy({
      dir: join(work, 'study'),
      patientName: 'Resume^Test',
      patientId: 'RESUME-1',
      series: 2,
      instancesPerSeries: 24,
      rows: 512,
      columns: 512,
      studyDate: '20240301',
    });
    await uploadDirectory(p.orthanc, join(work, 'study'), 4);
    uid = synth.studyInstanceUid;
    token = (await p.s.issueToken(uid)).token;
  }, 180_000);
  afterAll(async () => {
    await p?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  let whole: Buffer;
  let etag: string;

  it('HEAD gives the length, a strong ETag and byte ranges; GET sends exactly that, the same bytes every time', async () => {
    const head = await layoutHead(token);
    etag = head.headers.etag as string;
    expect(etag).toMatch(/^"[0-9a-f]{64}\.[0-9a-f]{16}"$/);
    expect(head.headers['accept-ranges']).toBe('bytes');
    const length = Number(head.headers['content-length']);
    expect(length).toBeGreaterThan(20 * MB);

    const a = await get(zipUrl(token));
    const b = await get(zipUrl(token));
    expect(a.status).toBe(200);
    expect(a.complete).toBe(true);
    expect(a.headers.etag).toBe(etag);
    expect(Number(a.headers['content-length'])).toBe(length);
    expect(a.body.length).toBe(length);
    expect(sha256(b.body)).toBe(sha256(a.body));
    whole = a.body;

    const file = join(work, 'whole.zip');
    await writeFile(file, whole);
    const { zip } = await testAndExtract(file);
    expect(zip.entries.slice(0, 2)).toEqual(['DICOMDIR', 'README.txt']);
    expect(zip.entries.filter((e) => e.startsWith('DICOM/'))).toHaveLength(48);
  });

  it('a download cut at 1 MB and resumed with Range gives the same zip, valid DICOM media', async () => {
    const cut = await get(zipUrl(token), {}, MB);
    expect(cut.status).toBe(200);
    expect(cut.body.length).toBe(MB);
    const rest = await get(zipUrl(token), { range: `bytes=${MB}-`, 'if-range': etag });
    expect(rest.status).toBe(206);
    expect(rest.headers['content-range']).toBe(`bytes ${MB}-${whole.length - 1}/${whole.length}`);
    const joined = Buffer.concat([cut.body, rest.body]);
    expect(sha256(joined)).toBe(sha256(whole));

    const file = join(work, 'resumed.zip');
    await writeFile(file, joined);
    const { zip } = await testAndExtract(file);
    const dicomdir = join(zip.dir, 'DICOMDIR');
    const dump = await runCommand('dcmdump', ['-q', dicomdir]);
    expect(dump.code, dump.stderr).toBe(0);
    const verified = await dciodvfy(dicomdir);
    expect(verified.errors, verified.output).toEqual([]);
    const fileSet = await pydicomFileSet(dicomdir);
    expect(fileSet).toHaveLength(48);
    for (const r of fileSet) expect(r.transferSyntaxUid, r.path).toBe(r.fileTransferSyntaxUid);
    for (const e of zip.entries.filter((n) => n.startsWith('DICOM/')).slice(0, 3)) {
      const d = await runCommand('dcmdump', ['-q', join(zip.dir, e)]);
      expect(d.code, d.stderr).toBe(0);
    }
  });

  it('a range in the middle is that slice of the whole; the last bytes too', async () => {
    const from = Math.floor(whole.length / 2) - 12_345;
    const mid = await get(zipUrl(token), { range: `bytes=${from}-${from + 2 * MB - 1}` });
    expect(mid.status).toBe(206);
    expect(mid.body.equals(whole.subarray(from, from + 2 * MB))).toBe(true);
    const tail = await get(zipUrl(token), { range: 'bytes=-100' });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(whole.subarray(whole.length - 100))).toBe(true);
  });

  it('If-Range with another ETag gets the whole file (200); a range past the end a 416; several ranges the whole', async () => {
    const stale = await get(zipUrl(token), {
      range: 'bytes=100-',
      'if-range': `"${'0'.repeat(64)}.${'0'.repeat(16)}"`,
    });
    expect(stale.status).toBe(200);
    expect(stale.body.equals(whole)).toBe(true);
    const past = await get(zipUrl(token), { range: `bytes=${whole.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${whole.length}`);
    const several = await get(zipUrl(token), { range: 'bytes=0-10,20-30' });
    expect(several.status).toBe(200);
    expect(several.body.length).toBe(whole.length);
  });

  it('the page shows the exact size before anyone downloaded', async () => {
    const page = await httpRequest(`${p.s.url}/token?${token}`, {
      localAddress: client(),
      headers: { 'accept-language': 'en' },
    });
    expect(page.body.toString('utf8')).toContain(`${whole.length.toLocaleString('en')} bytes`);
  });

  it('a maxDownloads: 1 link: cut after 1 MB spends nothing; resumed to the end it does; resumes stay open', async () => {
    const limited = await relink({ maxDownloads: 1 });
    const cut = await get(zipUrl(limited), {}, MB);
    expect(cut.status).toBe(200);
    await eventually(async () => ((await events('download_aborted')).length > 0 ? true : undefined));
    expect((await linkState()).downloadsUsed).toBe(0);

    const rest = await get(zipUrl(limited), { range: `bytes=${MB}-`, 'if-range': etag });
    expect(rest.status).toBe(206);
    expect(rest.complete).toBe(true);
    expect(sha256(Buffer.concat([cut.body, rest.body]))).toBe(sha256(whole));
    await eventually(async () => ((await linkState()).downloadsUsed === 1 ? true : undefined));
    const resumed = await events('download_resumed');
    expect(resumed.length).toBeGreaterThan(0);
    const complete = await eventually(async () => {
      const items = (await events('download_complete')).filter((e) => e.detail?.ranged === true);
      return items.length > 0 ? items : undefined;
    });
    expect(complete[0]?.detail).toMatchObject({
      completesFile: true,
      ranges: `${MB}-${whole.length - 1}/${whole.length}`,
    });

    // Spent: a new download is refused, a resume of the same file is not, and never counts again.
    const again = await get(zipUrl(limited));
    expect(again.status).toBe(410);
    // As `curl -C -` would ask (no browser's signs): the resume of a counted download spends nothing.
    const tail = await get(zipUrl(limited), {
      range: `bytes=${whole.length - 5000}-`,
      'if-range': etag,
      'sec-fetch-site': 'none',
    });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(whole.subarray(whole.length - 5000))).toBe(true);
    await sleep(500);
    expect((await linkState()).downloadsUsed).toBe(1);
  });

  it('ten concurrent starts of a maxDownloads: 1 link: one 200', async () => {
    const limited = await relink({ maxDownloads: 1 });
    const all = await Promise.all(Array.from({ length: 10 }, () => get(zipUrl(limited))));
    const statuses = all.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(410)]);
  });

  it('a study changed in the store: no byte differs under the old ETag, and a new ETag follows', async () => {
    const t = await relink({});
    const before = await layoutHead(t);
    expect(before.headers.etag).toBe(etag);
    // The last instance in the zip's order goes: the download gets the first ones from the store.
    const instances = (await (
      await fetch(`${p.orthanc.httpUrl}/studies/${await orthancStudy()}/instances`)
    ).json()) as {
      ID: string;
      MainDicomTags: { InstanceNumber?: string };
    }[];
    const last = instances.sort(
      (a, b) => Number(b.MainDicomTags.InstanceNumber) - Number(a.MainDicomTags.InstanceNumber),
    )[0];
    const del = await fetch(`${p.orthanc.httpUrl}/instances/${last?.ID}`, { method: 'DELETE' });
    expect(del.ok).toBe(true);

    const dl = await get(zipUrl(t));
    if (dl.headers.etag === etag) {
      // Under the old ETag: cut, and every byte it had is the old zip's.
      expect(dl.complete && dl.body.length === whole.length).toBe(false);
      expect(dl.body.equals(whole.subarray(0, dl.body.length))).toBe(true);
    } else {
      // Or, found before the first byte: streamed as before, without an ETag.
      expect(dl.headers.etag).toBeUndefined();
    }
    const after = await layoutHead(t, etag);
    expect(after.headers.etag).not.toBe(etag);
    const fresh = await get(zipUrl(t));
    expect(fresh.status).toBe(200);
    expect(fresh.headers.etag).toBe(after.headers.etag);
    expect(fresh.body.length).toBe(Number(after.headers['content-length']));
    const file = join(work, 'fresh.zip');
    await writeFile(file, fresh.body);
    const { zip } = await testAndExtract(file);
    expect(zip.entries.filter((e) => e.startsWith('DICOM/'))).toHaveLength(47);
    expect((await readFile(file)).length).toBe(fresh.body.length);
  });

  async function orthancStudy(): Promise<string> {
    const r = await fetch(`${p.orthanc.httpUrl}/tools/lookup`, { method: 'POST', body: uid });
    const found = (await r.json()) as { ID: string; Type: string }[];
    return (found.find((f) => f.Type === 'Study') as { ID: string }).ID;
  }
});
