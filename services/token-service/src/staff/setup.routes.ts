import type Router from '@koa/router';
import { LANGUAGES } from '@studylink/i18n';
import { ValidationError } from '@studylink/service-kit';
import { z } from 'zod';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import { SETUP_ENV } from '../server-config/server-config.service.js';
import { type EnvLocks, renderSetupPage, type SetupForm, setupFormOf } from './setup.page.js';
import { actorOf, flashOf, redirectDone, type StaffRouteDeps, sendPage } from './staff.context.js';
import { readForm } from './staff.form.js';
import { checkbox, type FieldErrors, field, issuesToFieldErrors, parseForm } from './staff.schemas.js';
import { requireAdmin, requireSignedIn, sessionOrThrow } from './staff-auth.middleware.js';

/** Form strings to the shapes ServerConfigService.update validates; the rules live there. */
const setupFormSchema = z.object({
  institution: field,
  department: field,
  publicAddress: field,
  localAddress: field,
  port: field.pipe(
    z
      .string()
      .trim()
      .regex(/^\d{1,5}$/, 'enter a port number from 1 to 65535')
      .transform(Number),
  ),
  serverName: field,
  ssl: checkbox,
  zipContent: field.pipe(z.enum(['as-stored', 'jpeg-lossless'], { message: 'choose what the zip contains' })),
  viewerUrl: field,
  defaultExpiryDays: field.pipe(
    z
      .string()
      .trim()
      .regex(/^(\d{1,5})?$/, 'enter a number of days, or leave it blank')
      .transform((v) => (v === '' ? null : Number(v))),
  ),
  // Absent (an older form): left as they are.
  defaultVerification: field.pipe(
    z.union([
      z.literal('').transform(() => undefined),
      z.enum(['none', 'birth-date', 'pin'], { message: 'choose the default patient check' }),
    ]),
  ),
  defaultLanguage: field.pipe(
    z.union([
      z.literal('').transform(() => undefined),
      z.enum(LANGUAGES, { message: 'choose a language from the list' }),
    ]),
  ),
});

function rawForm(body: Record<string, string>): SetupForm {
  const s = (k: string) => body[k] ?? '';
  return {
    institution: s('institution'),
    department: s('department'),
    publicAddress: s('publicAddress'),
    localAddress: s('localAddress'),
    port: s('port'),
    serverName: s('serverName'),
    ssl: body.ssl !== undefined,
    zipContent: s('zipContent'),
    viewerUrl: s('viewerUrl'),
    defaultExpiryDays: s('defaultExpiryDays'),
    defaultVerification: s('defaultVerification'),
    defaultLanguage: s('defaultLanguage'),
  };
}

/** The form values of the fields the environment sets, as they are now (ssl aside: a checkbox). */
function lockedValues(c: ServerConfig, locks: EnvLocks): Partial<Record<string, string>> {
  const form = setupFormOf(c);
  return Object.fromEntries(
    Object.keys(locks)
      .filter((k) => k !== 'ssl')
      .map((k) => [k, String(form[k as keyof SetupForm])]),
  );
}

function changedFields(before: ServerConfig, after: ServerConfig): Array<keyof ServerConfig> {
  return (Object.keys(after) as Array<keyof ServerConfig>).filter((k) => before[k] !== after[k]);
}

/** GET/POST /staff/setup (admins): the server-address setup, validated by ServerConfigService. */
export function setupRoutes(router: Router, deps: StaffRouteDeps): void {
  const locks = (): EnvLocks =>
    Object.fromEntries(deps.serverConfig.environmentFields().map((f) => [f, SETUP_ENV[f]]));
  router.get('/setup', requireSignedIn, requireAdmin, async (ctx) => {
    const saved = await deps.serverConfig.get();
    sendPage(
      ctx,
      renderSetupPage({
        session: sessionOrThrow(ctx),
        saved,
        form: setupFormOf(saved),
        flash: flashOf(ctx),
        locks: locks(),
      }),
    );
  });

  router.post('/setup', requireSignedIn, requireAdmin, async (ctx) => {
    const body = await readForm(ctx);
    const before = await deps.serverConfig.get();
    const rerender = (errors: FieldErrors) =>
      sendPage(
        ctx,
        renderSetupPage({
          session: sessionOrThrow(ctx),
          saved: before,
          form: { ...rawForm(body), ...lockedValues(before, locks()) },
          errors,
          locks: locks(),
        }),
        400,
      );
    // The fields the environment sets are not the form's to change (a disabled checkbox is not even
    // sent): they are taken as they are.
    const current = setupFormOf(before);
    const filled = { ...body, ...lockedValues(before, locks()) } as Record<string, string>;
    if (locks().ssl) {
      if (current.ssl) filled.ssl = '1';
      else delete filled.ssl;
    }
    const parsed = parseForm(setupFormSchema, filled);
    if (!parsed.ok) return rerender(parsed.errors);
    let after: ServerConfig;
    try {
      // Fields set in the environment are shown read-only and left alone; a blank default patient
      // check or language (an older form) is left as it is.
      const fixed = new Set(deps.serverConfig.environmentFields());
      after = await deps.serverConfig.update(
        Object.fromEntries(
          Object.entries(parsed.data).filter(
            ([k, v]) => !fixed.has(k as keyof ServerConfig) && v !== undefined,
          ),
        ),
      );
    } catch (err) {
      if (err instanceof ValidationError && Array.isArray(err.details)) {
        return rerender(issuesToFieldErrors(err.details as Array<{ path: PropertyKey[]; message: string }>));
      }
      throw err;
    }
    const changed = changedFields(before, after);
    if (changed.length > 0) {
      const who = actorOf(ctx, deps.trustedProxies);
      await appendAccessEvent(deps.db, {
        event: 'config_changed',
        outcome: 'ok',
        actor: who.actor,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
        detail: Object.fromEntries(changed.map((k) => [k, { from: before[k], to: after[k] }])),
      });
    }
    redirectDone(ctx, '/staff/setup', 'setup');
  });
}
