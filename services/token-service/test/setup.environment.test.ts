import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createDatabase, type Database } from '../src/db/database.js';
import { tokenUrl } from '../src/server-config/server-config.schema.js';
import { ServerConfigService, SetByEnvironmentError } from '../src/server-config/server-config.service.js';
import { SEED } from './harness.js';
import { DEFAULT_PASSWORD, type StaffHarness, startStaffHarness } from './staff.harness.js';

const BASE_ENV = {
  DATABASE_URL: 'postgres://app@127.0.0.1/x',
  DICOMWEB_URL: 'http://127.0.0.1:8042/dicom-web',
  TOKEN_ENCRYPTION_KEY: 'a'.repeat(64),
  INTERNAL_SECRET: 'b'.repeat(32),
};

describe('settings that follow the environment', () => {
  it('loadConfig: set variables are the setup fields that win; empty ones count as unset', () => {
    const c = loadConfig({
      ...BASE_ENV,
      SSL: 'true',
      PUBLIC_PORT: '443',
      SERVER_NAME: 'pacs.example.org',
      PUBLIC_ADDRESS: '',
    });
    expect(c.setupFromEnv).toEqual({ ssl: true, port: 443, serverName: 'pacs.example.org' });
    expect(loadConfig(BASE_ENV).setupFromEnv).toEqual({});
  });

  let db: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    db = await createTestDatabase();
    database = createDatabase({ url: db.url });
  });
  afterAll(async () => {
    await database?.close();
    await db?.drop();
  });

  it('SSL set later wins over the stored setup: links say https at once; unset again, the stored value is back', async () => {
    const first = new ServerConfigService(database.db, SEED);
    await first.ensureSeeded();
    expect(tokenUrl(await first.get(), 'T')).toBe('http://203.0.113.10:3000/token?T');
    // A restart with SSL=true and PUBLIC_PORT=443 (nginx is HTTPS-only now).
    const withTls = new ServerConfigService(database.db, SEED, { fromEnv: { ssl: true, port: 443 } });
    await withTls.ensureSeeded();
    expect(tokenUrl(await withTls.get(), 'T')).toBe('https://203.0.113.10/token?T');
    expect(await withTls.sources()).toMatchObject({
      ssl: 'environment',
      port: 'environment',
      institution: 'stored',
    });
    // The API refuses to change them, naming the variable; the same value is accepted.
    await expect(withTls.update({ ssl: false })).rejects.toThrow(SetByEnvironmentError);
    const both = await withTls.update({ ssl: false, port: 8443 }).catch((e: Error) => e);
    expect(String(both)).toContain('ssl is set by the environment (SSL)');
    expect(String(both)).toContain('port is set by the environment (PUBLIC_PORT)');
    const updated = await withTls.update({ ssl: true, port: 443, institution: 'Renamed' });
    expect(updated).toMatchObject({ ssl: true, port: 443, institution: 'Renamed' });
    // The stored values of environment fields were left alone.
    const back = new ServerConfigService(database.db, SEED);
    expect(await back.get()).toMatchObject({ ssl: false, port: 3000, institution: 'Renamed' });
    await back.update({ institution: SEED.institution });
  });

  it('a setup change through one replica shows in another within the cache bound, not before it reads again', async () => {
    const queries: string[] = [];
    const other = createDatabase({ url: db.url, onQuery: (q) => queries.push(q) });
    try {
      const a = new ServerConfigService(database.db, SEED, { cacheMs: 400 });
      const b = new ServerConfigService(other.db, SEED, { cacheMs: 400 });
      expect((await b.get()).department).toBe(SEED.department);
      const reads = queries.length;
      await a.update({ department: 'Nuclear Medicine' });
      // This replica: at once. The other: from its copy (no query) until the bound, then the change.
      expect((await a.get()).department).toBe('Nuclear Medicine');
      expect((await b.get()).department).toBe(SEED.department);
      expect(queries.length).toBe(reads);
      await new Promise((r) => setTimeout(r, 450));
      expect((await b.get()).department).toBe('Nuclear Medicine');
      await a.update({ department: SEED.department });
    } finally {
      await other.close();
    }
  });
});

describe('the setup page with fields from the environment', () => {
  let h: StaffHarness;
  beforeAll(async () => {
    h = await startStaffHarness({ setupFromEnv: { ssl: true, port: 443, serverName: 'pacs.example.org' } });
    await h.addUser('root', 'admin');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('shows them read-only, saying which variable sets them; saving keeps them and changes the rest', async () => {
    const admin = h.client();
    await admin.signInOrThrow('root', DEFAULT_PASSWORD);
    const page = await admin.get('/staff/setup');
    expect(page.text).toMatch(/id="f-port"[^>]*readonly data-set-by-environment="PUBLIC_PORT"/);
    expect(page.text).toMatch(/id="f-serverName"[^>]*readonly data-set-by-environment="SERVER_NAME"/);
    expect(page.text).toMatch(/id="f-ssl"[^>]*disabled data-set-by-environment="SSL"/);
    expect(page.text).toContain('Set by the environment (PUBLIC_PORT)');
    expect(page.text).toContain('https://pacs.example.org/token?…');
    expect(page.text).not.toMatch(/id="f-institution"[^>]*readonly/);
    // A crafted form that tries to change them (and leaves out the disabled checkbox) changes only the rest.
    const res = await admin.post('/staff/setup', {
      institution: 'Env Hospital',
      department: 'Radiology',
      publicAddress: '203.0.113.10',
      localAddress: '',
      port: '8080',
      serverName: 'evil.example.org',
      zipContent: 'as-stored',
      viewerUrl: '',
      defaultExpiryDays: '',
    });
    expect(res.status).toBe(303);
    const api = await fetch(`${h.url}/api/v1/server-config`, {
      headers: { authorization: `Bearer ${h.adminKey}` },
    });
    expect(await api.json()).toMatchObject({
      institution: 'Env Hospital',
      ssl: true,
      port: 443,
      serverName: 'pacs.example.org',
    });
    const refused = await fetch(`${h.url}/api/v1/server-config`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${h.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ssl: false }),
    });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { message: string } };
    expect(body.error.message).toContain('ssl is set by the environment (SSL)');
  });
});
