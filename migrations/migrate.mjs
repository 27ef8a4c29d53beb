#!/usr/bin/env node
// Applies migrations/*.sql in name order, each in its own transaction (or, when its first line is
// `-- migrate:no-transaction`, CREATE INDEX CONCURRENTLY statements outside one: index a big table,
// the access log above all, that way, so inserts go on while it builds), under a
// PostgreSQL advisory lock so that several processes started at once apply
// each file exactly once. Stands alone: it imports no application code.
//
//   MIGRATION_DATABASE_URL=postgres://owner@... DATABASE_URL=postgres://app:pw@... node migrations/migrate.mjs
//
// MIGRATION_DATABASE_URL connects as the role that owns the tables. DATABASE_URL is the services'
// connection: after migrating, its role is made (or updated) as a login member of the group role
// `studylink_app`, with that password, so `docker compose up` creates both roles on a new volume
// and upgrades an existing one. Without MIGRATION_DATABASE_URL the migrations run as DATABASE_URL's
// role, which then owns the access log and can change it: a loud warning says so.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const LOCK_ID = 727_274_001; // arbitrary, fixed: "studylink migrations"
const DIR = dirname(fileURLToPath(import.meta.url));
/** First line of a migration that runs outside a transaction (CREATE INDEX CONCURRENTLY only). */
const NO_TRANSACTION = /^--\s*migrate:no-transaction\b/;

export const APP_GROUP_ROLE = 'studylink_app';

/**
 * Applies the pending migrations. With `appUrl`, also makes that URL's role a login member of
 * `studylink_app` (its password from the URL), refusing a role that is a superuser or owns tables.
 */
export async function migrate(connectionString, log = (m) => console.log(m), { appUrl, dir = DIR } = {}) {
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
      if (NO_TRANSACTION.test(sql)) {
        try {
          await runConcurrentIndexes(client, sql, log);
          await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        } catch (err) {
          throw new Error(`migration ${file} failed (run it again: it resumes): ${err.message}`);
        }
        applied += 1;
        log(JSON.stringify({ level: 'info', msg: 'migration applied', migration: file }));
        continue;
      }
      try {
        await retryCatalogRace(async () => {
          await client.query('BEGIN');
          try {
            await client.query(sql);
            await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK');
            throw err;
          }
        });
      } catch (err) {
        throw new Error(`migration ${file} failed: ${err.message}`);
      }
      applied += 1;
      log(JSON.stringify({ level: 'info', msg: 'migration applied', migration: file }));
    }
    log(JSON.stringify({ level: 'info', msg: 'migrations up to date', applied, total: files.length }));
    if (appUrl) {
      const role = await retryCatalogRace(() => ensureAppRole(client, appUrl));
      log(JSON.stringify({ level: 'info', msg: 'application role ready', role, group: APP_GROUP_ROLE }));
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => {});
    await client.end();
  }
}

/**
 * A `-- migrate:no-transaction` migration: `CREATE INDEX CONCURRENTLY IF NOT EXISTS <name> ON <table>
 * <rest>;` statements only, so a big table (the access log) keeps taking inserts while its index
 * is built. A partitioned table cannot build one concurrently itself: its index is made ON ONLY the
 * parent (instant, not yet valid), then concurrently on each partition and attached, which makes
 * it valid; partitions made later get it when they are attached. Safe to run again after a
 * failure: an invalid leftover of a failed concurrent build is dropped and built anew.
 */
