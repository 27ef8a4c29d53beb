import type Router from '@koa/router';
import { tokenFromQuery } from '@studylink/contracts';
import { isLanguage } from '@studylink/i18n';
import {
  cookieValue,
  createRouter,
  LANGUAGE_COOKIE,
  patientTranslator,
  requesterOf,
  setPatientHeaders,
} from '@studylink/service-kit';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.js';
import type { LinkAccess, OpenedLink } from '../link-access/link-access.js';
import { linksReportPage } from '../reports/report.rule.js';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { shareSection } from '../sharing/share.page.js';
import type { ShareService } from '../sharing/share.service.js';
import { cameOverHttps } from '../staff/session/staff-auth.middleware.js';
import { readForm } from '../staff/shared/staff.form.js';
import { answerFormatProblem, type TokenService, type VerificationAnswer } from '../tokens/token.service.js';
import { BROWSER_COOKIE, VERIFICATION_COOKIE } from '../tokens/verification.cookie.js';
import type { ZipLayoutService } from '../zip-layouts/zip-layout.service.js';
import { linkHistory } from './link-history.js';
import { renderStudyPage, renderVerificationForm } from './patient.page.js';
import { isSameOriginPost } from './same-origin.js';

export interface PatientDeps {
  db: Kysely<DB>;
  tokens: TokenService;
  links: LinkAccess;
  serverConfig: ServerConfigService;
  trustedProxies: ReadonlySet<string>;
  /** Share onward (child links); absent: the page offers no sharing. */
  shares?: ShareService | undefined;
  layouts?: ZipLayoutService;
}

/**
 * The exact size of the zip this patient would get (its README follows the page's language), once
 * the study's layout is made (the link gate read its summary with the link); null before.
 */
function exactZipSize(
  deps: PatientDeps,
  opened: OpenedLink,
  config: ServerConfig,
  language: string,
): Promise<number | null> {
  const { study, zipLayout: row } = opened;
  if (!deps.layouts || !study || !row) return Promise.resolve(null);
  // The zip this link gets: without the study's report objects when its report is held back, with
  // REPORT.PDF when a pushed report goes in (the gate decided both).
  const report = opened.may.report;
  return deps.layouts.lengthFor(row, {
    report,
    pushed: report ? opened.pushedReport : null,
    institution: config.institution || study.institution_name || '',
    viewerUrl: config.viewerUrl,
    language,
  });
}

const ONE_YEAR_SECONDS = 365 * 86_400;

function setPatientCookie(
  ctx: Context,
  trusted: ReadonlySet<string>,
  name: string,
  value: string,
  maxAgeSeconds: number,
  sameSite: 'Strict' | 'Lax',
): void {
  const parts = [
    `${name}=${value}`,
    'Path=/token',
    'HttpOnly',
    `SameSite=${sameSite}`,
    `Max-Age=${maxAgeSeconds}`,
  ];
  if (cameOverHttps(ctx, trusted)) parts.push('Secure');
  ctx.append('set-cookie', parts.join('; '));
}

/**
 * `GET /token?<token>`: koa would parse `?TOKEN` as `{TOKEN: ''}`, so the raw query string is
 * the token. GET and HEAD only read the database (and QIDO-RS): link scanners that fetch the
 * page never start an export. A link with a second factor shows its form, and no study data,
 * until the browser holds that link's verification cookie; `POST /token?<token>` takes the answer
 * (or a language from the switcher).
 */
