import type { Logger } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import type { DB, StudyIndexRow } from '../../db/tables.js';
import { StoreUnavailableError } from '../../errors.js';
import {
  type IndexFilter,
  indexedText,
  pruneIndex,
  searchIndex,
  upsertIndexRows,
} from './study-index.repository.js';
import {
  type KnownText,
  MAX_FILE_READS,
  type StudyQuery,
  type StudySearch,
  type StudySummary,
} from './study-search.source.js';

/** Rows one search asks the store for to bring the index up to date before answering from it. */
export const FRESHEN_LIMIT = MAX_FILE_READS;
/**
 * Rows per request when walking the whole store (no more than the search reads files for in one
 * request, so every row of a page gets its names checked), and the most requests one walk makes.
 */
const WALK_PAGE = MAX_FILE_READS;
const WALK_MAX_PAGES = 20_000;

export interface FindResult {
  rows: StudySummary[];
  hasMore: boolean;
}

/**
 * The `*`-pattern a store is given for a typed name: `doe, jane` → `doe*jane*`. Separators (spaces,
 * commas, `^`) become `*`, since stores differ in how they match `^` and `*` spans it everywhere.
 * Without a wildcard, names starting with the text match; given wildcards are kept.
 */
export function patientNamePattern(input: string): string {
  const name = input
    .split(/[\s,^]+/)
    .filter(Boolean)
    .join('*');
  return /[*?]/.test(input) ? name : `${name}*`;
}

/** A name a store's QIDO-RS can match: ASCII only (Orthanc folds names to ASCII before matching). */
const STORE_MATCHABLE_NAME = /^[A-Za-z0-9 ,^*?'.-]*$/;

/**
 * The staff search. QIDO-RS as stores run it cannot find names outside ASCII nor sort, so each
 * search first asks the store with the keys it can match (an ASCII name, ID, accession, dates,
 * modality; with none, the studies of the last two days) to bring the index up to date, then answers
 * from the index: names in any script, folded, newest study date first, then name. A walk of the
 * whole store (`walkStore`, on a timer) puts in what no search has asked for yet.
 */
export class StudyFinder {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly search: StudySearch,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The text the index has checked already, for the store search's file reads. */
  known = (uids: readonly string[]): Promise<Map<string, KnownText>> => indexedText(this.db, uids);

  /** Throws StoreUnavailableError when the store does not answer (the index is not answered alone). */
  async find(f: IndexFilter, limit: number, offset: number): Promise<FindResult> {
    const fresh = await this.search.search(this.storeQuery(f));
    await upsertIndexRows(this.db, fresh, this.now());
    const rows = await searchIndex(this.db, f, limit + 1, offset);
    return { rows: rows.slice(0, limit).map(summaryOf), hasMore: rows.length > limit };
  }

  /** One study from the store (kept in the index as seen); undefined when the store lacks it. */
  async lookup(uid: string): Promise<StudySummary | undefined> {
    const [found] = await this.search.search({ studyInstanceUid: uid, limit: 1, offset: 0 });
    if (found) await upsertIndexRows(this.db, [found], this.now());
    return found;
  }

  private storeQuery(f: IndexFilter): StudyQuery {
    const name = f.patientName && STORE_MATCHABLE_NAME.test(f.patientName) ? f.patientName : '';
    const dates =
      f.studyDateFrom || f.studyDateTo ? `${f.studyDateFrom ?? ''}-${f.studyDateTo ?? ''}` : undefined;
    const q: StudyQuery = {
      ...(name ? { patientName: patientNamePattern(name) } : {}),
      ...(f.patientId ? { patientId: f.patientId } : {}),
      ...(f.accessionNumber ? { accessionNumber: f.accessionNumber } : {}),
      ...(dates ? { studyDate: dates } : {}),
      ...(f.patientBirthDate ? { patientBirthDate: f.patientBirthDate } : {}),
      ...(f.modality ? { modality: f.modality } : {}),
      limit: FRESHEN_LIMIT,
      offset: 0,
    };
    if (Object.keys(q).length > 2) return q;
    const since = new Date(this.now().getTime() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    return { ...q, studyDate: `${since}-` };
  }

  /**
   * Walks the whole store (QIDO-RS, `WALK_PAGE` studies a request) into the index; after a complete
   * walk, studies the store no longer has leave the index. Returns what it saw and removed.
   */
  async walkStore(): Promise<{ seen: number; removed: number }> {
    const started = this.now();
    let seen = 0;
    for (let page = 0; page < WALK_MAX_PAGES; page++) {
      const rows = await this.search.search({ limit: WALK_PAGE, offset: page * WALK_PAGE });
      await upsertIndexRows(this.db, rows, this.now());
      seen += rows.length;
      if (rows.length < WALK_PAGE) {
        const removed = await pruneIndex(this.db, started);
        return { seen, removed };
      }
    }
    this.log.warn({ seen }, 'study index walk stopped at its page limit; nothing removed');
    return { seen, removed: 0 };
  }

  /** Walks the store now and every `intervalMs`; a failed walk is logged and tried at the next. */
  startWalking(intervalMs: number): { stop(): void } {
    let running: Promise<void> | null = null;
    const run = () => {
      if (running) return;
      running = this.walkStore()
        .then((r) => this.log.info(r, 'study index walk done'))
        .catch((err: Error) =>
          this.log.warn(
            { err: err instanceof StoreUnavailableError ? 'store unavailable' : err.message },
            'study index walk failed',
          ),
        )
        .finally(() => {
          running = null;
        });
    };
    const timer = setInterval(run, intervalMs);
    timer.unref();
    const first = setTimeout(run, 1_000);
    first.unref();
    return {
      stop: () => {
        clearInterval(timer);
        clearTimeout(first);
      },
    };
  }
}

function summaryOf(r: StudyIndexRow): StudySummary {
  return {
    studyInstanceUid: r.study_instance_uid,
    patientName: r.patient_name,
    patientId: r.patient_id,
    accessionNumber: r.accession_number,
    studyDate: r.study_date,
    studyTime: r.study_time,
    description: r.description,
    modalities: r.modalities,
    seriesCount: r.series_count,
    instanceCount: r.instance_count,
    patientBirthDate: r.patient_birth_date,
  };
}
