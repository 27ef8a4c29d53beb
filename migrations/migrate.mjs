#!/usr/bin/env node
// Applies migrations/*.sql in name order, each in its own transaction, under a
// PostgreSQL advisory lock so that several processes started at once apply
// each file exactly once. Stands alone: it imports no application code.
//
//   DATABASE_URL=postgres://... node migrations/migrate.mjs
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const LOCK_ID = 727_274_001; // arbitrary, fixed: "studylink migrations"
const dir = dirname(fileURLToPath(import.meta.url));

export async function migrate(connectionString, log = (m) => console.log(m)) {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await client.query('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
    let applied = 0;
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(join(dir, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${err.message}`);
      }
      applied += 1;
      log(JSON.stringify({ level: 'info', msg: 'migration applied', migration: file }));
    }
    log(JSON.stringify({ level: 'info', msg: 'migrations up to date', applied, total: files.length }));
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => {});
    await client.end();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is required');
    process.exit(2);
  }
  migrate(url).catch((err) => {
    console.error(JSON.stringify({ level: 'error', msg: err.message }));
    process.exit(1);
  });
}
