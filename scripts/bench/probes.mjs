// Measuring tools for the benchmark: curl timings, process memory, a load generator.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { Pool } from 'undici';

const exec = promisify(execFile);
const MB = 1024 * 1024;

/**
 * Runs curl once and returns its own timings: bytes, time to first byte, total time, bytes/s.
 * opts: { headers: [], from: '127.0.0.x', limitRate: '1M', maxTime: seconds }.
 */
export async function curlTimed(url, opts = {}) {
  const args = [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code} %{size_download} %{time_starttransfer} %{time_total}',
  ];
  for (const h of opts.headers ?? []) args.push('-H', h);
  if (opts.from) args.push('--interface', opts.from);
  if (opts.limitRate) args.push('--limit-rate', opts.limitRate);
  if (opts.maxTime) args.push('--max-time', String(opts.maxTime));
  args.push(url);
  const started = Date.now();
  const result = await exec('curl', args, { maxBuffer: 1 << 20 }).then(
    (r) => ({ ...r, code: 0 }),
    (err) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code ?? -1 }),
  );
  const [status, size, ttfb, total] = result.stdout.trim().split(' ').map(Number);
  return {
    exitCode: result.code,
    status,
    bytes: size,
    ttfbMs: ttfb * 1000,
    totalMs: total * 1000,
    bytesPerSec: total > 0 ? size / total : 0,
    wallMs: Date.now() - started,
    stderr: result.stderr.trim(),
  };
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export async function memoryOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Samples a process's resident memory every `intervalMs` until stop(). The kernel's peak (VmHWM) is
 * reset first (clear_refs 5), so the peak belongs to this phase alone.
 */
export async function sampleMemory(pid, intervalMs = 200) {
  const reset = await writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
  const started = Date.now();
  const samples = [];
  const take = async () => {
    const m = await memoryOf(pid).catch(() => null);
    if (m) samples.push({ t: Date.now() - started, ...m });
  };
  await take();
  const timer = setInterval(take, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await take();
      return summarizeMemory(samples, reset);
    },
  };
}

/** Baseline, peak, end and a trend (MB per minute over the second half) of RSS samples. */
export function summarizeMemory(samples, hwmReset = false) {
  const rss = samples.map((s) => s.rss);
  const peakSampled = Math.max(...rss);
  const peakKernel = hwmReset ? Math.max(...samples.map((s) => s.hwm)) : null;
  const durationMs = samples.at(-1)?.t ?? 0;
  const half = samples.filter((s) => s.t >= durationMs / 2);
  return {
    durationS: durationMs / 1000,
    baselineMB: (rss[0] ?? 0) / MB,
    peakMB: Math.max(peakSampled, peakKernel ?? 0) / MB,
    endMB: (rss.at(-1) ?? 0) / MB,
    // A trend over a few seconds is noise (garbage collection): only for windows of 30 s or more.
    secondHalfSlopeMBPerMin: durationMs >= 30_000 ? slope(half.map((s) => [s.t / 60_000, s.rss / MB])) : null,
    // Every 10 s, for the record.
    everyTenSecondsMB: samples
      .filter((s, i) => i === 0 || Math.floor(s.t / 10_000) !== Math.floor((samples[i - 1]?.t ?? 0) / 10_000))
      .map((s) => Math.round(s.rss / MB)),
  };
}

function slope(points) {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Load from `connections` concurrent keep-alive clients for `seconds`, each client on its own loopback
 * source address, as real patients are. (wrk and autocannon send everything from one address, and
 * nginx's limit_req burst of 20 per address then answers part of it with 429: that measures nginx's
 * limiter, not the page.) Latency is per request, from sending it to the last byte of the answer.
 */
export async function loadTest(url, { connections, seconds }) {
  const target = new URL(url);
  const path = `${target.pathname}${target.search}`;
  const pools = Array.from(
    { length: connections },
    (_, i) =>
      new Pool(target.origin, {
        connections: 1,
        pipelining: 1,
        localAddress: `127.0.${10 + Math.floor(i / 250)}.${(i % 250) + 1}`,
      }),
  );
  const latencies = [];
  let non2xx = 0;
  let socketErrors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    pools.map(async (pool) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          const res = await pool.request({
            path,
            method: 'GET',
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          await res.body.text();
          if (res.statusCode < 200 || res.statusCode > 299) non2xx += 1;
          latencies.push(performance.now() - t);
        } catch {
          socketErrors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(pools.map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null;
  return {
    tool: 'undici, one source address per client',
    requests: latencies.length + socketErrors,
    requestsPerSec: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    non2xx,
    socketErrors,
  };
}

/**
 * An HTTP proxy in front of the store that counts the requests it forwards: `requests` (method and
 * path, in order). Only for the token service, whose few small requests it barely slows.
 */
export async function startCountingProxy(targetUrl) {
  const target = new URL(targetUrl);
  const requests = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

/** GET `url` from `localAddress` on a connection of its own; resolves with the status once the body is read. */
export function pageStatus(url, localAddress) {
  return new Promise((resolve) => {
    const req = httpRequest(url, { localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}
