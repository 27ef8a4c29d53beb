import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * Events that only a patient's browser (or the patient) makes: the page's own script reporting it
 * loaded, a right second-factor answer, the viewer, a download. A bare GET of the page (a mail
 * scanner's) is `page_view` `fetched` and is not among them.
 */
export const OPENED_EVENTS = ['link_opened', 'viewer_opened', 'download_started'] as const;

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
         WHERE a.token_id = t.id
           AND (a.event IN (${sql.join(OPENED_EVENTS.map((e) => sql.lit(e)))})
                OR (a.event = 'verification' AND a.outcome = 'ok'))
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
