import type Router from '@koa/router';
import {
  accessEventBodySchema,
  grantRequestSchema,
  INTERNAL_ACCESS_EVENTS_PATH,
  INTERNAL_GRANTS_PATH,
  INTERNAL_ZIP_LAYOUT_STALE_PATH,
  INTERNAL_ZIP_LAYOUTS_PATH,
  LAYOUT_ID_PATTERN,
  layoutIdOfEtag,
  staleLayoutSchema,
} from '@studylink/contracts';
import { pickLanguage } from '@studylink/i18n';
import { createRouter, requireSharedSecret } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import {
  completedDownloadOf,
  countsAgainstLimit,
  isCountedWithinWindow,
  recordCounted,
} from '../downloads/download.counting.js';
import { DownloadRefusedError, TokenNotFoundError, VerificationRequiredError } from '../errors.js';
import { parseOrThrow } from '../http/validate.js';
import type { InvalidTokenGuard } from '../rate-limit/invalid-token.limiter.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { recordExportSize } from '../studies/study.repository.js';
import {
  countDownload,
  endLease,
  extendLease,
  isFirstReport,
  reserveDownload,
} from '../tokens/token.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

import type { TokenService } from '../tokens/token.service.js';
import type { ZipLayoutService } from '../zip-layouts/zip-layout.service.js';

export interface InternalDeps {
  db: Kysely<DB>;
  tokens: TokenService;
  layouts?: ZipLayoutService;
  serverConfig: ServerConfigService;
  invalidTokens: InvalidTokenGuard;
  /** The shared secret and, during a rotation, the previous one. */
  internalSecrets: readonly string[];
}

/**
 * What the export service asks before every download, and where it reports the outcome. Served on
 * the token service's internal listener only; the secret is checked on each route.
 */
