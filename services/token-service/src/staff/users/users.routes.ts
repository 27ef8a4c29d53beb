import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { parseOrThrow } from '../../http/validate.js';
import { requireAdmin, requireSignedIn, sessionOrThrow } from '../session/staff-auth.middleware.js';
import {
  actorOf,
  flashOf,
  redirectDone,
  type StaffRouteDeps,
  sendPage,
  timeZoneOf,
} from '../shared/staff.context.js';
import { SingleSignOnUserError, UsernameTakenError } from '../shared/staff.errors.js';
import { readForm } from '../shared/staff.form.js';
import { st } from '../shared/staff.i18n.js';
import {
  field,
  idParamSchema,
  parseForm,
  passwordSchema,
  roleSchema,
  usernameSchema,
} from '../shared/staff.schemas.js';
import { renderPasswordPage, renderUsersPage } from './users.page.js';

const newUserSchema = z.object({
  username: field.pipe(usernameSchema),
  role: field.pipe(roleSchema),
  password: field.pipe(passwordSchema),
});

const passwordFormSchema = z.object({ password: field.pipe(passwordSchema) });

/** Users (admins only): list, create, disable / enable, reset password. */
export function usersRoutes(router: Router, deps: StaffRouteDeps): void {
  const idOf = (ctx: Context) => parseOrThrow(idParamSchema, ctx.params, 'user id').id;

  router.get('/users', requireSignedIn, requireAdmin, async (ctx) => {
    sendPage(
      ctx,
      renderUsersPage({
        session: sessionOrThrow(ctx),
        timeZone: await timeZoneOf(deps),
        users: await deps.users.list(),
        flash: flashOf(ctx),
      }),
    );
  });

  router.post('/users', requireSignedIn, requireAdmin, async (ctx) => {
    const body = await readForm(ctx);
    const rerender = async (errors: Record<string, string>, status: number) =>
      sendPage(
        ctx,
        renderUsersPage({
          session: sessionOrThrow(ctx),
          timeZone: await timeZoneOf(deps),
          users: await deps.users.list(),
          form: { username: body.username ?? '', role: body.role ?? 'staff' },
          errors,
        }),
        status,
      );
    const parsed = parseForm(newUserSchema, body);
    if (!parsed.ok) return rerender(parsed.errors, 400);
    try {
      await deps.users.create(parsed.data, actorOf(ctx, deps.trustedProxies));
    } catch (err) {
      if (err instanceof UsernameTakenError)
        return rerender({ username: st.t('users.error.usernameTaken') }, 409);
      throw err;
    }
    redirectDone(ctx, '/staff/users', 'user-created');
  });

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    router.post(`/users/:id/${action}`, requireSignedIn, requireAdmin, async (ctx) => {
      await deps.users.setDisabled(idOf(ctx), disabled, actorOf(ctx, deps.trustedProxies));
      redirectDone(ctx, '/staff/users', disabled ? 'user-disabled' : 'user-enabled');
    });
  }

  router.get('/users/:id/password', requireSignedIn, requireAdmin, async (ctx) => {
    const user = await deps.users.getOrThrow(idOf(ctx));
    // A user of the identity provider has no password here (resetPassword refuses the POST too).
    if (user.oidc_subject !== null) throw new SingleSignOnUserError();
    sendPage(ctx, renderPasswordPage({ session: sessionOrThrow(ctx), user }));
  });

  router.post('/users/:id/password', requireSignedIn, requireAdmin, async (ctx) => {
    const id = idOf(ctx);
    const user = await deps.users.getOrThrow(id);
    const parsed = parseForm(passwordFormSchema, await readForm(ctx));
    if (!parsed.ok) {
      sendPage(ctx, renderPasswordPage({ session: sessionOrThrow(ctx), user, errors: parsed.errors }), 400);
      return;
    }
    await deps.users.resetPassword(id, parsed.data.password, actorOf(ctx, deps.trustedProxies));
    // Resetting one's own password ends one's own session too.
    if (id === sessionOrThrow(ctx).userId) {
      ctx.status = 303;
      ctx.redirect('/staff/sign-in?reason=signed-out');
      return;
    }
    redirectDone(ctx, '/staff/users', 'password-reset');
  });
}
