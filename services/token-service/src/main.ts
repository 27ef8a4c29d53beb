import { createDicomwebClient, createStoreAuthorization } from '@studylink/dicomweb';
import {
  Counter,
  createLogger,
  createServiceMetrics,
  isEntryPoint,
  listen,
  onShutdown,
} from '@studylink/service-kit';
import { ApiKeyService } from './api-keys/api-key.service.js';
import { createApp, createTokenInternalApp } from './app.js';
import { loadConfig, type TokenServiceConfig } from './config.js';
import { createDatabase } from './db/database.js';
import { DeliveryService } from './deliveries/delivery.service.js';
import { smtpMailSender } from './deliveries/mail.sender.js';
import { messagesApiSmsSender } from './deliveries/sms.sender.js';
import { createReadiness, defaultMigrationsDir, expectedMigrations } from './health/readiness.js';
import { LinkAccess } from './link-access/link-access.js';
import { InvalidTokenLimiter } from './rate-limit/invalid-token.limiter.js';
import { ReportService } from './reports/report.service.js';
import { readLogoFileOrThrow } from './server-config/logo.js';
import { SETUP_ENV, ServerConfigService } from './server-config/server-config.service.js';
import { ShareService } from './sharing/share.service.js';
import { createStaffModule } from './staff/staff.module.js';
import { indexedText } from './staff/studies/study-index.repository.js';
import { qidoStudySearch } from './staff/studies/study-search.source.js';
import { StudyService } from './studies/study.service.js';
import { qidoStudySource } from './studies/study.source.js';
import { TokenCipher } from './tokens/token.crypto.js';
import { TokenService } from './tokens/token.service.js';
import { defaultViewerDistDir, loadViewerAssets } from './viewer/viewer.assets.js';
import { ZipLayoutService } from './zip-layouts/zip-layout.service.js';

