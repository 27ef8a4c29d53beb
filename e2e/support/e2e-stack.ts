import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  freePort,
  type OrthancInstance,
  startOrthanc,
  type TestDatabase,
} from '@studylink/testkit';
import { ROOT, type Stack, startStack } from '../../scripts/stack.mjs';

export const ARTIFACTS = join(ROOT, 'e2e', 'artifacts');

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies are asserted field by field
export type Json = Record<string, any>;

export interface E2EStack {
  stack: Stack;
  orthanc: OrthancInstance;
  db: TestDatabase;
  url: string;
  adminKey: string;
  logDir: string;
  api(
    method: string,
    path: string,
    body?: unknown,
    key?: string | null,
  ): Promise<{ status: number; json: Json; headers: Headers }>;
  /** PUT the study's token through nginx; returns the token and its link. */
  issueToken(studyUid: string): Promise<{ token: string; url: string }>;
  /** Every line the stack logged so far (both services and nginx), for secret scans. */
  allLogs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The real stack, as `make dev` runs it (scripts/stack.mjs): migrations, both services and nginx,
 * on free loopback ports, against a private Orthanc and a private PostgreSQL database, logging at
 * debug level into e2e/artifacts/logs/<name>/.
 */
export async function startE2EStack(
  name: string,
  opts: {
    env?: Record<string, string>;
    orthanc?: OrthancInstance;
    /** Replicas of each service behind nginx (default 1). */
    replicas?: number;
  } = {},
): Promise<E2EStack> {
  const replicaPorts: { token: number; tokenInternal: number; export: number; exportInternal: number }[] = [];
  for (let i = 1; i < (opts.replicas ?? 1); i += 1)
    replicaPorts.push({
      token: await freePort(),
      tokenInternal: await freePort(),
      export: await freePort(),
      exportInternal: await freePort(),
    });
  const orthanc = opts.orthanc ?? (await startOrthanc());
  const db = await createTestDatabase();
  const logDir = join(ARTIFACTS, 'logs', `${name}-${Date.now()}`);
  await mkdir(logDir, { recursive: true });
  const adminKey = `slk_${randomBytes(32).toString('base64url')}`;
  // Free ports are picked before the processes bind them: another suite may take one in between
  // (seen once: nginx exited at start under a loaded run). Start again on fresh ports, a few times.
  const env = {
    // The services as the application role; the migrations as the owner.
    DATABASE_URL: db.url,
    MIGRATION_DATABASE_URL: db.ownerUrl,
    DICOMWEB_URL: orthanc.dicomwebUrl,
    ADMIN_API_KEY: adminKey,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    INTERNAL_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'debug',
    // Tests send many requests from one address; the rate limit has its own test.
    NGINX_TOKEN_RATE: '1000r/s',
    ...opts.env,
  };
  const start = async () =>
    startStack({
      env,
      publicPort: await freePort(),
      tokenPort: await freePort(),
      exportPort: await freePort(),
      tokenInternalPort: await freePort(),
      exportInternalPort: await freePort(),
      replicaPorts,
      logDir,
      stateDir: await mkdtemp(join(tmpdir(), 'studylink-e2e-')),
    });
  const stack: Stack = await start().catch(async function retry(err: Error, attempt = 1): Promise<Stack> {
    if (attempt >= 3 || !/process exited/.test(String(err.message))) throw err;
    return start().catch((next: Error) => retry(next, attempt + 1));
  });
  const url = stack.publicUrl;
  const api: E2EStack['api'] = async (method, path, body, key = adminKey) => {
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
  };
  return {
    stack,
    orthanc,
    db,
    url,
    adminKey,
    logDir,
    api,
    async issueToken(studyUid) {
      const r = await api('PUT', `/api/v1/studies/${studyUid}/token`);
      if (r.status !== 200 && r.status !== 201)
        throw new Error(`issuing a token failed: ${r.status} ${JSON.stringify(r.json)}`);
      return { token: r.json.token as string, url: r.json.url as string };
    },
    async allLogs() {
      const files = await readdir(logDir);
      const texts = await Promise.all(files.map((f) => readFile(join(logDir, f), 'utf8')));
      return texts.join('\n');
    },
    async stop() {
      await stack.stop();
      if (!opts.orthanc) await orthanc.stop();
      await db.drop();
    },
  };
}

/** Runs a command and collects its output and exit code (curl, unzip, dcmdump). */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
