import type Router from '@koa/router';
import { tokenFromQuery } from '@studylink/contracts';
import {
  AppError,
  cookieValue,
  createRouter,
  patientTranslator,
  requesterOf,
  setPatientHeaders,
} from '@studylink/service-kit';
import type { Context } from 'koa';
import { z } from 'zod';
import type { LinkAccess } from '../link-access/link-access.js';
import { isSameOriginPost } from '../patient/same-origin.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { readForm } from '../staff/shared/staff.form.js';
import { qrCodeSvg } from '../staff/studies/study-qr.js';
import { VERIFICATION_COOKIE } from '../tokens/verification.cookie.js';
import { renderSharedPage } from './share.page.js';
import { CHILD_DAYS, type ShareService } from './share.service.js';

export interface ShareDeps {
  links: LinkAccess;
  shares: ShareService;
  serverConfig: ServerConfigService;
  trustedProxies: ReadonlySet<string>;
}

class BadShareFormError extends AppError {
  constructor() {
    super(
      400,
      'bad_share_form',
      `expiresInDays must be a whole number from ${CHILD_DAYS.min} to ${CHILD_DAYS.max}`,
    );
  }
}

const shareFormSchema = z.object({
  expiresInDays: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? String(CHILD_DAYS.default) : v.trim()))
    .pipe(z.string().regex(/^\d{1,3}$/))
    .transform(Number)
    .pipe(z.number().int().min(CHILD_DAYS.min).max(CHILD_DAYS.max)),
});
const revokeFormSchema = z.object({ child: z.coerce.number().int().positive() });

/**
 * Share onward (issue 21): `POST /token/share?<token>` (form: expiresInDays) makes a child link and
 * shows it once; `POST /token/share/revoke?<token>` (form: child) revokes one. Both go through the
 * link gate (purpose `share`: verified, same-origin, a study's own link only).
 */
export function shareRoutes(deps: ShareDeps): Router {
  const router = createRouter();

  async function openForShare(ctx: Context) {
    setPatientHeaders(ctx);
    const config = await deps.serverConfig.get();
    ctx.state.defaultLanguage = config.defaultLanguage;
    const token = tokenFromQuery(ctx.querystring);
    const requester = requesterOf(ctx, deps.trustedProxies);
    const opened = await deps.links.open(token, requester, {
      purpose: 'share',
      verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
      crossOrigin: !isSameOriginPost(ctx),
    });
    return { token, requester, opened, config };
  }

  router.post('/token/share', async (ctx) => {
    const { token, requester, opened, config } = await openForShare(ctx);
    const form = shareFormSchema.safeParse(await readForm(ctx));
    if (!form.success) throw new BadShareFormError();
    const made = await deps.shares.shareOrThrow(opened, form.data.expiresInDays, requester);
    const t = patientTranslator(ctx);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderSharedPage({
      t,
      config,
      token,
      url: made.url,
      expiresAt: made.expiresAt,
      qrSvg: await qrCodeSvg(made.url, t.t('share.made.title')),
    });
  });

  router.post('/token/share/revoke', async (ctx) => {
    const { token, requester, opened } = await openForShare(ctx);
    const form = revokeFormSchema.safeParse(await readForm(ctx));
    if (form.success) await deps.shares.revokeChild(opened, form.data.child, requester);
    ctx.status = 303;
    ctx.redirect(`/token?${token}`);
  });
  return router;
}
