/**
 * The link gate: every way into a patient link asks `LinkAccess.open` once, and nothing else decides
 * what a link allows. It checks, in this order: the token's format (before any query), the
 * requester's invalid-link allowance, the lookup (the link and its study's copy in one statement),
 * revocation and expiry, the second factor (the verification cookie) and the lockout, view-only and
 * the download limit (and, for a zip, reserves one download); it writes the access events of what
 * it decided; it answers what this requester may do, or throws one domain error.
 *
 * Purposes (who asks):
 * - `page`       GET/HEAD /token?T. Unanswered second factor: `verified: false` (show the form).
 * - `answer`     POST /token?T (the second-factor form). Opened unverified; refused while the link
 *                is locked (LinkLockedError 429, `verification` `locked` logged) unless the post only
 *                switches the language; the answer itself is then checked (and counted toward the
 *                lockout) by TokenService.checkAnswerOrThrow. `crossOrigin`: refused and logged.
 * - `viewer`     GET /token/viewer?T.
 * - `view`       the export service's grant for the viewer's gateway (frames, rendered, metadata;
 *                `may.viewFiles` says whether whole instances / series / study too).
 * - `view_files` original DICOM files asked for outright.
 * - `download`   the export service's grant for the zip (`reserve`: one of a limited link's downloads;
 *                `range`: a ranged GET, which resumes a download of the same zip layout this link
 *                completed within 24 hours: let past the limit, not reserved, never counted again).
 * - `share`      sharing the link onward (child links): a study's own link only (a child cannot
 *                share further: ShareNotAllowedError 403). A child whose parent is revoked or
 *                expired is gone for every purpose (404), like a revoked link.
 * - `opened`     POST /token/opened?T, the page's own script once loaded in a browser: `link_opened`
 *                (a bare GET of the page is `page_view` `fetched`). `crossOrigin`: refused and logged.
 *
 * Outcomes (`may` on a verified link): page, viewFrames and share always; viewFiles and download
 * unless the link is view-only or its downloads are used up (`downloadRefusal` says which); report
 * when the link's includeReport, else the setup's reportsOnPage, says so (`pushedReport` only then).
 * Errors: TooManyInvalidTokensError 429 (over the allowance, before any lookup), TokenNotFoundError
 * 404 (malformed, unknown, revoked, expired), LinkLockedError 429 (page and answer: unanswered and locked),
 * VerificationRequiredError 403 (viewer, view, view_files, download, share without the cookie),
 * DownloadRefusedError 410 (download), OriginalFilesRefusedError 403 (view_files),
 * CrossOriginFormError 403 (answer posted from another site).
 *
 * Extending it: a new rule is a small pure function over LinkRecord (link.rules.ts) called from
 * `decide` below, with its row in the gate's table test (test/link-access.gate.test.ts).
 */

import { layoutIdOfEtag, type PushedReport } from '@studylink/contracts';
import { zipArchiveId } from '@studylink/dicom-media';
import type { Requester } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB, StudyRow } from '../db/tables.js';
import { isCountedWithinWindow } from '../downloads/download.counting.js';
import {
  CrossOriginFormError,
  DownloadRefusedError,
  LinkLockedError,
  OriginalFilesRefusedError,
  ShareNotAllowedError,
  TokenNotFoundError,
  VerificationRequiredError,
} from '../errors.js';
import type { InvalidTokenGuard } from '../rate-limit/invalid-token.limiter.js';
import type { StudyService } from '../studies/study.service.js';
import { scannerRefusal } from '../tokens/scanner.rule.js';
import { hashToken, TOKEN_PATTERN } from '../tokens/token.crypto.js';
import {
  findLinkWithStudyByHash,
  reserveDownload,
  type ZipLayoutSummary,
} from '../tokens/token.repository.js';
import type { VerificationCookies } from '../tokens/verification.cookie.js';
import {
  downloadRefusal,
  downloadsRemaining,
  isGone,
  isOrphaned,
  type LinkRecord,
  lockOf,
  mayReport,
  mayShare,
  toLinkRecord,
} from './link.rules.js';

export type { LinkRecord };

