import type Router from '@koa/router';
import {
  accessEventBodySchema,
  grantRequestSchema,
  INTERNAL_ACCESS_EVENTS_PATH,
  INTERNAL_GRANTS_PATH,
} from '@studylink/contracts';
import { pickLanguage } from '@studylink/i18n';
import { createRouter, requireSharedSecret } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
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

import { scannerRefusal } from '../tokens/scanner.rule.js';
import type { TokenService } from '../tokens/token.service.js';

export interface InternalDeps {
  db: Kysely<DB>;
  tokens: TokenService;
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
    const { token, client, verificationCookie, purpose, reserve, acceptLanguage, languageCookie, browser } =
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
    if (purpose === 'download') {
      if (!grant.allowDownload) await refuse('view_only', new DownloadRefusedError('view_only'));
      if (downloadsRemaining === 0) await refuse('limit_reached', new DownloadRefusedError('limit_reached'));
    }
    // A link scanner's GET spends no download: it is sent to the page.
    const scanner = scannerRefusal({ purpose, reserve, browser, maxDownloads: grant.maxDownloads });
    if (scanner) await refuse('not_a_browser', scanner);
    // Completed downloads and those under way together stay within the limit.
    let downloadId: string | null = null;
    if (purpose === 'download' && reserve && grant.maxDownloads !== null) {
      downloadId = await reserveDownload(deps.db, grant.tokenId);
      if (!downloadId) await refuse('limit_reached', new DownloadRefusedError('limit_reached'));
    }
    const [study, config] = await Promise.all([
      deps.db
        .selectFrom('studies')
        .selectAll()
        .where('study_instance_uid', '=', grant.studyInstanceUid)
        .executeTakeFirst(),
      deps.serverConfig.get(),
    ]);
    ctx.body = {
      tokenId: grant.tokenId,
      studyInstanceUid: grant.studyInstanceUid,
      zipContent: config.zipContent,
      institution: config.institution || study?.institution_name || '',
      viewerUrl: config.viewerUrl,
      language: pickLanguage({ chosen: languageCookie, acceptLanguage, fallback: config.defaultLanguage }),
      verification: grant.verification,
      verified,
      allowDownload: grant.allowDownload && downloadsRemaining !== 0,
      downloadsRemaining,
      downloadId,
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
    if (e.event === 'download_complete' && e.tokenId && (await isFirstReport(deps.db, e.tokenId, download)))
      await countDownload(deps.db, e.tokenId);
    ctx.status = 204;
  });
  return router;
}
