import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * The access-log rows (alias `a`) that say the patient's browser (or the patient) opened a link:
 * the page's own script reporting it loaded from the link's origin, the viewer opened (not a HEAD,
 * not one sent to the form first), a right second-factor answer, a download a browser started. A
 * bare GET of the page (a mail scanner's) is `page_view` `fetched` and is not among them, nor is a
 * GET of the zip without a browser's signs (detail.browser false: a scanner on a link with no
 * download limit, which is served).
 */
export const OPENED_BY_BROWSER = sql<boolean>`(
  (a.event IN ('link_opened', 'viewer_opened') AND a.outcome = 'ok')
  OR (a.event = 'verification' AND a.outcome = 'ok')
  OR (a.event = 'download_started' AND coalesce(a.detail->>'browser', 'true') <> 'false'))`;

export interface ActiveLinkRow {
  id: number;
  study_instance_uid: string;
  patient_name: string | null;
  created_at: Date;
  expires_at: Date | null;
  opened_at: Date | null;
  deliveries_sent: number;
  deliveries_failed: number;
}

/** Links that work at `now`, newest first, with when a browser last opened each and its deliveries. */
export async function listActiveLinks(
  db: Db,
  now: Date,
  f: { expiringBefore?: Date; unopened?: boolean; limit: number },
): Promise<ActiveLinkRow[]> {
  const { rows } = await sql<ActiveLinkRow>`
    SELECT t.id, t.study_instance_uid, s.patient_name, t.created_at, t.expires_at, o.opened_at,
           coalesce(d.sent, 0)::int AS deliveries_sent, coalesce(d.failed, 0)::int AS deliveries_failed
      FROM tokens t
      LEFT JOIN studies s ON s.study_instance_uid = t.study_instance_uid
      LEFT JOIN LATERAL (
        SELECT max(a.at) AS opened_at FROM access_log a
         WHERE a.token_id = t.id AND ${OPENED_BY_BROWSER}
      ) o ON true
      LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) FILTER (WHERE status = 'failed') AS failed
          FROM deliveries WHERE token_id = t.id
      ) d ON true
     WHERE t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ${now})
       ${f.expiringBefore ? sql`AND t.expires_at <= ${f.expiringBefore}` : sql``}
       ${f.unopened ? sql`AND o.opened_at IS NULL` : sql``}
     ORDER BY t.created_at DESC, t.id DESC
     LIMIT ${f.limit}`.execute(db);
  return rows;
}
