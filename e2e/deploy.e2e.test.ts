// The docker deployment, tested without a Docker engine:
// - nginx configured exactly as its image does it (services/nginx/docker/16-studylink.envsh, then
//   envsubst with the Dockerfile's filter), run natively: HTTPS with HSTS, plain HTTP without,
//   /metrics not routed, trusted proxies, a missing certificate refused;
// - the real stack: /metrics on each service's internal port (route templates, never a token)
//   and not through nginx; the key rotation command; the demo loader and `make up`'s link helper;
// - scripts/check-compose.mjs accepts docker-compose.yml and catches what it is for.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, writeSyntheticStudy } from '@studylink/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, DEMO_STUDY_UID as STACK_DEMO_UID } from '../scripts/stack.mjs';
import { TokenCipher } from '../services/token-service/src/tokens/token.crypto.js';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';

const TOKEN = '4m5RHRCmSrWYcnmk8lCThvg0qy2KHA7K5ZldW7ZDNsEKsZ68NcJU4b83UtnYJfwx';
const ANY_TOKEN = /[A-Za-z0-9]{64}/;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET over http or https; https without certificate checks (self-signed, 127.0.0.1). */
function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { headers, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET with the path sent exactly as given (URL objects would resolve `..` and `%2e%2e`). */
function getRaw(baseUrl: string, path: string): Promise<Reply> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ------------------------------------------------------------------ nginx as the image runs it

/** The ENV defaults of services/nginx/Dockerfile. */
function dockerfileEnv(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'services/nginx/Dockerfile'), 'utf8');
  const block = /^ENV ([\s\S]*?)\n\n/m.exec(text)?.[1] ?? '';
  const env: Record<string, string> = {};
  for (const m of block.matchAll(/([A-Z_]+)=(?:'([^']*)'|(\S+))/g)) env[m[1] as string] = m[2] ?? m[3] ?? '';
  return env;
}

// What the nginx image's entrypoint does: source our envsh, then envsubst the templates with
// NGINX_ENVSUBST_FILTER (the same awk/envsubst lines as 20-envsubst-on-templates.sh).
const RENDER = `set -e
. "$STUDYLINK_ENVSH"
filter="\${NGINX_ENVSUBST_FILTER:-}"
defined_envs=$(printf '\${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /\${filter}/ ) ? name : \\"\\" } }" < /dev/null ))
envsubst "$defined_envs" < "$STUDYLINK_TEMPLATE" > "$NGINX_ENVSUBST_OUTPUT_DIR/nginx.conf"
`;

function renderLikeTheImage(dir: string, env: Record<string, string>) {
  return spawnSync('sh', ['-c', RENDER], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      ...dockerfileEnv(),
      NGINX_ENVSUBST_OUTPUT_DIR: dir,
      RUNTIME_DIR: dir,
      ACCESS_LOG: join(dir, 'access.log'),
      ERROR_LOG: join(dir, 'error.log'),
      STUDYLINK_ENVSH: join(ROOT, 'services/nginx/docker/16-studylink.envsh'),
      STUDYLINK_TEMPLATE: join(ROOT, 'services/nginx/nginx.conf.template'),
      ...env,
    },
  });
}

