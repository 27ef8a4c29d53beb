import { html } from '@studylink/service-kit';
import { ACCESS_EVENTS } from '../access-log/access-log.repository.js';
import type { AccessLogRow } from '../db/tables.js';
import { errorSummary, inputField, selectField, staffPage } from './staff.layout.js';
import type { FieldErrors } from './staff.schemas.js';
import type { StaffSession } from './staff-session.service.js';

export interface AccessLogForm {
  study: string;
  event: string;
  from: string;
  to: string;
}

const LABELS = { study: 'Study instance UID', event: 'Event', from: 'From', to: 'To', before: 'Page' };

export function filterQuery(f: AccessLogForm, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function renderAccessLogPage(p: {
  session: StaffSession;
  form: AccessLogForm;
  rows: AccessLogRow[] | null;
  nextCursor: number | null;
  errors?: FieldErrors;
}): string {
  const f = p.form;
  return staffPage({
    title: 'Access log',
    session: p.session,
    active: 'access-log',
    body: html`<h1>Access log</h1>
<p class="lead">Every page view, download, link display and staff action, newest first. Times are UTC.</p>
<section class="card" aria-labelledby="filter-heading">
  <h2 id="filter-heading">Filter</h2>
  ${errorSummary(p.errors, LABELS)}
  <form method="get" action="/staff/access-log" class="stack" novalidate>
    <div class="fields">
      ${inputField({ name: 'study', label: 'Study instance UID', value: f.study, errors: p.errors, autocomplete: 'off' })}
      ${selectField({
        name: 'event',
        label: 'Event',
        value: f.event,
        options: [['', 'All events'], ...ACCESS_EVENTS.map((e) => [e, e.replace(/_/g, ' ')] as const)],
        errors: p.errors,
      })}
      ${inputField({ name: 'from', label: 'From', type: 'date', value: f.from, errors: p.errors })}
      ${inputField({ name: 'to', label: 'To', type: 'date', value: f.to, errors: p.errors, hint: 'Including this day.' })}
    </div>
    <div class="actions">
      <button class="button" type="submit">Filter</button>
      <a class="button secondary" href="/staff/access-log">Clear</a>
      ${p.rows ? html`<a class="button secondary" href="/staff/access-log.csv${filterQuery(f)}" download>Download CSV</a>` : ''}
    </div>
  </form>
</section>
${
  p.rows
    ? html`<div class="table-scroll" role="region" aria-labelledby="log-caption" tabindex="0">
  <table>
    <caption id="log-caption">${p.rows.length === 0 ? 'No entries' : `${p.rows.length} entries`}</caption>
    <thead><tr>
      <th scope="col">Time (UTC)</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col">Study</th>
      <th scope="col">Client IP</th><th scope="col">User agent</th><th scope="col">Bytes</th><th scope="col">Actor</th>
    </tr></thead>
    <tbody>
      ${p.rows.map(
        (r) => html`<tr>
        <td class="nowrap">${r.at.toISOString().slice(0, 10)}<span class="sub">${r.at.toISOString().slice(11, 19)}</span></td>
        <td class="nowrap">${r.event}</td>
        <td>${r.outcome}</td>
        <td class="uid mono">${r.study_instance_uid ? html`<a href="/staff/access-log${filterQuery({ ...f, study: r.study_instance_uid })}">${r.study_instance_uid}</a>` : ''}</td>
        <td class="nowrap">${r.client_ip ?? ''}</td>
        <td class="ua">${r.user_agent ?? ''}</td>
        <td class="num">${r.bytes ?? ''}</td>
        <td>${r.actor ?? ''}</td>
      </tr>`,
      )}
    </tbody>
  </table>
</div>
${
  p.nextCursor
    ? html`<nav class="pager" aria-label="Log pages"><span></span><a class="button secondary" href="/staff/access-log${filterQuery(f, { before: String(p.nextCursor) })}" rel="next">Older entries →</a></nav>`
    : ''
}`
    : ''
}`,
  });
}
