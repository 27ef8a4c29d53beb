import { request } from 'node:http';
import Koa, { type Context, type Next } from 'koa';
import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from './http.server.js';
import { createServiceMetrics, METRICS_PATH, UNMATCHED_ROUTE } from './metrics.js';

const TOKEN = '4m5RHRCmSrWYcnmk8lCThvg0qy2KHA7K5ZldW7ZDNsEKsZ68NcJU4b83UtnYJfwx';

/** Stands in for @koa/router, which sets the template of the route it matched on the context. */
function route(method: string, template: string, handler: (ctx: Context) => void) {
  const pattern = new RegExp(`^${template.replace(/:[a-z]+/g, '[^/]+')}$`);
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== method || !pattern.test(ctx.path)) return next();
    (ctx as Context & { _matchedRoute?: string })._matchedRoute = template;
    handler(ctx);
  };
}

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});

async function start(service: string) {
  const metrics = createServiceMetrics({ service });
  const app = new Koa();
  app.use(metrics.middleware);
  app.use(
    route('GET', '/token', (ctx) => {
      ctx.body = 'page';
    }),
  );
  app.use(
    route('PUT', '/api/v1/studies/:uid/token', (ctx) => {
      ctx.status = 201;
      ctx.body = { ok: true };
    }),
  );
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = 'not found';
  });
  const http = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
  // Scrapes go to another listener, as the services' internal one.
  const internal = new Koa();
  internal.use(async (ctx, next) => (ctx.path === METRICS_PATH ? metrics.scrape(ctx, next) : next()));
  const scrapes = await listen(internal.callback(), { host: '127.0.0.1', port: 0 });
  servers.push(http, scrapes);
  return { metrics, url: `http://127.0.0.1:${http.port}`, internalUrl: `http://127.0.0.1:${scrapes.port}` };
}

async function scrape(target: { internalUrl: string }) {
  const res = await fetch(`${target.internalUrl}${METRICS_PATH}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return res.text();
}

/** Sends a request and waits until the server has closed its response (the metrics are taken then). */
async function hit(url: string, path: string, method = 'GET') {
  const res = await fetch(`${url}${path}`, { method });
  await res.arrayBuffer();
  await new Promise((r) => setTimeout(r, 20));
  return res.status;
}

describe('createServiceMetrics', () => {
  it('counts requests by route template, method and status, never by URL or query', async () => {
    const target = await start('token-service');
    const { url } = target;
    expect(await hit(url, `/token?${TOKEN}`)).toBe(200);
    expect(await hit(url, `/token?${TOKEN}`)).toBe(200);
    expect(await hit(url, '/api/v1/studies/1.2.840.99/token', 'PUT')).toBe(201);
    expect(await hit(url, `/secret/${TOKEN}?k=${TOKEN}`)).toBe(404);

    const text = await scrape(target);
    expect(text).toContain(
      'studylink_http_requests_total{method="GET",route="/token",status="200",service="token-service"} 2',
    );
    expect(text).toContain(
      'studylink_http_requests_total{method="PUT",route="/api/v1/studies/:uid/token",status="201",service="token-service"} 1',
    );
    expect(text).toContain(`route="${UNMATCHED_ROUTE}",status="404"`);
    expect(text).toMatch(
      /studylink_http_request_duration_seconds_count\{[^}]*route="\/token",status="200"[^}]*\} 2/,
    );
    // Nothing of the URLs: no token, no query string, no study UID, no unmatched path.
    expect(text).not.toContain(TOKEN);
    expect(text).not.toMatch(/[A-Za-z0-9]{64}/);
    expect(text).not.toContain('?');
    expect(text).not.toContain('1.2.840.99');
    expect(text).not.toContain('/secret');
  });

  it('serves no metrics on the public app', async () => {
    const { url } = await start('token-service');
    expect(await hit(url, METRICS_PATH)).toBe(404);
  });

  it('labels unknown methods as OTHER and does not count its own scrapes', async () => {
    const target = await start('export-service');
    const { url } = target;
    await new Promise<void>((resolve, reject) => {
      const req = request(`${url}/token`, { method: 'PROPFIND' }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((r) => setTimeout(r, 20));
    await scrape(target);
    const text = await scrape(target);
    expect(text).toContain('method="OTHER"');
    expect(text).not.toContain('PROPFIND');
    expect(text).not.toContain(`route="${METRICS_PATH}"`);
  });

  it('keeps one registry per app and leaves the global registry alone', async () => {
    const a = await start('a');
    const b = await start('b');
    await hit(a.url, '/token');
    expect(await scrape(a)).toContain('status="200",service="a"} 1');
    const other = await scrape(b);
    expect(other).not.toContain('service="a"');
    expect(other).not.toContain('studylink_http_requests_total{');
    expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
  });

  it('adds process metrics only when asked', async () => {
    const plain = createServiceMetrics({ service: 'x' });
    expect(await plain.registry.metrics()).not.toContain('process_cpu_seconds_total');
    const full = createServiceMetrics({ service: 'x', processMetrics: true });
    expect(await full.registry.metrics()).toContain('process_cpu_seconds_total');
    full.registry.clear();
  });
});
