import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeStudySource, type Harness, type Json, readJson, startHarness } from './harness.js';

// Issue 12: second factor, lockout per link, download limit, view-only, the link's own history.
const BIRTH = '1.2.826.0.1.3680043.8.498.12.1';
const PIN = '1.2.826.0.1.3680043.8.498.12.2';
const NO_BIRTH_DATE = '1.2.826.0.1.3680043.8.498.12.3';
const LIMITED = '1.2.826.0.1.3680043.8.498.12.4';
const VIEW_ONLY = '1.2.826.0.1.3680043.8.498.12.5';
const LOCKOUT = '1.2.826.0.1.3680043.8.498.12.6';
const FOREVER = '1.2.826.0.1.3680043.8.498.12.7';
const DEFAULTS = '1.2.826.0.1.3680043.8.498.12.8';

const secrets: string[] = [];
let h: Harness;
let source: FakeStudySource;

beforeAll(async () => {
  source = new FakeStudySource();
  for (const uid of [BIRTH, PIN, LIMITED, VIEW_ONLY, LOCKOUT, FOREVER, DEFAULTS])
    source.add({ studyInstanceUid: uid, patientBirthDate: '19800214', patientName: 'TRUST^PATIENT' });
  source.add({ studyInstanceUid: NO_BIRTH_DATE, patientBirthDate: '' });
  // A generous per-address limit: the lockout below must come from the per-link count.
  h = await startHarness(source, { invalidTokenLimit: { limit: 50, windowSeconds: 600 } });
});

afterAll(async () => {
  const all = h.logs.join('\n');
  expect(secrets.length).toBeGreaterThan(0);
  for (const s of secrets) expect(all).not.toContain(s);
  for (const birth of ['19800214', '1980-02-14']) expect(all).not.toContain(birth);
  await h.close();
});

async function issue(uid: string, body?: unknown): Promise<{ res: Response; json: Json }> {
  const res = await h.api('PUT', `/api/v1/studies/${uid}/token`, body);
  const json = await readJson(res);
  if (json.token) secrets.push(json.token);
  if (json.pin) secrets.push(json.pin);
  return { res, json };
}

const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };

function answer(
  token: string,
  field: string,
  value: string,
  ip = '198.51.100.7',
  extra: Record<string, string> = {},
) {
  return fetch(`${h.url}/token?${token}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...SAME_ORIGIN, 'x-real-ip': ip, ...extra },
    body: new URLSearchParams({ [field]: value }).toString(),
  });
}

function page(token: string, cookie?: string) {
  return fetch(`${h.url}/token?${token}`, { headers: cookie ? { cookie } : {} });
}

/** A grant as the zip route asks for one (purpose 'download'), unless `body` says otherwise. */
function grant(token: string, body: Record<string, unknown> = {}) {
  return fetch(`${h.internalUrl}/internal/v1/grants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-secret': h.internalSecret },
    body: JSON.stringify({ token, purpose: 'download', ...body }),
  });
}

