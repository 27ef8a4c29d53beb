import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import type { Logger } from 'pino';
import { type ReadinessReport, readinessRoute } from './health.js';
import type { ServiceMetrics } from './metrics.js';
import { METRICS_PATH } from './metrics.js';
import { errorHandler, requestContext } from './request.middleware.js';
import {
  createRouter,
  InternalUnauthorizedError,
  mountRouters,
  registeredRoutes,
  requireSharedSecret,
} from './router.factory.js';

export interface InternalAppOptions {
  log: Logger;
  /** The shared secret and, during a rotation, the previous one. */
  secrets: readonly string[];
  /** Served at /metrics to a scraper with `metricsToken` (never with the shared secret). */
  metrics?: ServiceMetrics;
  /** METRICS_TOKEN: the bearer token /metrics takes; null or absent: every scrape is refused. */
  metricsToken?: string | null;
  /** Served at /readyz without credentials, like /livez (compose's health checks use it). */
  readiness?: () => Promise<ReadinessReport>;
  /** The service's own internal routes; each binds requireSharedSecret itself. */
  routers?: Router[];
  /** Run before the routes, after error handling (e.g. mapping a database outage to 503). */
  middleware?: Middleware[];
  /** The service's public app, whose routes `GET /internal/v1/routes` lists with the internal ones. */
  publicApp?: object;
  /** The largest JSON body (default 64kb): a study's zip layout takes about 300 bytes per instance. */
  jsonLimit?: string;
}

/** Where each service lists the routes its routers registered (with the secret): for route walks. */
export const ROUTES_PATH = '/internal/v1/routes';

/**
 * The app of a service's internal listener: its own port, never routed by nginx, every route behind
 * the shared secret (/metrics: METRICS_TOKEN). It holds what must not be reachable from the public app even when a proxy is
 * misrouted: the grant checks, access events and Prometheus metrics.
 * @example const internal = createInternalApp({ log, secrets: [secret], metrics, routers: [grants] });
 */
export function createInternalApp(opts: InternalAppOptions): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.use(requestContext(opts.log));
  app.use(errorHandler());
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: opts.jsonLimit ?? '64kb', jsonStrict: true }));
  for (const m of opts.middleware ?? []) app.use(m);
  const ops = createRouter();
  // Liveness for the container's health check, which may not reach the public address.
  ops.get('/livez', (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  if (opts.readiness) ops.get('/readyz', readinessRoute(opts.readiness));
  const secret = requireSharedSecret(opts.secrets);
  if (opts.metrics) {
    // Its own token, so a scraper's credential never authorises a grant check; unset, refused.
    const scraper: Middleware = opts.metricsToken
      ? requireSharedSecret([opts.metricsToken])
      : () => {
          throw new InternalUnauthorizedError();
        };
    ops.get(METRICS_PATH, scraper, opts.metrics.scrape);
  }
  // What a test (or an operator) walks to check that no route answers without its credentials.
  ops.get(ROUTES_PATH, secret, (ctx) => {
    ctx.body = {
      public: opts.publicApp ? registeredRoutes(opts.publicApp) : [],
      internal: registeredRoutes(app),
    };
  });
  mountRouters(app, [ops, ...(opts.routers ?? [])]);
  app.use((ctx) => {
    ctx.status = 404;
    ctx.set('cache-control', 'no-store');
    ctx.body = { error: { code: 'not_found', message: 'no such internal route' } };
  });
  return app;
}
