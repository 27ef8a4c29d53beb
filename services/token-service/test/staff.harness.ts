import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  createLogger,
  createServiceMetrics,
  listen,
  type RouteInfo,
  registeredRoutes,
} from '@studylink/service-kit';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import { ApiKeyService } from '../src/api-keys/api-key.service.js';
import { createApp, createTokenInternalApp } from '../src/app.js';
import { createDatabase, type Database } from '../src/db/database.js';
import type { StaffRole } from '../src/db/tables.js';
import { StoreUnavailableError } from '../src/errors.js';
import { LinkAccess } from '../src/link-access/link-access.js';
import { NO_INVALID_TOKEN_LIMIT } from '../src/rate-limit/invalid-token.limiter.js';
import type { ServerConfig } from '../src/server-config/server-config.schema.js';
import { ServerConfigService } from '../src/server-config/server-config.service.js';
import { ShareService } from '../src/sharing/share.service.js';
import type { SessionPolicy } from '../src/staff/session/staff-session.service.js';
import { createStaffModule, type StaffModule, type StaffModuleDeps } from '../src/staff/staff.module.js';
import type { StudySearch, StudySummary } from '../src/staff/studies/study-search.source.js';
import type { SignInPolicy } from '../src/staff/users/staff-user.service.js';
import { StudyService } from '../src/studies/study.service.js';
import { TokenCipher } from '../src/tokens/token.crypto.js';
import { TokenService } from '../src/tokens/token.service.js';
import { type DeliveriesFactory, FakeStudySource, SEED } from './harness.js';

/** The staff search over the fake store's studies: DICOM wildcards, case-insensitive names. */
export class FakeStudySearch implements StudySearch {
  down = false;
  queries: Parameters<StudySearch['search']>[0][] = [];
  constructor(private readonly source: FakeStudySource) {}

  async search(q: Parameters<StudySearch['search']>[0]): Promise<StudySummary[]> {
    this.queries.push(q);
    if (this.down) throw new StoreUnavailableError();
    const pattern = (p: string) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
        'i',
      );
    const all = [...this.source.studies.values()].filter((s) => {
      if (q.studyInstanceUid && s.studyInstanceUid !== q.studyInstanceUid) return false;
      if (q.patientName && !pattern(q.patientName).test(s.patientName)) return false;
      if (q.patientId && s.patientId !== q.patientId) return false;
      if (q.accessionNumber && s.accessionNumber !== q.accessionNumber) return false;
      if (q.modality && !s.modalities.includes(q.modality)) return false;
      if (q.patientBirthDate && s.patientBirthDate !== q.patientBirthDate) return false;
      if (q.studyDate) {
        const [from = '', to = ''] = q.studyDate.includes('-')
          ? q.studyDate.split('-')
          : [q.studyDate, q.studyDate];
        if (from && s.studyDate < from) return false;
        if (to && s.studyDate > to) return false;
      }
      return true;
    });
    return all.slice(q.offset, q.offset + q.limit).map((s) => ({
      studyInstanceUid: s.studyInstanceUid,
      patientName: s.patientName,
      patientId: s.patientId,
      accessionNumber: s.accessionNumber,
      studyDate: s.studyDate,
      studyTime: s.studyTime,
      description: s.description,
      modalities: s.modalities,
      seriesCount: s.seriesCount,
      instanceCount: s.instanceCount,
      patientBirthDate: s.patientBirthDate,
    }));
  }
}

export interface StaffHarness {
  url: string;
  database: Database;
  testDb: TestDatabase;
  source: FakeStudySource;
  search: FakeStudySearch;
  staff: StaffModule;
  logs: string[];
  /** Every SQL statement run so far. */
  queries: string[];
  adminKey: string;
  /** The internal listener and its secret. */
  internalUrl: string;
  internalSecret: string;
  /** Every route the public and the internal app registered, read from their routers. */
  routes: { public: RouteInfo[]; internal: RouteInfo[] };
  /** Makes a user straight through the service. */
  addUser(
    username: string,
    role: StaffRole,
    password?: string,
  ): Promise<{ username: string; password: string }>;
  /** A browser-like client with its own cookie jar. */
  client(opts?: { clientIp?: string; https?: boolean }): StaffClient;
  /** An administrator `alice` and a staff user `bob`, each made and signed in with a client of their own. */
  signedInPair(): Promise<{ admin: StaffClient; staff: StaffClient }>;
  close(): Promise<void>;
}

export const DEFAULT_PASSWORD = 'correct horse battery staple';

