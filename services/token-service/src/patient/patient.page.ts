import type { StudyRow } from '../db/tables.js';
import { html, type SafeHtml } from '../http/html.js';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import { formatBytes, formatDicomDate, formatDicomTime, formatPersonName } from './format.js';

export const DOWNLOAD_PATH = '/token/study.zip';

function layout(title: string, body: SafeHtml): string {
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

function row(label: string, value: string | null | undefined): SafeHtml | string {
  return value ? html`<div class="row"><dt>${label}</dt><dd>${value}</dd></div>` : '';
}

/** The patient's study page. Everything from DICOM is escaped by the `html` tag. */
export function renderStudyPage(p: {
  token: string;
  study: StudyRow | undefined;
  config: ServerConfig;
  clientIp: string;
}): string {
  const s = p.study;
  const org = [p.config.institution || s?.institution_name, p.config.department].filter(Boolean).join(' · ');
  const counts =
    s && s.series_count !== null && s.instance_count !== null
      ? `${s.series_count} series, ${s.instance_count} images`
      : null;
  const when = s
    ? [formatDicomDate(s.study_date), formatDicomTime(s.study_time)].filter(Boolean).join(', ')
    : '';
  const viewer = p.config.viewerUrl;
  return layout(
    'Your imaging study',
    html`<header>
  ${org ? html`<p class="org">${org}</p>` : ''}
  <h1>Your imaging study</h1>
</header>
${
  s
    ? html`<dl class="details">
  ${row('Patient', formatPersonName(s.patient_name))}
  ${row('Study', s.description)}
  ${row('Date', when)}
  ${row('Modalities', s.modalities.join(', '))}
  ${row('Series and images', counts)}
  ${row('Study ID', s.study_id)}
  ${row('Download size', s.last_export_bytes ? `about ${formatBytes(s.last_export_bytes)}` : null)}
</dl>`
    : html`<p class="notice">The study details cannot be shown right now; the download below still works when the archive is back.</p>`
}
<p class="download"><a class="button" href="${DOWNLOAD_PATH}?${p.token}" download>Zip file of the study</a></p>
<section>
  <h2>How to look at your images</h2>
  <ol>
    <li>Install a free DICOM viewer${viewer ? html`, for example <a href="${viewer}" rel="noopener noreferrer" target="_blank">this free DICOM viewer</a>` : ''}.</li>
    <li>Download the <strong>Zip file of the study</strong> with the button above.</li>
    <li>Unzip it, then open the folder (or its <code>DICOMDIR</code> file) in the viewer.</li>
  </ol>
</section>
<footer>
  <p>You are connecting from <span class="ip">${p.clientIp}</span>.</p>
  <p>Keep this link private: anyone who has it can download these images.</p>
</footer>`,
  );
}

const MESSAGES: Record<number, { title: string; text: string }> = {
  404: {
    title: 'Link not found',
    text: 'This link was not found or is no longer available. Please contact the department that gave it to you.',
  },
  410: {
    title: 'Link no longer available',
    text: 'This link was not found or is no longer available. Please contact the department that gave it to you.',
  },
  429: {
    title: 'Too many attempts',
    text: 'Too many requests came from your address. Please wait a minute and try again.',
  },
  503: {
    title: 'Temporarily unavailable',
    text: 'The service is temporarily unavailable. Please try again in a few minutes.',
  },
};

/** The plain page for 4xx/5xx: no study data, whatever the reason. */
export function renderErrorPage(status: number): string {
  const m = MESSAGES[status] ?? {
    title: status >= 500 ? 'Something went wrong' : 'Request not understood',
    text: status >= 500 ? 'Please try again in a few minutes.' : 'The address you opened is not valid.',
  };
  return layout(m.title, html`<h1>${m.title}</h1><p>${m.text}</p>`);
}
