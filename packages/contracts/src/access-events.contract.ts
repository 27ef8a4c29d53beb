import { z } from 'zod';

/** Every event the access log knows; the token service's table accepts exactly these. */
export const ACCESS_EVENTS = [
  'page_view',
  // One per opening of the patient viewer (/token/viewer), not per image it loads.
  'viewer_opened',
  'invalid_token',
  'rate_limited',
  'download_started',
  // A ranged GET (206) of a download: the resume of one that was cut, or a part of it.
  'download_resumed',
  'download_complete',
  'download_aborted',
  'token_issued',
  'token_revoked',
  'token_displayed',
  'config_changed',
  // Staff web interface: sign-ins, users, API keys, link expiry, log exports.
  'token_expiry_changed',
  'staff_sign_in',
  'staff_sign_in_failed',
  'staff_sign_out',
  'user_created',
  'user_disabled',
  'user_enabled',
  'user_password_reset',
  'api_key_created',
  'api_key_disabled',
  'access_log_exported',
  // Link trust (issue 12): second-factor attempts (outcome ok / wrong / locked), refused downloads,
  // a PIN shown to staff or an integrator, a lock lifted by staff.
  'verification',
  'download_refused',
  'pin_displayed',
  'token_unlocked',
  // An expired token retired when its study's link is next asked for; cli.js purge-access-log.
  'token_expired',
  'access_log_purged',
  // Issue 21: the link or its PIN sent to the patient (queued, sent, failed: outcome retrying or
  // failed); the patient's own browser opening the page (a bare GET is page_view `fetched`).
  'delivery_queued',
  'delivery_sent',
  'delivery_failed',
  'link_opened',
  // Share onward (issue 21): a child link made from the patient's page (on the parent's token id,
  // detail.childId; outcome ok / cross_origin / child_cannot_share / limit) and one the patient revoked.
  'link_shared',
  'shared_link_revoked',
  // Reports (issue 20): a PDF the RIS pushed for a study or deleted (actor: the API key), and a
  // link's report release changed (detail.includeReport: true, false, or null = follow the setup).
  'report_pushed',
  'report_deleted',
  'token_report_changed',
] as const;
export type AccessEvent = (typeof ACCESS_EVENTS)[number];

/** The events the export service reports over the internal route. */
export const EXPORT_EVENTS = [
  'download_started',
  'download_resumed',
  'download_complete',
  'download_aborted',
  'rate_limited',
  'invalid_token',
] as const satisfies readonly AccessEvent[];
export type ExportEvent = (typeof EXPORT_EVENTS)[number];

/**
 * Names the log used before issue 18's (migration 0019 rewrote the stored rows): still read as the
 * new ones where a name comes in from outside (an integrator's `event=` filter, an export service
 * of the previous release during a rolling upgrade), never written.
 */
export const RENAMED_ACCESS_EVENTS = {
  download_start: 'download_started',
  download_abort: 'download_aborted',
} as const satisfies Record<string, AccessEvent>;

/** An access event's name as it comes in: a renamed one reads as its new name, anything else as is. */
export const currentAccessEventName = (v: unknown): unknown =>
  typeof v === 'string' && Object.hasOwn(RENAMED_ACCESS_EVENTS, v)
    ? RENAMED_ACCESS_EVENTS[v as keyof typeof RENAMED_ACCESS_EVENTS]
    : v;

/** One access event as the export service reports it; the token service validates with the same schema. */
export const accessEventBodySchema = z
  .object({
    event: z.preprocess(currentAccessEventName, z.enum(EXPORT_EVENTS)),
    outcome: z.string().max(200).default(''),
    tokenId: z.number().int().positive().nullable().default(null),
    studyInstanceUid: z.string().max(64).nullable().default(null),
    clientIp: z.string().max(64).nullable().default(null),
    userAgent: z.string().max(2000).nullable().default(null),
    bytes: z.number().int().min(0).nullable().default(null),
    detail: z.record(z.string(), z.unknown()).nullable().default(null),
  })
  .strict();
/** What a sender may give (defaults filled in by the receiver). */
export type AccessEventBody = Omit<z.input<typeof accessEventBodySchema>, 'event'> & { event: ExportEvent };
