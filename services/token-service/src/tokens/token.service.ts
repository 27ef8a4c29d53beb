import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type AccessEntry, appendAccessEvent } from '../access-log/access-log.repository.js';
import type { Db } from '../db/database.js';
import type { DB, TokenRow, Verification } from '../db/tables.js';
import {
  BirthDateMissingError,
  LinkLockedError,
  PinUnreadableError,
  StudyTokenNotFoundError,
  TokenNotDisplayableError,
  TokenSettingsConflictError,
} from '../errors.js';
import { isGone, type LinkRecord, lockOf, toLinkRecord } from '../link-access/link.rules.js';
import { tokenUrl } from '../server-config/server-config.schema.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import type { StudyService } from '../studies/study.service.js';
import { generateToken, hashToken, pinAad, type TokenCipher } from './token.crypto.js';
import {
  findActiveTokenForStudy,
  findTokenByHash,
  insertToken,
  LOCKOUT,
  recordRightAnswer,
  recordWrongAnswer,
  revokeToken,
  unlockToken,
} from './token.repository.js';
import { VerificationCookies } from './verification.cookie.js';

/** Digits in a link's PIN: 10^6 values against at most LOCKOUT.total guesses per unlock. */
export const PIN_DIGITS = 6;

export interface IssuedToken {
  studyInstanceUid: string;
  token: string;
  url: string;
  createdAt: string;
  expiresAt: string | null;
  verification: Verification;
  /** Present for PIN links only; every answer that carries it is logged as pin_displayed. */
  pin?: string;
  maxDownloads: number | null;
  allowDownload: boolean;
  /** Whether the link shows the study's reports; null follows the setup's reportsOnPage. */
  includeReport: boolean | null;
  downloadsUsed: number;
  /** Wrong answers locked the link: until lockedUntil, or (lockedUntil null) until staff unlock it. */
  locked: boolean;
  lockedUntil: string | null;
}

/** How a link is made: expiry, second factor, download limit, view-only. */
export interface LinkOptions {
  expiresAt?: Date | null;
  /** Absent: the server setup's defaultVerification. */
  verification?: Verification;
  maxDownloads?: number | null;
  allowDownload?: boolean;
  /** Show the study's reports (true), hold them back (false), or follow the setup (null, the default). */
  includeReport?: boolean | null;
}

/** Who asked, for the access log: an API key or a staff user, and from where. */
export interface Actor {
  actor: string;
  clientIp: string;
  userAgent: string;
}

/** A birth date (`YYYY-MM-DD`) or a PIN, as the patient typed it. */
export type VerificationAnswer = { birthDate: string } | { pin: string };