function report(event: string, tokenId: number, studyInstanceUid: string, downloadId?: string) {
  return fetch(`${h.internalUrl}/internal/v1/access-events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-secret': h.internalSecret },
    body: JSON.stringify({
      event,
      tokenId,
      studyInstanceUid,
      bytes: 1000,
      clientIp: '192.0.2.99',
      ...(downloadId ? { detail: { downloadId } } : {}),
    }),
  });
}

async function events(event: string, uid: string): Promise<Json[]> {
  const res = await h.api('GET', `/api/v1/access-log?event=${event}&study=${uid}`);
  return (await readJson(res)).items;
}

/** `name=value` of the verification cookie a response sets, and its attributes. */
function verificationCookie(res: Response): { pair: string; attributes: string } {
  const header = res.headers.getSetCookie().find((c) => c.startsWith('studylink_verified=')) ?? '';
  const [pair = '', ...attributes] = header.split(';').map((s) => s.trim());
  return { pair, attributes: attributes.join('; ') };
}

describe('token API fields', () => {
  it('a PIN link echoes its settings and a 6-digit PIN; GET adds downloadsUsed; PIN shown is logged', async () => {
    const { res, json } = await issue(PIN, { verification: 'pin', maxDownloads: 3, allowDownload: true });
    expect(res.status).toBe(201);
    expect(json).toMatchObject({
      verification: 'pin',
      maxDownloads: 3,
      allowDownload: true,
      downloadsUsed: 0,
    });
    expect(json.pin).toMatch(/^[0-9]{6}$/);
    const got = await readJson(await h.api('GET', `/api/v1/studies/${PIN}/token`));
    expect(got).toMatchObject({
      verification: 'pin',
      pin: json.pin,
      maxDownloads: 3,
      downloadsUsed: 0,
      locked: false,
    });
    const shown = await events('pin_displayed', PIN);
    expect(shown.length).toBe(2);
    expect(JSON.stringify(shown)).not.toContain(json.pin);
    // The PIN is kept encrypted like the token.
    const dump = JSON.stringify((await h.database.pool.query('SELECT * FROM tokens')).rows);
    expect(dump).not.toContain(json.pin);
  });

  it('a view-only link and a plain one: no PIN field; defaults allowDownload true, no limit', async () => {
    const viewOnly = await issue(VIEW_ONLY, { allowDownload: false });
    expect(viewOnly.json).toMatchObject({ verification: 'none', allowDownload: false, maxDownloads: null });
    expect(viewOnly.json).not.toHaveProperty('pin');
  });

  it('asking for other settings than the active link has is a 409, not a silent mismatch', async () => {
    const res = await h.api('PUT', `/api/v1/studies/${PIN}/token`, { verification: 'none' });
    expect(res.status).toBe(409);
    expect((await readJson(res)).error.code).toBe('token_settings_conflict');
    // The same settings, or none given, return the link as it is.
    expect((await h.api('PUT', `/api/v1/studies/${PIN}/token`, { verification: 'pin' })).status).toBe(200);
  });

  it('birth date for a study without one is a 422 with its own code; bad values are 400', async () => {
    const res = await h.api('PUT', `/api/v1/studies/${NO_BIRTH_DATE}/token`, { verification: 'birth-date' });
    expect(res.status).toBe(422);
    expect((await readJson(res)).error.code).toBe('birth_date_missing');
    for (const body of [
      { verification: 'sms' },
      { maxDownloads: 0 },
      { maxDownloads: 1.5 },
      { allowDownload: 'no' },
    ]) {
      const bad = await h.api('PUT', `/api/v1/studies/${NO_BIRTH_DATE}/token`, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
  });

  it("the server setup's defaultVerification applies when the request names none", async () => {
    const put = await h.api('PUT', '/api/v1/server-config', {
      defaultVerification: 'pin',
      defaultLanguage: 'fr',
    });
    expect(put.status).toBe(200);
    expect(await readJson(put)).toMatchObject({ defaultVerification: 'pin', defaultLanguage: 'fr' });
    try {
      const { json } = await issue(DEFAULTS);
      expect(json.verification).toBe('pin');
      expect(json.pin).toMatch(/^[0-9]{6}$/);
      // The default language speaks on the form when the browser asks for none.
      const form = await (await page(json.token)).text();
      expect(form).toContain('<html lang="fr" dir="ltr">');
    } finally {
      await h.api('PUT', '/api/v1/server-config', { defaultVerification: 'none', defaultLanguage: 'en' });
    }
    expect((await h.api('PUT', '/api/v1/server-config', { defaultLanguage: 'xx' })).status).toBe(400);
  });

  it('the OpenAPI document lists the new fields, the 422 and the unlock route', async () => {
    const doc = await readJson(await fetch(`${h.url}/api/v1/openapi.json`));
    const path = doc.paths['/studies/{studyInstanceUid}/token'];
    const request = path.put.requestBody.content['application/json'].schema;
    expect(Object.keys(request.properties)).toEqual(
      expect.arrayContaining(['verification', 'maxDownloads', 'allowDownload']),
    );
    expect(request.properties.verification.enum).toEqual(['none', 'birth-date', 'pin']);
    const response = path.get.responses['200'].content['application/json'].schema;
    expect(Object.keys(response.properties)).toEqual(
      expect.arrayContaining([
        'verification',
        'pin',
        'maxDownloads',
        'allowDownload',
        'downloadsUsed',
        'locked',
      ]),
    );
    expect(path.put.responses).toHaveProperty('422');
    expect(doc.paths).toHaveProperty('/studies/{studyInstanceUid}/token/unlock');
    const config = doc.paths['/server-config'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(config.properties)).toEqual(
      expect.arrayContaining(['defaultVerification', 'defaultLanguage']),
    );
  });
});

describe('a birth-date link', () => {
  let token: string;
  beforeAll(async () => {
    token = (await issue(BIRTH, { verification: 'birth-date' })).json.token;
  });

  it('shows a short form and no study data', async () => {
    const res = await page(token);
    expect(res.status).toBe(200);
    // The page carries the token (its form posts back to it): a random token may hold "S1" or "2021".
    const html = (await res.text()).replaceAll(token, '');
    expect(html).toContain('name="birthYear"');
    for (const leak of ['TRUST', 'PATIENT', 'CT CHEST', '2021', 'S1', 'series', 'images', 'study.zip'])
      expect(html).not.toContain(leak);
  });

  it('a wrong date shows the form again with a plain message; the right one earns a cookie for this link', async () => {
    const wrong = await answer(token, 'birthDate', '1980-02-15');
    expect(wrong.status).toBe(200);
    const body = await wrong.text();
    expect(body).toContain('That did not match');
    expect(body).not.toContain('TRUST');
    expect(verificationCookie(wrong).pair).toBe('');

    const right = await answer(token, 'birthDate', '1980-02-14');
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe(`/token?${token}`);
    const { pair, attributes } = verificationCookie(right);
    expect(pair).toMatch(/^studylink_verified=v1\./);
    expect(attributes).toContain('HttpOnly');
    expect(attributes).toContain('SameSite=Strict');
    expect(attributes).toContain('Path=/token');
    expect(attributes).toMatch(/Max-Age=43200/);
    expect(attributes).not.toContain('Secure'); // plain http here; https adds it (see below)

    const shown = await (await page(token, pair)).text();
    expect(shown).toContain('TRUST, PATIENT');
    expect(shown).toContain('study.zip');
    // The grant for the zip takes the same cookie, and refuses without it.
    expect((await grant(token, { verificationCookie: pair.split('=')[1] })).status).toBe(200);
    const refused = await grant(token);
    expect(refused.status).toBe(403);
    expect((await readJson(refused)).error.code).toBe('verification_required');

    const outcomes = (await events('verification', BIRTH)).map((e) => e.outcome).sort();
    expect(outcomes).toEqual(['ok', 'wrong']);
  });

  it('an answer not written as a date is explained, logged, and not counted against the link', async () => {
    for (const typed of ['14/02/1980', '1980-02-30', '19800214', '']) {
      const res = await answer(token, 'birthDate', typed);
      expect(res.status, typed).toBe(400);
      expect(await res.text()).toContain('day, month and year in numbers');
    }
    const row = await h.database.pool.query(
      'SELECT failed_streak, failed_total FROM tokens WHERE study_instance_uid = $1',
      [BIRTH],
    );
    expect(row.rows[0]).toMatchObject({ failed_total: 1 }); // the one wrong date above, nothing more
    expect((await events('verification', BIRTH)).filter((e) => e.outcome === 'malformed').length).toBe(4);
  });

  it("the cookie does not open another study's link", async () => {
    const right = await answer(token, 'birthDate', '1980-02-14');
    const { pair } = verificationCookie(right);
    const pin = await issue(PIN);
    const other = await (await page(pin.json.token, pair)).text();
    expect(other).toContain('name="pin"');
    expect(other).not.toContain('TRUST');
    expect((await grant(pin.json.token, { verificationCookie: pair.split('=')[1] })).status).toBe(403);
    // A forged or truncated cookie opens nothing either.
    expect((await grant(token, { verificationCookie: `${pair.split('=')[1]}x` })).status).toBe(403);
  });

  it('over https the cookie is Secure', async () => {
    const res = await answer(token, 'birthDate', '1980-02-14', '198.51.100.7', {
      'x-forwarded-proto': 'https',
    });
    expect(verificationCookie(res).attributes).toContain('Secure');
  });

  it('a form posted from another site is refused, logged, and not counted against the link', async () => {
    const attempts = async () =>
      (await events('verification', BIRTH)).filter((e) => e.outcome !== 'cross_origin').length;
    const before = await attempts();
    const variants: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
    ];
    for (const headers of variants) {
      const res = await fetch(`${h.url}/token?${token}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: 'birthDate=1980-02-14',
      });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    expect(await attempts()).toBe(before);
    const refused = (await events('verification', BIRTH)).filter((e) => e.outcome === 'cross_origin');
    expect(refused.length).toBe(3);
    const status = await readJson(await h.api('GET', `/api/v1/studies/${BIRTH}/token`));
    expect(status.locked).toBe(false);
  });

  it("the page lists the link's last uses, not staff actions", async () => {
    const { pair } = verificationCookie(await answer(token, 'birthDate', '1980-02-14'));
    const html = await (await page(token, pair)).text();
    const history = html.slice(html.indexOf('class="history"'));
    expect(history).toContain('Uses of this link');
    expect(history).toContain('Page opened');
    expect(history).toContain('Birth date or PIN confirmed');
    expect(history).toContain('Wrong birth date or PIN entered');
    expect(history).toContain('198.51.100.7');
    expect((history.match(/<tr>/g) ?? []).length).toBeLessThanOrEqual(21);
    expect((await events('token_issued', BIRTH)).length).toBe(1);
    expect(history).not.toMatch(/issued|displayed/i);
  });
});

