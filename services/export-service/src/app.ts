import {
  createInternalApp,
  createRouter,
  errorHandler,
  type Logger,
  mountRouters,
  patientErrorPages,
  recordRoutes,
  requestContext,
  type ServiceMetrics,
} from '@studylink/service-kit';
import Koa, { type Middleware } from 'koa';
import type { ExportMetrics } from './export.metrics.js';
import { type ExportDeps, exportRoutes } from './export.routes.js';
import { GATEWAY_PREFIX, gatewayRouteTemplates } from './gateway/gateway.paths.js';

export interface AppDeps extends ExportDeps {
  log: Logger;
  /** Readiness of the store (a cheap QIDO-RS call). */
  checkStore: () => Promise<boolean>;
  /** Prometheus metrics: counted here, served by the internal app (main.ts always gives them). */
  metrics?: { service: ServiceMetrics; exports: ExportMetrics };
  /** The viewer's DICOMweb gateway under /token/dicomweb/ (gateway/gateway.routes.ts); absent: not served. */
  gateway?: Middleware;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  // The gateway answers the viewer's script in JSON; the download and other /token paths are pages.
  const pages = patientErrorPages((path) => path.startsWith('/token') && !path.startsWith(GATEWAY_PREFIX));
  if (deps.metrics) app.use(deps.metrics.service.middleware);
  app.use(requestContext(deps.log));
  app.use(
    errorHandler({
      render: pages.render,
    }),
  );
  if (deps.metrics) app.use(deps.metrics.exports.refusals);
  if (deps.gateway) {
    app.use(deps.gateway);
    recordRoutes(app, [gatewayRouteTemplates()]);
  }

  const health = createRouter();
  health.get('/livez', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  health.get('/readyz', async (ctx) => {
    const store = await deps.checkStore().catch(() => false);
    const draining = deps.isDraining();
    const ready = store && !draining;
    ctx.status = ready ? 200 : 503;
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      status: ready ? 'ready' : 'not ready',
      checks: {
        store: store ? 'ok' : 'down',
        draining: draining ? 'yes' : 'no',
        exportsInFlight: deps.limiter.inFlight,
      },
    };
  });

  mountRouters(app, [health, exportRoutes(deps)]);
  app.use(pages.notFound);
  return app;
}

/** The export service's internal listener: /metrics only, behind the shared secret. */
export function createExportInternalApp(deps: {
  log: Logger;
  internalSecrets: readonly string[];
  metrics?: ServiceMetrics;
  /** The public app, whose routes the internal listener lists for route walks. */
  publicApp?: Koa;
}): Koa {
  return createInternalApp({
    log: deps.log,
    secrets: deps.internalSecrets,
    ...(deps.publicApp ? { publicApp: deps.publicApp } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
}
