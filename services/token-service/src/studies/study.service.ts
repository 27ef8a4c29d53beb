import type { Logger } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import type { DB, StudyRow } from '../db/tables.js';
import { StoreUnavailableError, StudyNotFoundError } from '../errors.js';
import {
  claimStudyRefresh,
  findStudies,
  findStudy,
  recordRefreshFailure,
  upsertStudy,
} from './study.repository.js';
import type { StudyDetails, StudyHint, StudySource } from './study.source.js';

/** A page view refreshes the copy in the background at most this often (STUDY_REFRESH_INTERVAL_MS). */
export const DEFAULT_REFRESH_INTERVAL_MS = 60_000;

export class StudyService {
  /** Refreshes under way in this process, one per study. */
  readonly #refreshing = new Map<string, Promise<void>>();
  readonly #refreshIntervalMs: number;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly source: StudySource,
    private readonly log: Logger,
    private readonly timeouts: { storeMs: number; pageMs: number; refreshIntervalMs?: number },
  ) {
    this.#refreshIntervalMs = timeouts.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  }

  /** Reads the study from the store and keeps a copy; for issuing a token, so the store must answer. */
  async loadFromStoreOrThrow(uid: string): Promise<StudyRow> {
    const copy = await findStudy(this.db, uid);
    let details: StudyDetails | null;
    try {
      details = await this.source.findStudy(uid, this.timeouts.storeMs, hintOf(copy));
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
   * The study for a patient page. With a copy, the page never waits on the store: the copy is
   * answered at once, and refreshed in the background when it is older than the refresh interval
   * (one refresh per study at a time across replicas, a failed one remembered for an interval too).
   * Without one (a token issued before copies were kept), the store is asked within a short timeout.
   * `known`: the copy as the caller already read it (the link gate reads it with the link).
   */
  async forPage(uid: string, known?: { copy: StudyRow | undefined }): Promise<StudyRow | undefined> {
    const copy = known ? known.copy : await findStudy(this.db, uid);
    if (copy) {
      if (this.#isStale(copy)) this.refreshInBackground(uid);
      return copy;
    }
    try {
      const details = await this.source.findStudy(uid, this.timeouts.pageMs);
      if (details) return await upsertStudy(this.db, toRow(details));
    } catch (err) {
      this.log.warn({ err: (err as Error).message, studyInstanceUid: uid }, 'store lookup for a page failed');
    }
    return undefined;
  }

  /** Copies of these studies (for the staff search), by UID; kicks a refresh of stale ones. */
  async copiesOf(uids: readonly string[]): Promise<Map<string, StudyRow>> {
    const rows = await findStudies(this.db, uids);
    for (const row of rows) if (this.#isStale(row)) this.refreshInBackground(row.study_instance_uid);
    return new Map(rows.map((r) => [r.study_instance_uid, r]));
  }

  /**
   * Starts a refresh of the study's copy unless one runs in this process, or another replica (or
   * this one) tried within the interval; never throws. A failure is kept on the copy.
   */
  refreshInBackground(uid: string): void {
    if (this.#refreshing.has(uid)) return;
    const run = this.#refresh(uid)
      .catch((err: Error) =>
        this.log.warn({ err: err.message, studyInstanceUid: uid }, 'background study refresh failed'),
      )
      .finally(() => this.#refreshing.delete(uid));
    this.#refreshing.set(uid, run);
  }

  /** Resolves when no refresh is under way in this process (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#refreshing.size > 0) await Promise.all(this.#refreshing.values());
  }

  async #refresh(uid: string): Promise<void> {
    const claimed = await claimStudyRefresh(this.db, uid, this.#refreshIntervalMs);
    if (!claimed) return;
    let details: StudyDetails | null;
    try {
      details = await this.source.findStudy(uid, this.timeouts.storeMs, hintOf(claimed));
    } catch (err) {
      await recordRefreshFailure(this.db, uid, (err as Error).message);
      this.log.warn(
        { err: (err as Error).message, studyInstanceUid: uid },
        'store refresh failed; pages show the copy',
      );
      return;
    }
    if (!details) {
      // The store no longer lists it: the copy stays (the link still shows what it was for).
      await recordRefreshFailure(this.db, uid, 'study not found in the store');
      return;
    }
    await upsertStudy(this.db, toRow(details));
  }

  #isStale(row: StudyRow): boolean {
    const last = Math.max(row.refreshed_at.getTime(), row.refresh_attempted_at?.getTime() ?? 0);
    return Date.now() - last >= this.#refreshIntervalMs;
  }
}

function hintOf(row: StudyRow | undefined): StudyHint | undefined {
  if (!row) return undefined;
  return {
    qidoTextDigest: row.qido_text_digest,
    textSource: row.text_source,
    text: { patientName: row.patient_name, patientId: row.patient_id, description: row.description },
  };
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
    text_source: d.textSource ?? 'qido',
    qido_text_digest: d.qidoTextDigest ?? null,
    patient_birth_date: d.patientBirthDate,
  };
}
