import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, pgAdminUrl, type TestDatabase } from '@studylink/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the migration runner is plain JavaScript without types
import { ensureAppRole, retryCatalogRace, scramVerifier } from '../../../migrations/migrate.mjs';

// migrations/migrate.mjs: the owner migrates, DATABASE_URL's role becomes a login member of
// studylink_app; the roles that would defeat the split are refused.
const MIGRATE = fileURLToPath(new URL('../../../migrations/migrate.mjs', import.meta.url));
const ROLE = `studylink_rolestest_${process.pid}`;
let db: TestDatabase;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner?.query(`DROP OWNED BY ${ROLE}`).catch(() => {});
  await owner?.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => {});
  await owner?.end();
  await db?.drop();
});

const as = (role: string, password = '') => {
  const u = new URL(db.ownerUrl);
  u.username = role;
  u.password = password;
  return u.toString();
};

describe('the application role made by the migration runner', () => {
  it('is created as a login member of studylink_app with a SCRAM verifier PostgreSQL accepts as such', async () => {
    expect(await ensureAppRole(owner, as(ROLE, 'pw with spaces & symbols'))).toBe(ROLE);
    const [row] = (
      await owner.query(
        `SELECT r.rolcanlogin, r.rolsuper, pg_has_role(r.oid, 'studylink_app', 'MEMBER') AS member
           FROM pg_roles r WHERE r.rolname = $1`,
        [ROLE],
      )
    ).rows;
    expect(row).toEqual({ rolcanlogin: true, rolsuper: false, member: true });
    // Stored as given: PostgreSQL took it for a verifier (a malformed one it would hash as a password).
    const fixedSalt = Buffer.alloc(16, 7);
    const verifier = scramVerifier('pw', fixedSalt);
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    await owner.query(`ALTER ROLE ${ROLE} PASSWORD '${verifier}'`);
    const stored = await new pg.Client({ connectionString: pgAdminUrl() });
    await stored.connect();
    try {
      const { rows } = await stored.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [ROLE]);
      expect(rows[0].rolpassword).toBe(verifier);
    } finally {
      await stored.end();
    }
    // Run again (every `docker compose up`): the same role, updated, no error.
    expect(await ensureAppRole(owner, as(ROLE, 'another'))).toBe(ROLE);
  });

  it('refuses the owner itself, a superuser, and a role that owns tables', async () => {
    const me = (await owner.query('SELECT current_user AS me')).rows[0].me;
    await expect(ensureAppRole(owner, as(me))).rejects.toThrow(/same role/);
    await owner.query(`ALTER ROLE ${ROLE} SUPERUSER`);
    await expect(ensureAppRole(owner, as(ROLE))).rejects.toThrow(/superuser/);
    await owner.query(`ALTER ROLE ${ROLE} NOSUPERUSER`);
    await owner.query(`CREATE TABLE owned_by_app (id int)`);
    await owner.query(`ALTER TABLE owned_by_app OWNER TO ${ROLE}`);
    await expect(ensureAppRole(owner, as(ROLE))).rejects.toThrow(/owns 1 tables/);
    await owner.query('DROP TABLE owned_by_app');
  });

  it('without MIGRATION_DATABASE_URL it migrates as DATABASE_URL, with a loud warning', () => {
    const run = spawnSync(process.execPath, [MIGRATE], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.ownerUrl },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/"level":"warn".*MIGRATION_DATABASE_URL is not set/);
    const both = spawnSync(process.execPath, [MIGRATE], {
      env: { PATH: process.env.PATH, MIGRATION_DATABASE_URL: db.ownerUrl, DATABASE_URL: db.url },
      encoding: 'utf8',
    });
    expect(both.status, both.stderr).toBe(0);
    expect(both.stderr).not.toContain('MIGRATION_DATABASE_URL is not set');
    expect(both.stdout).toContain('application role ready');
  });
});

describe('databases migrated side by side (one cluster, the same application role)', () => {
  it('each readies the shared role: a catalog race is run again, not a failed migration', async () => {
    const clients = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const c = new pg.Client({ connectionString: db.ownerUrl });
        await c.connect();
        return c;
      }),
    );
    try {
      // With one attempt each (no retry) this fails with "tuple concurrently updated" (seen).
      for (let round = 0; round < 4; round++) {
        const results = await Promise.allSettled(
          clients.map((c) => retryCatalogRace(() => ensureAppRole(c, as(ROLE, `pw${round}`)), 10)),
        );
        expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      }
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('anything but a catalog race fails at once', async () => {
    let calls = 0;
    await expect(
      retryCatalogRace(async () => {
        calls += 1;
        throw Object.assign(new Error('relation "x" does not exist'), { code: '42P01' });
      }),
    ).rejects.toThrow(/does not exist/);
    expect(calls).toBe(1);
  });
});
