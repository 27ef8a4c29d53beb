import type { Db } from '../db/database.js';
import type { NewStudy, StudyRow } from '../db/tables.js';

export function findStudy(db: Db, uid: string): Promise<StudyRow | undefined> {
  return db.selectFrom('studies').selectAll().where('study_instance_uid', '=', uid).executeTakeFirst();
}

export function findStudies(db: Db, uids: readonly string[]): Promise<StudyRow[]> {
  if (uids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('studies')
    .selectAll()
    .where('study_instance_uid', 'in', [...uids])
    .execute();
}

/** Keeps the latest copy of what the store said about a study; a successful refresh clears a failure. */
export async function upsertStudy(db: Db, s: NewStudy): Promise<StudyRow> {
  const { study_instance_uid, ...rest } = s;
  return db
    .insertInto('studies')
    .values(s)
    .onConflict((oc) =>
      oc.column('study_instance_uid').doUpdateSet({
        ...rest,
        refreshed_at: new Date(),
        refresh_failed_at: null,
        refresh_error: null,
      }),
    )
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

/**
 * Claims the refresh of a study's copy: succeeds (with the copy) only when neither a refresh nor a
 * claim happened within `intervalMs`, so across replicas one refresh per study and interval is tried.
 */
export async function claimStudyRefresh(
  db: Db,
  uid: string,
  intervalMs: number,
): Promise<StudyRow | undefined> {
  const since = new Date(Date.now() - intervalMs);
  return db
    .updateTable('studies')
    .set({ refresh_attempted_at: new Date() })
    .where('study_instance_uid', '=', uid)
    .where('refreshed_at', '<=', since)
    .where((eb) => eb.or([eb('refresh_attempted_at', 'is', null), eb('refresh_attempted_at', '<=', since)]))
    .returningAll()
    .executeTakeFirst();
}

/** Remembers a failed refresh on the copy (the copy itself is kept as it was). */
export async function recordRefreshFailure(db: Db, uid: string, error: string): Promise<void> {
  await db
    .updateTable('studies')
    .set({ refresh_failed_at: new Date(), refresh_error: error.slice(0, 500) })
    .where('study_instance_uid', '=', uid)
    .execute();
}
