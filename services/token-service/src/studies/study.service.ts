import type { Logger } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import type { DB, StudyRow } from '../db/tables.js';
import { StoreUnavailableError, StudyNotFoundError } from '../errors.js';
import { findStudy, upsertStudy } from './study.repository.js';
import type { StudyDetails, StudySource } from './study.source.js';

// A page view refreshes the copy at most this often; link scanners and reloads stay cheap.
const REFRESH_AFTER_MS = 30_000;

export class StudyService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly source: StudySource,
    private readonly log: Logger,
    private readonly timeouts: { storeMs: number; pageMs: number },
  ) {}

  /** Reads the study from the store and keeps a copy; for issuing a token, so the store must answer. */
  async loadFromStoreOrThrow(uid: string): Promise<StudyRow> {
    let details: StudyDetails | null;
    try {
      details = await this.source.findStudy(uid, this.timeouts.storeMs);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, studyInstanceUid: uid }, 'store lookup failed');
      throw new StoreUnavailableError();
    }
    if (!details) throw new StudyNotFoundError();
    return upsertStudy(this.db, toRow(details));
  }

  /**
   * The study for issuing a token: read from the store, or, while the store is down, the copy kept
   * from an earlier read (a study the store never described still needs the store).
   */
  async forIssueOrThrow(uid: string): Promise<StudyRow> {
    try {
      return await this.loadFromStoreOrThrow(uid);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      const copy = await findStudy(this.db, uid);
      if (!copy) throw err;
      this.log.warn({ studyInstanceUid: uid }, 'store down; issuing from the stored copy of the study');
      return copy;
    }
  }

  /**
   * The study for a patient page: refreshed from the store when it answers within a short
   * timeout, else the copy, so the page still shows while the store is down.
   */
  async forPage(uid: string): Promise<StudyRow | undefined> {
    const copy = await findStudy(this.db, uid);
    if (copy && Date.now() - copy.refreshed_at.getTime() < REFRESH_AFTER_MS) return copy;
    try {
      const details = await this.source.findStudy(uid, this.timeouts.pageMs);
      if (details) return await upsertStudy(this.db, toRow(details));
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, studyInstanceUid: uid },
        'store refresh failed; showing the copy',
      );
    }
    return copy;
  }
}

function toRow(d: StudyDetails) {
  return {
    study_instance_uid: d.studyInstanceUid,
    patient_name: d.patientName,
    patient_id: d.patientId,
    study_id: d.studyId,
    accession_number: d.accessionNumber,
    description: d.description,
    study_date: d.studyDate,
    study_time: d.studyTime,
    modalities: d.modalities,
    series_count: d.seriesCount,
    instance_count: d.instanceCount,
    institution_name: d.institutionName,
  };
}
