import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LoadedSample, loadSamples } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, runCommand } from './support/e2e-stack.js';
import { header, httpRequest, localLink, type RawResponse } from './support/patient-http.js';
import { type ProxiedStack, startProxiedStack } from './support/proxied-stack.js';
import { tokenLeaksInLogs } from './support/token-leaks.js';

const PUBLIC_ADDRESS = '203.0.113.10';
const TOKEN = /^[A-Za-z0-9]{64}$/;

let p: ProxiedStack;
let samples: Map<string, LoadedSample>;
/** Every token this file made, for the leak scan at the end. */
const issued: string[] = [];

// Each scenario is its own client address, so nginx's per-address limits and the IP shown on the page
// are the scenario's own.
let nextClient = 1;
const client = () => `127.0.3.${nextClient++}`;

async function issue(uid: string, expectStatus = 201): Promise<{ token: string; link: string; json: Json }> {
  const r = await p.s.api('PUT', `/api/v1/studies/${uid}/token`);
  expect(r.status).toBe(expectStatus);
  expect(r.headers.get('cache-control')).toBe('no-store');
  const token = r.json.token as string;
  issued.push(token);
  return { token, link: localLink(r.json.url as string, p.s.url), json: r.json };
}

const page = (link: string, opts: Parameters<typeof httpRequest>[1] = {}) =>
  httpRequest(link, { localAddress: client(), ...opts });
const text = (r: RawResponse) => r.body.toString('utf8');

/** The headers every patient-facing answer carries, whoever (service or nginx) wrote it. */
function expectPatientHeaders(r: RawResponse, what: string) {
  expect(header(r, 'cache-control'), what).toBe('no-store');
  for (const v of header(r, 'referrer-policy').split(', ')) expect(v, what).toBe('no-referrer');
  for (const v of header(r, 'x-content-type-options').split(', ')) expect(v, what).toBe('nosniff');
  expect(header(r, 'content-type'), what).toMatch(/^text\/html; charset=utf-8$/i);
}

/** And the ones the services add to their own pages. */
function expectServicePageHeaders(r: RawResponse, what: string) {
  expectPatientHeaders(r, what);
  const csp = header(r, 'content-security-policy');
  for (const d of ["default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"])
    expect(csp, what).toContain(d);
  expect(header(r, 'x-robots-tag'), what).toContain('noindex');
}

beforeAll(async () => {
  // Links say port 3000 (set in the environment, so it wins over the stored setup), whatever port
  // this stack's nginx happens to listen on.
  p = await startProxiedStack('token', { PUBLIC_PORT: '3000' });
  const loaded = await loadSamples(p.orthanc, ['CT_small.dcm', 'chrH31.dcm', 'chrGreek.dcm', 'chrRuss.dcm']);
  samples = new Map(loaded.map((s) => [s.name, s]));
  const cfg = await p.s.api('PUT', '/api/v1/server-config', {
    publicAddress: PUBLIC_ADDRESS,
    port: 3000,
    institution: '',
    department: 'Radiologie',
    contactPhone: '+33 1 23 45 67 89',
  });
  expect(cfg.status).toBe(200);
});
afterAll(async () => {
  await p?.stop();
});

const uid = (name: string) => samples.get(name)?.studyInstanceUid as string;

