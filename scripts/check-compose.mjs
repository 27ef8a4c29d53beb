#!/usr/bin/env node
// CI check of the docker deployment, without a Docker engine:
//   - docker-compose.yml parses and validates (`docker compose config`, or Debian's docker-compose
//     v1), and compose refuses to start while a secret is missing;
//   - every environment variable a service is given is one its code reads (the zod env schemas of
//     both services, migrations/migrate.mjs, the nginx template and entrypoint, the demo loader, or
//     the documented variables of a third-party image), and every variable the code requires is set;
//   - secrets have no default; only nginx publishes a port; the ports agree across services;
//     depends_on points at services with health checks; one-shots do not restart;
//   - every Dockerfile that runs `npm ci` copies every workspace's package.json, and the node
//     images run as `node` from node:24-slim with a HEALTHCHECK;
//   - when README.md has a "Configuration" heading: every variable and service is documented there.
// Needs python3 with PyYAML (a dependency of docker-compose) to read the YAML.
//
//   node scripts/check-compose.mjs [--file=docker-compose.yml] [--readme=README.md] [--skip-cli]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// --file / --readme check other copies (the tests use them); build contexts resolve from ROOT.
const option = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const COMPOSE_FILE = resolve(ROOT, option('file', 'docker-compose.yml'));
const README_FILE = resolve(ROOT, option('readme', 'README.md'));
const read = (path) => readFileSync(join(ROOT, path), 'utf8');

const failures = [];
let passed = 0;
function check(ok, what, detail = '') {
  if (ok) {
    passed += 1;
  } else {
    failures.push(detail ? `${what}: ${detail}` : what);
    process.stdout.write(`  FAIL ${what}${detail ? `: ${detail}` : ''}\n`);
  }
  return ok;
}
const notice = (msg) => process.stdout.write(`  notice: ${msg}\n`);

// ---------------------------------------------------------------- what the code reads

/** Keys of `const envSchema = z.object({...})`, each with whether it is required. */
export function zodEnvKeys(source, spreads = {}) {
  const start = source.indexOf('const envSchema = z.object({');
  if (start < 0) throw new Error('no `const envSchema = z.object({` found');
  const body = source.slice(start, source.indexOf('\n});', start));
  const keys = new Map();
  // Fields both services share come from service-kit as `...sharedEnvFields`.
  for (const [name, fields] of Object.entries(spreads)) {
    if (body.includes(`...${name},`)) for (const [k, v] of fields) keys.set(k, v);
  }
  const parts = body.split(/\n(?= {2}[A-Z][A-Z0-9_]*:)/).slice(1);
  for (const part of parts) {
    const name = /^ {2}([A-Z][A-Z0-9_]*):/.exec(part)?.[1];
    if (name) keys.set(name, { required: !/\.default\(|\.optional\(\)/.test(part) });
  }
  return keys;
}

/** `process.env.NAME` reads of a script. */
function processEnvKeys(source, required) {
  return new Map([...source.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)].map((m) => [m[1], { required }]));
}

/** `${NAME}` / `$NAME` references of shell scripts and templates, and ENV names of a Dockerfile. */
function shellKeys(...sources) {
  const keys = new Map();
  for (const s of sources) {
    for (const m of s.matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)) keys.set(m[1], { required: false });
    for (const m of s.matchAll(/^ENV\s+([\s\S]*?)(?:\n(?!\s)|$)/gm)) {
      for (const kv of m[1].matchAll(/([A-Z][A-Z0-9_]*)=/g)) keys.set(kv[1], { required: false });
    }
  }
  return keys;
}

const nginxDir = 'services/nginx';
const nginxScripts = readdirSync(join(ROOT, nginxDir, 'docker')).map((f) =>
  read(join(nginxDir, 'docker', f)),
);
/** The `sharedEnvFields` object of packages/service-kit, parsed like an env schema. */
function sharedEnv() {
  const source = read('packages/service-kit/src/env.fields.ts').replace(
    'export const sharedEnvFields = {',
    'const envSchema = z.object({',
  );
  return { sharedEnvFields: zodEnvKeys(source.replace(/\n};/, '\n});')) };
}

const nginxTemplate = read(join(nginxDir, 'nginx.conf.template'));
const templatePlaceholders = new Set(
  [...nginxTemplate.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]),
);

