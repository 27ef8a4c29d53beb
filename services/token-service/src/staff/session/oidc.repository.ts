import type { Db } from '../../db/database.js';
import type { StaffRole, StaffUserRow } from '../../db/tables.js';

export interface OidcLoginRow {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  next: string;
  expiresAt: Date;
}

export async function insertOidcLogin(db: Db, idHash: Buffer, l: OidcLoginRow): Promise<void> {
  await db
    .insertInto('staff_oidc_logins')
    .values({
      id_hash: idHash,
      state: l.state,
      nonce: l.nonce,
      code_verifier: l.codeVerifier,
      redirect_uri: l.redirectUri,
      next: l.next,
      expires_at: l.expiresAt,
    })
    .execute();
}

/**
 * Marks a sign-in used and returns it; only the first of two concurrent callbacks gets it.
 * `used`: the row exists but was used before (a replayed callback); undefined: no such row.
 */
export async function takeOidcLogin(
  db: Db,
  idHash: Buffer,
  now: Date,
): Promise<{ login: OidcLoginRow } | { used: true } | undefined> {
  const row = await db
    .updateTable('staff_oidc_logins')
    .set({ used_at: now })
    .where('id_hash', '=', idHash)
    .where('used_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (row)
    return {
      login: {
        state: row.state,
        nonce: row.nonce,
        codeVerifier: row.code_verifier,
        redirectUri: row.redirect_uri,
        next: row.next,
        expiresAt: row.expires_at,
      },
    };
  const used = await db
    .selectFrom('staff_oidc_logins')
    .select('id_hash')
    .where('id_hash', '=', idHash)
    .executeTakeFirst();
  return used ? { used: true } : undefined;
}

/** Drops sign-ins that ended a while ago (kept that long so a replay is told apart from a stranger). */
export async function deleteOldOidcLogins(db: Db, before: Date): Promise<void> {
  await db.deleteFrom('staff_oidc_logins').where('expires_at', '<', before).execute();
}

export function findUserByOidc(db: Db, issuer: string, subject: string): Promise<StaffUserRow | undefined> {
  return db
    .selectFrom('staff_users')
    .selectAll()
    .where('oidc_issuer', '=', issuer)
    .where('oidc_subject', '=', subject)
    .executeTakeFirst();
}

export function usernameTaken(db: Db, username: string, exceptId?: number): Promise<boolean> {
  let q = db.selectFrom('staff_users').select('id').where('username', '=', username);
  if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
  return q.executeTakeFirst().then((r) => r !== undefined);
}

/** A user from the provider; undefined when the name (or the link, in a race) is taken. */
export function insertOidcUser(
  db: Db,
  u: { username: string; role: StaffRole; issuer: string; subject: string; now: Date },
): Promise<StaffUserRow | undefined> {
  return db
    .insertInto('staff_users')
    .values({
      username: u.username,
      role: u.role,
      password_hash: null,
      created_by: 'oidc',
      oidc_issuer: u.issuer,
      oidc_subject: u.subject,
      last_sign_in_at: u.now,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** At every sign-in: the role from the group claim, the name if the provider changed it. */
export function updateOidcUser(
  db: Db,
  id: number,
  u: { username: string; role: StaffRole; now: Date },
): Promise<StaffUserRow | undefined> {
  return db
    .updateTable('staff_users')
    .set({ username: u.username, role: u.role, last_sign_in_at: u.now })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}
