import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import {
  DownloadRefusedError,
  TokenNotFoundError,
  UnauthorizedError,
  VerificationRequiredError,
} from '../errors.js';
import { parseOrThrow } from '../http/validate.js';
import type { InvalidTokenGuard } from '../rate-limit/invalid-token.limiter.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { recordExportSize } from '../studies/study.repository.js';
import { countDownload } from '../tokens/token.repository.js';
import type { TokenService } from '../tokens/token.service.js';

export interface InternalDeps {
  db: Kysely<DB>;
  tokens: TokenService;
  serverConfig: ServerConfigService;
  invalidTokens: InvalidTokenGuard;
  internalSecret: string;
}

const grantBodySchema = z
  .object({
    // null: the client presented something that is not token-shaped, which the caller does not forward.
    token: z.string().max(128).nullable(),
    // Who presented it: given, the download counts against the same invalid-token allowance as the page.
    client: z
      .object({ ip: z.string().max(64), userAgent: z.string().max(2000) })
      .strict()
      .optional(),
    // The patient's verification cookie (forwarded by the export service): the token service alone
    // decides whether it opens a link with a second factor.
    verificationCookie: z.string().max(256).nullable().optional(),
    // 'download' (the zip) also refuses view-only links and links past maxDownloads; 'view' (the
    // viewer's gateway) does not.
    purpose: z.enum(['download', 'view']).default('download'),
  })
  .strict();

const eventBodySchema = z
  .object({
    event: z.enum(['download_start', 'download_complete', 'download_abort', 'rate_limited', 'invalid_token']),
    outcome: z.string().max(200).default(''),
    tokenId: z.number().int().positive().nullable().default(null),
    studyInstanceUid: z.string().max(64).nullable().default(null),
    clientIp: z.string().max(64).nullable().default(null),
    userAgent: z.string().max(2000).nullable().default(null),
    bytes: z.number().int().min(0).nullable().default(null),
    detail: z.record(z.string(), z.unknown()).nullable().default(null),
  })
  .strict();

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Shared secret between the services, compared in constant time. Never routed by nginx. */
function requireInternalSecret(secret: string) {
  const expected = digest(secret);
  return async (ctx: Context, next: Next) => {
    if (!timingSafeEqual(digest(ctx.get('x-internal-secret')), expected))
      throw new UnauthorizedError('internal route');
    ctx.set('cache-control', 'no-store');
    await next();
  };
}

/** What the export service asks before every download, and where it reports the outcome. */
export function internalRoutes(deps: InternalDeps): Router {
  const router = new Router({ prefix: '/internal/v1' });
  router.use(requireInternalSecret(deps.internalSecret));

  router.post('/grants', async (ctx) => {
    const { token, client, verificationCookie, purpose } = parseOrThrow(
      grantBodySchema,
      ctx.request.body,
      'grant request',
    );
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
    const verified = deps.tokens.isVerified(grant, verificationCookie);
    if (!verified) await refuse('not_verified', new VerificationRequiredError());
    const downloadsRemaining =
      grant.maxDownloads === null ? null : Math.max(0, grant.maxDownloads - grant.downloadsUsed);
    if (purpose === 'download') {
      if (!grant.allowDownload) await refuse('view_only', new DownloadRefusedError('view_only'));
      if (downloadsRemaining === 0) await refuse('limit_reached', new DownloadRefusedError('limit_reached'));
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
      defaultLanguage: config.defaultLanguage,
      verification: grant.verification,
      verified,
      allowDownload: grant.allowDownload && downloadsRemaining !== 0,
      downloadsRemaining,
      study: {
        patientName: study?.patient_name ?? '',
        studyDate: study?.study_date ?? '',
        description: study?.description ?? '',
        modalities: study?.modalities ?? [],
      },
    };
  });

  router.post('/access-events', async (ctx) => {
    const e = parseOrThrow(eventBodySchema, ctx.request.body, 'access event');
    await appendAccessEvent(deps.db, e);
    if (e.event === 'download_complete' && e.studyInstanceUid && e.bytes) {
      await recordExportSize(deps.db, e.studyInstanceUid, e.bytes);
    }
    // Only a completed download counts against maxDownloads; an aborted one leaves the allowance.
    if (e.event === 'download_complete' && e.tokenId) await countDownload(deps.db, e.tokenId);
    ctx.status = 204;
  });
  return router;
}
