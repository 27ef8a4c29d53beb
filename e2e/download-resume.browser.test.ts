// Issue 18: the patient's browser resumes a zip download that a bad network cut half way. The
// real stack (nginx, both services, PostgreSQL, Orthanc) behind a TCP proxy of the test's own,
// which lets the page and the first zip response through until half the zip has passed, then
// cuts that connection; headless Chromium (Debian's, via playwright-core) is left to itself.
//
// What Chromium does depends on how the connection ends (seen with Chromium 156, headless):
// - closed (FIN) short of Content-Length: the download is interrupted and Chromium's download
//   manager resumes it on its own at once, `Range: bytes=<what it wrote>-` with `If-Range: <ETag>`,
//   and completes the file (Playwright never sees a failure);
// - reset (RST): the download ends `canceled` (DevTools reports the interrupted item as such) and no
//   request follows; the patient clicks again and gets the whole zip from the start (a 200).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { type E2EStack, type Json, runCommand, startE2EStack } from './support/e2e-stack.js';
import { httpRequest, localLink } from './support/patient-http.js';
import { tokenLeaksInLogs } from './support/token-leaks.js';

/** One HTTP request as it passed the proxy: its head, and how many response bytes went back. */
interface Seen {
  head: string;
  bytesDown: number;
  cut: boolean;
}

interface CuttingProxy {
  url: string;
  seen: Seen[];
  /** The next zip GET is cut once this many response bytes (head included) went back: closed or reset. */
  cutNextZipAfter(bytes: number, how: 'close' | 'reset'): void;
  close(): Promise<void>;
}

/**
 * A byte-for-byte TCP proxy in front of nginx that reads each request head going up (one request
 * per connection is what Chromium's download makes; the page's keep-alive requests are told apart
 * by their heads) and can reset a zip download's connection after a given number of bytes down,
 * as a phone losing its network does (the browser sees ERR_CONNECTION_RESET).
 */
async function startCuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const seen: Seen[] = [];
  let cutAfter: { bytes: number; how: 'close' | 'reset' } | null = null;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const target = tcpConnect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(target);
    let up = Buffer.alloc(0);
    let current: Seen | null = null;
    let cutAt: { bytes: number; how: 'close' | 'reset' } | null = null;
    client.on('data', (chunk: Buffer) => {
      up = Buffer.concat([up, chunk]);
      for (;;) {
        const end = up.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = up.subarray(0, end).toString('latin1');
        up = up.subarray(end + 4);
        current = { head, bytesDown: 0, cut: false };
        seen.push(current);
        if (cutAfter !== null && /^GET \/token\/study\.zip\?/.test(head)) {
          cutAt = cutAfter;
          cutAfter = null;
        }
      }
      target.write(chunk);
    });
    target.on('data', (chunk: Buffer) => {
      const s = current;
      if (s && cutAt !== null && s.bytesDown + chunk.length >= cutAt.bytes) {
        const take = cutAt.bytes - s.bytesDown;
        const how = cutAt.how;
        s.bytesDown += take;
        s.cut = true;
        cutAt = null;
        target.destroy();
        client.write(chunk.subarray(0, take), () => {
          if (how === 'close') client.end();
          else client.resetAndDestroy();
        });
        return;
      }
      if (s) s.bytesDown += chunk.length;
      if (!client.write(chunk)) {
        target.pause();
        client.once('drain', () => target.resume());
      }
    });
    const close = () => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    client.on('error', close);
    target.on('error', close);
    client.on('close', close);
    target.on('close', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    cutNextZipAfter(bytes, how) {
      cutAfter = { bytes, how };
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

const headerOf = (head: string, name: string): string | undefined =>
  head
    .split('\r\n')
    .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    ?.slice(name.length + 1)
    .trim();

let s: E2EStack;
let browser: Browser;
let proxy: CuttingProxy;
let work: string;
let uid: string;
const tokens: string[] = [];
const LANGUAGE = 'en-GB';

beforeAll(async () => {
  [s, browser] = await Promise.all([startE2EStack('download-resume-browser'), launchChromium()]);
  work = await mkdtemp(join(tmpdir(), 'studylink-resume-browser-'));
  // About 24 MB in 48 instances: far more than the socket buffers between nginx and the browser.
  const synth = await writeSyntheticStudy({
    dir: join(work, 'study'),
    patientName: 'Resume^Browser',
    patientId: 'RESUMEBR',
    series: 2,
    instancesPerSeries: 24,
    rows: 512,
    columns: 512,
  });
  uid = synth.studyInstanceUid;
  await uploadDirectory(s.orthanc, join(work, 'study'));
  proxy = await startCuttingProxy(Number(new URL(s.url).port));
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  if (work) await rm(work, { recursive: true, force: true });
  if (s) {
    expect(await tokenLeaksInLogs(s.logDir, tokens)).toEqual([]);
    await s.stop();
  }
});

/** A new link of the study with these settings (the old one revoked); its token, once the zip's layout is known. */
async function link(body: Json): Promise<{ token: string; url: string; etag: string; length: number }> {
  await s.api('DELETE', `/api/v1/studies/${uid}/token`);
  const r = await s.api('PUT', `/api/v1/studies/${uid}/token`, body);
  expect(r.status).toBe(201);
  const token = r.json.token as string;
  tokens.push(token);
  // The layout is made in the background after the link is issued: HEAD until it has an ETag.
  for (let i = 0; i < 300; i++) {
    const head = await httpRequest(`${s.url}/token/study.zip?${token}`, {
      method: 'HEAD',
      headers: { 'accept-language': LANGUAGE },
    });
    const etag = head.headers.etag as string | undefined;
    if (head.status === 200 && etag)
      return {
        token,
        url: localLink(r.json.url as string, proxy.url),
        etag,
        length: Number(head.headers['content-length']),
      };
    await sleep(200);
  }
  throw new Error('the zip layout was not made in time');
}

async function events(event: string): Promise<Json[]> {
  return (await s.api('GET', `/api/v1/access-log?event=${event}&study=${uid}`)).json.items as Json[];
}

async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(100);
  }
}

