import type { Kysely, Transaction } from 'kysely';
import type { DB, ZipLayoutReadme } from '../db/tables.js';

type Db = Kysely<DB> | Transaction<DB>;

/** The id of the study's layout for this zip content, and what the patient page needs of it. */
export async function findZipLayoutSummary(db: Db, uid: string, zipContent: 'as-stored' | 'jpeg-lossless') {
  return db
    .selectFrom('zip_layouts')
    .select(['id', 'base_length', 'readme'])
    .where('study_instance_uid', '=', uid)
    .where('zip_content', '=', zipContent)
    .executeTakeFirst();
}

/** A layout's JSON, as stored. */
export async function findZipLayoutBody(db: Db, id: string): Promise<string | null> {
  const row = await db.selectFrom('zip_layouts').select('body').where('id', '=', id).executeTakeFirst();
  return row?.body ?? null;
}

/** Keeps a layout as the study's for its zip content (replacing an older one). */
export async function saveZipLayout(
  db: Db,
  row: {
    studyInstanceUid: string;
    zipContent: 'as-stored' | 'jpeg-lossless';
    id: string;
    body: string;
    baseLength: number;
    readme: ZipLayoutReadme;
  },
): Promise<void> {
  const values = {
    id: row.id,
    body: row.body,
    base_length: row.baseLength,
    readme: JSON.stringify(row.readme),
    made_at: new Date(),
  };
  await db
    .insertInto('zip_layouts')
    .values({ study_instance_uid: row.studyInstanceUid, zip_content: row.zipContent, ...values })
    .onConflict((oc) => oc.columns(['study_instance_uid', 'zip_content']).doUpdateSet(values))
    .execute();
}

/** Forgets a layout found stale; returns its study, or null if it was already gone. */
export async function deleteZipLayout(db: Db, id: string): Promise<string | null> {
  const row = await db
    .deleteFrom('zip_layouts')
    .where('id', '=', id)
    .returning('study_instance_uid')
    .executeTakeFirst();
  return row?.study_instance_uid ?? null;
}
