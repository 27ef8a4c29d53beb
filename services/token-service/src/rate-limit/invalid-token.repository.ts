import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/** A client's count in the current window and the whole seconds until that window ends (≥ 1). */
export interface WindowCount {
  attempts: number;
  retryAfterSeconds: number;
}

// Windows are aligned to the epoch on the database's clock, so every replica agrees on them
// whatever its own clock says.
const currentWindow = (seconds: number) =>
  sql<Date>`to_timestamp(floor(extract(epoch from now()) / ${seconds}::int) * ${seconds}::int)`;
const secondsLeft = (seconds: number) =>
  sql<number>`greatest(1, ceil(extract(epoch from window_start + make_interval(secs => ${seconds}::int) - now())))::int`;

/** The client's count in the current window, if it has one. */
export async function findWindowCount(
  db: Db,
  clientKey: string,
  windowSeconds: number,
): Promise<WindowCount | undefined> {
  return db
    .selectFrom('invalid_token_attempts')
    .select(['attempts', secondsLeft(windowSeconds).as('retryAfterSeconds')])
    .where('client_key', '=', clientKey)
    .where('window_start', '=', currentWindow(windowSeconds))
    .executeTakeFirst();
}

/** Counts one more invalid attempt in the current window; returns the new count. */
export async function incrementWindowCount(
  db: Db,
  clientKey: string,
  windowSeconds: number,
): Promise<WindowCount> {
  return db
    .insertInto('invalid_token_attempts')
    .values({ client_key: clientKey, window_start: currentWindow(windowSeconds), attempts: 1 })
    .onConflict((oc) =>
      oc
        .columns(['client_key', 'window_start'])
        .doUpdateSet({ attempts: sql<number>`invalid_token_attempts.attempts + 1` }),
    )
    .returning(['attempts', secondsLeft(windowSeconds).as('retryAfterSeconds')])
    .executeTakeFirstOrThrow();
}

/**
 * Marks the client's current window as having had a refusal logged. True only for the one caller,
 * across all replicas, that flipped the mark.
 */
export async function claimRefusalLog(db: Db, clientKey: string, windowSeconds: number): Promise<boolean> {
  const row = await db
    .updateTable('invalid_token_attempts')
    .set({ refusal_logged: true })
    .where('client_key', '=', clientKey)
    .where('window_start', '=', currentWindow(windowSeconds))
    .where('refusal_logged', '=', false)
    .returning('attempts')
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes up to `batch` rows of windows that ended before the current one; returns how many. */
export async function pruneWindows(db: Db, windowSeconds: number, batch = 5_000): Promise<number> {
  const result = await sql`
    DELETE FROM invalid_token_attempts WHERE ctid IN (
      SELECT ctid FROM invalid_token_attempts
      WHERE window_start < ${currentWindow(windowSeconds)}
      LIMIT ${batch}::int
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
