// Every route the token service's routers register, public app and internal listener alike, in
// every spelling a path-prefix check might miss, without credentials: each is refused by its own
// check or matches no route. The list comes from the routers, so a new route is walked without
// anyone adding it here.
import { concretePath, guardOf, isRefusal, pathVariants, sendExact } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaffHarness, startStaffHarness } from './staff.harness.js';

let h: StaffHarness;
beforeAll(async () => {
  h = await startStaffHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('every registered route, without credentials', () => {
  it('the routers register the routes the probe found open, on the listeners they belong to', () => {
    const pub = h.routes.public.map((r) => `${r.method} ${r.path}`);
    const internal = h.routes.internal.map((r) => `${r.method} ${r.path}`);
    expect(pub).toContain('GET /api/v1/access-log');
    expect(pub).toContain('GET /api/v1/server-config');
    expect(pub).toContain('PUT /api/v1/studies/:studyInstanceUid/token');
    expect(pub).toContain('GET /staff/users');
    expect(internal).toContain('POST /internal/v1/grants');
    expect(internal).toContain('GET /metrics');
    // Not on the public app at all.
    expect(pub.filter((r) => r.includes('/internal/') || r.endsWith(' /metrics'))).toEqual([]);
  });

  it('refuses each guarded route in every spelling, straight to the service', async () => {
    const failures: string[] = [];
    let walked = 0;
    for (const [base, routes] of [
      [h.url, h.routes.public],
      [h.internalUrl, h.routes.internal],
    ] as const) {
      for (const route of routes) {
        const guard = guardOf(route);
        const path = concretePath(route.path);
        for (const variant of pathVariants(path)) {
          const answer = await sendExact(base, route.method, variant);
          walked++;
          if (answer.status >= 500) failures.push(`${route.method} ${variant}: ${answer.status}`);
          else if (guard && !isRefusal(guard, answer, variant === path))
            failures.push(`${route.method} ${variant}: ${answer.status} ${answer.body.slice(0, 120)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(walked).toBeGreaterThan(400);
  });

  it('the probe: /api/V1/access-log and /Internal/v1/grants no longer answer', async () => {
    const log = await sendExact(h.url, 'GET', '/api/V1/access-log?limit=500');
    expect(log.status).toBe(404);
    expect(log.body).not.toContain('items');
    const cfg = await sendExact(h.url, 'GET', '/api/V1/server-config');
    expect(cfg.status).toBe(404);
    const grant = await sendExact(h.internalUrl, 'POST', '/Internal/v1/grants');
    expect(grant.status).toBe(404);
    // The public app has no internal routes, spelled any way.
    expect((await sendExact(h.url, 'POST', '/internal/v1/grants')).status).toBe(404);
  });

  it('the internal routes take the current secret, and a wrong one in either header is a 401', async () => {
    const routes = (headers: Record<string, string>) =>
      sendExact(h.internalUrl, 'GET', '/internal/v1/routes', { headers });
    expect((await routes({ 'x-internal-secret': h.internalSecret })).status).toBe(200);
    expect((await routes({ authorization: `Bearer ${h.internalSecret}` })).status).toBe(200);
    expect((await routes({ 'x-internal-secret': h.internalSecret.slice(1) })).status).toBe(401);
    expect((await routes({ authorization: `Bearer ${h.internalSecret}x` })).status).toBe(401);
    expect((await routes({})).status).toBe(401);
  });
});
