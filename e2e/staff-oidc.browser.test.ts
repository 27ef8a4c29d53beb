// Staff single sign-on in a real browser (Debian's Chromium through playwright-core) against a real
// OpenID Provider (oidc-provider) and the token service's real app on a private PostgreSQL database.
// The app is reached as staff.test (mapped to 127.0.0.1) so the provider is another site, as a
// hospital's is: the SameSite rules of the cookies are those of a real deployment.
import { createHash } from 'node:crypto';
import { freePort } from '@studylink/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcClient, type OidcSettings } from '../services/token-service/src/staff/session/oidc.client.js';
import { OidcCodeRefusedError } from '../services/token-service/src/staff/session/oidc.errors.js';
import { type StaffHarness, startStaffHarness } from '../services/token-service/test/staff.harness.js';
import { launchChromium, recordPageProblems, seriousAxeViolations } from './support/browser.js';
import { startTestProvider, type TestProvider } from './support/oidc-provider.js';

const ADMINS = 'studylink-admins';
const HOST = 'staff.test';
const SSO = 'Sign in with your organisation’s account';

let op: TestProvider;
let h: StaffHarness;
let browser: Browser;
let app: string;
let settings: OidcSettings;
/** Added to the single sign-on's clock (the ID token's expiry is checked against it). */
let skewMs = 0;

beforeAll(async () => {
  const [appPort, opPort] = [await freePort(), await freePort()];
  app = `http://${HOST}:${appPort}`;
  op = await startTestProvider({
    port: opPort,
    redirectUri: `${app}/staff/sign-in/oidc/callback`,
    postLogoutRedirectUri: `${app}/staff/sign-in`,
    idTokenTtl: 60,
  });
  op.accounts.set('carol', { username: 'carol', groups: [ADMINS, 'radiology'] });
  op.accounts.set('dave', { username: 'dave', groups: ['radiology'] });
  settings = {
    issuer: op.issuer,
    clientId: op.clientId,
    adminGroup: ADMINS,
    groupsClaim: 'groups',
    redirectUri: `${app}/staff/sign-in/oidc/callback`,
    scopes: 'openid profile',
  };
  [h, browser] = await Promise.all([
    startStaffHarness({
      port: appPort,
      signInMethods: { local: true, oidc: { settings, clientSecret: op.clientSecret } },
      now: () => Date.now() + skewMs,
    }),
    // Only the two test servers resolve; nothing else (the provider's page asks for a web font).
    launchChromium([`--host-resolver-rules=MAP ${HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`]),
  ]);
});

afterAll(async () => {
  await browser?.close();
  if (h) {
    // Never a code, a token or the client secret in a log line.
    const logs = h.logs.join('\n');
    expect(logs).not.toContain(op.clientSecret);
    expect(logs).not.toMatch(/code=|id_token|eyJ[A-Za-z0-9_-]{10,}/);
    await h.close();
  }
  await op?.close();
});

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  return context;
}

/** On the provider's pages: its login form if it asks (any password), its consent if it asks. */
async function atProvider(page: Page, login: string): Promise<void> {
  await page.waitForURL((u) => u.origin === op.issuer);
  if (await page.locator('input[name="login"]').isVisible()) {
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
  }
  const consent = page.getByRole('button', { name: 'Continue' });
  await page.waitForURL((u) => u.origin !== op.issuer || u.pathname.startsWith('/interaction/'));
  if (new URL(page.url()).origin === op.issuer && (await consent.isVisible())) await consent.click();
}

/** Signs in through the provider from the sign-in page; ends on the studies page. */
async function signInWithProvider(page: Page, login: string): Promise<void> {
  await page.goto(`${app}/staff/studies`);
  await page.waitForURL('**/staff/sign-in?**');
  await page.getByRole('link', { name: SSO }).click();
  await atProvider(page, login);
  await page.waitForURL(`${app}/staff/studies`);
}

async function userRow(username: string) {
  return h.database.db
    .selectFrom('staff_users')
    .selectAll()
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
}

async function signInEvents() {
  return h.database.db
    .selectFrom('access_log')
    .select(['event', 'outcome', 'actor', 'detail'])
    .where('event', 'in', ['staff_sign_in', 'staff_sign_in_failed'])
    .orderBy('id')
    .execute();
}

/**
 * Starts a sign-in and keeps the provider's answer from the app: returns the callback URL (code and
 * state) and the sign-in cookie the browser holds, unused.
 */
