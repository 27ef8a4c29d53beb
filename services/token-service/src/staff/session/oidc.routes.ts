import type Router from '@koa/router';
import type { Context } from 'koa';
import { clientOf, type StaffRouteDeps, sendPage } from '../shared/staff.context.js';
import { oidcRedirectUri } from './oidc.paths.js';
import { renderSignedInPage } from './sign-in.page.js';
import {
  clearStaffCookie,
  PRE_SESSION_COOKIE,
  readCookie,
  SESSION_COOKIE,
  safeNext,
  setStaffCookie,
} from './staff-auth.middleware.js';

/** The browser's half of a sign-in under way at the provider (the table holds its hash). */
export const OIDC_COOKIE = 'studylink_staff_oidc';
// Sent only to the callback: Lax, because the provider's redirect there is a navigation from its site.
const OIDC_COOKIE_PATH = '/staff/sign-in/oidc';
const OIDC_COOKIE_SECONDS = 10 * 60;

/** GET /staff/sign-in/oidc (to the provider) and its callback. Absent without STAFF_OIDC_ISSUER. */
export function oidcRoutes(router: Router, deps: StaffRouteDeps): void {
  const oidc = deps.signInMethods.oidc;
  if (!oidc) return;
  const lax = { path: OIDC_COOKIE_PATH };

  router.get('/sign-in/oidc', async (ctx: Context) => {
    const next = safeNext(typeof ctx.query.next === 'string' ? ctx.query.next : undefined);
    const { loginId, url } = await oidc.begin(next, await oidcRedirectUri(deps));
    setStaffCookie(ctx, deps.trustedProxies, OIDC_COOKIE, loginId, OIDC_COOKIE_SECONDS, lax);
    ctx.status = 303;
    ctx.redirect(url);
  });

  router.get('/sign-in/oidc/callback', async (ctx: Context) => {
    const loginId = readCookie(ctx, OIDC_COOKIE);
    // The cookie is spent whatever the outcome: a new sign-in starts afresh.
    if (loginId) setStaffCookie(ctx, deps.trustedProxies, OIDC_COOKIE, '', 0, lax);
    const who = clientOf(ctx, deps.trustedProxies);
    // ctx.querystring, not ctx.query: the code and state as they came, without koa's parsing.
    const { user, next } = await oidc.complete(loginId, new URLSearchParams(ctx.querystring), who);
    // A fresh session id on every sign-in, as with a password.
    await deps.sessions.end(readCookie(ctx, SESSION_COOKIE));
    const session = await deps.sessions.start(user.id, who);
    setStaffCookie(ctx, deps.trustedProxies, SESSION_COOKIE, session.id);
    clearStaffCookie(ctx, deps.trustedProxies, PRE_SESSION_COOKIE);
    // A page that moves on by itself rather than a redirect: this request came from the provider's
    // site, and a browser keeps SameSite=Strict cookies (the session's) off a redirect chain that
    // began on another site. The page's own navigation is same-site, so the session goes with it.
    sendPage(ctx, renderSignedInPage(next));
  });
}
