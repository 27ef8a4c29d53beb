import { LANGUAGES, languageName, type StaffMessageKey, staffTranslator } from '@studylink/i18n';
import { freePort } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { renderSignedInPage, renderSignedOutPage } from '../src/staff/session/sign-in.page.js';
import { renderStaffErrorPage } from '../src/staff/shared/staff.page-errors.js';
import {
  type PageResponse,
  type StaffClient,
  type StaffHarness,
  startStaffHarness,
} from './staff.harness.js';

// A pseudo-locale: every message the staff catalogue gives is wrapped in ⟦ ⟧. Any word a page shows
// outside the brackets did not come from the catalogue (or is data: names, UIDs, addresses).
vi.mock('../src/staff/shared/staff.i18n.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/staff/shared/staff.i18n.js')>();
  const en = staffTranslator('en');
  return {
    ...real,
    st: real.staffText({
      ...en,
      t: (key, values) => `⟦${en.t(key, values)}⟧`,
      date: (d, opts) => `⟦${en.date(d, opts)}⟧`,
    }),
  };
});

const JANE = '1.2.826.0.1.3680043.8.498.200';
const EMPTY = '1.2.826.0.1.3680043.8.498.201';

let h: StaffHarness;
let admin: StaffClient;
let staff: StaffClient;

/** What the test put into the store and the database: shown as it is, not translated. */
const DATA = [
  'DOE^JANE',
  'DOE, JANE',
  'JANE DOE',
  'DOE',
  'JANE',
  'P-200',
  'ACC200',
  'Chest CT',
  'CT CHEST',
  'CT',
  'MR',
  'alice',
  'bob',
  'carol',
  'PACS bridge',
  'admin (ADMIN_API_KEY)',
  'St. Example Hospital',
  'Radiology',
  'staff-test/1.0',
  'staff:alice',
  'staff:bob',
  // The actor the harness names when it makes users straight through the service.
  'test',
  ...LANGUAGES.map(languageName),
];

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' };
const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, e: string) => ENTITIES[e] ?? '');

/** The text a person reads on a page: element text, the attributes read aloud or shown, the script's texts. */
function readableText(page: string): string[] {
  const body = page
    // The handout's sheet is in the patient's language, from the patient catalogues (tested there).
    .replace(/<article class="handout[\s\S]*?<\/article>/g, ' ')
    .replace(/<svg[\s\S]*?<\/svg>/g, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    // <code> holds identifiers (an event code a release does not name yet), as UIDs are data.
    .replace(/<code>[a-z0-9_.-]*<\/code>/g, ' ');
  const texts: string[] = [];
  for (const m of body.matchAll(/\s(?:title|aria-label|placeholder|alt|data-done)="([^"]*)"/g)) {
    texts.push(decode(m[1] ?? ''));
  }
  for (const m of body.matchAll(/<input[^>]*type="(?:submit|button)"[^>]*value="([^"]*)"/g)) {
    texts.push(decode(m[1] ?? ''));
  }
  const script = /data-staff-text="([^"]*)"/.exec(body)?.[1];
  if (script) texts.push(...Object.values(JSON.parse(decode(script)) as Record<string, string>));
  texts.push(decode(body.replace(/<[^>]*>/g, ' ')));
  return texts;
}

/** The words left over once catalogue text and data are taken out: each one is hard-coded text. */
function untranslated(page: string): string[] {
  const left: string[] = [];
  for (let text of readableText(page)) {
    for (const d of [...DATA].sort((a, b) => b.length - a.length)) text = text.split(d).join(' ');
    text = text
      .replace(/\bhttps?:\/\/\S+/g, ' ')
      .replace(/\bslk_[A-Za-z0-9_-]+/g, ' ')
      .replace(/[A-Za-z0-9]{32,}/g, ' ');
    let before: string;
    do {
      before = text;
      text = text.replace(/⟦[^⟦⟧]*⟧/g, ' ');
    } while (text !== before);
    for (const m of text.matchAll(/[^\s]*[A-Za-z]{2,}[^\s]*|[⟦⟧]/g)) left.push(m[0]);
  }
  return left;
}

