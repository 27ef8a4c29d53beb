import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.js';

/** What /readyz answers: ready (200) or not (503), with each check's state. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

/** The SQL migrations shipped beside the code (the image copies migrations/ there too). */
export function defaultMigrationsDir(): string {
  return fileURLToPath(new URL('../../../../migrations', import.meta.url));
}

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

/** The migration files this build expects applied; null when the directory is not there. */
export async function expectedMigrations(dir: string): Promise<string[] | null> {
  try {
    return (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  } catch {
    return null;
  }
}

/** The repository of schema_migrations: the names recorded as applied. */
async function appliedMigrations(db: Kysely<DB>): Promise<Set<string>> {
  const rows = await db.selectFrom('schema_migrations').select('name').execute();
  return new Set(rows.map((r) => r.name));
}

/**
 * The token service's readiness: the database answers, every migration this build ships is
 * applied (a new image on a database the `migrate` one-shot has not brought up yet is not ready),
 * and no SIGTERM has arrived. Once the migrations were seen applied they are not asked again.
 * @example const readiness = createReadiness({ db, expected: await expectedMigrations(dir), isDraining });
 */
export function createReadiness(deps: {
  db: Kysely<DB>;
  /** null: no migrations directory beside the code (the check says `unknown`, not a failure). */
  expected: readonly string[] | null;
  isDraining: () => boolean;
}): () => Promise<Readiness> {
  let migrationsApplied = deps.expected === null;
  return async () => {
    const checks: Record<string, string> = { draining: deps.isDraining() ? 'yes' : 'no' };
    try {
      await deps.db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
      checks.database = 'ok';
    } catch {
      checks.database = 'down';
    }
    if (migrationsApplied) {
      checks.migrations = deps.expected === null ? 'unknown' : 'ok';
    } else if (checks.database === 'down') {
      checks.migrations = 'unknown';
    } else {
      try {
        const applied = await appliedMigrations(deps.db);
        const missing = (deps.expected ?? []).filter((m) => !applied.has(m));
        migrationsApplied = missing.length === 0;
        checks.migrations = migrationsApplied ? 'ok' : `behind: ${missing.join(', ')} not applied`;
      } catch {
        checks.migrations = 'behind: no schema_migrations table';
      }
    }
    const ready = checks.database === 'ok' && migrationsApplied && !deps.isDraining();
    return { ready, checks };
  };
}
