import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyService } from '../src/api-keys/api-key.service.js';
import { FakeStudySource, type Harness, readJson, startHarness } from './harness.js';

const UID = '1.2.826.0.1.3680043.8.498.1';
const OTHER = '1.2.826.0.1.3680043.8.498.2';
const issued: string[] = [];

let h: Harness;
let source: FakeStudySource;

beforeAll(async () => {
  source = new FakeStudySource();
  source.add({ studyInstanceUid: UID });
  source.add({
    studyInstanceUid: OTHER,
    patientName: '<script>alert(1)</script>',
    description: '"><img src=x onerror=alert(1)>',
  });
  h = await startHarness(source);
});

afterAll(async () => {
  // No log line of this file's requests holds any token it issued.
  const all = h.logs.join('\n');
  expect(issued.length).toBeGreaterThan(0);
  for (const t of issued) expect(all).not.toContain(t);
  expect(all).not.toContain(h.adminKey);
  await h.close();
});

async function issue(uid = UID, body?: unknown) {
  const res = await h.api('PUT', `/api/v1/studies/${uid}/token`, body);
  const json = await readJson(res);
  if (json.token) issued.push(json.token);
  return { res, json };
}

describe('token lifecycle through the API', () => {
  it('PUT makes a token (201), then returns the same one (200)', async () => {
    const first = await issue();
    expect(first.res.status).toBe(201);
    expect(first.res.headers.get('cache-control')).toBe('no-store');
    expect(first.json).toMatchObject({ studyInstanceUid: UID, expiresAt: null });
    expect(first.json.token).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(first.json.url).toBe(`http://203.0.113.10:3000/token?${first.json.token}`);
    const again = await issue();
    expect(again.res.status).toBe(200);
    expect(again.json.token).toBe(first.json.token);
    const got = await h.api('GET', `/api/v1/studies/${UID}/token`);
    expect(got.status).toBe(200);
    expect((await readJson(got)).token).toBe(first.json.token);
  });

  it('concurrent PUTs for one study agree on a single token', async () => {
    const uid = '1.2.3.4.5.6.7.8.9';
    source.add({ studyInstanceUid: uid });
    const results = await Promise.all(Array.from({ length: 8 }, () => issue(uid)));
    const tokens = new Set(results.map((r) => r.json.token));
    expect(tokens.size).toBe(1);
    expect(results.filter((r) => r.res.status === 201)).toHaveLength(1);
  });

  it('a UID the store does not know is a 404; a store that is down is a 503', async () => {
    const res = await h.api('PUT', '/api/v1/studies/1.2.3.999/token');
    expect(res.status).toBe(404);
    expect((await readJson(res)).error.code).toBe('study_not_found');
    source.add({ studyInstanceUid: '1.2.3.998' });
    source.down = true;
    try {
      const down = await h.api('PUT', '/api/v1/studies/1.2.3.998/token');
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBeTruthy();
      expect((await readJson(down)).error.code).toBe('store_unavailable');
    } finally {
      source.down = false;
    }
  });

  it('DELETE revokes at once; the page refuses the old token and the next PUT makes a new one', async () => {
    const { json } = await issue();
    const before = await fetch(`${h.url}/token?${json.token}`);
    expect(before.status).toBe(200);
    const del = await h.api('DELETE', `/api/v1/studies/${UID}/token`);
    expect(del.status).toBe(204);
    const after = await fetch(`${h.url}/token?${json.token}`);
    expect(after.status).toBe(404);
    const page = await after.text();
    expect(page).not.toContain('DOE');
    expect((await h.api('GET', `/api/v1/studies/${UID}/token`)).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/studies/${UID}/token`)).status).toBe(404);
    const next = await issue();
    expect(next.res.status).toBe(201);
    expect(next.json.token).not.toBe(json.token);
  });

  it('an expired token is refused by the page and replaced by the next PUT', async () => {
    const uid = '1.2.3.4.77';
    source.add({ studyInstanceUid: uid });
    const { json } = await issue(uid, { expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect(json.expiresAt).not.toBeNull();
    expect((await fetch(`${h.url}/token?${json.token}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await fetch(`${h.url}/token?${json.token}`)).status).toBe(404);
    const next = await issue(uid);
    expect(next.res.status).toBe(201);
  });
});

