import type Router from '@koa/router';
import { dayInZone, endOfDayInZone, isLanguage, translator } from '@studylink/i18n';
import { html } from '@studylink/service-kit';
import type { Context } from 'koa';
import { z } from 'zod';
import { appendAccessEvent } from '../../access-log/access-log.repository.js';
import {
  BirthDateMissingError,
  StoreUnavailableError,
  StudyNotFoundError,
  StudyTokenNotFoundError,
  TokenNotDisplayableError,
} from '../../errors.js';
import { studyParamsSchema } from '../../http/api.schemas.js';
import { parseOrThrow } from '../../http/validate.js';
import { findReportFacts } from '../../reports/report.repository.js';
import { findStudy } from '../../studies/study.repository.js';
import {
  activeTokensForStudies,
  findActiveTokenForStudy,
  type TokenStatus,
  updateActiveTokenExpiry,
} from '../../tokens/token.repository.js';
import type { IssuedToken, LinkOptions } from '../../tokens/token.service.js';
import { requireSignedIn, sessionOrThrow } from '../session/staff-auth.middleware.js';
import {
  actorOf,
  flashOf,
  redirectDone,
  type StaffRouteDeps,
  sendPage,
  timeZoneOf,
} from '../shared/staff.context.js';
import { readForm } from '../shared/staff.form.js';
import { st } from '../shared/staff.i18n.js';
import {
  checkbox,
  type FieldErrors,
  field,
  optionalIsoDate,
  parseForm,
  searchText,
} from '../shared/staff.schemas.js';
import { renderStudiesPage, type StudySearchForm } from './studies.page.js';
import {
  defaultExpiry,
  renderConfirmPage,
  renderHandoutPage,
  renderStudyPage,
  type StudyView,
} from './study.page.js';
import { childrenCard, deliveryCard } from './study-delivery.page.js';
import { studyDeliveryRoutes } from './study-delivery.routes.js';
import { qrCodeSvg } from './study-qr.js';
import type { StudySummary } from './study-search.source.js';

const PAGE_SIZE = 25;
const MAX_PAGE = 400;

const searchSchema = z
  .object({
    patientName: searchText,
    patientId: searchText,
    accession: searchText,
    from: optionalIsoDate,
    to: optionalIsoDate,
    birthDate: optionalIsoDate,
    modality: field.pipe(
      z.union([z.literal(''), z.string().regex(/^[A-Z0-9]{1,16}$/, st.t('studies.error.modality'))]),
    ),
    page: z.coerce
      .number({ message: st.t('studies.error.pageWhole') })
      .int(st.t('studies.error.pageWhole'))
      .min(1, st.t('studies.error.pageRange', { min: 1, max: MAX_PAGE }))
      .max(MAX_PAGE, st.t('studies.error.pageRange', { min: 1, max: MAX_PAGE }))
      .optional(),
  })
  .superRefine((q, ctx) => {
    if (q.from && q.to && q.from > q.to)
      ctx.addIssue({ code: 'custom', path: ['to'], message: st.t('studies.error.dateOrder') });
  });

/** An ISO date of the form as DICOM DA; undefined when blank. */
const dicomDate = (iso: string) => (iso ? iso.replace(/-/g, '') : undefined);

/**
 * Expiry fields of the link forms: the last day it works, or never. The day is the setup zone's:
 * the link works until midnight there (the end of 8 March in Tokyo is 14:59:59 UTC).
 */
const expirySchema = (timeZone: string) =>
  z
    .object({ expires: optionalIsoDate, never: checkbox })
    .superRefine((v, ctx) => {
      if (v.never) return;
      if (!v.expires) {
        ctx.addIssue({ code: 'custom', path: ['expires'], message: st.t('study.error.expiryMissing') });
      } else if (v.expires < dayInZone(new Date(), timeZone)) {
        ctx.addIssue({ code: 'custom', path: ['expires'], message: st.t('study.error.expiryPast') });
      }
    })
    .transform((v) => (v.never || !v.expires ? null : endOfDayInZone(v.expires, timeZone)));

/** Whether a link shows the study's report: '' (or absent) follows the setup's reportsOnPage. */
const includeReportField = field.pipe(
  z
    .enum(['', 'show', 'hold'], { message: st.t('study.options.reportLegend') })
    .transform((v) => (v === 'show' ? true : v === 'hold' ? false : null)),
);