export function patientRoutes(deps: PatientDeps): Router {
  const router = createRouter();

  router.get('/token', async (ctx) => {
    setPatientHeaders(ctx);
    const config = await deps.serverConfig.get();
    // Its pages and error pages fall back to the server setup's language.
    ctx.state.defaultLanguage = config.defaultLanguage;
    // Tracking parameters a mail system appended (`&utm_source=...`) are not part of the token.
    const token = tokenFromQuery(ctx.querystring);
    const requester = requesterOf(ctx, deps.trustedProxies);
    const head = ctx.method === 'HEAD';
    const opened = await deps.links.open(token, requester, {
      purpose: 'page',
      verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
      head,
    });
    const t = patientTranslator(ctx);
    ctx.type = 'text/html; charset=utf-8';
    const { link } = opened;
    if (!opened.may.page && link.verification !== 'none') {
      ctx.body = renderVerificationForm({ token, config, verification: link.verification, t, message: null });
      return;
    }
    const history = head ? [] : await linkHistory(deps.db, link.tokenId);
    const share =
      opened.may.share && deps.shares && !head
        ? shareSection(
            t,
            token,
            opened.childCount > 0 ? await deps.shares.childrenOf(link.tokenId) : [],
            config.timeZone,
          )
        : null;
    const zipSize = head ? null : await exactZipSize(deps, opened, config, t.lang);
    ctx.body = renderStudyPage({
      report: linksReportPage(opened),
      share,
      sharedByPatient: link.parentId !== null,
      zipSize,
      token,
      study: opened.study,
      config,
      clientIp: requester.clientIp,
      t,
      download: opened,
      history,
    });
  });

  // The page's own script, once the page has loaded in a browser: the link was opened (a bare GET,
  // a link scanner's too, is only `fetched`). Same-origin only; it also marks this browser with a
  // cookie, so its click on a limited link's zip is known for one.
  router.post('/token/opened', async (ctx) => {
    setPatientHeaders(ctx);
    ctx.state.defaultLanguage = (await deps.serverConfig.get()).defaultLanguage;
    const token = tokenFromQuery(ctx.querystring);
    await deps.links.open(token, requesterOf(ctx, deps.trustedProxies), {
      purpose: 'opened',
      crossOrigin: !isSameOriginPost(ctx),
    });
    setPatientCookie(ctx, deps.trustedProxies, BROWSER_COOKIE, '1', ONE_YEAR_SECONDS, 'Lax');
    ctx.status = 204;
  });

  router.post('/token', async (ctx) => {
    setPatientHeaders(ctx);
    const config = await deps.serverConfig.get();
    ctx.state.defaultLanguage = config.defaultLanguage;
    // Tracking parameters a mail system appended (`&utm_source=...`) are not part of the token.
    const token = tokenFromQuery(ctx.querystring);
    const requester = requesterOf(ctx, deps.trustedProxies);
    const form = await readForm(ctx);
    const { link } = await deps.links.open(token, requester, {
      purpose: 'answer',
      crossOrigin: !isSameOriginPost(ctx),
      languageOnly: form.lang !== undefined,
      verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
    });
    const back = () => {
      ctx.status = 303;
      ctx.redirect(`/token?${token}`);
    };

    if (form.lang !== undefined) {
      if (isLanguage(form.lang))
        setPatientCookie(ctx, deps.trustedProxies, LANGUAGE_COOKIE, form.lang, ONE_YEAR_SECONDS, 'Lax');
      return back();
    }
    const verification = link.verification;
    if (verification === 'none') return back();

    const answer: VerificationAnswer =
      verification === 'birth-date' ? { birthDate: birthDateOfForm(form) } : { pin: form.pin ?? '' };
    const showForm = (message: Parameters<typeof renderVerificationForm>[0]['message']) => {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = renderVerificationForm({ token, config, verification, t: patientTranslator(ctx), message });
    };
    const problem = answerFormatProblem(answer);
    if (problem) {
      await deps.tokens.recordMalformedAnswer(link, requester);
      ctx.status = 400;
      return showForm(problem);
    }
    const cookie = await deps.tokens.checkAnswerOrThrow(link, answer, requester);
    if (cookie) {
      setPatientCookie(
        ctx,
        deps.trustedProxies,
        VERIFICATION_COOKIE,
        cookie.value,
        cookie.maxAgeSeconds,
        'Strict',
      );
      return back();
    }
    // A wrong answer also counts toward this address's guessing limit.
    await deps.links.countWrongAnswer(requester);
    showForm('verify.wrong');
  });
  return router;
}

/**
 * The form's birth date as `YYYY-MM-DD`: the three fields (day, month, year) the form shows, or
 * `birthDate` as clients that post it directly send it.
 */
export function birthDateOfForm(form: Record<string, string | undefined>): string {
  const { birthDay: d, birthMonth: m, birthYear: y } = form;
  if (d === undefined && m === undefined && y === undefined) return form.birthDate ?? '';
  const digits = (v: string | undefined, max: number) => {
    const s = (v ?? '').trim();
    return /^\d+$/.test(s) && s.length <= max ? s : null;
  };
  const day = digits(d, 2);
  const month = digits(m, 2);
  const year = digits(y, 4);
  // A year typed short (80) is not guessed: it is not a four-digit year.
  if (!day || !month || !year || year.length !== 4) return 'invalid';
  return `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`;
}
