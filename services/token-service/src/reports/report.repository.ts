import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/tables.js';

type Db = Kysely<DB> | Transaction<DB>;

/** What the API tells of a pushed report (its bytes apart). */
export interface ReportFacts {
  studyInstanceUid: string;
  id: string;
  bytes: number;
  sha256: string;
  uploadedAt: Date;
  uploadedBy: string;
}

const FACTS = ['study_instance_uid', 'id', 'bytes', 'sha256', 'uploaded_at', 'uploaded_by'] as const;

function toFacts(r: {
  study_instance_uid: string;
  id: string;
  bytes: number;
  sha256: string;
  uploaded_at: Date;
  uploaded_by: string;
}): ReportFacts {
  return {
    studyInstanceUid: r.study_instance_uid,
    id: r.id,
    bytes: r.bytes,
    sha256: r.sha256,
    uploadedAt: r.uploaded_at,
    uploadedBy: r.uploaded_by,
  };
}

/** Keeps the study's pushed report, replacing an earlier one. */
export async function saveReport(
  db: Db,
  r: { studyInstanceUid: string; id: string; pdf: Buffer; sha256: string; uploadedBy: string },
): Promise<ReportFacts> {
  const values = {
    id: r.id,
    pdf: r.pdf,
    sha256: r.sha256,
    bytes: r.pdf.length,
    uploaded_at: new Date(),
    uploaded_by: r.uploadedBy,
  };
  const row = await db
    .insertInto('study_reports')
    .values({ study_instance_uid: r.studyInstanceUid, ...values })
    .onConflict((oc) => oc.column('study_instance_uid').doUpdateSet(values))
    .returning(FACTS)
    .executeTakeFirstOrThrow();
  return toFacts(row);
}

export async function findReportFacts(db: Db, uid: string): Promise<ReportFacts | null> {
  const row = await db
    .selectFrom('study_reports')
    .select(FACTS)
    .where('study_instance_uid', '=', uid)
    .executeTakeFirst();
  return row ? toFacts(row) : null;
}

export async function findReportPdf(db: Db, uid: string): Promise<Buffer | null> {
  const row = await db
    .selectFrom('study_reports')
    .select('pdf')
    .where('study_instance_uid', '=', uid)
    .executeTakeFirst();
  return row?.pdf ?? null;
}

export async function findReportPdfById(db: Db, id: string): Promise<Buffer | null> {
  const row = await db.selectFrom('study_reports').select('pdf').where('id', '=', id).executeTakeFirst();
  return row?.pdf ?? null;
}

/** Deletes the study's pushed report; its facts, or null when there was none. */
export async function deleteReport(db: Db, uid: string): Promise<ReportFacts | null> {
  const row = await db
    .deleteFrom('study_reports')
    .where('study_instance_uid', '=', uid)
    .returning(FACTS)
    .executeTakeFirst();
  return row ? toFacts(row) : null;
}