function expectAllFromCatalogue(what: string, res: PageResponse): void {
  expect(res.headers.get('content-type'), what).toContain('text/html');
  expect(untranslated(res.text).join(' '), what).toBe('');
}

beforeAll(async () => {
  h = await startStaffHarness();
  h.source.add({
    studyInstanceUid: JANE,
    patientName: 'DOE^JANE',
    patientId: 'P-200',
    studyDate: '20240105',
    modalities: ['CT'],
    accessionNumber: 'ACC200',
    description: 'Chest CT',
  });
  h.source.add({ studyInstanceUid: EMPTY, patientName: 'DOE^JANE', patientId: 'P-200', studyDate: '' });
  ({ admin, staff } = await h.signedInPair());
});
afterAll(async () => {
  await h?.close();
});

describe('the check itself', () => {
  it('finds hard-coded words, lets catalogue text and data through', () => {
    expect(untranslated('<p>⟦Sign in⟧ DOE^JANE 2024-01-05</p>')).toEqual([]);
    expect(untranslated('<p>⟦Signed in as <strong>alice</strong> (⟦staff⟧)⟧</p>')).toEqual([]);
    expect(untranslated('<p>⟦Link⟧ Copy link</p>')).toEqual(['Copy', 'link']);
    expect(untranslated('<button aria-label="Remove">⟦x⟧</button>')).toEqual(['Remove']);
    expect(untranslated('<body data-staff-text="{&quot;a&quot;:&quot;Copied&quot;}">')).toEqual(['Copied']);
    expect(untranslated('<p>⟦half</p>')).toEqual(['⟦half']);
  });
});

