import type Router from '@koa/router';
import { REPORT_PAGE_PATH, tokenFromQuery, VERIFICATION_COOKIE } from '@studylink/contracts';
import type { DicomwebClient } from '@studylink/dicomweb';
import {
  AppError,
  cookieValue,
  createRouter,
  patientTranslator,
  requesterOf,
  setPatientHeaders,
} from '@studylink/service-kit';
import type { Context } from 'koa';
import type { LinkAccess } from '../link-access/link-access.js';
import { senderOf } from '../patient/sender.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { type ReportPageContent, renderReportPage } from './report.page.js';
import { reportsOf } from './report.source.js';

export interface ReportPageDeps {
  links: LinkAccess;
  serverConfig: ServerConfigService;
  trustedProxies: ReadonlySet<string>;
  /** The store, read for the granted study only; absent: the page says the report cannot be read. */
  dicomweb?: DicomwebClient;
  /** How long the page waits for the store (default 10 s). */
  storeTimeoutMs?: number;
}

class ReportNotShownError extends AppError {}

/**
 * `GET /token/report?<token>`: the link's report page, opened through the link gate like the patient
 * page (same refusals, same guessing limit, the second factor's form first). A link that may not show
 * reports gets the patient's "not found" page.
 */
export function reportPageRoutes(deps: ReportPageDeps): Router {
  const router = createRouter();
  router.get(REPORT_PAGE_PATH, async (ctx: Context) => {
    setPatientHeaders(ctx);
    const config = await deps.serverConfig.get();
    ctx.state.defaultLanguage = config.defaultLanguage;
    const token = tokenFromQuery(ctx.querystring);
    const opened = await deps.links.open(token, requesterOf(ctx, deps.trustedProxies), {
      purpose: 'page',
      verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
      head: ctx.method === 'HEAD',
    });
    if (!opened.verified) {
      ctx.status = 303;
      ctx.redirect(`/token?${token}`);
      return;
    }
    // The gate's report rule (the link's includeReport, else the setup's reportsOnPage).
    if (!opened.may.report)
      throw new ReportNotShownError(404, 'report_not_shown', 'not found or no longer available');
    let content: ReportPageContent | null = null;
    if (ctx.method !== 'HEAD' && deps.dicomweb) {
      const found = await reportsOf(
        deps.dicomweb,
        opened.link.studyInstanceUid,
        AbortSignal.timeout(deps.storeTimeoutMs ?? 10_000),
      ).catch((err: Error) => {
        ctx.state.log?.warn({ err: err.message }, 'report not read from the store');
        return null;
      });
      content = found ? { ...found, pushed: opened.pushedReport !== null } : null;
    }
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderReportPage({
      token,
      t: patientTranslator(ctx),
      sender: senderOf(config, opened.study?.institution_name),
      content,
    });
  });
  return router;
}
