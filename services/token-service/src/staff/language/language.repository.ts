import type { Db } from '../../db/database.js';

/** The staff pages' language kept with the account; null: the browser's. */
export async function findUserLanguage(db: Db, userId: number): Promise<string | null> {
  const row = await db
    .selectFrom('staff_users')
    .select('language')
    .where('id', '=', userId)
    .executeTakeFirst();
  return row?.language ?? null;
}

export async function setUserLanguage(db: Db, userId: number, language: string | null): Promise<void> {
  await db.updateTable('staff_users').set({ language }).where('id', '=', userId).execute();
}
