import { createLogger } from '@studylink/service-kit';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../db/database.js';
import { InvalidTokenLimiter, TooManyInvalidTokensError } from './invalid-token.limiter.js';
import { pruneWindows } from './invalid-token.repository.js';

let testDb: TestDatabase;
let database: Database;
const log = createLogger({ service: 'test', level: 'silent' });

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = createDatabase({ url: testDb.url });
});
afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

let n = 0;
const client = (ip = `198.51.100.${++n}`) => ({ clientIp: ip, userAgent: 'test' });

/** A guess as the routes make it: check, look up (a miss), count. 'counted' stands for a 404. */
async function attempt(limiter: InvalidTokenLimiter, who: ReturnType<typeof client>) {
  try {
    await limiter.checkOrThrow(who);
    await limiter.recordInvalid(who);
  } catch (err) {
    if (err instanceof TooManyInvalidTokensError) return err.retryAfterSeconds;
    throw err;
  }
  return 'counted';
}

async function rateLimitedEvents(ip: string): Promise<number> {
  const r = await database.db
    .selectFrom('access_log')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('event', '=', 'rate_limited')
    .where('client_ip', '=', ip)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('InvalidTokenLimiter', () => {
  it('30 guesses at once with a limit of 20: exactly 20 are answered 404, the rest 429', async () => {
    const limiter = new InvalidTokenLimiter(database.db, log, { limit: 20, windowSeconds: 3600 });
    const who = client();
    const results = await Promise.all(Array.from({ length: 30 }, () => attempt(limiter, who)));
    expect(results.filter((r) => r === 'counted').length).toBe(20);
    expect(results.filter((r) => typeof r === 'number').length).toBe(10);
    expect(await rateLimitedEvents(who.clientIp)).toBe(1);
  });

  it('lets `limit` invalid attempts through, then refuses with the seconds left in the window', async () => {
    const limiter = new InvalidTokenLimiter(database.db, log, { limit: 3, windowSeconds: 3600 });
    const who = client();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await attempt(limiter, who));
    expect(results.slice(0, 3)).toEqual(['counted', 'counted', 'counted']);
    for (const r of results.slice(3)) {
      expect(typeof r).toBe('number');
      expect(r).toBeGreaterThanOrEqual(1);
      expect(r).toBeLessThanOrEqual(3600);
    }
    expect(await rateLimitedEvents(who.clientIp)).toBe(1);
    // Another client is not affected.
    expect(await attempt(limiter, client())).toBe('counted');
  });

  it('shares the count between replicas and logs one rate_limited event per window', async () => {
    const a = new InvalidTokenLimiter(database.db, log, { limit: 4, windowSeconds: 3600 });
    const b = new InvalidTokenLimiter(database.db, log, { limit: 4, windowSeconds: 3600 });
    const who = client();
    expect(await attempt(a, who)).toBe('counted');
    expect(await attempt(b, who)).toBe('counted');
    expect(await attempt(a, who)).toBe('counted');
    expect(await attempt(b, who)).toBe('counted');
    for (let i = 0; i < 5; i++) {
      expect(typeof (await attempt(a, who))).toBe('number');
      expect(typeof (await attempt(b, who))).toBe('number');
    }
    expect(await rateLimitedEvents(who.clientIp)).toBe(1);
  });

  it('forgives the client when the window ends', async () => {
    const limiter = new InvalidTokenLimiter(database.db, log, { limit: 2, windowSeconds: 1 });
    const who = client();
    // Start right after a window boundary so the two attempts land in one window.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    expect(await attempt(limiter, who)).toBe('counted');
    expect(await attempt(limiter, who)).toBe('counted');
    expect(await attempt(limiter, who)).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await attempt(limiter, who)).toBe('counted');
  });

  it('counts an IPv6 /64 as one client', async () => {
    const limiter = new InvalidTokenLimiter(database.db, log, { limit: 2, windowSeconds: 3600 });
    expect(await attempt(limiter, client('2001:db8:77:1::a'))).toBe('counted');
    expect(await attempt(limiter, client('2001:db8:77:1::b'))).toBe('counted');
    expect(typeof (await attempt(limiter, client('2001:db8:77:1::c')))).toBe('number');
    expect(await attempt(limiter, client('2001:db8:77:2::a'))).toBe('counted');
  });

  it('does nothing with a limit of 0', async () => {
    const limiter = new InvalidTokenLimiter(database.db, log, { limit: 0, windowSeconds: 60 });
    const who = client();
    for (let i = 0; i < 5; i++) expect(await attempt(limiter, who)).toBe('counted');
    const rows = await database.db
      .selectFrom('invalid_token_attempts')
      .selectAll()
      .where('client_key', '=', who.clientIp)
      .execute();
    expect(rows).toEqual([]);
  });

  it('prunes past windows in the background and keeps the current one', async () => {
    await database.db
      .insertInto('invalid_token_attempts')
      .values({ client_key: '192.0.2.250', window_start: sql<Date>`now() - interval '2 hours'`, attempts: 9 })
      .execute();
    const limiter = new InvalidTokenLimiter(database.db, log, { limit: 5, windowSeconds: 3600 });
    await limiter.recordInvalid(client('192.0.2.251'));
    const keys = async () =>
      (await database.db.selectFrom('invalid_token_attempts').select('client_key').execute()).map(
        (r) => r.client_key,
      );
    await expect.poll(keys).not.toContain('192.0.2.250');
    expect(await keys()).toContain('192.0.2.251');
    expect(await pruneWindows(database.db, 3600)).toBe(0);
  });

  it('remembers a bounded number of refused clients', async () => {
    const limiter = new InvalidTokenLimiter(database.db, log, {
      limit: 1,
      windowSeconds: 3600,
      maxRemembered: 2,
    });
    const clients = [client(), client(), client()];
    for (const who of clients) await attempt(limiter, who);
    for (const who of clients) expect(typeof (await attempt(limiter, who))).toBe('number');
    expect((limiter as unknown as { refusedUntil: Map<string, number> }).refusedUntil.size).toBe(2);
  });
});
