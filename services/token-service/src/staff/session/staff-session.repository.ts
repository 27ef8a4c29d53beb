import { redactTokens } from '@studylink/service-kit';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { StaffRole } from '../../db/tables.js';

export interface SessionWithUser {
  idHash: Buffer;
  userId: number;
  csrfToken: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  username: string;
  role: StaffRole;
  disabledAt: Date | null;
  /** The user signs in through the identity provider (and has no local password). */
  singleSignOn: boolean;
}

export async function insertSession(
  db: Db,
  s: {
    idHash: Buffer;
    userId: number;
    csrfToken: string;
    expiresAt: Date;
    clientIp: string;
    userAgent: string;
  },
): Promise<void> {
  await db
    .insertInto('staff_sessions')
    .values({
      id_hash: s.idHash,
      user_id: s.userId,
      csrf_token: s.csrfToken,
      expires_at: s.expiresAt,
      client_ip: s.clientIp,
      user_agent: redactTokens(s.userAgent.slice(0, 512)),
    })
    .execute();
}

export async function findSession(db: Db, idHash: Buffer): Promise<SessionWithUser | undefined> {
  const row = await db
    .selectFrom('staff_sessions as s')
    .innerJoin('staff_users as u', 'u.id', 's.user_id')
    .select([
      's.id_hash',
      's.user_id',
      's.csrf_token',
      's.created_at',
      's.last_seen_at',
      's.expires_at',
      'u.username',
      'u.role',
      'u.disabled_at',
      'u.oidc_subject',
    ])
    .where('s.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    csrfToken: row.csrf_token,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    username: row.username,
    role: row.role,
    disabledAt: row.disabled_at,
    singleSignOn: row.oidc_subject !== null,
  };
}

export async function touchSession(db: Db, idHash: Buffer): Promise<void> {
  await db
    .updateTable('staff_sessions')
    .set({ last_seen_at: sql<Date>`now()` })
    .where('id_hash', '=', idHash)
    .execute();
}

export async function deleteSession(db: Db, idHash: Buffer): Promise<void> {
  await db.deleteFrom('staff_sessions').where('id_hash', '=', idHash).execute();
}

export async function deleteSessionsOfUser(db: Db, userId: number): Promise<void> {
  await db.deleteFrom('staff_sessions').where('user_id', '=', userId).execute();
}

/** Drops sessions past their expiry or idle limit; run now and then, not on every request. */
export async function deleteStaleSessions(db: Db, idleMs: number): Promise<void> {
  await db
    .deleteFrom('staff_sessions')
    .where((eb) =>
      eb.or([
        eb('expires_at', '<=', sql<Date>`now()`),
        eb('last_seen_at', '<=', sql<Date>`now() - make_interval(secs => ${idleMs / 1000})`),
      ]),
    )
    .execute();
}