/** The composition root: config in, a started service out. Nothing else builds the pool. */
export async function startTokenService(
  config: TokenServiceConfig,
  log = createLogger({ service: 'token-service', level: config.logLevel }),
) {
  const metrics = createServiceMetrics({ service: 'token-service', processMetrics: true });
  // SQL statements by kind (select, insert, update, ...): `make bench` divides them by page views.
  const statements = new Counter({
    name: 'studylink_db_statements_total',
    help: 'SQL statements the token service sent to PostgreSQL, by their first keyword.',
    labelNames: ['kind'] as const,
    registers: [metrics.registry],
  });
  const database = createDatabase({
    url: config.databaseUrl,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    onPoolError: (err) => log.warn({ err: err.message }, 'idle database connection failed'),
    onQuery: (sql) => statements.inc({ kind: statementKind(sql) }),
  });
  const dicomweb = createDicomwebClient({
    baseUrl: config.dicomwebUrl,
    requestTimeoutMs: config.storeTimeoutMs,
    // DICOMWEB_AUTHORIZATION, OAuth 2.0 client credentials or a Google service account.
    auth: createStoreAuthorization(config.secrets.storeAuth, { timeoutMs: config.storeTimeoutMs }),
    ...(config.dicomwebCa ? { ca: config.dicomwebCa } : {}),
  });
  const serverConfig = new ServerConfigService(database.db, config.seed, {
    fromEnv: config.setupFromEnv,
    cacheMs: config.serverConfigCacheMs,
    logoFromEnv: config.logoFile ? readLogoFileOrThrow(config.logoFile) : null,
  });
  const studies = new StudyService(database.db, qidoStudySource(dicomweb), log.child({ module: 'studies' }), {
    storeMs: config.storeTimeoutMs,
    pageMs: config.pageRefreshTimeoutMs,
    refreshIntervalMs: config.studyRefreshIntervalMs,
  });
  const cipher = new TokenCipher(config.secrets.tokenKey, config.secrets.previousTokenKeys);
  const layouts = new ZipLayoutService(
    database.db,
    dicomweb,
    serverConfig,
    log.child({ module: 'zip-layouts' }),
  );
  const tokens = new TokenService(database.db, cipher, studies, serverConfig, config.secrets.tokenKey, {
    linkIssued: (uid) => layouts.schedule(uid, { force: true }),
  });
  const apiKeys = new ApiKeyService(database.db);
  const deliveries = createDeliveries(
    config,
    database.db,
    cipher,
    serverConfig,
    log.child({ module: 'deliveries' }),
  );
  const invalidTokens = new InvalidTokenLimiter(
    database.db,
    log.child({ module: 'rate-limit' }),
    config.invalidTokenLimit,
  );

  const shares = new ShareService(database.db, cipher, serverConfig);
  const reports = new ReportService(database.db, studies);
  const links = new LinkAccess({
    db: database.db,
    studies,
    invalidTokens,
    cookies: tokens.cookies,
    zipContent: async () => (await serverConfig.get()).zipContent,
    reportsOnPage: async () => (await serverConfig.get()).reportsOnPage,
    layoutMissing: (uid) => layouts.schedule(uid),
  });

  await serverConfig.ensureSeeded();
  await logStartupFacts(log, database, serverConfig);
  await apiKeys.bootstrapAdminKey(config.secrets.adminApiKey);
  const staff = createStaffModule({
    db: database.db,
    log: log.child({ module: 'staff' }),
    tokens,
    serverConfig,
    apiKeys,
    studySearch: qidoStudySearch(dicomweb, config.storeTimeoutMs, {
      studies,
      known: (uids) => indexedText(database.db, uids),
      log: log.child({ module: 'study-search' }),
      cacheMs: config.studyRefreshIntervalMs,
    }),
    trustedProxies: config.trustedProxies,
    secret: config.secrets.internalSecret,
    sessions: config.staffSessions,
    signInMethods: {
      local: config.staffSignIn.local,
      oidc:
        config.staffSignIn.oidc && config.secrets.staffOidcClientSecret
          ? { settings: config.staffSignIn.oidc, clientSecret: config.secrets.staffOidcClientSecret }
          : null,
    },
    deliveries,
    shares,
  });
  log.info(
    {
      localPasswords: config.staffSignIn.local,
      singleSignOn: config.staffSignIn.oidc
        ? { issuer: config.staffSignIn.oidc.issuer, adminGroup: config.staffSignIn.oidc.adminGroup }
        : null,
    },
    'staff sign-in methods',
  );
  if (config.secrets.staffAdmin) {
    const { username, password } = config.secrets.staffAdmin;
    const outcome = await staff.users.bootstrapAdmin(username, password);
    if (outcome !== 'exists') log.info({ username, outcome }, 'staff admin from STAFF_ADMIN_USERNAME');
  }

  let draining = false;
  const viewerAssets = await loadViewerAssets(config.viewerDistDir ?? defaultViewerDistDir());
  if (!viewerAssets) log.warn('no built patient viewer found (make build): /token/viewer answers 503');
  const readiness = createReadiness({
    db: database.db,
    expected: await expectedMigrations(defaultMigrationsDir()),
    isDraining: () => draining,
  });
  const app = createApp({
    viewerAssets,
    metrics,
    db: database.db,
    log,
    tokens,
    links,
    serverConfig,
    apiKeys,
    layouts,
    staff,
    deliveries,
    shares,
    reports,
    dicomweb,
    storeTimeoutMs: config.storeTimeoutMs,
    trustedProxies: config.trustedProxies,
    isDraining: () => draining,
    readiness,
  });
  const internalApp = createTokenInternalApp({
    db: database.db,
    log,
    links,
    layouts,
    reports,
    serverConfig,
    internalSecrets: config.secrets.internalSecrets,
    metricsToken: config.secrets.metricsToken,
    readiness,
    metrics,
    publicApp: app,
  });
  const http = await listen(app.callback(), { host: config.host, port: config.port });
  const internal = await listen(internalApp.callback(), {
    host: config.internalHost,
    port: config.internalPort,
  });
  log.info({ host: config.host, port: http.port, internalPort: internal.port }, 'token service listening');
  const walker =
    config.studyIndexWalkIntervalMs > 0 ? staff.finder.startWalking(config.studyIndexWalkIntervalMs) : null;
  deliveries.start(config.delivery.pollMs);
  return {
    port: http.port,
    internalPort: internal.port,
    async stop() {
      draining = true;
      walker?.stop();
      // The export service may still report the outcome of downloads cut by its own shutdown.
      await Promise.all([http.close(config.shutdownGraceMs), internal.close(config.shutdownGraceMs)]);
      await layouts.stop();
      await deliveries.stop();
      await database.close();
    },
  };
}