export const LINK_PURPOSES = [
  'page',
  'answer',
  'opened',
  'viewer',
  'view',
  'view_files',
  'download',
  'share',
] as const;
export type LinkPurpose = (typeof LINK_PURPOSES)[number];

/** What this requester may do with the link. */
export interface LinkPermissions {
  /** The study page (false: the second-factor form instead). */
  page: boolean;
  /** Frames, rendered images, thumbnails, metadata, series search. */
  viewFrames: boolean;
  /** Original DICOM files (whole instances, series, study retrieve as application/dicom). */
  viewFiles: boolean;
  /** The zip. */
  download: boolean;
  /** Making child links to share onward. */
  share: boolean;
  /**
   * The study's reports (SR, encapsulated PDF, the RIS-pushed PDF): the report rule (link.rules.ts
   * mayReport), decided here only. False: they are in none of the page, viewer, gateway or zip.
   */
  report: boolean;
}

export interface OpenOptions {
  purpose: LinkPurpose;
  /** The value of the browser's verification cookie, if any. */
  verificationCookie?: string | null | undefined;
  /** `download` only: reserve one of a limited link's downloads (a GET of the zip, not a HEAD). */
  reserve?: boolean;
  /** `download` only: a GET with a single Range, and its If-Range (null when absent). */
  range?: { ifRange: string | null } | null;
  /** A HEAD request (link scanners): logged as such. */
  head?: boolean;
  /** `answer` and `opened`: the form or the script's post came from another site. */
  crossOrigin?: boolean;
  /**
   * `answer`: the post only switches the page's language (the form's language buttons), not an
   * answer: a locked link lets it through, so the lock's page can be read in the patient's language.
   */
  languageOnly?: boolean;
  /**
   * `download`: the request shows a browser's signs (isBrowserRequest); false (a link scanner)
   * keeps a GET from spending a limited link's download. Undefined: the caller cannot tell.
   */
  browser?: boolean | undefined;
}

/** The gate's answer: the link, and what this requester may do with it. */
export interface OpenedLink {
  purpose: LinkPurpose;
  link: LinkRecord;
  requester: Requester | null;
  /** False only for `page` and `answer` while the second factor is unanswered. */
  verified: boolean;
  may: LinkPermissions;
  /** Why viewFiles and download are false on a verified link; null when they are not. */
  downloadRefusal: 'view_only' | 'limit_reached' | null;
  downloadsRemaining: number | null;
  /** The reserved download (purpose `download` with `reserve` on a limited link); null otherwise. */
  downloadId: string | null;
  /** `download`: the study's fixed zip layout, when made. */
  zipLayoutId: string | null;
  /** `page` and `download`: the summary of the study's zip layout (its exact size), when made. */
  zipLayout: ZipLayoutSummary | null;
  /** `download`: a ranged resume of a download of this layout the link completed within 24 hours. */
  resume: boolean;
  /** Child links ever made from this link (share onward): none, and the page need not list them. */
  childCount: number;
  /** The RIS-pushed report when there is one and `may.report`; else null. */
  pushedReport: PushedReport | null;
  /** The study has a RIS-pushed report (whether or not this link may show it). */
  hasPushedReport: boolean;
  /** The study's stored copy (for `page` and `viewer`, from the store when there is none yet). */
  study: StudyRow | undefined;
}

export interface LinkAccessDeps {
  db: Kysely<DB>;
  studies: StudyService;
  invalidTokens: InvalidTokenGuard;
  cookies: VerificationCookies;
  /**
   * The setup's zip content (cached): the study's zip layout for it is read with the link, in the same
   * statement. Absent (tests without a store): no layout.
   */
  zipContent?: () => Promise<'as-stored' | 'jpeg-lossless'>;
  /** The setup's reportsOnPage (cached): the report rule's default. Absent: no reports (fail closed). */
  reportsOnPage?: () => Promise<boolean>;
  /** A page or a download found no layout for the study: make one in the background. */
  layoutMissing?: (studyInstanceUid: string) => void;
  now?: () => number;
}

