import { DOWNLOAD_PATH, VIEWER_PATH } from '@studylink/contracts';
import { html, pageLayout as layout, type SafeHtml } from '@studylink/service-kit';
import type { StudyRow } from '../db/tables.js';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import { formatBytes, formatDicomDate, formatDicomTime, formatPersonName } from './format.js';

export { DOWNLOAD_PATH };

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
      ? `${s.series_count} series, ${s.instance_count} ${s.instance_count === 1 ? 'image' : 'images'}`
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
<p class="download"><a class="button" href="${VIEWER_PATH}?${p.token}">View images</a> <a class="button" href="${DOWNLOAD_PATH}?${p.token}" download>Zip file of the study</a></p>
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
