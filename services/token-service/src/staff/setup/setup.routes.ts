import type Router from '@koa/router';
import { LANGUAGES, type StaffMessageKey } from '@studylink/i18n';
import { ValidationError } from '@studylink/service-kit';
import type { Context } from 'koa';
import { z } from 'zod';
import { appendAccessEvent } from '../../access-log/access-log.repository.js';
import { InvalidLogoError } from '../../server-config/logo.js';
import { SETUP_RULES, type ServerConfig } from '../../server-config/server-config.schema.js';
import { SETUP_ENV } from '../../server-config/server-config.service.js';
import { oidcRedirectUri } from '../session/oidc.paths.js';
import { requireAdmin, requireSignedIn, sessionOrThrow } from '../session/staff-auth.middleware.js';
import { actorOf, flashOf, redirectDone, type StaffRouteDeps, sendPage } from '../shared/staff.context.js';
import { formFiles, readForm } from '../shared/staff.form.js';
import { st } from '../shared/staff.i18n.js';
import {
  checkbox,
  type FieldErrors,
  field,
  issuesToFieldErrors,
  parseForm,
} from '../shared/staff.schemas.js';
import {
  type EnvLocks,
  renderSetupPage,
  type SetupForm,
  type SignInSetup,
  setupFormOf,
} from './setup.page.js';

/** Form strings to the shapes ServerConfigService.update validates; the rules live there. */
const setupFormSchema = z.object({
  // Patients are told who sent their link: the staff setup does not save without it.
  institution: field.pipe(z.string().refine((v) => v.trim() !== '', st.t('setup.error.institutionRequired'))),
  department: field,
  publicAddress: field,
  localAddress: field,
  port: field.pipe(
    z
      .string()
      .trim()
      .regex(/^\d{1,5}$/, st.t('setup.error.port'))
      .transform(Number),
  ),
  serverName: field,
  ssl: checkbox,
  zipContent: field.pipe(z.enum(['as-stored', 'jpeg-lossless'], { message: st.t('setup.error.zipContent') })),
  viewerUrl: field,
  defaultExpiryDays: field.pipe(
    z
      .string()
      .trim()
      .regex(/^(\d{1,5})?$/, st.t('setup.error.defaultExpiryDays'))
      .transform((v) => (v === '' ? null : Number(v))),
  ),
  // Absent (an older form): left as they are. The message is the union's: a value that is neither
  // blank nor one of the list fails both members, and zod reports that as the union's issue.
  defaultVerification: field.pipe(
    z.union([z.literal('').transform(() => undefined), z.enum(['none', 'birth-date', 'pin'])], {
      message: st.t('setup.error.defaultVerification'),
    }),
  ),
  defaultLanguage: field.pipe(
    z.union([z.literal('').transform(() => undefined), z.enum(LANGUAGES)], {
      message: st.t('setup.error.defaultLanguage'),
    }),
  ),
  // Absent (an older form): left as they are; blank clears them.
  contactPhone: z.string().optional(),
  contactEmail: z.string().optional(),
  // Blank (an older form): left as it is.
  timeZone: field.transform((v) => (v.trim() === '' ? undefined : v)),
  reportsOnPage: checkbox,
  allowOnwardDownloads: checkbox,
});

/**
 * ServerConfigService's messages are the API's (English, for integrators); the page says the same
 * from the staff catalogue. A rule the map does not know gets a generic message rather than English
 * from the service or zod.
 */
const SERVICE_MESSAGES: Readonly<Record<string, StaffMessageKey>> = {
  [SETUP_RULES.controlCharacters]: 'setup.error.controlCharacters',
  [SETUP_RULES.zoneId]: 'setup.error.zoneId',
  [SETUP_RULES.ipAddress]: 'setup.error.ipAddress',
  [SETUP_RULES.hostName]: 'setup.error.hostName',
  [SETUP_RULES.viewerUrl]: 'setup.error.viewerUrl',
  [SETUP_RULES.noHost]: 'setup.error.noHost',
  [SETUP_RULES.contactPhone]: 'setup.error.contactPhone',
  [SETUP_RULES.contactEmail]: 'setup.error.contactEmail',
  [SETUP_RULES.timeZone]: 'setup.error.timeZone',
} satisfies Record<(typeof SETUP_RULES)[keyof typeof SETUP_RULES], StaffMessageKey>;

interface ServiceIssue {
  path: PropertyKey[];
  message: string;
  code?: string;
  origin?: string;
  maximum?: number | bigint;
  minimum?: number | bigint;
}

