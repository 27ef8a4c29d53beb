import { formatPersonName, type StaffMessageKey } from '@studylink/i18n';
import { html, type SafeHtml } from '@studylink/service-kit';
import type { TokenStatus } from '../../tokens/token.repository.js';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from '../shared/staff.i18n.js';
import { errorSummary, inputField, isoDay, selectField, staffPage } from '../shared/staff.layout.js';
import type { FieldErrors } from '../shared/staff.schemas.js';
import type { StudySummary } from './study-search.source.js';

const MODALITIES = [
  ['', 'studies.modality.any'],
  ['CT', 'studies.modality.CT'],
  ['MR', 'studies.modality.MR'],
  ['CR', 'studies.modality.CR'],
  ['DX', 'studies.modality.DX'],
  ['US', 'studies.modality.US'],
  ['MG', 'studies.modality.MG'],
  ['NM', 'studies.modality.NM'],
  ['PT', 'studies.modality.PT'],
  ['XA', 'studies.modality.XA'],
  ['RF', 'studies.modality.RF'],
  ['OT', 'studies.modality.OT'],
  ['SC', 'studies.modality.SC'],
  ['SR', 'studies.modality.SR'],
] as const satisfies ReadonlyArray<readonly [string, StaffMessageKey]>;

/** The modality choices: a code and its label. */
export function modalityOptions(): ReadonlyArray<readonly [string, string]> {
  return MODALITIES.map(([code, key]) => [code, st.t(key)] as const);
}

export interface StudySearchForm {
  patientName: string;
  patientId: string;
  accession: string;
  from: string;
  to: string;
  birthDate: string;
  modality: string;
}

export const EMPTY_SEARCH: StudySearchForm = {
  patientName: '',
  patientId: '',
  accession: '',
  from: '',
  to: '',
  birthDate: '',
  modality: '',
};

/** The search fields' labels (the error summary names fields by them). */
const labels = () =>
  ({
    patientName: st.t('studies.field.patientName'),
    patientId: st.t('studies.field.patientId'),
    accession: st.t('studies.field.accession'),
    from: st.t('studies.field.from'),
    to: st.t('studies.field.to'),
    birthDate: st.t('studies.field.birthDate'),
    modality: st.t('studies.field.modality'),
    page: st.t('studies.field.page'),
  }) satisfies Record<string, string>;

/** The status of a study's link, as a badge. */
export function linkBadge(t: TokenStatus | undefined, timeZone: string): SafeHtml {
  if (!t) return html`<span class="badge none">${st.t('studies.badge.none')}</span>`;
  if (t.expiresAt && t.expiresAt.getTime() <= Date.now())
    return html`<span class="badge bad">${st.t('studies.badge.expired')}</span>`;
  return html`<span class="badge ok">${st.t('studies.badge.active')}</span>${
    t.expiresAt
      ? html`<span class="sub">${st.t('studies.badge.until', { date: isoDay(t.expiresAt, timeZone) })}</span>`
      : html`<span class="sub">${st.t('studies.badge.noExpiry')}</span>`
  }`;
}

function searchHref(f: StudySearchForm, page: number): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  if (page > 1) q.set('page', String(page));
  const s = q.toString();
  return `/staff/studies${s ? `?${s}` : ''}`;
}