describe('lockout per link', () => {
  it('5 wrong PINs from 5 addresses lock the link for the right PIN too; staff unlock restores it', async () => {
    const { json } = await issue(LOCKOUT, { verification: 'pin' });
    const wrongPin = json.pin === '000000' ? '111111' : '000000';
    for (let i = 1; i <= 5; i++) {
      const res = await answer(json.token, 'pin', wrongPin, `203.0.113.${i}`);
      expect(res.status, `attempt ${i}`).toBe(i < 5 ? 200 : 429);
    }
    const locked = await answer(json.token, 'pin', json.pin, '203.0.113.77');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(await locked.text()).toContain('15 minutes');
    expect(verificationCookie(locked).pair).toBe('');
    const status = await readJson(await h.api('GET', `/api/v1/studies/${LOCKOUT}/token`));
    expect(status.locked).toBe(true);
    expect(status.lockedUntil).not.toBeNull();
    // The page of a locked link says so too (until someone verified).
    expect((await page(json.token)).status).toBe(429);
    expect((await events('verification', LOCKOUT)).map((e) => e.outcome)).toContain('locked');

    expect((await h.api('POST', `/api/v1/studies/${LOCKOUT}/token/unlock`)).status).toBe(204);
    const ok = await answer(json.token, 'pin', json.pin, '203.0.113.77');
    expect(ok.status).toBe(303);
    expect((await events('token_unlocked', LOCKOUT)).length).toBe(1);
  });

  it('a PIN whose key is gone is a 503 for the patient (not a wrong answer) and undisplayable for staff', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.12.11';
    source.add({ studyInstanceUid: uid });
    const { json } = await issue(uid, { verification: 'pin' });
    // As if encrypted under a key this service no longer has: version 1, an unknown key id.
    await h.database.pool.query(
      "UPDATE tokens SET pin_ciphertext = decode('01ffffffff' || repeat('00', 40), 'hex') WHERE study_instance_uid = $1",
      [uid],
    );
    const res = await answer(json.token, 'pin', json.pin);
    expect(res.status).toBe(503);
    const row = await h.database.pool.query('SELECT failed_total FROM tokens WHERE study_instance_uid = $1', [
      uid,
    ]);
    expect(row.rows[0].failed_total).toBe(0);
    const shown = await h.api('GET', `/api/v1/studies/${uid}/token`);
    expect(shown.status).toBe(409);
    expect((await readJson(shown)).error.code).toBe('token_not_displayable');
  });

  it('20 wrong answers lock the link until staff unlock it', async () => {
    const { json } = await issue(FOREVER, { verification: 'birth-date' });
    let last: Response | undefined;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++)
        last = await answer(json.token, 'birthDate', `1990-01-0${i + 1}`, `192.0.2.${round * 5 + i}`);
      // The short lock passes (made to pass here rather than waited for).
      if (round < 3)
        await h.database.pool.query("UPDATE tokens SET locked_until = now() - interval '1 second'");
    }
    expect(last?.status).toBe(429);
    const status = await readJson(await h.api('GET', `/api/v1/studies/${FOREVER}/token`));
    expect(status).toMatchObject({ locked: true, lockedUntil: null });
    await h.database.pool.query("UPDATE tokens SET locked_until = now() - interval '1 second'");
    const still = await answer(json.token, 'birthDate', '1980-02-14');
    expect(still.status).toBe(429);
    expect(await still.text()).toContain('unlocked');
    expect((await h.api('POST', `/api/v1/studies/${FOREVER}/token/unlock`)).status).toBe(204);
    expect((await answer(json.token, 'birthDate', '1980-02-14')).status).toBe(303);
  });

  it('wrong answers count toward the per-address guessing limit', async () => {
    const { json } = await issue(LOCKOUT);
    const rows = await h.database.pool.query(
      "SELECT attempts FROM invalid_token_attempts WHERE client_key = '203.0.113.1'",
    );
    expect(rows.rows[0]?.attempts).toBeGreaterThanOrEqual(1);
    expect(json.token).toBeTruthy();
  });
});

