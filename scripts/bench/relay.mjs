// Starts the bare relay (relay-server.mjs) behind an nginx rendered from the project's own template,
// with the relay as its export upstream: the same nginx, the same `location /token/` settings, the
// same socket copies as the export, and no work of ours in between.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, renderTemplate } from '../stack.mjs';

async function waitForPort(url, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** { url(uid), pid, stop() }: a GET of url(uid) streams the study's WADO-RS response through nginx. */
export async function startRelayBehindNginx({ dicomwebUrl, relayPort, nginxPort, logDir }) {
  const relay = spawn(process.execPath, [join(ROOT, 'scripts/bench/relay-server.mjs')], {
    env: { ...process.env, RELAY_PORT: String(relayPort), DICOMWEB_URL: dicomwebUrl },
    stdio: 'ignore',
  });
  const runtimeDir = await mkdtemp(join(tmpdir(), 'studylink-relay-nginx-'));
  await chmod(runtimeDir, 0o777);
  const vars = {
    LISTEN: `127.0.0.1:${nginxPort}`,
    TOKEN_UPSTREAM: `127.0.0.1:${relayPort}`,
    EXPORT_UPSTREAM: `127.0.0.1:${relayPort}`,
    RUNTIME_DIR: runtimeDir,
    ACCESS_LOG: join(logDir, 'relay-nginx-access.log'),
    ERROR_LOG: join(logDir, 'relay-nginx-error.log'),
    TOKEN_RATE: '100000r/s',
  };
  // Any other variable a newer template has (an internal listener, say) gets a harmless value.
  const anyVars = new Proxy(vars, {
    has: () => true,
    get: (target, key) => (key in target ? target[key] : /PORT$/.test(String(key)) ? '1' : '127.0.0.1:1'),
  });
  const conf = renderTemplate(
    await readFile(join(ROOT, 'services/nginx/nginx.conf.template'), 'utf8'),
    anyVars,
  );
  const confPath = join(runtimeDir, 'nginx.conf');
  await writeFile(confPath, conf);
  const nginx = spawn(
    'nginx',
    ['-p', runtimeDir, '-c', confPath, '-e', join(logDir, 'relay-nginx-error.log'), '-g', 'daemon off;'],
    { stdio: 'ignore' },
  );
  await waitForPort(`http://127.0.0.1:${relayPort}/`);
  await waitForPort(`http://127.0.0.1:${nginxPort}/`);
  return {
    pid: relay.pid,
    url: (uid) => `http://127.0.0.1:${nginxPort}/token/study.zip?${uid}`,
    async stop() {
      for (const p of [nginx, relay]) {
        if (p.exitCode === null && p.signalCode === null) {
          p.kill('SIGTERM');
          await new Promise((r) => p.once('exit', r));
        }
      }
    },
  };
}
