// Host-side Docker helpers of `make test-docker` and `make images` (no dependencies beyond Node):
// a Docker engine (installed from Debian's packages and started when missing, stopped by whoever
// started it), the stand-in base images, the product's images and the compose command line.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * The docker client that matches the daemon we start: Debian's, when it is installed. Chosen again
 * once ensureDocker() has installed docker.io: a machine may carry another client on its PATH (a
 * Docker 28 CLI in /usr/local/bin, which cannot build with BuildKit without the buildx plugin),
 * and on a fresh machine /usr/bin/docker only appears with the install. A live binding: importers
 * see the new value.
 */
const pickDocker = () => process.env.DOCKER ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');
export let DOCKER = pickDocker();

/** The images docker-compose.yml builds, with their Dockerfile and build context. */
export const PRODUCT_IMAGES = [
  { name: 'studylink-token-service:local', dockerfile: 'services/token-service/Dockerfile', context: '.' },
  { name: 'studylink-export-service:local', dockerfile: 'services/export-service/Dockerfile', context: '.' },
  { name: 'studylink-nginx:local', dockerfile: 'services/nginx/Dockerfile', context: 'services/nginx' },
  { name: 'studylink-demo-data:local', dockerfile: 'deploy/demo-data/Dockerfile', context: '.', demo: true },
];

/** Runs a command to its end; never throws (look at status). */
export function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...opts });
  return { status: res.status ?? -1, stdout: res.stdout ?? '', stderr: res.stderr ?? '', error: res.error };
}

/** Runs a command and throws with its output's tail when it fails. */
export function must(cmd, args, opts = {}) {
  const res = run(cmd, args, opts);
  if (res.status !== 0) {
    const lines = `${res.stdout}\n${res.stderr}`.split(/\r?\n|\r/).filter((l) => l.trim());
    // compose v1 says what failed on ERROR lines among its progress lines.
    const errors = lines.filter((l) => /error|unhealthy|failed/i.test(l)).slice(-10);
    const tail = [...lines.slice(-15), ...errors.filter((l) => !lines.slice(-15).includes(l))].join('\n');
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${res.status}${res.error ? ` (${res.error.message})` : ''}\n${tail}`,
    );
  }
  return res.stdout;
}

const onPath = (name) => run('sh', ['-c', `command -v ${name}`]).status === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A Docker engine to talk to: installs Debian's docker.io (and docker-compose, debootstrap) when
 * the daemon is missing, and starts `dockerd --iptables=false --ip-masq=false` when none answers
 * (the machine's firewall and routes are left alone). Returns stop(): stops only what it started.
 */
export async function ensureDocker(log) {
  if (!existsSync('/usr/sbin/dockerd') && !onPath('dockerd')) {
    log('installing docker.io, docker-compose and debootstrap from Debian');
    must(
      'apt-get',
      ['install', '-y', '--no-install-recommends', 'docker.io', 'docker-compose', 'debootstrap'],
      {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      },
    );
    DOCKER = pickDocker();
  }
  if (run(DOCKER, ['info']).status === 0) return { stop: async () => {}, started: false };
  log('starting dockerd --iptables=false --ip-masq=false');
  const logFile = join(process.env.TMPDIR ?? '/tmp', `studylink-dockerd-${process.pid}.log`);
  const out = openSync(logFile, 'a');
  const daemon = spawn(
    existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : 'dockerd',
    ['--iptables=false', '--ip-masq=false'],
    {
      stdio: ['ignore', out, out],
      detached: true,
    },
  );
  const exited = new Promise((r) => daemon.once('exit', r));
  for (let i = 0; run(DOCKER, ['info']).status !== 0; i++) {
    if (daemon.exitCode !== null || i > 60) throw new Error(`dockerd did not come up; see ${logFile}`);
    await sleep(1000);
  }
  return {
    started: true,
    stop: async () => {
      if (daemon.exitCode !== null) return;
      daemon.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
    },
  };
}

/** The compose command line: Compose v2 (`docker compose`) when the client has it, else Debian's v1. */
export function composeCommand() {
  if (run(DOCKER, ['compose', 'version']).status === 0) return [DOCKER, ['compose']];
  if (onPath('docker-compose')) return ['docker-compose', []];
  throw new Error('neither `docker compose` nor docker-compose is installed');
}

/**
 * The extra CA bundle a build hands npm (the `build_ca` build secret): STUDYLINK_BUILD_CA, else
 * the machine's system bundle when there is one. Never copied into an image.
 */
export function buildCaFile() {
  if (process.env.STUDYLINK_BUILD_CA !== undefined) return process.env.STUDYLINK_BUILD_CA || null;
  const system = '/etc/ssl/certs/ca-certificates.crt';
  return existsSync(system) ? system : null;
}

/** Builds the stand-in base images; returns the variables that select them. */
export function buildStandins() {
  const out = must('bash', [join(ROOT, 'deploy/standins/build.sh')], { env: { ...process.env, DOCKER } });
  return Object.fromEntries(
    out
      .split('\n')
      .map((l) => /^([A-Z_]+_IMAGE)=(\S+)$/.exec(l))
      .filter(Boolean)
      .map((m) => [m[1], m[2]]),
  );
}

/**
 * Builds the product's images as compose names them, with BuildKit, the host's network (npm ci
 * reaches the registry) and the CA bundle as a build secret. `bases` are the *_IMAGE variables.
 */
export function buildProductImages({ bases = {}, contextRoot = ROOT, tagSuffix = '', demo = true } = {}) {
  const ca = buildCaFile();
  for (const image of PRODUCT_IMAGES) {
    if (image.demo && !demo) continue;
    const args = [
      'build',
      '--quiet',
      '--network',
      'host',
      '-f',
      join(contextRoot, image.dockerfile),
      '-t',
      `${image.name}${tagSuffix}`,
    ];
    if (ca) args.push('--secret', `id=build_ca,src=${ca}`);
    for (const [k, v] of Object.entries(bases)) args.push('--build-arg', `${k}=${v}`);
    args.push(join(contextRoot, image.context));
    must(DOCKER, args, { env: { ...process.env, DOCKER_BUILDKIT: '1' } });
  }
}