describe('issue a token and open the page through nginx', () => {
  it('PUT makes the token (201), again returns it (200); the link is fully qualified', async () => {
    const first = await issue(uid('CT_small.dcm'));
    expect(first.token).toMatch(TOKEN);
    expect(first.json).toMatchObject({
      studyInstanceUid: uid('CT_small.dcm'),
      url: `http://${PUBLIC_ADDRESS}:3000/token?${first.token}`,
      expiresAt: null,
    });
    const again = await issue(uid('CT_small.dcm'), 200);
    expect(again.token).toBe(first.token);
    const got = await p.s.api('GET', `/api/v1/studies/${uid('CT_small.dcm')}/token`);
    expect(got.json.token).toBe(first.token);
    const unknown = await p.s.api('PUT', '/api/v1/studies/1.2.3.4.5.6.7.8.9/token');
    expect(unknown.status).toBe(404);
  });

  it('the page shows the study from the store, the institution and the client IP nginx saw', async () => {
    const { token, link } = await issue(uid('chrRuss.dcm'));
    const ct = await issueOrGet(uid('CT_small.dcm'));
    const from = client();
    const r = await httpRequest(ct.link, { localAddress: from });
    expect(r.status).toBe(200);
    expectServicePageHeaders(r, 'page 200');
    const html = text(r);
    expect(html).toContain('JFK IMAGING CENTER · Radiologie'); // the study's institution, configured department
    expect(html).toContain('CompressedSamples, CT1');
    expect(html).toContain('19 January 2004 at 07:27 UTC');
    expect(html).toMatch(/<dt>Modalities<\/dt><dd>CT<\/dd>/);
    expect(html).toMatch(/<dt>Series and images<\/dt><dd>1 series, 1 image<\/dd>/);
    expect(html).toMatch(/<dt>Study ID<\/dt><dd>1CT1<\/dd>/);
    expect(html).toContain(`<span class="ip">${from}</span>`);
    expect(html).toContain(`href="/token/study.zip?${ct.token}"`);
    expect(html).toContain('Zip file of the study');

    // The configured institution wins over the one in the study.
    await p.s.api('PUT', '/api/v1/server-config', { institution: 'Klinikum Süd <Ost>' });
    const again = text(await page(ct.link));
    expect(again).toContain('Klinikum Süd &lt;Ost&gt; · Radiologie');
    expect(again).not.toContain('JFK IMAGING CENTER');
    expect(token).toMatch(TOKEN);
    expect(text(await page(link))).toContain('Люкceмбypг');
  });

  it.each([
    // An English page: the alphabetic group (a Japanese page shows 山田太郎; packages/i18n's person-name test).
    ['chrH31.dcm', 'Yamada, Tarou', 'H31EXAMPLE'],
    ['chrGreek.dcm', 'Διονυσιος', 'SCSGREEK'],
    ['chrRuss.dcm', 'Люкceмбypг', 'SCSRUSS'],
  ])('%s: the patient name reads %s, non-ASCII intact', async (name, expected, studyId) => {
    const existing = await p.s.api('GET', `/api/v1/studies/${uid(name)}/token`);
    const { link } =
      existing.status === 200 ? { link: localLink(existing.json.url, p.s.url) } : await issue(uid(name));
    const r = await page(link);
    expect(r.status).toBe(200);
    expect(header(r, 'content-type')).toBe('text/html; charset=utf-8');
    const html = text(r);
    expect(html).toContain(`<dt>Patient</dt><dd><bdi>${expected}</bdi></dd>`);
    expect(html).toMatch(/<dt>Modalities<\/dt><dd>OT<\/dd>/);
    expect(html).toContain(`<dt>Study ID</dt><dd>${studyId}</dd>`);
    expect(html).toContain('1 series, 1 image');
  });

  it('a spoofed X-Real-IP / X-Forwarded-For from the client changes nothing', async () => {
    const { token, link } = await issueOrGet(uid('chrGreek.dcm'));
    const from = client();
    const r = await httpRequest(link, {
      localAddress: from,
      headers: {
        'x-real-ip': '198.51.100.66',
        'x-forwarded-for': '198.51.100.77, 10.0.0.1',
        forwarded: 'for=1.2.3.4',
      },
    });
    expect(r.status).toBe(200);
    const html = text(r);
    expect(html).toContain(`<span class="ip">${from}</span>`);
    for (const spoofed of ['198.51.100.66', '198.51.100.77', '10.0.0.1', '1.2.3.4'])
      expect(html).not.toContain(spoofed);
    const log = await p.s.api('GET', `/api/v1/access-log?event=page_view&study=${uid('chrGreek.dcm')}`);
    expect(log.json.items[0]).toMatchObject({ clientIp: from, event: 'page_view', outcome: 'fetched' });
    expect(JSON.stringify(log.json)).not.toContain(token);
  });
});

async function issueOrGet(studyUid: string): Promise<{ token: string; link: string }> {
  const existing = await p.s.api('GET', `/api/v1/studies/${studyUid}/token`);
  if (existing.status === 200)
    return { token: existing.json.token, link: localLink(existing.json.url, p.s.url) };
  return issue(studyUid);
}

