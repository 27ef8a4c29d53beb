import type { Db } from '../db/database.js';
import type { NewToken, TokenRow } from '../db/tables.js';

export function findTokenByHash(db: Db, hash: Buffer): Promise<TokenRow | undefined> {
  return db.selectFrom('tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

/** The study's token that is not revoked (it may have expired; the caller decides). */
export function findActiveTokenForStudy(db: Db, uid: string): Promise<TokenRow | undefined> {
  return db
    .selectFrom('tokens')
    .selectAll()
    .where('study_instance_uid', '=', uid)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Inserts unless the study already has an active token (unique partial index); undefined then. */
export function insertToken(db: Db, t: NewToken): Promise<TokenRow | undefined> {
  return db
    .insertInto('tokens')
    .values(t)
    .onConflict((oc) => oc.column('study_instance_uid').where('revoked_at', 'is', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Revokes the token unless it is revoked already; true when this call revoked it. */
export async function revokeToken(db: Db, id: number, at: Date): Promise<boolean> {
  const r = await db
    .updateTable('tokens')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export function listTokensForReencryption(db: Db, afterId: number, limit: number): Promise<TokenRow[]> {
  return db.selectFrom('tokens').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
}

export async function updateCiphertext(db: Db, id: number, ciphertext: Buffer): Promise<void> {
  await db.updateTable('tokens').set({ token_ciphertext: ciphertext }).where('id', '=', id).execute();
}
