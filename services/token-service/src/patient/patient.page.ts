import { DOWNLOAD_PATH, REPORT_PAGE_PATH, VIEWER_PATH } from '@studylink/contracts';
import { formatPersonName, LANGUAGES, languageName, type Translator } from '@studylink/i18n';
import { html, pageLayout as layout, type SafeHtml } from '@studylink/service-kit';
import type { StudyRow, Verification } from '../db/tables.js';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import { dicomDateAsDate, formatBytes, formatDicomTime, studyMoment } from './format.js';
import type { LinkUse } from './link-history.js';
import { senderOf } from './sender.js';

export { DOWNLOAD_PATH };

/** A static same-origin file (the CSP allows no inline script): says a browser loaded the page. */
const OPENED_SCRIPT = html`<script src="/assets/patient-opened.js" defer></script>`;

/**
 * A value from the store isolated from the page's direction (bidi): a Latin "CT HEAD (CONTRAST)" on
 * an Arabic or Hebrew page would otherwise show its closing parenthesis at the far left.
 */
function isolated(value: string | null | undefined): SafeHtml | '' {
  return value ? html`<bdi>${value}</bdi>` : '';
}

function row(label: string, value: SafeHtml | string | null | undefined): SafeHtml | string {
  return value ? html`<div class="row"><dt>${label}</dt><dd>${value}</dd></div>` : '';
}

/**
 * The language switcher: a POST to the page's own address, so no new URL ever holds the token.
 * The choice is kept in a cookie (Path=/token) that error pages and the zip's README read too.
 */
function languageSwitcher(t: Translator, action: string): SafeHtml {
  return html`<form class="lang" method="post" action="${action}">
  <label for="lang">${t.t('page.language')}</label>
  <select id="lang" name="lang">${LANGUAGES.map(
    (l) =>
      html`<option value="${l}" lang="${l}"${l === t.lang ? html` selected` : ''}>${languageName(l)}</option>`,
  )}</select>
  <button type="submit">${t.t('page.changeLanguage')}</button>
</form>`;
}

// Stands for a value inside a translated sentence that the page wraps in its own markup.
const MARK = '\u0001';

/** A translated sentence with MARK replaced by markup (the rest of the sentence stays escaped). */
function withSpan(sentence: string, markup: SafeHtml): SafeHtml {
  const [before = '', after = ''] = sentence.split(MARK);
  return html`${before}${markup}${after}`;
}

/** What the page says about downloading: the button, or why there is none and whom to ask. */
export interface DownloadState {
  /** Why there is no zip, as the link gate decided it; null when there is one. */
  downloadRefusal: 'view_only' | 'limit_reached' | null;
  downloadsRemaining: number | null;
}