interface Upstream {
  port: number;
  seen: { url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** Stands in for both services: answers every request with 200 and remembers it. */
async function startUpstream(): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.setHeader('content-type', 'text/plain');
    res.end('from upstream\n');
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Nginx {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** The image's HEALTHCHECK script, run against a natively started nginx. */
function healthcheck(nginx: Nginx) {
  return spawnSync('sh', [join(ROOT, 'services/nginx/docker/healthcheck.sh')], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      NGINX_ENVSUBST_OUTPUT_DIR: nginx.dir,
      NGINX_PORT: new URL(nginx.url).port,
    },
  });
}

async function startNginxLikeTheImage(env: Record<string, string>, upstream: Upstream): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-deploy-nginx-'));
  // nginx workers run as an unprivileged user when the master is root.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const rendered = renderLikeTheImage(dir, {
    NGINX_PORT: `127.0.0.1:${port}`,
    // Debian's nginx predates `server ... resolve`; the image (1.28) has it.
    TOKEN_UPSTREAM: `127.0.0.1:${upstream.port}`,
    EXPORT_UPSTREAM: `127.0.0.1:${upstream.port}`,
    ...env,
  });
  expect(rendered.status, rendered.stderr).toBe(0);
  const conf = await readFile(join(dir, 'nginx.conf'), 'utf8');
  expect(conf).not.toMatch(/\$\{[A-Z_]+\}/); // every placeholder filled
  expect(conf).toContain('"client":"$remote_addr"'); // nginx's own variables untouched

  const nginxArgs = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
  const test = spawnSync('nginx', [...nginxArgs, '-t'], { encoding: 'utf8' });
  expect(test.status, test.stderr).toBe(0);
  const proc: ChildProcess = spawn('nginx', [...nginxArgs, '-g', 'daemon off;'], { stdio: 'ignore' });
  const scheme = env.SSL === 'true' ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await get(`${url}/nginx-health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || proc.exitCode !== null) {
      throw new Error(
        `nginx did not start: ${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGQUIT');
        await new Promise((r) => proc.once('exit', r));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('nginx as its docker image configures it', () => {
  let upstream: Upstream;
  let certDir: string;
  beforeAll(async () => {
    upstream = await startUpstream();
    certDir = await mkdtemp(join(tmpdir(), 'studylink-deploy-tls-'));
    const openssl = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=studylink.example',
        '-keyout',
        join(certDir, 'tls.key'),
        '-out',
        join(certDir, 'tls.crt'),
      ],
      { encoding: 'utf8' },
    );
    expect(openssl.status, openssl.stderr).toBe(0);
  });
  afterAll(async () => {
    await upstream?.close();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  it('with SSL=true serves HTTPS with HSTS on every response, and keeps /metrics unrouted', async () => {
    const nginx = await startNginxLikeTheImage(
      {
        SSL: 'true',
        TLS_CERT_FILE: join(certDir, 'tls.crt'),
        TLS_KEY_FILE: join(certDir, 'tls.key'),
        REAL_IP_FROM: '127.0.0.1',
      },
      upstream,
    );
    try {
      const hsts = 'max-age=31536000';
      const page = await get(`${nginx.url}/token?${TOKEN}`, { 'x-forwarded-for': '203.0.113.7' });
      expect(page.status).toBe(200);
      expect(page.body).toBe('from upstream\n');
      expect(page.headers['strict-transport-security']).toBe(hsts);
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      // The load balancer at 127.0.0.1 is trusted (REAL_IP_FROM): its X-Forwarded-For is the client.
      expect(upstream.seen.at(-1)?.headers['x-real-ip']).toBe('203.0.113.7');
      expect(upstream.seen.at(-1)?.headers['x-forwarded-proto']).toBe('https');

      const zip = await get(`${nginx.url}/token/study.zip?${TOKEN}`);
      expect(zip.status).toBe(200);
      expect(zip.headers['strict-transport-security']).toBe(hsts);

      for (const path of ['/metrics', '/metrics?x=1', '/livez', '/readyz', '/internal/v1/grants']) {
        const res = await get(`${nginx.url}${path}`);
        expect(res.status, path).toBe(404);
        expect(res.body).not.toBe('from upstream\n');
        expect(res.headers['strict-transport-security'], path).toBe(hsts);
      }
      expect((await get(`${nginx.url}/nginx-health`)).headers['strict-transport-security']).toBe(hsts);
      const health = healthcheck(nginx);
      expect(health.status, health.stderr).toBe(0);
      expect(upstream.seen.some((s) => s.url.startsWith('/metrics'))).toBe(false);

      // Plain HTTP on the TLS port is refused.
      const plain = await get(`${nginx.url.replace('https:', 'http:')}/nginx-health`);
      expect(plain.status).toBe(400);
      expect(plain.headers['strict-transport-security']).toBeUndefined();

      // The access log has the path only: no token.
      const log = await readFile(join(nginx.dir, 'access.log'), 'utf8');
      expect(log).toContain('"path":"/token"');
      expect(log).not.toMatch(ANY_TOKEN);
    } finally {
      await nginx.stop();
    }
  });

  it('without SSL serves plain HTTP without HSTS and ignores a spoofed X-Forwarded-For', async () => {
    const nginx = await startNginxLikeTheImage({ SSL: 'false' }, upstream);
    try {
      const page = await get(`${nginx.url}/token?${TOKEN}`, {
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
      });
      expect(page.status).toBe(200);
      expect(page.headers['strict-transport-security']).toBeUndefined();
      expect(upstream.seen.at(-1)?.headers['x-real-ip']).toBe('127.0.0.1');
      // Nobody in front of nginx is trusted: a client's X-Forwarded-Proto is overwritten.
      expect(upstream.seen.at(-1)?.headers['x-forwarded-proto']).toBe('http');
      const metrics = await get(`${nginx.url}/metrics`);
      expect(metrics.status).toBe(404);
      expect(metrics.headers['strict-transport-security']).toBeUndefined();
      expect(existsSync(join(nginx.dir, 'studylink.d', 'tls.conf'))).toBe(false);
      const health = healthcheck(nginx);
      expect(health.status, health.stderr).toBe(0);
    } finally {
      await nginx.stop();
    }
  });

  it('behind a TLS-terminating load balancer (REAL_IP_FROM): its X-Forwarded-Proto is believed and passed on, with HSTS', async () => {
    const nginx = await startNginxLikeTheImage({ SSL: 'false', REAL_IP_FROM: '127.0.0.1' }, upstream);
    try {
      const page = await get(`${nginx.url}/token?${TOKEN}`, {
        'x-forwarded-for': '203.0.113.8',
        'x-forwarded-proto': 'https',
      });
      expect(page.status).toBe(200);
      expect(upstream.seen.at(-1)?.headers['x-real-ip']).toBe('203.0.113.8');
      expect(upstream.seen.at(-1)?.headers['x-forwarded-proto']).toBe('https');
      expect(page.headers['strict-transport-security']).toBe('max-age=31536000');
      // The balancer said http: http it is, and no HSTS.
      const plain = await get(`${nginx.url}/token?${TOKEN}`, {
        'x-forwarded-for': '203.0.113.8',
        'x-forwarded-proto': 'http',
      });
      expect(upstream.seen.at(-1)?.headers['x-forwarded-proto']).toBe('http');
      expect(plain.headers['strict-transport-security']).toBeUndefined();
      // Without an X-Forwarded-For the request did not come through the balancer's realip path.
      await get(`${nginx.url}/token?${TOKEN}`, { 'x-forwarded-proto': 'https' });
      expect(upstream.seen.at(-1)?.headers['x-forwarded-proto']).toBe('http');
    } finally {
      await nginx.stop();
    }
  });

  it('with SSL=true but no certificate refuses to start, saying what to mount', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'studylink-deploy-nginx-'));
    try {
      const rendered = renderLikeTheImage(dir, { SSL: 'true', TLS_CERT_FILE: join(dir, 'missing.crt') });
      expect(rendered.status).not.toBe(0);
      expect(rendered.stderr).toContain('TLS_CERT_FILE');
      expect(existsSync(join(dir, 'nginx.conf'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------ the real stack

describe('the real stack: metrics, key rotation, demo helpers', () => {
  let s: E2EStack;
  const oldKey = randomBytes(32).toString('hex');
  beforeAll(async () => {
    s = await startE2EStack('deploy', { env: { TOKEN_ENCRYPTION_KEY: oldKey } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const internal = (port: number, path: string, secret: string | null = s.stack.metricsToken) =>
    get(`http://127.0.0.1:${port}${path}`, secret ? { authorization: `Bearer ${secret}` } : {});

  it('serves /metrics on the internal ports only, by route template, never with a token', async () => {
    const study = await writeDemoStudy(s, '2.25.99887766554433221100');
    const { token } = await s.issueToken(study);
    expect((await get(`${s.url}/token?${token}`)).status).toBe(200);
    const zip = await fetch(`${s.url}/token/study.zip?${token}`);
    expect(zip.status).toBe(200);
    const zipBytes = (await zip.arrayBuffer()).byteLength;
    expect((await get(`${s.url}/token/study.zip?${TOKEN}`)).status).toBe(404);
    await new Promise((r) => setTimeout(r, 300)); // access events are reported after the response

    // Not through nginx, however the path is spelled.
    for (const path of [
      '/metrics',
      '/metrics/',
      '//metrics',
      '/token/../metrics',
      '/token/%2e%2e/metrics',
      '/token/..%2fmetrics',
      '/api/../metrics',
      '/token/%2fmetrics',
    ]) {
      const res = await getRaw(s.url, path);
      expect(res.status, path).not.toBe(200);
      expect(res.body, path).not.toContain('studylink_');
    }

    // Not on the services' public ports either, and not on the internal ones without the secret.
    for (const port of [s.stack.tokenPort, s.stack.exportPort]) {
      const res = await internal(port, '/metrics');
      expect(res.status, `public port ${port}`).toBe(404);
      expect(res.body).not.toContain('studylink_');
    }
    for (const port of [s.stack.tokenInternalPort, s.stack.exportInternalPort]) {
      // Nor with the internal secret: that authorises grant checks, not scrapes.
      for (const secret of [null, 'x'.repeat(64), s.stack.metricsToken.slice(1), s.stack.internalSecret]) {
        const res = await internal(port, '/metrics', secret);
        expect(res.status, `internal port ${port} with secret ${secret?.length ?? 'none'}`).toBe(401);
        expect(res.body).not.toContain('studylink_');
      }
    }

    const tokenMetrics = await internal(s.stack.tokenInternalPort, '/metrics');
    expect(tokenMetrics.status).toBe(200);
    expect(tokenMetrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(tokenMetrics.body).toMatch(
      /studylink_http_requests_total\{method="GET",route="\/token",status="200",service="token-service"\} 1/,
    );
    expect(tokenMetrics.body).toContain('route="/api/v1/studies/:studyInstanceUid/token"');
    expect(tokenMetrics.body).toContain('process_resident_memory_bytes{service="token-service"}');

    const exportMetrics = await internal(s.stack.exportInternalPort, '/metrics');
    expect(exportMetrics.status).toBe(200);
    expect(exportMetrics.body).toContain('studylink_exports_started_total{service="export-service"} 1');
    expect(exportMetrics.body).toContain(
      'studylink_exports_finished_total{outcome="complete",service="export-service"} 1',
    );
    expect(exportMetrics.body).toContain('studylink_exports_in_flight{service="export-service"} 0');
    const bytes = Number(
      /studylink_export_bytes_total\{service="export-service"\} (\d+)/.exec(exportMetrics.body)?.[1],
    );
    expect(bytes).toBe(zipBytes);
    expect(exportMetrics.body).toMatch(/studylink_export_invalid_tokens_total\{reason="not_found",[^}]*\} 1/);

    for (const text of [tokenMetrics.body, exportMetrics.body]) {
      expect(text).not.toMatch(ANY_TOKEN);
      expect(text).not.toContain(token);
      expect(text).not.toContain('?');
      expect(text).not.toContain(study);
    }
  });

  it('re-encrypts stored tokens with a new key (rotate-keys, as the container runs it)', async () => {
    const study = await writeDemoStudy(s, '2.25.11223344556677889900');
    const { token } = await s.issueToken(study);
    const newKey = randomBytes(32).toString('hex');
    const run = spawnSync(process.execPath, ['services/token-service/dist/rotate-keys.js'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: s.stack.databaseUrl,
        DICOMWEB_URL: s.stack.dicomwebUrl,
        INTERNAL_SECRET: s.stack.internalSecret,
        TOKEN_ENCRYPTION_KEY: newKey,
        TOKEN_ENCRYPTION_KEYS_PREVIOUS: oldKey,
      },
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('tokens re-encrypted with the current key');
    expect(run.stdout).not.toContain(token);

    const client = new pg.Client({ connectionString: s.stack.databaseUrl });
    await client.connect();
    try {
      const rows = (await client.query('SELECT token_hash, token_ciphertext FROM tokens')).rows;
      expect(rows.length).toBeGreaterThan(0);
      const newOnly = new TokenCipher(Buffer.from(newKey, 'hex'));
      const decrypted = rows.map((r) => newOnly.decrypt(r.token_ciphertext, r.token_hash));
      expect(decrypted).toContain(token);
    } finally {
      await client.end();
    }
  });

  it('loads the demo study once (demo-data) and prints its link (make up)', async () => {
    // make up (docker) and make dev (native) show the same demo study.
    const demoStudy = readFileSync(join(ROOT, 'deploy/demo-study.mjs'), 'utf8');
    expect(demoStudy).toContain(`export const DEMO_STUDY_UID = '${STACK_DEMO_UID}';`);

    const load = () =>
      spawnSync(process.execPath, ['deploy/demo-data/load.mjs'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ORTHANC_URL: s.orthanc.httpUrl },
      });
    const first = load();
    expect(first.status, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('"msg":"demo study loaded"');
    const again = load();
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('already in the store');

    const envDir = await mkdtemp(join(tmpdir(), 'studylink-deploy-env-'));
    try {
      const envFile = join(envDir, '.env');
      await writeFile(envFile, `ADMIN_API_KEY=${s.adminKey}\n`);
      const link = spawnSync(
        process.execPath,
        ['deploy/demo.mjs', 'link', `--file=${envFile}`, '--timeout=60'],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { PATH: process.env.PATH, PUBLIC_PORT: new URL(s.url).port },
        },
      );
      expect(link.status, link.stdout + link.stderr).toBe(0);
      const url = /Demo link: (\S+)/.exec(link.stdout)?.[1] ?? '';
      expect(url).toMatch(/^http:\/\/[^/]+\/token\?[A-Za-z0-9]{64}$/);
      const page = await get(url.replace(/^http:\/\/[^/]+/, s.url));
      expect(page.status).toBe(200);
      expect(page.body).toContain('DEMO');
    } finally {
      await rm(envDir, { recursive: true, force: true });
    }
  });
});

/** A one-instance synthetic study in the stack's store. */
async function writeDemoStudy(s: E2EStack, uid: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-deploy-study-'));
  try {
    const study = await writeSyntheticStudy({
      dir,
      studyInstanceUid: uid,
      patientName: 'DEPLOY^TEST',
      patientId: 'D-1',
      series: 1,
      instancesPerSeries: 2,
      rows: 32,
      columns: 32,
    });
    for (const file of study.files) await s.orthanc.upload(file);
    return uid;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ the deploy scripts

describe('deploy scripts', () => {
  it('make up writes a private .env with fresh secrets once and never changes them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'studylink-deploy-env-'));
    try {
      const envFile = join(dir, '.env');
      const run = () =>
        spawnSync(process.execPath, ['deploy/demo.mjs', 'env', `--file=${envFile}`], {
          cwd: ROOT,
          encoding: 'utf8',
        });
      expect(run().status).toBe(0);
      const first = readFileSync(envFile, 'utf8');
      expect(statSync(envFile).mode & 0o777).toBe(0o600);
      expect(first).toMatch(/^COMPOSE_PROJECT_NAME=studylink$/m);
      expect(first).toMatch(/^TOKEN_ENCRYPTION_KEY=[0-9a-f]{64}$/m);
      expect(first).toMatch(/^INTERNAL_SECRET=[0-9a-f]{64}$/m);
      expect(first).toMatch(/^POSTGRES_PASSWORD=[0-9a-f]{48}$/m);
      expect(first).toMatch(/^ADMIN_API_KEY=slk_[A-Za-z0-9_-]{43}$/m);
      expect(first).toMatch(/^STAFF_ADMIN_PASSWORD=[A-Za-z0-9_-]{16}$/m);

      expect(run().stdout).toContain('all secrets present');
      expect(readFileSync(envFile, 'utf8')).toBe(first);

      // A hand-written .env keeps its values; only what is missing is added.
      writeFileSync(envFile, 'PUBLIC_PORT=8443\nTOKEN_ENCRYPTION_KEY=mine');
      expect(run().stdout).toContain(
        'generated POSTGRES_PASSWORD, POSTGRES_APP_PASSWORD, INTERNAL_SECRET, METRICS_TOKEN, ADMIN_API_KEY',
      );
      const completed = readFileSync(envFile, 'utf8');
      expect(completed).toMatch(/^TOKEN_ENCRYPTION_KEY=mine$/m);
      expect(completed).toMatch(/^PUBLIC_PORT=8443$/m);
      expect(completed.match(/^TOKEN_ENCRYPTION_KEY=/gm)).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('scripts/check-compose.mjs', () => {
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    // Edited copies skip the compose CLI (slow, and already run on the real file).
    const check = (file = 'docker-compose.yml', ...more: string[]) =>
      spawnSync(
        process.execPath,
        ['scripts/check-compose.mjs', `--file=${file}`, '--readme=/nonexistent', ...more],
        { cwd: ROOT, encoding: 'utf8' },
      );
    /** Runs the check on an edited copy (in the repository root, so build contexts resolve). */
    const checkEdited = (edit: (text: string) => string) => {
      const copy = `.check-compose-test-${process.pid}.yml`;
      const edited = edit(compose);
      expect(edited).not.toBe(compose);
      writeFileSync(join(ROOT, copy), edited);
      try {
        return check(copy, '--skip-cli');
      } finally {
        spawnSync('rm', ['-f', join(ROOT, copy)]);
      }
    };

    it('accepts docker-compose.yml', () => {
      const res = check();
      expect(res.status, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).toMatch(/check-compose: all \d+ checks fine/);
    });

    it.each([
      [
        'a secret with a default',
        (t: string) =>
          t.replace(/\$\{ADMIN_API_KEY:\?[^}]*\}/, `$\{ADMIN_API_KEY:-${'changeme-'.repeat(4)}}`),
        'ADMIN_API_KEY',
      ],
      [
        'a variable no code reads',
        (t: string) =>
          t.replace(
            '      TOKEN_SERVICE_PORT: "3001"\n',
            '      TOKEN_SERVICE_PORT: "3001"\n      TOKEN_PORT: "3001"\n',
          ),
        'TOKEN_PORT is read by its code',
      ],
      [
        'a required variable left out',
        (t: string) =>
          t.replace(
            /\n {6}INTERNAL_SECRET: \$\{INTERNAL_SECRET:\?[^}]*\}\n( {6}INTERNAL_SECRET_PREVIOUS: [^\n]*\n {6}HOST: \$\{STUDYLINK_EXPORT_IP)/,
            '\n$1',
          ),
        'export-service: required INTERNAL_SECRET is set',
      ],
      [
        'an internal port published',
        (t: string) =>
          t.replace(
            '    stop_grace_period: 20s\n',
            '    stop_grace_period: 20s\n    ports:\n      - "3001:3001"\n',
          ),
        'token-service publishes no port',
      ],
      [
        'ports that disagree',
        (t: string) =>
          t.replace(
            'TOKEN_UPSTREAM: token-service:3001 resolve',
            'TOKEN_UPSTREAM: token-service:3003 resolve',
          ),
        'nginx TOKEN_UPSTREAM uses TOKEN_SERVICE_PORT',
      ],
    ])('fails on %s', (_what, edit, message) => {
      const res = checkEdited(edit);
      expect(res.status).toBe(1);
      expect(res.stdout).toContain(message);
    });

    it('checks the README only when it has a Configuration section', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'studylink-deploy-readme-'));
      try {
        const readme = join(dir, 'README.md');
        writeFileSync(
          readme,
          '# studylink\n\n## Configuration\n\n| `DATABASE_URL` | ... |\n\n## Next\n`PUBLIC_PORT`\n',
        );
        const res = spawnSync(
          process.execPath,
          ['scripts/check-compose.mjs', `--readme=${readme}`, '--skip-cli'],
          {
            cwd: ROOT,
            encoding: 'utf8',
          },
        );
        expect(res.status).toBe(1);
        expect(res.stdout).toContain('README Configuration documents `PUBLIC_PORT`');
        expect(res.stdout).not.toContain('documents `DATABASE_URL`');
        const skipped = check('docker-compose.yml', '--skip-cli');
        expect(skipped.stdout).toContain('README checks skipped');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
