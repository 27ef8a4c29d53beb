import type { Context, Middleware, Next } from 'koa';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

// Services define their own metrics with these, in the registry createServiceMetrics gives them.
export { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Where each service answers Prometheus: on its internal listener only, with the shared secret. */
export const METRICS_PATH = '/metrics';

/** Route label of requests no router matched: their paths are unbounded, and may hold anything. */
export const UNMATCHED_ROUTE = '(unmatched)';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// Downloads may stream for many minutes; page and API requests should take milliseconds.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

export interface ServiceMetrics {
  /** This app's own registry: nothing goes into prom-client's global one, so tests can build many apps. */
  readonly registry: Registry;
  /**
   * Counts and times every request by route template, method and status, when its response closes
   * (so a streamed zip counts its whole duration). Use it first on the public app.
   */
  readonly middleware: Middleware;
  /** Answers a scrape with the registry's text; mounted at `/metrics` on the internal listener only. */
  readonly scrape: Middleware;
}

/**
 * Prometheus metrics for one service. Labels are the route template (`/api/v1/studies/:uid/token`),
 * never the URL: `/token?<token>` carries a secret in its query string.
 * @example const metrics = createServiceMetrics({ service: 'token-service', processMetrics: true });
 */
export function createServiceMetrics(opts: { service: string; processMetrics?: boolean }): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  // CPU, memory, event-loop lag, GC: off by default because each call starts its own monitors.
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'studylink_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'studylink_http_request_duration_seconds',
    help: 'Time from request to response closed (streamed bodies included), by route template, method and status.',
    labelNames,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  const scrape = async (ctx: Context) => {
    ctx.set('cache-control', 'no-store');
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  };
  const middleware = async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    ctx.res.once('close', () => {
      const labels = { method: methodLabel(ctx.method), route: routeLabel(ctx), status: String(ctx.status) };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    await next();
  };
  return { registry, middleware, scrape };
}

function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

/** The template of the route that matched (set by @koa/router), else a constant. */
function routeLabel(ctx: Context): string {
  const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' && matched !== '' ? matched : UNMATCHED_ROUTE;
}
