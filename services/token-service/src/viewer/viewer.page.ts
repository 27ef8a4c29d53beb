import { DICOMWEB_GATEWAY_PREFIX, DOWNLOAD_PATH } from '@studylink/contracts';
import { html } from '@studylink/service-kit';
import type { StudyRow } from '../db/tables.js';
import { formatDicomDate, formatPersonName } from '../patient/format.js';
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
 */
export function renderViewerPage(p: {
  token: string;
  studyInstanceUid: string;
  study: StudyRow | undefined;
  assets: ViewerAssets;
  /** Offer the zip (false for view-only links and links past their download limit). */
  download?: boolean;
}): string {
  const s = p.study;
  const name = s ? formatPersonName(s.patient_name) : '';
  const meta = s ? [formatDicomDate(s.study_date), s.description].filter(Boolean).join(' · ') : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>Images${name ? ` · ${name}` : ''}</title>
<link rel="stylesheet" href="${p.assets.styleUrl}">
<script type="module" src="${p.assets.scriptUrl}"></script>
</head>
<body>
<div class="app" id="app" data-study="${p.studyInstanceUid}" data-gateway="${DICOMWEB_GATEWAY_PREFIX}" data-assets="${p.assets.base}">
<header class="bar">
  <a class="back" href="/token?${p.token}">Study page</a>
  <div class="who">
    <h1 id="patient">${name || 'Your images'}</h1>
    <p id="study-meta">${meta}</p>
  </div>
  ${p.download === false ? '' : html`<a class="zip" href="${DOWNLOAD_PATH}?${p.token}" download>Zip file</a>`}
</header>
<nav class="strip" id="series" aria-label="Series"></nav>
<main class="stage" id="stage">
  <div class="viewport" id="viewport" tabindex="0" role="img" aria-label="Image viewer: use the arrow keys to move through the images"></div>
  <p class="counter" id="counter" aria-live="polite"></p>
  <p class="status" id="status" role="status">Loading images…</p>
  <div class="progress" id="progress" role="progressbar" aria-label="Loading the series" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0" hidden><div class="progress-bar" id="progress-bar"></div></div>
</main>
<div class="tools" id="tools" role="toolbar" aria-label="Image tools">
  <label class="preset">Window <select id="preset" aria-label="Window preset">
    <option value="default">As stored</option>
  </select></label>
  <button type="button" id="tool-scroll" aria-pressed="false">Scroll</button>
  <button type="button" id="tool-wl" aria-pressed="true">Contrast</button>
  <button type="button" id="tool-pan" aria-pressed="false">Move</button>
  <button type="button" id="tool-zoom" aria-pressed="false">Zoom</button>
  <button type="button" id="invert" aria-pressed="false">Invert</button>
  <button type="button" id="reset">Reset</button>
</div>
<noscript><p class="status">The image viewer needs JavaScript.${p.download === false ? '' : html` You can still download the <a href="${DOWNLOAD_PATH}?${p.token}">zip file of the study</a>.`}</p></noscript>
</div>
</body>
</html>
`.value;
}
