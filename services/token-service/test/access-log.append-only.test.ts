import { createTestDatabase, TEST_APP_ROLE, type TestDatabase } from '@studylink/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The services connect as the application role (DATABASE_URL); migrations as the owner. Connected as
// the application role, every way of changing or removing access-log rows is refused by PostgreSQL.
let db: TestDatabase;
let app: pg.Client;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  app = new pg.Client({ connectionString: db.url });
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await app.connect();
  await owner.connect();
  await app.query("INSERT INTO access_log (event, outcome, actor) VALUES ('token_issued', 'ok', 'cli:test')");
});
afterAll(async () => {
  await app?.end();
  await owner?.end();
  await db?.drop();
});

const rowCount = async () => Number((await owner.query('SELECT count(*) AS n FROM access_log')).rows[0].n);

/** Runs `sql` as the application role in its own savepoint; resolves to the error it raised. */
async function refusedAsApp(sql: string): Promise<{ code?: string; message: string }> {
  await app.query('BEGIN');
  try {
    await app.query(sql);
    return { message: 'not refused' };
  } catch (err) {
    return err as { code?: string; message: string };
  } finally {
    await app.query('ROLLBACK');
  }
}

describe('the access log, connected as the application role', () => {
  it('is that role: not a superuser, owns nothing, may insert and read the log', async () => {
    const me = (
      await app.query<{ current_user: string; rolsuper: boolean; owns: number }>(
        `SELECT current_user, r.rolsuper,
           (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owns
         FROM pg_roles r WHERE r.rolname = current_user`,
      )
    ).rows[0];
    expect(me).toEqual({ current_user: TEST_APP_ROLE, rolsuper: false, owns: 0 });
    const before = await rowCount();
    await app.query("INSERT INTO access_log (event, outcome) VALUES ('page_view', 'ok')");
    expect((await app.query('SELECT id FROM access_log')).rows.length).toBe(before + 1);
    // GRANT by a non-owner is a warning, not an error: what counts is that nothing was granted.
    await app.query(`GRANT UPDATE, DELETE, TRUNCATE ON access_log TO ${TEST_APP_ROLE}`);
    const privileges = await app.query(
      `SELECT p FROM unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) AS p
        WHERE has_table_privilege(current_user, 'access_log', p)`,
    );
    expect(privileges.rows).toEqual([]);
  });

  const partition = async () =>
    (
      await owner.query<{ name: string }>(
        "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'access_log'::regclass LIMIT 1",
      )
    ).rows[0]?.name as string;

  it.each([
    ['UPDATE', "UPDATE access_log SET outcome = 'changed'"],
    ['DELETE', 'DELETE FROM access_log'],
    ['TRUNCATE', 'TRUNCATE access_log'],
    ['TRUNCATE ONLY', 'TRUNCATE ONLY access_log'],
    ['DROP TABLE', 'DROP TABLE access_log'],
    ['DROP ... CASCADE', 'DROP TABLE access_log CASCADE'],
    ['ALTER TABLE DISABLE TRIGGER', 'ALTER TABLE access_log DISABLE TRIGGER ALL'],
    ['DROP TRIGGER', 'DROP TRIGGER access_log_no_update ON access_log'],
    [
      'CREATE OR REPLACE the trigger function',
      "CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
    ],
    ['ALTER TABLE RENAME', 'ALTER TABLE access_log RENAME TO access_log_gone'],
    [
      'ALTER TABLE ENABLE REPLICA TRIGGER',
      'ALTER TABLE access_log ENABLE REPLICA TRIGGER access_log_no_update',
    ],
    [
      'CREATE TRIGGER',
      'CREATE TRIGGER t BEFORE INSERT ON access_log FOR EACH ROW EXECUTE FUNCTION access_log_append_only()',
    ],
    ['DROP FUNCTION of the trigger', 'DROP FUNCTION access_log_append_only() CASCADE'],
    ['resetting the id sequence', "SELECT setval('access_log_id_seq', 1)"],
    ['ALTER SEQUENCE', 'ALTER SEQUENCE access_log_id_seq RESTART'],
    ['CLUSTER', 'CLUSTER access_log_default USING access_log_default_pkey'],
    ['ALTER TABLE OWNER', `ALTER TABLE access_log OWNER TO ${TEST_APP_ROLE}`],
    ['SET session_replication_role', 'SET session_replication_role = replica'],
    [
      'INSERT ... ON CONFLICT DO UPDATE',
      "INSERT INTO access_log (id, at, event) SELECT id, at, 'x' FROM access_log ON CONFLICT (id, at) DO UPDATE SET event = 'x'",
    ],
    ['SELECT ... FOR UPDATE', 'SELECT id FROM access_log FOR UPDATE'],
    ['LOCK TABLE', 'LOCK TABLE access_log IN ACCESS EXCLUSIVE MODE'],
    ['CREATE RULE', 'CREATE RULE no_log AS ON INSERT TO access_log DO INSTEAD NOTHING'],
    ['a table of its own in the schema', 'CREATE TABLE access_log_copy (id bigint)'],
  ])('refuses %s', async (_what, sql) => {
    const before = await rowCount();
    const err = await refusedAsApp(sql);
    expect(err.message).not.toBe('not refused');
    // 42501 insufficient_privilege (or "must be owner"), never a trigger's friendly refusal only.
    expect(err.code, err.message).toMatch(/^(42501|42P01)$/);
    expect(await rowCount()).toBe(before);
  });

  it('refuses every partition directly, the default one included', async () => {
    const names = (
      await owner.query<{ name: string }>(
        "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'access_log'::regclass",
      )
    ).rows.map((r) => r.name);
    expect(names).toContain('access_log_default');
    expect(names.length).toBeGreaterThan(3);
    for (const name of names) {
      for (const sql of [
        `UPDATE ${name} SET outcome = 'x'`,
        `DELETE FROM ${name}`,
        `TRUNCATE ${name}`,
        `DROP TABLE ${name}`,
        `ALTER TABLE access_log DETACH PARTITION ${name}`,
        `ALTER TABLE ${name} DISABLE TRIGGER ALL`,
        `INSERT INTO ${name} (event) VALUES ('forged')`,
      ]) {
        const err = await refusedAsApp(sql);
        expect(err.code, `${sql}: ${err.message}`).toBe('42501');
      }
    }
    expect(await partition()).toBeDefined();
  });

  it.each([
    [
      'a back-dated row',
      "INSERT INTO access_log (at, event, outcome, actor) VALUES ('2020-01-01', 'token_revoked', 'ok', 'staff:admin')",
    ],
    [
      'a row dated ahead',
      "INSERT INTO access_log (at, event) VALUES (now() + interval '1 day', 'page_view')",
    ],
    ['its own id', "INSERT INTO access_log (id, event) VALUES (1, 'page_view')"],
    [
      'an actor on a patient-side event',
      "INSERT INTO access_log (event, outcome, actor) VALUES ('page_view', 'ok', 'staff:admin')",
    ],
    [
      'an actor on a download',
      "INSERT INTO access_log (event, actor) VALUES ('download_complete', 'api-key:1:x')",
    ],
    [
      'an actor on a started download (0019)',
      "INSERT INTO access_log (event, actor) VALUES ('download_started', 'api-key:1:x')",
    ],
    [
      'an actor on a resumed download (0019: 0009 did not list it)',
      "INSERT INTO access_log (event, actor) VALUES ('download_resumed', 'staff:admin')",
    ],
    [
      'an actor on an aborted download (0019)',
      "INSERT INTO access_log (event, actor) VALUES ('download_aborted', 'cli:x')",
    ],
    [
      'an actor the service never writes',
      "INSERT INTO access_log (event, actor) VALUES ('token_revoked', 'the hospital director')",
    ],
    [
      'an actor with a line break',
      "INSERT INTO access_log (event, actor) VALUES ('token_revoked', E'staff:a\\nstaff:b')",
    ],
  ])('refuses %s (issue 17: rows the log can be trusted for)', async (_what, sql) => {
    const before = await rowCount();
    const err = await refusedAsApp(sql);
    expect(err.code, err.message).toBe('42501');
    expect(await rowCount()).toBe(before);
  });

  it("dates every row it inserts by the database's clock, and takes the service's own actors", async () => {
    const { rows } = await app.query<{ at: Date; db_now: Date; actor: string | null }>(
      `INSERT INTO access_log (event, outcome, actor) VALUES
         ('token_revoked', 'ok', 'staff:alice'), ('token_issued', 'ok', 'api-key:3:ris'),
         ('user_created', 'ok', 'env:STAFF_ADMIN_USERNAME'), ('page_view', 'ok', NULL)
       RETURNING at, now() AS db_now, actor`,
    );
    expect(rows.map((r) => r.actor)).toEqual([
      'staff:alice',
      'api-key:3:ris',
      'env:STAFF_ADMIN_USERNAME',
      null,
    ]);
    for (const r of rows) expect(r.at.getTime()).toBe(r.db_now.getTime());
  });

  it('the owner may still write what maintenance needs (a row moved between partitions keeps its time)', async () => {
    await owner.query('BEGIN');
    await owner.query(
      "INSERT INTO access_log (at, event, actor) VALUES ('2020-01-01', 'access_log_purged', 'cli:purge-access-log')",
    );
    await owner.query('ROLLBACK');
  });

  it('cannot make the maintenance functions run for it', async () => {
    const err = await refusedAsApp("SELECT access_log_create_partition('2031-01-01')");
    expect(err.code).toBe('42501');
  });

  it('the owner is still stopped by the triggers: rows are changed only by dropping a partition', async () => {
    for (const sql of [
      "UPDATE access_log SET outcome = 'x'",
      'DELETE FROM access_log',
      'TRUNCATE access_log',
    ]) {
      await owner.query('BEGIN');
      await expect(owner.query(sql)).rejects.toThrow(/append-only/);
      await owner.query('ROLLBACK');
    }
  });
});
