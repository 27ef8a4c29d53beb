import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Name of the migrated template database made by `packages/testkit/src/global-setup.ts`. */
    pgTemplate: string;
  }
}

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const NAME_PREFIX = 'studylink_tpl_';
// Both src/ and dist/ sit one level below the package, so this resolves from either.
const MIGRATE_SCRIPT = fileURLToPath(new URL('../../../migrations/migrate.mjs', import.meta.url));
const OBJECT_IN_USE = '55006';
/**
 * The login role tests' services connect as: a member of `studylink_app` (migrations/0005), so the
 * suite runs with the application's privileges, not the owner's. Made by `createTemplateDatabase`.
 */
export const TEST_APP_ROLE = 'studylink_test_app';
/**
 * Its password. Not a secret (the role exists only on test clusters, and reaches only throw-away
 * databases): it is there because `make deps` makes members of `studylink_app` use their password
 * even over loopback (scripts/pg-access.mjs), where the admin keeps trust auth. Fixed, because the
 * role is shared by every test run on the cluster.
 */
export const TEST_APP_PASSWORD = 'studylink-test-app-not-a-secret';

/**
 * The URL of a database we may create databases from: `PGTEST_URL`, else the local trust-auth superuser.
 * @example const admin = new pg.Client(pgAdminUrl());
 */
export function pgAdminUrl(): string {
  return process.env.PGTEST_URL || DEFAULT_ADMIN_URL;
}

/**
 * `url` with its database name replaced by `database`.
 * @example databaseUrl('app') // 'postgres://postgres@127.0.0.1:5432/app'
 */
export function databaseUrl(database: string, url = pgAdminUrl()): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

export interface TemplateOptions {
  /** Admin URL (default `pgAdminUrl()`). */
  adminUrl?: string;
  /** Template name (default `studylink_tpl_<pid>_<time>_<random>`). */
  name?: string;
  /** The migration runner to load (default `migrations/migrate.mjs` of this repository). */
  migrateScript?: string;
  /** Receives the runner's log lines (default: dropped). */
  log?: (line: string) => void;
}

/**
 * Creates a database, applies all migrations to it and closes it to connections so it can be copied.
 * @example const template = await createTemplateDatabase(); // 'studylink_tpl_4242_m1x2y3z4_9f3a'
 */
export async function createTemplateDatabase(options: TemplateOptions = {}): Promise<string> {
  const adminUrl = options.adminUrl ?? pgAdminUrl();
  const name =
    options.name ??
    `${NAME_PREFIX}${process.pid}_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  assertIdentifier(name);
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdent(name)}`));
  try {
    const { migrate } = (await import(pathToFileURL(options.migrateScript ?? MIGRATE_SCRIPT).href)) as {
      migrate: (
        connectionString: string,
        log: (line: string) => void,
        opts?: { appUrl?: string },
      ) => Promise<void>;
    };
    // Parallel runs (the services and e2e projects' global setups) make the same cluster-wide role.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await migrate(databaseUrl(name, adminUrl), options.log ?? (() => {}), {
          appUrl: appUrlOf(databaseUrl(name, adminUrl)),
        });
        break;
      } catch (err) {
        if (attempt >= 5 || !/already exists|concurrently|duplicate key/.test(String(err))) throw err;
        await sleep(50 * attempt);
      }
    }
    await withAdmin(adminUrl, async (admin) => {
      // No one may connect from now on: CREATE DATABASE ... TEMPLATE fails while anyone is connected.
      await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    });
  } catch (err) {
    await dropTemplateDatabase(name, { adminUrl }).catch(() => {});
    throw err;
  }
  return name;
}

/**
 * Drops the template and every copy made from it by `createTestDatabase` (connections are terminated).
 * @example await dropTemplateDatabase(template);
 */
