// The security probe, against the real stack: every route the running services say they registered
// (read from their internal listeners), in every spelling, through nginx and straight to each
// port, refused without credentials; one link holder cannot block the downloads of everyone else.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  concretePath,
  guardOf,
  isRefusal,
  pathVariants,
  type RawAnswer,
  sendExact,
  uploadDirectory,
  type WalkRoute,
  writeSyntheticStudy,
} from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';
import { header, httpRequest } from './support/patient-http.js';

let s: E2EStack;
let routes: {
  token: { public: WalkRoute[]; internal: WalkRoute[] };
  export: { public: WalkRoute[]; internal: WalkRoute[] };
};
let bigToken: string;
let otherToken: string;

const local = (port: number) => `http://127.0.0.1:${port}`;
let nextClient = 1;
// Each request from its own loopback address: nginx's per-address rate limits stay out of the way.
const client = () => `127.0.${10 + Math.floor(nextClient / 250)}.${(nextClient++ % 250) + 1}`;

beforeAll(async () => {
  s = await startE2EStack('security', {
    env: {
      // Short, so that the test sees a stalled client lose its slot.
      EXPORT_CLIENT_STALL_SECONDS: '2',
      INVALID_TOKEN_LIMIT: '1000',
    },
  });
  const secret = { authorization: `Bearer ${s.stack.internalSecret}` };
  const read = async (port: number) => {
    const res = await fetch(`${local(port)}/internal/v1/routes`, { headers: secret });
    expect(res.status).toBe(200);
    return (await res.json()) as { public: WalkRoute[]; internal: WalkRoute[] };
  };
  routes = { token: await read(s.stack.tokenInternalPort), export: await read(s.stack.exportInternalPort) };

  const dir = await mkdtemp(join(tmpdir(), 'studylink-security-'));
  // About 40 MB: far more than the socket buffers between the export service, nginx and a client.
  const study = await writeSyntheticStudy({
    dir,
    patientName: 'Probe^Big',
    patientId: 'SEC-1',
    series: 2,
    instancesPerSeries: 40,
  });
  await uploadDirectory(s.orthanc, dir, 4);
  bigToken = (await s.issueToken(study.studyInstanceUid)).token;
  const otherDir = await mkdtemp(join(tmpdir(), 'studylink-security-'));
  const other = await writeSyntheticStudy({
    dir: otherDir,
    patientName: 'Probe^Other',
    patientId: 'SEC-2',
    series: 1,
    instancesPerSeries: 4,
  });
  await uploadDirectory(s.orthanc, otherDir, 4);
  otherToken = (await s.issueToken(other.studyInstanceUid)).token;
});
afterAll(async () => {
  await s?.stop();
});

describe('every registered route, without credentials', () => {
  it('the services list what their routers registered', () => {
    const tokenPublic = routes.token.public.map((r) => `${r.method} ${r.path}`);
    expect(tokenPublic).toEqual(
      expect.arrayContaining(['GET /api/v1/access-log', 'GET /staff/users', 'GET /token']),
    );
    expect(routes.token.internal.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['POST /internal/v1/grants', 'POST /internal/v1/access-events', 'GET /metrics']),
    );
    expect(routes.export.public.map((r) => `${r.method} ${r.path}`)).toContain('GET /token/study.zip');
    expect(routes.export.internal.map((r) => `${r.method} ${r.path}`)).toContain('GET /metrics');
  });

  it('is refused in every spelling through nginx and straight to every port', async () => {
    const nginx = s.url;
    const targets: [string, string, WalkRoute[]][] = [
      // Public routes: through nginx, and straight to the service's own port.
      ['nginx', nginx, [...routes.token.public, ...routes.export.public]],
      ['token-service', local(s.stack.tokenPort), routes.token.public],
      ['export-service', local(s.stack.exportPort), routes.export.public],
      // Internal routes: on their listener, and not to be found anywhere else.
      ['token internal', local(s.stack.tokenInternalPort), routes.token.internal],
      ['export internal', local(s.stack.exportInternalPort), routes.export.internal],
      ['nginx (internal routes)', nginx, [...routes.token.internal, ...routes.export.internal]],
      ['token-service (internal routes)', local(s.stack.tokenPort), routes.token.internal],
    ];
    const failures: string[] = [];
    let walked = 0;
    for (const [name, base, list] of targets) {
      const elsewhere = name.includes('(internal routes)');
      for (const route of list) {
        const guard = guardOf(route);
        const path = concretePath(route.path);
        for (const variant of pathVariants(path)) {
          let answer: RawAnswer;
          try {
            answer = await sendExact(base, route.method, variant, { localAddress: client() });
          } catch (err) {
            failures.push(`${name} ${route.method} ${variant}: ${(err as Error).message}`);
            continue;
          }
          walked++;
          const bad =
            answer.status >= 500 ||
            (elsewhere
              ? guard !== null && (answer.status < 400 || answer.body.includes('studylink_'))
              : guard !== null && !isRefusal(guard, answer, variant === path && !name.startsWith('nginx')));
          if (bad)
            failures.push(
              `${name} ${route.method} ${variant}: ${answer.status} ${answer.body.slice(0, 100)}`,
            );
        }
      }
    }
    expect(failures).toEqual([]);
    expect(walked).toBeGreaterThan(1000);
  });
});

describe('one link holder cannot block everyone', () => {
  it('eight unread downloads from one address hold at most its share; another address still downloads, and the stalled ones lose their slots', async () => {
    const hog = '127.0.8.1';
    const holds = await Promise.all(
      Array.from({ length: 8 }, () => holdDownload(`${s.url}/token/study.zip?${bigToken}`, hog)),
    );
    const served = holds.filter((h) => h.status === 200);
    const refused = holds.filter((h) => h.status !== 200);
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(served.length).toBeLessThanOrEqual(3);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.retryAfter).toMatch(/^\d+$/);
      expect(r.cacheControl).toBe('no-store');
    }
    // Another patient, with another link, is not affected.
    const other = await httpRequest(`${s.url}/token/study.zip?${otherToken}`, {
      localAddress: '127.0.8.2',
      timeoutMs: 60_000,
    });
    expect(other.status).toBe(200);
    expect(header(other, 'content-type')).toBe('application/zip');
    // The held downloads lose their slots once they have made no progress for the stall window...
    const inFlight = async () =>
      (
        (await (await fetch(`${local(s.stack.exportPort)}/readyz`)).json()) as {
          checks: { exportsInFlight: number };
        }
      ).checks.exportsInFlight;
    const deadline = Date.now() + 30_000;
    while ((await inFlight()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await inFlight()).toBe(0);
    // ...and each, read to its end, is visibly broken: no terminating chunk, no complete zip.
    const complete = await Promise.all(served.map((h) => h.readToEnd()));
    expect(complete).toEqual(served.map(() => false));
  });
});

/** Starts a download from `localAddress` and reads nothing until `readToEnd` (true: it ended complete). */
async function holdDownload(url: string, localAddress: string) {
  const { request } = await import('node:http');
  return new Promise<{
    status: number;
    retryAfter: string;
    cacheControl: string;
    readToEnd: () => Promise<boolean>;
  }>((resolve, reject) => {
    const req = request(url, { agent: false, localAddress }, (res) => {
      const ended = new Promise<boolean>((r) => {
        res.on('error', () => r(false));
        res.on('close', () => r(res.complete));
      });
      res.pause();
      resolve({
        status: res.statusCode ?? 0,
        retryAfter: String(res.headers['retry-after'] ?? ''),
        cacheControl: String(res.headers['cache-control'] ?? ''),
        readToEnd: () => {
          res.resume();
          return ended;
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}