describe('every staff page takes its text from the staff catalogue', () => {
  it('signed out: sign-in, its notices and its errors', async () => {
    const c = h.client();
    expectAllFromCatalogue('sign-in', await c.get('/staff/sign-in'));
    expectAllFromCatalogue('sign-in expired', await c.get('/staff/sign-in?reason=expired'));
    expectAllFromCatalogue('signed out', await c.get('/staff/sign-in?reason=signed-out'));
    expectAllFromCatalogue('empty sign-in', await c.post('/staff/sign-in', { username: '', password: '' }));
    const wrong = await c.post('/staff/sign-in', { username: 'alice', password: 'wrong password!' });
    expect(wrong.status).toBe(401);
    expectAllFromCatalogue('wrong password', wrong);
    const forged = await h.client().post('/staff/sign-in', { _csrf: 'forged', username: 'a', password: 'b' });
    expect(forged.status).toBe(403);
    expectAllFromCatalogue('forged sign-in', forged);
  });

  it('studies: search, results, none found, bad input, store down', async () => {
    expectAllFromCatalogue('studies', await staff.get('/staff/studies'));
    expectAllFromCatalogue('results', await staff.get('/staff/studies?patientName=DOE'));
    expectAllFromCatalogue('no results', await staff.get('/staff/studies?patientName=NOBODY'));
    expectAllFromCatalogue('bad dates', await staff.get('/staff/studies?from=2024-13-45&to=x'));
    h.search.down = true;
    try {
      const down = await staff.get('/staff/studies?patientName=DOE');
      expect(down.status).toBe(503);
      expectAllFromCatalogue('store down', down);
    } finally {
      h.search.down = false;
    }
  });

  it('a study: no link, bad input, a PIN link, its PIN, handout chrome, confirmations, lock', async () => {
    const base = `/staff/studies/${JANE}`;
    expectAllFromCatalogue('no link', await staff.get(base));
    expectAllFromCatalogue('empty study', await staff.get(`/staff/studies/${EMPTY}`));
    const bad = await staff.post(`${base}/token`, {
      expires: '2001-01-01',
      maxDownloads: '0',
      verification: 'x',
    });
    expect(bad.status).toBe(400);
    expectAllFromCatalogue('bad link form', bad);
    const made = await staff.post(`${base}/token`, { never: '1', verification: 'pin', maxDownloads: '3' });
    expect(made.status).toBe(303);
    expectAllFromCatalogue('pin link', await staff.get(`${base}?done=issued`));
    expectAllFromCatalogue('pin shown', await staff.get(`${base}/pin`));
    expectAllFromCatalogue('handout', await staff.get(`${base}/handout?lang=ar&pin=1`));
    expectAllFromCatalogue('reissue', await staff.get(`${base}/reissue`));
    expectAllFromCatalogue('revoke', await staff.get(`${base}/revoke`));
    const badExpiry = await staff.post(`${base}/expiry`, { expires: '2001-01-01' });
    expect(badExpiry.status).toBe(400);
    expectAllFromCatalogue('bad expiry', badExpiry);
    // Locked by wrong answers: for 15 minutes, then until staff unlock it.
    const lock = (set: Record<string, unknown>) =>
      h.database.db
        .updateTable('tokens')
        .set(set as never)
        .where('study_instance_uid', '=', JANE)
        .where('revoked_at', 'is', null)
        .executeTakeFirstOrThrow();
    await lock({ locked_until: new Date(Date.now() + 900_000) });
    expectAllFromCatalogue('locked for a while', await staff.get(base));
    await lock({ locked_until: null, locked_at: new Date() });
    const locked = await staff.get(base);
    expect(locked.text).toContain('/unlock');
    expectAllFromCatalogue('locked', locked);
    expect((await staff.post(`${base}/revoke`, {})).status).toBe(303);
    expectAllFromCatalogue('revoked', await staff.get(`${base}?done=revoked`));
  });

  it('the access log, with filters and a bad filter', async () => {
    expectAllFromCatalogue('log', await staff.get('/staff/access-log'));
    expectAllFromCatalogue('log of a study', await staff.get(`/staff/access-log?study=${JANE}`));
    expectAllFromCatalogue('bad filter', await staff.get('/staff/access-log?from=yesterday'));
  });

  it('administration: setup, users, API keys, each with its errors and confirmations', async () => {
    expectAllFromCatalogue('setup', await admin.get('/staff/setup'));
    const badSetup = await admin.post('/staff/setup', {
      port: 'x',
      publicAddress: 'not an address',
      viewerUrl: 'ftp:',
    });
    expect(badSetup.status).toBe(400);
    expectAllFromCatalogue('bad setup', badSetup);
    expectAllFromCatalogue('users', await admin.get('/staff/users?done=user-created'));
    const badUser = await admin.post('/staff/users', {
      username: 'Not Valid!',
      role: 'x',
      password: 'short',
    });
    expect(badUser.status).toBe(400);
    expectAllFromCatalogue('bad user', badUser);
    const taken = await admin.post('/staff/users', {
      username: 'bob',
      role: 'staff',
      password: 'long enough password 1',
    });
    expectAllFromCatalogue('taken user', taken);
    const carol = await admin.post('/staff/users', {
      username: 'carol',
      role: 'staff',
      password: 'long enough password 1',
    });
    expect(carol.status).toBe(303);
    const id = (await h.database.db
      .selectFrom('staff_users' as never)
      .select('id' as never)
      .where('username' as never, '=', 'carol' as never)
      .executeTakeFirstOrThrow()) as { id: number };
    expectAllFromCatalogue('password form', await admin.get(`/staff/users/${id.id}/password`));
    expectAllFromCatalogue(
      'short password',
      await admin.post(`/staff/users/${id.id}/password`, { password: 'x' }),
    );
    expectAllFromCatalogue('api keys', await admin.get('/staff/api-keys'));
    expectAllFromCatalogue('bad key', await admin.post('/staff/api-keys', { name: '', access: 'x' }));
    const key = await admin.post('/staff/api-keys', { name: 'PACS bridge', access: 'issue' });
    expectAllFromCatalogue('new key', key);
    expectAllFromCatalogue('keys after', await admin.get('/staff/api-keys?done=key-disabled'));
    expectAllFromCatalogue('log with staff events', await admin.get('/staff/access-log'));
  });

  it('error pages: not found, not allowed, a forged form', async () => {
    expectAllFromCatalogue('404', await staff.get('/staff/nothing-here'));
    expectAllFromCatalogue('unknown study', await staff.get('/staff/studies/1.2.3.999'));
    expectAllFromCatalogue('bad uid', await staff.get('/staff/studies/not-a-uid'));
    const forbidden = await staff.get('/staff/setup');
    expect(forbidden.status).toBe(403);
    expectAllFromCatalogue('403', forbidden);
    const csrf = await staff.post(`/staff/studies/${JANE}/token`, { _csrf: 'forged', never: '1' });
    expect(csrf.status).toBe(403);
    expectAllFromCatalogue('csrf', csrf);
  });
});

