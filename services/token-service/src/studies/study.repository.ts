import type { Db } from '../db/database.js';
import type { NewStudy, StudyRow } from '../db/tables.js';

export function findStudy(db: Db, uid: string): Promise<StudyRow | undefined> {
  return db.selectFrom('studies').selectAll().where('study_instance_uid', '=', uid).executeTakeFirst();
}

/** Keeps the latest copy of what the store said about a study. */
export async function upsertStudy(db: Db, s: NewStudy): Promise<StudyRow> {
  const { study_instance_uid, ...rest } = s;
  return db
    .insertInto('studies')
    .values(s)
    .onConflict((oc) => oc.column('study_instance_uid').doUpdateSet({ ...rest, refreshed_at: new Date() }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function recordExportSize(db: Db, uid: string, bytes: number): Promise<void> {
  await db
    .updateTable('studies')
    .set({ last_export_bytes: bytes })
    .where('study_instance_uid', '=', uid)
    .execute();
}
