import { z } from 'zod';
import { studyUidSchema } from './paths.contract.js';
import { pushedReportSchema } from './report.contract.js';

/**
 * What the export service sends before every download: the token as presented (null when it is not
 * token-shaped, which is never forwarded) and who presented it, so that an unknown token counts
 * against that client's invalid-token allowance like one on the patient page.
 */
export const grantRequestSchema = z
  .object({
    token: z.string().max(128).nullable(),
    client: z
      .object({ ip: z.string().max(64), userAgent: z.string().max(2000) })
      .strict()
      .optional(),
    // The value of the patient's VERIFICATION_COOKIE, forwarded as is: the token service alone
    // decides whether it opens a link with a second factor (403 verification_required if not).
    verificationCookie: z.string().max(256).nullable().optional(),
    // 'download' (the zip) is also refused for view-only links and links past maxDownloads (410
    // download_not_allowed / download_limit_reached); 'view' (the viewer's gateway) is not, but its
    // grant's `may.viewFiles` is false for them and the gateway serves no original file (403).
    // Absent: 'view'. The second factor is enforced either way (fail closed).
    purpose: z.enum(['download', 'view']).default('view'),
    // A GET of the zip: a link with maxDownloads reserves one of its downloads for it (a HEAD
    // does not), named by the grant's `downloadId`.
    reserve: z.boolean().default(false),
    // A GET with a single `Range`: its `If-Range` value (null when absent). The token service lets a
    // resume of a download this link already completed (same layout, within 24 hours) through past
    // maxDownloads, without a reservation: it never counts again.
    range: z
      .object({ ifRange: z.string().max(200).nullable() })
      .strict()
      .nullable()
      .default(null),
    // What the patient's browser asks for (`Accept-Language`, and the page switcher's cookie): the
    // token service answers with the `language` to write the README.txt and the viewer's controls in.
    acceptLanguage: z.string().max(1000).optional(),
    languageCookie: z.string().max(16).optional(),
    // The request carries a browser's signs (isBrowserRequest): a GET of a limited link's zip
    // without them (a mail system's link scanner) is sent to the page and spends no download.
    // Absent (an older export service): not checked.
    browser: z.boolean().optional(),
  })
  .strict();
export type GrantRequest = z.infer<typeof grantRequestSchema>;

/** The error codes of a refused zip or original file: a view-only link, one whose downloads are used up. */
export const DOWNLOAD_REFUSAL_CODES = ['download_not_allowed', 'download_limit_reached'] as const;
export type DownloadRefusalCode = (typeof DOWNLOAD_REFUSAL_CODES)[number];

/** What the token service answers: the one study the token grants, and how to pack it. */
export const grantSchema = z.object({
  tokenId: z.number().int().positive(),
  studyInstanceUid: studyUidSchema,
  zipContent: z.enum(['as-stored', 'jpeg-lossless']),
  institution: z.string(),
  viewerUrl: z.string(),
  // Link trust (issue 12). A grant is only given once the link is verified (or needs no second
  // factor); `allowDownload` false means the viewer may show the images but offers no zip.
  /** The patient's language: the switcher's choice, else Accept-Language, else the setup's default. */
  language: z.string().default('en'),
  verification: z.enum(['none', 'birth-date', 'pin']).default('none'),
  verified: z.boolean().default(true),
  allowDownload: z.boolean().default(true),
  downloadsRemaining: z.number().int().min(0).nullable().default(null),
  /**
   * What the link lets this requester do, decided by the token service's link gate. `viewFiles`:
   * original DICOM files (whole instances, series and study retrieve as application/dicom); a
   * view-only or spent link gets frames, rendered images and metadata only. Absent: nothing but
   * frames (fail closed).
   */
  may: z
    .object({
      viewFrames: z.boolean(),
      viewFiles: z.boolean(),
      download: z.boolean(),
      share: z.boolean(),
      /** The study's reports (SR, encapsulated PDF) and the pushed one; see report.contract.ts. */
      report: z.boolean().default(false),
    })
    .strict()
    .default({ viewFrames: true, viewFiles: false, download: false, share: false, report: false }),
  /** The RIS-pushed report, when there is one and `may.report`; else null. */
  pushedReport: pushedReportSchema.nullable().default(null),
  /** Why viewFiles/download are refused: the error code to answer with (as the zip's 410 says it). */
  downloadRefusal: z.enum(DOWNLOAD_REFUSAL_CODES).nullable().default(null),
  /** The reserved download of a limited link: report it in download_started, download_resumed, download_complete, download_aborted `detail.downloadId`. */
  downloadId: z.string().max(64).nullable().default(null),
  /** The study's fixed zip layout for this zipContent, when made: its id (GET it by id). */
  zipLayoutId: z.string().max(64).nullable().default(null),
  /** A ranged resume of a download this link completed within 24 hours: not reserved, never counted. */
  resume: z.boolean().default(false),
  study: z.object({
    patientName: z.string(),
    studyDate: z.string(),
    description: z.string(),
    modalities: z.array(z.string()),
  }),
});
export type Grant = z.infer<typeof grantSchema>;

/**
 * The cookie a right birth date or PIN earns (HttpOnly, SameSite=Strict, Path=/token), set by the
 * token service; the export service forwards its value in the grant request.
 */
export const VERIFICATION_COOKIE = 'studylink_verified';

/** Set by the patient page's own script once it loaded in a browser (Path=/token, SameSite=Lax). */
export const BROWSER_COOKIE = 'studylink_browser';

/**
 * True when a request shows what a browser following a link sends and a link scanner does not:
 * `Sec-Fetch-Site: same-origin` (a click on the page), `Sec-Fetch-User: ?1` (a user's own
 * navigation), or the cookie the page's script earned (browsers without Fetch Metadata).
 * @example isBrowserRequest((h) => ({ 'sec-fetch-site': 'same-origin' })[h] ?? '') === true
 */
export function isBrowserRequest(header: (name: string) => string): boolean {
  if (header('sec-fetch-site') === 'same-origin' || header('sec-fetch-user') === '?1') return true;
  return header('cookie')
    .split(';')
    .some((c) => c.trim() === `${BROWSER_COOKIE}=1`);
}

/** The language the patient picked on the page (Path=/token); see @studylink/i18n. */
export const LANGUAGE_COOKIE = 'studylink_lang';
