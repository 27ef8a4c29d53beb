import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from './http.server.js';
import { errorHandler } from './request.middleware.js';
import { createRouter, mountRouters, registeredRoutes, requireSharedSecret } from './router.factory.js';

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});

async function serve(app: Koa) {
  const http = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
  servers.push(http);
  return `http://127.0.0.1:${http.port}`;
}

describe('createRouter', () => {
  it('matches a path only as written: no other case, no trailing slash', async () => {
    const app = new Koa();
    const router = createRouter({ prefix: '/api/v1' });
    router.get('/access-log', (ctx) => {
      ctx.body = 'the log';
    });
    mountRouters(app, [router]);
    const base = await serve(app);
    expect((await fetch(`${base}/api/v1/access-log`)).status).toBe(200);
    for (const p of [
      '/api/V1/access-log',
      '/API/v1/access-log',
      '/api/v1/Access-Log',
      '/api/v1/access-log/',
    ]) {
      expect((await fetch(`${base}${p}`)).status, p).toBe(404);
    }
  });

  it('remembers every route it mounted, HEAD folded into GET', () => {
    const app = new Koa();
    const a = createRouter({ prefix: '/api/v1' });
    a.get('/x', () => {});
    a.put('/y/:id', () => {});
    const b = createRouter();
    b.post('/internal/v1/grants', () => {});
    mountRouters(app, [a, b]);
    expect(registeredRoutes(app)).toEqual([
      { method: 'GET', path: '/api/v1/x' },
      { method: 'PUT', path: '/api/v1/y/:id' },
      { method: 'POST', path: '/internal/v1/grants' },
    ]);
    expect(registeredRoutes(new Koa())).toEqual([]);
  });
});

describe('requireSharedSecret', () => {
  const current = 'c'.repeat(40);
  const previous = 'p'.repeat(40);

  async function start(secrets: string[]) {
    const app = new Koa();
    app.use(errorHandler());
    const router = createRouter();
    router.get('/internal/v1/x', requireSharedSecret(secrets), (ctx) => {
      ctx.body = 'secret stuff';
    });
    mountRouters(app, [router]);
    return serve(app);
  }

  it('takes the current secret, and the previous one during a rotation, in either header', async () => {
    const base = await start([current, previous]);
    const get = (headers: Record<string, string>) => fetch(`${base}/internal/v1/x`, { headers });
    for (const s of [current, previous]) {
      expect((await get({ 'x-internal-secret': s })).status).toBe(200);
      expect((await get({ authorization: `Bearer ${s}` })).status).toBe(200);
    }
    const wrong: Record<string, string>[] = [
      {},
      { 'x-internal-secret': current.slice(1) },
      { authorization: `Bearer ${previous}x` },
    ];
    for (const bad of wrong) {
      const res = await get(bad);
      expect(res.status).toBe(401);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).not.toContain('secret stuff');
    }
  });

  it('once the rotation is over, the previous secret is refused', async () => {
    const base = await start([current]);
    expect(
      (await fetch(`${base}/internal/v1/x`, { headers: { 'x-internal-secret': previous } })).status,
    ).toBe(401);
    expect(() => requireSharedSecret([''])).toThrow();
  });
});