describe('single sign-on pages take their text from the staff catalogue', () => {
  /** A provider that is not there: the pages that need none, and the one that says it is down. */
  const oidc = async () => ({
    settings: {
      issuer: `http://127.0.0.1:${await freePort()}`,
      clientId: 'studylink',
      adminGroup: 'studylink-admins',
      groupsClaim: 'groups',
      redirectUri: null,
      scopes: 'openid profile',
    },
    clientSecret: 'x'.repeat(24),
  });
  let both: StaffHarness;
  let ssoOnly: StaffHarness;
  beforeAll(async () => {
    // The provider's settings on the setup page are data, as the environment gives them.
    DATA.push('studylink-admins', 'studylink', 'openid profile', 'groups');
    [both, ssoOnly] = await Promise.all([
      startStaffHarness({ signInMethods: { local: true, oidc: await oidc() } }),
      startStaffHarness({ signInMethods: { local: false, oidc: await oidc() } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([both?.close(), ssoOnly?.close()]);
  });

  it('sign-in with both, single sign-on only, its refusals, the setup card, the onward pages', async () => {
    expectAllFromCatalogue('sign-in, both', await both.client().get('/staff/sign-in'));
    const only = ssoOnly.client();
    expectAllFromCatalogue('sign-in, sso only', await only.get('/staff/sign-in'));
    const refused = await only.post('/staff/sign-in', { username: 'a', password: 'b' });
    expect(refused.status).toBe(403);
    expectAllFromCatalogue('local sign-in off', refused);
    const down = await only.get('/staff/sign-in/oidc');
    expect(down.status).toBe(503);
    expectAllFromCatalogue('provider down', down);
    const unknown = await only.get('/staff/sign-in/oidc/callback?code=x&state=y');
    expect(unknown.status).toBe(400);
    expectAllFromCatalogue('callback without a sign-in', unknown);
    const { admin: alice } = await both.signedInPair();
    expectAllFromCatalogue('setup with sign-in', await alice.get('/staff/setup'));
    const page = (text: string) => ({
      status: 200,
      headers: new Headers({ 'content-type': 'text/html' }),
      text,
    });
    expectAllFromCatalogue('signed in, onward', page(renderSignedInPage('/staff/studies')) as PageResponse);
    expectAllFromCatalogue(
      'signed out, onward',
      page(renderSignedOutPage('https://idp.example/end')) as PageResponse,
    );
  });

  it('every refusal of the callback has its own text', async () => {
    for (const code of [
      'oidc_login_unknown',
      'oidc_state_mismatch',
      'oidc_replayed',
      'oidc_provider_error',
      'oidc_code_refused',
      'oidc_id_token_expired',
      'oidc_invalid_response',
      'oidc_user_disabled',
      'oidc_unavailable',
      'local_sign_in_off',
      'single_sign_on_user',
    ]) {
      const text = renderStaffErrorPage(code === 'oidc_unavailable' ? 503 : 400, code, null);
      expect(text, code).toContain(staffTranslator('en').t(`error.code.${code}` as StaffMessageKey));
    }
  });
});
