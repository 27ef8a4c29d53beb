import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB, StaffRole } from '../../db/tables.js';
import {
  deleteSession,
  deleteSessionsOfUser,
  deleteStaleSessions,
  findSession,
  insertSession,
  touchSession,
} from './staff-session.repository.js';

export interface SessionPolicy {
  /** A session ends this long after sign-in, however active. */
  absoluteMs: number;
  /** ...or this long after its last request. */
  idleMs: number;
}

/** A signed-in staff user, as the routes see them. */
export interface StaffSession {
  userId: number;
  username: string;
  role: StaffRole;
  csrfToken: string;
  expiresAt: Date;
  /** Signed in through the identity provider: sign-out goes on to its end-session endpoint. */
  singleSignOn: boolean;
}

export type ResumeResult = { status: 'ok'; session: StaffSession } | { status: 'expired' | 'none' };

// 32 random bytes as base64url: 43 characters.
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
// Refresh last_seen_at at most this often: one write per minute, not one per request.
const TOUCH_EVERY_MS = 60_000;

function hashId(id: string): Buffer {
  return createHash('sha256').update(id, 'utf8').digest();
}

/** Sessions in PostgreSQL; the cookie carries a random id, the table only its SHA-256. */
export class StaffSessionService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly policy: SessionPolicy,
    /** False (STAFF_LOCAL_SIGN_IN=false): sessions of local-password users end at their next request. */
    private readonly localSignIn = true,
  ) {}

  /** A new session (a new id on every sign-in, so an id planted before sign-in is worthless). */
  async start(
    userId: number,
    who: { clientIp: string; userAgent: string },
  ): Promise<{ id: string; csrfToken: string }> {
    await deleteStaleSessions(this.db, this.policy.idleMs);
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    await insertSession(this.db, {
      idHash: hashId(id),
      userId,
      csrfToken,
      expiresAt: new Date(Date.now() + this.policy.absoluteMs),
      clientIp: who.clientIp,
      userAgent: who.userAgent,
    });
    return { id, csrfToken };
  }

  /** The session behind a cookie value; expired, idle and disabled-user sessions are ended. */
  async resume(id: string | undefined): Promise<ResumeResult> {
    if (!id || !SESSION_ID.test(id)) return { status: 'none' };
    const idHash = hashId(id);
    const s = await findSession(this.db, idHash);
    if (!s) return { status: 'none' };
    const now = Date.now();
    const refused = s.disabledAt !== null || (!this.localSignIn && !s.singleSignOn);
    if (refused || s.expiresAt.getTime() <= now || now - s.lastSeenAt.getTime() > this.policy.idleMs) {
      await deleteSession(this.db, idHash);
      return { status: refused ? 'none' : 'expired' };
    }
    if (now - s.lastSeenAt.getTime() > TOUCH_EVERY_MS) await touchSession(this.db, idHash);
    return {
      status: 'ok',
      session: {
        userId: s.userId,
        username: s.username,
        role: s.role,
        csrfToken: s.csrfToken,
        expiresAt: s.expiresAt,
        singleSignOn: s.singleSignOn,
      },
    };
  }

  async end(id: string | undefined): Promise<void> {
    if (id && SESSION_ID.test(id)) await deleteSession(this.db, hashId(id));
  }

  async endAllFor(userId: number): Promise<void> {
    await deleteSessionsOfUser(this.db, userId);
  }
}