describe('link scanners and revocation', () => {
  it('GET and HEAD of the page (and HEAD of the download) cause no WADO-RS retrieval', async () => {
    const { token, link } = await issueOrGet(uid('CT_small.dcm'));
    const before = p.proxy.retrievals().length;
    const requestsBefore = p.proxy.requests.length;
    for (let i = 0; i < 3; i++) {
      expect((await page(link)).status).toBe(200);
      const head = await page(link, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
      expectServicePageHeaders(head, 'HEAD page');
    }
    const headZip = await page(`${p.s.url}/token/study.zip?${token}`, { method: 'HEAD' });
    expect(headZip.status).toBe(200);
    expect(headZip.body.length).toBe(0);
    expect(p.proxy.retrievals().length).toBe(before);
    // Only QIDO-RS searches (if any) reached the store.
    for (const r of p.proxy.requests.slice(requestsBefore)) expect(r.accept).not.toMatch(/multipart/);
    // The counter does see a retrieval: the download itself.
    const zip = await page(`${p.s.url}/token/study.zip?${token}`);
    expect(zip.status).toBe(200);
    expect(p.proxy.retrievals().length).toBe(before + 1);
    // Served (the link has no download limit), but a GET without a browser's signs (this one, as a
    // mail scanner's) is reported as such: it does not count as the patient opening the link.
    // The export service reports the start asynchronously: wait for it.
    const browserOfStart = async () =>
      (await p.s.api('GET', `/api/v1/access-log?event=download_started&study=${uid('CT_small.dcm')}`)).json
        .items[0]?.detail?.browser;
    await expect.poll(browserOfStart, { timeout: 10_000 }).toBe(false);
  });

  it('revoked: the page and the download refuse the token at once, with no study data', async () => {
    const { token, link } = await issueOrGet(uid('chrH31.dcm'));
    expect((await page(link)).status).toBe(200);
    const before = p.proxy.retrievals().length;
    expect((await p.s.api('DELETE', `/api/v1/studies/${uid('chrH31.dcm')}/token`)).status).toBe(204);

    const r = await page(link);
    expect(r.status).toBe(404);
    expectServicePageHeaders(r, 'revoked page');
    const html = text(r);
    expect(html).toContain('Link not found');
    // The setup's sender (institution and department: who gave the link) is named; nothing of the study is.
    expect(html).toContain('Radiologie');
    for (const leak of ['Yamada', '山田', 'H31EXAMPLE', token]) expect(html).not.toContain(leak);
    const zip = await page(`${p.s.url}/token/study.zip?${token}`);
    expect(zip.status).toBe(404);
    expectServicePageHeaders(zip, 'revoked download');
    expect(text(zip)).not.toContain('Yamada');
    // The export service's own page names the sender and its contact too (read from the token service).
    expect(text(zip)).toContain('Radiologie');
    expect(text(zip)).toContain('+33 1 23 45 67 89');
    expect(p.proxy.retrievals().length).toBe(before);

    const fresh = await issue(uid('chrH31.dcm'));
    expect(fresh.token).not.toBe(token);
    expect((await page(fresh.link)).status).toBe(200);
    expect((await page(link)).status).toBe(404);
    const log = await p.s.api('GET', '/api/v1/access-log?event=invalid_token');
    expect(log.json.items.length).toBeGreaterThanOrEqual(2);
  });

  it('unknown and malformed tokens get the same plain 404 page', async () => {
    const unknown = 'Q'.repeat(64);
    for (const q of [unknown, 'short', '', `${unknown}&a=b`, `${unknown.slice(1)}-`]) {
      const r = await page(`${p.s.url}/token?${q}`);
      expect(r.status, q).toBe(404);
      expectServicePageHeaders(r, `404 ${q}`);
      expect(text(r)).toContain('Link not found');
    }
  });
});

describe("the page's own posts reach the token service through nginx", () => {
  it('POST /token/opened records the opening; POST /token/share makes a child link that opens', async () => {
    const made = await p.s.api('PUT', `/api/v1/studies/${uid('chrRuss.dcm')}/token`);
    expect([200, 201]).toContain(made.status);
    const token = made.json.token as string;
    issued.push(token);
    const link = localLink(made.json.url as string, p.s.url);
    const origin = new URL(link).origin;
    const post = (path: string, body = '') =>
      page(`${origin}${path}?${token}`, {
        method: 'POST',
        headers: {
          origin,
          'content-type': 'application/x-www-form-urlencoded',
          'sec-fetch-site': 'same-origin',
        },
        body,
      });
    const opened = await post('/token/opened');
    expect(opened.status, text(opened)).toBe(204);
    const shared = await post('/token/share', 'expiresInDays=3');
    expect(shared.status, text(shared).slice(0, 300)).toBe(200);
    expectServicePageHeaders(shared, 'share');
    const child = /token\?([A-Za-z0-9]{64})/.exec(text(shared).replaceAll('&amp;', '&'))?.[1];
    expect(child).toBeDefined();
    issued.push(child as string);
    expect(child).not.toBe(token);
    const childPage = await page(`${origin}/token?${child}`);
    expect(childPage.status).toBe(200);
    // A share from another site is refused, through nginx as straight to the service.
    const forged = await page(`${origin}/token/share?${token}`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'expiresInDays=3',
    });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
  });
});

