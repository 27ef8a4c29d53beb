import type { MessageKey } from '@studylink/i18n';
import type { Db } from '../db/database.js';

/** One use of a link as its patient sees it: when, what, and from which address. */
export interface LinkUse {
  at: Date;
  what: MessageKey;
  clientIp: string | null;
}

/** How many recent uses the patient page lists. */
export const HISTORY_LENGTH = 20;

// Patient-side events only: staff actions (issued, displayed, PIN shown, unlocked) are not uses.
const PATIENT_EVENTS = [
  'page_view',
  'download_complete',
  'download_aborted',
  'download_refused',
  'verification',
  // A child link made for a doctor (issue 21): the patient sees it among the link's uses.
  'link_shared',
];

/** The link's latest patient-side uses, newest first; HEAD requests (link scanners) left out. */
export async function linkHistory(db: Db, tokenId: number): Promise<LinkUse[]> {
  const rows = await db
    .selectFrom('access_log')
    .select(['at', 'event', 'outcome', 'client_ip'])
    .where('token_id', '=', tokenId)
    .where((eb) => eb.or([eb('event', 'in', PATIENT_EVENTS), eb('event', 'like', 'viewer%')]))
    // HEAD requests are link scanners; a form another site posted was no use of the link.
    .where('outcome', 'not in', ['head', 'cross_origin', 'limit'])
    .orderBy('id', 'desc')
    .limit(HISTORY_LENGTH)
    .execute();
  return rows.map((r) => ({ at: r.at, what: describe(r.event, r.outcome), clientIp: r.client_ip }));
}

function describe(event: string, outcome: string): MessageKey {
  if (event.startsWith('viewer') || (event === 'page_view' && outcome === 'viewer'))
    return 'history.images_viewed';
  switch (event) {
    case 'download_complete':
      return 'history.download_complete';
    case 'download_aborted':
      return 'history.download_aborted';
    case 'download_refused':
      return 'history.download_refused';
    case 'link_shared':
      return 'history.link_shared';
    case 'verification':
      return outcome === 'ok'
        ? 'history.verification_ok'
        : outcome === 'locked'
          ? 'history.verification_locked'
          : 'history.verification_wrong';
    default:
      return 'history.page_view';
  }
}
