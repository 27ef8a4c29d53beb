import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pgAdminUrl } from '@studylink/testkit';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { ROOT } from '../scripts/stack.mjs';
import { runCommand } from './support/e2e-stack.js';

// The README's own command, as a newcomer runs it: `make dev` with nothing configured brings up a
// local database, a demo Orthanc, both services and nginx, and prints a demo link that works.
// It runs on a database and state directory of its own: `make test` never touches the `studylink`
// database and the .dev/ directory a developer's `make dev` uses.
let cleanup: (() => Promise<void>) | undefined;
// Named like the test kit's databases, so a killed run's leftover is dropped by the next run.
const DEV_DB = `studylink_tpl_${process.pid}_${Date.now().toString(36)}_quickstart`;
afterAll(async () => {
  await cleanup?.();
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${DEV_DB}" WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS "${DEV_DB}_app"`);
  });
});

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: pgAdminUrl() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** What the developer's own `make dev` database looks like (null: there is none), to see it untouched. */
const devDatabaseState = () =>
  admin(async (c) => {
    const exists = await c.query("SELECT 1 FROM pg_database WHERE datname = 'studylink'");
    if (exists.rowCount === 0) return null;
    const dev = new pg.Client({ connectionString: pgAdminUrl().replace(/\/[^/]*$/, '/studylink') });
    await dev.connect();
    try {
      const tables = await dev.query("SELECT to_regclass('server_config') AS t");
      if (!tables.rows[0].t) return 'empty';
      const rows = await dev.query('SELECT * FROM server_config');
      const tokens = await dev.query('SELECT count(*)::int AS n, max(id) AS last FROM tokens');
      return JSON.stringify({ config: rows.rows, tokens: tokens.rows });
    } finally {
      await dev.end();
    }
  });

it('make dev prints a demo link whose page and zip work, and Ctrl-C stops everything', async () => {
  const ports = {
    PUBLIC_PORT: await freePort(),
    TOKEN_SERVICE_PORT: await freePort(),
    EXPORT_SERVICE_PORT: await freePort(),
  };
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  delete env.DATABASE_URL;
  delete env.MIGRATION_DATABASE_URL;
  delete env.DICOMWEB_URL;
  const stateDir = await mkdtemp(join(tmpdir(), 'studylink-quickstart-state-'));
  env.STUDYLINK_STATE_DIR = stateDir;
  env.STUDYLINK_DEV_DATABASE = DEV_DB;
  const devBefore = await devDatabaseState();
  // Its own process group, so the test can send Ctrl-C to make and everything below it, as a terminal does.
  const make = spawn('make', ['dev'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  make.stdout.on('data', (d) => {
    out += d;
  });
  make.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => make.once('exit', (code) => resolve(code)));
  cleanup = async () => {
    try {
      process.kill(-(make.pid as number), 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  };

  const deadline = Date.now() + 150_000;
  let link: string | undefined;
  while (!link && Date.now() < deadline && make.exitCode === null) {
    link = /Demo link: {2}(http:\/\/\S+)/.exec(out)?.[1];
    if (!link) await new Promise((r) => setTimeout(r, 250));
  }
  expect(link, out.slice(-3000)).toMatch(
    new RegExp(`^http://127\\.0\\.0\\.1:${ports.PUBLIC_PORT}/token\\?[A-Za-z0-9]{64}$`),
  );

  const page = await fetch(link as string);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('DEMO, PATIENT');
  const href = /href="(\/token\/study\.zip\?[A-Za-z0-9]{64})"/.exec(html)?.[1];
  expect(href).toBeDefined();

  const dir = await mkdtemp(join(tmpdir(), 'studylink-quickstart-'));
  try {
    const zip = join(dir, 'study.zip');
    const curl = await runCommand('curl', [
      '-sS',
      '-f',
      '-o',
      zip,
      `http://127.0.0.1:${ports.PUBLIC_PORT}${href}`,
    ]);
    expect(curl.code, curl.stderr).toBe(0);
    const test = await runCommand('unzip', ['-t', zip]);
    expect(test.code, test.stdout).toBe(0);
    expect(test.stdout).toContain('DICOMDIR');
    expect(test.stdout).toMatch(/DICOM\/S0000001\/I0000001/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  // The demo staff administrator it printed signs in with the password in its secrets file.
  const staffLine = /Staff: {6}(http:\/\/\S+) as (\S+) \(STAFF_ADMIN_PASSWORD in (\S+)\)/.exec(out);
  expect(staffLine, out.slice(-3000)).not.toBeNull();
  const [, staffUrl, username, secretsFile] = staffLine as RegExpExecArray;
  expect(secretsFile).toBe(join(stateDir, 'secrets.env'));
  const password = /^STAFF_ADMIN_PASSWORD=(\S+)$/m.exec(await readFile(secretsFile as string, 'utf8'))?.[1];
  expect(password).toMatch(/^[A-Za-z0-9_-]{16,}$/);
  const signInPage = await fetch(`${staffUrl}sign-in`);
  const cookie = (signInPage.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await signInPage.text())?.[1] as string;
  const signIn = await fetch(`${staffUrl}sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ _csrf: csrf, username: username as string, password: password as string }),
  });
  expect(signIn.status).toBe(303);
  expect(signIn.headers.get('location')).not.toContain('sign-in');

  // The services connect as the application role, not the owner.
  const appRole = await admin((c) =>
    c.query(
      "SELECT usename FROM pg_stat_activity WHERE datname = $1 AND application_name = 'token-service'",
      [DEV_DB],
    ),
  );
  expect(appRole.rows.map((r) => r.usename)).toContain(`${DEV_DB}_app`);

  process.kill(-(make.pid as number), 'SIGINT');
  await exited;
  expect(await devDatabaseState()).toEqual(devBefore);
  await rm(stateDir, { recursive: true, force: true });
  // Nothing it started still answers.
  for (const port of Object.values(ports)) {
    await expect(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }
}, 240_000);
