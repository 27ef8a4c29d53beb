import type Router from '@koa/router';
import { LANGUAGES } from '@studylink/i18n';
import type { Context } from 'koa';
import { z } from 'zod';
import { ChannelNotConfiguredError } from '../../deliveries/delivery.service.js';
import { emailAddressSchema, phoneNumberSchema } from '../../deliveries/recipient.js';
import { studyParamsSchema } from '../../http/api.schemas.js';
import { parseOrThrow } from '../../http/validate.js';
import { requireSignedIn } from '../session/staff-auth.middleware.js';
import { actorOf, redirectDone, type StaffRouteDeps } from '../shared/staff.context.js';
import { readForm } from '../shared/staff.form.js';
import { st } from '../shared/staff.i18n.js';
import { type FieldErrors, field, parseForm } from '../shared/staff.schemas.js';

/** Staff type numbers with spaces, dashes and brackets; the API takes E.164 only. */
const sendSchema = z
  .object({
    email: field
      .pipe(z.string().trim())
      .refine((v) => v === '' || emailAddressSchema.safeParse(v).success, st.t('delivery.error.email'))
      .transform((v) => v || undefined),
    phone: field
      .transform((v) => v.replace(/[\s().-]/g, ''))
      .refine((v) => v === '' || phoneNumberSchema.safeParse(v).success, st.t('delivery.error.phone'))
      .transform((v) => v || undefined),
    language: field.pipe(z.enum(LANGUAGES)),
  })
  .superRefine((v, ctx) => {
    if (!v.email && !v.phone)
      ctx.addIssue({ code: 'custom', path: ['email'], message: st.t('delivery.error.none') });
  });

/** `POST /staff/studies/:uid/deliveries`: the "Send to the patient" form of the study page. */
export function studyDeliveryRoutes(
  router: Router,
  deps: StaffRouteDeps,
  showStudy: (ctx: Context, uid: string, status: number, errors: FieldErrors) => Promise<void>,
): void {
  router.post('/studies/:studyInstanceUid/deliveries', requireSignedIn, async (ctx) => {
    const uid = parseOrThrow(studyParamsSchema, ctx.params, 'study UID').studyInstanceUid;
    const parsed = parseForm(sendSchema, await readForm(ctx));
    if (!parsed.ok) return showStudy(ctx, uid, 400, parsed.errors);
    if (!deps.deliveries) return showStudy(ctx, uid, 409, { delivery: st.t('delivery.error.none') });
    try {
      const { pin } = await deps.deliveries.requestOrThrow(
        uid,
        parsed.data,
        actorOf(ctx, deps.trustedProxies),
      );
      redirectDone(ctx, `/staff/studies/${uid}`, pin === 'not_sent' ? 'sent-pin-not-sent' : 'sent');
    } catch (err) {
      if (err instanceof ChannelNotConfiguredError)
        return showStudy(ctx, uid, 409, { delivery: err.message });
      throw err;
    }
  });
}