export class TokenService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly cipher: TokenCipher,
    private readonly studies: StudyService,
    private readonly serverConfig: ServerConfigService,
    /** The key verification cookies are signed with (main: derived from TOKEN_ENCRYPTION_KEY). */
    cookieSecret: Buffer = randomBytes(32),
    /** Told of every link made (the study's zip layout is made then, in the background). */
    private readonly hooks: { linkIssued?(uid: string): void } = {},
  ) {
    this.cookies = new VerificationCookies(cookieSecret);
  }

  /** Signs the cookie a right answer earns; the link gate checks it (main passes it to LinkAccess). */
  readonly cookies: VerificationCookies;

  /**
   * The study's active token, made if there is none. An expired one is retired and replaced.
   * A UID the store does not know throws StudyNotFoundError.
   */
  async issue(
    uid: string,
    who: Actor,
    opts: LinkOptions = {},
    /** false: the answer leaves the PIN out (the staff page shows it on request), and nothing is logged for it. */
    { withPin = true }: { withPin?: boolean } = {},
  ): Promise<{ created: boolean; token: IssuedToken }> {
    const existing = await this.activeOrRetire(uid, who);
    if (existing) {
      assertSameSettingsOrThrow(existing, opts);
      // The report's release is changed in place: staff hold it back, then release it, on one link.
      const current =
        opts.includeReport !== undefined && opts.includeReport !== existing.include_report
          ? await this.setIncludeReport(existing, opts.includeReport, who)
          : existing;
      return { created: false, token: await this.display(current, who, 'token_displayed', withPin) };
    }

    const { config, verification } = await this.checkLinkOptionsOrThrow(uid, opts);
    const made = await this.db
      .transaction()
      .execute((trx) => this.insertLogged(trx, uid, who, { ...opts, verification }, config));
    if (!made) {
      // Another request made one at the same moment: that one is the study's token.
      const winner = await findActiveTokenForStudy(this.db, uid);
      if (!winner) throw new Error('token insert lost a race but no active token exists');
      return { created: false, token: await this.display(winner, who, 'token_displayed', withPin) };
    }
    this.hooks.linkIssued?.(uid);
    return { created: true, token: await this.issued(made, who, config, withPin) };
  }

  /**
   * Replaces the study's link in one transaction: the old token is revoked and the new one made
   * together, so when the new one cannot be made (the database fails midway) the old one still
   * works. The study comes from the store, or from its stored copy while the store is down. The
   * options are checked first (a birth-date link needs a birth date), so a refusal leaves the old
   * link working too.
   */
  async replace(
    uid: string,
    who: Actor,
    opts: LinkOptions = {},
    { withPin = true }: { withPin?: boolean } = {},
  ): Promise<IssuedToken> {
    const { config, verification } = await this.checkLinkOptionsOrThrow(uid, opts);
    const made = await this.db.transaction().execute(async (trx) => {
      const old = await trx
        .selectFrom('tokens')
        .select(['id'])
        .where('study_instance_uid', '=', uid)
        .where('revoked_at', 'is', null)
        .where('parent_id', 'is', null)
        .forUpdate()
        .executeTakeFirst();
      if (old) {
        await revokeToken(trx, old.id, new Date());
        await appendAccessEvent(trx, {
          event: 'token_revoked',
          outcome: 'ok',
          tokenId: old.id,
          studyInstanceUid: uid,
          actor: who.actor,
          clientIp: who.clientIp,
          userAgent: who.userAgent,
          detail: { replaced: true },
        });
      }
      const fresh = await this.insertLogged(trx, uid, who, { ...opts, verification }, config);
      if (!fresh) throw new Error('a token was made for the study while it was being replaced');
      return fresh;
    });
    this.hooks.linkIssued?.(uid);
    return this.issued(made, who, config, withPin);
  }

  /** A just-made link as its answer shows it; showing a PIN is logged. */
  private async issued(
    made: { row: TokenRow; token: string; pin: string | null },
    who: Actor,
    config: Parameters<typeof tokenUrl>[0],
    withPin: boolean,
  ): Promise<IssuedToken> {
    if (made.pin !== null && withPin) await this.logPinShown(made.row, who);
    return this.toIssued(made.row, made.token, config, withPin ? made.pin : null);
  }

  /** Inserts a new token and its token_issued event in the caller's transaction; null if one exists. */
  private async insertLogged(
    trx: Db,
    uid: string,
    who: Actor,
    opts: LinkOptions & { verification: Verification },
    config: { defaultExpiryDays: number | null },
  ): Promise<{ row: TokenRow; token: string; pin: string | null } | null> {
    const expiresAt =
      opts.expiresAt !== undefined
        ? opts.expiresAt
        : config.defaultExpiryDays
          ? new Date(Date.now() + config.defaultExpiryDays * 86_400_000)
          : null;
    const token = generateToken();
    const hash = hashToken(token);
    const pin = opts.verification === 'pin' ? generatePin() : null;
    const row = await insertToken(trx, {
      study_instance_uid: uid,
      token_hash: hash,
      token_ciphertext: this.cipher.encrypt(token, hash),
      expires_at: expiresAt,
      created_by: who.actor,
      verification: opts.verification,
      pin_ciphertext: pin === null ? null : this.cipher.encrypt(pin, pinAad(hash)),
      max_downloads: opts.maxDownloads ?? null,
      allow_download: opts.allowDownload ?? true,
      include_report: opts.includeReport ?? null,
    });
    if (!row) return null;
    await appendAccessEvent(trx, {
      event: 'token_issued',
      outcome: 'ok',
      tokenId: row.id,
      studyInstanceUid: uid,
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
      detail: {
        verification: opts.verification,
        maxDownloads: row.max_downloads,
        allowDownload: row.allow_download,
        includeReport: row.include_report,
        expiresAt: row.expires_at?.toISOString() ?? null,
      },
    });
    return { row, token, pin };
  }

  /**
   * Reads the study from the store, or its copy while the store is down (StudyNotFoundError,
   * StoreUnavailableError), and checks that a
   * link with these options can be made: a birth-date link needs the study's Patient's Birth Date
   * (BirthDateMissingError). Replacing a link calls it before revoking the old one.
   */
  async checkLinkOptionsOrThrow(uid: string, opts: LinkOptions) {
    const study = await this.studies.forIssueOrThrow(uid);
    const config = await this.serverConfig.get();
    const verification = opts.verification ?? config.defaultVerification;
    if (verification === 'birth-date' && normaliseDate(study.patient_birth_date) === '')
      throw new BirthDateMissingError();
    return { config, verification };
  }

  /** The study's active token for display; 404 when there is none. */
  async getActiveOrThrow(uid: string, who: Actor, opts: { withPin?: boolean } = {}): Promise<IssuedToken> {
    const row = await this.activeOrRetire(uid, who);
    if (!row) throw new StudyTokenNotFoundError();
    return this.display(row, who, 'token_displayed', opts.withPin ?? true);
  }

  /** Revokes at once: page and download refuse the old token from the next request on. */
  async revokeOrThrow(uid: string, who: Actor): Promise<void> {
    const row = await findActiveTokenForStudy(this.db, uid);
    if (!row) throw new StudyTokenNotFoundError();
    await this.db.transaction().execute(async (trx) => {
      await revokeToken(trx, row.id, new Date());
      await appendAccessEvent(trx, {
        event: 'token_revoked',
        outcome: 'ok',
        tokenId: row.id,
        studyInstanceUid: uid,
        actor: who.actor,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
      });
    });
  }

  /** The link locked by wrong answers: seconds until it opens again, or null until staff unlock it. */
  lockOf(link: LinkRecord): { retryAfterSeconds: number | null } | null {
    return lockOf(link, Date.now());
  }

  /**
   * Checks a birth date or PIN against the link, counting wrong answers per link (locks after
   * LOCKOUT.streak in a row, for good after LOCKOUT.total). Every attempt is in the access log;
   * the answer never is. The gate (purpose `answer`) refuses a locked link before this is asked;
   * throws LinkLockedError when this answer (or one at the same moment) locks it.
   * Returns the cookie to set on a right answer, null on a wrong one.
   */
  async checkAnswerOrThrow(
    grant: LinkRecord,
    answer: VerificationAnswer,
    who: { clientIp: string; userAgent: string },
  ): Promise<{ value: string; maxAgeSeconds: number } | null> {
    const base = verificationEvent(grant, who);
    // The gate (purpose `answer`) has refused a locked link; a lock taken meanwhile (another
    // answer at the same moment) is seen by the counting statements below.
    const right = await this.isRightAnswer(grant, answer);
    if (right) {
      if (!(await recordRightAnswer(this.db, grant.tokenId))) return this.lockedMeanwhile(grant, base);
      await appendAccessEvent(this.db, { ...base, outcome: 'ok' });
      return this.cookies.issue(grant, grant.expiresAt);
    }
    const state = await recordWrongAnswer(this.db, grant.tokenId);
    if (!state) return this.lockedMeanwhile(grant, base);
    const nowLocked = state.locked_at ? 'until_unlocked' : state.locked_until ? 'for_a_while' : null;
    await appendAccessEvent(this.db, {
      ...base,
      outcome: 'wrong',
      detail: { method: grant.verification, ...(nowLocked ? { locked: nowLocked } : {}) },
    });
    if (state.locked_at) throw new LinkLockedError(null);
    if (state.locked_until && state.locked_until.getTime() > Date.now())
      throw new LinkLockedError(Math.ceil((state.locked_until.getTime() - Date.now()) / 1000));
    return null;
  }

  /**
   * An answer that cannot be one (a date not written YYYY-MM-DD, a PIN that is not PIN_DIGITS
   * digits): logged, not counted against the link, so a browser without a date picker costs the
   * patient no attempt.
   */
  async recordMalformedAnswer(
    grant: LinkRecord,
    who: { clientIp: string; userAgent: string },
  ): Promise<void> {
    // The gate (purpose `answer`) has refused a locked link.
    await appendAccessEvent(this.db, { ...verificationEvent(grant, who), outcome: 'malformed' });
  }

  /** Staff lift a lock caused by wrong answers. */
  async unlockOrThrow(uid: string, who: Actor): Promise<void> {
    const row = await findActiveTokenForStudy(this.db, uid);
    if (!row) throw new StudyTokenNotFoundError();
    await this.db.transaction().execute(async (trx) => {
      await unlockToken(trx, row.id);
      await appendAccessEvent(trx, {
        event: 'token_unlocked',
        outcome: 'ok',
        tokenId: row.id,
        studyInstanceUid: uid,
        actor: who.actor,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
      });
    });
  }

  private async lockedMeanwhile(grant: LinkRecord, base: AccessEntry): Promise<never> {
    const row = await findTokenByHash(this.db, grant.tokenHash);
    await appendAccessEvent(this.db, { ...base, outcome: 'locked' });
    const lock = row ? this.lockOf(toLinkRecord(row)) : null;
    throw new LinkLockedError(lock?.retryAfterSeconds ?? LOCKOUT.minutes * 60);
  }

  private async isRightAnswer(grant: LinkRecord, answer: VerificationAnswer): Promise<boolean> {
    if (grant.verification === 'birth-date' && 'birthDate' in answer) {
      const study = await this.studies.forPage(grant.studyInstanceUid);
      const stored = normaliseDate(study?.patient_birth_date ?? '');
      const given = /^\d{4}-\d{2}-\d{2}$/.test(answer.birthDate) ? answer.birthDate.replaceAll('-', '') : '';
      return sameSecret(stored, given) && stored !== '';
    }
    if (grant.verification === 'pin' && 'pin' in answer) {
      const row = await findTokenByHash(this.db, grant.tokenHash);
      if (!row?.pin_ciphertext) return false;
      let pin: string;
      try {
        pin = this.cipher.decrypt(row.pin_ciphertext, pinAad(row.token_hash));
      } catch {
        // Its key is gone (TOKEN_ENCRYPTION_KEY changed without the previous one): nobody can
        // check this PIN, and counting the answer as wrong would lock the patient out.
        throw new PinUnreadableError();
      }
      return sameSecret(pin, answer.pin.replace(/[\s-]/g, ''));
    }
    return false;
  }

  /** The study's active token; an expired one is retired (revoked, and logged as token_expired). */
  private async activeOrRetire(uid: string, who: Actor): Promise<TokenRow | undefined> {
    const row = await findActiveTokenForStudy(this.db, uid);
    if (row && isExpired(row)) {
      await this.db.transaction().execute(async (trx) => {
        const retired = await revokeToken(trx, row.id, new Date());
        if (!retired) return; // another request retired it first, and logged that
        await appendAccessEvent(trx, {
          event: 'token_expired',
          outcome: 'ok',
          tokenId: row.id,
          studyInstanceUid: uid,
          actor: who.actor,
          clientIp: who.clientIp,
          userAgent: who.userAgent,
          detail: { expiredAt: row.expires_at?.toISOString() ?? null },
        });
      });
      return undefined;
    }
    return row;
  }

  /** The token for display; the PIN too unless `withPin` is false (a staff page that shows it on request). */
  private async display(
    row: TokenRow,
    who: Actor,
    event: 'token_displayed',
    withPin = true,
  ): Promise<IssuedToken> {
    let token: string;
    try {
      token = this.cipher.decrypt(row.token_ciphertext, row.token_hash);
    } catch {
      // Encrypted under a key this service no longer has (TOKEN_ENCRYPTION_KEY changed without
      // TOKEN_ENCRYPTION_KEYS_PREVIOUS): the link still works, but nobody can show it again.
      throw new TokenNotDisplayableError();
    }
    let pin: string | null = null;
    try {
      if (withPin && row.pin_ciphertext)
        pin = this.cipher.decrypt(row.pin_ciphertext, pinAad(row.token_hash));
    } catch {
      throw new TokenNotDisplayableError();
    }
    await appendAccessEvent(this.db, {
      event,
      outcome: 'ok',
      tokenId: row.id,
      studyInstanceUid: row.study_instance_uid,
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
    });
    if (pin !== null) await this.logPinShown(row, who);
    return this.toIssued(row, token, await this.serverConfig.get(), pin);
  }

  /** The PIN left the server (API answer, staff page, handout): the event, never the value. */
  private async logPinShown(row: TokenRow, who: Actor): Promise<void> {
    await appendAccessEvent(this.db, {
      event: 'pin_displayed',
      outcome: 'ok',
      tokenId: row.id,
      studyInstanceUid: row.study_instance_uid,
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
    });
  }

  /** Sets whether a link shows the study's reports (null: follow the setup), and logs it. */
  private async setIncludeReport(
    row: TokenRow,
    includeReport: boolean | null,
    who: Actor,
  ): Promise<TokenRow> {
    return this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('tokens')
        .set({ include_report: includeReport })
        .where('id', '=', row.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await appendAccessEvent(trx, {
        event: 'token_report_changed',
        outcome: 'ok',
        tokenId: row.id,
        studyInstanceUid: row.study_instance_uid,
        actor: who.actor,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
        detail: { includeReport },
      });
      return updated;
    });
  }

  private toIssued(
    row: TokenRow,
    token: string,
    config: Parameters<typeof tokenUrl>[0],
    pin: string | null,
  ): IssuedToken {
    const lock = this.lockOf(toLinkRecord(row));
    return {
      studyInstanceUid: row.study_instance_uid,
      token,
      url: tokenUrl(config, token),
      createdAt: row.created_at.toISOString(),
      expiresAt: row.expires_at ? row.expires_at.toISOString() : null,
      verification: row.verification,
      ...(pin !== null ? { pin } : {}),
      maxDownloads: row.max_downloads,
      allowDownload: row.allow_download,
      includeReport: row.include_report,
      downloadsUsed: row.downloads_used,
      locked: lock !== null,
      lockedUntil: lock?.retryAfterSeconds && row.locked_until ? row.locked_until.toISOString() : null,
    };
  }
}

