import { Readable } from 'node:stream';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, main, UsageError } from '../src/cli.js';
import { loadConfig } from '../src/config.js';
import { createDatabase, type Database } from '../src/db/database.js';
import { verifyPassword } from '../src/staff/session/password.hasher.js';
import { StaffUserService } from '../src/staff/users/staff-user.service.js';

let testDb: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = createDatabase({ url: testDb.url });
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

function io(env: Record<string, string>, stdinText?: string) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = {
    env: { DATABASE_URL: testDb.url, ...env },
    stdin: Readable.from(stdinText === undefined ? [] : [stdinText]),
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  };
  return { cli, out, err };
}

const user = (username: string) =>
  database.db.selectFrom('staff_users').selectAll().where('username', '=', username).executeTakeFirst();

describe('cli.js create-admin / reset-password', () => {
  it('creates an admin with the password from STAFF_ADMIN_PASSWORD, never printing it', async () => {
    const { cli, out, err } = io({ STAFF_ADMIN_PASSWORD: 'from the environment 1' });
    expect(await main(['create-admin', '--username', 'Root.Admin'], cli)).toBe(0);
    expect(out.join('')).toBe('administrator root.admin created\n');
    expect([...out, ...err].join('')).not.toContain('from the environment 1');
    const row = await user('root.admin');
    expect(row?.role).toBe('admin');
    expect(await verifyPassword('from the environment 1', row?.password_hash as string)).toBe(true);
    const logged = await database.db
      .selectFrom('access_log')
      .selectAll()
      .where('event', '=', 'user_created')
      .executeTakeFirst();
    expect(logged).toMatchObject({
      actor: 'cli:create-admin',
      detail: { username: 'root.admin', role: 'admin' },
    });
  });

  it('reads the password from the first line of stdin when the variable is not set', async () => {
    const { cli } = io({}, 'piped in password 2\nsecond line ignored\n');
    expect(await main(['create-admin', '--username', 'piped'], cli)).toBe(0);
    expect(await verifyPassword('piped in password 2', (await user('piped'))?.password_hash as string)).toBe(
      true,
    );
  });

  it('refuses an existing name, a short password, a bad name and unknown commands', async () => {
    await expect(
      main(['create-admin', '--username', 'piped'], io({ STAFF_ADMIN_PASSWORD: 'another password 3' }).cli),
    ).rejects.toThrow('a user with this name exists already');
    await expect(
      main(['create-admin', '--username', 'shorty'], io({ STAFF_ADMIN_PASSWORD: 'short' }).cli),
    ).rejects.toThrow(UsageError);
    await expect(
      main(['create-admin', '--username', 'no spaces'], io({ STAFF_ADMIN_PASSWORD: 'long enough pass' }).cli),
    ).rejects.toThrow(/username/);
    await expect(main(['drop-tables'], io({}).cli)).rejects.toThrow(/unknown command/);
    await expect(main(['create-admin', '--username', 'x'], { ...io({}).cli, env: {} })).rejects.toThrow(
      /DATABASE_URL/,
    );
    const help = io({});
    expect(await main(['--help'], help.cli)).toBe(0);
    expect(help.out.join('')).toContain('create-admin');
  });

  it('resets a password, lifting a lockout and ending sessions', async () => {
    await database.db
      .updateTable('staff_users')
      .set({ locked_until: new Date(Date.now() + 600_000), failed_attempts: 3 })
      .where('username', '=', 'piped')
      .execute();
    const { cli, out } = io({ STAFF_ADMIN_PASSWORD: 'a fresh password 4' });
    expect(await main(['reset-password', '--username', 'piped'], cli)).toBe(0);
    expect(out.join('')).toContain('password of piped changed');
    const row = await user('piped');
    expect(row).toMatchObject({ locked_until: null, failed_attempts: 0 });
    expect(await verifyPassword('a fresh password 4', row?.password_hash as string)).toBe(true);
    await expect(main(['reset-password', '--username', 'ghost'], cli)).rejects.toThrow(/no user named ghost/);
  });
});

describe('STAFF_ADMIN_USERNAME / STAFF_ADMIN_PASSWORD', () => {
  const base = {
    DATABASE_URL: 'postgres://x@127.0.0.1/x',
    DICOMWEB_URL: 'http://127.0.0.1:8042/dicom-web',
    TOKEN_ENCRYPTION_KEY: 'a'.repeat(64),
    INTERNAL_SECRET: 'b'.repeat(32),
  };

  it('are read together, and one without the other is a configuration error', () => {
    const c = loadConfig({ ...base, STAFF_ADMIN_USERNAME: 'Boss', STAFF_ADMIN_PASSWORD: 'twelve chars!' });
    expect(c.secrets.staffAdmin).toEqual({ username: 'boss', password: 'twelve chars!' });
    expect(loadConfig(base).secrets.staffAdmin).toBeNull();
    expect(loadConfig(base).staffSessions).toEqual({ absoluteMs: 12 * 3_600_000, idleMs: 30 * 60_000 });
    expect(() => loadConfig({ ...base, STAFF_ADMIN_USERNAME: 'boss' })).toThrow(/set both, or neither/);
    expect(() =>
      loadConfig({ ...base, STAFF_ADMIN_USERNAME: 'boss', STAFF_ADMIN_PASSWORD: 'short' }),
    ).toThrow(/STAFF_ADMIN_PASSWORD: must be at least 12 characters/);
    const e = (() => {
      try {
        loadConfig({ ...base, STAFF_ADMIN_USERNAME: 'boss', STAFF_ADMIN_PASSWORD: 'short' });
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(e).not.toContain('short');
  });

  it('make the first admin only while no active admin exists, and restore one that was disabled', async () => {
    const db = await createTestDatabase();
    const d = createDatabase({ url: db.url });
    try {
      const users = new StaffUserService(d.db, undefined, { log2N: 10, r: 8, p: 1 });
      expect(await users.bootstrapAdmin('boss', 'first password 1')).toBe('created');
      expect(await users.bootstrapAdmin('boss', 'other password 2')).toBe('exists');
      const sdb = d.db;
      const row = await sdb
        .selectFrom('staff_users')
        .selectAll()
        .where('username', '=', 'boss')
        .executeTakeFirstOrThrow();
      expect(await verifyPassword('first password 1', row.password_hash ?? '')).toBe(true);
      await sdb
        .updateTable('staff_users')
        .set({ disabled_at: new Date() })
        .where('id', '=', row.id)
        .execute();
      expect(await users.bootstrapAdmin('boss', 'other password 2')).toBe('restored');
      const back = await sdb
        .selectFrom('staff_users')
        .selectAll()
        .where('username', '=', 'boss')
        .executeTakeFirstOrThrow();
      expect(back.disabled_at).toBeNull();
      expect(await verifyPassword('other password 2', back.password_hash ?? '')).toBe(true);
    } finally {
      await d.close();
      await db.drop();
    }
  });
});
