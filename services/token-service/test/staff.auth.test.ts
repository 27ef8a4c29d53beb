import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/staff/session/password.hasher.js';
import { StaffUserService } from '../src/staff/users/staff-user.service.js';
import { DEFAULT_PASSWORD, type StaffHarness, startStaffHarness } from './staff.harness.js';

let h: StaffHarness;

beforeAll(async () => {
  h = await startStaffHarness();
  await h.addUser('alice', 'admin');
  await h.addUser('bob', 'staff');
});
afterAll(async () => {
  // No password, session id or CSRF token in any log line.
  const all = h.logs.join('\n');
  expect(all).not.toContain(DEFAULT_PASSWORD);
  await h.close();
});

const staffDb = () => h.database.db;

async function events(event: string) {
  return h.database.db
    .selectFrom('access_log')
    .selectAll()
    .where('event', '=', event)
    .orderBy('id')
    .execute();
}

function cookieNamed(setCookies: string[], name: string): string | undefined {
  return setCookies.find((c) => c.startsWith(`${name}=`));
}

describe('signed out', () => {
  it('every staff page redirects to sign-in and comes back afterwards', async () => {
    const c = h.client();
    for (const path of [
      '/staff/studies',
      '/staff/setup',
      '/staff/users',
      '/staff/access-log',
      '/staff/studies/1.2.3',
    ]) {
      const res = await c.get(path);
      expect(res.status, path).toBe(303);
      expect(res.location).toBe(`/staff/sign-in?next=${encodeURIComponent(path)}`);
    }
    expect((await c.get('/staff')).location).toBe('/staff/studies');
    const signIn = await c.post('/staff/sign-in', {
      username: 'alice',
      password: DEFAULT_PASSWORD,
      next: '/staff/setup',
      _csrf: null,
    });
    expect(signIn.status).toBe(403); // no CSRF token yet
    await c.get('/staff/sign-in?next=%2Fstaff%2Fsetup');
    const ok = await c.post('/staff/sign-in', {
      username: 'alice',
      password: DEFAULT_PASSWORD,
      next: '/staff/setup',
    });
    expect(ok.status).toBe(303);
    expect(ok.location).toBe('/staff/setup');
  });

  it('a POST without a session goes to sign-in and changes nothing', async () => {
    const res = await h
      .client()
      .post('/staff/users', { username: 'mallory', role: 'admin', password: 'x'.repeat(20) });
    expect(res.status).toBe(303);
    expect(res.location).toMatch(/^\/staff\/sign-in/);
    const users = await staffDb().selectFrom('staff_users').select('username').execute();
    expect(users.map((u) => u.username)).not.toContain('mallory');
  });

  it('never redirects off-site after sign-in', async () => {
    for (const next of [
      'https://evil.example/',
      '//evil.example/staff',
      '/staff/..//evil',
      '/\\evil.example',
    ]) {
      const c = h.client();
      await c.get(`/staff/sign-in?next=${encodeURIComponent(next)}`);
      const res = await c.post('/staff/sign-in', { username: 'bob', password: DEFAULT_PASSWORD, next });
      expect(res.status).toBe(303);
      expect(res.location, next).toBe('/staff/studies');
    }
  });
});

