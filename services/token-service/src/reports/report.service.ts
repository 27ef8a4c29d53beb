import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import type { StudyService } from '../studies/study.service.js';
import type { Actor } from '../tokens/token.service.js';
import { checkPdf, type PdfRefusal } from './pdf.check.js';
import {
  deleteReport,
  findReportFacts,
  findReportPdf,
  findReportPdfById,
  type ReportFacts,
  saveReport,
} from './report.repository.js';

export class ReportNotFoundError extends AppError {
  constructor() {
    super(404, 'report_not_found', 'no report was pushed for this study');
  }
}

/** The pushed file is not a PDF, or carries content that runs or unpacks (pdf.check.ts). */
export class ReportRefusedError extends AppError {
  constructor(refusal: PdfRefusal) {
    super(422, refusal.code, refusal.reason);
  }
}

/** A report id as the grant names it (contracts' pushedReportSchema). */
const REPORT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The PDF a RIS pushes for a study (PUT /api/v1/studies/{uid}/report): checked (pdf.check.ts), kept
 * one per study (a new push replaces it, under a new id), read by the API, by the export service's
 * zip (REPORT.PDF) and the patient's report view through the internal listener, when the link's
 * report rule allows it (the link gate decides; this service does not).
 */
export class ReportService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly studies: StudyService,
  ) {}

  /** Checks and keeps `pdf` as the study's report; `replaced` when one was there. */
  async pushOrThrow(
    uid: string,
    pdf: Buffer,
    who: Actor,
  ): Promise<{ facts: ReportFacts; replaced: boolean }> {
    // An unknown study: 404 (StudyNotFoundError), from the store or, while it is down, the copy.
    await this.studies.forIssueOrThrow(uid);
    const refusal = checkPdf(pdf);
    if (refusal) {
      await appendAccessEvent(this.db, {
        event: 'report_pushed',
        outcome: refusal.code,
        studyInstanceUid: uid,
        ...who,
        bytes: pdf.length,
      });
      throw new ReportRefusedError(refusal);
    }
    const sha256 = createHash('sha256').update(pdf).digest('hex');
    return this.db.transaction().execute(async (trx) => {
      const before = await findReportFacts(trx, uid);
      const facts = await saveReport(trx, {
        studyInstanceUid: uid,
        id: randomBytes(16).toString('base64url'),
        pdf,
        sha256,
        uploadedBy: who.actor,
      });
      await appendAccessEvent(trx, {
        event: 'report_pushed',
        outcome: 'ok',
        studyInstanceUid: uid,
        ...who,
        bytes: pdf.length,
        detail: { sha256, replaced: before !== null },
      });
      return { facts, replaced: before !== null };
    });
  }

  /** The study's pushed report's facts, or null. */
  facts(uid: string): Promise<ReportFacts | null> {
    return findReportFacts(this.db, uid);
  }

  async pdfOrThrow(uid: string): Promise<Buffer> {
    const pdf = await findReportPdf(this.db, uid);
    if (!pdf) throw new ReportNotFoundError();
    return pdf;
  }

  /** The bytes of a report by the id a grant names (the internal listener); null when unknown. */
  async pdfById(id: string): Promise<Buffer | null> {
    return REPORT_ID.test(id) ? findReportPdfById(this.db, id) : null;
  }

  async deleteOrThrow(uid: string, who: Actor): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const gone = await deleteReport(trx, uid);
      if (!gone) throw new ReportNotFoundError();
      await appendAccessEvent(trx, {
        event: 'report_deleted',
        outcome: 'ok',
        studyInstanceUid: uid,
        ...who,
        bytes: gone.bytes,
        detail: { sha256: gone.sha256 },
      });
    });
  }
}

/** The API's view of a pushed report. */
export function reportJson(f: ReportFacts) {
  return {
    studyInstanceUid: f.studyInstanceUid,
    bytes: f.bytes,
    sha256: f.sha256,
    uploadedAt: f.uploadedAt.toISOString(),
    uploadedBy: f.uploadedBy,
  };
}
