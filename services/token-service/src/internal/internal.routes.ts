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
import { parseOrThrow } from '../http/validate.js';
import type { LinkAccess } from '../link-access/link-access.js';
import { toWireGrant } from '../link-access/wire-grant.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { recordExportSize } from '../studies/study.repository.js';
import { countDownload, endLease, extendLease, isFirstReport } from '../tokens/token.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface InternalDeps {
  db: Kysely<DB>;
  links: LinkAccess;
  serverConfig: ServerConfigService;
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

  // The zip and the gateway: the link gate decides, the wire grant is its answer.
  router.post(INTERNAL_GRANTS_PATH, secret, async (ctx) => {
    const { token, client, verificationCookie, purpose, reserve, acceptLanguage, languageCookie, browser } =
      parseOrThrow(grantRequestSchema, ctx.request.body, 'grant request');
    const who = client ? { clientIp: client.ip, userAgent: client.userAgent } : null;
    const opened = await deps.links.open(token ?? '', who, { purpose, verificationCookie, reserve, browser });
    const config = await deps.serverConfig.get();
    const language = pickLanguage({
      chosen: languageCookie,
      acceptLanguage,
      fallback: config.defaultLanguage,
    });
    ctx.body = toWireGrant(opened, config, language);
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
