import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@studylink/testkit';
import { afterAll, expect, it } from 'vitest';
import { ROOT } from '../scripts/stack.mjs';
import { runCommand } from './support/e2e-stack.js';

// The README's own command, as a newcomer runs it: `make dev` with nothing configured brings up a
// local database, a demo Orthanc, both services and nginx, and prints a demo link that works.
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => {
  await cleanup?.();
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
  delete env.DICOMWEB_URL;
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

  process.kill(-(make.pid as number), 'SIGINT');
  await exited;
  // Nothing it started still answers.
  for (const port of Object.values(ports)) {
    await expect(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }
}, 240_000);
