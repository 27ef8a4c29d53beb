import { z } from 'zod';

/**
 * Reports (issue 20): the study's own report objects (Basic/Enhanced/Comprehensive SR, encapsulated
 * PDF) and a PDF the RIS pushed (`PUT /api/v1/studies/{uid}/report`, kept by the token service).
 * A link shows them when its grant's `may.report` is true (the link's `includeReport`, else the
 * setup's `reportsOnPage`); when false they are in none of the page, viewer, gateway or zip.
 */

/** SOP classes that are a report: never shown as images, held back with the report. */
export const REPORT_SOP_CLASSES = {
  basicTextSr: '1.2.840.10008.5.1.4.1.1.88.11',
  enhancedSr: '1.2.840.10008.5.1.4.1.1.88.22',
  comprehensiveSr: '1.2.840.10008.5.1.4.1.1.88.33',
  comprehensive3dSr: '1.2.840.10008.5.1.4.1.1.88.34',
  encapsulatedPdf: '1.2.840.10008.5.1.4.1.1.104.1',
} as const;
const REPORT_SOP_CLASS_SET: ReadonlySet<string> = new Set(Object.values(REPORT_SOP_CLASSES));

/**
 * True for a SOP class the link's report rule governs.
 * @example isReportSopClass('1.2.840.10008.5.1.4.1.1.104.1') === true
 */
export function isReportSopClass(sopClassUid: string): boolean {
  return REPORT_SOP_CLASS_SET.has(sopClassUid.trim());
}

/** The RIS-pushed report as the grant names it (null: none, or the link may not show reports). */
export const pushedReportSchema = z
  .object({
    /** Fetch its bytes from the token service's internal listener: `${INTERNAL_REPORTS_PATH}/${id}`. */
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    bytes: z.number().int().min(1),
    /** Hex SHA-256 of the PDF: part of the zip layout's identity (the layout changes with it). */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type PushedReport = z.infer<typeof pushedReportSchema>;

/** The pushed PDF's bytes by id (application/pdf), on the token service's internal listener. */
export const INTERNAL_REPORTS_PATH = '/internal/v1/reports';
/** A pushed report's name in the zip, beside README.txt. */
export const PUSHED_REPORT_ZIP_NAME = 'REPORT.PDF';
/** The largest PDF the RIS may push. */
export const PUSHED_REPORT_MAX_BYTES = 20 * 1024 * 1024;
