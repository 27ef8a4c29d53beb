import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/tables.js';

type Db = Kysely<DB> | Transaction<DB>;

/** Ranged requests of a download counted within this long are the same download: never counted again. */
export const RESUME_WINDOW_MS = 24 * 60 * 60 * 1000;

/** True when this link completed a download of this layout within the resume window. */
export async function isCountedWithinWindow(
  db: Db,
  tokenId: number,
  layoutId: string,
  now: Date,
): Promise<boolean> {
  const row = await db
    .selectFrom('counted_downloads')
    .select('counted_at')
    .where('token_id', '=', tokenId)
    .where('layout_id', '=', layoutId)
    .where('counted_at', '>', new Date(now.getTime() - RESUME_WINDOW_MS))
    .executeTakeFirst();
  return row !== undefined;
}

/** Notes that a download of this layout was counted now (its resumes from here on are free). */
export async function recordCounted(db: Db, tokenId: number, layoutId: string, now: Date): Promise<void> {
  await db
    .insertInto('counted_downloads')
    .values({ token_id: tokenId, layout_id: layoutId, counted_at: now })
    .onConflict((oc) => oc.columns(['token_id', 'layout_id']).doUpdateSet({ counted_at: now }))
    .execute();
}

/** What a download_complete says about the download, as the export service reports it. */
export interface CompletedDownload {
  /** The zip layout it was of; null when it streamed without one. */
  layoutId: string | null;
  /** A 206: a resume, or a part. */
  ranged: boolean;
  /** Its last byte was the file's last byte. */
  completesFile: boolean;
}

/** Reads a download_complete's detail (sent by the export service; anything else reads as a full download). */
export function completedDownloadOf(detail: Record<string, unknown> | null): CompletedDownload {
  const layoutId =
    typeof detail?.layoutId === 'string' && /^[0-9a-f]{64}$/.test(detail.layoutId) ? detail.layoutId : null;
  const ranged = detail?.ranged === true;
  return { layoutId, ranged, completesFile: !ranged || detail?.completesFile === true };
}

/**
 * Whether a completed download counts against maxDownloads: its last byte was the file's last byte,
 * and it is not a ranged resume of a download of the same layout already counted within 24 hours.
 */
export async function countsAgainstLimit(
  db: Db,
  tokenId: number,
  d: CompletedDownload,
  now: Date,
): Promise<boolean> {
  if (!d.completesFile) return false;
  if (d.ranged && d.layoutId && (await isCountedWithinWindow(db, tokenId, d.layoutId, now))) return false;
  return true;
}