/** The e-mail and SMS senders the environment configures (a channel with a variable missing is off). */
export function createDeliveries(
  config: TokenServiceConfig,
  db: ReturnType<typeof createDatabase>['db'],
  cipher: TokenCipher,
  serverConfig: ServerConfigService,
  log: ReturnType<typeof createLogger>,
  opts: Pick<ConstructorParameters<typeof DeliveryService>[0], 'now' | 'timing'> = {},
): DeliveryService {
  const { mail, sms } = config.delivery;
  const { smtpUrl, smsAuthToken } = config.secrets;
  return new DeliveryService({
    db,
    cipher,
    serverConfig,
    log,
    mail: smtpUrl && mail.from ? smtpMailSender(smtpUrl, mail.from) : null,
    sms:
      sms.accountSid && smsAuthToken && sms.from
        ? messagesApiSmsSender({
            apiUrl: sms.apiUrl,
            accountSid: sms.accountSid,
            authToken: smsAuthToken,
            from: sms.from,
          })
        : null,
    missing: { mail: mail.missing, sms: sms.missing },
    shown: { mail, sms },
    fallbackContact: mail.from,
    ...opts,
  });
}

/** The first keyword of a statement, lower-case: select, insert, update, delete, or other. */
function statementKind(sql: string): string {
  const first = /^\s*([a-z]+)/i.exec(sql)?.[1]?.toLowerCase() ?? '';
  return ['select', 'insert', 'update', 'delete'].includes(first) ? first : 'other';
}

/** Says where each setup value came from, and warns loudly when the role could change the log. */
async function logStartupFacts(
  log: ReturnType<typeof createLogger>,
  database: ReturnType<typeof createDatabase>,
  serverConfig: ServerConfigService,
) {
  const sources = await serverConfig.sources();
  const by = (s: string) =>
    Object.entries(sources)
      .filter(([, v]) => v === s)
      .map(([f]) => `${f}${s === 'environment' ? ` (${SETUP_ENV[f as keyof typeof SETUP_ENV]})` : ''}`);
  log.info(
    { fromEnvironment: by('environment'), stored: by('stored'), defaults: by('default') },
    'server setup: environment variables win over the stored setup',
  );
  const { rows } = await database.pool.query<{ role: string; can_change: boolean }>(
    `SELECT current_user AS role,
            r.rolsuper OR has_table_privilege('access_log', 'UPDATE')
              OR has_table_privilege('access_log', 'DELETE') OR has_table_privilege('access_log', 'TRUNCATE')
              OR pg_has_role(current_user, c.relowner, 'USAGE') AS can_change
       FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'access_log'::regclass`,
  );
  // The months ahead are made by cli.js purge-access-log; without them rows go to the default
  // partition (inserts still work), and a retention can no longer drop them month by month.
  const ahead = await database.pool.query<{ missing: string | null }>(
    `SELECT CASE WHEN to_regclass(name) IS NULL THEN name END AS missing
       FROM (SELECT 'access_log_' || to_char((now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYY_MM') AS name) AS m`,
  );
  if (ahead.rows[0]?.missing)
    log.warn(
      { partition: ahead.rows[0].missing },
      "next month's access-log partition does not exist: schedule cli.js purge-access-log (README: Access-log retention)",
    );
  if (rows[0]?.can_change)
    log.warn(
      { role: rows[0].role },
      'DATABASE_URL connects as a role that can change or remove access-log rows (an owner or superuser): ' +
        'connect as the application role (README: Database roles)',
    );
}

if (isEntryPoint(import.meta.url)) {
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
