import { randomUUID } from 'node:crypto';
import type { PushedReport } from '@studylink/contracts';
import { type Kysely, sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { DB, NewToken, StudyRow, TokenRow, ZipLayoutReadme } from '../db/tables.js';

export function findTokenByHash(db: Db, hash: Buffer): Promise<TokenRow | undefined> {
  return db.selectFrom('tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

/** What a page and a download need of the study's zip layout (zip_layouts, migrations/0011). */
export interface ZipLayoutSummary {
  id: string;
  base_length: number;
  readme: ZipLayoutReadme;
}

/**
 * A link by its token's hash, with its study's stored copy and, given the zip content, its zip
 * layout's summary, in one statement (the link gate's one lookup per request). The copy travels as
 * JSON: its timestamp columns (named `*_at`, as every one of the schema's is) come back as Dates.
 */
export async function findLinkWithStudyByHash(
  db: Db,
  hash: Buffer,
  zipContent: 'as-stored' | 'jpeg-lossless' | null = null,
): Promise<
  | {
      row: TokenRow;
      study: StudyRow | undefined;
      zipLayout: ZipLayoutSummary | null;
      /** A child link's parent (its state ends the child); null for a study's own link. */
      parent: { revokedAt: Date | null; expiresAt: Date | null } | null;
      /** Child links ever made from this link. */
      childCount: number;
      /** The study's RIS-pushed report (migrations/0014), whoever may see it; null when none. */
      pushedReport: PushedReport | null;
    }
  | undefined
> {
  const found = await db
    .selectFrom('tokens')
    .leftJoin('studies', 'studies.study_instance_uid', 'tokens.study_instance_uid')
    .leftJoin('tokens as parent', 'parent.id', 'tokens.parent_id')
    .selectAll('tokens')
    .select(sql<Record<string, unknown> | null>`to_jsonb(studies.*)`.as('study_copy'))
    .select(['parent.revoked_at as parent_revoked_at', 'parent.expires_at as parent_expires_at'])
    // Child links made from this one (share onward): the page lists them only when there are any.
    .select(sql<number>`(SELECT count(*)::int FROM tokens c WHERE c.parent_id = tokens.id)`.as('child_count'))
    .select(
      sql<PushedReport | null>`(SELECT jsonb_build_object('id', r.id, 'bytes', r.bytes, 'sha256', r.sha256)
        FROM study_reports r WHERE r.study_instance_uid = tokens.study_instance_uid)`.as('pushed_report'),
    )
    .select(
      zipContent === null
        ? sql<ZipLayoutSummary | null>`NULL::jsonb`.as('zip_layout')
        : sql<ZipLayoutSummary | null>`(SELECT jsonb_build_object('id', z.id, 'base_length', z.base_length, 'readme', z.readme)
             FROM zip_layouts z WHERE z.study_instance_uid = tokens.study_instance_uid AND z.zip_content = ${zipContent}
               AND z.readme ? 'held')`.as('zip_layout'),
    )
    .where('tokens.token_hash', '=', hash)
    .executeTakeFirst();
  if (!found) return undefined;
  const { study_copy, zip_layout, parent_revoked_at, parent_expires_at, child_count, pushed_report, ...row } =
    found;
  return {
    row: row as TokenRow,
    study: study_copy ? reviveStudy(study_copy) : undefined,
    zipLayout: zip_layout ?? null,
    parent:
      row.parent_id === null
        ? null
        : { revokedAt: parent_revoked_at ?? null, expiresAt: parent_expires_at ?? null },
    childCount: Number(child_count),
    pushedReport: pushed_report ?? null,
  };
}

function reviveStudy(json: Record<string, unknown>): StudyRow {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json))
    out[k] = k.endsWith('_at') && typeof v === 'string' ? new Date(v) : v;
  return out as unknown as StudyRow;
}

/** The study's token that is not revoked (it may have expired; the caller decides). */
export function findActiveTokenForStudy(db: Db, uid: string): Promise<TokenRow | undefined> {
  return db
    .selectFrom('tokens')
    .selectAll()
    .where('study_instance_uid', '=', uid)
    .where('revoked_at', 'is', null)
    .where('parent_id', 'is', null)
    .executeTakeFirst();
}

/** Inserts unless the study already has an active token (unique partial index); undefined then. */
export function insertToken(db: Db, t: NewToken): Promise<TokenRow | undefined> {
  return db
    .insertInto('tokens')
    .values(t)
    .onConflict((oc) =>
      oc
        .column('study_instance_uid')
        .where('revoked_at', 'is', null)
        .where('parent_id', 'is', null)
        .doNothing(),
    )
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

/** New ciphertexts of a token (and of its PIN, for PIN links) after a key rotation. */
export async function updateCiphertext(
  db: Db,
  id: number,
  ciphertext: Buffer,
  pinCiphertext?: Buffer | null,
): Promise<void> {
  await db
    .updateTable('tokens')
    .set({ token_ciphertext: ciphertext, ...(pinCiphertext ? { pin_ciphertext: pinCiphertext } : {}) })
    .where('id', '=', id)
    .execute();
}

/** Wrong answers before a short lock, its length, and the total before a lock only staff lift. */
export const LOCKOUT = { streak: 5, minutes: 15, total: 20 } as const;

export interface LockState {
  locked_until: Date | null;
  locked_at: Date | null;
}

/**
 * Counts a wrong birth date or PIN, unless the link is locked; locks it for LOCKOUT.minutes at the
 * LOCKOUT.streak-th wrong answer in a row and for good at the LOCKOUT.total-th since the last
 * unlock. One statement, so concurrent guesses are counted one by one. undefined: it was locked.
 */
export async function recordWrongAnswer(db: Db, id: number): Promise<LockState | undefined> {
  return db
    .updateTable('tokens')
    .set({
      failed_total: sql`failed_total + 1`,
      failed_streak: sql`CASE WHEN failed_streak + 1 >= ${LOCKOUT.streak}::int THEN 0 ELSE failed_streak + 1 END`,
      locked_until: sql`CASE WHEN failed_streak + 1 >= ${LOCKOUT.streak}::int
        THEN now() + make_interval(mins => ${LOCKOUT.minutes}::int) ELSE locked_until END`,
      locked_at: sql`CASE WHEN failed_total + 1 >= ${LOCKOUT.total}::int THEN now() ELSE locked_at END`,
    })
    .where('id', '=', id)
    .where('locked_at', 'is', null)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', sql<Date>`now()`)]))
    .returning(['locked_until', 'locked_at'])
    .executeTakeFirst();
}

/** A right answer ends the streak of wrong ones, unless the link is locked (undefined then). */
export async function recordRightAnswer(db: Db, id: number): Promise<{ id: number } | undefined> {
  return db
    .updateTable('tokens')
    .set({ failed_streak: 0 })
    .where('id', '=', id)
    .where('locked_at', 'is', null)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', sql<Date>`now()`)]))
    .returning('id')
    .executeTakeFirst();
}

/** Staff lift a lock: both counters start again. */
export async function unlockToken(db: Db, id: number): Promise<void> {
  await db
    .updateTable('tokens')
    .set({ failed_streak: 0, failed_total: 0, locked_until: null, locked_at: null })
    .where('id', '=', id)
    .execute();
}

/** A completed download counts against the link's maxDownloads. */
export async function countDownload(db: Db, id: number): Promise<void> {
  await db
    .updateTable('tokens')
    .set({ downloads_used: sql`downloads_used + 1` })
    .where('id', '=', id)
    .execute();
}

/**
 * True unless an earlier download_complete of this link named the same download (the export
 * service's request id): a retried report must not use up a second download. Call after the
 * event is appended. Without an id (an older export service) every report counts.
 */
export async function isFirstReport(db: Db, tokenId: number, downloadId: string | null): Promise<boolean> {
  if (downloadId === null) return true;
  const row = await db
    .selectFrom('access_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('token_id', '=', tokenId)
    .where('event', '=', 'download_complete')
    .where(sql<string>`detail->>'downloadId'`, '=', downloadId)
    .executeTakeFirstOrThrow();
  return Number(row.n) <= 1;
}

/** How long a granted download may take to start streaming, and then to finish. */
export const LEASE = { startMinutes: 2, runMinutes: 6 * 60 } as const;

/**
 * Reserves one of a limited link's downloads: completed ones plus those granted and not over stay
 * within maxDownloads, however many start at once (the link's row is locked meanwhile). The lease's
 * id names the download in its access events; null when the allowance is used up.
 */
export async function reserveDownload(db: Kysely<DB>, tokenId: number): Promise<string | null> {
  return db.transaction().execute(async (trx) => {
    const link = await trx
      .selectFrom('tokens')
      .select(['max_downloads', 'downloads_used'])
      .where('id', '=', tokenId)
      .forUpdate()
      .executeTakeFirst();
    if (!link || link.max_downloads === null) return null;
    await trx
      .deleteFrom('download_leases')
      .where('token_id', '=', tokenId)
      .where('expires_at', '<=', sql<Date>`now()`)
      .execute();
    const { n } = await trx
      .selectFrom('download_leases')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('token_id', '=', tokenId)
      .executeTakeFirstOrThrow();
    if (link.downloads_used + Number(n) >= link.max_downloads) return null;
    const id = randomUUID();
    await trx
      .insertInto('download_leases')
      .values({
        id,
        token_id: tokenId,
        expires_at: sql<Date>`now() + make_interval(mins => ${LEASE.startMinutes}::int)`,
      })
      .execute();
    return id;
  });
}

/** The download began streaming: its lease now lasts as long as a download may. */
export async function extendLease(db: Db, id: string): Promise<void> {
  await db
    .updateTable('download_leases')
    .set({ expires_at: sql<Date>`now() + make_interval(mins => ${LEASE.runMinutes}::int)` })
    .where('id', '=', id)
    .execute();
}

/** The download is over (complete or stopped): its reservation ends. */
export async function endLease(db: Db, id: string): Promise<void> {
  await db.deleteFrom('download_leases').where('id', '=', id).execute();
}

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
    .where('parent_id', 'is', null)
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
    .where('parent_id', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .forUpdate()
    .executeTakeFirst();
  if (!current) return undefined;
  await db.updateTable('tokens').set({ expires_at: expiresAt }).where('id', '=', current.id).execute();
  return { id: current.id, previous: current.expires_at };
}
