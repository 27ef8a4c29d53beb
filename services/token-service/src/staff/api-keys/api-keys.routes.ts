import type Router from '@koa/router';
import { z } from 'zod';
import { appendAccessEvent } from '../../access-log/access-log.repository.js';
import { disableApiKey, listApiKeys } from '../../api-keys/api-key.repository.js';
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
import { ApiKeyNotFoundError } from '../shared/staff.errors.js';
import { readForm } from '../shared/staff.form.js';
import { st } from '../shared/staff.i18n.js';
import { field, idParamSchema, parseForm } from '../shared/staff.schemas.js';
import { ACCESS_CHOICES, renderApiKeysPage, renderNewKeyPage, scopesOfAccess } from './api-keys.page.js';

const newKeySchema = z.object({
  name: field.pipe(
    z
      .string()
      .trim()
      .min(1, st.t('apiKeys.error.nameMissing'))
      .max(100, st.t('apiKeys.error.nameTooLong', { max: 100 }))
      .regex(/^[^\p{Cc}]*$/u, st.t('apiKeys.error.controlCharacters')),
  ),
  // `access` names the scope set; the older `role` form field (integrator/admin) still works.
  access: field.pipe(z.enum(ACCESS_CHOICES, { message: st.t('apiKeys.error.accessMissing') })),
});

function formAccess(body: Record<string, string | undefined>): string | undefined {
  if (body.access !== undefined) return body.access;
  if (body.role === 'integrator') return 'tokens';
  if (body.role === 'admin') return 'admin';
  return body.role;
}

/** API keys (admins only): list, create (shown once), disable. */
export function apiKeysRoutes(router: Router, deps: StaffRouteDeps): void {
  router.get('/api-keys', requireSignedIn, requireAdmin, async (ctx) => {
    sendPage(
      ctx,
      renderApiKeysPage({
        session: sessionOrThrow(ctx),
        timeZone: await timeZoneOf(deps),
        keys: await listApiKeys(deps.db),
        flash: flashOf(ctx),
      }),
    );
  });

  router.post('/api-keys', requireSignedIn, requireAdmin, async (ctx) => {
    const body = await readForm(ctx);
    const parsed = parseForm(newKeySchema, { ...body, access: formAccess(body) });
    if (!parsed.ok) {
      sendPage(
        ctx,
        renderApiKeysPage({
          session: sessionOrThrow(ctx),
          timeZone: await timeZoneOf(deps),
          keys: await listApiKeys(deps.db),
          form: { name: body.name ?? '', access: formAccess(body) ?? 'tokens' },
          errors: parsed.errors,
        }),
        400,
      );
      return;
    }
    const who = actorOf(ctx, deps.trustedProxies);
    const scopes = scopesOfAccess(parsed.data.access);
    const created = await deps.apiKeys.create(parsed.data.name, scopes, who.actor);
    await appendAccessEvent(deps.db, {
      event: 'api_key_created',
      outcome: 'ok',
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
      detail: {
        keyId: created.id,
        name: parsed.data.name,
        role: scopes.includes('admin') ? 'admin' : 'integrator',
        scopes,
      },
    });
    // Shown in the answer to the POST, never behind a GET: a reload or the history cannot bring it back.
    sendPage(
      ctx,
      renderNewKeyPage({ session: sessionOrThrow(ctx), name: parsed.data.name, key: created.key }),
      201,
    );
  });

  router.post('/api-keys/:id/disable', requireSignedIn, requireAdmin, async (ctx) => {
    const { id } = parseOrThrow(idParamSchema, ctx.params, 'key id');
    const who = actorOf(ctx, deps.trustedProxies);
    const key = await disableApiKey(deps.db, id, who.actor);
    if (!key) throw new ApiKeyNotFoundError();
    if (!key.alreadyDisabled) {
      await appendAccessEvent(deps.db, {
        event: 'api_key_disabled',
        outcome: 'ok',
        actor: who.actor,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
        detail: { keyId: id, name: key.name },
      });
    }
    redirectDone(ctx, '/staff/api-keys', 'key-disabled');
  });
}