export function internalRoutes(deps: InternalDeps): Router {
  const router = createRouter();
  const secret = requireSharedSecret(deps.internalSecrets);

  router.post(INTERNAL_GRANTS_PATH, secret, async (ctx) => {
    const { token, client, verificationCookie, purpose, reserve, range, acceptLanguage, languageCookie } =
      parseOrThrow(grantRequestSchema, ctx.request.body, 'grant request');
    const who = client ? { clientIp: client.ip, userAgent: client.userAgent } : null;
    if (who) await deps.invalidTokens.checkOrThrow(who);
    let grant: Awaited<ReturnType<TokenService['resolveOrThrow']>>;
    try {
      grant = await deps.tokens.resolveOrThrow(token ?? '');
    } catch (err) {
      if (who && err instanceof TokenNotFoundError) await deps.invalidTokens.recordInvalid(who);
      throw err;
    }
    const refuse = async (outcome: string, err: Error): Promise<never> => {
      await appendAccessEvent(deps.db, {
        event: 'download_refused',
        outcome,
        tokenId: grant.tokenId,
        studyInstanceUid: grant.studyInstanceUid,
        clientIp: who?.clientIp ?? null,
        userAgent: who?.userAgent ?? null,
        detail: { purpose },
      });
      throw err;
    };
    // The token service decides: a link with a second factor needs this link's cookie, for the
    // zip and the viewer alike.
    const verified = deps.tokens.isVerified(grant, verificationCookie);
    if (!verified) await refuse('not_verified', new VerificationRequiredError());
    const downloadsRemaining =
      grant.maxDownloads === null ? null : Math.max(0, grant.maxDownloads - grant.downloadsUsed);
    const config = await deps.serverConfig.get();
    const layout =
      purpose === 'download' && deps.layouts
        ? await deps.layouts.summary(grant.studyInstanceUid, config.zipContent)
        : null;
    // A ranged request of the layout this link completed a download of within 24 hours resumes that
    // download: past the limit, without a reservation, never counted again.
    const resume =
      purpose === 'download' &&
      range !== null &&
      layout !== null &&
      (range.ifRange === null || layoutIdOfEtag(range.ifRange) === layout.id) &&
      (await isCountedWithinWindow(deps.db, grant.tokenId, layout.id, new Date()));
    if (purpose === 'download') {
      if (!grant.allowDownload) await refuse('view_only', new DownloadRefusedError('view_only'));
      if (downloadsRemaining === 0 && !resume)
        await refuse('limit_reached', new DownloadRefusedError('limit_reached'));
    }
    // Completed downloads and those under way together stay within the limit.
    let downloadId: string | null = null;
    if (purpose === 'download' && reserve && grant.maxDownloads !== null && !resume) {
      downloadId = await reserveDownload(deps.db, grant.tokenId);
      if (!downloadId) await refuse('limit_reached', new DownloadRefusedError('limit_reached'));
    }
    const study = await deps.db
      .selectFrom('studies')
      .selectAll()
      .where('study_instance_uid', '=', grant.studyInstanceUid)
      .executeTakeFirst();
    ctx.body = {
      tokenId: grant.tokenId,
      studyInstanceUid: grant.studyInstanceUid,
      zipContent: config.zipContent,
      institution: config.institution || study?.institution_name || '',
      viewerUrl: config.viewerUrl,
      language: pickLanguage({ chosen: languageCookie, acceptLanguage, fallback: config.defaultLanguage }),
      verification: grant.verification,
      verified,
      allowDownload: grant.allowDownload && (downloadsRemaining !== 0 || resume),
      downloadsRemaining,
      downloadId,
      zipLayoutId: layout?.id ?? null,
      resume,
      study: {
        patientName: study?.patient_name ?? '',
        studyDate: study?.study_date ?? '',
        description: study?.description ?? '',
        modalities: study?.modalities ?? [],
      },
    };
  });

  router.post(INTERNAL_ACCESS_EVENTS_PATH, secret, async (ctx) => {
    const e = parseOrThrow(accessEventBodySchema, ctx.request.body, 'access event');
    await appendAccessEvent(deps.db, e);
    if (e.event === 'download_complete' && e.studyInstanceUid && e.bytes) {
      await recordExportSize(deps.db, e.studyInstanceUid, e.bytes);
    }
    // Only a completed download counts against maxDownloads; an aborted one leaves the allowance.
    // A report sent again (its answer was lost) names the same download: counted once.
    const download = typeof e.detail?.downloadId === 'string' ? e.detail.downloadId : null;
    if (download && UUID.test(download)) {
      if (e.event === 'download_start') await extendLease(deps.db, download);
      else if (e.event === 'download_complete' || e.event === 'download_abort')
        await endLease(deps.db, download);
    }
    if (e.event === 'download_complete' && e.tokenId) {
      const now = new Date();
      const done = completedDownloadOf(e.detail);
      if (
        (await countsAgainstLimit(deps.db, e.tokenId, done, now)) &&
        (await isFirstReport(deps.db, e.tokenId, download))
      ) {
        await countDownload(deps.db, e.tokenId);
        if (done.layoutId) await recordCounted(deps.db, e.tokenId, done.layoutId, now);
      }
    }
    ctx.status = 204;
  });

  // The export service reads a study's zip layout by id (the grant names it) for every download.
  router.get(`${INTERNAL_ZIP_LAYOUTS_PATH}/:id`, secret, async (ctx) => {
    const id = ctx.params.id ?? '';
    const body = LAYOUT_ID_PATTERN.test(id) && deps.layouts ? await deps.layouts.body(id) : null;
    if (body === null) {
      ctx.status = 404;
      ctx.body = { error: { code: 'layout_not_found', message: 'no such zip layout' } };
      return;
    }
    ctx.type = 'application/json';
    ctx.body = body;
  });
  // A layout the export service made while it streamed a study that had none.
  router.put(INTERNAL_ZIP_LAYOUTS_PATH, secret, async (ctx) => {
    if (!deps.layouts) {
      ctx.status = 204;
      return;
    }
    const id = await deps.layouts.saveReceivedOrThrow(ctx.request.body).catch((err: Error) => {
      ctx.throw(400, `not a zip layout: ${err.message.slice(0, 200)}`);
    });
    ctx.body = { id };
  });
  router.post(INTERNAL_ZIP_LAYOUT_STALE_PATH, secret, async (ctx) => {
    const { id } = parseOrThrow(staleLayoutSchema, ctx.request.body, 'stale layout');
    await deps.layouts?.staleFound(id);
    ctx.status = 204;
  });
  return router;
}
