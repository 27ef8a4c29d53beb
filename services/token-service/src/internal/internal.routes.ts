import type Router from '@koa/router';
import {
  accessEventBodySchema,
  grantRequestSchema,
  INTERNAL_ACCESS_EVENTS_PATH,
  INTERNAL_GRANTS_PATH,
  INTERNAL_REPORTS_PATH,
  INTERNAL_SENDER_PATH,
  INTERNAL_ZIP_LAYOUT_STALE_PATH,
  INTERNAL_ZIP_LAYOUTS_PATH,
  LAYOUT_ID_PATTERN,
  staleLayoutSchema,
} from '@studylink/contracts';
import { pickLanguage } from '@studylink/i18n';
import { createRouter, requireSharedSecret } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import { completedDownloadOf, countsAgainstLimit, recordCounted } from '../downloads/download.counting.js';
import { parseOrThrow } from '../http/validate.js';
import type { LinkAccess } from '../link-access/link-access.js';
import { toWireGrant } from '../link-access/wire-grant.js';
import { senderOf } from '../patient/sender.js';
import type { ReportService } from '../reports/report.service.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { recordExportSize } from '../studies/study.repository.js';
import { countDownload, endLease, extendLease, isFirstReport } from '../tokens/token.repository.js';
import type { ZipLayoutService } from '../zip-layouts/zip-layout.service.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface InternalDeps {
  db: Kysely<DB>;
  links: LinkAccess;
  /** Absent (tests without a store): downloads stream without a fixed layout. */
  layouts?: ZipLayoutService;
  serverConfig: ServerConfigService;
  /** The shared secret and, during a rotation, the previous one. */
  internalSecrets: readonly string[];
  /** Pushed reports: their bytes by the id a grant names. Absent: none is served. */
  reports?: ReportService;
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
    const {
      token,
      client,
      verificationCookie,
      purpose,
      reserve,
      range,
      acceptLanguage,
      languageCookie,
      browser,
    } = parseOrThrow(grantRequestSchema, ctx.request.body, 'grant request');
    const who = client ? { clientIp: client.ip, userAgent: client.userAgent } : null;
    const opened = await deps.links.open(token ?? '', who, {
      purpose,
      verificationCookie,
      reserve,
      range,
      browser,
    });
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
    const lease = download && UUID.test(download) ? download : null;
    if (lease && (e.event === 'download_started' || e.event === 'download_resumed'))
      await extendLease(deps.db, lease);
    // A ranged request counts only when it completed the file, and not again when this link completed
    // a download of the same layout within 24 hours (download.counting.ts).
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
    // The reservation ends only once the download is counted: in between, a start that came late
    // (a download that completed fast, ten clicks at once) would find neither and pass the limit.
    if (lease && (e.event === 'download_complete' || e.event === 'download_aborted'))
      await endLease(deps.db, lease);
    ctx.status = 204;
  });

  // A pushed report's bytes, by the id a grant names (only a grant with may.report names one).
  router.get(`${INTERNAL_REPORTS_PATH}/:id`, secret, async (ctx) => {
    const pdf = deps.reports ? await deps.reports.pdfById(ctx.params.id ?? '') : null;
    if (!pdf) {
      ctx.status = 404;
      ctx.body = { error: { code: 'report_not_found', message: 'no such report' } };
      return;
    }
    ctx.type = 'application/pdf';
    ctx.body = pdf;
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
  // Who sent the links, for the export service's own patient pages (its refusals name them too).
  router.get(INTERNAL_SENDER_PATH, secret, async (ctx) => {
    ctx.body = senderOf(await deps.serverConfig.get());
  });
  return router;
}
