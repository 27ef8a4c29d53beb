// The guessing limit end to end: invalid tokens per client address counted by the token service in
// PostgreSQL, for the page and the download alike, behind nginx's own limit_req. Clients are told apart
// by their loopback source address (127.0.3.x), which is what nginx passes on as the client IP.
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSamples } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, type Json, startE2EStack } from './support/e2e-stack.js';
import { malformedLogLines, tokenLeaks } from './support/log-checks.js';
import { type RawHttpResponse, rawRequest } from './support/raw-http.js';

const LIMIT = 20;
const WINDOW_SECONDS = 600;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomToken = () => Array.from({ length: 64 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

const GUESSER = '127.0.3.1';
const NEIGHBOUR = '127.0.3.2';
const SPOOFER = '127.0.3.3';
const DOWNLOADER = '127.0.3.4';
const BURSTER = '127.0.3.5';

let s: E2EStack;
let port: number;
let token: string;

const get = (target: string, from: string, headers: Record<string, string> = {}) =>
  rawRequest(port, 'GET', target, { 'user-agent': 'reliability-test', ...headers }, undefined, {
    localAddress: from,
  });

function expectAppRefusal(res: RawHttpResponse) {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  // The service's plain page, not nginx's limit_req page: the refusal came from the app's count.
  const page = res.body.toString('utf8');
  expect(page).toContain('Too many attempts');
  expect(page).not.toContain('Diagnostic');
  return retryAfter;
}

async function events(event: string): Promise<Json[]> {
  const r = await s.api('GET', `/api/v1/access-log?event=${event}&limit=500`);
  expect(r.status).toBe(200);
  return r.json.items as Json[];
}

beforeAll(async () => {
  s = await startE2EStack('reliability-rate-limit', {
    env: {
      INVALID_TOKEN_LIMIT: String(LIMIT),
      INVALID_TOKEN_WINDOW_SECONDS: String(WINDOW_SECONDS),
      // The app's limit is what these tests count: nginx's per-address page rate must not answer
      // first, however fast a run sends its guesses (Node 24 sends 200 in well under a second).
      NGINX_TOKEN_RATE: '100000r/s',
    },
  });
  port = Number(new URL(s.url).port);
  const [ct] = await loadSamples(s.orthanc, ['CT_small.dcm']);
  ({ token } = await s.issueToken(ct?.studyInstanceUid as string));
  // Windows are fixed (aligned to the epoch): start well inside one so no count resets mid-test.
  const left = WINDOW_SECONDS - ((Date.now() / 1000) % WINDOW_SECONDS);
  if (left < 15) await sleep(left * 1000 + 500);
});
afterAll(async () => {
  await s?.stop();
});

describe('staff sign-in behind nginx', () => {
  const SIGNER = '127.0.3.6';
  it('nginx limits sign-in POSTs per address (limit_req); the form itself (GET) is not limited', async () => {
    const post = () =>
      rawRequest(
        port,
        'POST',
        '/staff/sign-in',
        { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'reliability-test' },
        Buffer.from('username=ghost&password=not+the+password'),
        { localAddress: SIGNER },
      );
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await post()).status);
    // 20 of burst (and whatever the 30/min rate refilled meanwhile) reach the service (403: no CSRF
    // token), the rest nginx refuses with its own 429 page.
    const passed = statuses.filter((st) => st !== 429).length;
    expect(passed).toBeGreaterThanOrEqual(20);
    expect(passed).toBeLessThanOrEqual(24);
    expect(statuses.slice(0, 20).every((st) => st === 403)).toBe(true);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.body.toString('utf8')).toContain('Too many requests');
    for (let i = 0; i < 5; i++) expect((await get('/staff/sign-in', SIGNER)).status).toBe(200);
  });
});