describe('sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie on /staff, stored only as its hash', async () => {
    const c = h.client({ clientIp: '198.51.100.7' });
    const page = await c.get('/staff/sign-in');
    const pre = cookieNamed(page.setCookies, 'studylink_staff_pre');
    expect(pre).toMatch(/; Path=\/staff; HttpOnly; SameSite=Strict/);
    expect(pre).not.toMatch(/Secure/);
    const res = await c.post('/staff/sign-in', { username: 'alice', password: DEFAULT_PASSWORD });
    expect(res.status).toBe(303);
    expect(res.location).toBe('/staff/studies');
    const session = cookieNamed(res.setCookies, 'studylink_staff');
    expect(session).toMatch(/^studylink_staff=[A-Za-z0-9_-]{43}; Path=\/staff; HttpOnly; SameSite=Strict$/);
    const id = c.cookies.get('studylink_staff') as string;
    const rows = await staffDb().selectFrom('staff_sessions').select(['id_hash', 'csrf_token']).execute();
    expect(rows.some((r) => r.id_hash.equals(createHash('sha256').update(id).digest()))).toBe(true);
    const dump = JSON.stringify(rows.map((r) => [r.id_hash.toString('hex'), r.csrf_token]));
    expect(dump).not.toContain(id);
    const studies = await c.get('/staff/studies');
    expect(studies.status).toBe(200);
    expect(studies.text).toContain('Signed in as <strong>alice</strong>');
    const [logged] = (await events('staff_sign_in')).filter((e) => e.client_ip === '198.51.100.7');
    expect(logged).toMatchObject({ actor: 'staff:alice', outcome: 'ok', user_agent: 'staff-test/1.0' });
  });

  it('marks cookies Secure when the proxy says the browser used https', async () => {
    const c = h.client({ https: true });
    const page = await c.get('/staff/sign-in');
    expect(cookieNamed(page.setCookies, 'studylink_staff_pre')).toMatch(/; Secure$/);
    const res = await c.post('/staff/sign-in', { username: 'alice', password: DEFAULT_PASSWORD });
    expect(cookieNamed(res.setCookies, 'studylink_staff')).toMatch(/HttpOnly; SameSite=Strict; Secure$/);
  });

  it('a wrong password or unknown user re-renders the form with one message (401), no session', async () => {
    for (const [username, outcome] of [
      ['alice', 'bad_password'],
      ['nobody', 'unknown_user'],
    ] as const) {
      const c = h.client({ clientIp: '198.51.100.8' });
      await c.get('/staff/sign-in');
      const res = await c.post('/staff/sign-in', { username, password: 'wrong password 123' });
      expect(res.status).toBe(401);
      expect(res.text).toContain('role="alert"');
      expect(res.text).toContain('The user name or password is wrong');
      expect(res.text).toContain(`value="${username}"`);
      expect(res.text).not.toContain('wrong password 123');
      expect(c.cookies.has('studylink_staff')).toBe(false);
      const last = (await events('staff_sign_in_failed')).at(-1);
      expect(last).toMatchObject({ outcome, client_ip: '198.51.100.8' });
    }
  });

  it('empty fields are a 400 with the form re-rendered and the errors shown', async () => {
    const c = h.client();
    await c.get('/staff/sign-in');
    const res = await c.post('/staff/sign-in', { username: '', password: '' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('enter your user name');
    expect(res.text).toContain('aria-invalid="true"');
  });

  it('refuses a sign-in form without its CSRF token, or with another browser’s', async () => {
    const victim = h.client();
    await victim.get('/staff/sign-in');
    const attacker = h.client();
    await attacker.get('/staff/sign-in');
    const forged = await victim.post('/staff/sign-in', {
      username: 'bob',
      password: DEFAULT_PASSWORD,
      _csrf: attacker.csrf,
    });
    expect(forged.status).toBe(403);
    expect(forged.text).toContain('The sign-in form had expired or came from another site');
    expect(forged.text).toContain('action="/staff/sign-in"');
    expect(
      (await victim.post('/staff/sign-in', { username: 'bob', password: DEFAULT_PASSWORD, _csrf: 'x' }))
        .status,
    ).toBe(403);
    expect(victim.cookies.has('studylink_staff')).toBe(false);
  });

  it('gives a new session id on every sign-in (a planted id is worthless)', async () => {
    const planted = 'A'.repeat(43);
    const c = h.client();
    c.cookies.set('studylink_staff', planted);
    await c.signInOrThrow('bob');
    const first = c.cookies.get('studylink_staff') as string;
    expect(first).not.toBe(planted);
    const again = h.client();
    await again.signInOrThrow('bob');
    expect(again.cookies.get('studylink_staff')).not.toBe(first);
    const rows = await staffDb().selectFrom('staff_sessions').select('id_hash').execute();
    const plantedHash = createHash('sha256').update(planted).digest();
    expect(rows.some((r) => r.id_hash.equals(plantedHash))).toBe(false);
  });
});