describe('download limit and view-only links', () => {
  it('maxDownloads 1: an aborted download leaves the allowance, a completed one uses it', async () => {
    const { json } = await issue(LIMITED, { maxDownloads: 1 });
    const first = await grant(json.token);
    expect(first.status).toBe(200);
    const g = await readJson(first);
    expect(g).toMatchObject({
      verified: true,
      allowDownload: true,
      downloadsRemaining: 1,
      verification: 'none',
    });
    expect((await report('download_aborted', g.tokenId, LIMITED)).status).toBe(204);
    expect((await grant(json.token)).status).toBe(200);
    expect((await report('download_complete', g.tokenId, LIMITED)).status).toBe(204);

    const refused = await grant(json.token);
    expect(refused.status).toBe(410);
    expect((await readJson(refused)).error.code).toBe('download_limit_reached');
    // The viewer still works, and is told the zip is not available.
    const view = await grant(json.token, { purpose: 'view' });
    // No purpose at all (a caller that predates it) is a view, not a download.
    expect((await grant(json.token, { purpose: undefined })).status).toBe(200);
    expect(view.status).toBe(200);
    expect(await readJson(view)).toMatchObject({ allowDownload: false, downloadsRemaining: 0 });
    const html = await (await page(json.token)).text();
    expect(html).toContain('used for all the downloads it allows');
    expect(html).toContain('contact the department');
    expect(html).not.toContain('study.zip');
    expect((await readJson(await h.api('GET', `/api/v1/studies/${LIMITED}/token`))).downloadsUsed).toBe(1);
    expect((await events('download_refused', LIMITED))[0]?.outcome).toBe('limit_reached');
  });

  it('downloads under way count too: two started at once cannot both pass maxDownloads 1', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.12.10';
    source.add({ studyInstanceUid: uid });
    const { json } = await issue(uid, { maxDownloads: 1 });
    const first = await grant(json.token, { reserve: true });
    expect(first.status).toBe(200);
    const { downloadId, tokenId } = await readJson(first);
    expect(downloadId).toMatch(/^[0-9a-f-]{36}$/);
    const second = await grant(json.token, { reserve: true });
    expect(second.status).toBe(410);
    expect((await readJson(second)).error.code).toBe('download_limit_reached');
    // A HEAD (no reservation) is not refused for it, nor is the viewer.
    expect((await grant(json.token)).status).toBe(200);

    // Streaming: the reservation lasts for hours; stopped: it ends at once.
    await report('download_started', tokenId, uid, downloadId);
    const lease = await h.database.pool.query('SELECT expires_at FROM download_leases WHERE id = $1', [
      downloadId,
    ]);
    expect(new Date(lease.rows[0].expires_at).getTime()).toBeGreaterThan(Date.now() + 3600_000);
    await report('download_aborted', tokenId, uid, downloadId);
    const again = await grant(json.token, { reserve: true });
    expect(again.status).toBe(200);

    // A reservation whose download never reports lapses by itself.
    await h.database.pool.query("UPDATE download_leases SET expires_at = now() - interval '1 second'");
    const third = await grant(json.token, { reserve: true });
    expect(third.status).toBe(200);
    const last = (await readJson(third)).downloadId;
    await report('download_complete', tokenId, uid, last);
    expect((await grant(json.token, { reserve: true })).status).toBe(410);
    expect((await readJson(await h.api('GET', `/api/v1/studies/${uid}/token`))).downloadsUsed).toBe(1);
    const leases = await h.database.pool.query(
      'SELECT count(*)::int AS n FROM download_leases WHERE id = $1',
      [last],
    );
    expect(leases.rows[0].n).toBe(0);
  });

  it('names from before issue 18 (an export service of the previous release, an old filter) read as the new ones', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.12.19';
    source.add({ studyInstanceUid: uid });
    const { json } = await issue(uid, { maxDownloads: 1 });
    const g = await readJson(await grant(json.token, { reserve: true }));
    expect((await report('download_start', g.tokenId, uid, g.downloadId)).status).toBe(204);
    expect((await grant(json.token, { reserve: true })).status).toBe(410);
    // The old abort still ends the reservation, and both are logged under the new names.
    expect((await report('download_abort', g.tokenId, uid, g.downloadId)).status).toBe(204);
    expect((await grant(json.token, { reserve: true })).status).toBe(200);
    expect((await events('download_started', uid)).map((e) => e.event)).toEqual(['download_started']);
    expect((await events('download_start', uid)).map((e) => e.event)).toEqual(['download_started']);
    expect((await events('download_abort', uid)).map((e) => e.event)).toEqual(['download_aborted']);
    const stored = await h.database.pool.query(
      "SELECT count(*)::int AS n FROM access_log WHERE event IN ('download_start', 'download_abort')",
    );
    expect(stored.rows[0].n).toBe(0);
    // A name that never was is still a 400.
    expect((await h.api('GET', `/api/v1/access-log?event=download_begin&study=${uid}`)).status).toBe(400);
    expect((await report('download_begin', g.tokenId, uid)).status).toBe(400);
  });

  it('a download reported twice (a retried delivery) counts once', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.12.9';
    source.add({ studyInstanceUid: uid });
    const { json } = await issue(uid, { maxDownloads: 2 });
    const g = await readJson(await grant(json.token));
    for (let i = 0; i < 2; i++)
      expect((await report('download_complete', g.tokenId, uid, 'dl-1')).status).toBe(204);
    expect((await readJson(await h.api('GET', `/api/v1/studies/${uid}/token`))).downloadsUsed).toBe(1);
    await report('download_complete', g.tokenId, uid, 'dl-2');
    expect((await readJson(await h.api('GET', `/api/v1/studies/${uid}/token`))).downloadsUsed).toBe(2);
    expect((await grant(json.token)).status).toBe(410);
  });

  it('a view-only link: the zip is refused (410), the page says why and has no download button', async () => {
    const { json } = await issue(VIEW_ONLY);
    const refused = await grant(json.token);
    expect(refused.status).toBe(410);
    expect((await readJson(refused)).error.code).toBe('download_not_allowed');
    expect((await grant(json.token, { purpose: 'view' })).status).toBe(200);
    const html = await (await page(json.token)).text();
    expect(html).toContain('for viewing only');
    expect(html).not.toContain('study.zip');
  });
});
