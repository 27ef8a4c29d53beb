import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadViewerAssets } from '../src/viewer/viewer.assets.js';
import { FakeStudySource, type Harness, readJson, startHarness } from './harness.js';

const UID = '1.2.826.0.1.3680043.8.498.11';
const issued: string[] = [];
let h: Harness;
let bare: Harness;

/** A viewer bundle as `make build` lays it out, with made-up contents. */
async function fakeBundle(): Promise<string> {
  const dist = await mkdtemp(join(tmpdir(), 'viewer-dist-'));
  await mkdir(join(dist, 'abc123xyz'));
  await writeFile(join(dist, 'abc123xyz', 'viewer.js'), 'console.log("viewer");\n');
  await writeFile(join(dist, 'abc123xyz', 'viewer-style.css'), 'body{}\n');
  await writeFile(join(dist, 'abc123xyz', 'openjpegwasm_decode.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
  await writeFile(join(dist, 'abc123xyz', 'notes.md'), 'not served\n');
  await writeFile(
    join(dist, 'manifest.json'),
    JSON.stringify({ hash: 'abc123xyz', script: 'viewer.js', style: 'viewer-style.css' }),
  );
  return dist;
}

beforeAll(async () => {
  const source = new FakeStudySource();
  source.add({ studyInstanceUid: UID, patientName: 'Πέτρου^Ελένη<b>', description: 'CT THORAX' });
  h = await startHarness(source, { viewerAssets: await loadViewerAssets(await fakeBundle()) });
  bare = await startHarness(source);
});

afterAll(async () => {
  const all = [...h.logs, ...bare.logs].join('\n');
  expect(issued.length).toBeGreaterThan(0);
  for (const t of issued) expect(all).not.toContain(t);
  await h?.close();
  await bare?.close();
});

async function issue(harness: Harness): Promise<string> {
  const json = await readJson(await harness.api('PUT', `/api/v1/studies/${UID}/token`));
  issued.push(json.token);
  return json.token as string;
}

async function events(harness: Harness, event: string): Promise<number> {
  const r = await harness.database.pool.query('SELECT count(*)::int AS n FROM access_log WHERE event = $1', [
    event,
  ]);
  return r.rows[0].n as number;
}

describe('GET /token/viewer?<token>', () => {
  it('is linked from the patient page as View images', async () => {
    const token = await issue(h);
    const html = await (await fetch(`${h.url}/token?${token}`)).text();
    expect(html).toContain(`<a class="button" href="/token/viewer?${token}">View images</a>`);
  });

  it('serves the viewer page with the patient headers and a CSP without unsafe-eval or inline script', async () => {
    const token = await issue(h);
    const res = await fetch(`${h.url}/token/viewer?${token}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-robots-tag')).toMatch(/noindex/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain("worker-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-eval;');
    expect(csp).not.toMatch(/'unsafe-eval'|'unsafe-inline'/);
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/assets/viewer/abc123xyz/viewer.js"></script>');
    expect(html).not.toMatch(/<script>|<script type="module">/);
    expect(html).toContain(`data-study="${UID}"`);
    // The patient's name is escaped; the token only in same-origin links back to the page and the zip.
    expect(html).toContain('Πέτρου, Ελένη&lt;b&gt;');
    expect(html.match(new RegExp(token, 'g'))?.length).toBe(3);
  });

  it('records one viewer_opened per opening, none for HEAD bodies beyond its own outcome', async () => {
    const token = await issue(h);
    const before = await events(h, 'viewer_opened');
    await fetch(`${h.url}/token/viewer?${token}`);
    await fetch(`${h.url}/token/viewer?${token}`, { method: 'HEAD' });
    expect(await events(h, 'viewer_opened')).toBe(before + 2);
    const r = await h.database.pool.query(
      "SELECT outcome FROM access_log WHERE event = 'viewer_opened' ORDER BY id DESC LIMIT 2",
    );
    expect(r.rows.map((x) => x.outcome).sort()).toEqual(['head', 'ok']);
  });

  it('refuses unknown, malformed and revoked tokens with the patient 404 page, logged as invalid', async () => {
    const page404 = await (await fetch(`${h.url}/token?${'A'.repeat(64)}`)).text();
    const token = await issue(h);
    expect((await h.api('DELETE', `/api/v1/studies/${UID}/token`)).status).toBe(204);
    const before = await events(h, 'invalid_token');
    for (const q of ['B'.repeat(64), 'short', '', token, `${token}&utm_source=x`]) {
      const res = await fetch(`${h.url}/token/viewer?${q}`);
      expect(res.status, q).toBe(404);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).toBe(page404);
    }
    expect(await events(h, 'invalid_token')).toBe(before + 5);
  });

  it('says the viewer is unavailable (503) where no bundle was built', async () => {
    const token = await issue(bare);
    const res = await fetch(`${bare.url}/token/viewer?${token}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('GET /assets/viewer/<hash>/<file>', () => {
  it('serves the bundle immutable, with its types, and nothing else', async () => {
    const js = await fetch(`${h.url}/assets/viewer/abc123xyz/viewer.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const wasm = await fetch(`${h.url}/assets/viewer/abc123xyz/openjpegwasm_decode.wasm`);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    for (const path of [
      '/assets/viewer/abc123xyz/notes.md',
      '/assets/viewer/other/viewer.js',
      '/assets/viewer/abc123xyz/..%2Fmanifest.json',
      '/assets/viewer/abc123xyz/missing.js',
    ]) {
      expect((await fetch(`${h.url}${path}`)).status, path).toBe(404);
    }
  });
});

describe('the viewer and link trust', () => {
  const PIN_UID = '1.2.826.0.1.3680043.8.498.12';

  it('a PIN link shows no viewer before its right answer: back to the form; with the cookie it opens', async () => {
    (h.source as FakeStudySource).add({
      studyInstanceUid: PIN_UID,
      patientName: 'Pin^Patient',
      description: 'MR KNEE',
    });
    const json = await readJson(
      await h.api('PUT', `/api/v1/studies/${PIN_UID}/token`, { verification: 'pin', allowDownload: false }),
    );
    const token = json.token as string;
    issued.push(token);
    const before = await fetch(`${h.url}/token/viewer?${token}`, { redirect: 'manual' });
    expect(before.status).toBe(303);
    expect(before.headers.get('location')).toBe(`/token?${token}`);
    expect(await before.text()).not.toContain('Pin');
    // The right PIN earns the cookie, which opens the viewer, without a zip link (view-only).
    const answer = await fetch(`${h.url}/token?${token}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ pin: json.pin as string }).toString(),
    });
    expect(answer.status).toBe(303);
    const cookie = (
      answer.headers.getSetCookie().find((c) => c.startsWith('studylink_verified=')) ?? ''
    ).split(';')[0] as string;
    expect(cookie).toMatch(/^studylink_verified=./);
    const viewer = await fetch(`${h.url}/token/viewer?${token}`, { headers: { cookie } });
    expect(viewer.status).toBe(200);
    const html = await viewer.text();
    expect(html).toContain('Pin');
    expect(html).not.toContain('/token/study.zip');
  });
});