export async function runConcurrentIndexes(client, sql, log = () => {}) {
  const statements = sql
    .split('\n')
    .filter((l) => !/^\s*--/.test(l))
    .join('\n')
    .split(';')
    .map((s) => s.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
  const ident = /^[a-z_][a-z0-9_]{0,62}$/;
  for (const statement of statements) {
    const m =
      /^CREATE (UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS ([a-z_][a-z0-9_]*) ON ([a-z_][a-z0-9_]*) (.+)$/i.exec(
        statement,
      );
    if (!m || !ident.test(m[2]) || !ident.test(m[3]))
      throw new Error(
        `a no-transaction migration holds only CREATE INDEX CONCURRENTLY IF NOT EXISTS <name> ON <table> ...; statements, not: ${statement}`,
      );
    const [, unique = '', name, table, rest] = m;
    const kind = (await client.query('SELECT relkind FROM pg_class WHERE oid = to_regclass($1)', [table]))
      .rows[0]?.relkind;
    if (!kind) throw new Error(`no table ${table}`);
    if (kind !== 'p') {
      const leftover = await client.query(
        'SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)',
        [name],
      );
      if (leftover.rowCount > 0 && !leftover.rows[0].indisvalid)
        await client.query(`DROP INDEX CONCURRENTLY "${name}"`);
      await client.query(`CREATE ${unique}INDEX CONCURRENTLY IF NOT EXISTS "${name}" ON "${table}" ${rest}`);
      continue;
    }
    await client.query(`CREATE ${unique}INDEX IF NOT EXISTS "${name}" ON ONLY "${table}" ${rest}`);
    const partitions = (
      await client.query(
        `SELECT c.relname AS partition,
                (SELECT i.inhrelid::regclass::text FROM pg_inherits i
                  JOIN pg_index x ON x.indexrelid = i.inhrelid
                 WHERE i.inhparent = to_regclass($2) AND x.indrelid = c.oid) AS attached
           FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
          WHERE h.inhparent = to_regclass($1) ORDER BY 1`,
        [table, name],
      )
    ).rows;
    for (const { partition, attached } of partitions) {
      if (attached) continue;
      const child = `${name.slice(0, 40)}_${createHash('sha256').update(partition).digest('hex').slice(0, 12)}`;
      const leftover = await client.query(
        'SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)',
        [child],
      );
      if (leftover.rowCount > 0 && !leftover.rows[0].indisvalid)
        await client.query(`DROP INDEX CONCURRENTLY "${child}"`);
      await client.query(
        `CREATE ${unique}INDEX CONCURRENTLY IF NOT EXISTS "${child}" ON "${partition}" ${rest}`,
      );
      await client.query(`ALTER INDEX "${name}" ATTACH PARTITION "${child}"`);
    }
    log(
      JSON.stringify({
        level: 'info',
        msg: 'index built concurrently',
        index: name,
        table,
        partitions: partitions.length,
      }),
    );
  }
}

/**
 * The services' login role from `appUrl`: created or updated (LOGIN, password), a member of
 * studylink_app. The password travels as a SCRAM-SHA-256 verifier, never as plain text in SQL.
 */
/**
 * Roles are the cluster's, not a database's: two databases migrated at once (test stacks side by side,
 * two deployments on one server) may touch the same role together, and PostgreSQL then fails one with
 * "tuple concurrently updated" or a duplicate role. The advisory lock is per database and cannot
 * prevent it; the step is safe to run again, so it is, a few times.
 * @example await retryCatalogRace(() => ensureAppRole(client, appUrl));
 */
export async function retryCatalogRace(step, attempts = 5) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const race =
        /tuple concurrently (updated|deleted)/.test(err.message) ||
        (err.code === '23505' && /pg_authid|pg_auth_members/.test(err.message)) ||
        (err.code === '42710' && /role/.test(err.message));
      if (!race || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt + Math.floor(Math.random() * 50)));
    }
  }
}

export async function ensureAppRole(client, appUrl) {
  const parsed = new URL(appUrl);
  const role = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role))
    throw new Error(
      `the application role name ${JSON.stringify(role)} must be lower-case letters, digits, _`,
    );
  const me = (await client.query('SELECT current_user AS me')).rows[0].me;
  if (role === me)
    throw new Error(
      `DATABASE_URL and MIGRATION_DATABASE_URL connect as the same role (${role}): give the services their own`,
    );
  const existing = (await client.query('SELECT oid, rolsuper FROM pg_roles WHERE rolname = $1', [role]))
    .rows[0];
  if (existing?.rolsuper)
    throw new Error(`the application role ${role} is a superuser: it could change the access log`);
  const ident = `"${role}"`;
  const pw = password ? ` PASSWORD '${scramVerifier(password)}'` : '';
  if (!existing) {
    await client.query(`CREATE ROLE ${ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION${pw}`);
  } else {
    await client.query(`ALTER ROLE ${ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION${pw}`);
    const owned = (
      await client.query(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relowner = $1 AND n.nspname = 'public'`,
        [existing.oid],
      )
    ).rows[0].n;
    if (owned > 0)
      throw new Error(
        `the application role ${role} owns ${owned} tables: hand them to the migration role ` +
          '(REASSIGN OWNED BY ... TO ...) and migrate again',
      );
  }
  if (role !== APP_GROUP_ROLE) await client.query(`GRANT ${APP_GROUP_ROLE} TO ${ident}`);
  return role;
}

/** PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677, 4096 iterations). */
export function scramVerifier(password, salt = randomBytes(16), iterations = 4096) {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** True when this module is the script node was started with (symlinks and spaces included). */
function isEntryPoint() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const owner = process.env.MIGRATION_DATABASE_URL;
  const url = owner || process.env.DATABASE_URL;
  if (!url) {
    console.error('MIGRATION_DATABASE_URL (or DATABASE_URL) is required');
    process.exit(2);
  }
  if (!owner) {
    console.error(
      JSON.stringify({
        level: 'warn',
        msg:
          'MIGRATION_DATABASE_URL is not set: migrating as DATABASE_URL, so the services connect as the ' +
          'role that owns the access log and could change or remove its rows. Set MIGRATION_DATABASE_URL ' +
          'to the owner role and DATABASE_URL to an application role (README: Database roles).',
      }),
    );
  }
  migrate(url, undefined, { appUrl: owner ? process.env.DATABASE_URL : undefined }).catch((err) => {
    console.error(JSON.stringify({ level: 'error', msg: err.message }));
    process.exit(1);
  });
}
