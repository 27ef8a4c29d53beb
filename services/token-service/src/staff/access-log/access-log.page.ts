import { formatPersonName } from '@studylink/i18n';
import { html, type SafeHtml } from '@studylink/service-kit';
import type { AccessLogRowWithPatient } from '../../access-log/access-log.repository.js';
import { ACCESS_EVENTS } from '../../access-log/access-log.repository.js';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from '../shared/staff.i18n.js';
import { errorSummary, formatTime, inputField, selectField, staffPage } from '../shared/staff.layout.js';
import type { FieldErrors } from '../shared/staff.schemas.js';
import type { LogEntry } from './access-log.collapse.js';
import { shortUserAgent } from './user-agent.js';

export interface AccessLogForm {
  study: string;
  patientName: string;
  patientId: string;
  event: string;
  from: string;
  to: string;
}

const LABELS = {
  study: st.t('accessLog.label.study'),
  patientName: st.t('accessLog.label.patientName'),
  patientId: st.t('accessLog.label.patientId'),
  event: st.t('accessLog.label.event'),
  from: st.t('accessLog.label.from'),
  to: st.t('accessLog.label.to'),
  before: st.t('accessLog.label.before'),
};

/** An event's name from the catalogue; one it lacks (from a newer release's rows) as its code. */
function eventName(code: string): SafeHtml | string {
  const key = `accessLog.event.${code}`;
  return st.has(key) ? st.t(key) : html`<code>${code}</code>`;
}

/** An outcome's name from the catalogue; the rarer ones (and a detail code) as the code itself. */
function outcomeName(code: string): SafeHtml | string {
  if (!code) return '';
  const key = `accessLog.outcome.${code}`;
  return st.has(key) ? st.t(key) : html`<code>${code}</code>`;
}

/** The filter's event choices: each event's name from the catalogue (a missing one fails to compile). */
const EVENT_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['', st.t('accessLog.allEvents')],
  ...ACCESS_EVENTS.map((e) => [e, st.t(`accessLog.event.${e}`)] as const),
];

export function filterQuery(f: AccessLogForm, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function renderAccessLogPage(p: {
  session: StaffSession;
  /** The setup\'s zone: every time on the page is in it. */
  timeZone: string;
  form: AccessLogForm;
  /** The page's events, repeated views collapsed; null when the filter was refused. */
  entries: LogEntry<AccessLogRowWithPatient>[] | null;
  nextCursor: number | null;
  errors?: FieldErrors;
}): string {
  const f = p.form;
  return staffPage({
    title: st.t('accessLog.title'),
    session: p.session,
    active: 'access-log',
    body: html`<h1>${st.t('accessLog.title')}</h1>
<p class="lead">${st.t('accessLog.lead')}</p>
<section class="card" aria-labelledby="filter-heading">
  <h2 id="filter-heading">${st.t('accessLog.filter.heading')}</h2>
  ${errorSummary(p.errors, LABELS)}
  <form method="get" action="/staff/access-log" class="stack" novalidate>
    <div class="fields">
      ${inputField({ name: 'patientName', label: LABELS.patientName, value: f.patientName, errors: p.errors, autocomplete: 'off' })}
      ${inputField({ name: 'patientId', label: LABELS.patientId, value: f.patientId, errors: p.errors, autocomplete: 'off' })}
      ${inputField({ name: 'study', label: LABELS.study, value: f.study, errors: p.errors, autocomplete: 'off' })}
      ${selectField({
        name: 'event',
        label: LABELS.event,
        value: f.event,
        options: EVENT_OPTIONS,
        errors: p.errors,
      })}
      ${inputField({ name: 'from', label: LABELS.from, type: 'date', value: f.from, errors: p.errors })}
      ${inputField({ name: 'to', label: LABELS.to, type: 'date', value: f.to, errors: p.errors, hint: st.t('accessLog.filter.toHint') })}
    </div>
    <div class="actions">
      <button class="button" type="submit">${st.t('accessLog.filter.submit')}</button>
      <a class="button secondary" href="/staff/access-log">${st.t('accessLog.filter.clear')}</a>
      ${p.entries ? html`<a class="button secondary" href="/staff/access-log.csv${filterQuery(f)}" download>${st.t('accessLog.downloadCsv')}</a>` : ''}
    </div>
  </form>
</section>
${
  p.entries
    ? html`<div class="table-scroll log" role="region" aria-labelledby="log-caption" tabindex="0">
  <table>
    <caption id="log-caption">${st.t('accessLog.caption', { count: p.entries.reduce((n, e) => n + e.count, 0) })}</caption>
    <thead><tr>
      <th scope="col">${st.t('accessLog.column.time')}</th><th scope="col">${st.t('accessLog.column.event')}</th><th scope="col">${st.t('accessLog.column.outcome')}</th>
      <th scope="col">${st.t('accessLog.column.patientName')}</th><th scope="col">${st.t('accessLog.column.patientId')}</th><th scope="col">${st.t('accessLog.column.study')}</th>
      <th scope="col">${st.t('accessLog.column.clientIp')}</th><th scope="col">${st.t('accessLog.column.userAgent')}</th><th scope="col" class="num">${st.t('accessLog.column.bytes')}</th><th scope="col">${st.t('accessLog.column.actor')}</th>
    </tr></thead>
    <tbody>
      ${p.entries.map(({ row: r, count, oldest }) => {
        const ua = r.user_agent ?? '';
        const short = shortUserAgent(ua);
        return html`<tr>
        <td class="nowrap"><time datetime="${r.at.toISOString()}">${formatTime(r.at, p.timeZone, true)}</time></td>
        <td>${eventName(r.event)}${
          count > 1
            ? html`<span class="sub">${st.t('accessLog.collapsed', { count, since: formatTime(oldest, p.timeZone, true) })}</span>`
            : ''
        }</td>
        <td>${outcomeName(r.outcome)}</td>
        <td>${r.patient_name ? html`<bdi>${formatPersonName(r.patient_name, { lang: st.lang })}</bdi>` : ''}</td>
        <td class="wrap-any">${r.patient_id ?? ''}</td>
        <td class="uid mono">${r.study_instance_uid ? html`<a href="/staff/access-log${filterQuery({ ...f, study: r.study_instance_uid })}">${r.study_instance_uid}</a>` : ''}</td>
        <td class="wrap-any">${r.client_ip ?? ''}</td>
        <td class="ua">${
          short === ua
            ? ua
            : html`<details><summary>${short}</summary><span class="ua-full">${ua}</span></details>`
        }</td>
        <td class="num">${r.bytes ?? ''}</td>
        <td class="wrap-any">${r.actor ?? ''}</td>
      </tr>`;
      })}
    </tbody>
  </table>
</div>
${
  p.nextCursor
    ? html`<nav class="pager" aria-label="${st.t('accessLog.pager.label')}"><span></span><a class="button secondary" href="/staff/access-log${filterQuery(f, { before: String(p.nextCursor) })}" rel="next">${st.t('accessLog.pager.older')}</a></nav>`
    : ''
}`
    : ''
}`,
  });
}
