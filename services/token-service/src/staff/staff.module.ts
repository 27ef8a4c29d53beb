import type Router from '@koa/router';
import { pickStaffLanguage } from '@studylink/i18n';
import { createRouter, errorHandler, type Logger } from '@studylink/service-kit';
import type { Context, Middleware, Next } from 'koa';
import type { Kysely } from 'kysely';
import type { ApiKeyService } from '../api-keys/api-key.service.js';
import { isDatabaseUnavailable } from '../db/database.js';
import type { DB } from '../db/tables.js';
import type { DeliveryService } from '../deliveries/delivery.service.js';
import { DatabaseUnavailableError } from '../errors.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import type { ShareService } from '../sharing/share.service.js';
import { STAFF_CSS, STAFF_JS } from '../static-assets.js';
import type { TokenService } from '../tokens/token.service.js';
import { accessLogRoutes } from './access-log/access-log.routes.js';
import { apiKeysRoutes } from './api-keys/api-keys.routes.js';
import { findUserLanguage } from './language/language.repository.js';
import { languageRoutes } from './language/language.routes.js';
import { linksRoutes } from './links/links.routes.js';
import { OidcClient, type OidcSettings } from './session/oidc.client.js';
import { oidcRoutes } from './session/oidc.routes.js';
import { StaffOidcService } from './session/oidc.service.js';
import type { ScryptParams } from './session/password.hasher.js';
import { signInRoutes } from './session/sign-in.routes.js';
import { currentSession, loadSession, SignInCsrf } from './session/staff-auth.middleware.js';
import { type SessionPolicy, StaffSessionService } from './session/staff-session.service.js';
import { setupRoutes } from './setup/setup.routes.js';
import type { StaffRouteDeps } from './shared/staff.context.js';
import { inStaffLanguage, st, useStaffLanguage } from './shared/staff.i18n.js';
import { renderStaffErrorPage } from './shared/staff.page-errors.js';
import { studiesRoutes } from './studies/studies.routes.js';
import { StudyFinder } from './studies/study-finder.service.js';
import type { StudySearch } from './studies/study-search.source.js';
import { DEFAULT_SIGN_IN_POLICY, type SignInPolicy, StaffUserService } from './users/staff-user.service.js';
import { usersRoutes } from './users/users.routes.js';

export interface StaffModuleDeps {
  db: Kysely<DB>;
  log: Logger;
  tokens: TokenService;
  serverConfig: ServerConfigService;
  apiKeys: ApiKeyService;
  studySearch: StudySearch;
  trustedProxies: ReadonlySet<string>;
  /** Keys the sign-in form's CSRF HMAC (through HKDF); the internal secret serves. */
  secret: string;
  sessions: SessionPolicy;
  signIn?: SignInPolicy;
  /** The scrypt cost of new password hashes (default N = 2^15, r = 8, p = 1); tests lower it. */
  scrypt?: ScryptParams;
  /** Local passwords (default on) and single sign-on through an OpenID provider (default none). */
  signInMethods?: { local: boolean; oidc: { settings: OidcSettings; clientSecret: string } | null };
  /** The clock of the single sign-on's checks (the ID token's times, a sign-in's 10 minutes). */
  now?: () => number;
  /** E-mail/SMS delivery of links (the study page's "Send to the patient"). */
  deliveries?: DeliveryService | undefined;
  /** Share onward: the links a patient shared, listed on the study page. */
  shares?: ShareService | undefined;
}

export interface StaffModule {
  users: StaffUserService;
  /** The staff search and its index (main walks the store on a timer with it). */
  finder: StudyFinder;
  sessions: StaffSessionService;
  /** Serves everything under /staff; passes every other path on. */
  middleware: Middleware;
  /** The routes it dispatches, for the route-walking tests. */
  router: Router;
}

// The strict CSP of the patient page, plus same-origin script and data: images.
const STAFF_CSP =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

function setStaffHeaders(ctx: Context): void {
  ctx.set('cache-control', 'no-store');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('content-security-policy', STAFF_CSP);
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('x-frame-options', 'DENY');
  ctx.set('x-robots-tag', 'noindex, nofollow');
}

function asset(router: Router, path: string, type: string, body: string): void {
  router.get(path, (ctx) => {
    ctx.type = type;
    // Short-lived: a new release's file is picked up within minutes without a cache-busting build.
    ctx.set('cache-control', 'public, max-age=300');
    ctx.body = body;
  });
}

