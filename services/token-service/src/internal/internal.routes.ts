import type Router from '@koa/router';
import {
  accessEventBodySchema,
  grantRequestSchema,
  INTERNAL_ACCESS_EVENTS_PATH,
  INTERNAL_GRANTS_PATH,
} from '@studylink/contracts';
import { createRouter, requireSharedSecret } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import { TokenNotFoundError } from '../errors.js';
import { parseOrThrow } from '../http/validate.js';
import type { InvalidTokenGuard } from '../rate-limit/invalid-token.limiter.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { recordExportSize } from '../studies/study.repository.js';
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
    const { token, client } = parseOrThrow(grantRequestSchema, ctx.request.body, 'grant request');
    const who = client ? { clientIp: client.ip, userAgent: client.userAgent } : null;
    if (who) await deps.invalidTokens.checkOrThrow(who);
    let grant: Awaited<ReturnType<TokenService['resolveOrThrow']>>;
    try {
      grant = await deps.tokens.resolveOrThrow(token ?? '');
    } catch (err) {
      if (who && err instanceof TokenNotFoundError) await deps.invalidTokens.recordInvalid(who);
      throw err;
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
    ctx.status = 204;
  });
  return router;
}