/** Who each service is, and the environment its code knows. */
const SOURCES = {
  'token-service': {
    dockerfile: 'services/token-service/Dockerfile',
    from: 'the env schema in services/token-service/src/config.ts',
    keys: () => zodEnvKeys(read('services/token-service/src/config.ts'), sharedEnv()),
  },
  migrate: {
    dockerfile: 'services/token-service/Dockerfile',
    from: 'migrations/migrate.mjs',
    keys: () => processEnvKeys(read('migrations/migrate.mjs'), true),
  },
  'access-log-purge': {
    dockerfile: 'services/token-service/Dockerfile',
    from: 'services/token-service/src/cli.ts',
    keys: () =>
      new Map(
        [...read('services/token-service/src/cli.ts').matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => [
          m[1],
          { required: m[1] === 'MIGRATION_DATABASE_URL' },
        ]),
      ),
  },
  'export-service': {
    dockerfile: 'services/export-service/Dockerfile',
    from: 'the env schema in services/export-service/src/config.ts',
    keys: () => zodEnvKeys(read('services/export-service/src/config.ts'), sharedEnv()),
  },
  nginx: {
    dockerfile: 'services/nginx/Dockerfile',
    from: 'the nginx template, Dockerfile and services/nginx/docker/*',
    keys: () => {
      const keys = shellKeys(nginxTemplate, read('services/nginx/Dockerfile'), ...nginxScripts);
      for (const k of [
        'NGINX_ENVSUBST_TEMPLATE_DIR',
        'NGINX_ENVSUBST_TEMPLATE_SUFFIX',
        'NGINX_ENTRYPOINT_QUIET_LOGS',
      ])
        keys.set(k, { required: false });
      return keys;
    },
  },
  'demo-data': {
    dockerfile: 'deploy/demo-data/Dockerfile',
    from: 'deploy/demo-data/load.mjs',
    keys: () => processEnvKeys(read('deploy/demo-data/load.mjs'), false),
  },
  // Third-party images: the variables their documentation describes.
  postgres: {
    image: /^(\$\{POSTGRES_IMAGE:-)?postgres:/,
    from: "the postgres image's documented variables",
    keys: () =>
      new Map(
        ['POSTGRES_DB', 'POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_INITDB_ARGS', 'PGDATA'].map((k) => [
          k,
          { required: k === 'POSTGRES_PASSWORD' },
        ]),
      ),
  },
  orthanc: {
    image: /^(\$\{ORTHANC_IMAGE:-)?orthancteam\/orthanc:/,
    from: "the orthancteam/orthanc image's documented variables",
    keys: () =>
      new Map(['DICOM_WEB_PLUGIN_ENABLED', 'VERBOSE_ENABLED', 'VERBOSE_STARTUP'].map((k) => [k, {}])),
    prefix: /^ORTHANC__/,
  },
};

// ---------------------------------------------------------------- compose CLI and YAML

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', ...opts });
}

function composeCli() {
  if (run('docker', ['compose', 'version']).status === 0) return ['docker', ['compose']];
  const onPath = (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'docker-compose')));
  if (onPath) return ['docker-compose', []];
  return null;
}

function yamlToJson(text) {
  const py = 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)';
  const res = run('python3', ['-c', py], { input: text });
  if (res.status !== 0)
    throw new Error(`python3 with PyYAML is needed to read the YAML: ${res.stderr.trim()}`);
  return JSON.parse(res.stdout);
}

/** Interpolations `${NAME...}` of the compose file: name, operator and default/message. */
function interpolations(text) {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g)].map((m) => ({
    name: m[1],
    op: m[2] ?? '',
    arg: m[3] ?? '',
  }));
}

const isSecret = (name) => /(SECRET|PASSWORD|_KEY|_KEYS_PREVIOUS|_AUTHORIZATION)$/.test(name);

// ---------------------------------------------------------------- checks

const raw = readFileSync(COMPOSE_FILE, 'utf8');
const refs = interpolations(raw);
const secrets = [...new Set(refs.filter((r) => r.op === ':?' || r.op === '?').map((r) => r.name))];

