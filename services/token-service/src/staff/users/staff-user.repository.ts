import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { StaffRole, StaffUserRow } from '../../db/tables.js';

export function findUserByUsername(db: Db, username: string): Promise<StaffUserRow | undefined> {
  return db.selectFrom('staff_users').selectAll().where('username', '=', username).executeTakeFirst();
}

export function findUserById(db: Db, id: number): Promise<StaffUserRow | undefined> {
  return db.selectFrom('staff_users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listUsers(db: Db): Promise<StaffUserRow[]> {
  return db.selectFrom('staff_users').selectAll().orderBy('username').execute();
}

/** Inserts unless the name is taken; undefined then. */
export function insertUser(
  db: Db,
  u: { username: string; role: StaffRole; password_hash: string; created_by: string },
): Promise<StaffUserRow | undefined> {
  return db
    .insertInto('staff_users')
    .values(u)
    .onConflict((oc) => oc.column('username').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function countActiveAdmins(db: Db, exceptId?: number): Promise<number> {
  let q = db
    .selectFrom('staff_users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('role', '=', 'admin')
    .where('disabled_at', 'is', null);
  if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
  const row = await q.executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Counts an attempt before the password is checked, so a burst of parallel guesses cannot get
 * past the limit. Returns the attempt's number, or null while the account is locked.
 */
export async function reserveSignInAttempt(db: Db, id: number): Promise<number | null> {
  const row = await db
    .updateTable('staff_users')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', sql<Date>`now()`)]))
    .returning('failed_attempts')
    .executeTakeFirst();
  return row ? row.failed_attempts : null;
}

export async function recordSignInSuccess(db: Db, id: number): Promise<void> {
  await db
    .updateTable('staff_users')
    .set({ failed_attempts: 0, locked_until: null, last_sign_in_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

/** Locks the account for `minutes` and starts counting afresh for the time after the lock. */
export async function lockUser(db: Db, id: number, minutes: number): Promise<void> {
  await db
    .updateTable('staff_users')
    .set({
      failed_attempts: 0,
      locked_until: sql<Date>`now() + make_interval(mins => ${minutes})`,
    })
    .where('id', '=', id)
    .execute();
}

export async function setUserDisabled(db: Db, id: number, disabled: boolean): Promise<boolean> {
  const r = await db
    .updateTable('staff_users')
    .set({ disabled_at: disabled ? sql<Date>`now()` : null })
    .where('id', '=', id)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** A new password also lifts a lockout. */
export async function setUserPassword(db: Db, id: number, passwordHash: string): Promise<boolean> {
  const r = await db
    .updateTable('staff_users')
    .set({
      password_hash: passwordHash,
      password_changed_at: sql<Date>`now()`,
      failed_attempts: 0,
      locked_until: null,
    })
    .where('id', '=', id)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}
