import type Router from '@koa/router';
import { currentAccessEventName, PUSHED_REPORT_MAX_BYTES } from '@studylink/contracts';
import { createRouter, requesterOf } from '@studylink/service-kit';
import type { Context, Next } from 'koa';
import type { Kysely } from 'kysely';
import { appendAccessEvent, listAccessEvents } from '../access-log/access-log.repository.js';
import { requireAdmin, requireApiKey, requireScope } from '../api-keys/api-key.middleware.js';
import type { ApiKeyService, ApiPrincipal } from '../api-keys/api-key.service.js';
import type { DB } from '../db/tables.js';
import { ChannelNotConfiguredError, type DeliveryService } from '../deliveries/delivery.service.js';
import { type ReportService, reportJson } from '../reports/report.service.js';
import { LOGO_MAX_BYTES } from '../server-config/logo.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import type { ShareService } from '../sharing/share.service.js';
import type { Actor, TokenService } from '../tokens/token.service.js';
import {
  accessLogQuerySchema,
  deliveryRequestSchema,
  issueTokenBodySchema,
  studyParamsSchema,
} from './api.schemas.js';
import { openApiDocument } from './openapi.js';
import { readRawBodyOrThrow } from './raw-body.js';
import { parseOrThrow } from './validate.js';

export interface ApiDeps {
  db: Kysely<DB>;
  tokens: TokenService;
  serverConfig: ServerConfigService;
  apiKeys: ApiKeyService;
  trustedProxies: ReadonlySet<string>;
  /** E-mail/SMS delivery of links; absent: POST .../deliveries is a 409. */
  deliveries?: DeliveryService;
  /** Share onward: GET .../token lists the link's children. */
  shares?: ShareService;
  /** Reports the RIS pushes (PUT/GET/DELETE .../report); absent: those routes are not served. */
  reports?: ReportService;
}

