import type { Context } from 'koa';
import { html, type SafeHtml } from './html.js';
import { setPatientHeaders } from './patient-headers.js';

/** The wrapper of every patient-facing page: no scripts, one same-origin stylesheet. */
export function pageLayout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
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
${body}
</main>
</body>
</html>
`.value;
}

const GONE =
  'This link was not found or is no longer available. Please contact the department that gave it to you.';

const MESSAGES: Record<number, { title: string; text: string }> = {
  404: { title: 'Link not found', text: GONE },
  410: { title: 'Link no longer available', text: GONE },
  429: {
    title: 'Too many attempts',
    text: 'Too many requests came from your address. Please wait a minute and try again.',
  },
  503: {
    title: 'Temporarily unavailable',
    text: 'The service is temporarily unavailable. Please try again in a few minutes.',
  },
};

/**
 * The plain page for a 4xx/5xx answer to a patient: the same text whatever the reason, no study data.
 * @example ctx.body = renderErrorPage(404);
 */
export function renderErrorPage(status: number): string {
  const m = MESSAGES[status] ?? {
    title: status >= 500 ? 'Something went wrong' : 'Request not understood',
    text: status >= 500 ? 'Please try again in a few minutes.' : 'The address you opened is not valid.',
  };
  return pageLayout(m.title, html`<h1>${m.title}</h1><p>${m.text}</p>`);
}

/**
 * Answers with the plain patient error page for `status`, patient headers included.
 * @example if (isPage) writeErrorPage(ctx, 404);
 */
export function writeErrorPage(ctx: Context, status: number): void {
  ctx.status = status;
  setPatientHeaders(ctx);
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = renderErrorPage(status);
}

/**
 * Error rendering and the unrouted-request fallback for an app that serves patient pages under
 * some paths and JSON elsewhere: the same plain page or the same JSON error shape everywhere.
 * @example const pages = patientErrorPages((p) => p.startsWith('/token')); app.use(errorHandler({ render: pages.render }));
 */
export function patientErrorPages(isPageRoute: (path: string) => boolean) {
  return {
    /** For errorHandler: true when it wrote the page, false to let it answer JSON. */
    render(ctx: Context, status: number): boolean {
      if (!isPageRoute(ctx.path)) return false;
      writeErrorPage(ctx, status);
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
