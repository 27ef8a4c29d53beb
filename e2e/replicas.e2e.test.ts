// One machine is not the limit: two replicas of each service behind one nginx, sharing PostgreSQL.
// The guessing limit and a PIN link's lockout hold across replicas (counted in PostgreSQL), a setup change made through one
// token replica shows in links built by the other within SERVER_CONFIG_CACHE_MS, and when one
// replica of each is killed mid-download, the downloads it served are cut (never a complete-looking
// zip) while the others finish and new page views and downloads go on. Deliveries queued through
// either replica are sent once each, though both replicas' senders poll the same queue.
import { randomInt } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink } from '../services/token-service/test/delivery.fixtures.js';
import { type E2EStack, runCommand, startE2EStack } from './support/e2e-stack.js';
import { rawRequest } from './support/raw-http.js';

const CACHE_MS = 1_000;
const LIMIT = 10;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomToken = () => Array.from({ length: 64 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

let s: E2EStack;
let work: string;
let token: string;
let studyUid: string;
let replicaTokenPort: number;
let smtp: SmtpSink;

/** Requests each token replica has answered so far, by the paths they logged. */
async function servedBy(pathPart: string): Promise<[number, number]> {
  const count = async (file: string) =>
    (await readFile(join(s.logDir, file), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"request completed"') && l.includes(pathPart)).length;
  return [await count('token-service.log'), await count('token-service-2.log')];
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'studylink-replicas-'));
  // A real SMTP server both token replicas send to; their senders poll every 200 ms.
  smtp = new SmtpSink(await freePort(), await mkdtemp(join(work, 'smtp-')));
  await smtp.start();
  s = await startE2EStack('replicas', {
    replicas: 2,
    env: {
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      MAIL_FROM: 'Radiology <radiology@example.org>',
      DELIVERY_POLL_MS: '200',
      SERVER_CONFIG_CACHE_MS: String(CACHE_MS),
      INVALID_TOKEN_LIMIT: String(LIMIT),
      INVALID_TOKEN_WINDOW_SECONDS: '600',
    },
  });
  // About 20 MB: big enough that a download is still in flight when a replica is killed.
  const study = await writeSyntheticStudy({
    dir: join(work, 'study'),
    patientName: 'Replica^Test',
    patientId: 'REPLICA-1',
    series: 2,
    instancesPerSeries: 20,
    rows: 512,
    columns: 512,
  });
  await uploadDirectory(s.orthanc, join(work, 'study'), 4);
  studyUid = study.studyInstanceUid;
  ({ token } = await s.issueToken(studyUid));
  const line = (await readFile(join(s.logDir, 'token-service-2.log'), 'utf8'))
    .split('\n')
    .find((l) => l.includes('token service listening'));
  replicaTokenPort = Number(JSON.parse(line as string).port);
});
afterAll(async () => {
  await s?.stop();
  await smtp?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('two replicas of each service behind nginx', () => {
  it('nginx spreads page views over both token replicas', async () => {
    for (let i = 0; i < 20; i++) expect((await fetch(`${s.url}/token?${token}`)).status).toBe(200);
    const [a, b] = await servedBy(`"path":"/token"`);
    expect(a).toBeGreaterThanOrEqual(5);
    expect(b).toBeGreaterThanOrEqual(5);
  });

  it('the guessing limit holds across replicas: LIMIT not-found pages from one address, then 429', async () => {
    // From an address of its own, so the other tests' requests are not refused with it.
    const port = Number(new URL(s.url).port);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 10; i++)
      statuses.push(
        (
          await rawRequest(port, 'GET', `/token?${randomToken()}`, {}, undefined, {
            localAddress: '127.0.3.9',
          })
        ).status,
      );
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(404));
    expect(statuses.slice(LIMIT)).toEqual(Array(10).fill(429));
  });

  it('a PIN link locks across replicas: 5 wrong PINs sent to either replica lock it on both, the right PIN included', async () => {
    const pinStudy = await writeSyntheticStudy({
      dir: join(work, 'pin-study'),
      patientName: 'Replica^Pin',
      patientId: 'REPLICA-2',
      series: 1,
      instancesPerSeries: 1,
      rows: 64,
      columns: 64,
    });
    await uploadDirectory(s.orthanc, join(work, 'pin-study'), 1);
    const issued = await s.api('PUT', `/api/v1/studies/${pinStudy.studyInstanceUid}/token`, {
      verification: 'pin',
    });
    expect(issued.status).toBe(201);
    const pinToken = issued.json.token as string;
    const pin = issued.json.pin as string;
    const wrong = pin === '000000' ? '111111' : '000000';
    const answer = (port: number, value: string, ip: string) =>
      fetch(`http://127.0.0.1:${port}/token?${pinToken}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'sec-fetch-site': 'same-origin',
          // Each answer from another address: the count is the link's, whoever sends it.
          'x-real-ip': ip,
        },
        body: new URLSearchParams({ pin: value }).toString(),
      });
    const replicas = [s.stack.tokenPort, replicaTokenPort];
    for (let i = 0; i < 5; i++) {
      const res = await answer(replicas[i % 2] as number, wrong, `198.51.100.${70 + i}`);
      await res.arrayBuffer();
      // The form again, with a plain message; the fifth wrong answer locks the link at once.
      expect(res.status, `wrong PIN ${i + 1}`).toBe(i < 4 ? 200 : 429);
    }
    for (const port of replicas) {
      const res = await answer(port, pin, '198.51.100.99');
      await res.arrayBuffer();
      expect(res.status, `right PIN on replica port ${port}`).toBe(429);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    }
  });

  it(`a setup change through one replica shows in the other's links within ${CACHE_MS} ms`, async () => {
    const headers = { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' };
    const linkFrom = async (port: number) =>
      (
        (await (
          await fetch(`http://127.0.0.1:${port}/api/v1/studies/${studyUid}/token`, { headers })
        ).json()) as { url: string }
      ).url;
    // The other replica has the setup in its cache now.
    expect(new URL(await linkFrom(replicaTokenPort)).hostname).not.toBe('replicas.example.org');
    const changedAt = Date.now();
    const put = await fetch(`http://127.0.0.1:${s.stack.tokenPort}/api/v1/server-config`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ serverName: 'replicas.example.org' }),
    });
    expect(put.status).toBe(200);
    expect(new URL(await linkFrom(s.stack.tokenPort)).hostname).toBe('replicas.example.org');
    let seenAfter = -1;
    while (Date.now() - changedAt < CACHE_MS + 2_000) {
      if (new URL(await linkFrom(replicaTokenPort)).hostname === 'replicas.example.org') {
        seenAfter = Date.now() - changedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(
      `setup change through replica 1 seen in replica 2's links after ${seenAfter} ms (bound ${CACHE_MS} ms)`,
    );
    expect(seenAfter).toBeGreaterThanOrEqual(0);
    // The documented bound, plus the time one request takes.
    expect(seenAfter).toBeLessThanOrEqual(CACHE_MS + 250);
  });

  it('deliveries queued through either replica are each sent once, though both replicas send', async () => {
    const N = 8;
    for (let i = 0; i < N; i++) {
      const r = await s.api('POST', `/api/v1/studies/${studyUid}/token/deliveries`, {
        email: `patient${i}@example.org`,
      });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
    }
    // Every one sent (the link's deliveries, through nginx: either replica answers)...
    await expect
      .poll(
        async () =>
          (
            (await s.api('GET', `/api/v1/studies/${studyUid}/token`)).json.deliveries as { status: string }[]
          ).filter((d) => d.status === 'sent').length,
        { timeout: 30_000, interval: 200 },
      )
      .toBe(N);
    // ...and then ten more poll intervals of both senders: still one message per delivery.
    await new Promise((r) => setTimeout(r, 2_000));
    const to = (await smtp.messages()).map((m) => String(m.to)).sort();
    expect(to).toHaveLength(N);
    expect(new Set(to).size).toBe(N);
    // The two replicas' logs together say N sends: none twice, whichever replica sent it.
    const sentBy = await Promise.all(
      ['token-service.log', 'token-service-2.log'].map(
        async (f) =>
          (await readFile(join(s.logDir, f), 'utf8')).split('\n').filter((l) => l.includes('"delivery sent"'))
            .length,
      ),
    );
    expect(sentBy.reduce((a, b) => a + b, 0)).toBe(N);
  }, 60_000);

  it('killing one replica of each cuts its downloads cleanly; the others finish, and new work goes on', async () => {
    const port = Number(new URL(s.url).port);
    /** A download read slowly: the first chunk, then a pause until `resume()`, then to the end. */
    const slowDownload = (i: number) => {
      const file = join(work, `download-${i}.zip`);
      let resume: () => void = () => {};
      let finish: (outcome: 'complete' | 'cut') => void = () => {};
      const done = new Promise<'complete' | 'cut'>((r) => {
        finish = r;
      });
      const started = new Promise<void>((onStart, fail) => {
        const req = request({ host: '127.0.0.1', port, path: `/token/study.zip?${token}` }, (res) => {
          if (res.statusCode !== 200) {
            fail(new Error(`download ${i}: status ${res.statusCode}`));
            res.resume();
            return;
          }
          const out = createWriteStream(file);
          res.once('data', (chunk) => {
            out.write(chunk);
            res.pause();
            onStart();
          });
          resume = () => {
            res.pipe(out);
            res.resume();
          };
          res.on('end', () => out.end(() => finish(res.complete ? 'complete' : 'cut')));
          res.on('aborted', () => finish('cut'));
          res.on('error', () => finish('cut'));
        });
        req.on('error', fail);
        req.end();
      });
      return { file, started, resume: () => resume(), done };
    };
    const downloads = [0, 1, 2, 3].map(slowDownload);
    await Promise.all(downloads.map((d) => d.started));
    const killed = ['token-service-2', 'export-service-2'].map((name) => {
      const proc = s.stack.processes[name];
      expect(proc, name).toBeDefined();
      const exited = new Promise((r) => proc?.once('exit', r));
      proc?.kill('SIGKILL');
      return exited;
    });
    await Promise.all(killed);
    for (const d of downloads) d.resume();
    const outcomes = await Promise.all(downloads.map((d) => d.done));
    console.log(`downloads when one replica of each was killed: ${outcomes.join(', ')}`);
    expect(outcomes).toContain('cut');
    expect(outcomes).toContain('complete');
    for (const [i, outcome] of outcomes.entries()) {
      const test = await runCommand('unzip', ['-tq', downloads[i]?.file as string]);
      // A cut download never looks like a whole zip; a finished one is whole.
      if (outcome === 'complete') expect(test.code, test.stdout + test.stderr).toBe(0);
      else expect(test.code).not.toBe(0);
    }
    // New work goes to the survivors: nginx skips the dead upstreams.
    for (let i = 0; i < 10; i++) expect((await fetch(`${s.url}/token?${token}`)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const file = join(work, `after-${i}.zip`);
      const curl = await runCommand('curl', ['-sS', '-f', '-o', file, `${s.url}/token/study.zip?${token}`]);
      expect(curl.code, curl.stderr).toBe(0);
      expect((await runCommand('unzip', ['-tq', file])).code).toBe(0);
    }
  }, 120_000);
});
