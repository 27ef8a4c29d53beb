import { createDicomwebClient, createStoreAuthorization } from '@studylink/dicomweb';
import { createLogger, createServiceMetrics, isEntryPoint, listen, onShutdown } from '@studylink/service-kit';
import { createApp, createExportInternalApp, exportReadiness } from './app.js';
import { type ExportServiceConfig, loadConfig } from './config.js';
import { ExportLimiter } from './export.limiter.js';
import { createExportMetrics } from './export.metrics.js';
import { createGatewayMetrics } from './gateway/gateway.metrics.js';
import { DEFAULT_GATEWAY_OPTIONS } from './gateway/gateway.options.js';
import { gatewayMiddleware } from './gateway/gateway.routes.js';
import { createSenderSource, createTokenServiceClient } from './grant.client.js';
import { StudyReportIndex } from './reports/study-reports.js';

/** The composition root of the export service; stateless, so stop() only drains downloads. */
export async function startExportService(
  config: ExportServiceConfig,
  log = createLogger({ service: 'export-service', level: config.logLevel }),
) {
  const dicomweb = createDicomwebClient({
    baseUrl: config.dicomwebUrl,
    requestTimeoutMs: config.storeTimeoutMs,
    stallTimeoutMs: config.storeStallTimeoutMs,
    // DICOMWEB_AUTHORIZATION, OAuth 2.0 client credentials or a Google service account.
    auth: createStoreAuthorization(config.secrets.storeAuth, { timeoutMs: config.storeTimeoutMs }),
    ...(config.dicomwebCa ? { ca: config.dicomwebCa } : {}),
  });
  const limiter = new ExportLimiter(config.maxConcurrentExports, config.exportShares);
  const serviceMetrics = createServiceMetrics({ service: 'export-service', processMetrics: true });
  const exportMetrics = createExportMetrics(serviceMetrics.registry, { inFlight: () => limiter.inFlight });
  const tokenService = createTokenServiceClient({
    baseUrl: config.tokenServiceInternalUrl,
    secret: config.secrets.internalSecret,
    timeoutMs: 5_000,
    onDropped: (event, reason) => {
      exportMetrics.eventDropped(event);
      log.error({ event: event.event, tokenId: event.tokenId ?? null, reason }, 'access event dropped');
    },
  });
  const tokens = exportMetrics.instrument(tokenService);
  let draining = false;
  const checkStore = async () => {
    await dicomweb.searchStudies({ limit: 1 }, { signal: AbortSignal.timeout(2_000) });
    return true;
  };
  const gatewayOptions = { ...DEFAULT_GATEWAY_OPTIONS, ...config.gateway };
  // One view of which instances are reports, for the gateway's hold and the report PDF path.
  const reports = new StudyReportIndex(dicomweb, gatewayOptions.membershipCacheMs);
  const app = createApp({
    log,
    reports,
    tokens,
    patientSender: createSenderSource({
      baseUrl: config.tokenServiceInternalUrl,
      secret: config.secrets.internalSecret,
      timeoutMs: 2_000,
      ttlMs: 30_000,
    }),
    dicomweb,
    limiter,
    metrics: { service: serviceMetrics, exports: exportMetrics },
    trustedProxies: config.trustedProxies,
    isDraining: () => draining,
    retry: { attempts: config.storeRetryAttempts, baseDelayMs: 250, maxDelayMs: 2_000 },
    storeStallMs: config.storeStallTimeoutMs,
    clientStall: config.clientStall,
    gateway: gatewayMiddleware({
      tokens,
      dicomweb,
      trustedProxies: config.trustedProxies,
      storeAddresses: storeAddresses(config.dicomwebUrl),
      options: gatewayOptions,
      reports,
      count: createGatewayMetrics(serviceMetrics.registry),
    }),
    checkStore,
  });
  const internalApp = createExportInternalApp({
    log,
    readiness: exportReadiness({ checkStore, isDraining: () => draining, limiter }),
    internalSecrets: config.secrets.internalSecrets,
    metricsToken: config.secrets.metricsToken,
    metrics: serviceMetrics,
    publicApp: app,
  });
  const http = await listen(app.callback(), { host: config.host, port: config.port });
  const internal = await listen(internalApp.callback(), {
    host: config.internalHost,
    port: config.internalPort,
  });
  log.info(
    {
      host: config.host,
      port: http.port,
      internalPort: internal.port,
      maxConcurrentExports: config.maxConcurrentExports,
      ...limiter.limits,
    },
    'export service listening',
  );
  return {
    port: http.port,
    internalPort: internal.port,
    async stop() {
      draining = true;
      // In-flight downloads get the grace period; whatever is left after it is cut.
      await http.close(config.shutdownGraceMs);
      await internal.close(1_000);
      // Node reports the server closed before the cut responses emit 'close': give those exports a
      // moment to log their abort and report it, or the access log would miss them.
      await limiter.drained(2_000);
      await tokenService.flushReports(3_000);
      await dicomweb.close();
    },
  };
}

/** The store's address in the spellings a DICOMweb answer may use: the root as configured, and its origin. */
function storeAddresses(dicomwebUrl: string): string[] {
  const url = new URL(dicomwebUrl);
  url.username = '';
  url.password = '';
  return [...new Set([url.href.replace(/\/+$/, ''), url.origin, url.host])];
}

if (isEntryPoint(import.meta.url)) {
  const boot = createLogger({ service: 'export-service', level: 'info' });
  try {
    const config = loadConfig(process.env);
    const log = createLogger({ service: 'export-service', level: config.logLevel });
    const service = await startExportService(config, log);
    onShutdown(log, () => service.stop());
  } catch (err) {
    boot.fatal({ err: (err as Error).message }, 'export service failed to start');
    boot.flush();
    process.exitCode = 1;
  }
}