/** The real token-service app with the staff interface mounted, on a private database. */
export async function startStaffHarness(
  opts: {
    sessions?: Partial<SessionPolicy>;
    signIn?: SignInPolicy;
    /** Setup fields as if set in the environment (they win over the stored setup). */
    setupFromEnv?: Partial<ServerConfig>;
    /** Local passwords and single sign-on (default: local passwords only). */
    signInMethods?: StaffModuleDeps['signInMethods'];
    /** The single sign-on's clock. */
    now?: () => number;
    /** The port to listen on (default: any free one). */
    port?: number;
    /** A real store's search instead of the fake one (the fake is still `search`, unused then). */
    studySearch?: (studies: StudyService, db: Database) => StudySearch;
    /** E-mail/SMS delivery, built on the harness's database and cipher. */
    deliveries?: DeliveriesFactory;
  } = {},
): Promise<StaffHarness> {
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
  const source = new FakeStudySource();
  const search = new FakeStudySearch(source);
  const serverConfig = new ServerConfigService(database.db, SEED, { fromEnv: opts.setupFromEnv ?? {} });
  const studies = new StudyService(database.db, source, log, { storeMs: 5000, pageMs: 1000 });
  const cipher = new TokenCipher(randomBytes(32));
  const tokens = new TokenService(database.db, cipher, studies, serverConfig);
  const deliveries = opts.deliveries?.({ db: database.db, cipher, serverConfig, log });
  const shares = new ShareService(database.db, cipher, serverConfig);
  const apiKeys = new ApiKeyService(database.db);
  const adminKey = `slk_${randomBytes(32).toString('base64url')}`;
  await serverConfig.ensureSeeded();
  await apiKeys.bootstrapAdminKey(adminKey);
  const trustedProxies = new Set(['127.0.0.1', '::1']);
  const staff = createStaffModule({
    db: database.db,
    log,
    tokens,
    serverConfig,
    apiKeys,
    studySearch: opts.studySearch ? opts.studySearch(studies, database) : search,
    trustedProxies,
    secret: randomBytes(32).toString('hex'),
    sessions: { absoluteMs: 3_600_000, idleMs: 1_800_000, ...opts.sessions },
    ...(opts.signIn ? { signIn: opts.signIn } : {}),
    // Cheaper hashes keep the many sign-ins of these tests fast; the format and check are the same.
    scrypt: { log2N: 12, r: 8, p: 1 },
    ...(opts.signInMethods ? { signInMethods: opts.signInMethods } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    deliveries,
    shares,
  });
  const links = new LinkAccess({
    db: database.db,
    studies,
    invalidTokens: NO_INVALID_TOKEN_LIMIT,
    cookies: tokens.cookies,
  });
  const app = createApp({
    shares,
    db: database.db,
    log,
    tokens,
    links,
    serverConfig,
    apiKeys,
    staff,
    trustedProxies,
    isDraining: () => false,
  });
  const internalSecret = randomBytes(32).toString('hex');
  const internalApp = createTokenInternalApp({
    db: database.db,
    log,
    links,
    serverConfig,
    internalSecrets: [internalSecret],
    metrics: createServiceMetrics({ service: 'token-service' }),
    publicApp: app,
  });
  const http = await listen(app.callback(), { host: '127.0.0.1', port: opts.port ?? 0 });
  const internal = await listen(internalApp.callback(), { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${http.port}`;
  return {
    url,
    internalUrl: `http://127.0.0.1:${internal.port}`,
    internalSecret,
    routes: { public: registeredRoutes(app), internal: registeredRoutes(internalApp) },
    database,
    testDb,
    source,
    search,
    staff,
    logs,
    queries,
    adminKey,
    async addUser(username, role, password = DEFAULT_PASSWORD) {
      await staff.users.create({ username, role, password }, { actor: 'test', clientIp: '', userAgent: '' });
      return { username, password };
    },
    client: (o = {}) => new StaffClient(url, o),
    async signedInPair() {
      const actor = { actor: 'test', clientIp: '', userAgent: '' };
      await staff.users.create({ username: 'alice', role: 'admin', password: DEFAULT_PASSWORD }, actor);
      await staff.users.create({ username: 'bob', role: 'staff', password: DEFAULT_PASSWORD }, actor);
      const admin = new StaffClient(url, {});
      await admin.signInOrThrow('alice');
      const bob = new StaffClient(url, {});
      await bob.signInOrThrow('bob');
      return { admin, staff: bob };
    },
    async close() {
      await Promise.all([http.close(1000), internal.close(1000)]);
      await database.close();
      await testDb.drop();
    },
  };
}

export interface PageResponse {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
  setCookies: string[];
}

/** Enough of a browser for server-rendered forms: cookies, CSRF fields, no redirects followed. */
export class StaffClient {
  readonly cookies = new Map<string, string>();
  /** The `_csrf` value of the last page that had one. */
  csrf: string | null = null;
  userAgent = 'staff-test/1.0';

  constructor(
    private readonly base: string,
    private readonly opts: { clientIp?: string; https?: boolean },
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': this.userAgent, ...extra };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.opts.clientIp) h['x-real-ip'] = this.opts.clientIp;
    if (this.opts.https) h['x-forwarded-proto'] = 'https';
    return h;
  }

  private async read(res: Response): Promise<PageResponse> {
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/max-age=0/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(text);
    if (m?.[1]) this.csrf = m[1];
    return {
      status: res.status,
      headers: res.headers,
      text,
      location: res.headers.get('location'),
      setCookies,
    };
  }

  async get(path: string, extra: Record<string, string> = {}): Promise<PageResponse> {
    return this.read(
      await fetch(`${this.base}${path}`, { headers: this.headers(extra), redirect: 'manual' }),
    );
  }

  /** POSTs a form; the last seen CSRF token is added unless `_csrf` is given (null: left out). */
  async post(
    path: string,
    fields: Record<string, string | null> = {},
    extra: Record<string, string> = {},
  ): Promise<PageResponse> {
    const body = new URLSearchParams();
    const withCsrf = '_csrf' in fields ? fields : { _csrf: this.csrf, ...fields };
    for (const [k, v] of Object.entries(withCsrf)) if (v !== null && v !== undefined) body.set(k, v);
    return this.read(
      await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: this.headers({ 'content-type': 'application/x-www-form-urlencoded', ...extra }),
        body: body.toString(),
        redirect: 'manual',
      }),
    );
  }

  /** Opens the sign-in page and submits it. */
  async signIn(username: string, password: string): Promise<PageResponse> {
    await this.get('/staff/sign-in');
    return this.post('/staff/sign-in', { username, password });
  }

  /** Signs in and fails the test unless it worked. */
  async signInOrThrow(username: string, password = DEFAULT_PASSWORD): Promise<void> {
    const res = await this.signIn(username, password);
    if (res.status !== 303) throw new Error(`sign-in of ${username} failed: ${res.status}`);
    await this.get('/staff/studies');
  }
}
