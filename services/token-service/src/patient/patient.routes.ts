import type Router from '@koa/router';
import { tokenFromQuery } from '@studylink/contracts';
import { clientIp, createRouter, setPatientHeaders } from '@studylink/service-kit';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import { TokenNotFoundError } from '../errors.js';
import type { InvalidTokenGuard } from '../rate-limit/invalid-token.limiter.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import type { TokenService } from '../tokens/token.service.js';
import { renderStudyPage } from './patient.page.js';

export interface PatientDeps {
  db: Kysely<DB>;
  tokens: TokenService;
  serverConfig: ServerConfigService;
  invalidTokens: InvalidTokenGuard;
  trustedProxies: ReadonlySet<string>;
}

export function requestClientIp(ctx: Context, trusted: ReadonlySet<string>): string {
  return clientIp(ctx.req.socket.remoteAddress, ctx.get('x-real-ip') || undefined, trusted);
}

/**
 * The link in a patient URL (`/token?<token>`, `/token/viewer?<token>`), refused as the page refuses
 * it: a client over its invalid-token allowance learns nothing, not even about a valid token; an
 * unknown, malformed, revoked or expired one is logged and counted against the client.
 */
export async function resolvePatientLinkOrThrow(ctx: Context, deps: PatientDeps) {
  // Tracking parameters a mail system appended (`&utm_source=...`) are not part of the token.
  const token = tokenFromQuery(ctx.querystring);
  const who = { clientIp: requestClientIp(ctx, deps.trustedProxies), userAgent: ctx.get('user-agent') };
  await deps.invalidTokens.checkOrThrow(who);
  try {
    return { token, who, grant: await deps.tokens.resolveOrThrow(token) };
  } catch (err) {
    if (err instanceof TokenNotFoundError) {
      await appendAccessEvent(deps.db, { event: 'invalid_token', outcome: 'not_found', ...who });
      // Throws the 429 instead when this guess is the one over the allowance.
      await deps.invalidTokens.recordInvalid(who);
    }
    throw err;
  }
}

/**
 * `GET /token?<token>`: koa would parse `?TOKEN` as `{TOKEN: ''}`, so the raw query string is
 * the token. GET and HEAD only read the database (and QIDO-RS): link scanners that fetch the
 * page never start an export.
 */
export function patientRoutes(deps: PatientDeps): Router {
  const router = createRouter();
  router.get('/token', async (ctx) => {
    setPatientHeaders(ctx);
    const { token, who, grant } = await resolvePatientLinkOrThrow(ctx, deps);
    const [study, config] = await Promise.all([deps.tokens.studyForPage(grant), deps.serverConfig.get()]);
    await appendAccessEvent(deps.db, {
      event: 'page_view',
      outcome: ctx.method === 'HEAD' ? 'head' : 'ok',
      tokenId: grant.tokenId,
      studyInstanceUid: grant.studyInstanceUid,
      ...who,
    });
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderStudyPage({ token, study, config, clientIp: who.clientIp });
  });
  return router;
}
