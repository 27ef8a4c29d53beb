import { execFile, spawn } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface CurlRun {
  /** curl's exit code: 0 complete, 18 partial transfer, 56 receive failure... */
  exitCode: number | null;
  status: number;
  bytes: number;
  startedAt: number;
  endedAt: number;
  stderr: string;
}

/**
 * Downloads `url` into `file` with curl, from a given loopback address, optionally throttled
 * (`--limit-rate`, e.g. '4M'). Resolves when curl exits, whatever the outcome.
 * @example const run = await curlToFile(url, '/tmp/a.zip', { from: '127.0.5.1', limitRate: '500k' });
 */
export function curlToFile(
  url: string,
  file: string,
  opts: { from?: string; limitRate?: string; maxTimeSeconds?: number } = {},
): Promise<CurlRun> {
  const args = ['-sS', '-o', file, '-w', '%{http_code}', '--max-time', String(opts.maxTimeSeconds ?? 120)];
  if (opts.from) args.push('--interface', opts.from);
  if (opts.limitRate) args.push('--limit-rate', opts.limitRate);
  args.push(url);
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', async (exitCode) => {
      const endedAt = Date.now();
      const bytes = await stat(file).then(
        (s) => s.size,
        () => 0,
      );
      resolve({ exitCode, status: Number(out.trim()) || 0, bytes, startedAt, endedAt, stderr });
    });
  });
}

/** `unzip -t`: true when the archive is complete and every entry's CRC checks out. */
export async function unzipTests(file: string): Promise<boolean> {
  try {
    await exec('unzip', ['-tqq', file]);
    return true;
  } catch {
    return false;
  }
}

/** Whether the file ends with a zip end-of-central-directory record (a "complete-looking" zip). */
export async function hasZipEnd(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 66_000);
    const tail = Buffer.alloc(length);
    await handle.read(tail, 0, length, size - length);
    return tail.includes(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  } finally {
    await handle.close();
  }
}

/** The export service's readiness checks (exportsInFlight among them), straight from its port. */
export async function exportReadiness(port: number): Promise<{ status: number; exportsInFlight: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await res.json()) as { checks?: { exportsInFlight?: number } };
  return { status: res.status, exportsInFlight: body.checks?.exportsInFlight ?? -1 };
}

/** TCP connections (any state but LISTEN) that process `pid` holds, as `ss` lists them. */
export async function openConnections(pid: number): Promise<string[]> {
  // Every socket of the machine is listed (other test runs may hold many): room for all of them.
  const { stdout } = await exec('ss', ['-tanpH'], { maxBuffer: 256 * 1024 * 1024 });
  return stdout.split('\n').filter((line) => line.includes(`pid=${pid},`) && !line.startsWith('LISTEN'));
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns how long it took (or throws). */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
  return Date.now() - started;
}