/** Second factor, download limit and view-only of a new link (issue 12). */
const linkOptionsSchema = z
  .object({
    // Absent: the setup's defaultVerification.
    verification: field.pipe(
      z.union([z.literal('').transform(() => undefined), z.enum(['none', 'birth-date', 'pin'])], {
        message: st.t('study.error.verification'),
      }),
    ),
    maxDownloads: field.pipe(
      z
        .string()
        .trim()
        .regex(/^(\d{1,6})?$/, st.t('study.error.maxDownloadsFormat'))
        .transform((v) => (v === '' ? null : Number(v)))
        .refine((v) => v === null || v >= 1, st.t('study.error.maxDownloadsMin')),
    ),
    viewOnly: checkbox,
    includeReport: includeReportField,
  })
  .transform(
    (v): Omit<LinkOptions, 'expiresAt'> => ({
      ...(v.verification ? { verification: v.verification } : {}),
      maxDownloads: v.maxDownloads,
      allowDownload: !v.viewOnly,
      includeReport: v.includeReport,
    }),
  );

/** The study page's report choice (issue 20): '' follows the setup, show, or hold it back. */
const reportChoiceSchema = z.object({ includeReport: includeReportField });

const BIRTH_DATE_MISSING = st.t('study.error.birthDateMissing');

/** A link form: expiry plus the link's options, with every field's error at once. */
function parseLinkForm(
  form: Record<string, string>,
  timeZone: string,
): { ok: true; data: LinkOptions } | { ok: false; errors: FieldErrors } {
  const expiry = parseForm(expirySchema(timeZone), form);
  const options = parseForm(linkOptionsSchema, form);
  if (!expiry.ok || !options.ok)
    return {
      ok: false,
      errors: { ...(expiry.ok ? {} : expiry.errors), ...(options.ok ? {} : options.errors) },
    };
  return { ok: true, data: { expiresAt: expiry.data, ...options.data } };
}

function studyFromCopy(row: NonNullable<Awaited<ReturnType<typeof findStudy>>>): StudySummary {
  return {
    studyInstanceUid: row.study_instance_uid,
    patientName: row.patient_name,
    patientId: row.patient_id,
    accessionNumber: row.accession_number,
    studyDate: row.study_date,
    studyTime: row.study_time,
    description: row.description,
    modalities: row.modalities,
    seriesCount: row.series_count,
    instanceCount: row.instance_count,
    patientBirthDate: row.patient_birth_date,
  };
}

