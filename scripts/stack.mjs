// The native stack: migrations, token service, export service and nginx on loopback, plus
// PostgreSQL and a demo Orthanc when DATABASE_URL / DICOMWEB_URL are not given. Used by
// `make dev` (scripts/dev.mjs), the e2e suite and the benchmarks, so all three run the same thing.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEMO_SAMPLES, DEMO_STUDY_UID } from '../deploy/demo-study.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Fixed demo study UID (shared with `make up`), so a demo link survives restarts of `make dev`.
export { DEMO_STUDY_UID };

/**
 * Node flags of the export service, the same as its Dockerfile's NODE_OPTIONS: a small young
 * generation (1 MB semi-spaces): the zip stream allocates fast and short-lived (make bench, quiet
 * machine: peak RSS of three 200 MB exports 123 → 104-106 MB with 4 → 1 MB, export ÷ relay 0.82-0.88).
 */
const EXPORT_NODE_FLAGS = ['--max-semi-space-size=1'];
/**
 * Its environment beyond the stack's, the same as its Dockerfile's ENV: glibc's malloc keeps two
 * arenas, not eight a core (make bench, quiet machine: peak RSS of three 200 MB exports 158 → 141 MB,
 * 20 at once 213 → 194 MB, throughput unchanged).
 */
const EXPORT_ENV = { MALLOC_ARENA_MAX: '2' };

const log = (msg, extra = {}) =>
  process.stderr.write(`${JSON.stringify({ service: 'stack', msg, ...extra })}\n`);