/** The staff web interface under /staff: sign-in, studies and links, setup, users, API keys, log. */
export function createStaffModule(deps: StaffModuleDeps): StaffModule {
  const users = new StaffUserService(deps.db, deps.signIn ?? DEFAULT_SIGN_IN_POLICY, deps.scrypt);
  const local = deps.signInMethods?.local ?? true;
  const sessions = new StaffSessionService(deps.db, deps.sessions, local);
  const oidcDeps = deps.signInMethods?.oidc;
  const oidc = oidcDeps
    ? new StaffOidcService(
        deps.db,
        new OidcClient(oidcDeps.settings, oidcDeps.clientSecret, deps.now),
        deps.log,
        deps.now,
      )
    : null;
  const finder = new StudyFinder(deps.db, deps.studySearch, deps.log.child({ module: 'study-index' }));
  const routeDeps: StaffRouteDeps = {
    db: deps.db,
    log: deps.log,
    tokens: deps.tokens,
    serverConfig: deps.serverConfig,
    apiKeys: deps.apiKeys,
    studySearch: deps.studySearch,
    finder,
    users,
    sessions,
    signInCsrf: new SignInCsrf(deps.secret),
    trustedProxies: deps.trustedProxies,
    signInMethods: { local, oidc },
    deliveries: deps.deliveries,
    shares: deps.shares,
  };

  const router = createRouter({ prefix: '/staff' });
  asset(router, '/assets/staff.css', 'text/css; charset=utf-8', STAFF_CSS);
  asset(router, '/assets/staff.js', 'text/javascript; charset=utf-8', STAFF_JS);
  // The interface's front door, with and without its slash (the router matches paths exactly).
  const home = (ctx: Context) => {
    ctx.status = 303;
    ctx.redirect('/staff/studies');
  };
  router.get('/', home);
  signInRoutes(router, routeDeps);
  oidcRoutes(router, routeDeps);
  studiesRoutes(router, routeDeps);
  linksRoutes(router, routeDeps);
  accessLogRoutes(router, routeDeps);
  setupRoutes(router, routeDeps);
  usersRoutes(router, routeDeps);
  apiKeysRoutes(router, routeDeps);
  languageRoutes(router, routeDeps);
  const dispatch = router.routes();
  const withSession = loadSession(sessions);

  const notFound = async (ctx: Context) => {
    ctx.status = 404;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderStaffErrorPage(404, null, currentSession(ctx));
  };

  // The service-kit error handler (the same mapping of errors to statuses as everywhere), with the
  // staff error page as its answer; a database outage is a 503.
  const handleErrors = errorHandler({
    render: (ctx, status, body) => {
      setStaffHeaders(ctx);
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = renderStaffErrorPage(status, body.error.code, currentSession(ctx));
      return true;
    },
  });

  const middleware: Middleware = async (ctx: Context, next: Next) => {
    if (ctx.path !== '/staff' && !ctx.path.startsWith('/staff/')) return next();
    setStaffHeaders(ctx);
    if (ctx.path === '/staff' && (ctx.method === 'GET' || ctx.method === 'HEAD')) return home(ctx);
    // The pages' language: the browser's at first, the one kept with the account once signed in.
    const browserLanguage = pickStaffLanguage({ acceptLanguage: ctx.get('accept-language') });
    await inStaffLanguage(browserLanguage, () =>
      handleErrors(ctx, async () => {
        try {
          // The router's context type adds params; koa's plain Context is what it gets at run time.
          const route = () => dispatch(ctx as Parameters<typeof dispatch>[0], () => notFound(ctx));
          const inAccountLanguage = async () => {
            const session = currentSession(ctx);
            if (session) {
              const chosen = await findUserLanguage(deps.db, session.userId);
              if (chosen) useStaffLanguage(pickStaffLanguage({ chosen, acceptLanguage: null }));
            }
            ctx.set('content-language', st.lang);
            await route();
          };
          // The stylesheet and script need no session: no database query for them.
          await (ctx.path.startsWith('/staff/assets/') ? route() : withSession(ctx, inAccountLanguage));
        } catch (err) {
          throw isDatabaseUnavailable(err) ? new DatabaseUnavailableError() : err;
        }
      }),
    );
  };

  return { users, finder, sessions, middleware, router };
}
