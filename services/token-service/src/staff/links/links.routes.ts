import type Router from '@koa/router';
import { z } from 'zod';
import { listActiveLinks } from '../../tokens/active-links.repository.js';
import { requireSignedIn, sessionOrThrow } from '../session/staff-auth.middleware.js';
import { type StaffRouteDeps, sendPage, timeZoneOf } from '../shared/staff.context.js';
import { renderLinksPage } from './links.page.js';

/** A link expiring within this many days is "expiring soon". */
const SOON_DAYS = 7;
const filterSchema = z.object({
  filter: z.enum(['all', 'expiring', 'unopened']).catch('all').default('all'),
});

/** `GET /staff/links`: the active links, those expiring soon, those no browser has opened. */
export function linksRoutes(router: Router, deps: StaffRouteDeps): void {
  router.get('/links', requireSignedIn, async (ctx) => {
    const { filter } = filterSchema.parse({ filter: ctx.query.filter });
    const now = new Date();
    const soon = new Date(now.getTime() + SOON_DAYS * 86_400_000);
    const rows = await listActiveLinks(deps.db, now, {
      ...(filter === 'expiring' ? { expiringBefore: soon } : {}),
      unopened: filter === 'unopened',
      limit: 500,
    });
    sendPage(
      ctx,
      renderLinksPage({
        session: sessionOrThrow(ctx),
        timeZone: await timeZoneOf(deps),
        rows,
        filter,
        soonDays: SOON_DAYS,
        soon,
      }),
    );
  });
}
