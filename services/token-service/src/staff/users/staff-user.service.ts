import { rateLimitKey } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { appendAccessEvent } from '../../access-log/access-log.repository.js';
import type { DB, StaffRole, StaffUserRow } from '../../db/tables.js';
import type { Actor } from '../../tokens/token.service.js';
import {
  DEFAULT_SCRYPT,
  dummyHash,
  hashPassword,
  type ScryptParams,
  verifyPassword,
} from '../session/password.hasher.js';
import { deleteSessionsOfUser } from '../session/staff-session.repository.js';
import {
  LastAdminError,
  SelfDisableError,
  SingleSignOnUserError,
  StaffUserNotFoundError,
  UsernameTakenError,
} from '../shared/staff.errors.js';
import {
  countActiveAdmins,
  findUserById,
  findUserByUsername,
  insertUser,
  listUsers,
  lockUser,
  recordSignInSuccess,
  reserveSignInAttempt,
  setUserDisabled,
  setUserPassword,
} from './staff-user.repository.js';

/** Lockout and throttle limits of the sign-in form. */
export interface SignInPolicy {
  /** Consecutive failures that lock an account... */
  maxFailures: number;
  /** ...for this long. */
  lockMinutes: number;
  /** Failures from one client address within the window before that address is refused. */
  maxFailuresPerIp: number;
  ipWindowMinutes: number;
}

export const DEFAULT_SIGN_IN_POLICY: SignInPolicy = {
  maxFailures: 5,
  lockMinutes: 15,
  maxFailuresPerIp: 20,
  ipWindowMinutes: 15,
};

export type SignInResult =
  | { ok: true; user: StaffUserRow }
  | { ok: false; reason: 'unknown_user' | 'bad_password' | 'locked' | 'disabled' | 'throttled' };

/** How the access log names a staff user. */
export function staffActor(username: string): string {
  return `staff:${username}`;
}

/** Who is acting, as the access log and the rules about the last admin need it. */
export interface StaffActor extends Actor {
  userId: number;
}

