#!/usr/bin/env node
// Host-side helper of `make up` (no dependencies beyond Node):
//   node deploy/demo.mjs env    writes .env with fresh secrets if it is missing, or adds the
//                               missing ones to it; never changes a value that is there
//   node deploy/demo.mjs link   waits for nginx, asks for the demo study's token with the admin
//                               key (PUT /api/v1/studies/<uid>/token) and prints its link
// Options: --file=PATH (default: .env at the repository root), --timeout=SECONDS (link, 300).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_STUDY_UID } from './demo-study.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Secrets compose refuses to start without (and the demo staff user), and how to make each. */
export const GENERATED_SECRETS = {
  POSTGRES_PASSWORD: () => randomBytes(24).toString('hex'),
  // The services' database role (studylink_app): may append to the access log, never change it.
  POSTGRES_APP_PASSWORD: () => randomBytes(24).toString('hex'),
  TOKEN_ENCRYPTION_KEY: () => randomBytes(32).toString('hex'),
  INTERNAL_SECRET: () => randomBytes(32).toString('hex'),
  // Prometheus's credential for /metrics: not the internal secret.
  METRICS_TOKEN: () => randomBytes(32).toString('hex'),
  ADMIN_API_KEY: () => `slk_${randomBytes(32).toString('base64url')}`,
  // The first staff user of the demo (staff interface at /staff/).
  STAFF_ADMIN_USERNAME: () => 'admin',
  STAFF_ADMIN_PASSWORD: () => randomBytes(12).toString('base64url'),
};

const HEADER = `# studylink: settings and secrets for docker compose (written by \`make up\`; see the README's
# Configuration). Keep this file private: it is git-ignored and never copied into an image.
# Changing TOKEN_ENCRYPTION_KEY makes stored tokens unreadable for staff: rotate it as the
# README's Operations section says.
COMPOSE_PROJECT_NAME=studylink
`;

/** KEY=VALUE lines of an env file; comments and blank lines ignored. */
export function parseEnvFile(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/** Creates or completes the env file; returns the names it added. */
export async function ensureEnvFile(path) {
  const exists = existsSync(path);
  const current = exists ? parseEnvFile(await readFile(path, 'utf8')) : {};
  const added = Object.entries(GENERATED_SECRETS).filter(([name]) => !current[name]);
  const lines = added.map(([name, make]) => `${name}=${make()}`).join('\n');
  if (!exists) {
    await writeFile(path, `${HEADER}${lines}\n`, { mode: 0o600 });
  } else if (added.length > 0) {
    const text = await readFile(path, 'utf8');
    await appendFile(path, `${text.endsWith('\n') || text === '' ? '' : '\n'}${lines}\n`);
  }
  await chmod(path, 0o600);
  return added.map(([name]) => name);
}

function send(method, url, headers) {
  return new Promise((resolveSend, reject) => {
    const target = new URL(url);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    // The demo may run with a self-signed certificate, and this only talks to 127.0.0.1.
    const req = request(target, { method, headers, rejectUnauthorized: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolveSend({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Waits for nginx and the demo study, then returns the study's token link. */
export async function demoLink({
  baseUrl,
  adminApiKey,
  studyUid = DEMO_STUDY_UID,
  timeoutMs = 300_000,
  onWait,
}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'nginx not answering yet';
  while (Date.now() < deadline) {
    try {
      const health = await send('GET', `${baseUrl}/nginx-health`, {});
      if (health.status === 200) {
        const res = await send('PUT', `${baseUrl}/api/v1/studies/${studyUid}/token`, {
          authorization: `Bearer ${adminApiKey}`,
        });
        if (res.status === 200 || res.status === 201) return JSON.parse(res.body).url;
        // 404 while the demo data is still loading; 429/502/503 while services start.
        if (![404, 429, 502, 503].includes(res.status)) {
          throw new Error(`PUT token answered HTTP ${res.status}: ${res.body.slice(0, 300)}`);
        }
        last = res.status === 404 ? 'the demo study is not in the store yet' : `HTTP ${res.status}`;
      } else {
        last = `nginx health answered HTTP ${health.status}`;
      }
    } catch (err) {
      if (/PUT token answered/.test(err.message)) throw err;
      last = err.message;
    }
    onWait?.(last);
    await new Promise((r) => setTimeout(r, 2_000));
  }
  throw new Error(`no demo link after ${Math.round(timeoutMs / 1000)} s (${last}); see \`make logs\``);
}

async function main(argv) {
  const [command, ...rest] = argv;
  const opt = (name, fallback) =>
    rest
      .find((a) => a.startsWith(`--${name}=`))
      ?.split('=')
      .slice(1)
      .join('=') ?? fallback;
  const envFile = resolve(opt('file', join(ROOT, '.env')));

  if (command === 'env') {
    const added = await ensureEnvFile(envFile);
    process.stdout.write(
      added.length ? `${envFile}: generated ${added.join(', ')}\n` : `${envFile}: all secrets present\n`,
    );
    return;
  }
  if (command === 'link') {
    // Like compose: the environment wins over the file.
    const env = {
      ...(existsSync(envFile) ? parseEnvFile(await readFile(envFile, 'utf8')) : {}),
      ...process.env,
    };
    if (!env.ADMIN_API_KEY) throw new Error(`ADMIN_API_KEY is not set (in the environment or ${envFile})`);
    const ssl = ['true', '1', 'yes'].includes(env.SSL ?? '');
    const baseUrl = `${ssl ? 'https' : 'http'}://127.0.0.1:${env.PUBLIC_PORT || 3000}`;
    process.stdout.write(`waiting for ${baseUrl} and the demo study...\n`);
    let said = '';
    const url = await demoLink({
      baseUrl,
      adminApiKey: env.ADMIN_API_KEY,
      timeoutMs: Number(opt('timeout', 300)) * 1000,
      onWait: (why) => {
        if (why !== said) process.stdout.write(`  ${why}\n`);
        said = why;
      },
    });
    process.stdout.write(
      [
        '',
        `studylink is running at ${baseUrl}/`,
        `  Demo link: ${url}`,
        `  Staff:     ${baseUrl}/staff/ (STAFF_ADMIN_USERNAME / STAFF_ADMIN_PASSWORD in ${envFile})`,
        `  API:       ${baseUrl}/api/v1/openapi.json (admin key: ADMIN_API_KEY in ${envFile})`,
        '  Logs: make logs    Stop: make down',
        '',
      ].join('\n'),
    );
    return;
  }
  throw new Error('usage: node deploy/demo.mjs env|link [--file=PATH] [--timeout=SECONDS]');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`deploy/demo.mjs: ${err.message}\n`);
    process.exit(1);
  });
}
