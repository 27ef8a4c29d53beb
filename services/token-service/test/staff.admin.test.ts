import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PASSWORD, type StaffClient, type StaffHarness, startStaffHarness } from './staff.harness.js';

let h: StaffHarness;
let admin: StaffClient;
let staff: StaffClient;
const createdKeys: string[] = [];

beforeAll(async () => {
  h = await startStaffHarness();
  ({ admin, staff } = await h.signedInPair());
});
afterAll(async () => {
  const all = h.logs.join('\n');
  for (const k of createdKeys) expect(all).not.toContain(k);
  await h.close();
});

const staffDb = () => h.database.db;
const lastEvent = (event: string) =>
  h.database.db
    .selectFrom('access_log')
    .selectAll()
    .where('event', '=', event)
    .orderBy('id', 'desc')
    .executeTakeFirst();

describe('roles', () => {
  it.each(['/staff/setup', '/staff/users', '/staff/api-keys', '/staff/users/1/password'])(
    'a staff user gets 403 on the admin page %s',
    async (path) => {
      const res = await staff.get(path);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.text).toContain('for administrators only');
      expect((await admin.get(path)).status).toBe(200);
    },
  );

  it('a staff user cannot POST to admin routes even with a valid CSRF token', async () => {
    const before = await h.database.db.selectFrom('server_config').selectAll().executeTakeFirstOrThrow();
    await staff.get('/staff/studies');
    const res = await staff.post('/staff/setup', {
      institution: 'Hijacked',
      publicAddress: '203.0.113.1',
      port: '80',
      zipContent: 'as-stored',
    });
    expect(res.status).toBe(403);
    expect(
      (await staff.post('/staff/users', { username: 'x1', role: 'admin', password: 'long enough pass' }))
        .status,
    ).toBe(403);
    expect((await staff.post('/staff/api-keys', { name: 'k', role: 'admin' })).status).toBe(403);
    expect(await h.database.db.selectFrom('server_config').selectAll().executeTakeFirstOrThrow()).toEqual(
      before,
    );
  });

  it('the menu shows admin pages to admins only', async () => {
    const s = await staff.get('/staff/studies');
    expect(s.text).toContain('href="/staff/access-log"');
    expect(s.text).not.toContain('href="/staff/setup"');
    const a = await admin.get('/staff/studies');
    for (const href of ['/staff/setup', '/staff/users', '/staff/api-keys'])
      expect(a.text).toContain(`href="${href}"`);
    expect(a.text).toContain('aria-current="page"');
  });
});

describe('users', () => {
  it('creates a user who can then sign in; the access log names the admin', async () => {
    await admin.get('/staff/users');
    const res = await admin.post('/staff/users', {
      username: 'Carol.M',
      role: 'staff',
      password: 'carols password 1',
    });
    expect(res.status).toBe(303);
    expect(res.location).toBe('/staff/users?done=user-created');
    const page = await admin.get(res.location as string);
    expect(page.text).toContain('The user was created.');
    expect(page.text).toContain('carol.m');
    const c = h.client();
    await c.signInOrThrow('carol.m', 'carols password 1');
    expect(await lastEvent('user_created')).toMatchObject({
      actor: 'staff:alice',
      detail: { username: 'carol.m', role: 'staff' },
    });
    const stored = await staffDb()
      .selectFrom('staff_users')
      .select('password_hash')
      .where('username', '=', 'carol.m')
      .executeTakeFirstOrThrow();
    expect(stored.password_hash).toMatch(/^scrypt\$\d+\$8\$1\$/);
    expect(stored.password_hash).not.toContain('carols password 1');
  });

  it.each([
    [
      { username: 'bad name!', role: 'staff', password: 'long enough pass' },
      'username',
      'use 1 to 64 letters',
    ],
    [{ username: 'shorty', role: 'staff', password: 'tiny pw' }, 'password', 'at least 12 characters'],
    [{ username: 'norole', role: 'root', password: 'long enough pass' }, 'role', 'choose a role'],
    [{ username: 'alice', role: 'staff', password: 'long enough pass' }, 'username', 'taken already'],
  ])('bad input %j re-renders the form with the error (4xx, never 500)', async (fields, field, message) => {
    await admin.get('/staff/users');
    const res = await admin.post('/staff/users', fields);
    expect([400, 409]).toContain(res.status);
    expect(res.text).toContain(message);
    expect(res.text).toContain(`id="f-${field}"`);
    expect(res.text).toMatch(new RegExp(`id="f-${field}"[^>]*aria-invalid="true"`));
    expect(res.text).not.toContain(`value="${fields.password}"`);
  });

  it('disabling a user ends their sessions and refuses sign-in; enabling restores it', async () => {
    await h.addUser('dora', 'staff');
    const d = h.client();
    await d.signInOrThrow('dora');
    const id = (
      await staffDb()
        .selectFrom('staff_users')
        .select('id')
        .where('username', '=', 'dora')
        .executeTakeFirstOrThrow()
    ).id;
    await admin.get('/staff/users');
    const res = await admin.post(`/staff/users/${id}/disable`);
    expect(res.status).toBe(303);
    expect((await d.get('/staff/studies')).status).toBe(303);
    const again = h.client();
    expect((await again.signIn('dora', DEFAULT_PASSWORD)).status).toBe(401);
    expect(await lastEvent('user_disabled')).toMatchObject({
      actor: 'staff:alice',
      detail: { username: 'dora' },
    });
    await admin.get('/staff/users');
    expect((await admin.post(`/staff/users/${id}/enable`)).status).toBe(303);
    await h.client().signInOrThrow('dora');
  });

  it('an admin cannot disable themselves', async () => {
    const id = (
      await staffDb()
        .selectFrom('staff_users')
        .select('id')
        .where('username', '=', 'alice')
        .executeTakeFirstOrThrow()
    ).id;
    await admin.get('/staff/users');
    const res = await admin.post(`/staff/users/${id}/disable`);
    expect(res.status).toBe(409);
    expect(res.text).toContain('cannot disable your own account');
    expect((await admin.get('/staff/studies')).status).toBe(200);
  });

  it('a password reset ends the user’s sessions, lifts a lockout and replaces the old password', async () => {
    await h.addUser('eric', 'staff');
    const e = h.client();
    await e.signInOrThrow('eric');
    const id = (
      await staffDb()
        .selectFrom('staff_users')
        .select('id')
        .where('username', '=', 'eric')
        .executeTakeFirstOrThrow()
    ).id;
    await staffDb()
      .updateTable('staff_users')
      .set({ locked_until: new Date(Date.now() + 600_000) })
      .where('id', '=', id)
      .execute();
    const form = await admin.get(`/staff/users/${id}/password`);
    expect(form.text).toContain('New password for eric');
    const short = await admin.post(`/staff/users/${id}/password`, { password: 'short' });
    expect(short.status).toBe(400);
    expect(short.text).toContain('at least 12 characters');
    const ok = await admin.post(`/staff/users/${id}/password`, { password: 'a brand new password' });
    expect(ok.status).toBe(303);
    expect((await e.get('/staff/studies')).status).toBe(303);
    expect((await h.client().signIn('eric', DEFAULT_PASSWORD)).status).toBe(401);
    await h.client().signInOrThrow('eric', 'a brand new password');
    expect(await lastEvent('user_password_reset')).toMatchObject({
      actor: 'staff:alice',
      detail: { username: 'eric' },
    });
  });

  it('unknown or malformed user ids are 404 / 400 pages, not 500', async () => {
    expect((await admin.get('/staff/users/999999/password')).status).toBe(404);
    expect((await admin.get('/staff/users/abc/password')).status).toBe(400);
    expect((await admin.get('/staff/no-such-page')).status).toBe(404);
  });
});