/** The zip requests that went through the proxy since `from`, with their heads. */
const zipRequests = (from: number) =>
  proxy.seen.slice(from).filter((q) => q.head.startsWith('GET /token/study.zip?'));

describe('a patient downloading the zip in Chromium over a network that breaks', () => {
  it('cut half way (the connection closed): Chromium resumes with Range and If-Range; the file is the whole zip, counted once', async () => {
    const l = await link({ maxDownloads: 1 });
    const context = await browser.newContext({ acceptDownloads: true, locale: LANGUAGE });
    context.setDefaultTimeout(60_000);
    const page = await context.newPage();
    await page.goto(l.url);
    const from = proxy.seen.length;
    proxy.cutNextZipAfter(Math.floor(l.length / 2), 'close');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Zip file of the study' }).click(),
    ]);
    expect(await download.failure()).toBeNull();
    const file = await download.path();
    const got = await readFile(file);

    const [first, second, ...more] = zipRequests(from);
    expect(more).toEqual([]);
    expect(first?.cut).toBe(true);
    expect(headerOf(first?.head ?? '', 'range')).toBeUndefined();
    // The resume: from no further than what the first response delivered, on the same ETag.
    const range = /^bytes=(\d+)-$/.exec(headerOf(second?.head ?? '', 'range') ?? '');
    expect(range, second?.head).not.toBeNull();
    const offset = Number(range?.[1]);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(Math.floor(l.length / 2));
    expect(headerOf(second?.head ?? '', 'if-range')).toBe(l.etag);
    expect(second?.head).toMatch(/^GET \/token\/study\.zip\?\S+ HTTP\/1\.1\r\n/);

    // The whole zip, byte for byte: a ranged read of the same ETag from 0 (a download this link
    // completed may be resumed within 24 hours without counting again, so the spent link allows it).
    const whole = await httpRequest(`${s.url}/token/study.zip?${l.token}`, {
      headers: {
        'accept-language': LANGUAGE,
        range: 'bytes=0-',
        'if-range': l.etag,
        'sec-fetch-site': 'same-origin',
      },
    });
    expect(whole.status).toBe(206);
    expect(whole.headers.etag).toBe(l.etag);
    expect(got.length).toBe(l.length);
    expect(sha256(got)).toBe(sha256(whole.body));
    const test = await runCommand('unzip', ['-tq', file]);
    expect(test.code, test.stdout + test.stderr).toBe(0);

    // The log: started, aborted at the cut, resumed, complete; the one allowed download spent once.
    await eventually(async () => ((await events('download_complete')).length > 0 ? true : undefined));
    expect((await events('download_started')).length).toBe(1);
    expect((await events('download_aborted')).length).toBe(1);
    expect((await events('download_resumed')).length).toBeGreaterThanOrEqual(1);
    const link1 = await s.api('GET', `/api/v1/studies/${uid}/token`);
    expect(link1.json.downloadsUsed).toBe(1);
    await context.close();
  });

  it('cut half way (the connection reset): Chromium gives the download up as canceled and sends no Range; a new click gets the whole zip', async () => {
    const l = await link({});
    const context = await browser.newContext({ acceptDownloads: true, locale: LANGUAGE });
    context.setDefaultTimeout(60_000);
    const page = await context.newPage();
    await page.goto(l.url);
    const from = proxy.seen.length;
    proxy.cutNextZipAfter(Math.floor(l.length / 2), 'reset');
    const [cut] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Zip file of the study' }).click(),
    ]);
    expect(await cut.failure()).toBe('canceled');
    const [first] = zipRequests(from);
    expect(first?.cut).toBe(true);

    // What the patient then does: click again. Chromium asks for the whole zip (no Range).
    const again = proxy.seen.length;
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Zip file of the study' }).click(),
    ]);
    expect(await download.failure()).toBeNull();
    const got = await readFile(await download.path());
    const [retry, ...more] = zipRequests(again);
    expect(more).toEqual([]);
    expect(headerOf(retry?.head ?? '', 'range')).toBeUndefined();
    expect(got.length).toBe(l.length);
    const whole = await httpRequest(`${s.url}/token/study.zip?${l.token}`, {
      headers: { 'accept-language': LANGUAGE, 'sec-fetch-site': 'same-origin' },
    });
    expect(whole.status).toBe(200);
    expect(sha256(got)).toBe(sha256(whole.body));
    await context.close();
  });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
