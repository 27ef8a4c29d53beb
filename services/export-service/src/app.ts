import type { PatientSender } from '@studylink/contracts';
import {
  createInternalApp,
  createRouter,
  errorHandler,
  type Logger,
  mountRouters,
  patientErrorPages,
  type ReadinessReport,
  readinessRoute,
  recordRoutes,
  requestContext,
  type ServiceMetrics,
} from '@studylink/service-kit';
import Koa, { type Middleware } from 'koa';
import type { ExportMetrics } from './export.metrics.js';
import { type ExportDeps, exportRoutes } from './export.routes.js';
import { GATEWAY_PREFIX, gatewayRouteTemplates } from './gateway/gateway.paths.js';
import { reportRoutes } from './reports/report.routes.js';
import { StudyReportIndex } from './reports/study-reports.js';

export interface AppDeps extends ExportDeps {
  log: Logger;
  /** Readiness of the store (a cheap QIDO-RS call). */
  checkStore: () => Promise<boolean>;
  /** Prometheus metrics: counted here, served by the internal app (main.ts always gives them). */
  metrics?: { service: ServiceMetrics; exports: ExportMetrics };
  /** Who sent the links (createSenderSource), named on this service's patient pages; absent: not named. */
  patientSender?: () => Promise<PatientSender | null>;
  /** The viewer's DICOMweb gateway under /token/dicomweb/ (gateway/gateway.routes.ts); absent: not served. */
  gateway?: Middleware;
  /** Which instances of a study are reports (shared with the gateway); default: one of its own. */
  reports?: StudyReportIndex;
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
  const sender = deps.patientSender;
  if (sender)
    app.use(async (ctx, next) => {
      // Only patient pages name the sender (read before the route runs, so a refusal's page has it).
      if (pages.isPage(ctx.path)) ctx.state.patientSender = await sender();
      await next();
    });
  if (deps.gateway) {
    app.use(deps.gateway);
    recordRoutes(app, [gatewayRouteTemplates()]);
  }

  const health = createRouter();
  health.get('/livez', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  health.get('/readyz', readinessRoute(exportReadiness(deps)));

  const reports = deps.reports ?? new StudyReportIndex(deps.dicomweb, 60_000);
  mountRouters(app, [health, exportRoutes(deps), reportRoutes({ ...deps, reports })]);
  app.use(pages.notFound);
  return app;
}

/** Ready: the store answers and no SIGTERM has arrived. */
export function exportReadiness(deps: Pick<AppDeps, 'checkStore' | 'isDraining' | 'limiter'>) {
  return async (): Promise<ReadinessReport> => {
    const store = await deps.checkStore().catch(() => false);
    const draining = deps.isDraining();
    return {
      ready: store && !draining,
      checks: {
        store: store ? 'ok' : 'down',
        draining: draining ? 'yes' : 'no',
        exportsInFlight: deps.limiter.inFlight,
      },
    };
  };
}

/** The export service's internal listener: /metrics (METRICS_TOKEN), /livez and /readyz. */
export function createExportInternalApp(deps: {
  log: Logger;
  /** /readyz on the internal port too (exportReadiness). */
  readiness?: () => Promise<ReadinessReport>;
  internalSecrets: readonly string[];
  /** METRICS_TOKEN: what /metrics takes (null: refused). */
  metricsToken?: string | null;
  metrics?: ServiceMetrics;
  /** The public app, whose routes the internal listener lists for route walks. */
  publicApp?: Koa;
}): Koa {
  return createInternalApp({
    log: deps.log,
    secrets: deps.internalSecrets,
    metricsToken: deps.metricsToken ?? null,
    ...(deps.readiness ? { readiness: deps.readiness } : {}),
    ...(deps.publicApp ? { publicApp: deps.publicApp } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
}
