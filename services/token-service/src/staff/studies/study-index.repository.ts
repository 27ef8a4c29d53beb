import { type ExpressionBuilder, sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { DB, StudyIndexRow } from '../../db/tables.js';
import { nameSearchPatterns, nameSortKey, nameWords } from './name-fold.js';
import type { KnownText, StudySummary } from './study-search.source.js';

/** What the studies page filters by, as the index holds it (dates as DICOM DA). */
export interface IndexFilter {
  /** As typed: words in any script, `*` and `?` as wildcards. */
  patientName?: string;
  patientId?: string;
  accessionNumber?: string;
  studyDateFrom?: string;
  studyDateTo?: string;
  patientBirthDate?: string;
  modality?: string;
}

/** The existing value when the new row's text was not checked against a file and the old one was. */
const keepChecked = (column: 'patient_name' | 'patient_id' | 'description' | 'name_sort' | 'text_source') =>
  sql<never>`CASE WHEN excluded.qido_text_digest IS NULL AND study_index.qido_text_digest IS NOT NULL
    THEN study_index.${sql.ref(column)} ELSE excluded.${sql.ref(column)} END`;

/** Keeps what the store said about these studies (names as checked against a file), seen now. */
export async function upsertIndexRows(db: Db, rows: readonly StudySummary[], seenAt: Date): Promise<void> {
  const unique = [...new Map(rows.map((r) => [r.studyInstanceUid, r])).values()];
  if (unique.length === 0) return;
  await db.transaction().execute(async (trx) => {
    const kept = await trx
      .insertInto('study_index')
      .values(
        unique.map((r) => ({
          study_instance_uid: r.studyInstanceUid,
          patient_name: r.patientName,
          patient_id: r.patientId,
          patient_birth_date: r.patientBirthDate,
          accession_number: r.accessionNumber,
          study_date: r.studyDate,
          study_time: r.studyTime,
          description: r.description,
          modalities: r.modalities,
          series_count: r.seriesCount,
          instance_count: r.instanceCount,
          name_sort: nameSortKey(r.patientName),
          text_source: r.textSource ?? 'qido',
          qido_text_digest: r.qidoTextDigest ?? null,
          seen_at: seenAt,
        })),
      )
      .onConflict((oc) =>
        oc.column('study_instance_uid').doUpdateSet((eb) => ({
          // Names not checked against a file (digest null) never replace names that were.
          patient_name: keepChecked('patient_name'),
          patient_id: keepChecked('patient_id'),
          patient_birth_date: eb.ref('excluded.patient_birth_date'),
          accession_number: eb.ref('excluded.accession_number'),
          study_date: eb.ref('excluded.study_date'),
          study_time: eb.ref('excluded.study_time'),
          description: keepChecked('description'),
          modalities: eb.ref('excluded.modalities'),
          series_count: eb.ref('excluded.series_count'),
          instance_count: eb.ref('excluded.instance_count'),
          name_sort: keepChecked('name_sort'),
          text_source: keepChecked('text_source'),
          qido_text_digest: sql<
            string | null
          >`coalesce(excluded.qido_text_digest, study_index.qido_text_digest)`,
          seen_at: eb.ref('excluded.seen_at'),
        })),
      )
      .returning(['study_instance_uid', 'patient_name'])
      .execute();
    const uids = unique.map((r) => r.studyInstanceUid);
    await trx.deleteFrom('study_index_words').where('study_instance_uid', 'in', uids).execute();
    const words = kept.flatMap((r) =>
      nameWords(r.patient_name).map((word) => ({ word, study_instance_uid: r.study_instance_uid })),
    );
    if (words.length > 0)
      await trx
        .insertInto('study_index_words')
        .values(words)
        .onConflict((oc) => oc.doNothing())
        .execute();
  });
}

/** The text the index has checked for these studies, so a search reads no file for them again. */
export async function indexedText(db: Db, uids: readonly string[]): Promise<Map<string, KnownText>> {
  if (uids.length === 0) return new Map();
  const rows = await db
    .selectFrom('study_index')
    .select([
      'study_instance_uid',
      'qido_text_digest',
      'text_source',
      'patient_name',
      'patient_id',
      'description',
    ])
    .where('study_instance_uid', 'in', [...uids])
    .execute();
  return new Map(rows.map((r) => [r.study_instance_uid, r]));
}

/** A study of the index with a name word matching the LIKE pattern. */
const wordMatches =
  (pattern: string) =>
  ({ exists, selectFrom }: ExpressionBuilder<DB, 'study_index'>) =>
    exists(
      selectFrom('study_index_words as w')
        .select(sql.lit(1).as('one'))
        .whereRef('w.study_instance_uid', '=', 'study_index.study_instance_uid')
        .where('w.word', 'like', pattern),
    );

/** DICOM wildcards (`*`, `?`) in an ID as a LIKE pattern; undefined when there are none. */
function likeOf(value: string): string | undefined {
  if (!/[*?]/.test(value)) return undefined;
  return value
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}

/** One page of the index: newest study date first, then name; `limit` rows from `offset`. */
export async function searchIndex(
  db: Db,
  f: IndexFilter,
  limit: number,
  offset: number,
): Promise<StudyIndexRow[]> {
  let q = db.selectFrom('study_index').selectAll();
  for (const pattern of f.patientName ? nameSearchPatterns(f.patientName) : []) {
    q = q.where(wordMatches(pattern));
  }
  for (const [column, value] of [
    ['patient_id', f.patientId],
    ['accession_number', f.accessionNumber],
  ] as const) {
    if (!value) continue;
    const like = likeOf(value);
    q = like
      ? q.where(column, 'ilike', like)
      : q.where(sql`lower(${sql.ref(column)})`, '=', value.toLowerCase());
  }
  if (f.studyDateFrom) q = q.where('study_date', '>=', f.studyDateFrom);
  if (f.studyDateTo) q = q.where('study_date', '<=', f.studyDateTo).where('study_date', '<>', '');
  if (f.patientBirthDate) q = q.where('patient_birth_date', '=', f.patientBirthDate);
  if (f.modality) q = q.where(sql<boolean>`${f.modality} = ANY(modalities)`);
  return q
    .orderBy('study_date', 'desc')
    .orderBy('name_sort')
    .orderBy('study_time', 'desc')
    .orderBy('study_instance_uid')
    .limit(limit)
    .offset(offset)
    .execute();
}

/** Removes the studies a complete walk of the store did not see (deleted from the store). */
export async function pruneIndex(db: Db, seenBefore: Date): Promise<number> {
  const r = await db.deleteFrom('study_index').where('seen_at', '<', seenBefore).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * The studies whose patient name matches what staff typed, as the search matches it (the index's
 * folded words), and study copies whose name holds each typed word as it is; at most `limit`.
 */
export async function studiesMatchingName(db: Db, typed: string, limit: number): Promise<string[]> {
  const patterns = nameSearchPatterns(typed);
  if (patterns.length === 0) return [];
  let q = db.selectFrom('study_index').select('study_instance_uid');
  for (const pattern of patterns) {
    q = q.where(wordMatches(pattern));
  }
  let copies = db.selectFrom('studies').select('study_instance_uid');
  for (const word of typed.split(/[\s,^*?]+/).filter(Boolean))
    copies = copies.where('patient_name', 'ilike', `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const [indexed, copied] = await Promise.all([q.limit(limit).execute(), copies.limit(limit).execute()]);
  return [...new Set([...indexed, ...copied].map((r) => r.study_instance_uid))].slice(0, limit);
}