process.stdout.write('docker-compose.yml parses and validates\n');
// --skip-cli: only the checks of this script (its tests use it on edited copies, for speed).
const cli = process.argv.includes('--skip-cli') ? undefined : composeCli();
if (
  cli !== undefined &&
  check(
    cli !== null,
    'a compose CLI is installed',
    'neither `docker compose` nor `docker-compose` (Debian: apt-get install docker-compose)',
  )
) {
  const [cmd, pre] = cli;
  const emptyEnvFile = join(mkdtempSync(join(tmpdir(), 'check-compose-')), 'empty.env');
  writeFileSync(emptyEnvFile, '');
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !refs.some((r) => r.name === k) && !k.startsWith('COMPOSE_')),
  );
  const args = [...pre, '--env-file', emptyEnvFile, '-f', COMPOSE_FILE, '--profile', 'demo', 'config', '-q'];
  const withSecrets = run(cmd, args, {
    env: {
      ...baseEnv,
      ...Object.fromEntries(secrets.map((s) => [s, 'check-compose-placeholder-value-000000'])),
    },
  });
  check(
    withSecrets.status === 0,
    `\`${[cmd, ...args].join(' ')}\` accepts the file`,
    withSecrets.stderr.trim(),
  );
  // One run without any secret: compose stops at the first missing one (the text check below
  // makes sure every secret uses the same `:?` form).
  const without = run(cmd, args, { env: baseEnv });
  check(
    without.status !== 0 && secrets.some((s) => without.stderr.includes(s)),
    `compose refuses to start without the secrets (${secrets.join(', ')})`,
    `exit ${without.status}`,
  );
  rmSync(dirname(emptyEnvFile), { recursive: true, force: true });
}

const compose = yamlToJson(raw);
const services = compose.services ?? {};
const serviceNames = Object.keys(services);
const envOf = (name) => {
  const env = services[name]?.environment ?? {};
  return Array.isArray(env)
    ? Object.fromEntries(env.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]))
    : Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
};

process.stdout.write('every variable a service gets is one its code reads\n');
const knownKeys = {};
for (const name of serviceNames) {
  const source = SOURCES[name];
  if (!check(Boolean(source), `service ${name} has a rule in scripts/check-compose.mjs`)) continue;
  const svc = services[name];
  if (source.dockerfile) {
    const dockerfile = svc.build?.dockerfile
      ? join(svc.build.context ?? '.', svc.build.dockerfile)
      : join(svc.build?.context ?? '.', 'Dockerfile');
    check(
      resolve(ROOT, dockerfile) === resolve(ROOT, source.dockerfile),
      `${name} is built from ${source.dockerfile}`,
      `builds ${dockerfile}`,
    );
  } else {
    check(source.image.test(svc.image ?? ''), `${name} runs the documented image`, svc.image);
  }
  const keys = source.keys();
  knownKeys[name] = keys;
  const env = envOf(name);
  for (const key of Object.keys(env)) {
    check(
      keys.has(key) || Boolean(source.prefix?.test(key)),
      `${name}: ${key} is read by its code`,
      `not in ${source.from}`,
    );
  }
  for (const [key, { required }] of keys) {
    if (required) check(key in env, `${name}: required ${key} is set`);
    else if (source.dockerfile?.startsWith('services/') && name !== 'nginx' && !(key in env))
      notice(`${name} reads ${key}, which docker-compose.yml does not pass (its default applies)`);
  }
}

