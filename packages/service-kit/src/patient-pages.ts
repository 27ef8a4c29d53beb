import { LANGUAGE_COOKIE } from '@studylink/contracts';
import { isLanguage, type Language, pickLanguage, type Translator, translator } from '@studylink/i18n';
import type { Context } from 'koa';
import { html, type SafeHtml } from './html.js';
import { setPatientHeaders } from './patient-headers.js';
import { type PatientSender, senderContact, senderHeader } from './patient-sender.js';

export { LANGUAGE_COOKIE };

/**
 * The language of a patient-facing answer: the switcher's cookie, else `Accept-Language`, else the
 * server setup's default (`ctx.state.defaultLanguage` when a route has read it), else English.
 * @example const t = patientTranslator(ctx); t.t('page.title')
 */
export function patientTranslator(ctx: Context, fallback?: Language): Translator {
  const def = fallback ?? (isLanguage(ctx.state.defaultLanguage) ? ctx.state.defaultLanguage : 'en');
  return translator(
    pickLanguage({
      chosen: ctx.cookies.get(LANGUAGE_COOKIE),
      acceptLanguage: ctx.get('accept-language'),
      fallback: def,
    }),
  );
}

/**
 * The wrapper of every patient-facing page: no scripts, one same-origin stylesheet, `lang` and `dir`
 * set; with a sender, its logo and name on top and its contact at the end.
 */
export function pageLayout(
  title: string,
  body: SafeHtml,
  i18n: Translator = translator('en'),
  sender?: PatientSender | null,
): string {
  return html`<!doctype html>
<html lang="${i18n.lang}" dir="${i18n.dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="/assets/patient.css">
</head>
<body>
<main class="card">
${senderHeader(sender)}
${body}
${senderContact(i18n, sender)}
</main>
</body>
</html>
`.value;
}

/** What an error page says beyond its status: the error's stable code and Retry-After. */
export interface ErrorPageContext {
  code?: string | undefined;
  retryAfterSeconds?: number | undefined;
}

function errorText(t: Translator, status: number, c: ErrorPageContext): { title: string; text: string } {
  switch (c.code) {
    case 'link_locked':
      return {
        title: t.t('error.tooMany.title'),
        text: t.t('error.locked.text', {
          minutes: Math.max(1, Math.ceil((c.retryAfterSeconds ?? 900) / 60)),
        }),
      };
    case 'link_locked_until_unlocked':
      return { title: t.t('error.tooMany.title'), text: t.t('error.lockedUntilUnlocked.text') };
    case 'download_not_allowed':
      return { title: t.t('error.downloadRefused.title'), text: t.t('error.viewOnly.text') };
    case 'download_limit_reached':
      return { title: t.t('error.downloadRefused.title'), text: t.t('error.limitReached.text') };
  }
  switch (status) {
    case 404:
      return { title: t.t('error.notFound.title'), text: t.t('error.gone.text') };
    case 410:
      return { title: t.t('error.gone.title'), text: t.t('error.gone.text') };
    case 403:
      return { title: t.t('error.forbidden.title'), text: t.t('error.forbidden.text') };
    case 429:
      return { title: t.t('error.tooMany.title'), text: t.t('error.tooMany.text') };
    case 503:
      return { title: t.t('error.unavailable.title'), text: t.t('error.unavailable.text') };
  }
  return status >= 500
    ? { title: t.t('error.generic.title'), text: t.t('error.generic.text') }
    : { title: t.t('error.badRequest.title'), text: t.t('error.badRequest.text') };
}

/**
 * The plain page for a 4xx/5xx answer to a patient, in the patient's language: the same text
 * whatever the reason (except the link-trust refusals, which say why), no study data.
 * @example ctx.body = renderErrorPage(404, translator('fr'));
 */
export function renderErrorPage(
  status: number,
  t: Translator = translator('en'),
  c: ErrorPageContext = {},
  sender?: PatientSender | null,
): string {
  const m = errorText(t, status, c);
  return pageLayout(m.title, html`<h1>${m.title}</h1><p>${m.text}</p>`, t, sender);
}

/**
 * Answers with the plain patient error page for `status`, patient headers included.
 * @example if (isPage) writeErrorPage(ctx, 404);
 */
export function writeErrorPage(ctx: Context, status: number, code?: string): void {
  ctx.status = status;
  setPatientHeaders(ctx);
  ctx.type = 'text/html; charset=utf-8';
  const retryAfter = Number(ctx.response.get('retry-after'));
  ctx.body = renderErrorPage(
    status,
    patientTranslator(ctx),
    {
      code,
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    },
    // Set by the app (the token service from its setup) before any route ran.
    (ctx.state.patientSender as PatientSender | undefined) ?? null,
  );
}

/**
 * Error rendering and the unrouted-request fallback for an app that serves patient pages under
 * some paths and JSON elsewhere: the same plain page or the same JSON error shape everywhere.
 * @example const pages = patientErrorPages((p) => p.startsWith('/token')); app.use(errorHandler({ render: pages.render }));
 */
export function patientErrorPages(isPageRoute: (path: string) => boolean) {
  return {
    /** True for a path whose answers are patient pages. */
    isPage: isPageRoute,
    /** For errorHandler: true when it wrote the page, false to let it answer JSON. */
    render(ctx: Context, status: number, body?: { error: { code: string } }): boolean {
      if (!isPageRoute(ctx.path)) return false;
      writeErrorPage(ctx, status, body?.error.code);
      return true;
    },
    /** The last middleware: anything no router answered is a clear 404 in the right format. */
    async notFound(ctx: Context): Promise<void> {
      if (isPageRoute(ctx.path)) {
        writeErrorPage(ctx, 404);
        return;
      }
      ctx.status = 404;
      ctx.body = { error: { code: 'not_found', message: 'no such route' } };
    },
  };
}