describe('API keys', () => {
  it('shows a new key once; it works on the API; the list keeps only its prefix', async () => {
    await admin.get('/staff/api-keys');
    const res = await admin.post('/staff/api-keys', { name: 'RIS <prod>', role: 'integrator' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const key = /id="new-key"[^>]*value="(slk_[A-Za-z0-9_-]+)"/.exec(res.text)?.[1] as string;
    expect(key).toBeTruthy();
    createdKeys.push(key);
    expect(res.text).toContain('RIS &lt;prod&gt;');
    expect(res.text).toContain('will not be shown again');
    // An integrator key works for links (no such study: 404, not 401/403), not for the setup.
    const api = await fetch(`${h.url}/api/v1/studies/1.2.3.999/token`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(api.status).toBe(404);
    const setup = await fetch(`${h.url}/api/v1/server-config`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(setup.status).toBe(403);
    const list = await admin.get('/staff/api-keys');
    expect(list.text).toMatch(/<td data-scopes="tokens">/);
    expect(list.text).not.toContain(key);
    expect(list.text).toContain(`${key.slice(0, 8)}…`);
    expect(await lastEvent('api_key_created')).toMatchObject({
      actor: 'staff:alice',
      detail: { name: 'RIS <prod>', role: 'integrator', scopes: ['tokens'] },
    });
    // Disable: the API refuses the key from the next request on.
    const row = await h.database.db
      .selectFrom('api_keys')
      .select('id')
      .where('name', '=', 'RIS <prod>')
      .executeTakeFirstOrThrow();
    expect((await admin.post(`/staff/api-keys/${row.id}/disable`)).status).toBe(303);
    const refused = await fetch(`${h.url}/api/v1/studies/1.2.3.999/token`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(refused.status).toBe(401);
    expect((await admin.get('/staff/api-keys?done=key-disabled')).text).toContain('by staff:alice');
    expect(await lastEvent('api_key_disabled')).toMatchObject({ actor: 'staff:alice' });
  });

  it('makes an audit key that reads the access log and the list shows its scopes', async () => {
    await admin.get('/staff/api-keys');
    const page = await admin.get('/staff/api-keys');
    expect(page.text).toContain('name="access"');
    const res = await admin.post('/staff/api-keys', { name: 'Auditor', access: 'audit' });
    expect(res.status).toBe(201);
    const key = /id="new-key"[^>]*value="(slk_[A-Za-z0-9_-]+)"/.exec(res.text)?.[1] as string;
    createdKeys.push(key);
    const auth = { authorization: `Bearer ${key}` };
    expect((await fetch(`${h.url}/api/v1/access-log`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${h.url}/api/v1/studies/1.2.3.999/token`, { headers: auth })).status).toBe(403);
    expect((await admin.get('/staff/api-keys')).text).toMatch(/<td data-scopes="audit">/);
    expect((await admin.post('/staff/api-keys', { name: 'Odd', access: 'root' })).status).toBe(400);
  });

  it('a nameless key is a 400 with the form re-rendered', async () => {
    await admin.get('/staff/api-keys');
    const res = await admin.post('/staff/api-keys', { name: '  ', role: 'integrator' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('give the key a name');
    expect((await admin.post('/staff/api-keys/424242/disable')).status).toBe(404);
  });
});