async function answerHeldBack(page: Page, login: string): Promise<{ callback: string; cookie: string }> {
  const held = op.holdBackNextAnswer();
  await page.goto(`${app}/staff/sign-in`);
  await page.getByRole('link', { name: SSO }).click();
  await atProvider(page, login);
  const callback = await held;
  expect(callback).toContain('code=');
  const cookie = (await page.context().cookies(`${app}/staff/sign-in/oidc/callback`)).find(
    (c) => c.name === 'studylink_staff_oidc',
  );
  if (!cookie) throw new Error('no sign-in cookie');
  return { callback, cookie: cookie.value };
}

/** The status of a GET of the app with the browser's cookies (303: not signed in, 403: not admin). */
async function statusIn(context: BrowserContext, path: string): Promise<number> {
  const cookies = (await context.cookies(`${app}${path}`)).map((c) => `${c.name}=${c.value}`).join('; ');
  const res = await fetch(`${h.url}${path}`, { headers: { cookie: cookies }, redirect: 'manual' });
  await res.body?.cancel();
  return res.status;
}

describe('staff single sign-on (OpenID Connect) in Chromium', () => {
  it('signs in through the provider; the admin group makes an administrator, others are staff', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const problems = recordPageProblems(page);
    await signInWithProvider(page, 'carol');
    await expect.poll(() => page.locator('.who').textContent()).toContain('carol');
    await page.goto(`${app}/staff/users`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    expect(await statusIn(page.context(), '/staff/users')).toBe(200);
    const carol = await userRow('carol');
    expect(carol).toMatchObject({ role: 'admin', oidc_issuer: op.issuer, oidc_subject: 'carol' });
    expect(carol.password_hash).toBeNull();
    // The flow the provider saw: discovery, authorization, token, userinfo (the groups claim).
    expect(op.paths).toEqual(
      expect.arrayContaining(['/.well-known/openid-configuration', '/auth', '/token', '/me']),
    );
    expect(problems.filter((p) => !p.includes('fonts.googleapis'))).toEqual([]);

    const other = await newContext();
    const davePage = await other.newPage();
    await signInWithProvider(davePage, 'dave');
    expect((await userRow('dave')).role).toBe('staff');
    expect(await statusIn(other, '/staff/users')).toBe(403);
    await Promise.all([context.close(), other.close()]);
  });

  it("a provider's user named like a local one gets a name of their own, never the local account", async () => {
    const local = await h.addUser('erin', 'admin');
    op.accounts.set('erin-at-idp', { username: 'Erin', groups: [] });
    const context = await newContext();
    const page = await context.newPage();
    await signInWithProvider(page, 'erin-at-idp');
    const linked = await h.database.db
      .selectFrom('staff_users')
      .selectAll()
      .where('oidc_subject', '=', 'erin-at-idp')
      .executeTakeFirstOrThrow();
    expect(linked.username).toMatch(/^erin-[0-9a-f]{8}$/);
    expect(linked.role).toBe('staff');
    expect(await page.locator('.who').textContent()).toContain(linked.username);
    const mine = await userRow(local.username);
    expect(mine).toMatchObject({ role: 'admin', oidc_subject: null });
    expect(mine.password_hash).not.toBeNull();
    await context.close();
  });

  it('the sign-in page offers single sign-on beside the local form, and is accessible', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${app}/staff/sign-in`);
    await page.getByRole('link', { name: SSO }).waitFor();
    await page.getByLabel('User name').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await context.close();
  });

  it('a user removed from the admin group is staff from the next sign-in on', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signInWithProvider(page, 'carol');
    expect((await userRow('carol')).role).toBe('admin');
    (op.accounts.get('carol') as { groups: string[] }).groups = ['radiology'];
    // A new sign-in (another browser; the provider's session may sign in without a form).
    const next = await newContext();
    const page2 = await next.newPage();
    await signInWithProvider(page2, 'carol');
    expect((await userRow('carol')).role).toBe('staff');
    expect(await statusIn(page2.context(), '/staff/users')).toBe(403);
    // The role is the user's: the older session lost admin as well.
    expect(await statusIn(page.context(), '/staff/users')).toBe(403);
    const last = (await signInEvents()).at(-1);
    expect(last).toMatchObject({
      event: 'staff_sign_in',
      actor: 'staff:carol',
      detail: { method: 'oidc', role: 'staff', previousRole: 'admin' },
    });
    (op.accounts.get('carol') as { groups: string[] }).groups = [ADMINS];
    await Promise.all([context.close(), next.close()]);
  });

  it('a forged state is refused with a clear page, and nobody is signed in', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const { callback } = await answerHeldBack(page, 'dave');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-by-an-attacker');
    const res = await page.goto(forged.toString());
    expect(res?.status()).toBe(400);
    await page.getByText('does not belong to the sign-in started in this browser').waitFor();
    // The real answer is no good either now: the sign-in was spent on the forgery.
    const again = await page.goto(callback);
    expect(again?.status()).toBe(400);
    expect(await statusIn(page.context(), '/staff/studies')).toBe(303);
    expect((await signInEvents()).at(-2)).toMatchObject({
      event: 'staff_sign_in_failed',
      outcome: 'oidc_state_mismatch',
    });
    await context.close();
  });

  it('a replayed code is refused: by the app, and by the provider', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const { callback, cookie } = await answerHeldBack(page, 'dave');
    await page.goto(callback);
    await page.waitForURL(`${app}/staff/studies`);
    // The same answer again, with the sign-in cookie put back: the app has used it.
    await context.clearCookies();
    await context.addCookies([
      { name: 'studylink_staff_oidc', value: cookie, url: `${app}/staff/sign-in/oidc/` },
    ]);
    const res = await page.goto(callback);
    expect(res?.status()).toBe(400);
    await page.getByText('was used already and cannot sign anyone in again').waitFor();
    expect(await statusIn(page.context(), '/staff/studies')).toBe(303);
    expect((await signInEvents()).at(-1)).toMatchObject({ outcome: 'oidc_replayed' });
    // The provider refuses the code too (were the app's record lost): the exchange, done again.
    const row = await h.database.db
      .selectFrom('staff_oidc_logins')
      .selectAll()
      .where('id_hash', '=', createHash('sha256').update(cookie).digest())
      .executeTakeFirstOrThrow();
    const client = new OidcClient(settings, op.clientSecret);
    const error = await client
      .exchange(row.redirect_uri, new URL(callback).searchParams, {
        state: row.state,
        nonce: row.nonce,
        codeVerifier: row.code_verifier,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OidcCodeRefusedError);
    expect((error as OidcCodeRefusedError).providerError).toBe('invalid_grant');
    await context.close();
  });

  it('an expired ID token is refused (the clock moved on by five minutes; the token lives one)', async () => {
    const context = await newContext();
    const page = await context.newPage();
    skewMs = 5 * 60_000;
    try {
      await page.goto(`${app}/staff/sign-in`);
      await page.getByRole('link', { name: SSO }).click();
      await atProvider(page, 'dave');
      await page.waitForURL((u) => u.pathname === '/staff/sign-in/oidc/callback');
      await page.getByText('answer had expired when it arrived').waitFor();
    } finally {
      skewMs = 0;
    }
    expect((await signInEvents()).at(-1)).toMatchObject({ outcome: 'oidc_id_token_expired' });
    expect(await statusIn(page.context(), '/staff/studies')).toBe(303);
    await context.close();
  });

  it('an error from the provider (the user cancelled) is a clear page', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${app}/staff/sign-in`);
    await page.getByRole('link', { name: SSO }).click();
    await page.waitForURL((u) => u.origin === op.issuer);
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    await page.waitForURL((u) => u.pathname === '/staff/sign-in/oidc/callback');
    await page.getByText('The identity provider did not sign you in').waitFor();
    expect((await signInEvents()).at(-1)).toMatchObject({
      outcome: 'oidc_provider_error',
      detail: { method: 'oidc', providerError: 'access_denied' },
    });
    await context.close();
  });

  it('sign-out ends the session here and at the provider (its end-session endpoint)', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signInWithProvider(page, 'dave');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.origin === op.issuer && u.pathname === '/session/end');
    expect(new URL(page.url()).searchParams.get('post_logout_redirect_uri')).toBe(`${app}/staff/sign-in`);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${app}/staff/sign-in`);
    expect(await statusIn(page.context(), '/staff/studies')).toBe(303);
    // The provider's session is over too: signing in again asks for the login.
    await page.getByRole('link', { name: SSO }).click();
    await page.waitForURL((u) => u.origin === op.issuer);
    await page.locator('input[name="login"]').waitFor();
    await context.close();
  });
});