export class StaffUserService {
  private dummy: Promise<string> | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly policy: SignInPolicy = DEFAULT_SIGN_IN_POLICY,
    private readonly scrypt: ScryptParams = DEFAULT_SCRYPT,
    /** The password check; tests count its calls. */
    private readonly verify: (password: string, hash: string) => Promise<boolean> = verifyPassword,
  ) {}

  /**
   * Checks a sign-in. Every refusal costs one full scrypt, the same as a wrong password: timing
   * tells neither which names exist nor which accounts are locked. Every outcome is in the
   * access log.
   */
  async signIn(username: string, password: string, who: Omit<Actor, 'actor'>): Promise<SignInResult> {
    if (await this.addressThrottled(who.clientIp)) {
      await this.sameWorkAsAPassword(password);
      await this.logThrottledOnce(who);
      return { ok: false, reason: 'throttled' };
    }
    const user = await findUserByUsername(this.db, username);
    if (!user || user.password_hash === null) {
      // A user of the identity provider has no local password: refused like an unknown name.
      await this.sameWorkAsAPassword(password);
      await this.log(
        'staff_sign_in_failed',
        user ? 'single_sign_on_user' : 'unknown_user',
        who,
        user ?? null,
        null,
      );
      return { ok: false, reason: 'unknown_user' };
    }
    const hash = user.password_hash;
    const attempt = await reserveSignInAttempt(this.db, user.id);
    if (attempt === null || attempt > this.policy.maxFailures) {
      // The real hash, as for a wrong password (its result is not used: a locked account stays locked).
      await this.verify(password, hash);
      await this.log('staff_sign_in_failed', 'locked', who, user, null);
      return { ok: false, reason: 'locked' };
    }
    const matches = await this.verify(password, hash);
    if (matches && !user.disabled_at) {
      await recordSignInSuccess(this.db, user.id);
      await this.log('staff_sign_in', 'ok', who, user, null);
      return { ok: true, user };
    }
    if (!matches && attempt >= this.policy.maxFailures) {
      await lockUser(this.db, user.id, this.policy.lockMinutes);
    }
    const reason = matches ? 'disabled' : 'bad_password';
    await this.log('staff_sign_in_failed', reason, who, user, {
      attempt,
      ...(attempt >= this.policy.maxFailures && !matches ? { locked: true } : {}),
    });
    return { ok: false, reason };
  }

  /** A scrypt of the same cost against a hash no password matches. */
  private async sameWorkAsAPassword(password: string): Promise<void> {
    this.dummy ??= dummyHash(this.scrypt);
    await this.verify(password, await this.dummy);
  }

  /** The rows of this address: itself, or for IPv6 its whole /64, as the invalid-token limit counts. */
  private sameClient(clientIp: string) {
    const key = rateLimitKey(clientIp);
    return key === clientIp
      ? sql<boolean>`client_ip = ${clientIp}`
      : // Only rows that hold an IPv6 address are cast: anything else ('unknown') is not one.
        sql<boolean>`(case when client_ip ~ '^[0-9A-Fa-f:.]+$' and client_ip like '%:%' then client_ip::inet <<= ${key}::inet else false end)`;
  }

  /**
   * True when this address failed too often lately: it is refused before any password check. An
   * IPv6 address counts with its whole /64, as the invalid-token limit does (rateLimitKey). Reads
   * the partial index access_log_sign_in_failures_idx (failures that were not refusals: the
   * predicate is spelled as the index's, literals included) and stops at the limit, so a flood
   * costs at most `maxFailuresPerIp` index entries per request, however long it lasts.
   */
  async addressThrottled(clientIp: string): Promise<boolean> {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM access_log
         WHERE event = 'staff_sign_in_failed' AND outcome <> 'throttled'
           AND ${this.sameClient(clientIp)}
           AND at > now() - make_interval(mins => ${this.policy.ipWindowMinutes})
         LIMIT ${this.policy.maxFailuresPerIp}
      ) AS recent`.execute(this.db);
    return (rows[0]?.n ?? 0) >= this.policy.maxFailuresPerIp;
  }

  /**
   * One `throttled` row per address (IPv6: /64) and window, not one per refused request: a flood of
   * a few hundred POSTs a second adds nothing to the log after the first. Concurrent refusals of one
   * address take turns on an advisory lock, so exactly one of them writes.
   */
  private async logThrottledOnce(who: Omit<Actor, 'actor'>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(727274002, hashtext(${rateLimitKey(who.clientIp)}))`.execute(
        trx,
      );
      const { rows } = await sql<{ one: number }>`
        SELECT 1 AS one FROM access_log
         WHERE event = 'staff_sign_in_failed' AND outcome = 'throttled' AND ${this.sameClient(who.clientIp)}
           AND at > now() - make_interval(mins => ${this.policy.ipWindowMinutes})
         LIMIT 1`.execute(trx);
      if (rows.length > 0) return;
      await appendAccessEvent(trx, {
        event: 'staff_sign_in_failed',
        outcome: 'throttled',
        actor: null,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
        detail: { windowMinutes: this.policy.ipWindowMinutes, loggedOncePerWindow: true },
      });
    });
  }

  list(): Promise<StaffUserRow[]> {
    return listUsers(this.db);
  }

  async getOrThrow(id: number): Promise<StaffUserRow> {
    const user = await findUserById(this.db, id);
    if (!user) throw new StaffUserNotFoundError();
    return user;
  }

  async create(
    input: { username: string; role: StaffRole; password: string },
    by: Actor,
  ): Promise<StaffUserRow> {
    const row = await insertUser(this.db, {
      username: input.username,
      role: input.role,
      password_hash: await hashPassword(input.password, this.scrypt),
      created_by: by.actor,
    });
    if (!row) throw new UsernameTakenError();
    await appendAccessEvent(this.db, {
      event: 'user_created',
      outcome: 'ok',
      actor: by.actor,
      clientIp: by.clientIp || null,
      userAgent: by.userAgent || null,
      detail: { username: row.username, role: row.role },
    });
    return row;
  }

  /**
   * The first admin from STAFF_ADMIN_USERNAME / STAFF_ADMIN_PASSWORD: made only while no active
   * admin exists. If the name exists already it becomes an active admin with this password, which
   * is the way back in when every admin was disabled or forgotten.
   */
  async bootstrapAdmin(username: string, password: string): Promise<'created' | 'restored' | 'exists'> {
    if ((await countActiveAdmins(this.db)) > 0) return 'exists';
    const by: Actor = { actor: 'env:STAFF_ADMIN_USERNAME', clientIp: '', userAgent: '' };
    const existing = await findUserByUsername(this.db, username);
    if (!existing) {
      await this.create({ username, role: 'admin', password }, by);
      return 'created';
    }
    await this.db
      .updateTable('staff_users')
      .set({ role: 'admin', disabled_at: null })
      .where('id', '=', existing.id)
      .execute();
    await setUserPassword(this.db, existing.id, await hashPassword(password, this.scrypt));
    await appendAccessEvent(this.db, {
      event: 'user_password_reset',
      outcome: 'ok',
      actor: by.actor,
      detail: { username, role: 'admin', restored: true },
    });
    return 'restored';
  }

  /** Disabling signs the user out everywhere; the last active admin and oneself are refused. */
  async setDisabled(id: number, disabled: boolean, by: StaffActor): Promise<StaffUserRow> {
    const user = await this.getOrThrow(id);
    if (disabled) {
      if (id === by.userId) throw new SelfDisableError();
      if (user.role === 'admin' && (await countActiveAdmins(this.db, id)) === 0) throw new LastAdminError();
    }
    await this.db.transaction().execute(async (trx) => {
      await setUserDisabled(trx, id, disabled);
      if (disabled) await deleteSessionsOfUser(trx, id);
    });
    await appendAccessEvent(this.db, {
      event: disabled ? 'user_disabled' : 'user_enabled',
      outcome: 'ok',
      actor: by.actor,
      clientIp: by.clientIp || null,
      userAgent: by.userAgent || null,
      detail: { username: user.username },
    });
    return this.getOrThrow(id);
  }

  /** A new password signs the user out everywhere and lifts a lockout. */
  async resetPassword(id: number, password: string, by: Actor): Promise<StaffUserRow> {
    const user = await this.getOrThrow(id);
    // Their password is the identity provider's business.
    if (user.oidc_subject !== null) throw new SingleSignOnUserError();
    const hash = await hashPassword(password, this.scrypt);
    await this.db.transaction().execute(async (trx) => {
      await setUserPassword(trx, id, hash);
      await deleteSessionsOfUser(trx, id);
    });
    await appendAccessEvent(this.db, {
      event: 'user_password_reset',
      outcome: 'ok',
      actor: by.actor,
      clientIp: by.clientIp || null,
      userAgent: by.userAgent || null,
      detail: { username: user.username },
    });
    return user;
  }

  async logSignOut(username: string, who: Omit<Actor, 'actor'>): Promise<void> {
    await appendAccessEvent(this.db, {
      event: 'staff_sign_out',
      outcome: 'ok',
      actor: staffActor(username),
      clientIp: who.clientIp,
      userAgent: who.userAgent,
    });
  }

  private async log(
    event: 'staff_sign_in' | 'staff_sign_in_failed',
    outcome: string,
    who: Omit<Actor, 'actor'>,
    user: StaffUserRow | null,
    detail: Record<string, unknown> | null,
  ): Promise<void> {
    await appendAccessEvent(this.db, {
      event,
      outcome,
      actor: user ? staffActor(user.username) : null,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
      detail,
    });
  }
}
