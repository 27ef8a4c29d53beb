import { formatPersonName } from '@studylink/i18n';
import { html } from '@studylink/service-kit';
import type { ActiveLinkRow } from '../../tokens/active-links.repository.js';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from '../shared/staff.i18n.js';
import { formatTime, staffPage } from '../shared/staff.layout.js';

export type LinksFilter = 'all' | 'expiring' | 'unopened';

/** The active links: which expire soon, which no browser has opened yet. */
export function renderLinksPage(p: {
  session: StaffSession;
  /** The setup\'s zone: every time on the page is in it. */
  timeZone: string;
  rows: ActiveLinkRow[];
  filter: LinksFilter;
  soonDays: number;
  soon: Date;
}): string {
  const filters: [LinksFilter, string][] = [
    ['all', st.t('links.filter.all')],
    ['expiring', st.t('links.filter.expiring')],
    ['unopened', st.t('links.filter.unopened')],
  ];
  return staffPage({
    title: st.t('links.title'),
    session: p.session,
    active: 'links',
    body: html`<h1>${st.t('links.title')}</h1>
<p class="lead">${st.t('links.intro', { days: p.soonDays })}</p>
<nav class="filters" aria-label="${st.t('links.title')}"><ul class="inline-list">${filters.map(
      ([id, label]) =>
        html`<li><a href="/staff/links${id === 'all' ? '' : `?filter=${id}`}"${id === p.filter ? html` aria-current="page"` : ''}>${label}</a></li>`,
    )}</ul></nav>
${
  p.rows.length === 0
    ? html`<p class="notice">${st.t('links.none')}</p>`
    : html`<table class="links">
  <thead><tr><th scope="col">${st.t('links.column.study')}</th><th scope="col">${st.t('links.column.created')}</th><th scope="col">${st.t('links.column.expires')}</th><th scope="col">${st.t('links.column.opened')}</th><th scope="col">${st.t('links.column.sent')}</th></tr></thead>
  <tbody>${p.rows.map(
    (r) => html`<tr data-link="${r.id}">
    <td><a href="/staff/studies/${r.study_instance_uid}">${formatPersonName(r.patient_name, { lang: st.lang }) || r.study_instance_uid}</a></td>
    <td>${formatTime(r.created_at, p.timeZone)}</td>
    <td>${r.expires_at ? formatTime(r.expires_at, p.timeZone) : st.t('links.noExpiry')}${
      r.expires_at && r.expires_at <= p.soon
        ? html` <span class="badge warn">${st.t('links.expiringBadge')}</span>`
        : ''
    }</td>
    <td>${r.opened_at ? formatTime(r.opened_at, p.timeZone) : html`<span class="badge none">${st.t('links.unopenedBadge')}</span>`}</td>
    <td>${r.deliveries_sent}${r.deliveries_failed ? html` <span class="badge bad">${r.deliveries_failed} ${st.t('delivery.status.failed')}</span>` : ''}</td>
  </tr>`,
  )}</tbody>
</table>`
}`,
  });
}
