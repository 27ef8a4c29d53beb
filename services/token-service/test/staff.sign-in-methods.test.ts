// Sign-in methods without a browser: the single sign-on's configuration, STAFF_LOCAL_SIGN_IN=false,
// the local lockout beside single sign-on, and the callback's refusals that need no provider.
// The flows through a real OpenID Provider in Chromium: e2e/staff-oidc.browser.test.ts.
import { ConfigError } from '@studylink/service-kit';
import { freePort } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { OidcSettings } from '../src/staff/session/oidc.client.js';
import { DEFAULT_PASSWORD, type StaffHarness, startStaffHarness } from './staff.harness.js';

const BASE_ENV = {
  DATABASE_URL: 'postgres://app@127.0.0.1/x',
  DICOMWEB_URL: 'http://127.0.0.1:8042/dicom-web',
  TOKEN_ENCRYPTION_KEY: 'a'.repeat(64),
  INTERNAL_SECRET: 'b'.repeat(32),
};
const OIDC_ENV = {
  STAFF_OIDC_ISSUER: 'https://login.example.org/realms/hospital',
  STAFF_OIDC_CLIENT_ID: 'studylink',
  STAFF_OIDC_CLIENT_SECRET: 'client secret value',
};

function configProblems(env: Record<string, string>): string {
  try {
    loadConfig({ ...BASE_ENV, ...env });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('configuration', () => {
  it('single sign-on from STAFF_OIDC_*; the secret is kept with the secrets; local sign-in on by default', () => {
    const c = loadConfig({ ...BASE_ENV, ...OIDC_ENV, STAFF_OIDC_ADMIN_GROUP: 'studylink-admins' });
    expect(c.staffSignIn).toEqual({
      local: true,
      oidc: {
        issuer: OIDC_ENV.STAFF_OIDC_ISSUER,
        clientId: 'studylink',
        adminGroup: 'studylink-admins',
        groupsClaim: 'groups',
        redirectUri: null,
        scopes: 'openid profile email',
      },
    });
    expect(JSON.stringify(c.staffSignIn)).not.toContain('client secret value');
    expect(c.secrets.staffOidcClientSecret).toBe('client secret value');
    expect(loadConfig(BASE_ENV).staffSignIn).toEqual({ local: true, oidc: null });
    // compose's `${X:-}`: empty is unset.
    expect(
      loadConfig({ ...BASE_ENV, STAFF_OIDC_ISSUER: '', STAFF_OIDC_CLIENT_ID: '', STAFF_LOCAL_SIGN_IN: '' })
        .staffSignIn,
    ).toEqual({ local: true, oidc: null });
    const keycloak = loadConfig({
      ...BASE_ENV,
      ...OIDC_ENV,
      STAFF_LOCAL_SIGN_IN: 'false',
      STAFF_OIDC_GROUPS_CLAIM: 'realm_access.roles',
      STAFF_OIDC_SCOPES: 'openid  profile groups',
      STAFF_OIDC_REDIRECT_URI: 'https://studylink.example.org/staff/sign-in/oidc/callback',
    });
    expect(keycloak.staffSignIn.local).toBe(false);
    expect(keycloak.staffSignIn.oidc).toMatchObject({
      groupsClaim: 'realm_access.roles',
      scopes: 'openid profile groups',
      redirectUri: 'https://studylink.example.org/staff/sign-in/oidc/callback',
    });
  });

  it('refuses half a provider, an http issuer off this machine, and no way to sign in at all', () => {
    expect(configProblems({ STAFF_OIDC_ISSUER: OIDC_ENV.STAFF_OIDC_ISSUER })).toContain('set all three');
    expect(configProblems({ ...OIDC_ENV, STAFF_OIDC_ISSUER: 'http://login.example.org/' })).toContain(
      'STAFF_OIDC_ISSUER',
    );
    expect(configProblems({ ...OIDC_ENV, STAFF_OIDC_ISSUER: 'http://127.0.0.1:8080/' })).toBe('');
    expect(configProblems({ ...OIDC_ENV, STAFF_OIDC_SCOPES: 'profile email' })).toContain('openid');
    expect(configProblems({ STAFF_LOCAL_SIGN_IN: 'false' })).toContain('nobody could sign in');
    expect(configProblems({ STAFF_LOCAL_SIGN_IN: 'maybe' })).toContain('STAFF_LOCAL_SIGN_IN');
    expect(() => loadConfig({ ...BASE_ENV, STAFF_LOCAL_SIGN_IN: 'false' })).toThrow(ConfigError);
  });
});

/** A provider that is not there: these tests never reach it, or show that it is down. */
async function absentProvider(): Promise<OidcSettings> {
  return {
    issuer: `http://127.0.0.1:${await freePort()}`,
    clientId: 'studylink',
    adminGroup: 'admins',
    groupsClaim: 'groups',
    redirectUri: null,
    scopes: 'openid',
  };
}

describe('STAFF_LOCAL_SIGN_IN=false', () => {
  let h: StaffHarness;
  beforeAll(async () => {
    h = await startStaffHarness({
      signInMethods: {
        local: false,
        oidc: { settings: await absentProvider(), clientSecret: 'x'.repeat(20) },
      },
    });
    await h.addUser('alice', 'admin');
  });
  afterAll(() => h?.close());

  it('the sign-in page has no password form, only single sign-on', async () => {
    const page = await h.client().get('/staff/sign-in?next=/staff/setup');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('type="password"');
    expect(page.text).not.toContain('action="/staff/sign-in"');
    expect(page.text).toContain('href="/staff/sign-in/oidc?next=%2Fstaff%2Fsetup"');
  });

  it('refuses a local password, the right one included, with a clear 403 and no session', async () => {
    const c = h.client();
    await c.get('/staff/sign-in');
    const res = await c.post('/staff/sign-in', { username: 'alice', password: DEFAULT_PASSWORD });
    expect(res.status).toBe(403);
    expect(res.text).toContain('Sign-in with a local password is switched off here');
    expect(res.setCookies.some((s) => s.startsWith('studylink_staff='))).toBe(false);
    expect((await c.get('/staff/studies')).status).toBe(303);
  });

  it('a session a local user already had ends at its next request', async () => {
    const alice = await h.database.db
      .selectFrom('staff_users')
      .select('id')
      .where('username', '=', 'alice')
      .executeTakeFirstOrThrow();
    const session = await h.staff.sessions.start(alice.id, { clientIp: '127.0.0.1', userAgent: 'test' });
    const c = h.client();
    c.cookies.set('studylink_staff', session.id);
    expect((await c.get('/staff/studies')).status).toBe(303);
  });

  it('the provider not answering is a 503 page, and the callback without a sign-in a 400', async () => {
    const c = h.client();
    const start = await c.get('/staff/sign-in/oidc');
    expect(start.status).toBe(503);
    expect(start.headers.get('retry-after')).toBe('30');
    expect(start.text).toContain('The identity provider is not answering');
    const callback = await c.get('/staff/sign-in/oidc/callback?code=abc&state=def');
    expect(callback.status).toBe(400);
    expect(callback.text).toContain('This sign-in was not started in this browser');
    c.cookies.set('studylink_staff_oidc', 'not-a-sign-in');
    expect((await c.get('/staff/sign-in/oidc/callback?code=abc&state=def')).status).toBe(400);
    const logs = h.logs.join('\n');
    expect(logs).not.toContain('code=abc');
  });
});

describe('local sign-in beside single sign-on', () => {
  let h: StaffHarness;
  beforeAll(async () => {
    h = await startStaffHarness({
      signInMethods: {
        local: true,
        oidc: { settings: await absentProvider(), clientSecret: 'x'.repeat(20) },
      },
    });
    await h.addUser('carol', 'staff');
  });
  afterAll(() => h?.close());

  it('the sign-in page has both', async () => {
    const page = await h.client().get('/staff/sign-in');
    expect(page.text).toContain('type="password"');
    expect(page.text).toContain('href="/staff/sign-in/oidc?next=%2Fstaff%2Fstudies"');
  });

  it('the lockout still holds: 5 failures lock the account, the right password included', async () => {
    const c = h.client({ clientIp: '198.51.100.30' });
    for (let i = 0; i < 5; i++) {
      await c.get('/staff/sign-in');
      expect(
        (await c.post('/staff/sign-in', { username: 'carol', password: `wrong-${i}-xxxx` })).status,
      ).toBe(401);
    }
    await c.get('/staff/sign-in');
    expect((await c.post('/staff/sign-in', { username: 'carol', password: DEFAULT_PASSWORD })).status).toBe(
      401,
    );
    const last = await h.database.db
      .selectFrom('access_log')
      .select(['event', 'outcome'])
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(last).toEqual({ event: 'staff_sign_in_failed', outcome: 'locked' });
  });

  it('a user of the provider has no local password: refused like an unknown name; no reset', async () => {
    const sso = await h.database.db
      .insertInto('staff_users')
      .values({
        username: 'erin',
        role: 'admin',
        password_hash: null,
        oidc_issuer: 'https://login.example.org',
        oidc_subject: 'erin-subject',
        created_by: 'oidc',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const c = h.client({ clientIp: '198.51.100.31' });
    await c.get('/staff/sign-in');
    expect((await c.post('/staff/sign-in', { username: 'erin', password: '' })).status).toBe(400);
    expect((await c.post('/staff/sign-in', { username: 'erin', password: 'anything at all' })).status).toBe(
      401,
    );
    await expect(
      h.staff.users.resetPassword(sso.id, 'a new password 1', { actor: 'test', clientIp: '', userAgent: '' }),
    ).rejects.toMatchObject({ status: 409, code: 'single_sign_on_user' });
    // The users page says so, and offers no password for them.
    await h.addUser('root', 'admin');
    const admin = h.client({ clientIp: '198.51.100.32' });
    await admin.signInOrThrow('root');
    const users = await admin.get('/staff/users');
    expect(users.text).toMatch(/<strong>erin<\/strong><span class="sub">single sign-on<\/span>/);
    expect(users.text).not.toContain(`/staff/users/${sso.id}/password`);
    const form = await admin.get(`/staff/users/${sso.id}/password`);
    expect(form.status).toBe(409);
    expect(form.text).toContain('their password is set there');
    // Signing out while the provider is down: our session ends; the provider's cannot be asked.
    const session = await h.staff.sessions.start(sso.id, { clientIp: '127.0.0.1', userAgent: 'test' });
    const erin = h.client();
    erin.cookies.set('studylink_staff', session.id);
    expect((await erin.get('/staff/studies')).status).toBe(200);
    const out = await erin.post('/staff/sign-out', { _csrf: session.csrfToken });
    expect(out.status).toBe(303);
    expect(out.location).toBe('/staff/sign-in?reason=signed-out');
    expect((await erin.get('/staff/studies')).status).toBe(303);
  });
});