/** The access event of an answer to a link's second factor; the outcome is added by the caller. */
function verificationEvent(grant: LinkRecord, who: { clientIp: string; userAgent: string }): AccessEntry {
  return {
    event: 'verification',
    tokenId: grant.tokenId,
    studyInstanceUid: grant.studyInstanceUid,
    ...who,
    detail: { method: grant.verification },
  };
}

/** A PUT for a study that has a link may not silently get other settings than it asked for. */
function assertSameSettingsOrThrow(row: TokenRow, opts: LinkOptions): void {
  const differ: string[] = [];
  if (opts.verification !== undefined && opts.verification !== row.verification) differ.push('verification');
  if (opts.maxDownloads !== undefined && opts.maxDownloads !== row.max_downloads) differ.push('maxDownloads');
  if (opts.allowDownload !== undefined && opts.allowDownload !== row.allow_download)
    differ.push('allowDownload');
  if (differ.length) throw new TokenSettingsConflictError(differ);
}

/** PIN_DIGITS digits from the CSPRNG (randomInt has no modulo bias). */
export function generatePin(): string {
  let pin = '';
  for (let i = 0; i < PIN_DIGITS; i++) pin += String(randomInt(10));
  return pin;
}

/**
 * A DICOM DA (`YYYYMMDD`, or the old `YYYY.MM.DD`) as 8 digits, '' when it is not a real calendar
 * date (`00000000`, `19800230`); any year a DA can hold counts (`18000101` is real).
 */
function normaliseDate(da: string): string {
  const digits = da.trim().replaceAll('.', '');
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(digits);
  if (!m) return '';
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  return y >= 1 && date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
    ? digits
    : '';
}

function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

function isExpired(row: TokenRow): boolean {
  return isGone({ revokedAt: null, expiresAt: row.expires_at }, Date.now());
}

/**
 * Why an answer cannot be right whatever the link: the catalogue key of the hint to show, or null
 * for a well-formed answer (YYYY-MM-DD that is a real date; PIN_DIGITS digits, spaces and dashes
 * allowed between them).
 */
export function answerFormatProblem(
  answer: VerificationAnswer,
): 'verify.dateFormat' | 'verify.pinFormat' | null {
  if ('birthDate' in answer) {
    const given = answer.birthDate.trim();
    return /^\d{4}-\d{2}-\d{2}$/.test(given) && normaliseDate(given.replaceAll('-', '')) !== ''
      ? null
      : 'verify.dateFormat';
  }
  return new RegExp(`^\\d{${PIN_DIGITS}}$`).test(answer.pin.replace(/[\s-]/g, ''))
    ? null
    : 'verify.pinFormat';
}
