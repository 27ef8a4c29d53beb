import { sql } from 'kysely';
import type { Db } from '../db/database.js';

export interface TokenStatus {
  studyInstanceUid: string;
  createdAt: Date;
  expiresAt: Date | null;
}

/** The not-revoked tokens of a page of studies, in one query. */
export async function activeTokensForStudies(
  db: Db,
  uids: readonly string[],
): Promise<Map<string, TokenStatus>> {
  if (uids.length === 0) return new Map();
  const rows = await db
    .selectFrom('tokens')
    .select(['study_instance_uid', 'created_at', 'expires_at'])
    .where('study_instance_uid', 'in', [...uids])
    .where('revoked_at', 'is', null)
    .execute();
  return new Map(
    rows.map((r) => [
      r.study_instance_uid,
      { studyInstanceUid: r.study_instance_uid, createdAt: r.created_at, expiresAt: r.expires_at },
    ]),
  );
}

/**
 * Sets the expiry of the study's active token; an expired token stays expired (its id is not
 * returned), so a dead link cannot be brought back.
 */
export async function updateActiveTokenExpiry(
  db: Db,
  uid: string,
  expiresAt: Date | null,
): Promise<{ id: number; previous: Date | null } | undefined> {
  const current = await db
    .selectFrom('tokens')
    .select(['id', 'expires_at'])
    .where('study_instance_uid', '=', uid)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .forUpdate()
    .executeTakeFirst();
  if (!current) return undefined;
  await db.updateTable('tokens').set({ expires_at: expiresAt }).where('id', '=', current.id).execute();
  return { id: current.id, previous: current.expires_at };
}
