import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import type { DicomwebClient } from '@studylink/dicomweb';
import {
  createInternalApp,
  createRouter,
  errorHandler,
  isClientAbort,
  type Logger,
  mountRouters,
  patientErrorPages,
  readinessRoute,
  recordRoutes,
  requestContext,
  type ServiceMetrics,
} from '@studylink/service-kit';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import type { Kysely } from 'kysely';
import type { ApiKeyService } from './api-keys/api-key.service.js';
import { isDatabaseUnavailable } from './db/database.js';
import type { DB } from './db/tables.js';
import type { DeliveryService } from './deliveries/delivery.service.js';
import { DatabaseUnavailableError } from './errors.js';
import { createReadiness, type Readiness } from './health/readiness.js';
import { apiRoutes } from './http/api.routes.js';
import { internalRoutes } from './internal/internal.routes.js';
import type { LinkAccess } from './link-access/link-access.js';
import { patientRoutes } from './patient/patient.routes.js';
import { senderOf } from './patient/sender.js';
import { reportPageRoutes } from './reports/report.routes.js';
import type { ReportService } from './reports/report.service.js';
import type { ServerConfigService } from './server-config/server-config.service.js';
import { shareRoutes } from './sharing/share.routes.js';
import type { ShareService } from './sharing/share.service.js';
import { PATIENT_CSS, PATIENT_OPENED_JS, PATIENT_SHARE_JS } from './static-assets.js';
import type { TokenService } from './tokens/token.service.js';
import type { ViewerAssets } from './viewer/viewer.assets.js';
import { viewerRoutes } from './viewer/viewer.routes.js';
import type { ZipLayoutService } from './zip-layouts/zip-layout.service.js';

export interface AppDeps {
  db: Kysely<DB>;
  log: Logger;
  tokens: TokenService;
  /** The link gate: page, form, viewer and grants all open links through it. */
  links: LinkAccess;
  serverConfig: ServerConfigService;
  apiKeys: ApiKeyService;
  /** Study zip layouts: the page shows the exact size once one is made. */
  layouts?: ZipLayoutService;
  trustedProxies: ReadonlySet<string>;
  /** True once SIGTERM arrived: readiness fails so the proxy stops sending new work. */
  isDraining: () => boolean;
  /** /readyz (health/readiness.ts); absent: the database and draining only. */
  readiness?: () => Promise<Readiness>;
  /** The staff web interface under /staff (staff/staff.module.ts); absent: /staff is not served. */
  staff?: { middleware: Middleware; router: Router };
  /** Prometheus metrics: counted here, served by the internal app (main.ts always gives them). */
  metrics?: ServiceMetrics;
  /** The built patient viewer (viewer/viewer.assets.ts); absent or null: /token/viewer is a 503. */
  viewerAssets?: ViewerAssets | null;
  /** Share onward: child links made from the patient's page (sharing/); absent: no sharing. */
  shares?: ShareService;
  /** E-mail/SMS delivery of links (deliveries/); absent: the API's deliveries answer 409. */
  deliveries?: DeliveryService;
  /** Reports the RIS pushes (reports/); absent: PUT/GET/DELETE .../report are not served. */
  reports?: ReportService;
  /** The store, for the report page (the granted study's SR and PDFs); absent: reports cannot be read. */
  dicomweb?: DicomwebClient;
  storeTimeoutMs?: number;
}

export interface InternalAppDeps {
  db: Kysely<DB>;
  log: Logger;
  links: LinkAccess;
  /** Absent (tests without a store): downloads stream without a fixed layout. */
  layouts?: ZipLayoutService;
  serverConfig: ServerConfigService;
  /** The shared secret and, during a rotation, the previous one. */
  internalSecrets: readonly string[];
  /** METRICS_TOKEN: what /metrics takes (null: refused). */
  metricsToken?: string | null;
  metrics?: ServiceMetrics;
  /** Pushed reports' bytes for the export service (reports/). */
  reports?: ReportService;
  /** The public app, whose routes the internal listener lists for route walks. */
  publicApp?: Koa;
  /** /readyz on the internal port too (compose's health check and depends_on use it). */
  readiness?: () => Promise<Readiness>;
}

/** Page routes answer errors with the plain HTML page; everything else with JSON. */
function isPageRoute(path: string): boolean {
  return path === '/token' || path.startsWith('/token/') || path.startsWith('/assets/');
}

