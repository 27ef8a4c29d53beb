import { randomBytes } from 'node:crypto';
import { createLogger } from '@studylink/service-kit';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/db/database.js';
import { recordCounted } from '../src/downloads/download.counting.js';
import {
  LINK_PURPOSES,
  LinkAccess,
  type LinkPurpose,
  type OpenedLink,
} from '../src/link-access/link-access.js';
import { toWireGrant } from '../src/link-access/wire-grant.js';
import { InvalidTokenLimiter, NO_INVALID_TOKEN_LIMIT } from '../src/rate-limit/invalid-token.limiter.js';
import { ServerConfigService } from '../src/server-config/server-config.service.js';
import { StudyService } from '../src/studies/study.service.js';
import { hashToken, TokenCipher } from '../src/tokens/token.crypto.js';
import { TokenService } from '../src/tokens/token.service.js';
import { FakeStudySource, SEED, startHarness } from './harness.js';

/**
 * The link gate, table-driven, against PostgreSQL: every state a link can be in × every purpose it can
 * be opened for → allowed (and what it allows) or the exact error, with the access event it wrote.
 */

// What an allowed open answers: `all` (everything), `noFiles` (no original files, no zip), `form`
// (the second factor is unanswered: the form, nothing else). Otherwise the status and error code.
type Expected = 'all' | 'noFiles' | 'form' | `${number} ${string}`;
type State =
  | 'valid'
  | 'expired'
  | 'revoked'
  | 'unknown'
  | 'malformed'
  | 'view-only'
  | 'spent'
  | 'pin unanswered'
  | 'pin answered'
  | 'pin locked'
  | 'pin answered, locked'
  | 'birth date unanswered'
  | 'birth date answered'
  | 'birth date locked';

const GONE: Record<LinkPurpose, Expected> = {
  page: '404 token_not_found',
  answer: '404 token_not_found',
  opened: '404 token_not_found',
  viewer: '404 token_not_found',
  view: '404 token_not_found',
  view_files: '404 token_not_found',
  download: '404 token_not_found',
  share: '404 token_not_found',
};
const OPEN: Record<LinkPurpose, Expected> = {
  page: 'all',
  answer: 'all',
  opened: 'all',
  viewer: 'all',
  view: 'all',
  view_files: 'all',
  download: 'all',
  share: 'all',
};
const UNANSWERED: Record<LinkPurpose, Expected> = {
  page: 'form',
  answer: 'form',
  opened: 'form',
  viewer: '403 verification_required',
  view: '403 verification_required',
  view_files: '403 verification_required',
  download: '403 verification_required',
  share: '403 verification_required',
};
// Locked by wrong answers: the page says so, and the form takes no answer (the right one included).
const LOCKED: Record<LinkPurpose, Expected> = {
  ...UNANSWERED,
  page: '429 link_locked',
  answer: '429 link_locked',
};
const noFiles = (code: string): Record<LinkPurpose, Expected> => ({
  page: 'noFiles',
  answer: 'noFiles',
  opened: 'noFiles',
  viewer: 'noFiles',
  view: 'noFiles',
  view_files: `403 ${code}`,
  download: `410 ${code}`,
  share: 'noFiles',
});

const TABLE: Record<State, Record<LinkPurpose, Expected>> = {
  valid: OPEN,
  expired: GONE,
  revoked: GONE,
  unknown: GONE,
  malformed: GONE,
  'view-only': noFiles('download_not_allowed'),
  spent: noFiles('download_limit_reached'),
  'pin unanswered': UNANSWERED,
  'pin answered': OPEN,
  'pin locked': LOCKED,
  // A right answer given before the lock still holds (the lock stops guessing, not the patient).
  'pin answered, locked': OPEN,
  'birth date unanswered': UNANSWERED,
  'birth date answered': OPEN,
  'birth date locked': LOCKED,
};

const T0 = Date.parse('2026-12-07T12:00:00Z');
const REQUESTER = { clientIp: '198.51.100.23', userAgent: 'gate-test' };

let testDb: TestDatabase;
let database: Database;
let tokens: TokenService;
let links: LinkAccess;
let serverConfig: ServerConfigService;
let clock = T0;
const source = new FakeStudySource();
/** Each state's token and the verification cookie its browser holds. */
const made = new Map<State, { token: string; cookie: string | null }>();

