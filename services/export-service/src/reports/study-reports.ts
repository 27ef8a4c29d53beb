import { isReportSopClass, REPORT_SOP_CLASSES } from '@studylink/contracts';
import { type DicomJsonObject, type DicomwebClient, dicomString, Tag } from '@studylink/dicomweb';
import { TtlCache } from '../gateway/gateway.cache.js';

/** A study's report objects (SR, encapsulated PDF), as its instance list names them. */
export interface StudyReports {
  /** Report instances by SOP Instance UID: their series and SOP class. */
  instances: ReadonlyMap<string, { series: string; sopClassUid: string }>;
  /** Series made of report instances only: a held report hides the whole series. */
  reportOnlySeries: ReadonlySet<string>;
  /** Series that hold a report among other instances. */
  seriesWithReports: ReadonlySet<string>;
}

/**
 * Reads which instances of a study are reports (REPORT_SOP_CLASSES), from one QIDO-RS search of the
 * study's instances (SOP Class UID is a default instance field, PS3.18 10.6.1.3.3), kept briefly per
 * study: the gateway hides them from a link that may not show reports, and the report PDF path finds
 * its document among them.
 * @example const found = await reports.of(grant.studyInstanceUid, signal); found.instances.has(sop)
 */
export class StudyReportIndex {
  private readonly cache: TtlCache<StudyReports>;
  constructor(
    private readonly dicomweb: DicomwebClient,
    ttlMs: number,
    now: () => number = Date.now,
  ) {
    this.cache = new TtlCache<StudyReports>(ttlMs, 1_000, now);
  }

  of(study: string, signal?: AbortSignal): Promise<StudyReports> {
    return this.cache.get(study, async () =>
      studyReportsOf(
        await this.dicomweb.searchInstances(study, undefined, {
          includefield: ['SOPClassUID', 'SeriesInstanceUID'],
          ...(signal ? { signal } : {}),
        }),
        study,
      ),
    );
  }
}

/** The report instances among a study's QIDO-RS instance answers (datasets of other studies ignored). */
export function studyReportsOf(datasets: readonly DicomJsonObject[], study: string): StudyReports {
  const instances = new Map<string, { series: string; sopClassUid: string }>();
  const others = new Set<string>();
  const withReports = new Set<string>();
  for (const d of datasets) {
    const of = dicomString(d, Tag.StudyInstanceUID);
    if (of && of !== study) continue;
    const series = dicomString(d, Tag.SeriesInstanceUID);
    const sop = dicomString(d, Tag.SOPInstanceUID);
    const sopClassUid = dicomString(d, Tag.SOPClassUID);
    if (isReportSopClass(sopClassUid)) {
      instances.set(sop, { series, sopClassUid });
      withReports.add(series);
    } else others.add(series);
  }
  return {
    instances,
    reportOnlySeries: new Set([...withReports].filter((s) => !others.has(s))),
    seriesWithReports: withReports,
  };
}

/** True for a DICOM JSON data set of a report object (by its SOP Class UID). */
export function isReportDataset(d: DicomJsonObject): boolean {
  return isReportSopClass(dicomString(d, Tag.SOPClassUID));
}

export const ENCAPSULATED_PDF = REPORT_SOP_CLASSES.encapsulatedPdf;