/** Purposes whose invalid tokens the token service logs itself (the export service reports its own). */
const LOGS_INVALID = new Set<LinkPurpose>(['page', 'answer', 'opened', 'viewer', 'share']);
const NOTHING: LinkPermissions = {
  page: false,
  viewFrames: false,
  viewFiles: false,
  download: false,
  share: false,
  report: false,
};

export class LinkAccess {
  private readonly now: () => number;

  constructor(private readonly deps: LinkAccessDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** A wrong second-factor answer also counts toward the requester's invalid-link allowance. */
  async countWrongAnswer(requester: Requester): Promise<void> {
    await this.deps.invalidTokens.recordInvalid(requester);
  }

  /**
   * Opens `token` for `requester` (null: not known, e.g. an internal caller without a client; no
   * allowance is counted then) for one purpose. See the module comment for purposes and outcomes.
   * @example const opened = await links.open(token, requesterOf(ctx, trusted), { purpose: 'page', verificationCookie });
   */
  async open(token: string, requester: Requester | null, opts: OpenOptions): Promise<OpenedLink> {
    const { db } = this.deps;
    // A client over its invalid-token allowance learns nothing more, not even about a valid token.
    if (requester) await this.deps.invalidTokens.checkOrThrow(requester);
    const zipContent = this.deps.zipContent ? await this.deps.zipContent() : null;
    const reportsOnPage = this.deps.reportsOnPage ? await this.deps.reportsOnPage() : undefined;
    const found = TOKEN_PATTERN.test(token)
      ? await findLinkWithStudyByHash(db, hashToken(token), zipContent)
      : undefined;
    const link = found ? toLinkRecord(found.row) : undefined;
    if (!found || !link || isGone(link, this.now()) || isOrphaned(found.parent, this.now())) {
      if (requester) {
        if (LOGS_INVALID.has(opts.purpose))
          await appendAccessEvent(db, { event: 'invalid_token', outcome: 'not_found', ...requester });
        // Throws the 429 instead when this guess is the one over the allowance.
        await this.deps.invalidTokens.recordInvalid(requester);
      }
      throw new TokenNotFoundError();
    }
    const base = {
      tokenId: link.tokenId,
      studyInstanceUid: link.studyInstanceUid,
      clientIp: requester?.clientIp ?? null,
      userAgent: requester?.userAgent ?? null,
    };
    const verified = link.verification === 'none' || this.deps.cookies.verify(link, opts.verificationCookie);
    const wantsLayout = opts.purpose === 'download' || opts.purpose === 'page';
    if (wantsLayout && zipContent !== null && !found.zipLayout)
      this.deps.layoutMissing?.(link.studyInstanceUid);
    const zipLayoutId = opts.purpose === 'download' ? (found.zipLayout?.id ?? null) : null;
    const report = mayReport(link, { verified, reportsOnPage });
    const pushedReport = report ? found.pushedReport : null;
    // The archive this link gets of the layout (the report held or not, the pushed PDF): what its
    // ETag names and what a counted download is of, so a resume never joins two different archives.
    const archiveId =
      zipLayoutId === null
        ? null
        : zipArchiveId(zipLayoutId, { report, pushedSha256: pushedReport?.sha256 ?? null });
    const resume =
      archiveId !== null &&
      opts.range != null &&
      (opts.range.ifRange === null || layoutIdOfEtag(opts.range.ifRange) === archiveId) &&
      (await isCountedWithinWindow(db, link.tokenId, archiveId, new Date(this.now())));
    const refusal = downloadRefusal(link, { resume });
    const opened: OpenedLink = {
      purpose: opts.purpose,
      link,
      requester,
      verified,
      may: verified
        ? {
            page: true,
            viewFrames: true,
            viewFiles: refusal === null,
            download: refusal === null,
            share: mayShare(link),
            report,
          }
        : NOTHING,
      pushedReport,
      hasPushedReport: found.pushedReport !== null,
      downloadRefusal: refusal,
      downloadsRemaining: downloadsRemaining(link),
      downloadId: null,
      zipLayoutId,
      zipLayout: wantsLayout ? found.zipLayout : null,
      resume,
      childCount: found.childCount,
      study: found.study,
    };
    // Grants for the export service: refused with one download_refused event, the purpose in detail.
    const refuse = async (outcome: string, err: Error): Promise<never> => {
      await appendAccessEvent(db, {
        event: 'download_refused',
        outcome,
        ...base,
        detail: { purpose: opts.purpose },
      });
      throw err;
    };

    switch (opts.purpose) {
      case 'page': {
        const outcome = opts.head ? 'head' : undefined;
        if (!verified) {
          const lock = lockOf(link, this.now());
          await appendAccessEvent(db, {
            event: 'page_view',
            outcome: outcome ?? (lock ? 'locked' : 'form'),
            ...base,
          });
          if (lock) throw new LinkLockedError(lock.retryAfterSeconds);
          return opened;
        }
        opened.study = await this.deps.studies.forPage(link.studyInstanceUid, { copy: found.study });
        // A bare GET is what a mail system's link scanner makes too: `fetched`, not opened.
        await appendAccessEvent(db, { event: 'page_view', outcome: outcome ?? 'fetched', ...base });
        return opened;
      }
      case 'opened':
        if (opts.crossOrigin) {
          await appendAccessEvent(db, { event: 'link_opened', outcome: 'cross_origin', ...base });
          throw new CrossOriginFormError();
        }
        await appendAccessEvent(db, { event: 'link_opened', outcome: 'ok', ...base });
        return opened;
      case 'answer': {
        if (opts.crossOrigin) {
          // Refused and logged, but not counted against the link: another site cannot lock it.
          await appendAccessEvent(db, { event: 'verification', outcome: 'cross_origin', ...base });
          throw new CrossOriginFormError();
        }
        // A language switch, or a patient who answered before the lock: let through (the lock stops
        // guessing, not the patient; a locked link's counting statements take no further answer).
        if (opts.languageOnly || verified) return opened;
        // A locked link takes no answer, the right one included (the attempt is logged).
        const lock = lockOf(link, this.now());
        if (lock) {
          await appendAccessEvent(db, { event: 'verification', outcome: 'locked', ...base });
          throw new LinkLockedError(lock.retryAfterSeconds);
        }
        return opened;
      }
      case 'viewer':
        if (!verified) {
          await appendAccessEvent(db, { event: 'viewer_opened', outcome: 'verification_required', ...base });
          throw new VerificationRequiredError();
        }
        opened.study = await this.deps.studies.forPage(link.studyInstanceUid, { copy: found.study });
        await appendAccessEvent(db, { event: 'viewer_opened', outcome: opts.head ? 'head' : 'ok', ...base });
        return opened;
      case 'share':
        if (!verified) throw new VerificationRequiredError();
        if (opts.crossOrigin) {
          await appendAccessEvent(db, { event: 'link_shared', outcome: 'cross_origin', ...base });
          throw new CrossOriginFormError();
        }
        if (!mayShare(link)) {
          await appendAccessEvent(db, { event: 'link_shared', outcome: 'child_cannot_share', ...base });
          throw new ShareNotAllowedError();
        }
        return opened;
      case 'view':
        if (!verified) await refuse('not_verified', new VerificationRequiredError());
        return opened;
      case 'view_files':
        if (!verified) await refuse('not_verified', new VerificationRequiredError());
        if (refusal) await refuse(refusal, new OriginalFilesRefusedError(refusal));
        return opened;
      case 'download': {
        if (!verified) await refuse('not_verified', new VerificationRequiredError());
        if (refusal) await refuse(refusal, new DownloadRefusedError(refusal));
        // A link scanner's GET spends no download: the export service sends it to the page.
        const scanner = scannerRefusal({
          purpose: opts.purpose,
          // The resume of a download already counted spends nothing: no reason to turn anyone away.
          reserve: (opts.reserve ?? false) && !resume,
          browser: opts.browser,
          maxDownloads: link.maxDownloads,
        });
        if (scanner) await refuse('not_a_browser', scanner);
        // Completed downloads and those under way together stay within the limit.
        if (opts.reserve && link.maxDownloads !== null && !resume) {
          opened.downloadId = await reserveDownload(db, link.tokenId);
          if (!opened.downloadId) await refuse('limit_reached', new DownloadRefusedError('limit_reached'));
        }
        return opened;
      }
    }
  }
}
