import { Readable } from 'node:stream';
import type Router from '@koa/router';
import { STUDY_UID_MAX_LENGTH, STUDY_UID_PATTERN } from '@studylink/contracts';
import { endOfDayInZone, formatPersonName, wallTimeInZone } from '@studylink/i18n';
import type { Context } from 'koa';
import { z } from 'zod';
import {
  ACCESS_EVENTS,
  appendAccessEvent,
  listAccessEventsWithPatients,
  type StaffAccessLogFilter,
} from '../../access-log/access-log.repository.js';
import type { Db } from '../../db/database.js';
import { requireSignedIn, sessionOrThrow } from '../session/staff-auth.middleware.js';
import { actorOf, type StaffRouteDeps, sendPage, timeZoneOf } from '../shared/staff.context.js';
import { st } from '../shared/staff.i18n.js';
import { field, optionalIsoDate, parseForm, searchText } from '../shared/staff.schemas.js';
import { studiesMatchingName } from '../studies/study-index.repository.js';
import { collapseRepeatedViews } from './access-log.collapse.js';
import { csvRow } from './access-log.csv.js';
import { type AccessLogForm, renderAccessLogPage } from './access-log.page.js';

const PAGE_SIZE = 50;
const CSV_BATCH = 1000;
const CSV_MAX_ROWS = 100_000;

// The contract's study UID rule (shared with the API, whose messages are for integrators), with the
// page's messages from the staff catalogue.
const studyUid = z
  .string()
  .max(STUDY_UID_MAX_LENGTH, st.t('accessLog.error.uidTooLong', { max: STUDY_UID_MAX_LENGTH }))
  .regex(STUDY_UID_PATTERN, st.t('accessLog.error.uidFormat'));

const pageInvalid = st.t('accessLog.error.before');

const filterSchema = z
  .object({
    study: field.pipe(z.union([z.literal(''), studyUid])),
    patientName: searchText,
    patientId: searchText,
    // The message is the union's: a value off the list fails both members.
    event: field.pipe(
      z.union([z.literal(''), z.enum(ACCESS_EVENTS)], { message: st.t('accessLog.error.event') }),
    ),
    from: optionalIsoDate,
    to: optionalIsoDate,
    before: z.coerce.number({ message: pageInvalid }).int(pageInvalid).min(1, pageInvalid).optional(),
  })
  .superRefine((q, ctx) => {
    if (q.from && q.to && q.from > q.to)
      ctx.addIssue({ code: 'custom', path: ['to'], message: st.t('accessLog.error.dateOrder') });
  });

type Filter = z.output<typeof filterSchema>;

/** Studies one patient-name filter may stand for at most. */
const NAME_MATCH_LIMIT = 1000;

/** The filter's days are the setup zone's, as the page shows times: "to" includes its day. */
async function repositoryFilter(
  db: Db,
  f: Filter,
  timeZone: string,
): Promise<Omit<StaffAccessLogFilter, 'limit'>> {
  const startOf = (day: string) => {
    const [year = 0, month = 1, d = 1] = day.split('-').map(Number);
    return wallTimeInZone({ year, month, day: d }, timeZone);
  };
  return {
    study: f.study || undefined,
    studies: f.patientName ? await studiesMatchingName(db, f.patientName, NAME_MATCH_LIMIT) : undefined,
    patientId: f.patientId || undefined,
    event: f.event || undefined,
    from: f.from ? startOf(f.from) : undefined,
    to: f.to ? new Date(endOfDayInZone(f.to, timeZone).getTime() + 1) : undefined,
  };
}

function rawForm(ctx: Context): AccessLogForm {
  const s = (k: string) => (typeof ctx.query[k] === 'string' ? (ctx.query[k] as string) : '');
  return {
    study: s('study'),
    patientName: s('patientName'),
    patientId: s('patientId'),
    event: s('event'),
    from: s('from'),
    to: s('to'),
  };
}

const CSV_HEADER = [
  'time_utc',
  'event',
  'outcome',
  'token_id',
  'study_instance_uid',
  'patient_name',
  'patient_id',
  'client_ip',
  'user_agent',
  'bytes',
  'actor',
  'detail',
];

/** The access log page (filters, keyset paging) and its CSV export. Staff and admins alike. */
export function accessLogRoutes(router: Router, deps: StaffRouteDeps): void {
  router.get('/access-log', requireSignedIn, async (ctx) => {
    const session = sessionOrThrow(ctx);
    const parsed = parseForm(filterSchema, ctx.query);
    if (!parsed.ok) {
      sendPage(
        ctx,
        renderAccessLogPage({
          session,
          timeZone: await timeZoneOf(deps),
          form: rawForm(ctx),
          entries: null,
          nextCursor: null,
          errors: parsed.errors,
        }),
        400,
      );
      return;
    }
    const rows = await listAccessEventsWithPatients(deps.db, {
      ...(await repositoryFilter(deps.db, parsed.data, await timeZoneOf(deps))),
      before: parsed.data.before,
      limit: PAGE_SIZE,
    });
    const { before: _before, ...form } = parsed.data;
    sendPage(
      ctx,
      renderAccessLogPage({
        session,
        timeZone: await timeZoneOf(deps),
        form,
        entries: collapseRepeatedViews(rows),
        nextCursor: rows.length === PAGE_SIZE ? (rows.at(-1)?.id ?? null) : null,
      }),
    );
  });

  router.get('/access-log.csv', requireSignedIn, async (ctx) => {
    const parsed = parseForm(filterSchema, ctx.query);
    if (!parsed.ok) {
      sendPage(
        ctx,
        renderAccessLogPage({
          session: sessionOrThrow(ctx),
          timeZone: await timeZoneOf(deps),
          form: rawForm(ctx),
          entries: null,
          nextCursor: null,
          errors: parsed.errors,
        }),
        400,
      );
      return;
    }
    const filter = await repositoryFilter(deps.db, parsed.data, await timeZoneOf(deps));
    const who = actorOf(ctx, deps.trustedProxies);
    await appendAccessEvent(deps.db, {
      event: 'access_log_exported',
      outcome: 'ok',
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
      detail: {
        study: filter.study ?? null,
        patientName: parsed.data.patientName || null,
        patientId: parsed.data.patientId || null,
        event: filter.event ?? null,
        from: parsed.data.from || null,
        to: parsed.data.to || null,
      },
    });
    const db = deps.db;
    async function* lines() {
      yield csvRow(CSV_HEADER);
      let before: number | undefined;
      let sent = 0;
      while (sent < CSV_MAX_ROWS) {
        const rows = await listAccessEventsWithPatients(db, { ...filter, before, limit: CSV_BATCH });
        for (const r of rows) {
          yield csvRow([
            r.at.toISOString(),
            r.event,
            r.outcome,
            r.token_id,
            r.study_instance_uid,
            r.patient_name === null ? null : formatPersonName(r.patient_name, { lang: st.lang }),
            r.patient_id,
            r.client_ip,
            r.user_agent,
            r.bytes,
            r.actor,
            r.detail === null || r.detail === undefined ? null : JSON.stringify(r.detail),
          ]);
        }
        sent += rows.length;
        if (rows.length < CSV_BATCH) return;
        before = rows.at(-1)?.id;
      }
    }
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set(
      'content-disposition',
      `attachment; filename="access-log-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}.csv"`,
    );
    ctx.body = Readable.from(lines());
  });
}