async function issue(
  opts: Parameters<TokenService['issue']>[2],
): Promise<{ token: string; tokenId: number; uid: string }> {
  const uid = `1.2.826.0.1.3680043.8.498.17.${made.size + 1}.${Math.floor(Math.random() * 1e6)}`;
  source.add({ studyInstanceUid: uid, patientBirthDate: '19800214' });
  const { token } = await tokens.issue(
    uid,
    { actor: 'cli:test', clientIp: '127.0.0.1', userAgent: 't' },
    opts,
  );
  const row = await database.db
    .selectFrom('tokens')
    .select('id')
    .where('token_hash', '=', hashToken(token.token))
    .executeTakeFirstOrThrow();
  return { token: token.token, tokenId: row.id, uid };
}

const cookieFor = (tokenId: number, token: string) =>
  tokens.cookies.issue({ tokenId, tokenHash: hashToken(token) }, null).value;

async function setRow(tokenId: number, set: Record<string, unknown>) {
  await database.db
    .updateTable('tokens')
    .set(set as never)
    .where('id', '=', tokenId)
    .execute();
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = createDatabase({ url: testDb.url });
  serverConfig = new ServerConfigService(database.db, SEED);
  await serverConfig.ensureSeeded();
  const log = createLogger({ service: 'token-service', level: 'silent' });
  const studies = new StudyService(database.db, source, log, { storeMs: 1000, pageMs: 1000 });
  tokens = new TokenService(database.db, new TokenCipher(randomBytes(32)), studies, serverConfig);
  links = new LinkAccess({
    db: database.db,
    studies,
    invalidTokens: NO_INVALID_TOKEN_LIMIT,
    cookies: tokens.cookies,
    now: () => clock,
  });

  const plain = async () => (await issue({})).token;
  made.set('valid', { token: await plain(), cookie: null });
  const expiring = await issue({ expiresAt: new Date(Date.now() + 3_600_000) });
  // The gate's clock is its own: two hours on, the link has expired for it.
  made.set('expired', { token: expiring.token, cookie: null });
  const revoked = await issue({});
  await setRow(revoked.tokenId, { revoked_at: new Date() });
  made.set('revoked', { token: revoked.token, cookie: null });
  made.set('unknown', { token: 'A'.repeat(64), cookie: null });
  made.set('malformed', { token: 'not-a-token', cookie: null });
  made.set('view-only', { token: (await issue({ allowDownload: false })).token, cookie: null });
  const spent = await issue({ maxDownloads: 2 });
  await setRow(spent.tokenId, { downloads_used: 2 });
  made.set('spent', { token: spent.token, cookie: null });
  for (const [kind, verification] of [
    ['pin', 'pin'],
    ['birth date', 'birth-date'],
  ] as const) {
    const un = await issue({ verification });
    made.set(`${kind} unanswered`, { token: un.token, cookie: null });
    const ok = await issue({ verification });
    made.set(`${kind} answered`, { token: ok.token, cookie: cookieFor(ok.tokenId, ok.token) });
    const locked = await issue({ verification });
    await setRow(locked.tokenId, { locked_until: new Date(Date.now() + 86_400_000) });
    // A cookie of another link opens nothing.
    made.set(`${kind} locked`, { token: locked.token, cookie: cookieFor(ok.tokenId, ok.token) });
  }
  const answeredLocked = await issue({ verification: 'pin' });
  await setRow(answeredLocked.tokenId, { locked_at: new Date() });
  made.set('pin answered, locked', {
    token: answeredLocked.token,
    cookie: cookieFor(answeredLocked.tokenId, answeredLocked.token),
  });
  clock = Date.now() + 2 * 3_600_000;
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

/** The access event a purpose writes for an outcome (null: none). */
function expectedEvent(purpose: LinkPurpose, expected: Expected): string | null {
  if (expected.startsWith('404'))
    return ['page', 'answer', 'opened', 'viewer', 'share'].includes(purpose) ? 'invalid_token' : null;
  if (purpose === 'page') return 'page_view';
  if (purpose === 'opened') return 'link_opened';
  // A locked link's form refuses the answer and logs the attempt.
  if (purpose === 'answer' && expected === '429 link_locked') return 'verification';
  if (purpose === 'viewer') return 'viewer_opened';
  if (['view', 'view_files', 'download'].includes(purpose) && /^4\d\d /.test(expected))
    return 'download_refused';
  return null;
}

const lastEventId = async () =>
  Number(
    (
      await database.db
        .selectFrom('access_log')
        .select(sql<string>`coalesce(max(id), 0)`.as('id'))
        .executeTakeFirstOrThrow()
    ).id,
  );

describe('the link gate: every link state × purpose', () => {
  const cases = Object.entries(TABLE).flatMap(([state, row]) =>
    LINK_PURPOSES.map((purpose) => [state as State, purpose, row[purpose]] as const),
  );

  it.each(cases)('%s × %s → %s', async (state, purpose, expected) => {
    const link = made.get(state);
    if (!link) throw new Error(`no link made for ${state}`);
    const before = await lastEventId();
    let outcome: string;
    let opened: OpenedLink | null = null;
    try {
      opened = await links.open(link.token, REQUESTER, { purpose, verificationCookie: link.cookie });
      const m = opened.may;
      outcome = !opened.verified
        ? Object.values(m).some(Boolean)
          ? 'form with permissions!'
          : 'form'
        : m.page && m.viewFrames && m.share && m.viewFiles && m.download
          ? 'all'
          : m.page && m.viewFrames && m.share && !m.viewFiles && !m.download
            ? 'noFiles'
            : `unexpected ${JSON.stringify(m)}`;
    } catch (err) {
      const e = err as { status?: number; code?: string };
      outcome = `${e.status} ${e.code}`;
    }
    expect(outcome).toBe(expected);
    if (opened && expected === 'noFiles')
      expect(opened.downloadRefusal).toBe(state === 'spent' ? 'limit_reached' : 'view_only');

    const events = await database.db
      .selectFrom('access_log')
      .select(['event', 'outcome', 'client_ip'])
      .where('id', '>', before)
      .execute();
    const event = expectedEvent(purpose, expected);
    expect(events.map((e) => e.event)).toEqual(event ? [event] : []);
    if (event) expect(events[0]?.client_ip).toBe(REQUESTER.clientIp);
  });
});

describe('the link gate: reservations, allowance, HEAD', () => {
  it('a limited link reserves its downloads: two at once cannot both pass maxDownloads 1', async () => {
    const { token } = await issue({ maxDownloads: 1 });
    const opens = await Promise.allSettled([
      links.open(token, REQUESTER, { purpose: 'download', reserve: true }),
      links.open(token, REQUESTER, { purpose: 'download', reserve: true }),
    ]);
    const granted = opens.filter((o) => o.status === 'fulfilled');
    expect(granted).toHaveLength(1);
    expect((granted[0] as PromiseFulfilledResult<OpenedLink>).value.downloadId).toMatch(/^[0-9a-f-]{36}$/);
    const refused = opens.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect((refused.reason as { code: string }).code).toBe('download_limit_reached');
    // Without reserve (a HEAD of the zip) nothing is reserved and nothing refused.
    const head = await links.open(token, REQUESTER, { purpose: 'download' });
    expect(head.downloadId).toBeNull();
  });

  it('a ranged resume of a download counted within 24 hours passes a spent link, reserves nothing', async () => {
    const { token, tokenId, uid } = await issue({ maxDownloads: 1 });
    const layoutId = 'a'.repeat(64);
    // The study's layout, as the token service keeps it (the gate reads it with the link).
    await database.db
      .insertInto('zip_layouts')
      .values({
        study_instance_uid: uid,
        zip_content: 'as-stored',
        id: layoutId,
        body: '{}',
        base_length: 1000,
        readme: '{"held":null}',
      } as never)
      .execute();
    const gate = new LinkAccess({
      db: database.db,
      studies: new StudyService(database.db, source, createLogger({ service: 't', level: 'silent' }), {
        storeMs: 1000,
        pageMs: 1000,
      }),
      invalidTokens: NO_INVALID_TOKEN_LIMIT,
      cookies: tokens.cookies,
      zipContent: async () => 'as-stored',
      reportsOnPage: async () => true,
      now: () => clock,
    });
    await setRow(tokenId, { downloads_used: 1 });
    const etag = `"${layoutId}.${'0'.repeat(16)}"`;
    const resume = { purpose: 'download', reserve: true, browser: false } as const;
    // Not counted yet (or another layout): a spent link stays spent.
    await expect(gate.open(token, REQUESTER, { ...resume, range: { ifRange: etag } })).rejects.toMatchObject({
      code: 'download_limit_reached',
    });
    await recordCounted(database.db, tokenId, layoutId, new Date(clock - 3_600_000));
    const opened = await gate.open(token, REQUESTER, { ...resume, range: { ifRange: etag } });
    expect(opened).toMatchObject({ resume: true, downloadId: null, zipLayoutId: layoutId });
    expect(opened.may.download).toBe(true);
    // Another ETag, no Range, or a count older than 24 hours: no resume.
    const other = `"${'b'.repeat(64)}.${'0'.repeat(16)}"`;
    await expect(gate.open(token, REQUESTER, { ...resume, range: { ifRange: other } })).rejects.toThrow();
    await expect(gate.open(token, REQUESTER, resume)).rejects.toThrow();
    await recordCounted(database.db, tokenId, layoutId, new Date(clock - 25 * 3_600_000));
    await expect(gate.open(token, REQUESTER, { ...resume, range: { ifRange: null } })).rejects.toThrow();
  });

  it('a HEAD of the page is logged as head', async () => {
    const { token } = await issue({});
    const before = await lastEventId();
    await links.open(token, REQUESTER, { purpose: 'page', head: true });
    const rows = await database.db
      .selectFrom('access_log')
      .select(['event', 'outcome'])
      .where('id', '>', before)
      .execute();
    expect(rows).toEqual([{ event: 'page_view', outcome: 'head' }]);
  });

  it('a form posted from another site is refused and logged, not counted', async () => {
    const { token } = await issue({ verification: 'pin' });
    await expect(
      links.open(token, REQUESTER, { purpose: 'answer', crossOrigin: true }),
    ).rejects.toMatchObject({ status: 403, code: 'cross_origin_form' });
  });

  it("a locked link's form still switches the language (no answer, nothing logged against it)", async () => {
    const link = made.get('pin locked');
    if (!link) throw new Error('no locked link');
    const before = await lastEventId();
    const opened = await links.open(link.token, REQUESTER, { purpose: 'answer', languageOnly: true });
    expect(opened.verified).toBe(false);
    expect(await lastEventId()).toBe(before);
    await expect(links.open(link.token, REQUESTER, { purpose: 'answer' })).rejects.toMatchObject({
      status: 429,
      code: 'link_locked',
    });
  });

  it('a client over its invalid-link allowance is refused before any lookup, even with a valid link', async () => {
    const log = createLogger({ service: 'token-service', level: 'silent' });
    const limited = new LinkAccess({
      db: database.db,
      studies: new StudyService(database.db, source, log, { storeMs: 1000, pageMs: 1000 }),
      invalidTokens: new InvalidTokenLimiter(database.db, log, { limit: 2, windowSeconds: 600 }),
      cookies: tokens.cookies,
    });
    const guesser = { clientIp: '203.0.113.99', userAgent: 'guesser' };
    const { token } = await issue({});
    for (let i = 0; i < 2; i++)
      await expect(limited.open('B'.repeat(64), guesser, { purpose: 'page' })).rejects.toMatchObject({
        status: 404,
      });
    await expect(limited.open('C'.repeat(64), guesser, { purpose: 'page' })).rejects.toMatchObject({
      status: 429,
    });
    await expect(limited.open(token, guesser, { purpose: 'page' })).rejects.toMatchObject({ status: 429 });
    // Another client is not affected; an internal caller without a requester is never counted.
    await expect(limited.open(token, REQUESTER, { purpose: 'page' })).resolves.toMatchObject({
      verified: true,
    });
    await expect(limited.open('D'.repeat(64), null, { purpose: 'view' })).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe('the cost of a page view', () => {
  it('a link without a second factor: at most three SQL statements plus the access-log insert', async () => {
    // As main runs it: the guessing limit on, the setup cached (SERVER_CONFIG_CACHE_MS).
    const h = await startHarness(source, {
      invalidTokenLimit: { limit: 50, windowSeconds: 600 },
      serverConfigCacheMs: 60_000,
    });
    try {
      const uid = '1.2.826.0.1.3680043.8.498.17.999';
      source.add({ studyInstanceUid: uid });
      const issued = (await (await h.api('PUT', `/api/v1/studies/${uid}/token`)).json()) as { token: string };
      // The first view may fill the study's copy; the second is the steady state.
      await (await fetch(`${h.url}/token?${issued.token}`)).text();
      h.queries.length = 0;
      const res = await fetch(`${h.url}/token?${issued.token}`);
      expect(res.status).toBe(200);
      await res.text();
      const inserts = h.queries.filter((q) => /^insert into "access_log"/i.test(q));
      const others = h.queries.filter((q) => !/^insert into "access_log"/i.test(q));
      expect(inserts).toHaveLength(1);
      expect(others.length, others.join('\n')).toBeLessThanOrEqual(3);
    } finally {
      await h.close();
    }
  });
});

describe('the link gate: the report rule (issue 20)', () => {
  const gateWith = (reportsOnPage: boolean) =>
    new LinkAccess({
      db: database.db,
      studies: new StudyService(database.db, source, createLogger({ service: 't', level: 'silent' }), {
        storeMs: 1000,
        pageMs: 1000,
      }),
      invalidTokens: NO_INVALID_TOKEN_LIMIT,
      cookies: tokens.cookies,
      reportsOnPage: async () => reportsOnPage,
      now: () => clock,
    });
  const pdf = Buffer.from('%PDF-1.4\n%%EOF\n');
  const pushFor = (uid: string) =>
    database.db
      .insertInto('study_reports')
      .values({
        study_instance_uid: uid,
        id: `r${uid.replace(/\./g, '')}`.slice(0, 64),
        pdf,
        sha256: 'c'.repeat(64),
        bytes: pdf.length,
        uploaded_by: 'api:test',
      })
      .execute();

  it.each([
    [null, true, true],
    [null, false, false],
    [true, false, true],
    [true, true, true],
    [false, true, false],
    [false, false, false],
  ] as const)(
    'includeReport %s × reportsOnPage %s → may.report %s, on every purpose',
    async (include, setup, want) => {
      const { token, tokenId, uid } = await issue({});
      await setRow(tokenId, { include_report: include });
      await pushFor(uid);
      const gate = gateWith(setup);
      for (const purpose of ['page', 'viewer', 'view', 'view_files', 'download'] as const) {
        const opened = await gate.open(token, REQUESTER, { purpose });
        expect(opened.may.report, purpose).toBe(want);
        expect(opened.hasPushedReport).toBe(true);
        expect(opened.pushedReport, purpose).toEqual(
          want ? { id: expect.any(String), bytes: pdf.length, sha256: 'c'.repeat(64) } : null,
        );
        // The wire grant carries the gate's answer and nothing else.
        const grant = toWireGrant(opened, await serverConfig.get(), 'en');
        expect(grant.may.report).toBe(want);
        expect(grant.pushedReport).toEqual(opened.pushedReport);
      }
    },
  );

  it('an unverified link, or a gate that cannot read the setup, grants no report (fail closed)', async () => {
    const un = await issue({ verification: 'pin' });
    await setRow(un.tokenId, { include_report: true });
    const opened = await gateWith(true).open(un.token, REQUESTER, { purpose: 'page' });
    expect(opened.verified).toBe(false);
    expect(opened.may.report).toBe(false);
    expect(opened.pushedReport).toBeNull();
    const plain = await issue({});
    // `links` was made without reportsOnPage.
    expect((await links.open(plain.token, REQUESTER, { purpose: 'view' })).may.report).toBe(false);
  });

  it('no pushed report: may.report alone, pushedReport null', async () => {
    const { token } = await issue({});
    const opened = await gateWith(true).open(token, REQUESTER, { purpose: 'view' });
    expect(opened.may.report).toBe(true);
    expect(opened.pushedReport).toBeNull();
    expect(opened.hasPushedReport).toBe(false);
  });
});