/** Studies page, study page with its link, confirmation steps, handout. */
export function studiesRoutes(router: Router, deps: StaffRouteDeps): void {
  const uidOf = (ctx: Context) => parseOrThrow(studyParamsSchema, ctx.params, 'study UID').studyInstanceUid;

  /** The study from the store, else the copy kept when a link was made; 404 / 503 otherwise. */
  async function loadStudy(uid: string): Promise<StudyView> {
    let storeDown = false;
    try {
      const found = await deps.finder.lookup(uid);
      if (found) return { uid, study: found, fromCopy: false };
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      storeDown = true;
    }
    const copy = await findStudy(deps.db, uid);
    if (copy) return { uid, study: studyFromCopy(copy), fromCopy: true };
    if (storeDown) throw new StoreUnavailableError();
    throw new StudyNotFoundError();
  }

  /** The study's link, null when there is none, 'undisplayable' when its key is gone. */
  async function activeToken(
    ctx: Context,
    uid: string,
    withPin = false,
  ): Promise<IssuedToken | null | 'undisplayable'> {
    try {
      // The PIN only when asked for: each showing is logged (pin_displayed).
      return await deps.tokens.getActiveOrThrow(uid, actorOf(ctx, deps.trustedProxies), { withPin });
    } catch (err) {
      if (err instanceof StudyTokenNotFoundError) return null;
      if (err instanceof TokenNotDisplayableError) return 'undisplayable';
      throw err;
    }
  }

  async function showStudy(ctx: Context, uid: string, status = 200, errors?: FieldErrors, withPin = false) {
    const view = await loadStudy(uid);
    const [active, config] = await Promise.all([activeToken(ctx, uid, withPin), deps.serverConfig.get()]);
    const token = active === 'undisplayable' ? null : active;
    const qrSvg = token ? await qrCodeSvg(token.url, st.t('study.link.qrLabel')) : null;
    const children =
      token && deps.shares ? childrenCard(await deps.shares.childrenForStudy(uid), config.timeZone) : null;
    const sending =
      token && deps.deliveries
        ? deliveryCard({
            base: `/staff/studies/${uid}`,
            csrf: sessionOrThrow(ctx).csrfToken,
            channels: deps.deliveries.channels(),
            deliveries: await deps.deliveries.listForStudy(uid),
            defaultLanguage: config.defaultLanguage,
            timeZone: config.timeZone,
            errors,
          })
        : null;
    const delivery = sending || children ? html`${sending ?? ''}${children ?? ''}` : null;
    sendPage(
      ctx,
      renderStudyPage({
        session: sessionOrThrow(ctx),
        view,
        token,
        undisplayable: active === 'undisplayable',
        qrSvg,
        delivery,
        config,
        flash: flashOf(ctx),
        ...(errors ? { errors } : {}),
        report: {
          pushed: (await findReportFacts(deps.db, uid)) !== null,
          // From the study's copy (no store request): an SR or a document among its modalities.
          inStudy: (view.study?.modalities ?? []).some((m) => m === 'SR' || m === 'DOC'),
        },
      }),
      status,
    );
  }

  router.get('/studies', requireSignedIn, async (ctx) => {
    const session = sessionOrThrow(ctx);
    const parsed = parseForm(searchSchema, ctx.query);
    const raw = (k: string) => (typeof ctx.query[k] === 'string' ? (ctx.query[k] as string) : '');
    if (!parsed.ok) {
      const form: StudySearchForm = {
        patientName: raw('patientName'),
        patientId: raw('patientId'),
        accession: raw('accession'),
        from: raw('from'),
        to: raw('to'),
        birthDate: raw('birthDate'),
        modality: raw('modality'),
      };
      const page = renderStudiesPage({
        session,
        timeZone: await timeZoneOf(deps),
        form,
        errors: parsed.errors,
        results: null,
        tokens: new Map(),
        page: 1,
        pageSize: PAGE_SIZE,
        hasMore: false,
      });
      sendPage(ctx, page, 400);
      return;
    }
    const { page: pageNumber = 1, ...form } = parsed.data;
    let shown: StudySummary[] | null = null;
    let hasMore = false;
    let storeDown = false;
    try {
      const found = await deps.finder.find(
        {
          ...(form.patientName ? { patientName: form.patientName } : {}),
          ...(form.patientId ? { patientId: form.patientId } : {}),
          ...(form.accession ? { accessionNumber: form.accession } : {}),
          ...(form.from ? { studyDateFrom: dicomDate(form.from) } : {}),
          ...(form.to ? { studyDateTo: dicomDate(form.to) } : {}),
          ...(form.birthDate ? { patientBirthDate: dicomDate(form.birthDate) } : {}),
          ...(form.modality ? { modality: form.modality } : {}),
        },
        PAGE_SIZE,
        (pageNumber - 1) * PAGE_SIZE,
      );
      shown = found.rows;
      hasMore = found.hasMore;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      storeDown = true;
    }
    // One query for the whole page: which of these studies have a link.
    const tokens: Map<string, TokenStatus> = shown
      ? await activeTokensForStudies(
          deps.db,
          shown.map((s) => s.studyInstanceUid),
        )
      : new Map();
    if (storeDown) ctx.set('retry-after', '10');
    sendPage(
      ctx,
      renderStudiesPage({
        session,
        timeZone: await timeZoneOf(deps),
        form,
        results: shown,
        tokens,
        page: pageNumber,
        pageSize: PAGE_SIZE,
        hasMore,
        storeDown,
      }),
      storeDown ? 503 : 200,
    );
  });

  studyDeliveryRoutes(router, deps, showStudy);

  router.get('/studies/:studyInstanceUid', requireSignedIn, async (ctx) => {
    await showStudy(ctx, uidOf(ctx));
  });

  // The PIN of a PIN link, shown again on request (and logged as pin_displayed).
  router.get('/studies/:studyInstanceUid/pin', requireSignedIn, async (ctx) => {
    await showStudy(ctx, uidOf(ctx), 200, undefined, true);
  });

  router.post('/studies/:studyInstanceUid/unlock', requireSignedIn, async (ctx) => {
    const uid = uidOf(ctx);
    await deps.tokens.unlockOrThrow(uid, actorOf(ctx, deps.trustedProxies));
    redirectDone(ctx, `/staff/studies/${uid}`, 'unlocked');
  });

  router.post('/studies/:studyInstanceUid/token', requireSignedIn, async (ctx) => {
    const uid = uidOf(ctx);
    const parsed = parseLinkForm(await readForm(ctx), await timeZoneOf(deps));
    if (!parsed.ok) return showStudy(ctx, uid, 400, parsed.errors);
    try {
      await deps.tokens.issue(uid, actorOf(ctx, deps.trustedProxies), parsed.data, { withPin: false });
    } catch (err) {
      if (err instanceof BirthDateMissingError)
        return showStudy(ctx, uid, 422, { verification: BIRTH_DATE_MISSING });
      throw err;
    }
    redirectDone(ctx, `/staff/studies/${uid}`, 'issued');
  });

  // The active link's report release, changed in place (token_report_changed in the access log).
  router.post('/studies/:studyInstanceUid/report', requireSignedIn, async (ctx) => {
    const uid = uidOf(ctx);
    const parsed = parseForm(reportChoiceSchema, await readForm(ctx));
    if (!parsed.ok) return showStudy(ctx, uid, 400, parsed.errors);
    const active = await findActiveTokenForStudy(deps.db, uid);
    if (!active) return showStudy(ctx, uid, 404);
    await deps.tokens.issue(
      uid,
      actorOf(ctx, deps.trustedProxies),
      { includeReport: parsed.data.includeReport },
      { withPin: false },
    );
    redirectDone(ctx, `/staff/studies/${uid}`, 'report');
  });

  router.post('/studies/:studyInstanceUid/expiry', requireSignedIn, async (ctx) => {
    const uid = uidOf(ctx);
    const parsed = parseForm(expirySchema(await timeZoneOf(deps)), await readForm(ctx));
    if (!parsed.ok) return showStudy(ctx, uid, 400, parsed.errors);
    const who = actorOf(ctx, deps.trustedProxies);
    await deps.db.transaction().execute(async (trx) => {
      const changed = await updateActiveTokenExpiry(trx, uid, parsed.data);
      if (!changed) throw new StudyTokenNotFoundError();
      await appendAccessEvent(trx, {
        event: 'token_expiry_changed',
        outcome: 'ok',
        tokenId: changed.id,
        studyInstanceUid: uid,
        actor: who.actor,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
        detail: {
          from: changed.previous ? changed.previous.toISOString() : null,
          to: parsed.data ? parsed.data.toISOString() : null,
        },
      });
    });
    redirectDone(ctx, `/staff/studies/${uid}`, 'expiry');
  });

  for (const action of ['revoke', 'reissue'] as const) {
    router.get(`/studies/:studyInstanceUid/${action}`, requireSignedIn, async (ctx) => {
      const uid = uidOf(ctx);
      const config = await deps.serverConfig.get();
      sendPage(
        ctx,
        renderConfirmPage({
          session: sessionOrThrow(ctx),
          view: await loadStudy(uid),
          action,
          expiresAt: defaultExpiry(config),
          config,
        }),
      );
    });
  }

  router.post('/studies/:studyInstanceUid/revoke', requireSignedIn, async (ctx) => {
    const uid = uidOf(ctx);
    try {
      await deps.tokens.revokeOrThrow(uid, actorOf(ctx, deps.trustedProxies));
    } catch (err) {
      // Revoked already (a second click, another user): the outcome the user wanted.
      if (!(err instanceof StudyTokenNotFoundError)) throw err;
    }
    redirectDone(ctx, `/staff/studies/${uid}`, 'revoked');
  });

  router.post('/studies/:studyInstanceUid/reissue', requireSignedIn, async (ctx) => {
    const uid = uidOf(ctx);
    const parsed = parseLinkForm(await readForm(ctx), await timeZoneOf(deps));
    const refuse = async (errors: FieldErrors, status: number) =>
      sendPage(
        ctx,
        renderConfirmPage({
          session: sessionOrThrow(ctx),
          view: await loadStudy(uid),
          action: 'reissue',
          expiresAt: null,
          config: await deps.serverConfig.get(),
          errors,
        }),
        status,
      );
    if (!parsed.ok) return refuse(parsed.errors, 400);
    // One transaction, options checked first: if the new link cannot be made, the old one still works.
    try {
      await deps.tokens.replace(uid, actorOf(ctx, deps.trustedProxies), parsed.data, { withPin: false });
    } catch (err) {
      if (err instanceof BirthDateMissingError) return refuse({ verification: BIRTH_DATE_MISSING }, 422);
      throw err;
    }
    redirectDone(ctx, `/staff/studies/${uid}`, 'reissued');
  });

  router.get('/studies/:studyInstanceUid/handout', requireSignedIn, async (ctx) => {
    const uid = uidOf(ctx);
    const view = await loadStudy(uid);
    // Staff pick the handout's language and whether it prints the PIN (or it is told by phone).
    const config = await deps.serverConfig.get();
    const lang = isLanguage(ctx.query.lang) ? ctx.query.lang : config.defaultLanguage;
    const printPin = ctx.query.pin === '1';
    const token = await activeToken(ctx, uid, printPin);
    if (!token || token === 'undisplayable') {
      ctx.status = 303;
      ctx.redirect(`/staff/studies/${uid}`);
      return;
    }
    sendPage(
      ctx,
      renderHandoutPage({
        session: sessionOrThrow(ctx),
        view,
        token,
        // The sheet is in the patient's language, its code's label too.
        qrSvg: await qrCodeSvg(token.url, translator(lang).t('handout.qrLabel')),
        config,
        lang,
        printPin,
      }),
    );
  });
}
