import type { Readable } from 'node:stream';
import { isStudyUid } from '@studylink/contracts';
import { InvalidDicomError, readEncapsulatedDocument } from '@studylink/dicom-media';
import { type DicomwebClient, DicomwebNotFoundError, DicomwebUnavailableError } from '@studylink/dicomweb';
import { AppError, ServiceUnavailableError } from '@studylink/service-kit';
import type { Grant, TokenServiceClient } from '../grant.client.js';
import { ENCAPSULATED_PDF, type StudyReportIndex } from './study-reports.js';

/** An encapsulated PDF larger than this is not buffered (real reports are well under a megabyte). */
export const MAX_REPORT_INSTANCE_BYTES = 64 * 1024 * 1024;

class ReportError extends AppError {}
const notFound = () => new ReportError(404, 'report_not_found', 'not found or no longer available');

/** Which PDF a request names: one of the study's encapsulated PDFs, or the RIS-pushed one. */
export type ReportPdfName = { kind: 'study'; sopInstanceUid: string } | { kind: 'pushed' };

/**
 * `<sopInstanceUid>.pdf` or `pushed.pdf` (the last segment of a report PDF path); null for anything
 * else (case, encodings, other suffixes name nothing).
 * @example parseReportPdfName('1.2.3.pdf') // { kind: 'study', sopInstanceUid: '1.2.3' }
 */
export function parseReportPdfName(file: string): ReportPdfName | null {
  if (file === 'pushed.pdf') return { kind: 'pushed' };
  const m = /^([0-9.]{1,64})\.pdf$/.exec(file);
  return m && isStudyUid(m[1]) ? { kind: 'study', sopInstanceUid: m[1] as string } : null;
}

async function readAll(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > max) {
      stream.destroy();
      throw new ReportError(502, 'report_too_large', 'the report is larger than this server hands out');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The bytes of a report PDF a grant may see: an Encapsulated PDF instance of the granted study (found
 * among the study's report instances, read through WADO-RS as stored, its Encapsulated Document taken
 * byte for byte) or the PDF the RIS pushed (from the token service). Not the grant's report: 404.
 */
export async function reportPdfOrThrow(
  deps: { dicomweb: DicomwebClient; tokens: TokenServiceClient; reports: StudyReportIndex },
  grant: Grant,
  name: ReportPdfName,
  signal: AbortSignal,
): Promise<Buffer> {
  if (!grant.may.report) throw notFound();
  if (name.kind === 'pushed') {
    if (!grant.pushedReport) throw notFound();
    const pdf = (await deps.tokens.pushedReportPdf?.(grant.pushedReport.id, signal)) ?? null;
    if (!pdf) throw notFound();
    return pdf;
  }
  try {
    const found = (await deps.reports.of(grant.studyInstanceUid, signal)).instances.get(name.sopInstanceUid);
    if (!found || found.sopClassUid !== ENCAPSULATED_PDF) throw notFound();
    const retrieved = await deps.dicomweb.retrieveInstance(
      grant.studyInstanceUid,
      found.series,
      name.sopInstanceUid,
      { transferSyntax: '*', signal },
    );
    const first = await retrieved.parts.next();
    if (first.done) throw notFound();
    const file = await readAll(first.value.body, MAX_REPORT_INSTANCE_BYTES);
    await retrieved.parts.return(undefined);
    const doc = readEncapsulatedDocument(file);
    if (doc.mimeType !== '' && doc.mimeType.toLowerCase() !== 'application/pdf') throw notFound();
    return Buffer.from(doc.document.buffer, doc.document.byteOffset, doc.document.byteLength);
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof DicomwebNotFoundError) throw notFound();
    if (err instanceof DicomwebUnavailableError)
      throw new ServiceUnavailableError('the image archive is not answering', 5, 'store_unavailable');
    if (err instanceof InvalidDicomError)
      throw new ReportError(
        502,
        'report_unreadable',
        'the archive holds this report in a form that cannot be read',
      );
    if (err instanceof Error && (err.name === 'AbortError' || err.message === 'client disconnected'))
      throw err;
    throw new ReportError(502, 'store_bad_answer', 'the image archive answered unexpectedly');
  }
}