describe('lockout and throttling', () => {
  it('locks an account for 15 minutes after 5 failures, the right password included', async () => {
    await h.addUser('carol', 'staff');
    const c = h.client({ clientIp: '198.51.100.20' });
    for (let i = 0; i < 5; i++) {
      await c.get('/staff/sign-in');
      expect(
        (await c.post('/staff/sign-in', { username: 'carol', password: `wrong-${i}-xxxxxxxx` })).status,
      ).toBe(401);
    }
    const user = await staffDb()
      .selectFrom('staff_users')
      .selectAll()
      .where('username', '=', 'carol')
      .executeTakeFirstOrThrow();
    expect(user.locked_until).not.toBeNull();
    const minutes = ((user.locked_until as Date).getTime() - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(14);
    expect(minutes).toBeLessThanOrEqual(15);
    await c.get('/staff/sign-in');
    const locked = await c.post('/staff/sign-in', { username: 'carol', password: DEFAULT_PASSWORD });
    expect(locked.status).toBe(401);
    expect((await events('staff_sign_in_failed')).at(-1)).toMatchObject({
      outcome: 'locked',
      actor: 'staff:carol',
    });
    // Once the lock has run out, the right password works and the count starts afresh.
    await staffDb()
      .updateTable('staff_users')
      .set({ locked_until: sql<Date>`now() - interval '1 second'` })
      .where('username', '=', 'carol')
      .execute();
    await c.signInOrThrow('carol');
    const after = await staffDb()
      .selectFrom('staff_users')
      .selectAll()
      .where('username', '=', 'carol')
      .executeTakeFirstOrThrow();
    expect(after).toMatchObject({ failed_attempts: 0, locked_until: null });
  });

  it('a burst of parallel guesses gets at most 5 password checks', async () => {
    await h.addUser('dave', 'staff');
    const clients = Array.from({ length: 12 }, () => h.client({ clientIp: '198.51.100.21' }));
    await Promise.all(clients.map((c) => c.get('/staff/sign-in')));
    const before = (await events('staff_sign_in_failed')).length;
    const results = await Promise.all(
      clients.map((c, i) => c.post('/staff/sign-in', { username: 'dave', password: `guess-${i}-xxxxxxx` })),
    );
    expect(results.every((r) => r.status === 401)).toBe(true);
    const logged = (await events('staff_sign_in_failed')).slice(before);
    expect(logged.filter((e) => e.outcome === 'bad_password').length).toBeLessThanOrEqual(5);
    expect(logged.filter((e) => e.outcome === 'locked').length).toBeGreaterThanOrEqual(7);
  });

  it('throttles an address after 20 failures (429, Retry-After); other addresses are unaffected', async () => {
    const noisy = h.client({ clientIp: '203.0.113.66' });
    await noisy.get('/staff/sign-in');
    for (let i = 0; i < 20; i++) {
      const r = await noisy.post('/staff/sign-in', { username: `ghost${i}`, password: 'not the password 1' });
      expect(r.status).toBe(401);
    }
    const refused = await noisy.post('/staff/sign-in', { username: 'bob', password: DEFAULT_PASSWORD });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('900');
    expect(refused.text).toContain('Too many failed sign-ins');
    expect(noisy.cookies.has('studylink_staff')).toBe(false);
    expect((await events('staff_sign_in_failed')).at(-1)).toMatchObject({
      outcome: 'throttled',
      client_ip: '203.0.113.66',
    });
    // A flood from the throttled address adds no row: one per address and window.
    const refusals = await Promise.all(
      Array.from({ length: 30 }, () =>
        noisy.post('/staff/sign-in', { username: 'bob', password: 'x'.repeat(12) }),
      ),
    );
    expect(refusals.every((r) => r.status === 429)).toBe(true);
    const throttledRows = (await events('staff_sign_in_failed')).filter(
      (e) => e.outcome === 'throttled' && e.client_ip === '203.0.113.66',
    );
    expect(throttledRows).toHaveLength(1);
    await h.client({ clientIp: '203.0.113.67' }).signInOrThrow('bob');
  });

  it('the throttle counts from the partial index, bounded, without the rows of refusals', async () => {
    const owner = new pg.Client({ connectionString: h.testDb.ownerUrl });
    await owner.connect();
    try {
      // A large log of refusals for one address, as a long flood would have left without the fix.
      await owner.query(
        `INSERT INTO access_log (event, outcome, client_ip)
         SELECT 'staff_sign_in_failed', 'throttled', '203.0.113.99' FROM generate_series(1, 5000)`,
      );
      await owner.query('ANALYZE access_log');
      h.queries.length = 0;
      const c = h.client({ clientIp: '203.0.113.99' });
      await c.get('/staff/sign-in');
      expect(
        (await c.post('/staff/sign-in', { username: 'ghost', password: 'not the password 1' })).status,
      ).toBe(401);
      const count = h.queries.find((q) => q.includes("outcome <> 'throttled'")) as string;
      expect(count).toContain('LIMIT');
      const plan = await owner.query(
        `EXPLAIN (FORMAT JSON) ${count.replace(/\$1/, "'203.0.113.99'").replace(/\$2/, '15').replace(/\$3/, '20')}`,
      );
      const indexes = (
        await owner.query<{ name: string }>(
          "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'access_log_sign_in_failures_idx'::regclass",
        )
      ).rows.map((r) => r.name);
      const used = JSON.stringify(plan.rows[0]);
      expect(
        indexes.some((name) => used.includes(`"${name}"`)),
        used,
      ).toBe(true);
    } finally {
      await owner.end();
    }
  });

  it('throttles an IPv6 client by its /64, as the token limit does: rotating addresses in it does not help', async () => {
    for (let i = 0; i < 20; i++) {
      const c = h.client({ clientIp: `2001:db8:77:1::${(i + 1).toString(16)}` });
      await c.get('/staff/sign-in');
      const r = await c.post('/staff/sign-in', { username: `ghost6-${i}`, password: 'not the password 1' });
      expect(r.status).toBe(401);
    }
    const rotated = h.client({ clientIp: '2001:db8:77:1:ffff:ffff:ffff:fffe' });
    await rotated.get('/staff/sign-in');
    expect(
      (await rotated.post('/staff/sign-in', { username: 'bob', password: DEFAULT_PASSWORD })).status,
    ).toBe(429);
    // The next /64 is someone else.
    await h.client({ clientIp: '2001:db8:77:2::1' }).signInOrThrow('bob');
  });
});

describe('the work behind each refusal', () => {
  it('a locked account, an unknown user, a throttled address and a wrong password each cost one password check', async () => {
    const calls: string[] = [];
    const counting = async (password: string, hash: string) => {
      calls.push(password);
      return verifyPassword(password, hash);
    };
    const users = new StaffUserService(
      h.database.db,
      { maxFailures: 2, lockMinutes: 15, maxFailuresPerIp: 6, ipWindowMinutes: 15 },
      { log2N: 12, r: 8, p: 1 },
      counting,
    );
    await h.addUser('erin', 'staff');
    const who = (ip: string) => ({ clientIp: ip, userAgent: 'test' });
    const attempt = async (username: string, password: string, ip: string) => {
      calls.length = 0;
      const r = await users.signIn(username, password, who(ip));
      return { reason: r.ok ? 'ok' : r.reason, checks: calls.length };
    };
    expect(await attempt('erin', 'wrong password 1', '198.51.100.1')).toEqual({
      reason: 'bad_password',
      checks: 1,
    });
    expect(await attempt('erin', 'wrong password 2', '198.51.100.1')).toEqual({
      reason: 'bad_password',
      checks: 1,
    });
    expect(await attempt('erin', DEFAULT_PASSWORD, '198.51.100.2')).toEqual({ reason: 'locked', checks: 1 });
    expect(await attempt('nobody-here', 'whatever 12345', '198.51.100.3')).toEqual({
      reason: 'unknown_user',
      checks: 1,
    });
    for (let i = 0; i < 6; i++) await attempt(`ghost-w${i}`, 'whatever 12345', '198.51.100.9');
    expect(await attempt('erin', DEFAULT_PASSWORD, '198.51.100.9')).toEqual({
      reason: 'throttled',
      checks: 1,
    });
  });
});

describe('sessions', () => {
  it('ends after the absolute expiry', async () => {
    const c = h.client();
    await c.signInOrThrow('bob');
    const hash = createHash('sha256')
      .update(c.cookies.get('studylink_staff') as string)
      .digest();
    await staffDb()
      .updateTable('staff_sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id_hash', '=', hash)
      .execute();
    const res = await c.get('/staff/studies');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/staff/sign-in?next=%2Fstaff%2Fstudies&reason=expired');
    expect((await c.get(res.location as string)).text).toContain('Your session has ended');
    const left = await staffDb()
      .selectFrom('staff_sessions')
      .select('id_hash')
      .where('id_hash', '=', hash)
      .execute();
    expect(left).toHaveLength(0);
  });

  it('ends after the idle timeout, and activity keeps it alive', async () => {
    const c = h.client();
    await c.signInOrThrow('bob');
    const hash = createHash('sha256')
      .update(c.cookies.get('studylink_staff') as string)
      .digest();
    const setSeen = (minutesAgo: number) =>
      staffDb()
        .updateTable('staff_sessions')
        .set({ last_seen_at: new Date(Date.now() - minutesAgo * 60_000) })
        .where('id_hash', '=', hash)
        .execute();
    await setSeen(29);
    expect((await c.get('/staff/studies')).status).toBe(200); // and touched
    const row = await staffDb()
      .selectFrom('staff_sessions')
      .select('last_seen_at')
      .where('id_hash', '=', hash)
      .executeTakeFirstOrThrow();
    expect(Date.now() - row.last_seen_at.getTime()).toBeLessThan(10_000);
    await setSeen(31);
    expect((await c.get('/staff/studies')).status).toBe(303);
  });

  it('sign-out needs the CSRF token, ends the session and clears the cookie', async () => {
    const c = h.client();
    await c.signInOrThrow('bob');
    const id = c.cookies.get('studylink_staff') as string;
    expect((await c.post('/staff/sign-out', { _csrf: null })).status).toBe(403);
    expect((await c.get('/staff/studies')).status).toBe(200);
    const out = await c.post('/staff/sign-out');
    expect(out.status).toBe(303);
    expect(out.location).toBe('/staff/sign-in?reason=signed-out');
    expect(cookieNamed(out.setCookies, 'studylink_staff')).toMatch(
      /^studylink_staff=; Path=\/staff; HttpOnly; SameSite=Strict; Max-Age=0/,
    );
    const replay = h.client();
    replay.cookies.set('studylink_staff', id);
    expect((await replay.get('/staff/studies')).status).toBe(303);
    expect((await events('staff_sign_out')).at(-1)?.actor).toBe('staff:bob');
  });
});

describe('CSRF on every POST', () => {
  const posts: Array<[string, Record<string, string>]> = [
    ['/staff/setup', { institution: 'X', port: '80', publicAddress: '203.0.113.1', zipContent: 'as-stored' }],
    ['/staff/users', { username: 'eve', role: 'admin', password: 'a long enough password' }],
    ['/staff/api-keys', { name: 'sneaky', role: 'admin' }],
    ['/staff/studies/1.2.3/token', { never: '1' }],
    ['/staff/studies/1.2.3/revoke', {}],
    ['/staff/studies/1.2.3/reissue', { never: '1' }],
    ['/staff/studies/1.2.3/expiry', { never: '1' }],
    ['/staff/users/1/disable', {}],
    ['/staff/users/1/password', { password: 'a long enough password' }],
    ['/staff/api-keys/1/disable', {}],
    ['/staff/sign-out', {}],
  ];

  it.each(posts)('POST %s without a valid token is 403 and changes nothing', async (path, fields) => {
    const c = h.client();
    await c.signInOrThrow('alice');
    const configBefore = await h.database.db
      .selectFrom('server_config')
      .selectAll()
      .executeTakeFirstOrThrow();
    for (const csrf of [null, '', 'forged-token', `${c.csrf}x`]) {
      const res = await c.post(path, { ...fields, _csrf: csrf });
      expect(res.status, `${path} with ${csrf}`).toBe(403);
      expect(res.headers.get('content-type')).toContain('text/html');
    }
    const configAfter = await h.database.db.selectFrom('server_config').selectAll().executeTakeFirstOrThrow();
    expect(configAfter).toEqual(configBefore);
    const names = (await staffDb().selectFrom('staff_users').select('username').execute()).map(
      (u) => u.username,
    );
    expect(names).not.toContain('eve');
    const keys = await h.database.db.selectFrom('api_keys').select('name').execute();
    expect(keys.map((k) => k.name)).not.toContain('sneaky');
    expect((await c.get('/staff/studies')).status).toBe(200); // still signed in
  });

  it('a valid token from a cross-site request (Sec-Fetch-Site) is refused too', async () => {
    const c = h.client();
    await c.signInOrThrow('alice');
    const res = await c.post(
      '/staff/users',
      { username: 'eve', role: 'admin', password: 'a long enough password' },
      { 'sec-fetch-site': 'cross-site' },
    );
    expect(res.status).toBe(403);
  });

  it('a token belongs to its session: another user’s does not work', async () => {
    const a = h.client();
    await a.signInOrThrow('alice');
    const b = h.client();
    await b.signInOrThrow('bob');
    const res = await a.post('/staff/users', {
      username: 'eve',
      role: 'admin',
      password: 'a long enough password',
      _csrf: b.csrf,
    });
    expect(res.status).toBe(403);
  });
});