/** The versioned REST API for PACS/RIS integrators: `/api/v1`, JSON, Bearer API keys. */
export function apiRoutes(deps: ApiDeps): Router {
  const router = createRouter({ prefix: '/api/v1' });
  const actor = (ctx: Context): Actor => ({
    actor: (ctx.state.principal as ApiPrincipal).actor,
    ...requesterOf(ctx, deps.trustedProxies),
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument();
  });

  // Bound to each route, not to a path prefix: no spelling of a path skips the key check.
  const noStore = (ctx: Context, next: Next) => {
    // Responses may carry a token: never cached anywhere.
    ctx.set('cache-control', 'no-store');
    return next();
  };
  const key = [noStore, requireApiKey(deps.apiKeys)] as const;

  router.put('/studies/:studyInstanceUid/token', ...key, requireScope('tokens'), async (ctx) => {
    const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
    const body = parseOrThrow(issueTokenBodySchema, ctx.request.body ?? {}, 'request body');
    const expiresAt =
      body.expiresInDays !== undefined
        ? new Date(Date.now() + body.expiresInDays * 86_400_000)
        : body.expiresAt === undefined
          ? undefined
          : body.expiresAt === null
            ? null
            : new Date(body.expiresAt);
    const { created, token } = await deps.tokens.issue(studyInstanceUid, actor(ctx), {
      expiresAt,
      verification: body.verification,
      maxDownloads: body.maxDownloads,
      allowDownload: body.allowDownload,
      includeReport: body.includeReport,
    });
    ctx.status = created ? 201 : 200;
    ctx.body = token;
  });

  router.get('/studies/:studyInstanceUid/token', ...key, requireScope('tokens'), async (ctx) => {
    const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
    const token = await deps.tokens.getActiveOrThrow(studyInstanceUid, actor(ctx));
    ctx.body = {
      ...token,
      deliveries: (await deps.deliveries?.listForStudy(studyInstanceUid)) ?? [],
      children: (await deps.shares?.childrenForStudy(studyInstanceUid)) ?? [],
    };
  });

  router.post('/studies/:studyInstanceUid/token/deliveries', ...key, requireScope('tokens'), async (ctx) => {
    const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
    const body = parseOrThrow(deliveryRequestSchema, ctx.request.body ?? {}, 'request body');
    if (!deps.deliveries)
      throw new ChannelNotConfiguredError(body.email ? 'email' : 'sms', ['(not available)']);
    ctx.body = await deps.deliveries.requestOrThrow(studyInstanceUid, body, actor(ctx));
    ctx.status = 202;
  });

  router.post('/studies/:studyInstanceUid/token/unlock', ...key, requireScope('tokens'), async (ctx) => {
    const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
    await deps.tokens.unlockOrThrow(studyInstanceUid, actor(ctx));
    ctx.status = 204;
  });

  router.delete('/studies/:studyInstanceUid/token', ...key, requireScope('tokens'), async (ctx) => {
    const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
    await deps.tokens.revokeOrThrow(studyInstanceUid, actor(ctx));
    ctx.status = 204;
  });

  // The report a RIS pushes (issue 20): a PDF, at most 20 MB, read as it arrives and refused past
  // the limit (413) before more is kept; checked to be a PDF with nothing that runs (422).
  const reports = deps.reports;
  if (reports) {
    router.put('/studies/:studyInstanceUid/report', ...key, requireScope('tokens'), async (ctx) => {
      const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
      const pdf = await readRawBodyOrThrow(ctx, ['application/pdf'], PUSHED_REPORT_MAX_BYTES);
      const { facts, replaced } = await reports.pushOrThrow(studyInstanceUid, pdf, actor(ctx));
      ctx.status = replaced ? 200 : 201;
      ctx.body = reportJson(facts);
    });

    router.get('/studies/:studyInstanceUid/report', ...key, requireScope('tokens'), async (ctx) => {
      const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
      const pdf = await reports.pdfOrThrow(studyInstanceUid);
      ctx.type = 'application/pdf';
      ctx.set('content-disposition', 'inline; filename="REPORT.PDF"');
      ctx.set('x-content-type-options', 'nosniff');
      ctx.body = pdf;
    });

    router.delete('/studies/:studyInstanceUid/report', ...key, requireScope('tokens'), async (ctx) => {
      const { studyInstanceUid } = parseOrThrow(studyParamsSchema, ctx.params, 'study UID');
      await reports.deleteOrThrow(studyInstanceUid, actor(ctx));
      ctx.status = 204;
    });
  }

  router.get('/server-config', ...key, requireScope('audit'), async (ctx) => {
    ctx.body = await deps.serverConfig.get();
  });

  router.put('/server-config', ...key, requireAdmin, async (ctx) => {
    const updated = await deps.serverConfig.update(ctx.request.body ?? {});
    const who = actor(ctx);
    await appendAccessEvent(deps.db, {
      event: 'config_changed',
      outcome: 'ok',
      ...who,
      detail: { fields: Object.keys((ctx.request.body as object | undefined) ?? {}).sort() },
    });
    ctx.body = updated;
  });

  // The logo: PNG or JPEG (checked from its first bytes), at most 200 kB; a raw body, not JSON.
  router.put('/server-config/logo', ...key, requireAdmin, async (ctx) => {
    // Read a little past the limit so the service says which rule failed.
    const bytes = await readRawBodyOrThrow(ctx, ['image/png', 'image/jpeg'], LOGO_MAX_BYTES + 1);
    const updated = await deps.serverConfig.setLogo(bytes);
    await appendAccessEvent(deps.db, {
      event: 'config_changed',
      outcome: 'ok',
      ...actor(ctx),
      detail: { fields: ['logo'] },
    });
    ctx.body = updated;
  });

  router.delete('/server-config/logo', ...key, requireAdmin, async (ctx) => {
    await deps.serverConfig.setLogo(null);
    await appendAccessEvent(deps.db, {
      event: 'config_changed',
      outcome: 'ok',
      ...actor(ctx),
      detail: { fields: ['logo'] },
    });
    ctx.status = 204;
  });

  router.get('/access-log', ...key, requireScope('audit'), async (ctx) => {
    // An integrator's filter written before issue 18 (event=download_start) reads as the new name.
    const query = { ...ctx.query, event: currentAccessEventName(ctx.query.event) };
    const q = parseOrThrow(accessLogQuerySchema, query, 'query');
    const rows = await listAccessEvents(deps.db, {
      study: q.study,
      event: q.event,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      before: q.before,
      limit: q.limit,
    });
    ctx.body = {
      items: rows.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        event: r.event,
        outcome: r.outcome,
        tokenId: r.token_id,
        studyInstanceUid: r.study_instance_uid,
        clientIp: r.client_ip,
        userAgent: r.user_agent,
        actor: r.actor,
        bytes: r.bytes,
        detail: r.detail,
      })),
      nextCursor: rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null,
    };
  });

  return router;
}
