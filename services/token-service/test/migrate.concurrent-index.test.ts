import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
// @ts-expect-error: the migration runner is plain JavaScript without types
import { migrate } from '../../../migrations/migrate.mjs';

// A `-- migrate:no-transaction` migration builds indexes with CREATE INDEX CONCURRENTLY, so a large
// access log keeps taking inserts while a later migration indexes it; on the partitioned log the
// index is built per partition and attached.
const MIGRATIONS = fileURLToPath(new URL('../../../migrations/', import.meta.url));
let db: TestDatabase;
let dir: string;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'studylink-migrations-'));
  await cp(MIGRATIONS, dir, { recursive: true, filter: (src) => !src.endsWith('.mjs') });
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner?.end();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const valid = async (index: string) =>
  (await owner.query('SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)', [index])).rows[0]
    ?.indisvalid;

it('builds an index of the partitioned log concurrently, partition by partition, and of a plain table', async () => {
  await writeFile(
    join(dir, '9990_test_indexes.sql'),
    [
      '-- migrate:no-transaction',
      '-- A test index on the log and one on a plain table.',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS access_log_actor_test_idx ON access_log (actor, at DESC)',
      '  WHERE actor IS NOT NULL;',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS tokens_created_by_test_idx ON tokens (created_by);',
      '',
    ].join('\n'),
  );
  const lines: string[] = [];
  await migrate(db.ownerUrl, (l: string) => lines.push(l), { dir });
  expect(lines.join('\n')).toContain('"index built concurrently"');
  expect(await valid('access_log_actor_test_idx')).toBe(true);
  expect(await valid('tokens_created_by_test_idx')).toBe(true);
  const attached = await owner.query(
    `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'access_log_actor_test_idx'::regclass`,
  );
  const partitions = await owner.query(
    `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'access_log'::regclass`,
  );
  expect(attached.rows[0].n).toBe(partitions.rows[0].n);
  // A partition made later gets it when it is attached.
  const made = (await owner.query("SELECT access_log_create_partition('2031-05-01') AS name")).rows[0].name;
  const indexed = await owner.query(
    `SELECT 1 FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indexrelid
      WHERE x.indrelid = to_regclass($1) AND i.inhparent = 'access_log_actor_test_idx'::regclass`,
    [made],
  );
  expect(indexed.rowCount).toBe(1);
  const recorded = await owner.query("SELECT 1 FROM schema_migrations WHERE name = '9990_test_indexes.sql'");
  expect(recorded.rowCount).toBe(1);
});

it('refuses anything else in a no-transaction migration, and records nothing', async () => {
  await writeFile(join(dir, '9991_bad.sql'), '-- migrate:no-transaction\nDELETE FROM tokens;\n');
  await expect(migrate(db.ownerUrl, () => {}, { dir })).rejects.toThrow(
    /holds only CREATE INDEX CONCURRENTLY/,
  );
  const recorded = await owner.query("SELECT 1 FROM schema_migrations WHERE name = '9991_bad.sql'");
  expect(recorded.rowCount).toBe(0);
});
