import { DICOMWEB_GATEWAY_PREFIX, DOWNLOAD_PATH } from '@studylink/contracts';
import { bidiIsolate, formatPersonName, messagesWithPrefix, type Translator } from '@studylink/i18n';
import { html, type PatientSender, type SafeHtml } from '@studylink/service-kit';
import type { StudyRow } from '../db/tables.js';
import { dicomDateAsDate } from '../patient/format.js';
import type { ViewerAssets } from './viewer.assets.js';

/** The viewer page's CSP: scripts and workers from this origin only, WebAssembly for the codecs. */
export const VIEWER_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  // Cornerstone's tool cursors are SVG blobs it makes itself; its JPEG decoder may hand a frame to the
  // browser's own decoder as a data: URL.
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * The viewer's page: the header (from the token service's copy of the study details, escaped), the
 * chrome the script fills in, and the script itself. The token is in the page's own URL, where the
 * script reads it; the only links carrying it are the same-origin ones back to the page and to the zip.
 * Everything is in the patient's language (`t`); the script gets its own messages (`viewer.*`) from
 * `data-messages` on `#app` (the CSP allows no inline script) and formats them in `data-lang`.
 */
export function renderViewerPage(p: {
  token: string;
  studyInstanceUid: string;
  study: StudyRow | undefined;
  assets: ViewerAssets;
  t: Translator;
  /** Offer the zip (false for view-only links and links past their download limit). */
  download?: boolean;
  /** Who sent the link: logo, institution and contact in the header. */
  sender?: PatientSender | null;
  /** Whole instances may be fetched (false: the gateway refuses them; the viewer uses rendered frames). */
  originalFiles?: boolean;
}): string {
  const { t, study: s } = p;
  const name = s ? formatPersonName(s.patient_name, { lang: t.lang }) : '';
  const date = s ? dicomDateAsDate(s.study_date) : null;
  const when = s ? (date ? t.date(date, { timeZone: 'UTC' }) : s.study_date.trim()) : '';
  // The description isolated (bdi): a Latin "CT HEAD (CONTRAST)" in a right-to-left line would
  // otherwise show its closing parenthesis at the far left.
  const meta = s
    ? html`${when}${when && s.description ? ' · ' : ''}${s.description ? html`<bdi>${s.description}</bdi>` : ''}`
    : '';
  const messages = JSON.stringify(messagesWithPrefix(t.lang, 'viewer.'));
  return html`<!doctype html>
<html lang="${t.lang}" dir="${t.dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${t.t('viewer.title')}${name ? ` · ${bidiIsolate(name, t.lang)}` : ''}</title>
<link rel="stylesheet" href="${p.assets.styleUrl}">
<script type="module" src="${p.assets.scriptUrl}"></script>
${p.assets.preloadUrls.map((u) => html`<link rel="modulepreload" href="${u}">\n`)}
</head>
<body>
<div class="app" id="app" data-study="${p.studyInstanceUid}" data-gateway="${DICOMWEB_GATEWAY_PREFIX}" data-assets="${p.assets.base}" data-lang="${t.lang}" data-original-files="${p.originalFiles === false ? 'no' : 'yes'}" data-messages="${messages}">
<header class="bar">
  <a class="back" href="/token?${p.token}">${t.t('viewer.backToStudy')}</a>
  <div class="who">
    <h1 id="patient">${name ? html`<bdi>${name}</bdi>` : t.t('viewer.yourImages')}</h1>
    <p id="study-meta">${meta}</p>
    ${viewerSender(t, p.sender)}
  </div>
  ${p.download === false ? '' : html`<a class="zip" href="${DOWNLOAD_PATH}?${p.token}" download>${t.t('viewer.zip')}</a>`}
</header>
<nav class="strip" id="series" aria-label="${t.t('viewer.seriesList')}"></nav>
<main class="stage" id="stage">
  <div class="viewport" id="viewport" tabindex="0" role="img" aria-label="${t.t('viewer.viewport')}"></div>
  <img class="preview" id="preview" alt="" hidden>
  <p class="quality" id="quality" hidden></p>
  <p class="series-progress" id="series-progress" aria-live="polite" hidden></p>
  <button type="button" class="load-full" id="load-full" hidden>${t.t('viewer.loadFull')}</button>
  <p class="counter" id="counter" aria-live="polite"></p>
  <p class="status" id="status" role="status">${t.t('viewer.loading')}</p>
  <div class="progress" id="progress" role="progressbar" aria-label="${t.t('viewer.progress')}" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0" hidden><div class="progress-bar" id="progress-bar"></div></div>
</main>
<div class="tools" id="tools" role="toolbar" aria-label="${t.t('viewer.tools')}">
  <label class="preset"><span>${t.t('viewer.window')}</span> <select id="preset" aria-label="${t.t('viewer.windowPreset')}">
    <option value="default">${t.t('viewer.asStored')}</option>
  </select></label>
  <button type="button" id="tool-scroll" aria-pressed="false">${t.t('viewer.scroll')}</button>
  <button type="button" id="tool-wl" aria-pressed="true">${t.t('viewer.contrast')}</button>
  <button type="button" id="tool-pan" aria-pressed="false">${t.t('viewer.move')}</button>
  <button type="button" id="tool-zoom" aria-pressed="false">${t.t('viewer.zoom')}</button>
  <button type="button" id="invert" aria-pressed="false">${t.t('viewer.invert')}</button>
  <button type="button" id="reset">${t.t('viewer.reset')}</button>
  <button type="button" id="data-light" aria-pressed="false">${t.t('viewer.dataLight')}</button>
  <button type="button" id="report-toggle" aria-expanded="false" aria-controls="report" hidden>${t.t('viewer.showReport')}</button>
</div>
<section class="report-panel" id="report" aria-labelledby="report-title" hidden>
  <header><h2 id="report-title">${t.t('viewer.report')}</h2><button type="button" id="report-close" aria-label="${t.t('viewer.report')}: ×">×</button></header>
  <div id="report-body"></div>
</section>
<noscript><p class="status">${t.t('viewer.needsJavaScript')}${p.download === false ? '' : html` <a href="${DOWNLOAD_PATH}?${p.token}">${t.t('viewer.downloadZip')}</a>`}</p></noscript>
</div>
</body>
</html>
`.value;
}

/** The sender's line in the viewer's header: logo, institution, and the first way to reach them. */
function viewerSender(t: Translator, s: PatientSender | null | undefined): SafeHtml | '' {
  if (!s || (!s.institution && !s.logoUrl && !s.phone && !s.email)) return '';
  const reach = s.phone
    ? html` · <a class="contact" href="tel:${s.phone.replace(/[^0-9+]/g, '')}" dir="ltr" aria-label="${t.t('sender.phone')} ${s.phone}">${s.phone}</a>`
    : s.email
      ? html` · <a class="contact" href="mailto:${s.email}" dir="ltr" aria-label="${t.t('sender.email')} ${s.email}">${s.email}</a>`
      : '';
  return html`<p class="sender" id="sender">${s.logoUrl ? html`<img class="logo" src="${s.logoUrl}" alt="" height="20">` : ''}${s.institution}${reach}</p>`;
}
