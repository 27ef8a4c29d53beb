import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestProject } from 'vitest/node';
import setup from './global-setup.js';
import {
  createTemplateDatabase,
  createTestDatabase,
  databaseUrl,
  dropStaleTestDatabases,
  dropTemplateDatabase,
  pgAdminUrl,
} from './test-database.js';

async function query<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const databaseExists = async (name: string) =>
  (await query(pgAdminUrl(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;

describe('test databases', () => {
  let template: string;

  // The packages project has no globalSetup, so this file does what global-setup.ts does.
  beforeAll(async () => {
    template = await createTemplateDatabase();
  });
  afterAll(async () => {
    if (template) await dropTemplateDatabase(template);
  });

  it('makes a uniquely named, migrated template that nobody can connect to', async () => {
    expect(template).toMatch(/^studylink_tpl_\d+_[0-9a-z]+_[0-9a-f]{4}$/);
    const [row] = await query<{ datallowconn: boolean }>(
      pgAdminUrl(),
      'SELECT datallowconn FROM pg_database WHERE datname = $1',
      [template],
    );
    expect(row?.datallowconn).toBe(false);
  });

  it('gives each call its own migrated copy', async () => {
    const a = await createTestDatabase({ template });
    const b = await createTestDatabase({ template });
    try {
      expect(a.name).not.toBe(b.name);
      expect(a.name.startsWith(`${template}_`)).toBe(true);
      for (const db of [a, b]) {
        const tables = await query<{ table_name: string }>(
          db.url,
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        );
        expect(tables.map((t) => t.table_name)).toEqual(
          expect.arrayContaining(['tokens', 'schema_migrations']),
        );
        const applied = await query<{ name: string }>(db.url, 'SELECT name FROM schema_migrations');
        expect(applied.map((m) => m.name)).toContain('0001_initial.sql');
      }
      await query(
        a.url,
        "INSERT INTO tokens (study_instance_uid, token_hash, token_ciphertext, created_by) VALUES ('1.2.3', '\\x01', '\\x02', 'test')",
      );
      expect(await query(a.url, 'SELECT id FROM tokens')).toHaveLength(1);
      expect(await query(b.url, 'SELECT id FROM tokens')).toHaveLength(0);
    } finally {
      await a.drop();
      await b.drop();
    }
    expect(await databaseExists(a.name)).toBe(false);
    expect(await databaseExists(b.name)).toBe(false);
  });

  it('copies concurrently and drops databases that still have open connections', async () => {
    const dbs = await Promise.all(Array.from({ length: 4 }, () => createTestDatabase({ template })));
    expect(new Set(dbs.map((d) => d.name)).size).toBe(4);
    const open = new pg.Client({ connectionString: dbs[0]?.url });
    open.on('error', () => {}); // the forced drop terminates this connection
    await open.connect();
    await Promise.all(dbs.map((d) => d.drop()));
    await dbs[0]?.drop(); // idempotent
    for (const db of dbs) expect(await databaseExists(db.name)).toBe(false);
    await open.end().catch(() => {});
  });

  it('retries while someone is still connected to the template', async () => {
    const tpl = await createTemplateDatabase();
    try {
      // Let a connection in and hold it for a moment, as a slow-closing migration connection would.
      await query(pgAdminUrl(), `ALTER DATABASE ${tpl} WITH ALLOW_CONNECTIONS true`);
      const holder = new pg.Client({ connectionString: databaseUrl(tpl) });
      await holder.connect();
      const released = new Promise((resolve) => setTimeout(resolve, 300)).then(() => holder.end());
      const started = Date.now();
      const db = await createTestDatabase({ template: tpl });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      await released;
      expect(await databaseExists(db.name)).toBe(true);
    } finally {
      await dropTemplateDatabase(tpl);
    }
  });

  it('drops the template together with copies left undropped', async () => {
    const tpl = await createTemplateDatabase();
    const leftover = await createTestDatabase({ template: tpl });
    await dropTemplateDatabase(tpl);
    expect(await databaseExists(leftover.name)).toBe(false);
    expect(await databaseExists(tpl)).toBe(false);
  });

  it('cleans up databases of runs that died long ago, and only those', async () => {
    const longAgo = (Date.now() - 7 * 60 * 60 * 1000).toString(36);
    const stale = await createTemplateDatabase({ name: `studylink_tpl_1_${longAgo}_dead` });
    const staleCopy = await createTestDatabase({ template: stale });
    const dropped = await dropStaleTestDatabases();
    expect(dropped).toEqual(expect.arrayContaining([stale, staleCopy.name]));
    expect(dropped).not.toContain(template);
    expect(await databaseExists(template)).toBe(true);
  });

  it('explains what is missing when no template was provided', async () => {
    await expect(createTestDatabase()).rejects.toThrow(/no template database/);
  });

  it('global setup provides a migrated template; its teardown drops it and every copy', async () => {
    const provided: Record<string, unknown> = {};
    const project = {
      provide: (key: string, value: unknown) => {
        provided[key] = value;
      },
    } as unknown as TestProject;
    const teardown = await setup(project);
    const tpl = provided.pgTemplate as string;
    expect(tpl).toMatch(/^studylink_tpl_/);
    const copy = await createTestDatabase({ template: tpl });
    expect(await query(copy.url, 'SELECT count(*) FROM tokens')).toEqual([{ count: '0' }]);
    await teardown();
    expect(await databaseExists(tpl)).toBe(false);
    expect(await databaseExists(copy.name)).toBe(false);
  });
});