export async function dropTemplateDatabase(
  template: string,
  { adminUrl = pgAdminUrl() } = {},
): Promise<void> {
  assertIdentifier(template);
  await withAdmin(adminUrl, async (admin) => {
    const copies = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE left(datname, length($1) + 1) = $1 || $2',
      [template, '_'],
    );
    for (const { datname } of copies.rows) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    }
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)} WITH (FORCE)`);
  });
}

/**
 * Drops templates and copies left behind by runs that started more than `olderThanMs` ago and never
 * cleaned up (killed runs). The age comes from the time stamp in the name, so it is safe when several
 * hosts share the server. Returns the names dropped.
 */
export async function dropStaleTestDatabases({
  adminUrl = pgAdminUrl(),
  olderThanMs = 6 * 60 * 60 * 1000,
} = {}): Promise<string[]> {
  return withAdmin(adminUrl, async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE left(datname, $2) = $1',
      [NAME_PREFIX, NAME_PREFIX.length],
    );
    const dropped: string[] = [];
    for (const { datname } of rows) {
      const stamp = /^studylink_tpl_\d+_([0-9a-z]+)_/.exec(datname)?.[1];
      const startedAt = stamp ? Number.parseInt(stamp, 36) : Number.NaN;
      if (Number.isNaN(startedAt) || Date.now() - startedAt < olderThanMs) continue;
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
      dropped.push(datname);
    }
    return dropped;
  });
}

/**
 * `url` connecting as the application role `TEST_APP_ROLE` (with TEST_APP_PASSWORD) instead of the admin.
 * @example appUrlOf('postgres://postgres@127.0.0.1:5432/x') // 'postgres://studylink_test_app:...@127.0.0.1:5432/x'
 */
export function appUrlOf(url: string): string {
  const parsed = new URL(url);
  parsed.username = TEST_APP_ROLE;
  parsed.password = TEST_APP_PASSWORD;
  return parsed.toString();
}

export interface TestDatabase {
  /**
   * Connection URL of the new database as the application role (what DATABASE_URL is in
   * production): it may INSERT and SELECT the access log, never change it.
   */
  url: string;
  /** The same database as its owner (what MIGRATION_DATABASE_URL is): for migrations and fixtures. */
  ownerUrl: string;
  /** Its name (`<template>_<pid>_<n>`). */
  name: string;
  /** Drops it, terminating connections still open (idempotent). */
  drop(): Promise<void>;
}

let copies = 0;

/**
 * A fresh, migrated database copied from the template. Inside vitest (projects `services`, `e2e`) the
 * template comes from the global setup; elsewhere pass it.
 * @example const db = await createTestDatabase(); afterAll(() => db.drop());
 */
export async function createTestDatabase(
  options: { template?: string; adminUrl?: string } = {},
): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? pgAdminUrl();
  const template = options.template ?? (await injectedTemplate());
  assertIdentifier(template);
  copies += 1;
  const name = `${template}_${process.pid}_${copies}`;
  assertIdentifier(name);
  await withAdmin(adminUrl, async (admin) => {
    // "source database is being accessed by other users": someone (a just-closed migration connection,
    // a debugging psql) is still connected to the template. It goes away quickly; retry for a while.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== OBJECT_IN_USE || attempt >= 50) throw err;
        await sleep(Math.min(20 * attempt, 200));
      }
    }
  });
  let dropped = false;
  return {
    url: appUrlOf(databaseUrl(name, adminUrl)),
    ownerUrl: databaseUrl(name, adminUrl),
    name,
    async drop() {
      if (dropped) return;
      await withAdmin(adminUrl, (admin) =>
        admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
      );
      dropped = true;
    },
  };
}

async function injectedTemplate(): Promise<string> {
  let template: string | undefined;
  try {
    const { inject } = await import('vitest');
    template = inject('pgTemplate');
  } catch {
    template = undefined;
  }
  if (!template) {
    throw new Error(
      'createTestDatabase: no template database. Run under a vitest project whose globalSetup is ' +
        'packages/testkit/src/global-setup.ts, or pass { template } from createTemplateDatabase().',
    );
  }
  return template;
}

async function withAdmin<T>(adminUrl: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

// CREATE/DROP DATABASE take no bind parameters, so names are checked and quoted instead.
function assertIdentifier(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new Error(`not a safe database name: ${JSON.stringify(name)}`);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
