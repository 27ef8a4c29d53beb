import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, listen } from '@studylink/service-kit';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import { ApiKeyService } from '../src/api-keys/api-key.service.js';
import { createApp, createTokenInternalApp } from '../src/app.js';
import { createDatabase, type Database } from '../src/db/database.js';
import type { DeliveryService } from '../src/deliveries/delivery.service.js';
import { LinkAccess } from '../src/link-access/link-access.js';
import { InvalidTokenLimiter, NO_INVALID_TOKEN_LIMIT } from '../src/rate-limit/invalid-token.limiter.js';
import { ReportService } from '../src/reports/report.service.js';
import { type ServerConfigSeed, ServerConfigService } from '../src/server-config/server-config.service.js';
import { ShareService } from '../src/sharing/share.service.js';
import { StudyService } from '../src/studies/study.service.js';
import type { StudyDetails, StudySource } from '../src/studies/study.source.js';
import { TokenCipher } from '../src/tokens/token.crypto.js';
import { TokenService } from '../src/tokens/token.service.js';
import type { ViewerAssets } from '../src/viewer/viewer.assets.js';

export const SEED = {
  institution: 'St. Example Hospital',
  department: 'Radiology',
  publicAddress: '203.0.113.10',
  localAddress: '10.1.2.3',
  port: 3000,
  serverName: '',
  ssl: false,
  zipContent: 'as-stored',
  viewerUrl: 'https://viewer.example.org/',
  defaultExpiryDays: null,
  defaultVerification: 'none',
  defaultLanguage: 'en',
} satisfies ServerConfigSeed;

/** A store with a fixed set of studies, that can be switched off. */
export class FakeStudySource implements StudySource {
  readonly studies = new Map<string, StudyDetails>();
  down = false;
  calls = 0;
  /** While set, every lookup waits for it (a slow store). */
  hold: Promise<void> | null = null;
  async findStudy(uid: string): Promise<StudyDetails | null> {
    this.calls += 1;
    if (this.hold) await this.hold;
    if (this.down) throw new Error('store down');
    return this.studies.get(uid) ?? null;
  }
  add(d: Partial<StudyDetails> & { studyInstanceUid: string }): StudyDetails {
    const full: StudyDetails = {
      patientName: 'DOE^JANE',
      patientId: 'P1',
      studyId: 'S1',
      accessionNumber: 'A1',
      description: 'CT CHEST',
      studyDate: '20210121',
      studyTime: '101500',
      modalities: ['CT'],
      seriesCount: 2,
      instanceCount: 20,
      institutionName: 'From DICOM',
      patientBirthDate: '19800214',
      ...d,
    };
    this.studies.set(d.studyInstanceUid, full);
    return full;
  }
}

/** Builds the e-mail/SMS sender on a harness's database, cipher and setup (issue 21). */
export type DeliveriesFactory = (deps: {
  db: Database['db'];
  cipher: TokenCipher;
  serverConfig: ServerConfigService;
  log: ReturnType<typeof createLogger>;
}) => DeliveryService;

export interface Harness {
  url: string;
  adminKey: string;
  database: Database;
  testDb: TestDatabase;
  logs: string[];
  internalSecret: string;
  /** The internal listener (grant checks, access events, /metrics). */
  internalUrl: string;
  source: StudySource;
  studies: StudyService;
  /** Present when the harness was given `deliveries`. */
  deliveries?: DeliveryService;
  cipher: TokenCipher;
  /** Every SQL statement run so far. */
  queries: string[];
  close(): Promise<void>;
  api(method: string, path: string, body?: unknown, key?: string | null): Promise<Response>;
}

/** The token service's real app on a real, private PostgreSQL database, with the given store. */
export async function startHarness(
  source: StudySource,
  opts: {
    storeMs?: number;
    refreshIntervalMs?: number;
    invalidTokenLimit?: { limit: number; windowSeconds: number };
    viewerAssets?: ViewerAssets | null;
    /** How long the setup may be answered from memory (main: SERVER_CONFIG_CACHE_MS, 2 s); 0 here by default. */
    serverConfigCacheMs?: number;
    /** E-mail/SMS delivery, built on the harness's database and cipher. */
    deliveries?: DeliveriesFactory;
  } = {},
): Promise<Harness> {
  const testDb = await createTestDatabase();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ service: 'token-service', level: 'debug', destination: sink });
  const queries: string[] = [];
  const database = createDatabase({
    url: testDb.url,
    statementTimeoutMs: 5000,
    onQuery: (sql) => queries.push(sql),
  });
  const serverConfig = new ServerConfigService(database.db, SEED, { cacheMs: opts.serverConfigCacheMs ?? 0 });
  const studies = new StudyService(database.db, source, log, {
    storeMs: opts.storeMs ?? 5000,
    pageMs: 1000,
    refreshIntervalMs: opts.refreshIntervalMs,
  });
  const cipher = new TokenCipher(randomBytes(32));
  const tokens = new TokenService(database.db, cipher, studies, serverConfig);
  const deliveries = opts.deliveries?.({ db: database.db, cipher, serverConfig, log });
  const apiKeys = new ApiKeyService(database.db);
  const adminKey = `slk_${randomBytes(32).toString('base64url')}`;
  const internalSecret = randomBytes(32).toString('hex');
  await serverConfig.ensureSeeded();
  await apiKeys.bootstrapAdminKey(adminKey);
  const invalidTokens = opts.invalidTokenLimit
    ? new InvalidTokenLimiter(database.db, log, opts.invalidTokenLimit)
    : NO_INVALID_TOKEN_LIMIT;
  const links = new LinkAccess({
    db: database.db,
    studies,
    invalidTokens,
    cookies: tokens.cookies,
    reportsOnPage: async () => (await serverConfig.get()).reportsOnPage,
  });
  const shares = new ShareService(database.db, cipher, serverConfig);
  const reports = new ReportService(database.db, studies);
  const app = createApp({
    shares,
    reports,
    db: database.db,
    log,
    tokens,
    links,
    serverConfig,
    apiKeys,
    trustedProxies: new Set(['127.0.0.1', '::1']),
    isDraining: () => false,
    viewerAssets: opts.viewerAssets ?? null,
    ...(deliveries ? { deliveries } : {}),
  });
  const internalApp = createTokenInternalApp({
    db: database.db,
    log,
    links,
    reports,
    serverConfig,
    internalSecrets: [internalSecret],
  });
  const http = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
  const internal = await listen(internalApp.callback(), { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${http.port}`;
  return {
    url,
    adminKey,
    database,
    testDb,
    logs,
    internalSecret,
    internalUrl: `http://127.0.0.1:${internal.port}`,
    source,
    studies,
    cipher,
    ...(deliveries ? { deliveries } : {}),
    queries,
    async close() {
      await Promise.all([http.close(1000), internal.close(1000)]);
      await studies.idle();
      await database.close();
      await testDb.drop();
    },
    api(method, path, body, key = adminKey) {
      const headers: Record<string, string> = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      return fetch(`${url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in tests
export type Json = Record<string, any>;

/** The response body as loosely typed JSON, for assertions. */
export function readJson(res: Response): Promise<Json> {
  return res.json() as Promise<Json>;
}
