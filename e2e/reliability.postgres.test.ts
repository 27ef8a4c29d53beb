// A PostgreSQL outage under steady page traffic. The stack runs against a private cluster
// (e2e/support/private-postgres.ts): the machine's shared one must never be restarted under other
// people's tests. It is stopped the hard way (pg_ctl stop -m immediate) and started again; the
// services are not restarted.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSamples } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';
import { malformedLogLines, tokenLeaks } from './support/log-checks.js';
import { type PrivatePostgres, startPrivatePostgres } from './support/private-postgres.js';
import { rawRequest } from './support/raw-http.js';

const OUTAGE_MS = 4_000;
const RECOVERY_LIMIT_MS = 10_000;

let pg: PrivatePostgres;
let s: E2EStack;
let port: number;
let token: string;

interface Sample {
  at: number;
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** `workers` clients asking for the page in a loop (each from its own address) until stopped. */
function steadyTraffic(workers: number) {
  const samples: Sample[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const res = await rawRequest(port, 'GET', `/token?${token}`, {}, undefined, {
        localAddress: `127.0.6.${w + 1}`,
        timeoutMs: 20_000,
      }).catch((err: Error) => ({
        status: -1,
        headers: {} as Record<string, string>,
        body: Buffer.from(err.message),
      }));
      samples.push({
        at: Date.now(),
        status: res.status,
        retryAfter: res.headers['retry-after'],
        body: res.body.toString('utf8'),
      });
      await sleep(25);
    }
  });
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const summary = (samples: Sample[]) =>
  samples.reduce<Record<number, number>>((acc, x) => {
    acc[x.status] = (acc[x.status] ?? 0) + 1;
    return acc;
  }, {});

beforeAll(async () => {
  pg = await startPrivatePostgres();
  s = await startE2EStack('reliability-postgres', {
    env: { DATABASE_URL: pg.appUrl, MIGRATION_DATABASE_URL: pg.url },
  });
  port = Number(new URL(s.url).port);
  const [ct] = await loadSamples(s.orthanc, ['CT_small.dcm']);
  ({ token } = await s.issueToken(ct?.studyInstanceUid as string));
});
afterAll(async () => {
  await s?.stop();
  await pg?.destroy();
});

describe('PostgreSQL outage under steady page traffic', () => {
  it('pages answer 200 or 503 (never 500/502) during the outage and 200 again soon after, with no restart', async () => {
    const pids = Object.fromEntries(Object.entries(s.stack.processes).map(([k, p]) => [k, p.pid]));
    const traffic = steadyTraffic(3);
    await sleep(1_500);
    const downAt = Date.now();
    await pg.stopImmediate();

    await sleep(OUTAGE_MS / 2);
    // In the middle of the outage: readiness says so, the download and the API answer 503 too.
    const ready = await fetch(`http://127.0.0.1:${s.stack.tokenPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { database: string } }).checks.database).toBe('down');
    const zip = await rawRequest(port, 'GET', `/token/study.zip?${token}`, {}, undefined, {
      localAddress: '127.0.6.50',
    });
    expect(zip.status).toBe(503);
    expect(zip.headers['retry-after']).toBeDefined();
    expect((await s.api('GET', '/api/v1/server-config')).status).toBe(503);
    await sleep(OUTAGE_MS / 2);

    const startedAt = Date.now();
    await pg.start();
    const upAt = Date.now();
    // Watch until pages have been 200 for 3 s in a row (or the recovery limit has passed).
    const steadySince = () => {
      const failures = traffic.samples.filter((x) => x.status !== 200);
      return Math.max(upAt, failures.at(-1)?.at ?? 0);
    };
    while (Date.now() - upAt < RECOVERY_LIMIT_MS && Date.now() - steadySince() < 3_000) await sleep(100);
    await sleep(500);
    await traffic.stop();

    const before = traffic.samples.filter((x) => x.at < downAt);
    const during = traffic.samples.filter((x) => x.at >= downAt && x.at < upAt);
    const after = traffic.samples.filter((x) => x.at >= upAt);
    const firstOk = after.find((x) => x.status === 200);
    const recoveredAfter = firstOk ? firstOk.at - upAt : Number.POSITIVE_INFINITY;
    const lastFailure = after.filter((x) => x.status !== 200).at(-1);
    console.log(
      `postgres down ${upAt - downAt} ms (restart took ${upAt - startedAt} ms); before ${JSON.stringify(summary(before))}, during ${JSON.stringify(summary(during))}, after ${JSON.stringify(summary(after))}; first 200 ${recoveredAfter} ms after it was back, last non-200 ${lastFailure ? lastFailure.at - upAt : 'none'} ms after`,
    );

    expect(Object.keys(summary(before))).toEqual(['200']);
    // During the outage: only 200 (a request that got its answer just in time) or 503.
    for (const x of [...during, ...after])
      expect([200, 503], `${x.status} ${x.body.slice(0, 200)}`).toContain(x.status);
    const unavailable = during.filter((x) => x.status === 503);
    expect(unavailable.length).toBeGreaterThan(10);
    for (const x of unavailable) {
      expect(x.retryAfter).toBeDefined();
      expect(x.body).toContain('Temporarily unavailable');
      expect(x.body).not.toContain('DOE');
    }
    // Back to 200 well within the limit, and 200 from then on.
    expect(recoveredAfter).toBeLessThan(RECOVERY_LIMIT_MS);
    const settled = after.filter((x) => x.at > (firstOk?.at ?? 0));
    expect(settled.length).toBeGreaterThan(30);
    expect(Object.keys(summary(settled))).toEqual(['200']);
    // Nothing was restarted.
    for (const [name, proc] of Object.entries(s.stack.processes)) {
      expect(proc.exitCode, name).toBeNull();
      expect(proc.pid, name).toBe(pids[name]);
    }
    expect((await fetch(`http://127.0.0.1:${s.stack.tokenPort}/readyz`)).status).toBe(200);
  });

  it('leaves every log line JSON and no token in any log', async () => {
    expect(await malformedLogLines(s.logDir)).toEqual([]);
    expect(await tokenLeaks(s.logDir, [token])).toEqual([]);
  });
});
