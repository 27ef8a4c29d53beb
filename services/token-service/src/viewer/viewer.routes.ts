import type Router from '@koa/router';
import { tokenFromQuery, VERIFICATION_COOKIE, VIEWER_PATH } from '@studylink/contracts';
import {
  cookieValue,
  createRouter,
  patientTranslator,
  requesterOf,
  ServiceUnavailableError,
  setPatientHeaders,
} from '@studylink/service-kit';
import type { Context } from 'koa';
import { VerificationRequiredError } from '../errors.js';
import type { LinkAccess, OpenedLink } from '../link-access/link-access.js';
import { senderOf } from '../patient/sender.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { VIEWER_ASSET_PREFIX, type ViewerAssets } from './viewer.assets.js';
import { renderViewerPage, VIEWER_CSP } from './viewer.page.js';

export { VIEWER_PATH };

export interface ViewerDeps {
  links: LinkAccess;
  serverConfig: ServerConfigService;
  trustedProxies: ReadonlySet<string>;
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
    const config = await deps.serverConfig.get();
    // Its pages and error pages fall back to the server setup's language, as the study page's do.
    ctx.state.defaultLanguage = config.defaultLanguage;
    const token = tokenFromQuery(ctx.querystring);
    let opened: OpenedLink;
    try {
      opened = await deps.links.open(token, requesterOf(ctx, deps.trustedProxies), {
        purpose: 'viewer',
        verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
        head: ctx.method === 'HEAD',
      });
    } catch (err) {
      // A link with a second factor shows nothing before its right answer: back to its form.
      if (!(err instanceof VerificationRequiredError)) throw err;
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
    ctx.set('content-security-policy', VIEWER_CSP);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderViewerPage({
      token,
      studyInstanceUid: opened.link.studyInstanceUid,
      study: opened.study,
      assets: deps.viewerAssets,
      // The page's language: the switcher's cookie, Accept-Language, the server's default.
      t: patientTranslator(ctx),
      // View-only links and links past their download limit: the viewer works, without a zip link
      // and without asking for whole instances (the gateway refuses them).
      download: opened.may.download,
      originalFiles: opened.may.viewFiles,
      sender: senderOf(config, opened.study?.institution_name),
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
