/** Events a person repeats by looking again, shown once per run on the access log page. */
const REPEATED_VIEWS = new Set(['token_displayed']);
/** Views of one study by one actor this close together (newest to oldest) are one entry. */
export const VIEW_RUN_MS = 60 * 60_000;

interface Collapsible {
  event: string;
  outcome: string;
  actor: string | null;
  study_instance_uid: string | null;
  at: Date;
}

/** A row of the page: the newest event of a run of repeated views, how many, and the oldest's time. */
export interface LogEntry<R> {
  row: R;
  count: number;
  oldest: Date;
}

/**
 * Collapses repeated staff views (`token displayed`) of one study by one actor within VIEW_RUN_MS
 * of each other into the newest of them, with their number; every other event stays as it is. The
 * CSV keeps each event.
 */
export function collapseRepeatedViews<R extends Collapsible>(rows: readonly R[]): LogEntry<R>[] {
  const out: LogEntry<R>[] = [];
  const runs = new Map<string, LogEntry<R>>();
  for (const row of rows) {
    if (!REPEATED_VIEWS.has(row.event) || !row.actor || !row.study_instance_uid) {
      out.push({ row, count: 1, oldest: row.at });
      continue;
    }
    const key = JSON.stringify([row.event, row.outcome, row.actor, row.study_instance_uid]);
    const run = runs.get(key);
    if (run && run.oldest.getTime() - row.at.getTime() <= VIEW_RUN_MS) {
      run.count += 1;
      run.oldest = row.at;
      continue;
    }
    const entry = { row, count: 1, oldest: row.at };
    runs.set(key, entry);
    out.push(entry);
  }
  return out;
}
