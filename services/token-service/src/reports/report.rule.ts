import type { OpenedLink } from '../link-access/link-access.js';

/**
 * Whether the patient page links the report page: the gate says the link may show reports
 * (`may.report`), and the study has one: a RIS-pushed PDF, or, from the page's copy of the study's
 * details (never waiting on the store), an SR or a document (DOC) among its modalities.
 * @example renderStudyPage({ report: linksReportPage(opened), ... })
 */
export function linksReportPage(opened: Pick<OpenedLink, 'may' | 'pushedReport' | 'study'>): boolean {
  if (!opened.may.report) return false;
  return (
    opened.pushedReport !== null || (opened.study?.modalities ?? []).some((m) => m === 'SR' || m === 'DOC')
  );
}
