import { isReportSopClass, REPORT_SOP_CLASSES } from '@studylink/contracts';
import {
  type DicomwebClient,
  dicomString,
  isTextStructuredReport,
  readStructuredReport,
  type StructuredReport,
  Tag,
} from '@studylink/dicomweb';

/** A PDF of the study, listed by what its header says. */
export interface StudyPdf {
  sopInstanceUid: string;
  /** Document Title (0042,0010); '' when absent. */
  title: string;
  /** Content Date (0008,0023) as YYYYMMDD; '' when absent. */
  contentDate: string;
}

/** The study's reports as the patient's report page shows them. */
export interface StudyReportsView {
  structured: StructuredReport[];
  pdfs: StudyPdf[];
}

const DOCUMENT_TITLE = '00420010';
const CONTENT_DATE = '00080023';

/**
 * Reads a study's reports from the store with DICOMweb (PS3.18): one QIDO-RS search of the study's
 * instances finds the report objects by SOP class; each SR's series metadata (DICOM JSON, its text
 * decoded from the document's own character set) gives its content. Only the study named is read:
 * the caller passes the study its link grants, after the gate said the link may show reports.
 * @example const { structured, pdfs } = await reportsOf(dicomweb, link.studyInstanceUid, AbortSignal.timeout(10_000));
 */
export async function reportsOf(
  dicomweb: DicomwebClient,
  study: string,
  signal: AbortSignal,
): Promise<StudyReportsView> {
  const instances = await dicomweb.searchInstances(study, undefined, {
    includefield: ['SOPClassUID', 'SeriesInstanceUID', DOCUMENT_TITLE, CONTENT_DATE],
    signal,
  });
  const srSeries = new Map<string, Set<string>>();
  const pdfs: StudyPdf[] = [];
  for (const d of instances) {
    const of = dicomString(d, Tag.StudyInstanceUID);
    if (of && of !== study) continue;
    const sopClass = dicomString(d, Tag.SOPClassUID);
    if (!isReportSopClass(sopClass)) continue;
    const sop = dicomString(d, Tag.SOPInstanceUID);
    if (sopClass === REPORT_SOP_CLASSES.encapsulatedPdf)
      pdfs.push({
        sopInstanceUid: sop,
        title: dicomString(d, DOCUMENT_TITLE).trim(),
        contentDate: dicomString(d, CONTENT_DATE).trim(),
      });
    else {
      const series = dicomString(d, Tag.SeriesInstanceUID);
      srSeries.set(series, (srSeries.get(series) ?? new Set()).add(sop));
    }
  }
  const structured: StructuredReport[] = [];
  for (const [series, sops] of srSeries) {
    const metadata = await dicomweb.retrieveMetadata(study, series, { signal });
    for (const d of metadata)
      if (sops.has(dicomString(d, Tag.SOPInstanceUID)) && isTextStructuredReport(d))
        structured.push(readStructuredReport(d));
  }
  structured.sort((a, b) => b.contentDate.localeCompare(a.contentDate));
  return { structured, pdfs };
}
