import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger } from '@studylink/service-kit';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startTokenService } from '../src/main.js';

// At start the token service says which setup values came from the environment and which from the
// stored setup, and warns loudly when DATABASE_URL's role could change the access log.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function startWith(databaseUrl: string, extra: Record<string, string> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    DICOMWEB_URL: 'http://127.0.0.1:9/dicom-web',
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    INTERNAL_SECRET: randomBytes(32).toString('hex'),
    TOKEN_SERVICE_PORT: '0',
    TOKEN_SERVICE_INTERNAL_PORT: '0',
    ...extra,
  });
  const service = await startTokenService(
    config,
    createLogger({ service: 'token-service', level: 'info', destination: sink }),
  );
  await service.stop();
  return lines;
}

describe('start-up log', () => {
  it('names the setup values from the environment and from the stored setup; no warning as the application role', async () => {
    const lines = await startWith(db.url, { SSL: 'true', PUBLIC_PORT: '443' });
    const setup = lines.find((l) => String(l.msg).startsWith('server setup'));
    expect(setup?.fromEnvironment).toEqual(expect.arrayContaining(['port (PUBLIC_PORT)', 'ssl (SSL)']));
    expect(setup?.stored).toEqual(expect.arrayContaining(['institution', 'serverName']));
    expect(lines.some((l) => String(l.msg).includes('can change or remove access-log rows'))).toBe(false);
  });

  it("warns when next month's access-log partition is missing (the maintenance is not scheduled)", async () => {
    const quiet = await startWith(db.url);
    expect(quiet.some((l) => String(l.msg).includes('partition does not exist'))).toBe(false);
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    try {
      const next = new Date();
      next.setUTCDate(1);
      next.setUTCMonth(next.getUTCMonth() + 1);
      const name = `access_log_${next.getUTCFullYear()}_${String(next.getUTCMonth() + 1).padStart(2, '0')}`;
      await owner.query(`DROP TABLE ${name}`);
      const lines = await startWith(db.url);
      const warning = lines.find((l) => String(l.msg).includes('partition does not exist'));
      expect(warning).toMatchObject({ level: 'warn', partition: name });
    } finally {
      await owner.end();
    }
  });

  it('warns when DATABASE_URL connects as the owner', async () => {
    const lines = await startWith(db.ownerUrl);
    const warning = lines.find((l) => String(l.msg).includes('can change or remove access-log rows'));
    expect(warning?.level).toBe('warn');
  });
});