/** Reads KEY=VALUE lines (the dev secrets file). */
async function readEnvFile(path) {
  if (!existsSync(path)) return {};
  const out = {};
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/**
 * Secrets for a development stack: taken from the environment, else generated once into
 * .dev/secrets.env (mode 600, git-ignored) so tokens stay decryptable across restarts.
 */
export async function devSecrets(env, stateDir) {
  const file = join(stateDir, 'secrets.env');
  const saved = await readEnvFile(file);
  const secrets = {
    TOKEN_ENCRYPTION_KEY:
      env.TOKEN_ENCRYPTION_KEY || saved.TOKEN_ENCRYPTION_KEY || randomBytes(32).toString('hex'),
    INTERNAL_SECRET: env.INTERNAL_SECRET || saved.INTERNAL_SECRET || randomBytes(32).toString('hex'),
    // Prometheus's own credential for /metrics (not the internal secret).
    METRICS_TOKEN: env.METRICS_TOKEN || saved.METRICS_TOKEN || randomBytes(32).toString('hex'),
    ADMIN_API_KEY: env.ADMIN_API_KEY || saved.ADMIN_API_KEY || `slk_${randomBytes(32).toString('base64url')}`,
    // The local database's application role (DATABASE_URL), a member of studylink_app.
    APP_DATABASE_PASSWORD: saved.APP_DATABASE_PASSWORD || randomBytes(24).toString('hex'),
    // The demo staff administrator `make dev` makes (staff interface at /staff/).
    STAFF_ADMIN_USERNAME: env.STAFF_ADMIN_USERNAME || saved.STAFF_ADMIN_USERNAME || 'admin',
    STAFF_ADMIN_PASSWORD:
      env.STAFF_ADMIN_PASSWORD || saved.STAFF_ADMIN_PASSWORD || randomBytes(12).toString('base64url'),
  };
  await mkdir(stateDir, { recursive: true });
  await writeFile(
    file,
    `${Object.entries(secrets)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  return { secrets, file };
}

async function canConnect(url) {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * A local PostgreSQL database on 127.0.0.1:5432 (`studylink`, or STUDYLINK_DEV_DATABASE), starting
 * the cluster if needed. Returns the owner's URL (the local superuser runs the migrations) and the
 * application role's (`<database>_app`, made by the migration runner; `studylink_app` for the
 * default database), with which the services connect.
 */
async function localDatabase(name, appPassword) {
  if (!/^[a-z_][a-z0-9_]{0,58}$/.test(name)) throw new Error(`not a database name for make dev: ${name}`);
  const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!(await canConnect(admin))) {
    log('PostgreSQL is not answering on 127.0.0.1:5432; trying to start the local cluster');
    await run('bash', [
      '-c',
      'v=$(ls /etc/postgresql | sort -V | tail -n1) && pg_ctlcluster --skip-systemctl-redirect "$v" main start',
    ]).catch(() => {});
    for (let i = 0; i < 30 && !(await canConnect(admin)); i++) await sleep(1000);
    if (!(await canConnect(admin))) {
      throw new Error(
        'no PostgreSQL on 127.0.0.1:5432: install it (apt-get install postgresql) or set DATABASE_URL',
      );
    }
  }
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) await c.query(`CREATE DATABASE "${name}"`);
  await c.end();
  const appRole = name === 'studylink' ? 'studylink_app' : `${name}_app`;
  return {
    adminUrl: admin,
    database: name,
    ownerUrl: `postgres://postgres@127.0.0.1:5432/${name}`,
    appUrl: `postgres://${appRole}:${appPassword}@127.0.0.1:5432/${name}`,
  };
}

/** A demo Orthanc with the DICOMweb plugin, loaded with sample studies and one synthetic CT. */
async function demoStore(stateDir) {
  const { startOrthanc, loadDemoData } = await import('@studylink/testkit');
  const orthanc = await startOrthanc({ dir: stateDir });
  await loadDemoData(orthanc, { studyInstanceUid: DEMO_STUDY_UID, samples: DEMO_SAMPLES });
  log('demo store ready', { dicomweb: orthanc.dicomwebUrl });
  return orthanc;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function run(cmd, args, opts = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

async function waitFor(url, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

function which(names) {
  for (const n of names) {
    for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
      if (existsSync(join(d, n))) return join(d, n);
    }
  }
  return null;
}

/** Fills ${VAR} placeholders; nginx's own $variables have no braces and stay as they are. */
export function renderTemplate(text, vars) {
  return text.replace(/\$\{([A-Z_]+)\}/g, (_, k) => {
    if (!(k in vars)) throw new Error(`template variable ${k} has no value`);
    return String(vars[k]);
  });
}

/**
 * Starts the stack and resolves once nginx answers. Options override the environment:
 * { env, publicPort, tokenPort, exportPort, tokenInternalPort, exportInternalPort, logDir, stateDir, demo,
 * tokenEnv } (tokenEnv: extra environment for the token service alone).
 * Returns { publicUrl, env, adminApiKey, demoStudyUid, logs, stop() }.
 */
export async function startStack(options = {}) {
  const env = { ...process.env, ...(options.env ?? {}) };
  const stateDir = options.stateDir ?? join(ROOT, '.dev');
  await mkdir(stateDir, { recursive: true });
  const logDir = options.logDir ?? null;
  if (logDir) await mkdir(logDir, { recursive: true });
  const children = [];
  let orthanc = null;
  let runtimeDir = null;
  let stopping = false;

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const c of children.slice().reverse()) {
      if (c.proc.exitCode === null && c.proc.signalCode === null)
        c.proc.kill(c.name === 'nginx' ? 'SIGQUIT' : 'SIGTERM');
    }
    await Promise.all(
      children.map(
        (c) =>
          new Promise((r) => {
            if (c.proc.exitCode !== null || c.proc.signalCode !== null) return r();
            const t = setTimeout(() => {
              c.proc.kill('SIGKILL');
            }, 15_000);
            c.proc.once('exit', () => {
              clearTimeout(t);
              r();
            });
          }),
      ),
    );
    if (orthanc) await orthanc.stop();
    if (runtimeDir) await rm(runtimeDir, { recursive: true, force: true });
  };

  try {
    const { secrets, file: secretsFile } = await devSecrets(env, stateDir);
    // Two roles, as in production: the owner migrates, the services connect as the application role.
    const local = env.DATABASE_URL
      ? null
      : await localDatabase(env.STUDYLINK_DEV_DATABASE || 'studylink', secrets.APP_DATABASE_PASSWORD);
    const databaseUrl = local ? local.appUrl : env.DATABASE_URL;
    const ownerUrl = local ? local.ownerUrl : env.MIGRATION_DATABASE_URL;
    let dicomwebUrl = env.DICOMWEB_URL;
    if (!dicomwebUrl) {
      orthanc = await demoStore(stateDir);
      dicomwebUrl = orthanc.dicomwebUrl;
    }
    const { migrate } = await import(join(ROOT, 'migrations', 'migrate.mjs'));
    const migrationLog = (line) => process.stderr.write(`${line}\n`);
    if (ownerUrl) await migrate(ownerUrl, migrationLog, { appUrl: databaseUrl });
    else {
      log(
        'MIGRATION_DATABASE_URL is not set: migrating as DATABASE_URL, whose role can then change the access log',
      );
      await migrate(databaseUrl, migrationLog);
    }
    // The local cluster trusts loopback: its application roles need their password, and reach their
    // own database only (scripts/pg-access.mjs).
    if (local) {
      const { secureAppAccess } = await import(join(ROOT, 'scripts', 'pg-access.mjs'));
      await secureAppAccess(local.adminUrl, local.database, (msg) => log(msg));
    }

    const publicPort = Number(options.publicPort ?? env.PUBLIC_PORT ?? 3000);
    const tokenPort = Number(options.tokenPort ?? env.TOKEN_SERVICE_PORT ?? 3001);
    const exportPort = Number(options.exportPort ?? env.EXPORT_SERVICE_PORT ?? 3002);
    // The internal listeners: grant checks, access events and /metrics, behind the shared secret.
    const tokenInternalPort = Number(options.tokenInternalPort ?? env.TOKEN_SERVICE_INTERNAL_PORT ?? 3011);
    const exportInternalPort = Number(options.exportInternalPort ?? env.EXPORT_SERVICE_INTERNAL_PORT ?? 3012);
    const common = {
      ...env,
      DATABASE_URL: databaseUrl,
      DICOMWEB_URL: dicomwebUrl,
      INTERNAL_SECRET: secrets.INTERNAL_SECRET,
      METRICS_TOKEN: secrets.METRICS_TOKEN,
      HOST: '127.0.0.1',
      TRUSTED_PROXIES: '127.0.0.1,::1',
    };

    const startNode = (name, script, extraEnv, nodeFlags = []) => {
      const proc = spawn(process.execPath, ['--enable-source-maps', ...nodeFlags, join(ROOT, script)], {
        env: { ...common, ...extraEnv },
        stdio: ['ignore', logDir ? 'pipe' : 'inherit', logDir ? 'pipe' : 'inherit'],
      });
      if (logDir) {
        const out = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
        proc.stdout.pipe(out);
        proc.stderr.pipe(out);
      }
      children.push({ name, proc });
      return proc;
    };

    const tokenReplicaEnv = {
      // The port in links (it wins over the stored setup): this stack's own, unless the caller names
      // another one for its links (a port forwarded to this one, as the e2e tests pretend).
      PUBLIC_PORT: options.publicPort !== undefined && env.PUBLIC_PORT ? env.PUBLIC_PORT : String(publicPort),
      TOKEN_ENCRYPTION_KEY: secrets.TOKEN_ENCRYPTION_KEY,
      ADMIN_API_KEY: secrets.ADMIN_API_KEY,
      // make dev (its own local database): a demo staff administrator, as `make up` makes.
      ...(local
        ? {
            STAFF_ADMIN_USERNAME: secrets.STAFF_ADMIN_USERNAME,
            STAFF_ADMIN_PASSWORD: secrets.STAFF_ADMIN_PASSWORD,
          }
        : {}),
      // make bench counts the token service's store requests through a proxy of its own.
      ...(options.tokenEnv ?? {}),
    };
    const token = startNode('token-service', 'services/token-service/dist/main.js', {
      ...tokenReplicaEnv,
      TOKEN_SERVICE_PORT: String(tokenPort),
      TOKEN_SERVICE_INTERNAL_PORT: String(tokenInternalPort),
    });
    const exporter = startNode(
      'export-service',
      'services/export-service/dist/main.js',
      {
        EXPORT_SERVICE_PORT: String(exportPort),
        EXPORT_SERVICE_INTERNAL_PORT: String(exportInternalPort),
        TOKEN_SERVICE_INTERNAL_URL: `http://127.0.0.1:${tokenInternalPort}`,
        ...EXPORT_ENV,
      },
      EXPORT_NODE_FLAGS,
    );
    await waitFor(`http://127.0.0.1:${tokenPort}/readyz`, 30_000, token);
    await waitFor(`http://127.0.0.1:${exportPort}/livez`, 30_000, exporter);

    // More replicas of each service (the two-replica e2e): the same environment on their own ports;
    // each export replica checks grants with its own token replica. nginx balances over all of them.
    const replicas = [{ token: tokenPort, export: exportPort, tokenInternal: tokenInternalPort }];
    for (const [i, ports] of (options.replicaPorts ?? []).entries()) {
      const n = i + 2;
      const t = startNode(`token-service-${n}`, 'services/token-service/dist/main.js', {
        ...tokenReplicaEnv,
        TOKEN_SERVICE_PORT: String(ports.token),
        TOKEN_SERVICE_INTERNAL_PORT: String(ports.tokenInternal),
      });
      const x = startNode(
        `export-service-${n}`,
        'services/export-service/dist/main.js',
        {
          EXPORT_SERVICE_PORT: String(ports.export),
          EXPORT_SERVICE_INTERNAL_PORT: String(ports.exportInternal),
          TOKEN_SERVICE_INTERNAL_URL: `http://127.0.0.1:${ports.tokenInternal}`,
          ...EXPORT_ENV,
        },
        EXPORT_NODE_FLAGS,
      );
      await waitFor(`http://127.0.0.1:${ports.token}/readyz`, 30_000, t);
      await waitFor(`http://127.0.0.1:${ports.export}/livez`, 30_000, x);
      replicas.push({ token: ports.token, export: ports.export, tokenInternal: ports.tokenInternal });
    }
    // One `server` line per replica (the template has one placeholder): a dead one is skipped for 10 s.
    const upstream = (key) =>
      replicas
        .map((r) => `127.0.0.1:${r[key]}${replicas.length > 1 ? ' max_fails=1 fail_timeout=10s' : ''}`)
        .join(';\n    server ');

    const nginxBin = which(['nginx']);
    if (!nginxBin) throw new Error('nginx is not installed (apt-get install nginx-light)');
    runtimeDir = await mkdtemp(join(tmpdir(), 'studylink-nginx-'));
    // nginx workers run as an unprivileged user when the master is root: let them write temp files.
    await chmod(runtimeDir, 0o777);
    const accessLog = logDir ? join(logDir, 'nginx-access.log') : join(stateDir, 'nginx-access.log');
    const conf = renderTemplate(await readFile(join(ROOT, 'services/nginx/nginx.conf.template'), 'utf8'), {
      LISTEN: `${env.NGINX_LISTEN_ADDRESS || '127.0.0.1'}:${publicPort}`,
      TOKEN_UPSTREAM: upstream('token'),
      EXPORT_UPSTREAM: upstream('export'),
      RUNTIME_DIR: runtimeDir,
      ACCESS_LOG: accessLog,
      ERROR_LOG: logDir ? join(logDir, 'nginx-error.log') : 'stderr',
      TOKEN_RATE: env.NGINX_TOKEN_RATE || '10r/s',
    });
    const confPath = join(runtimeDir, 'nginx.conf');
    await writeFile(confPath, conf);
    const nginx = spawn(
      nginxBin,
      [
        '-p',
        runtimeDir,
        '-c',
        confPath,
        '-e',
        logDir ? join(logDir, 'nginx-error.log') : 'stderr',
        '-g',
        'daemon off;',
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    children.push({ name: 'nginx', proc: nginx });
    const publicUrl = `http://127.0.0.1:${publicPort}`;
    await waitFor(`${publicUrl}/nginx-health`, 15_000, nginx);

    let demoLink = null;
    let configuredDemoLink = null;
    if (orthanc) {
      const demoToken = (method) =>
        fetch(`${publicUrl}/api/v1/studies/${DEMO_STUDY_UID}/token`, {
          method,
          headers: { authorization: `Bearer ${secrets.ADMIN_API_KEY}` },
        });
      let res = await demoToken('PUT');
      if (res.status === 409) {
        // The database kept a demo token from a run whose .dev/secrets.env is gone: replace it.
        await demoToken('DELETE');
        res = await demoToken('PUT');
      }
      if (res.ok) {
        // The link as the server setup builds it; a changed PUBLIC_PORT only seeds a new database,
        // so on loopback the demo link is the same path on the port this stack listens on.
        configuredDemoLink = (await res.json()).url;
        demoLink = `${publicUrl}${new URL(configuredDemoLink).pathname}${new URL(configuredDemoLink).search}`;
      } else log('could not issue the demo link', { status: res.status });
    }

    const exited = new Promise((r) => {
      for (const c of children) c.proc.once('exit', (code, signal) => r({ name: c.name, code, signal }));
    });
    return {
      publicUrl,
      databaseUrl,
      ownerUrl,
      staffAdmin: { username: secrets.STAFF_ADMIN_USERNAME, password: secrets.STAFF_ADMIN_PASSWORD },
      dicomwebUrl,
      adminApiKey: secrets.ADMIN_API_KEY,
      internalSecret: secrets.INTERNAL_SECRET,
      metricsToken: secrets.METRICS_TOKEN,
      secretsFile,
      tokenPort,
      exportPort,
      tokenInternalPort,
      exportInternalPort,
      demoLink,
      configuredDemoLink,
      accessLog,
      processes: Object.fromEntries(children.map((c) => [c.name, c.proc])),
      exited,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
