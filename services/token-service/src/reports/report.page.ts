import { reportPdfPath } from '@studylink/contracts';
import { type ReportItem, readableItems, type StructuredReport } from '@studylink/dicomweb';
import type { Translator } from '@studylink/i18n';
import { html, type PatientSender, pageLayout, type SafeHtml } from '@studylink/service-kit';
import { dicomDateAsDate } from '../patient/format.js';
import type { StudyPdf } from './report.source.js';

/** What the report page shows: the SR documents as text, the PDFs linked; null: the store could not be read. */
export interface ReportPageContent {
  structured: StructuredReport[];
  pdfs: StudyPdf[];
  /** The RIS pushed a PDF for this study (and the link may show it). */
  pushed: boolean;
}

function items(list: readonly ReportItem[], depth: number): SafeHtml {
  return html`${list.map((i) => {
    if (i.valueType === 'CONTAINER') {
      const heading = depth === 0 ? html`<h3>${i.heading ?? ''}</h3>` : html`<h4>${i.heading ?? ''}</h4>`;
      return html`<section class="report-section">${i.heading ? heading : ''}${items(i.children, depth + 1)}</section>`;
    }
    return html`<div class="report-item" data-code="${i.code}">${i.heading ? html`<p class="report-heading">${i.heading}</p>` : ''}<p class="report-text">${i.value ?? ''}</p>${i.children.length > 0 ? items(i.children, depth + 1) : ''}</div>`;
  })}`;
}

function isoToDate(iso: string): Date | null {
  return iso ? dicomDateAsDate(iso.replaceAll('-', '')) : null;
}

function structuredReport(t: Translator, r: StructuredReport): SafeHtml {
  const date = isoToDate(r.contentDate);
  return html`<article class="report" data-sop="${r.sopInstanceUid}">
  <h2>${r.title || t.t('report.untitled')}</h2>
  ${date ? html`<p class="report-meta">${t.t('report.written', { date: t.date(date, { timeZone: 'UTC' }) })}</p>` : ''}
  ${r.verification === 'VERIFIED' ? (r.verifiedBy.length > 0 ? html`<p class="report-meta">${t.t('report.verifiedBy', { name: r.verifiedBy.join(', ') })}</p>` : '') : html`<p class="notice">${t.t('report.preliminary')}</p>`}
  ${items(readableItems(r.content), 0)}
</article>`;
}

/**
 * The patient's report page (`/token/report?<token>`), in the patient page's chrome (language, who
 * sent the link, the same headers and CSP): each SR of the study as text with its structure, each PDF
 * (the study's and the RIS-pushed one) as a link that opens it in the browser. Everything from DICOM
 * is escaped by the `html` tag.
 */
export function renderReportPage(p: {
  token: string;
  t: Translator;
  sender: PatientSender;
  content: ReportPageContent | null;
}): string {
  const { t, content: c } = p;
  const q = `?${p.token}`;
  const pdfLink = (href: string, label: string) =>
    html`<li><a class="button secondary" href="${href}${q}" type="application/pdf" target="_blank" rel="noopener noreferrer">${label}</a></li>`;
  const none = c !== null && c.structured.length === 0 && c.pdfs.length === 0 && !c.pushed;
  return pageLayout(
    t.t('report.title'),
    html`<header>
  <h1>${t.t('report.title')}</h1>
  <p><a href="/token${q}">${t.t('report.backToStudy')}</a></p>
</header>
${c === null ? html`<p class="notice error" role="alert">${t.t('report.unavailable')}</p>` : ''}
${none ? html`<p class="notice">${t.t('report.none')}</p>` : ''}
${c && !none ? html`<p class="hint">${t.t('report.intro')}</p>` : ''}
${
  c && (c.pdfs.length > 0 || c.pushed)
    ? html`<ul class="report-pdfs">${c.pushed ? pdfLink(reportPdfPath('pushed'), t.t('report.pushedPdf')) : ''}${c.pdfs.map((d) => pdfLink(reportPdfPath(d.sopInstanceUid), d.title || t.t('report.pdf')))}</ul>`
    : ''
}
${c ? c.structured.map((r) => structuredReport(t, r)) : ''}`,
    t,
    p.sender,
  );
}
