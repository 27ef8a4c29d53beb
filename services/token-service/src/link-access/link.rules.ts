import type { TokenRow, Verification } from '../db/tables.js';
import type { CookieSubject } from '../tokens/verification.cookie.js';

/** A link as its rules see it: the token's row without its secrets. */
export interface LinkRecord extends CookieSubject {
  tokenId: number;
  studyInstanceUid: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  verification: Verification;
  allowDownload: boolean;
  maxDownloads: number | null;
  downloadsUsed: number;
  lockedUntil: Date | null;
  lockedAt: Date | null;
  /** A child link (shared onward by the patient): its parent's id; null for a study's own link. */
  parentId: number | null;
  /** Whether the link shows the study's reports; null follows the setup's reportsOnPage. */
  includeReport: boolean | null;
}

export function toLinkRecord(row: TokenRow): LinkRecord {
  return {
    tokenId: row.id,
    tokenHash: row.token_hash,
    studyInstanceUid: row.study_instance_uid,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    verification: row.verification,
    allowDownload: row.allow_download,
    maxDownloads: row.max_downloads,
    downloadsUsed: row.downloads_used,
    lockedUntil: row.locked_until,
    lockedAt: row.locked_at,
    parentId: row.parent_id,
    includeReport: row.include_report ?? null,
  };
}

/** Revoked, or past its expiry: the link answers like an unknown one. */
export function isGone(link: Pick<LinkRecord, 'revokedAt' | 'expiresAt'>, nowMs: number): boolean {
  return link.revokedAt !== null || (link.expiresAt !== null && link.expiresAt.getTime() <= nowMs);
}

/**
 * A child link ends the moment its parent does (revoked, replaced or expired): its own row may still
 * look alive, so the parent's state is read with it on every use.
 */
export function isOrphaned(
  parent: Pick<LinkRecord, 'revokedAt' | 'expiresAt'> | null,
  nowMs: number,
): boolean {
  return parent !== null && isGone(parent, nowMs);
}

/** Only a study's own link may be shared onward: a child cannot share further. */
export function mayShare(link: Pick<LinkRecord, 'parentId'>): boolean {
  return link.parentId === null;
}

/** The link locked by wrong answers: seconds until it opens again, or null until staff unlock it. */
export function lockOf(
  link: Pick<LinkRecord, 'lockedAt' | 'lockedUntil'>,
  nowMs: number,
): { retryAfterSeconds: number | null } | null {
  if (link.lockedAt) return { retryAfterSeconds: null };
  const left = link.lockedUntil ? link.lockedUntil.getTime() - nowMs : 0;
  return left > 0 ? { retryAfterSeconds: Math.ceil(left / 1000) } : null;
}

/** Downloads left under maxDownloads (null: no limit). */
export function downloadsRemaining(link: Pick<LinkRecord, 'maxDownloads' | 'downloadsUsed'>): number | null {
  return link.maxDownloads === null ? null : Math.max(0, link.maxDownloads - link.downloadsUsed);
}

/**
 * Why the original files (the zip, whole instances) are refused: a view-only link, or one whose
 * downloads are used up (unless this is the resume of a download already counted); null when they
 * are not.
 */
export function downloadRefusal(
  link: Pick<LinkRecord, 'allowDownload' | 'maxDownloads' | 'downloadsUsed'>,
  { resume = false }: { resume?: boolean } = {},
): 'view_only' | 'limit_reached' | null {
  if (!link.allowDownload) return 'view_only';
  return downloadsRemaining(link) === 0 && !resume ? 'limit_reached' : null;
}

/**
 * The report rule (issue 20): a verified link shows the study's reports (SR, encapsulated PDF, the
 * RIS-pushed PDF) when the link says so, else when the setup's `reportsOnPage` does. Fail closed:
 * an unverified link, or a setup that cannot be read (undefined), shows none.
 * @example mayReport({ includeReport: null }, { verified: true, reportsOnPage: true }) === true
 */
export function mayReport(
  link: Pick<LinkRecord, 'includeReport'>,
  { verified, reportsOnPage }: { verified: boolean; reportsOnPage: boolean | undefined },
): boolean {
  return verified && (link.includeReport ?? reportsOnPage ?? false) === true;
}
