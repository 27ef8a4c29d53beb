import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { clientOf, type StaffRouteDeps, sendPage } from '../shared/staff.context.js';
import { CsrfError } from '../shared/staff.errors.js';
import { readForm } from '../shared/staff.form.js';
import { st } from '../shared/staff.i18n.js';
import { field, parseForm } from '../shared/staff.schemas.js';
import { LocalSignInOffError } from './oidc.errors.js';
import { oidcRedirectUri, POST_LOGOUT_PATH } from './oidc.paths.js';
import { renderSignedOutPage, renderSignInPage } from './sign-in.page.js';
import {
  clearStaffCookie,
  currentSession,
  PRE_SESSION_COOKIE,
  readCookie,
  SESSION_COOKIE,
  safeNext,
  sameSecret,
  setStaffCookie,
} from './staff-auth.middleware.js';

const PRE_SESSION_SECONDS = 60 * 60;

const signInForm = z.object({
  username: field.pipe(
    z.string().trim().toLowerCase().min(1, st.t('signIn.usernameMissing')).max(64, st.t('form.tooLong')),
  ),
  password: field.pipe(z.string().min(1, st.t('signIn.passwordMissing')).max(256, st.t('form.tooLong'))),
  next: field,
});

/** GET/POST /staff/sign-in and POST /staff/sign-out (single sign-on's own routes: oidc.routes.ts). */
export function signInRoutes(router: Router, deps: StaffRouteDeps): void {
  const form = (ctx: Context, status: number, extra: Partial<Parameters<typeof renderSignInPage>[0]>) => {
    const pre = deps.signInCsrf.preSession(ctx);
    if (pre.fresh) setStaffCookie(ctx, deps.trustedProxies, PRE_SESSION_COOKIE, pre.id, PRE_SESSION_SECONDS);
    const reason = typeof ctx.query.reason === 'string' ? ctx.query.reason : undefined;
    sendPage(
      ctx,
      renderSignInPage({
        csrf: deps.signInCsrf.tokenFor(pre.id),
        next: safeNext(extra.next ?? (typeof ctx.query.next === 'string' ? ctx.query.next : undefined)),
        reason,
        local: deps.signInMethods.local,
        singleSignOn: deps.signInMethods.oidc !== null,
        ...extra,
      }),
      status,
    );
  };

  router.get('/sign-in', (ctx) => {
    if (currentSession(ctx)) {
      ctx.status = 303;
      ctx.redirect('/staff/studies');
      return;
    }
    form(ctx, 200, {});
  });

  router.post('/sign-in', async (ctx) => {
    // STAFF_LOCAL_SIGN_IN=false: no password is even looked at.
    if (!deps.signInMethods.local) throw new LocalSignInOffError();
    const body = await readForm(ctx);
    if (!deps.signInCsrf.verify(ctx, body._csrf)) {
      // Refused (403), with a fresh form so a user whose page sat open too long can simply retry.
      form(ctx, 403, {
        username: body.username ?? '',
        next: body.next,
        errors: { _form: st.t('signIn.formExpired') },
      });
      return;
    }
    const parsed = parseForm(signInForm, body);
    if (!parsed.ok) {
      form(ctx, 400, { username: body.username ?? '', errors: parsed.errors, next: body.next });
      return;
    }
    const { username, password, next } = parsed.data;
    const who = clientOf(ctx, deps.trustedProxies);
    const result = await deps.users.signIn(username, password, who);
    if (!result.ok) {
      if (result.reason === 'throttled') {
        ctx.set('retry-after', '900');
        form(ctx, 429, {
          username,
          next,
          errors: { _form: st.t('signIn.throttled') },
        });
        return;
      }
      form(ctx, 401, { username, next, errors: { _form: st.t('signIn.failed') } });
      return;
    }
    // A fresh session id on every sign-in: an id planted earlier (session fixation) is worthless.
    await deps.sessions.end(readCookie(ctx, SESSION_COOKIE));
    const session = await deps.sessions.start(result.user.id, who);
    setStaffCookie(ctx, deps.trustedProxies, SESSION_COOKIE, session.id);
    clearStaffCookie(ctx, deps.trustedProxies, PRE_SESSION_COOKIE);
    ctx.status = 303;
    ctx.redirect(safeNext(next));
  });

  router.post('/sign-out', async (ctx) => {
    const session = currentSession(ctx);
    let provider: string | null = null;
    if (session) {
      const body = await readForm(ctx);
      if (!body._csrf || !sameSecret(body._csrf, session.csrfToken)) throw new CsrfError();
      await deps.sessions.end(readCookie(ctx, SESSION_COOKIE));
      await deps.users.logSignOut(session.username, clientOf(ctx, deps.trustedProxies));
      // Signed in through the provider: its session ends too, where it offers an end-session endpoint.
      if (session.singleSignOn && deps.signInMethods.oidc) {
        const back = new URL(POST_LOGOUT_PATH, await oidcRedirectUri(deps)).toString();
        provider = await deps.signInMethods.oidc.endSessionUrl(back);
      }
    }
    clearStaffCookie(ctx, deps.trustedProxies, SESSION_COOKIE);
    if (provider) {
      sendPage(ctx, renderSignedOutPage(provider));
      return;
    }
    ctx.status = 303;
    ctx.redirect('/staff/sign-in?reason=signed-out');
  });
}
