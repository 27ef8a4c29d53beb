import { html, type SafeHtml } from '@studylink/service-kit';
import { formatDicomDate, formatPersonName } from '../patient/format.js';
import { errorSummary, formatUtc, inputField, selectField, staffPage } from './staff.layout.js';
import type { FieldErrors } from './staff.schemas.js';
import type { StaffSession } from './staff-session.service.js';
import type { TokenStatus } from './staff-token.repository.js';
import type { StudySummary } from './study-search.source.js';

export const MODALITIES: ReadonlyArray<readonly [string, string]> = [
  ['', 'Any modality'],
  ['CT', 'CT – computed tomography'],
  ['MR', 'MR – magnetic resonance'],
  ['CR', 'CR – computed radiography'],
  ['DX', 'DX – digital radiography'],
  ['US', 'US – ultrasound'],
  ['MG', 'MG – mammography'],
  ['NM', 'NM – nuclear medicine'],
  ['PT', 'PT – PET'],
  ['XA', 'XA – angiography'],
  ['RF', 'RF – fluoroscopy'],
  ['OT', 'OT – other'],
  ['SC', 'SC – secondary capture'],
  ['SR', 'SR – structured report'],
];

export interface StudySearchForm {
  patientName: string;
  patientId: string;
  accession: string;
  from: string;
  to: string;
  modality: string;
}

export const EMPTY_SEARCH: StudySearchForm = {
  patientName: '',
  patientId: '',
  accession: '',
  from: '',
  to: '',
  modality: '',
};

const LABELS: Record<string, string> = {
  patientName: 'Patient name',
  patientId: 'Patient ID',
  accession: 'Accession number',
  from: 'Study date from',
  to: 'Study date to',
  modality: 'Modality',
  page: 'Page',
};

/** The status of a study's link, as a badge. */
export function linkBadge(t: TokenStatus | undefined): SafeHtml {
  if (!t) return html`<span class="badge none">No link</span>`;
  if (t.expiresAt && t.expiresAt.getTime() <= Date.now()) return html`<span class="badge bad">Expired</span>`;
  return html`<span class="badge ok">Active</span>${
    t.expiresAt
      ? html`<span class="sub">until ${formatUtc(t.expiresAt).slice(0, 10)}</span>`
      : html`<span class="sub">no expiry</span>`
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
  return staffPage({
    title: 'Studies',
    session: p.session,
    active: 'studies',
    body: html`<h1>Studies</h1>
<p class="lead">Search the image archive, then open a study to copy its link for the patient, print a handout, or revoke the link.</p>
<section class="card" aria-labelledby="search-heading">
  <h2 id="search-heading">Search</h2>
  ${errorSummary(p.errors, LABELS)}
  <form method="get" action="/staff/studies" role="search" aria-label="Studies" novalidate class="stack">
    <div class="fields">
      ${inputField({
        name: 'patientName',
        label: 'Patient name',
        value: f.patientName,
        errors: p.errors,
        hint: 'Family name first, e.g. “doe jane”. * and ? are wildcards; without them, names starting with the text match.',
        autocomplete: 'off',
      })}
      ${inputField({ name: 'patientId', label: 'Patient ID', value: f.patientId, errors: p.errors, autocomplete: 'off' })}
      ${inputField({ name: 'accession', label: 'Accession number', value: f.accession, errors: p.errors, autocomplete: 'off' })}
      ${inputField({ name: 'from', label: 'Study date from', type: 'date', value: f.from, errors: p.errors })}
      ${inputField({ name: 'to', label: 'Study date to', type: 'date', value: f.to, errors: p.errors })}
      ${selectField({ name: 'modality', label: 'Modality', value: f.modality, options: MODALITIES, errors: p.errors })}
    </div>
    <div class="actions">
      <button class="button" type="submit">Search</button>
      <a class="button secondary" href="/staff/studies">Clear</a>
    </div>
  </form>
</section>
${
  p.storeDown
    ? html`<p class="alert" role="alert">The image archive is not answering right now. Please try again in a minute.</p>`
    : ''
}
${
  results
    ? html`<section aria-labelledby="results-heading">
  <h2 id="results-heading">${
    results.length === 0
      ? 'No studies found'
      : `Studies ${first}–${first + results.length - 1}${p.hasMore ? '' : ` of ${first + results.length - 1}`}`
  }</h2>
  ${
    results.length === 0
      ? html`<p class="card empty">No study matches this search. Check the spelling, or use * as a wildcard.</p>`
      : html`<div class="table-scroll" role="region" aria-labelledby="results-heading" tabindex="0">
    <table>
      <thead><tr>
        <th scope="col">Patient</th>
        <th scope="col">Study date</th>
        <th scope="col">Description</th>
        <th scope="col">Modalities</th>
        <th scope="col">Accession</th>
        <th scope="col" class="nowrap num">Series / images</th>
        <th scope="col">Link</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th>
      </tr></thead>
      <tbody>
        ${results.map((s) => {
          const name = formatPersonName(s.patientName) || '(no name)';
          return html`<tr>
          <td><strong>${name}</strong><span class="sub">ID ${s.patientId || '–'}</span></td>
          <td class="nowrap">${formatDicomDate(s.studyDate) || '–'}</td>
          <td>${s.description || html`<span class="muted">–</span>`}</td>
          <td>${s.modalities.join(', ') || '–'}</td>
          <td>${s.accessionNumber || '–'}</td>
          <td class="num">${s.seriesCount ?? '–'} / ${s.instanceCount ?? '–'}</td>
          <td>${linkBadge(p.tokens.get(s.studyInstanceUid))}</td>
          <td><a class="button small secondary" href="/staff/studies/${s.studyInstanceUid}" aria-label="Open the study of ${name}, ${formatDicomDate(s.studyDate)}">Open</a></td>
        </tr>`;
        })}
      </tbody>
    </table>
  </div>`
  }
  ${
    p.page > 1 || p.hasMore
      ? html`<nav class="pager" aria-label="Result pages">
    ${p.page > 1 ? html`<a class="button secondary" href="${searchHref(f, p.page - 1)}" rel="prev">← Previous page</a>` : html`<span></span>`}
    <span class="muted">Page ${p.page}</span>
    ${p.hasMore ? html`<a class="button secondary" href="${searchHref(f, p.page + 1)}" rel="next">Next page →</a>` : html`<span></span>`}
  </nav>`
      : ''
  }
</section>`
    : ''
}`,
  });
}