function setupIssueText(issue: ServiceIssue): string {
  const known = SERVICE_MESSAGES[issue.message];
  if (known) return st.t(known);
  const field = String(issue.path[0] ?? '');
  if (issue.code === 'set_by_environment' && Object.hasOwn(SETUP_ENV, field))
    return st.t('setup.error.setByEnvironment', { variable: SETUP_ENV[field as keyof typeof SETUP_ENV] });
  if (issue.code === 'too_big' && issue.maximum !== undefined)
    return issue.origin === 'string'
      ? st.t('setup.error.tooLong', { max: Number(issue.maximum) })
      : st.t('setup.error.tooLarge', { max: Number(issue.maximum) });
  if (issue.code === 'too_small' && issue.minimum !== undefined)
    return st.t('setup.error.tooSmall', { min: Number(issue.minimum) });
  return st.t('setup.error.invalid');
}

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
    contactPhone: s('contactPhone'),
    contactEmail: s('contactEmail'),
    timeZone: s('timeZone'),
    reportsOnPage: body.reportsOnPage !== undefined,
    allowOnwardDownloads: body.allowOnwardDownloads !== undefined,
  };
}

/** Checkboxes (a disabled one is not sent) and the logo (its own form) are not text fields. */
const NOT_TEXT = new Set(['ssl', 'reportsOnPage', 'allowOnwardDownloads', 'logoUrl']);

/** The form values of the fields the environment sets, as they are now (checkboxes aside). */
function lockedValues(c: ServerConfig, locks: EnvLocks): Partial<Record<string, string>> {
  const form = setupFormOf(c);
  return Object.fromEntries(
    Object.keys(locks)
      .filter((k) => !NOT_TEXT.has(k))
      .map((k) => [k, String(form[k as keyof SetupForm])]),
  );
}

function changedFields(before: ServerConfig, after: ServerConfig): Array<keyof ServerConfig> {
  return (Object.keys(after) as Array<keyof ServerConfig>).filter((k) => before[k] !== after[k]);
}

/** GET/POST /staff/setup (admins): the server-address setup, validated by ServerConfigService. */
export function setupRoutes(router: Router, deps: StaffRouteDeps): void {
  /** The access log's record of a setup change, with the staff user who made it. */
  const logChange = async (ctx: Context, detail: Record<string, unknown>) => {
    const who = actorOf(ctx, deps.trustedProxies);
    await appendAccessEvent(deps.db, {
      event: 'config_changed',
      outcome: 'ok',
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
      detail,
    });
  };
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
        delivery: deps.deliveries?.setup() ?? null,
        signIn: await signInSetup(deps),
      }),
    );
  });

  // The logo's own form (multipart): upload a PNG/JPEG, or remove the current one.
  router.post('/setup/logo', requireSignedIn, requireAdmin, async (ctx) => {
    const body = await readForm(ctx);
    const file = formFiles(ctx).logo;
    const saved = await deps.serverConfig.get();
    const remove = body.action === 'remove';
    try {
      if (!remove && (!file || file.bytes.length === 0)) throw new InvalidLogoError('empty');
      await deps.serverConfig.setLogo(remove ? null : (file?.bytes ?? null));
    } catch (err) {
      if (!(err instanceof InvalidLogoError)) throw err;
      return sendPage(
        ctx,
        renderSetupPage({
          session: sessionOrThrow(ctx),
          saved,
          form: setupFormOf(saved),
          locks: locks(),
          delivery: deps.deliveries?.setup() ?? null,
          logoError: st.t(
            err.code === 'logo_too_large'
              ? 'setup.logo.tooLarge'
              : err.status === 400
                ? 'setup.logo.missing'
                : 'setup.logo.wrongType',
          ),
        }),
        400,
      );
    }
    await logChange(ctx, { logo: remove ? 'removed' : 'replaced' });
    redirectDone(ctx, '/staff/setup', 'setup');
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
    for (const box of ['ssl', 'reportsOnPage', 'allowOnwardDownloads'] as const) {
      // Locked, or a form from before the box existed (no marker): the value stays as it is.
      if (
        locks()[box] ||
        (box === 'reportsOnPage' && body.reportsOnPageShown === undefined) ||
        (box === 'allowOnwardDownloads' && body.allowOnwardDownloadsShown === undefined)
      ) {
        if (current[box]) filled[box] = '1';
        else delete filled[box];
      }
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
        const issues = err.details as ServiceIssue[];
        return rerender(
          issuesToFieldErrors(issues.map((i) => ({ path: i.path, message: setupIssueText(i) }))),
        );
      }
      throw err;
    }
    const changed = changedFields(before, after);
    if (changed.length > 0)
      await logChange(ctx, Object.fromEntries(changed.map((k) => [k, { from: before[k], to: after[k] }])));
    redirectDone(ctx, '/staff/setup', 'setup');
  });
}

/** How staff sign in, for the setup page's read-only card. */
async function signInSetup(deps: StaffRouteDeps): Promise<SignInSetup> {
  const oidc = deps.signInMethods.oidc;
  if (!oidc) return { local: deps.signInMethods.local, oidc: null };
  const { issuer, clientId, adminGroup, groupsClaim, scopes } = oidc.settings;
  return {
    local: deps.signInMethods.local,
    oidc: { issuer, clientId, adminGroup, groupsClaim, scopes, redirectUri: await oidcRedirectUri(deps) },
  };
}