describe('security headers on the answers a patient can get', () => {
  it('429 from nginx when one address hammers the download link', async () => {
    const { token } = await issueOrGet(uid('chrRuss.dcm'));
    await p.s.api('DELETE', `/api/v1/studies/${uid('chrRuss.dcm')}/token`); // a dead link, tried again and again
    const from = client();
    const answers: RawResponse[] = [];
    for (let i = 0; i < 16; i++)
      answers.push(await httpRequest(`${p.s.url}/token/study.zip?${token}`, { localAddress: from }));
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status !== 429 && r.status !== 404)).toEqual([]);
    for (const r of limited) {
      expectPatientHeaders(r, '429');
      expect(header(r, 'retry-after')).toMatch(/^\d+$/);
    }
    // Other clients are unaffected.
    expect((await page(`${p.s.url}/token/study.zip?${token}`)).status).toBe(404);
  });

  it('429 on the page when one address tries many unknown tokens at once', async () => {
    const from = client();
    const guesses = Array.from(
      { length: 40 },
      (_, i) => `${p.s.url}/token?${String(i).padStart(2, '0').repeat(32)}`,
    );
    const answers = await Promise.all(guesses.map((g) => httpRequest(g, { localAddress: from })));
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status !== 429 && r.status !== 404)).toEqual([]);
    for (const r of limited) {
      expectPatientHeaders(r, '429 page');
      expect(header(r, 'retry-after')).toMatch(/^\d+$/);
    }
  });

  it('a token in the path, an encoded query, a header or a referer: answered without a 500, logged by no one', async () => {
    const { token } = await issueOrGet(uid('CT_small.dcm'));
    // What mail and chat link rewriters, careless integrators and probes make of a link.
    const paths = [
      `/token%3F${token}`,
      `/token%3f${token}`,
      `/token/study.zip%3F${token}`,
      `/token/${token}`,
      `/token/study.zip;${token}`,
      `/Token?${token}`,
      `/TOKEN%3F${token}`,
      `/token/%${token}`,
      `/api/v1/studies/${token}/token`,
      `/staff/${token}`,
      `/x/${token}/${token}`,
    ];
    for (const path of paths) {
      const r = await page(`${p.s.url}${path}`);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
    }
    const r = await page(`${p.s.url}/token?${token}`, {
      headers: { referer: `https://mail.example/${token}/open`, 'user-agent': `Scanner/1.0 (${token})` },
    });
    expect(r.status).toBe(200);
  });

  it('503 when the token service is down: the page and the download, never a 500', async () => {
    const { token, link } = await issueOrGet(uid('CT_small.dcm'));
    const proc = p.s.stack.processes['token-service'];
    proc.kill('SIGKILL');
    await new Promise((resolve) =>
      proc.exitCode !== null || proc.signalCode !== null ? resolve(null) : proc.once('exit', resolve),
    );

    const r = await page(link);
    expect(r.status).toBe(503);
    expectPatientHeaders(r, '503 page');
    expect(header(r, 'retry-after')).toMatch(/^\d+$/);
    expect(text(r)).not.toContain('CompressedSamples');

    const zip = await page(`${p.s.url}/token/study.zip?${token}`);
    expect(zip.status).toBe(503);
    expectServicePageHeaders(zip, '503 download');
    expect(header(zip, 'retry-after')).toMatch(/^\d+$/);
  });
});

describe('after every scenario', () => {
  it('no log file (services at debug level, nginx access and error logs) holds a token', async () => {
    expect(issued.length).toBeGreaterThanOrEqual(6);
    const files = await readdir(p.s.logDir);
    expect(files).toEqual(
      expect.arrayContaining([
        'token-service.log',
        'export-service.log',
        'nginx-access.log',
        'nginx-error.log',
      ]),
    );
    const leaks = await tokenLeaksInLogs(p.s.logDir, issued);
    expect(leaks).toEqual([]);
    // The logs did record the scenarios (so the scan looked at something).
    expect((await readFile(join(p.s.logDir, 'nginx-access.log'), 'utf8')).split('\n').length).toBeGreaterThan(
      40,
    );
    expect(await readFile(join(p.s.logDir, 'token-service.log'), 'utf8')).toContain('"path":"/token"');
  });

  it('a pg_dump of the database holds no token', async () => {
    // As the owner, as backups are made (the application role may not read the partitions directly).
    const dump = await runCommand('pg_dump', [p.s.db.ownerUrl]);
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stdout).toContain('CREATE TABLE public.tokens');
    for (const t of issued) expect(dump.stdout.includes(t), `token ${t.slice(0, 6)}… in pg_dump`).toBe(false);
  });
});