/** The patient's study page. Everything from DICOM is escaped by the `html` tag. */
export function renderStudyPage(p: {
  token: string;
  study: StudyRow | undefined;
  config: ServerConfig;
  clientIp: string;
  t: Translator;
  download: DownloadState;
  history: LinkUse[];
  /** "Share with a doctor" (sharing/share.page.ts); null when this link may not share. */
  share?: SafeHtml | null;
  /** A child link: the page says the patient shared it. */
  sharedByPatient?: boolean;
  /** The zip's exact length once the study's layout is made; null before (the last download's size shows). */
  zipSize?: number | null;
  /** Link the report page: the link may show reports and the study has one. */
  report?: boolean;
}): string {
  const { t, study: s } = p;
  const name = s ? formatPersonName(s.patient_name, { lang: t.lang }) : '';
  const counts =
    s && s.series_count !== null && s.instance_count !== null
      ? t.t('page.counts', { series: s.series_count, images: s.instance_count })
      : null;
  const date = s ? dicomDateAsDate(s.study_date) : null;
  const zone = p.config.timeZone;
  const moment = s ? studyMoment(s.study_date, s.study_time, zone) : null;
  // A date and time: in the setup's zone, labelled. A date alone is a calendar day, in no zone.
  const when = s
    ? moment
      ? t.dateTime(moment, zone)
      : [date ? t.date(date, { timeZone: 'UTC' }) : s.study_date.trim(), formatDicomTime(s.study_time)]
          .filter(Boolean)
          .join(', ')
    : '';
  const viewer = p.config.viewerUrl;
  const d = p.download;
  const left = d.downloadsRemaining;
  const refusal =
    d.downloadRefusal === 'view_only'
      ? t.t('page.viewOnly')
      : d.downloadRefusal === 'limit_reached'
        ? t.t('page.limitReached')
        : null;
  const action = `/token?${p.token}`;
  // What the patient came for, first (on a phone: full width, at thumb's reach); the zip second, with
  // its size and what it is for, since a phone can rarely open it (issue 20).
  const zipSize = p.zipSize
    ? formatBytes(p.zipSize, t)
    : s?.last_export_bytes
      ? t.t('page.aboutSize', { size: formatBytes(s.last_export_bytes, t) })
      : null;
  const actions = html`<div class="actions">
<p class="view"><a class="button" href="${VIEWER_PATH}?${p.token}">${t.t('page.viewButton')}</a></p>
${p.report ? html`<p class="report-link"><a class="button secondary" href="${REPORT_PAGE_PATH}?${p.token}">${t.t('page.reportLink')}</a></p>` : ''}
${
  refusal
    ? html`<p class="notice refusal">${refusal} ${t.t('page.whomToAsk')}</p>`
    : html`<div class="download">
  <a class="button secondary" href="${DOWNLOAD_PATH}?${p.token}" download>${t.t('page.downloadButton')}${zipSize ? html` <span class="size">${zipSize}</span>` : ''}</a>
  <p class="zip-note">${t.t('page.zipNote')}</p>
  ${left !== null ? html`<p class="allowance">${t.t('page.downloadsLeft', { left })}</p>` : ''}
</div>`
}
</div>`;
  return layout(
    t.t('page.title'),
    html`<header>
  <h1>${t.t('page.title')}</h1>
</header>
${p.sharedByPatient ? html`<p class="notice shared">${t.t('share.childNotice')}</p>` : ''}
${actions}
${
  s
    ? html`<dl class="details">
  ${row(t.t('page.patient'), name ? html`<bdi>${name}</bdi>` : '')}
  ${row(t.t('page.study'), isolated(s.description))}
  ${row(t.t('page.date'), when)}
  ${row(t.t('page.modalities'), s.modalities.join(', '))}
  ${row(t.t('page.seriesAndImages'), counts)}
  ${row(t.t('page.studyId'), s.study_id)}
  ${row(
    t.t('page.downloadSize'),
    p.zipSize
      ? `${formatBytes(p.zipSize, t)} (${t.number(p.zipSize, { style: 'unit', unit: 'byte', unitDisplay: 'long' })})`
      : s.last_export_bytes
        ? t.t('page.aboutSize', { size: formatBytes(s.last_export_bytes, t) })
        : null,
  )}
</dl>`
    : html`<p class="notice">${t.t('page.detailsUnavailable')}</p>`
}
<section>
  <h2>${t.t('page.howTo')}</h2>
  <ol>
    <li>${t.t('page.step1')}${viewer ? html` <a href="${viewer}" rel="noopener noreferrer" target="_blank">${t.t('page.viewerLink')}</a>` : ''}</li>
    ${
      refusal
        ? ''
        : html`<li>${t.t('page.step2')}</li>
    <li>${t.t('page.step3')}</li>`
    }
  </ol>
</section>
${p.share ?? ''}
${renderHistory(t, p.history, zone)}
${OPENED_SCRIPT}
<footer>
  <p>${withSpan(t.t('page.clientIp', { ip: MARK }), html`<span class="ip">${p.clientIp}</span>`)}</p>
  <p>${t.t('page.keepPrivate')}</p>
  ${languageSwitcher(t, action)}
</footer>`,
    t,
    senderOf(p.config, s?.institution_name),
  );
}

