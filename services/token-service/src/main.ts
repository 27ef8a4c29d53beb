import { createDicomwebClient } from '@studylink/dicomweb';
import { createLogger, createServiceMetrics, listen, onShutdown } from '@studylink/service-kit';
import { ApiKeyService } from './api-keys/api-key.service.js';
import { createApp, createTokenInternalApp } from './app.js';
import { loadConfig, type TokenServiceConfig } from './config.js';
import { createDatabase } from './db/database.js';
import { InvalidTokenLimiter } from './rate-limit/invalid-token.limiter.js';
import { ServerConfigService } from './server-config/server-config.service.js';
import { createStaffModule } from './staff/staff.module.js';
import { qidoStudySearch } from './staff/study-search.source.js';
import { StudyService } from './studies/study.service.js';
import { qidoStudySource } from './studies/study.source.js';
import { TokenCipher } from './tokens/token.crypto.js';
import { TokenService } from './tokens/token.service.js';
import { defaultViewerDistDir, loadViewerAssets } from './viewer/viewer.assets.js';

/** The composition root: config in, a started service out. Nothing else builds the pool. */
export async function startTokenService(
  config: TokenServiceConfig,
  log = createLogger({ service: 'token-service', level: config.logLevel }),
) {
  const database = createDatabase({
    url: config.databaseUrl,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    onPoolError: (err) => log.warn({ err: err.message }, 'idle database connection failed'),
  });
  const dicomweb = createDicomwebClient({
    baseUrl: config.dicomwebUrl,
    requestTimeoutMs: config.storeTimeoutMs,
  });
  const serverConfig = new ServerConfigService(database.db, config.seed);
  const studies = new StudyService(database.db, qidoStudySource(dicomweb), log.child({ module: 'studies' }), {
    storeMs: config.storeTimeoutMs,
    pageMs: config.pageRefreshTimeoutMs,
  });
  const cipher = new TokenCipher(config.secrets.tokenKey, config.secrets.previousTokenKeys);
  const tokens = new TokenService(database.db, cipher, studies, serverConfig);
  const apiKeys = new ApiKeyService(database.db);
  const invalidTokens = new InvalidTokenLimiter(
    database.db,
    log.child({ module: 'rate-limit' }),
    config.invalidTokenLimit,
  );

  await serverConfig.ensureSeeded();
  await apiKeys.bootstrapAdminKey(config.secrets.adminApiKey);
  const staff = createStaffModule({
    db: database.db,
    log: log.child({ module: 'staff' }),
    tokens,
    serverConfig,
    apiKeys,
    studySearch: qidoStudySearch(dicomweb, config.storeTimeoutMs),
    trustedProxies: config.trustedProxies,
    secret: config.secrets.internalSecret,
    sessions: config.staffSessions,
  });
  if (config.secrets.staffAdmin) {
    const { username, password } = config.secrets.staffAdmin;
    const outcome = await staff.users.bootstrapAdmin(username, password);
    if (outcome !== 'exists') log.info({ username, outcome }, 'staff admin from STAFF_ADMIN_USERNAME');
  }

  let draining = false;
  const viewerAssets = await loadViewerAssets(config.viewerDistDir ?? defaultViewerDistDir());
  if (!viewerAssets) log.warn('no built patient viewer found (make build): /token/viewer answers 503');
  const metrics = createServiceMetrics({ service: 'token-service', processMetrics: true });
  const app = createApp({
    viewerAssets,
    metrics,
    db: database.db,
    log,
    tokens,
    serverConfig,
    apiKeys,
    invalidTokens,
    staff,
    trustedProxies: config.trustedProxies,
    isDraining: () => draining,
  });
  const internalApp = createTokenInternalApp({
    db: database.db,
    log,
    tokens,
    serverConfig,
    invalidTokens,
    internalSecrets: config.secrets.internalSecrets,
    metrics,
    publicApp: app,
  });
  const http = await listen(app.callback(), { host: config.host, port: config.port });
  const internal = await listen(internalApp.callback(), {
    host: config.internalHost,
    port: config.internalPort,
  });
  log.info({ host: config.host, port: http.port, internalPort: internal.port }, 'token service listening');
  return {
    port: http.port,
    internalPort: internal.port,
    async stop() {
      draining = true;
      // The export service may still report the outcome of downloads cut by its own shutdown.
      await Promise.all([http.close(config.shutdownGraceMs), internal.close(config.shutdownGraceMs)]);
      await database.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const log = createLogger({ service: 'token-service', level: (process.env.LOG_LEVEL as 'info') ?? 'info' });
  try {
    const config = loadConfig(process.env);
    const service = await startTokenService(
      config,
      createLogger({ service: 'token-service', level: config.logLevel }),
    );
    onShutdown(log, () => service.stop());
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'token service failed to start');
    log.flush();
    process.exitCode = 1;
  }
}
