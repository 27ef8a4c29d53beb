import type Router from '@koa/router';
import { tokenFromQuery, VIEWER_PATH } from '@studylink/contracts';
import { createRouter, ServiceUnavailableError, setPatientHeaders } from '@studylink/service-kit';
import type { Context } from 'koa';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import { TokenNotFoundError } from '../errors.js';
import { type PatientDeps, requestClientIp } from '../patient/patient.routes.js';
import type { TokenService } from '../tokens/token.service.js';
import { cookieValue, VERIFICATION_COOKIE } from '../tokens/verification.cookie.js';
import { VIEWER_ASSET_PREFIX, type ViewerAssets } from './viewer.assets.js';
import { renderViewerPage, VIEWER_CSP } from './viewer.page.js';

export { VIEWER_PATH };

export interface ViewerDeps extends PatientDeps {
  /** The built viewer; null when `make build` did not make one (the page is then a 503). */
  viewerAssets: ViewerAssets | null;
}

/**
 * `GET /token/viewer?<token>`: the viewer page, refused exactly like the patient page (same checks,
 * same guessing limit, same 404), with the page's headers and a CSP that lets the bundle's script,
 * workers and WebAssembly run. One `viewer_opened` event per opening; the images then come from the
 * export service's gateway. `GET /assets/viewer/<hash>/<file>`: the bundle, immutable.
 */
export function viewerRoutes(deps: ViewerDeps): Router {
  const router = createRouter();
  router.get(VIEWER_PATH, async (ctx: Context) => {
    setPatientHeaders(ctx);
    // The same checks as the page: tracking parameters are not part of the token, the guessing limit
    // first, a miss logged and counted against the client.
    const token = tokenFromQuery(ctx.querystring);
    const who = { clientIp: requestClientIp(ctx, deps.trustedProxies), userAgent: ctx.get('user-agent') };
    await deps.invalidTokens.checkOrThrow(who);
    let grant: Awaited<ReturnType<TokenService['resolveOrThrow']>>;
    try {
      grant = await deps.tokens.resolveOrThrow(token);
    } catch (err) {
      if (err instanceof TokenNotFoundError) {
        await appendAccessEvent(deps.db, { event: 'invalid_token', outcome: 'not_found', ...who });
        // Throws the 429 instead when this guess is the one over the allowance.
        await deps.invalidTokens.recordInvalid(who);
      }
      throw err;
    }
    // A link with a second factor shows nothing before it is answered: the page asks for it.
    if (
      grant.verification !== 'none' &&
      !deps.tokens.isVerified(grant, cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE))
    ) {
      ctx.status = 303;
      ctx.redirect(`/token?${token}`);
      return;
    }
    if (!deps.viewerAssets)
      throw new ServiceUnavailableError(
        'the image viewer is not installed on this server',
        60,
        'viewer_missing',
      );
    const study = await deps.tokens.studyForPage(grant);
    await appendAccessEvent(deps.db, {
      event: 'viewer_opened',
      outcome: ctx.method === 'HEAD' ? 'head' : 'ok',
      tokenId: grant.tokenId,
      studyInstanceUid: grant.studyInstanceUid,
      ...who,
    });
    ctx.set('content-security-policy', VIEWER_CSP);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderViewerPage({
      token,
      studyInstanceUid: grant.studyInstanceUid,
      study,
      assets: deps.viewerAssets,
      canDownload:
        grant.allowDownload && (grant.maxDownloads === null || grant.downloadsUsed < grant.maxDownloads),
    });
  });

  router.get(`${VIEWER_ASSET_PREFIX}:hash/:file`, (ctx) => {
    const assets = deps.viewerAssets;
    const file =
      assets &&
      `${VIEWER_ASSET_PREFIX}${ctx.params.hash}/` === assets.base &&
      assets.files.get(ctx.params.file ?? '');
    if (!file) {
      ctx.status = 404;
      ctx.set('cache-control', 'no-store');
      ctx.body = { error: { code: 'not_found', message: 'no such file' } };
      return;
    }
    ctx.set('cache-control', 'public, max-age=31536000, immutable');
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('cross-origin-resource-policy', 'same-origin');
    ctx.type = file.type;
    ctx.body = file.body;
  });
  return router;
}