function renderHistory(t: Translator, uses: LinkUse[], timeZone: string): SafeHtml | string {
  if (uses.length === 0) return '';
  return html`<section class="history">
  <h2>${t.t('history.title')}</h2>
  <p>${t.t('history.intro', { count: uses.length })}</p>
  <table>
    <thead><tr><th scope="col">${t.t('history.when')}</th><th scope="col">${t.t('history.what')}</th><th scope="col">${t.t('history.from')}</th></tr></thead>
    <tbody>${uses.map(
      (u) =>
        html`<tr><td><time datetime="${u.at.toISOString()}">${t.dateTime(u.at, timeZone)}</time></td><td>${t.t(u.what)}</td><td class="ip">${u.clientIp ?? ''}</td></tr>`,
    )}</tbody>
  </table>
</section>`;
}

/** The short form a link with a second factor shows first: no study data at all. */
export function renderVerificationForm(p: {
  token: string;
  config: ServerConfig;
  verification: Exclude<Verification, 'none'>;
  t: Translator;
  /** What to tell the patient about the last answer: wrong, or not written the way it must be. */
  message: 'verify.wrong' | 'verify.dateFormat' | 'verify.pinFormat' | null;
}): string {
  const { t } = p;
  const action = `/token?${p.token}`;
  const field =
    p.verification === 'birth-date'
      ? birthDateFields(t, p.message !== null)
      : html`<label for="answer">${t.t('verify.pin')}</label>
  <input id="answer" name="pin" type="text" inputmode="numeric" pattern="[0-9 ]{6,12}" required autocomplete="one-time-code" maxlength="12">`;
  return layout(
    t.t('verify.title'),
    html`<header>
  <h1>${t.t('verify.title')}</h1>
</header>
<p>${p.verification === 'birth-date' ? t.t('verify.birthDateIntro') : t.t('verify.pinIntro')}</p>
${p.message ? html`<p class="notice error" role="alert">${t.t(p.message)}</p>` : ''}
<form class="verify" method="post" action="${action}">
  ${field}
  <button class="button" type="submit">${t.t('verify.submit')}</button>
</form>
<p class="hint">${t.t('verify.lockNote')}</p>
${OPENED_SCRIPT}
<footer>${languageSwitcher(t, action)}</footer>`,
    t,
    senderOf(p.config),
  );
}

const DATE_FIELDS = {
  day: { key: 'verify.day', autocomplete: 'bday-day', size: 2, max: 31 },
  month: { key: 'verify.month', autocomplete: 'bday-month', size: 2, max: 12 },
  year: { key: 'verify.year', autocomplete: 'bday-year', size: 4, max: 9999 },
} as const;

/**
 * The birth date as three numeric fields in the language's order (the accessible pattern: a
 * fieldset, its legend, a hint, one label per field); any date a DICOM DA can hold (1800-01-01
 * included), which a browser's date picker would not offer.
 */
function birthDateFields(t: Translator, invalid: boolean): SafeHtml {
  return html`<fieldset class="date" aria-describedby="birth-date-hint">
  <legend>${t.t('verify.birthDate')}</legend>
  <p class="hint" id="birth-date-hint">${t.t('verify.birthDateHint')}</p>
  <div class="date-fields" dir="ltr">${t.dateFieldOrder.map((part) => {
    const f = DATE_FIELDS[part];
    return html`<div class="date-field date-${part}"><label for="birth-${part}">${t.t(f.key)}</label>
    <input id="birth-${part}" name="${part === 'day' ? 'birthDay' : part === 'month' ? 'birthMonth' : 'birthYear'}" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="${f.size}" size="${f.size}" required autocomplete="${f.autocomplete}"${invalid ? html` aria-invalid="true"` : ''}></div>`;
  })}</div>
</fieldset>`;
}