describe('the database holds no usable token', () => {
  it('stores only the SHA-256 and AES-GCM ciphertext', async () => {
    const { json } = await issue();
    const rows = await h.database.pool.query('SELECT * FROM tokens');
    const dump = JSON.stringify(
      rows.rows.map((r) => Object.values(r).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))),
    );
    expect(dump).not.toContain(json.token);
    expect(rows.rows.length).toBeGreaterThan(0);
  });
});

describe('patient page', () => {
  it('shows the study with the security headers', async () => {
    const { json } = await issue();
    const res = await fetch(`${h.url}/token?${json.token}`, {
      headers: { 'x-real-ip': '198.51.100.23', 'user-agent': 'test-agent' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-robots-tag')).toContain('noindex');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const page = await res.text();
    expect(page).toContain('DOE, JANE');
    expect(page).toContain('CT CHEST');
    expect(page).toContain('21 January 2021');
    expect(page).toContain('St. Example Hospital');
    expect(page).toContain('Radiology');
    expect(page).toContain('2 series, 20 images');
    expect(page).toContain('Zip file of the study');
    expect(page).toContain(`/token/study.zip?${json.token}`);
    expect(page).toContain('https://viewer.example.org/');
    // The peer is loopback (a trusted proxy), so nginx's X-Real-IP is believed.
    expect(page).toContain('198.51.100.23');
  });

  it('accepts tracking parameters a mail system appended, and links the download without them', async () => {
    const { json } = await issue();
    for (const tail of ['&utm_source=newsletter&utm_medium=email', '&fbclid=abc', '&']) {
      const res = await fetch(`${h.url}/token?${json.token}${tail}`);
      expect(res.status, tail).toBe(200);
      const page = await res.text();
      expect(page).toContain(`/token/study.zip?${json.token}"`);
      expect(page).not.toContain('utm_source');
    }
    // Anything else glued to the token is still no token.
    for (const bad of [`${json.token}x`, `x${json.token}`, `${json.token}%26utm=1`, `utm=1&${json.token}`]) {
      expect((await fetch(`${h.url}/token?${bad}`)).status, bad).toBe(404);
    }
  });

  it('HEAD answers like GET without a body', async () => {
    const { json } = await issue();
    const res = await fetch(`${h.url}/token?${json.token}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('');
  });

  it('escapes text from DICOM', async () => {
    const { json } = await issue(OTHER);
    const page = await (await fetch(`${h.url}/token?${json.token}`)).text();
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<img src=x');
  });

  it('shows the copy when the store is down', async () => {
    const { json } = await issue();
    source.down = true;
    try {
      await h.database.pool.query("UPDATE studies SET refreshed_at = now() - interval '1 hour'");
      const res = await fetch(`${h.url}/token?${json.token}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('DOE, JANE');
    } finally {
      source.down = false;
    }
  });

  it('a page never waits on the store: a stale copy is answered at once and refreshed once in the background', async () => {
    const { json } = await issue();
    await h.studies.idle();
    await h.database.pool.query(
      "UPDATE studies SET refreshed_at = now() - interval '1 hour', refresh_attempted_at = NULL",
    );
    let release = () => {};
    source.hold = new Promise<void>((r) => {
      release = r;
    });
    const before = source.calls;
    try {
      // The store does not answer while these 30 views run: each still gets the copy.
      const pages = await Promise.all(
        Array.from({ length: 30 }, () => fetch(`${h.url}/token?${json.token}`).then((r) => r.text())),
      );
      for (const page of pages) expect(page).toContain('DOE, JANE');
      expect(source.calls - before).toBe(1);
    } finally {
      source.hold = null;
      release();
    }
    await h.studies.idle();
    const { rows } = await h.database.pool.query(
      "SELECT refreshed_at > now() - interval '1 minute' AS fresh FROM studies WHERE study_instance_uid = $1",
      [UID],
    );
    expect(rows[0].fresh).toBe(true);
  });

  it('a failed background refresh is remembered: the store is not asked again within the interval', async () => {
    const { json } = await issue();
    await h.studies.idle();
    await h.database.pool.query(
      "UPDATE studies SET refreshed_at = now() - interval '1 hour', refresh_attempted_at = NULL",
    );
    source.down = true;
    const before = source.calls;
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${h.url}/token?${json.token}`);
        expect(res.status).toBe(200);
        expect(await res.text()).toContain('DOE, JANE');
        await h.studies.idle();
      }
      expect(source.calls - before).toBe(1);
      const { rows } = await h.database.pool.query(
        'SELECT refresh_failed_at IS NOT NULL AS failed, refresh_error FROM studies WHERE study_instance_uid = $1',
        [UID],
      );
      expect(rows[0]).toEqual({ failed: true, refresh_error: 'store down' });
    } finally {
      source.down = false;
    }
  });

  it('logs page views and invalid attempts without the token', async () => {
    const { json } = await issue();
    await fetch(`${h.url}/token?${json.token}`, { headers: { 'user-agent': 'agent-x' } });
    await fetch(`${h.url}/token?${'Z'.repeat(64)}`, { headers: { 'user-agent': 'agent-y' } });
    const res = await h.api('GET', '/api/v1/access-log?limit=500');
    const { items } = await readJson(res);
    const view = items.find(
      (i: { event: string; userAgent: string }) => i.event === 'page_view' && i.userAgent === 'agent-x',
    );
    expect(view).toMatchObject({ studyInstanceUid: UID, clientIp: '127.0.0.1', outcome: 'fetched' });
    expect(view.tokenId).toEqual(expect.any(Number));
    const invalid = items.find(
      (i: { event: string; userAgent: string }) => i.event === 'invalid_token' && i.userAgent === 'agent-y',
    );
    expect(invalid).toMatchObject({ studyInstanceUid: null, tokenId: null });
    expect(JSON.stringify(items)).not.toContain(json.token);
  });
});

describe('bad input gets a clear 4xx', () => {
  const badTokens = [
    ['63 characters', 'a'.repeat(63)],
    ['65 characters', 'a'.repeat(65)],
    ['NUL', `${'a'.repeat(63)}%00`],
    ['CRLF', `${'a'.repeat(60)}%0d%0aX`],
    ['10 kB', 'a'.repeat(10_000)],
    ['unicode', `${'a'.repeat(62)}%C3%A9`],
    ['two params', 'a&b'],
    ['empty', ''],
    ['named param', `t=${'a'.repeat(64)}`],
  ];
  it.each(badTokens)('token %s → 404 page, no token lookup', async (_name, q) => {
    const before = h.queries.length;
    const res = await fetch(`${h.url}/token?${q}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('not found or is no longer available');
    const ran = h.queries.slice(before);
    expect(ran.some((sql) => /from "tokens"/.test(sql))).toBe(false);
  });

  it.each([
    ['letters', 'abc'],
    ['trailing dot', '1.2.3.'],
    ['65 characters', `1.${'2'.repeat(63)}`],
    ['encoded slash', '1.2%2F3'],
    ['sql', "1.2'; DROP TABLE tokens;--"],
  ])('study UID %s → 400', async (_name, uid) => {
    const res = await h.api('PUT', `/api/v1/studies/${uid}/token`);
    expect(res.status).toBe(400);
    expect((await readJson(res)).error.code).toBe('invalid_request');
  });

  it.each([
    ['unknown field', { foo: 1 }],
    ['bad date', { expiresAt: 'tomorrow' }],
    ['both expiry forms', { expiresAt: new Date().toISOString(), expiresInDays: 3 }],
    ['negative days', { expiresInDays: -1 }],
    ['array', [1, 2]],
  ])('body %s → 400', async (_name, body) => {
    const res = await h.api('PUT', `/api/v1/studies/${UID}/token`, body);
    expect(res.status).toBe(400);
  });

  it('malformed JSON → 400', async () => {
    const res = await fetch(`${h.url}/api/v1/studies/${UID}/token`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${h.adminKey}`, 'content-type': 'application/json' },
      body: '{"expiresAt": ',
    });
    expect(res.status).toBe(400);
    expect((await readJson(res)).error).toBeDefined();
  });

  it.each([
    ['missing', null],
    ['wrong', 'slk_wrongwrongwrongwrongwrongwrongwrong'],
    ['short', 'x'],
  ])('%s API key → 401', async (_name, key) => {
    const res = await h.api('GET', `/api/v1/studies/${UID}/token`, undefined, key);
    expect(res.status).toBe(401);
    expect((await readJson(res)).error.code).toBe('unauthorized');
  });

  it('bad server-config updates → 400 and nothing changes', async () => {
    for (const body of [
      { port: 0 },
      { publicAddress: 'nope' },
      { zipContent: 'x' },
      { nope: 1 },
      { serverName: '', publicAddress: '' },
    ]) {
      const res = await h.api('PUT', '/api/v1/server-config', body);
      expect(res.status).toBe(400);
    }
    const cfg = await readJson(await h.api('GET', '/api/v1/server-config'));
    expect(cfg.port).toBe(3000);
    expect(cfg.publicAddress).toBe('203.0.113.10');
  });

  it('bad access-log queries → 400', async () => {
    for (const q of [
      'limit=0',
      'limit=abc',
      'event=nope',
      'from=yesterday',
      'study=x',
      'limit=1&limit=2',
      'zzz=1',
    ]) {
      expect((await h.api('GET', `/api/v1/access-log?${q}`)).status).toBe(400);
    }
  });

  it('unknown routes are 404, wrong methods 405', async () => {
    expect((await h.api('GET', '/api/v1/nope')).status).toBe(404);
    expect((await h.api('POST', `/api/v1/studies/${UID}/token`)).status).toBe(405);
  });
});

describe('server config', () => {
  it('changes the next link and round-trips through GET', async () => {
    const put = await h.api('PUT', '/api/v1/server-config', {
      serverName: 'images.example.org',
      ssl: true,
      port: 443,
    });
    expect(put.status).toBe(200);
    const { json } = await issue();
    expect(json.url).toBe(`https://images.example.org/token?${json.token}`);
    const back = await h.api('PUT', '/api/v1/server-config', {
      serverName: '',
      ssl: false,
      port: 3000,
      publicAddress: '2001:db8::5',
    });
    expect(back.status).toBe(200);
    const again = await issue();
    expect(again.json.url).toBe(`http://[2001:db8::5]:3000/token?${json.token}`);
    await h.api('PUT', '/api/v1/server-config', { publicAddress: '203.0.113.10' });
  });
});

describe('OpenAPI', () => {
  it('documents every route with schemas from the validators', async () => {
    const res = await fetch(`${h.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await readJson(res);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/studies/{studyInstanceUid}/token',
        '/server-config',
        '/access-log',
        '/openapi.json',
      ]),
    );
    const put = doc.paths['/studies/{studyInstanceUid}/token'].put;
    expect(put.responses['201'].content['application/json'].schema.properties.token).toBeDefined();
    expect(doc.paths['/studies/{studyInstanceUid}/token'].parameters[0].schema.pattern).toBe(
      '^[0-9]+(\\.[0-9]+)*$',
    );
  });
});

describe('access log is append-only', () => {
  it('refuses UPDATE, DELETE and TRUNCATE for the application role the service connects as', async () => {
    // Privileges refuse first (42501); the owner would meet the append-only trigger instead.
    await expect(h.database.pool.query("UPDATE access_log SET outcome = 'x'")).rejects.toThrow(
      /permission denied/,
    );
    await expect(h.database.pool.query('DELETE FROM access_log')).rejects.toThrow(/permission denied/);
    await expect(h.database.pool.query('TRUNCATE access_log')).rejects.toThrow(/permission denied/);
  });
});

describe('nothing unlogged', () => {
  it('token_issued is in the same transaction as the token: no log row, no token', async () => {
    const uid = '1.2.3.4.5.88';
    source.add({ studyInstanceUid: uid });
    const owner = new pg.Client({ connectionString: h.testDb.ownerUrl });
    await owner.connect();
    try {
      await owner.query(`CREATE FUNCTION fail_issued_log() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'log unavailable' USING ERRCODE = '57P03'; END $$`);
      await owner.query(
        `CREATE TRIGGER fail_issued_log BEFORE INSERT ON access_log FOR EACH ROW
           WHEN (NEW.event = 'token_issued' AND NEW.study_instance_uid = '${uid}') EXECUTE FUNCTION fail_issued_log()`,
      );
      const res = await h.api('PUT', `/api/v1/studies/${uid}/token`);
      expect(res.status).toBe(503);
      const tokens = await owner.query(
        'SELECT count(*)::int AS n FROM tokens WHERE study_instance_uid = $1',
        [uid],
      );
      expect(tokens.rows[0].n).toBe(0);
    } finally {
      await owner.query('DROP TRIGGER IF EXISTS fail_issued_log ON access_log');
      await owner.end();
    }
    expect((await issue(uid)).res.status).toBe(201);
  });

  it('retiring an expired token is logged as token_expired', async () => {
    const uid = '1.2.3.4.5.89';
    source.add({ studyInstanceUid: uid });
    const first = await issue(uid);
    await h.database.pool.query(
      "UPDATE tokens SET expires_at = now() - interval '1 minute' WHERE study_instance_uid = $1 AND revoked_at IS NULL",
      [uid],
    );
    const next = await issue(uid);
    expect(next.res.status).toBe(201);
    expect(next.json.token).not.toBe(first.json.token);
    const { items } = await readJson(
      await h.api('GET', `/api/v1/access-log?study=${uid}&event=token_expired`),
    );
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ event: 'token_expired', outcome: 'ok' });
    expect(items[0].actor).toMatch(/^api-key:/);
  });

  it('issuing uses the stored copy of a study when the store is down', async () => {
    const uid = '1.2.3.4.5.90';
    source.add({ studyInstanceUid: uid });
    await issue(uid);
    expect((await h.api('DELETE', `/api/v1/studies/${uid}/token`)).status).toBe(204);
    source.down = true;
    try {
      const again = await issue(uid);
      expect(again.res.status).toBe(201);
      // A study the store never described still needs the store.
      expect((await h.api('PUT', '/api/v1/studies/1.2.3.4.5.91/token')).status).toBe(503);
    } finally {
      source.down = false;
    }
  });
});

describe('API key scopes', () => {
  const keys = () => new ApiKeyService(h.database.db);
  const keyWith = async (...scopes: ('tokens' | 'audit' | 'admin')[]) =>
    (await keys().create(`scoped ${scopes.join('+')}`, scopes, 'test')).key;

  it('an integrator key (tokens) issues, reads and revokes links only', async () => {
    const key = await keyWith('tokens');
    const uid = '1.2.3.4.5.77';
    source.add({ studyInstanceUid: uid });
    const put = await h.api('PUT', `/api/v1/studies/${uid}/token`, undefined, key);
    expect(put.status).toBe(201);
    issued.push((await readJson(put)).token);
    expect((await h.api('GET', `/api/v1/studies/${uid}/token`, undefined, key)).status).toBe(200);
    expect((await h.api('DELETE', `/api/v1/studies/${uid}/token`, undefined, key)).status).toBe(204);
    for (const [method, path, body] of [
      ['GET', '/api/v1/access-log'],
      ['GET', '/api/v1/server-config'],
      ['PUT', '/api/v1/server-config', { institution: 'Taken Over' }],
    ] as const) {
      const res = await h.api(method, path, body, key);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await readJson(res)).error.message).toMatch(/scope (audit|admin)/);
    }
  });

  it('an audit key reads the log and the setup, and makes no link and no change', async () => {
    const key = await keyWith('audit');
    expect((await h.api('GET', '/api/v1/access-log', undefined, key)).status).toBe(200);
    expect((await h.api('GET', '/api/v1/server-config', undefined, key)).status).toBe(200);
    expect((await h.api('PUT', `/api/v1/studies/${UID}/token`, undefined, key)).status).toBe(403);
    expect((await h.api('GET', `/api/v1/studies/${UID}/token`, undefined, key)).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/studies/${UID}/token`, undefined, key)).status).toBe(403);
    expect((await h.api('PUT', '/api/v1/server-config', { institution: 'x' }, key)).status).toBe(403);
  });

  it('ADMIN_API_KEY is admin: everything', async () => {
    const [row] = (
      await h.database.pool.query("SELECT scopes, role FROM api_keys WHERE name = 'admin (ADMIN_API_KEY)'")
    ).rows;
    expect(row).toEqual({ scopes: ['admin'], role: 'admin' });
    expect((await h.api('GET', '/api/v1/access-log')).status).toBe(200);
  });

  it('the OpenAPI document names the scopes of every operation', async () => {
    const doc = await readJson(await fetch(`${h.url}/api/v1/openapi.json`));
    const ops = doc.paths as Record<string, Record<string, { 'x-required-scopes'?: string[] }>>;
    expect(ops['/studies/{studyInstanceUid}/token']?.put?.['x-required-scopes']).toEqual(['tokens', 'admin']);
    expect(ops['/access-log']?.get?.['x-required-scopes']).toEqual(['audit', 'admin']);
    expect(ops['/server-config']?.put?.['x-required-scopes']).toEqual(['admin']);
    expect(doc.info.description).toContain('`audit`');
  });

  it('records when a key was last used', async () => {
    const key = await keyWith('tokens');
    const before = (
      await h.database.pool.query(
        "SELECT last_used_at FROM api_keys WHERE name = 'scoped tokens' ORDER BY id DESC LIMIT 1",
      )
    ).rows[0];
    expect(before.last_used_at).toBeNull();
    await h.api('GET', `/api/v1/studies/${UID}/token`, undefined, key);
    const after = (
      await h.database.pool.query(
        "SELECT last_used_at FROM api_keys WHERE name = 'scoped tokens' ORDER BY id DESC LIMIT 1",
      )
    ).rows[0];
    expect(after.last_used_at).toBeInstanceOf(Date);
  });
});

describe('health', () => {
  it('livez and readyz answer', async () => {
    expect((await fetch(`${h.url}/livez`)).status).toBe(200);
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await readJson(ready)).toMatchObject({ checks: { database: 'ok' } });
  });
});

describe('API changes are in the access log', () => {
  it('records config_changed with the API key as actor', async () => {
    expect((await h.api('PUT', '/api/v1/server-config', { institution: 'Renamed Hospital' })).status).toBe(
      200,
    );
    const { items } = await readJson(await h.api('GET', '/api/v1/access-log?event=config_changed'));
    expect(items[0]).toMatchObject({
      event: 'config_changed',
      outcome: 'ok',
      detail: { fields: ['institution'] },
    });
    expect(items[0].actor).toMatch(/^api-key:\d+:/);
    await h.api('PUT', '/api/v1/server-config', { institution: 'St. Example Hospital' });
  });
});

describe('ADMIN_API_KEY bootstrap', () => {
  it('does not re-enable a key that staff disabled, and a new value replaces the old one', async () => {
    const keys = new ApiKeyService(h.database.db);
    const key = `slk_${'b'.repeat(40)}`;
    await keys.bootstrapAdminKey(key);
    expect(await keys.authenticate(key)).not.toBeNull();
    await h.database.pool.query("UPDATE api_keys SET disabled_at = now() WHERE key_prefix = 'slk_bbbb'");
    await keys.bootstrapAdminKey(key); // a restart with the same variable
    expect(await keys.authenticate(key)).toBeNull();
    const next = `slk_${'c'.repeat(40)}`;
    await keys.bootstrapAdminKey(next);
    expect(await keys.authenticate(next)).not.toBeNull();
    expect(await keys.authenticate(h.adminKey)).toBeNull();
    // Put the harness's own key back for whatever runs after this.
    await h.database.pool.query(
      "UPDATE api_keys SET disabled_at = NULL WHERE name = 'admin (ADMIN_API_KEY)' AND key_prefix = $1",
      [h.adminKey.slice(0, 8)],
    );
    expect(await keys.authenticate(h.adminKey)).not.toBeNull();
  });
});

describe('a token encrypted under a key that is gone', () => {
  it('answers 409 token_not_displayable, and revoke + PUT recovers', async () => {
    const uid = '1.2.3.4.5.409';
    source.add({ studyInstanceUid: uid });
    await issue(uid);
    // What a changed TOKEN_ENCRYPTION_KEY looks like to the service: a ciphertext it cannot open.
    await h.database.pool.query(
      "UPDATE tokens SET token_ciphertext = decode(repeat('00', 40), 'hex') WHERE study_instance_uid = $1 AND revoked_at IS NULL",
      [uid],
    );
    const get = await h.api('GET', `/api/v1/studies/${uid}/token`);
    expect(get.status).toBe(409);
    expect((await readJson(get)).error.code).toBe('token_not_displayable');
    expect((await h.api('PUT', `/api/v1/studies/${uid}/token`)).status).toBe(409);
    expect((await h.api('DELETE', `/api/v1/studies/${uid}/token`)).status).toBe(204);
    expect((await issue(uid)).res.status).toBe(201);
  });
});