export function renderStudiesPage(p: {
  session: StaffSession;
  /** The setup\'s zone: every time on the page is in it. */
  timeZone: string;
  form: StudySearchForm;
  errors?: FieldErrors;
  /** null when the search did not run (bad input, store down). */
  results: StudySummary[] | null;
  tokens: Map<string, TokenStatus>;
  page: number;
  pageSize: number;
  hasMore: boolean;
  storeDown?: boolean;
}): string {
  const f = p.form;
  const first = (p.page - 1) * p.pageSize + 1;
  const results = p.results;
  const LABELS = labels();
  return staffPage({
    title: st.t('studies.title'),
    session: p.session,
    active: 'studies',
    body: html`<h1>${st.t('studies.title')}</h1>
<p class="lead">${st.t('studies.lead')}</p>
<section class="card" aria-labelledby="search-heading">
  <h2 id="search-heading">${st.t('studies.search.heading')}</h2>
  ${errorSummary(p.errors, LABELS)}
  <form method="get" action="/staff/studies" role="search" aria-label="${st.t('studies.search.formLabel')}" novalidate class="stack">
    <div class="fields">
      ${inputField({
        name: 'patientName',
        label: LABELS.patientName,
        value: f.patientName,
        errors: p.errors,
        hint: st.t('studies.field.patientNameHint'),
        autocomplete: 'off',
      })}
      ${inputField({ name: 'patientId', label: LABELS.patientId, value: f.patientId, errors: p.errors, autocomplete: 'off' })}
      ${inputField({ name: 'accession', label: LABELS.accession, value: f.accession, errors: p.errors, autocomplete: 'off' })}
      ${inputField({ name: 'from', label: LABELS.from, type: 'date', value: f.from, errors: p.errors })}
      ${inputField({ name: 'to', label: LABELS.to, type: 'date', value: f.to, errors: p.errors })}
      ${inputField({ name: 'birthDate', label: LABELS.birthDate, type: 'date', value: f.birthDate, errors: p.errors, autocomplete: 'off' })}
      ${selectField({ name: 'modality', label: LABELS.modality, value: f.modality, options: modalityOptions(), errors: p.errors })}
    </div>
    <div class="actions">
      <button class="button" type="submit">${st.t('studies.search.submit')}</button>
      <a class="button secondary" href="/staff/studies">${st.t('studies.search.clear')}</a>
    </div>
  </form>
</section>
${p.storeDown ? html`<p class="alert" role="alert">${st.t('studies.storeDown')}</p>` : ''}
${
  results
    ? html`<section aria-labelledby="results-heading">
  <h2 id="results-heading">${
    results.length === 0
      ? st.t('studies.results.none')
      : p.hasMore
        ? st.t('studies.results.range', { first, last: first + results.length - 1 })
        : st.t('studies.results.rangeOf', {
            first,
            last: first + results.length - 1,
            total: first + results.length - 1,
          })
  }</h2>
  ${
    results.length === 0
      ? html`<p class="card empty">${st.t('studies.results.empty')}</p>`
      : html`<p class="muted">${st.t('studies.results.order')}</p>
  <div class="table-scroll" role="region" aria-labelledby="results-heading" tabindex="0">
    <table>
      <thead><tr>
        <th scope="col">${st.t('studies.col.patient')}</th>
        <th scope="col" aria-sort="descending">${st.t('studies.col.date')}</th>
        <th scope="col">${st.t('studies.col.birthDate')}</th>
        <th scope="col">${st.t('studies.col.description')}</th>
        <th scope="col">${st.t('studies.col.modalities')}</th>
        <th scope="col">${st.t('studies.col.accession')}</th>
        <th scope="col" class="nowrap num">${st.t('studies.col.seriesImages')}</th>
        <th scope="col">${st.t('studies.col.link')}</th>
        <th scope="col"><span class="visually-hidden">${st.t('studies.col.actions')}</span></th>
      </tr></thead>
      <tbody>
        ${results.map((s) => {
          const name = formatPersonName(s.patientName, { lang: st.lang }) || st.t('studies.noName');
          return html`<tr>
          <td><strong><bdi>${name}</bdi></strong><span class="sub">${st.t('studies.row.patientId', { id: s.patientId || '–' })}</span></td>
          <td class="nowrap">${st.dicomDate(s.studyDate) || '–'}</td>
          <td class="nowrap">${st.dicomDate(s.patientBirthDate) || '–'}</td>
          <td>${s.description || html`<span class="muted">–</span>`}</td>
          <td>${s.modalities.join(', ') || '–'}</td>
          <td>${s.accessionNumber || '–'}</td>
          <td class="num">${s.seriesCount ?? '–'} / ${s.instanceCount ?? '–'}</td>
          <td>${linkBadge(p.tokens.get(s.studyInstanceUid), p.timeZone)}</td>
          <td><a class="button small secondary" href="/staff/studies/${s.studyInstanceUid}" aria-label="${st.t('studies.row.openLabel', { name, date: st.dicomDate(s.studyDate) })}">${st.t('studies.row.open')}</a></td>
        </tr>`;
        })}
      </tbody>
    </table>
  </div>`
  }
  ${
    p.page > 1 || p.hasMore
      ? html`<nav class="pager" aria-label="${st.t('studies.pager.label')}">
    ${p.page > 1 ? html`<a class="button secondary" href="${searchHref(f, p.page - 1)}" rel="prev">${st.t('studies.pager.previous')}</a>` : html`<span></span>`}
    <span class="muted">${st.t('studies.pager.page', { page: p.page })}</span>
    ${p.hasMore ? html`<a class="button secondary" href="${searchHref(f, p.page + 1)}" rel="next">${st.t('studies.pager.next')}</a>` : html`<span></span>`}
  </nav>`
      : ''
  }
</section>`
    : ''
}`,
  });
}
