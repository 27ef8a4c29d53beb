import { createTestDatabase, freePort, type TestDatabase } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/db/database.js';
import { createReadiness, defaultMigrationsDir, expectedMigrations } from '../src/health/readiness.js';

// The token service's /readyz, which compose's health check (and so export-service and nginx)
// waits on: against a real PostgreSQL migrated by migrations/migrate.mjs.
let testDb: TestDatabase;
let database: Database;
beforeAll(async () => {
  testDb = await createTestDatabase();
  database = createDatabase({ url: testDb.url, statementTimeoutMs: 5000 });
});
afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

describe('readiness', () => {
  it('is ready when the database answers and every migration shipped is applied', async () => {
    const expected = await expectedMigrations(defaultMigrationsDir());
    expect(expected?.length).toBeGreaterThan(5);
    const ready = await createReadiness({ db: database.db, expected, isDraining: () => false })();
    expect(ready).toEqual({ ready: true, checks: { draining: 'no', database: 'ok', migrations: 'ok' } });
  });

  it('is not ready while a migration of this build is not applied (a new image before migrate)', async () => {
    const expected = [
      ...((await expectedMigrations(defaultMigrationsDir())) ?? []),
      '9999_from_the_future.sql',
    ];
    const readiness = createReadiness({ db: database.db, expected, isDraining: () => false });
    const report = await readiness();
    expect(report.ready).toBe(false);
    expect(report.checks.migrations).toBe('behind: 9999_from_the_future.sql not applied');
  });

  it('is not ready while draining, nor when the database does not answer', async () => {
    const expected = await expectedMigrations(defaultMigrationsDir());
    const draining = await createReadiness({ db: database.db, expected, isDraining: () => true })();
    expect(draining).toMatchObject({ ready: false, checks: { draining: 'yes', database: 'ok' } });
    const nowhere = createDatabase({
      url: `postgres://nobody@127.0.0.1:${await freePort()}/none`,
      statementTimeoutMs: 1000,
    });
    try {
      const down = await createReadiness({ db: nowhere.db, expected, isDraining: () => false })();
      expect(down).toEqual({
        ready: false,
        checks: { draining: 'no', database: 'down', migrations: 'unknown' },
      });
    } finally {
      await nowhere.close();
    }
  });
});