process.stdout.write('secrets have no default and no literal value\n');
for (const r of refs.filter((ref) => isSecret(ref.name))) {
  check(
    r.op === ':?' || r.op === '?' || (r.op === ':-' && r.arg === ''),
    `\${${r.name}} is required or empty by default`,
    `${r.op}${r.arg}`,
  );
}
for (const name of serviceNames) {
  for (const [key, value] of Object.entries(envOf(name))) {
    if (isSecret(key))
      check(value.includes('${'), `${name}: ${key} comes from the environment`, 'literal value');
    if (/postgres(ql)?:\/\//.test(value))
      check(!/:\/\/[^:/]+:[^$@]+@/.test(value), `${name}: ${key} holds no literal password`);
  }
}

process.stdout.write('ports\n');
const portOf = (text) => Number(/:(\d+)\b/.exec(text ?? '')?.[1]);
const nginxEnv = envOf('nginx');
const tokenEnv = envOf('token-service');
const exportEnv = envOf('export-service');
for (const name of serviceNames) {
  if (name !== 'nginx') check(!services[name].ports?.length, `${name} publishes no port`);
}
const published = services.nginx?.ports ?? [];
check(published.length === 1, 'nginx publishes exactly one port', JSON.stringify(published));
const [hostPart, containerPart] = String(published[0] ?? '').split(/:(?=[^:]*$)/);
check(
  /^\$\{PUBLIC_PORT:-\d+\}$/.test(hostPart ?? ''),
  'the published port is PUBLIC_PORT (with a default)',
  hostPart,
);
// The token service gets PUBLIC_PORT when it is set (it then wins over the stored setup) and
// nothing otherwise (the stored setup, seeded with the same default, applies).
check(
  tokenEnv.PUBLIC_PORT === hostPart ||
    tokenEnv.PUBLIC_PORT === `\${${/^\$\{(PUBLIC_PORT):-\d+\}$/.exec(hostPart ?? '')?.[1]}:-}`,
  'the token service builds links with the published port',
  `PUBLIC_PORT: ${tokenEnv.PUBLIC_PORT}`,
);
const listenPort = Number(/NGINX_PORT:-(\d+)/.exec(nginxScripts.join('\n'))?.[1]);
check(Number(containerPart) === listenPort, `nginx listens on the published container port ${containerPart}`);
check(
  portOf(nginxEnv.TOKEN_UPSTREAM) === Number(tokenEnv.TOKEN_SERVICE_PORT),
  'nginx TOKEN_UPSTREAM uses TOKEN_SERVICE_PORT',
);
check(
  portOf(exportEnv.TOKEN_SERVICE_INTERNAL_URL) === Number(tokenEnv.TOKEN_SERVICE_INTERNAL_PORT),
  'export-service TOKEN_SERVICE_INTERNAL_URL uses TOKEN_SERVICE_INTERNAL_PORT',
);
check(
  portOf(nginxEnv.EXPORT_UPSTREAM) === Number(exportEnv.EXPORT_SERVICE_PORT),
  'nginx EXPORT_UPSTREAM uses EXPORT_SERVICE_PORT',
);
for (const [name, port] of [
  ['token-service', tokenEnv.TOKEN_SERVICE_PORT],
  ['export-service', exportEnv.EXPORT_SERVICE_PORT],
]) {
  check(
    new RegExp(`^EXPOSE ${port}$`, 'm').test(read(SOURCES[name].dockerfile)),
    `${SOURCES[name].dockerfile} exposes ${port}`,
  );
}
// The public apps listen on their edge address only (nginx reaches them there, nothing on the
// backend network does); the internal listeners on every network of the service.
for (const [name, e] of [
  ['token-service', tokenEnv],
  ['export-service', exportEnv],
]) {
  const edgeIp = services[name]?.networks?.edge?.ipv4_address;
  check(
    Boolean(edgeIp) && e.HOST === edgeIp,
    `${name} HOST is its fixed edge address`,
    `${e.HOST} / ${edgeIp}`,
  );
  check(e.INTERNAL_HOST === '0.0.0.0', `${name} INTERNAL_HOST is 0.0.0.0`);
}
check(Object.keys(services.nginx?.networks ?? {}).join() === 'edge', 'nginx is on the edge network only');
const nginxIp = services.nginx?.networks?.edge?.ipv4_address;
check(
  Boolean(nginxIp) && tokenEnv.TRUSTED_PROXIES === nginxIp && exportEnv.TRUSTED_PROXIES === nginxIp,
  "TRUSTED_PROXIES of both services is nginx's fixed address",
  `${tokenEnv.TRUSTED_PROXIES} / ${exportEnv.TRUSTED_PROXIES} / ${nginxIp}`,
);
check(
  [...templatePlaceholders].every(
    (p) =>
      p in nginxEnv ||
      new RegExp(`\\b${p}=`).test(read('services/nginx/Dockerfile')) ||
      nginxScripts.some((s) => s.includes(`export ${p}=`)),
  ),
  'every nginx template placeholder gets a value in docker',
  [...templatePlaceholders].join(', '),
);

process.stdout.write('dependencies, health checks and restarts\n');
const profiled = (name) => (services[name]?.profiles ?? []).length > 0;
const hasHealthcheck = (name) => {
  const hc = services[name]?.healthcheck;
  if (hc && !hc.disable) return true;
  const dockerfile = SOURCES[name]?.dockerfile;
  return Boolean(dockerfile && /^HEALTHCHECK /m.test(read(dockerfile)));
};
const oneShots = new Set();
for (const name of serviceNames) {
  const deps = services[name].depends_on ?? {};
  for (const [dep, spec] of Object.entries(
    Array.isArray(deps) ? Object.fromEntries(deps.map((d) => [d, {}])) : deps,
  )) {
    check(dep in services, `${name} depends on an existing service ${dep}`);
    check(!profiled(dep) || profiled(name), `${name} (no profile) does not depend on ${dep} (profile)`);
    const condition = spec?.condition;
    check(
      ['service_healthy', 'service_completed_successfully'].includes(condition),
      `${name} waits for ${dep} to be healthy or done`,
      String(condition),
    );
    if (condition === 'service_healthy')
      check(hasHealthcheck(dep), `${dep} has a health check (${name} waits for it)`);
    if (condition === 'service_completed_successfully') oneShots.add(dep);
  }
}
oneShots.add('demo-data');
oneShots.add('access-log-purge');
for (const name of serviceNames) {
  const restart = services[name].restart;
  if (oneShots.has(name)) check(restart === 'no', `one-shot ${name} does not restart`, restart);
  else check(['unless-stopped', 'always'].includes(restart), `${name} restarts`, restart);
}

process.stdout.write('Dockerfiles\n');
const workspaces = JSON.parse(read('package.json')).workspaces.flatMap((w) =>
  w.endsWith('/*')
    ? readdirSync(join(ROOT, w.slice(0, -2)), { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(ROOT, w.slice(0, -2), d.name, 'package.json')))
        .map((d) => `${w.slice(0, -2)}/${d.name}`)
    : [w],
);
for (const dockerfile of new Set(
  Object.values(SOURCES).flatMap((s) => (s.dockerfile ? [s.dockerfile] : [])),
)) {
  const text = read(dockerfile);
  if (!/npm ci/.test(text)) continue;
  for (const ws of workspaces) {
    const copies = text.split(/^FROM /m).filter((stage) => /npm ci/.test(stage));
    check(
      copies.every((stage) => stage.includes(`COPY ${ws}/package.json ${ws}/`)),
      `${dockerfile} copies ${ws}/package.json before each npm ci`,
    );
  }
  check(/^ARG NODE_IMAGE=node:24-slim$/m.test(text), `${dockerfile} builds on node:24-slim`);
  check(/^USER node$/m.test(text), `${dockerfile} runs as the node user`);
  if (dockerfile.startsWith('services/'))
    check(/^HEALTHCHECK /m.test(text), `${dockerfile} has a HEALTHCHECK`);
}
check(/^USER nginx$/m.test(read('services/nginx/Dockerfile')), 'the nginx image runs as the nginx user');
const dockerignore = read('.dockerignore');
for (const entry of ['**/node_modules', '**/dist', '.git', '.dev', 'e2e/artifacts', '.env']) {
  check(dockerignore.split('\n').includes(entry), `.dockerignore excludes ${entry}`);
}

process.stdout.write('README\n');
const readme = existsSync(README_FILE) ? readFileSync(README_FILE, 'utf8') : '';
const heading = /^(#+)\s+Configuration\b.*$/m.exec(readme);
if (!heading) {
  notice('README.md has no "Configuration" heading: README checks skipped');
} else {
  const level = heading[1].length;
  const rest = readme.slice(heading.index + heading[0].length);
  const end = rest.search(new RegExp(`^#{1,${level}}\\s`, 'm'));
  const section = end < 0 ? rest : rest.slice(0, end);
  const variables = new Set([
    ...refs.map((r) => r.name),
    ...serviceNames.flatMap((name) => Object.keys(envOf(name))),
  ]);
  for (const v of [...variables].sort()) {
    check(section.includes(`\`${v}\``), `README Configuration documents \`${v}\``);
  }
  for (const name of serviceNames)
    check(readme.includes(`\`${name}\``), `README mentions the service \`${name}\``);
}

if (failures.length > 0) {
  process.stdout.write(`check-compose: ${failures.length} problem(s), ${passed} checks fine\n`);
  process.exit(1);
}
process.stdout.write(`check-compose: all ${passed} checks fine\n`);