describe('invalid-token limit per client address', () => {
  it('200 random tokens from one address: 20 not-found pages, then 429 with Retry-After', async () => {
    const statuses: number[] = [];
    const retryAfters: number[] = [];
    for (let i = 0; i < 200; i++) {
      // Every fifth guess is malformed: those count too.
      const guess = i % 5 === 4 ? `${randomToken().slice(0, 40)}%0d%0a` : randomToken();
      const res = await get(`/token?${guess}`, GUESSER);
      statuses.push(res.status);
      if (res.status === 429) retryAfters.push(expectAppRefusal(res));
      else expect(res.body.toString('utf8')).toContain('not found or is no longer available');
    }
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(404));
    expect(statuses.slice(LIMIT)).toEqual(Array(200 - LIMIT).fill(429));
    // Retry-After counts down to the end of the current window.
    const windowLeft = WINDOW_SECONDS - ((Date.now() / 1000) % WINDOW_SECONDS);
    expect(Math.abs((retryAfters.at(-1) ?? 0) - windowLeft)).toBeLessThanOrEqual(2);
  });

  it('refuses the over-limit address even its valid link and its download: a hit teaches it nothing', async () => {
    expectAppRefusal(await get(`/token?${token}`, GUESSER));
    expectAppRefusal(await get(`/token/study.zip?${token}`, GUESSER));
  });

  it("another client's valid link keeps working", async () => {
    const page = await get(`/token?${token}`, NEIGHBOUR);
    expect(page.status).toBe(200);
    expect(page.body.toString('utf8')).toContain(NEIGHBOUR);
    const zip = await get(`/token/study.zip?${token}`, NEIGHBOUR);
    expect(zip.status).toBe(200);
    expect(zip.body.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
  });

  it('spoofed X-Forwarded-For / X-Real-IP / Forwarded headers change nothing', async () => {
    const spoof = (ip: string) => ({ 'x-forwarded-for': ip, 'x-real-ip': ip, forwarded: `for=${ip}` });
    // The refused address cannot pass itself off as a fresh one...
    expectAppRefusal(await get(`/token?${token}`, GUESSER, spoof(NEIGHBOUR)));
    expectAppRefusal(await get(`/token?${token}`, GUESSER, spoof('198.51.100.7')));
    // ...and a fresh address is neither blamed for the refused one nor shown as what it claims.
    const page = await get(`/token?${token}`, SPOOFER, spoof(GUESSER));
    expect(page.status).toBe(200);
    const html = page.body.toString('utf8');
    expect(html).toContain(SPOOFER);
    expect(html).not.toContain(GUESSER);
  });

  it('downloads and pages share one allowance', async () => {
    // 10 invalid downloads (within nginx's download burst), then 10 invalid page views: 20 in all.
    for (let i = 0; i < 10; i++) {
      const guess = i % 2 ? randomToken() : 'not-a-token';
      expect((await get(`/token/study.zip?${guess}`, DOWNLOADER)).status).toBe(404);
    }
    for (let i = 0; i < 10; i++) expect((await get(`/token?${randomToken()}`, DOWNLOADER)).status).toBe(404);
    expectAppRefusal(await get(`/token/study.zip?${token}`, DOWNLOADER));
    expectAppRefusal(await get(`/token?${token}`, DOWNLOADER));
  });

  it('nginx limit_req still answers a burst first', async () => {
    const burst = await Promise.all(
      Array.from({ length: 16 }, () => get(`/token/study.zip?${randomToken()}`, BURSTER)),
    );
    const byNginx = burst.filter(
      (r) => r.status === 429 && !r.body.toString('utf8').includes('Too many attempts'),
    );
    expect(byNginx.length).toBeGreaterThanOrEqual(3);
    for (const r of byNginx) expect(r.headers['retry-after']).toBeDefined();
  });

  it('logs one rate_limited event per address and window, and no invalid_token row per refusal', async () => {
    const limited = await events('rate_limited');
    const byIp = (ip: string) => limited.filter((e) => e.clientIp === ip);
    expect(byIp(GUESSER)).toHaveLength(1);
    expect(byIp(DOWNLOADER)).toHaveLength(1);
    expect(byIp(GUESSER)[0]?.detail).toMatchObject({ limit: LIMIT, windowSeconds: WINDOW_SECONDS });
    expect(byIp(NEIGHBOUR)).toHaveLength(0);
    const invalid = (await events('invalid_token')).filter((e) => e.clientIp === GUESSER);
    expect(invalid).toHaveLength(LIMIT);
  });

  it('leaves every log line JSON and no token in any log', async () => {
    expect(await malformedLogLines(s.logDir)).toEqual([]);
    expect(await tokenLeaks(s.logDir, [token])).toEqual([]);
  });
});