/**
 * Patient pages, error pages included, name who sent the link: the setup's sender is put on
 * `ctx.state.patientSender` before any route runs, so a refusal's page carries it too. Without the
 * database (a 503 on its way) the pages go without.
 */
function patientSenderFor(serverConfig: ServerConfigService) {
  return async (ctx: Context, next: Next) => {
    if (ctx.path === '/token' || ctx.path.startsWith('/token/')) {
      try {
        ctx.state.patientSender = senderOf(await serverConfig.get());
      } catch {
        ctx.state.patientSender = null;
      }
    }
    await next();
  };
}

/** The database being down is a 503 wherever it surfaces, never a 500; a client that left is not that. */
async function mapInfrastructureErrors(_ctx: Context, next: Next) {
  try {
    await next();
  } catch (err) {
    if (!isClientAbort(err) && isDatabaseUnavailable(err)) throw new DatabaseUnavailableError();
    throw err;
  }
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are logged by errorHandler, with the request id
  const pages = patientErrorPages(isPageRoute);

  if (deps.metrics) app.use(deps.metrics.middleware);
  app.use(requestContext(deps.log));
  app.use(
    errorHandler({
      render: pages.render,
    }),
  );
  app.use(mapInfrastructureErrors);
  app.use(patientSenderFor(deps.serverConfig));
  app.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: '64kb',
      // Only objects and arrays: a bare `"x"` body is a client mistake, not a value.
      jsonStrict: true,
    }),
  );

  const health = createRouter();
  health.get('/livez', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  const readiness =
    deps.readiness ?? createReadiness({ db: deps.db, expected: null, isDraining: deps.isDraining });
  health.get('/readyz', readinessRoute(readiness));
  health.get('/assets/logo/:file', async (ctx) => {
    const m = /^([0-9a-f]{32})\.(png|jpg)$/.exec(ctx.params.file ?? '');
    const logo = m?.[1] ? await deps.serverConfig.logoFile(m[1]) : undefined;
    if (!logo || (m?.[2] === 'png') !== (logo.logo_type === 'image/png')) {
      ctx.status = 404;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'not found';
      return;
    }
    ctx.type = logo.logo_type;
    // The digest is in the name: a new logo is a new URL.
    ctx.set('cache-control', 'public, max-age=31536000, immutable');
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('content-security-policy', "default-src 'none'");
    ctx.body = logo.logo;
  });
  health.get('/assets/patient.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('cache-control', 'public, max-age=3600');
    ctx.set('x-content-type-options', 'nosniff');
    ctx.body = PATIENT_CSS;
  });
  for (const [path, body] of [
    ['/assets/patient-opened.js', PATIENT_OPENED_JS],
    ['/assets/patient-share.js', PATIENT_SHARE_JS],
  ] as const)
    health.get(path, (ctx) => {
      ctx.type = 'text/javascript; charset=utf-8';
      ctx.set('cache-control', 'public, max-age=3600');
      ctx.set('x-content-type-options', 'nosniff');
      ctx.body = body;
    });

  if (deps.staff) {
    app.use(deps.staff.middleware);
    recordRoutes(app, [deps.staff.router]);
  }
  mountRouters(app, [
    health,
    patientRoutes(deps),
    viewerRoutes({ ...deps, viewerAssets: deps.viewerAssets ?? null }),
    reportPageRoutes(deps),
    apiRoutes(deps),
    ...(deps.shares ? [shareRoutes({ ...deps, shares: deps.shares })] : []),
  ]);
  app.use(pages.notFound);
  return app;
}

/**
 * The token service's internal listener: grant checks and access events for the export service,
 * and /metrics; its own port, every route behind the shared secret.
 */
export function createTokenInternalApp(deps: InternalAppDeps): Koa {
  return createInternalApp({
    log: deps.log,
    secrets: deps.internalSecrets,
    metricsToken: deps.metricsToken ?? null,
    ...(deps.readiness ? { readiness: deps.readiness } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    middleware: [mapInfrastructureErrors],
    // The export service sends the zip layouts it made while streaming (about 300 bytes an instance).
    jsonLimit: '64mb',
    ...(deps.publicApp ? { publicApp: deps.publicApp } : {}),
    routers: [internalRoutes(deps)],
  });
}
