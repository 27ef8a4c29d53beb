// Issue 17, probe item 5: on a cluster that trusts loopback (as `make deps` sets the machine's up for
// the tests), `make dev`'s database setup (scripts/pg-access.mjs) makes the application roles use
// their password and keeps them out of databases that are not theirs; other users keep what they had.
// On a private cluster: the machine's own is shared with everyone's tests.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the migration runner is plain JavaScript without types
import { migrate } from '../migrations/migrate.mjs';
// @ts-expect-error: plain JavaScript without types
import { secureAppAccess } from '../scripts/pg-access.mjs';
import { type PrivatePostgres, startPrivatePostgres } from './support/private-postgres.js';

let cluster: PrivatePostgres;
const at = (user: string, password: string, database: string) =>
  `postgres://${user}${password ? `:${encodeURIComponent(password)}` : ''}@127.0.0.1:${cluster.port}/${database}`;

/** Connects and disconnects; resolves to the error code of a refusal, or 'ok'. */
async function tryConnect(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await c.end().catch(() => {});
  }
}

beforeAll(async () => {
  cluster = await startPrivatePostgres('studylink');
  const admin = new pg.Client({ connectionString: at('postgres', '', 'postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE other');
  await admin.query('CREATE DATABASE studylink_tpl_1_x_y');
  // Another user of the cluster, as trust auth lets it in today.
  await admin.query('CREATE ROLE someone LOGIN');
  await admin.end();
  // As make dev: the owner migrates, DATABASE_URL's role (studylink_app, with its password) is made.
  await migrate(at('postgres', '', 'studylink'), () => {}, {
    appUrl: at('studylink_app', 'right-pw', 'studylink'),
  });
  // The test kit's role: a member of the group, with its own password.
  await migrate(at('postgres', '', 'studylink_tpl_1_x_y'), () => {}, {
    appUrl: at('studylink_test_app', 'test-pw', 'studylink_tpl_1_x_y'),
  });
}, 120_000);
afterAll(async () => {
  await cluster?.destroy();
});

describe('make dev on a loopback-trusting cluster', () => {
  it('before: any local process gets in as the application role with any password, to any database', async () => {
    expect(await tryConnect(at('studylink_app', 'wrong', 'studylink'))).toBe('ok');
    expect(await tryConnect(at('studylink_app', 'right-pw', 'other'))).toBe('ok');
  });

  it('after: the application role needs its password and reaches its own database only; others keep theirs', async () => {
    const logged: string[] = [];
    const first = await secureAppAccess(at('postgres', '', 'postgres'), 'studylink', (m: string) =>
      logged.push(m),
    );
    expect(first).toEqual({ hba: 'added', revoked: ['postgres', 'other'] });
    // 28P01 invalid_password; 42501 no CONNECT on that database.
    expect(await tryConnect(at('studylink_app', 'wrong', 'studylink'))).toBe('28P01');
    expect(await tryConnect(at('studylink_app', '', 'studylink'))).not.toBe('ok');
    expect(await tryConnect(at('studylink_app', 'right-pw', 'studylink'))).toBe('ok');
    expect(await tryConnect(at('studylink_app', 'right-pw', 'other'))).toBe('42501');
    expect(await tryConnect(at('studylink_app', 'right-pw', 'postgres'))).toBe('42501');
    // The test kit's role, with its password, on its own databases; wrong password refused.
    expect(await tryConnect(at('studylink_test_app', 'test-pw', 'studylink_tpl_1_x_y'))).toBe('ok');
    expect(await tryConnect(at('studylink_test_app', 'nope', 'studylink_tpl_1_x_y'))).toBe('28P01');
    // Everyone else as before: trust, every database.
    for (const db of ['postgres', 'other', 'studylink'])
      for (const user of ['postgres', 'someone'])
        expect(await tryConnect(at(user, '', db)), `${user}@${db}`).toBe('ok');
    // Run again: nothing more to do.
    expect(await secureAppAccess(at('postgres', '', 'postgres'), 'studylink')).toEqual({
      hba: 'present',
      revoked: [],
    });
    expect(await tryConnect(at('studylink_app', 'right-pw', 'studylink'))).toBe('ok');
  });
});
