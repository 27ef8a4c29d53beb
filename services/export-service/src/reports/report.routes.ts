import type Router from '@koa/router';
import {
  LANGUAGE_COOKIE,
  REPORT_PDF_PREFIX,
  TOKEN_PATTERN,
  tokenFromQuery,
  VERIFICATION_COOKIE,
} from '@studylink/contracts';
import type { DicomwebClient } from '@studylink/dicomweb';
import { clientIp, cookieValue, createRouter, type Logger, setPatientHeaders } from '@studylink/service-kit';
import type { Context } from 'koa';
import {
  GrantNotFoundError,
  GrantVerificationRequiredError,
  type TokenServiceClient,
} from '../grant.client.js';
import { parseReportPdfName, reportPdfOrThrow } from './report-pdf.js';
import type { StudyReportIndex } from './study-reports.js';

export interface ReportRouteDeps {
  tokens: TokenServiceClient;
  dicomweb: DicomwebClient;
  reports: StudyReportIndex;
  trustedProxies: ReadonlySet<string>;
}

/**
 * A PDF opened in the browser's own viewer: no script of ours, nothing it loads, never framed by
 * another page, and a sandbox in case a browser renders it as something else.
 */
export const REPORT_PDF_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'";

/** `report-20240131.pdf`: a fixed template with the study date's digits, never patient text. */
function filenameOf(studyDate: string, name: ReturnType<typeof parseReportPdfName>): string {
  const date = /^\d{8}$/.test(studyDate.trim()) ? `-${studyDate.trim()}` : '';
  return `report${date}${name?.kind === 'pushed' ? '' : `-${(name?.sopInstanceUid ?? '').split('.').pop()}`}.pdf`;
}

/**
 * `GET|HEAD /token/report/<sopInstanceUid>.pdf?<token>` and `/token/report/pushed.pdf?<token>`: a report
 * PDF of the link's study, inline as `application/pdf`, for a link whose grant may show reports; every
 * other case is the patient's "not found" page. The token is in the query as on the page.
 */
export function reportRoutes(deps: ReportRouteDeps): Router {
  const router = createRouter();
  router.get(`${REPORT_PDF_PREFIX}:file`, async (ctx: Context) => {
    setPatientHeaders(ctx);
    const log: Logger = ctx.state.log;
    const token = tokenFromQuery(ctx.querystring);
    const wellFormed = TOKEN_PATTERN.test(token);
    const who = {
      clientIp: clientIp(
        ctx.req.socket.remoteAddress,
        ctx.get('x-real-ip') || undefined,
        deps.trustedProxies,
      ),
      userAgent: ctx.get('user-agent').slice(0, 512),
    };
    const grant = await deps.tokens
      .grantOrThrow(wellFormed ? token : null, undefined, who, {
        purpose: 'view',
        verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
        acceptLanguage: ctx.get('accept-language').slice(0, 1000),
        languageCookie: (cookieValue(ctx.get('cookie'), LANGUAGE_COOKIE) ?? '').slice(0, 16),
      })
      .catch(async (err) => {
        if (err instanceof GrantVerificationRequiredError && wellFormed) {
          ctx.status = 303;
          ctx.redirect(`/token?${token}`);
          return null;
        }
        if (err instanceof GrantNotFoundError)
          await deps.tokens
            .report({
              event: 'invalid_token',
              outcome: wellFormed ? 'not_found' : 'malformed',
              detail: { via: 'report' },
              ...who,
            })
            .catch((e: Error) => log.warn({ err: e.message }, 'access event not recorded'));
        throw err;
      });
    if (!grant) return;
    // The path as sent, not the router's decoded parameter: `%2E` and other spellings name nothing.
    const name = ctx.path.startsWith(REPORT_PDF_PREFIX)
      ? parseReportPdfName(ctx.path.slice(REPORT_PDF_PREFIX.length))
      : null;
    const controller = new AbortController();
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    const pdf = await reportPdfOrThrow(
      deps,
      grant,
      name ?? { kind: 'study', sopInstanceUid: '' },
      controller.signal,
    );
    ctx.set('content-security-policy', REPORT_PDF_CSP);
    ctx.set('content-disposition', `inline; filename="${filenameOf(grant.study.studyDate, name)}"`);
    ctx.set('cross-origin-resource-policy', 'same-origin');
    ctx.type = 'application/pdf';
    ctx.length = pdf.length;
    ctx.status = 200;
    if (ctx.method !== 'HEAD') ctx.body = pdf;
  });
  return router;
}
