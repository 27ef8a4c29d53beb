import type Router from '@koa/router';
import { isStaffLanguage } from '@studylink/i18n';
import { ValidationError } from '@studylink/service-kit';
import { z } from 'zod';
import { requireSignedIn, safeNext, sessionOrThrow } from '../session/staff-auth.middleware.js';
import type { StaffRouteDeps } from '../shared/staff.context.js';
import { readForm } from '../shared/staff.form.js';
import { st } from '../shared/staff.i18n.js';
import { parseForm } from '../shared/staff.schemas.js';
import { setUserLanguage } from './language.repository.js';

const languageForm = z.object({
  language: z.string().refine((v) => v === '' || isStaffLanguage(v), { error: () => st.t('language.error') }),
  next: z.string().optional(),
});

/** POST /staff/language: the signed-in member's language for the staff pages, kept with the account. */
export function languageRoutes(router: Router, deps: StaffRouteDeps): void {
  router.post('/language', requireSignedIn, async (ctx) => {
    const session = sessionOrThrow(ctx);
    const parsed = parseForm(languageForm, await readForm(ctx));
    if (!parsed.ok) throw new ValidationError(Object.values(parsed.errors).join('; '));
    await setUserLanguage(deps.db, session.userId, parsed.data.language || null);
    ctx.status = 303;
    ctx.redirect(safeNext(parsed.data.next));
  });
}
