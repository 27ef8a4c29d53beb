import type { Insertable } from 'kysely';
import { type Kysely, sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { DB, DeliveryRow, DeliveryTable } from '../db/tables.js';

export function insertDelivery(db: Db, d: Insertable<DeliveryTable>): Promise<DeliveryRow> {
  return db.insertInto('deliveries').values(d).returningAll().executeTakeFirstOrThrow();
}

/** The deliveries of a link, oldest first. */
export function listDeliveriesForToken(db: Db, tokenId: number): Promise<DeliveryRow[]> {
  return db.selectFrom('deliveries').selectAll().where('token_id', '=', tokenId).orderBy('id').execute();
}

/**
 * Claims up to `limit` due deliveries for this sender until `leaseUntil`: rows another sender is
 * claiming right now are skipped (SKIP LOCKED), rows under another sender's lease are not due.
 * Each claim counts as an attempt.
 */
export async function claimDueDeliveries(
  db: Kysely<DB>,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<DeliveryRow[]> {
  const { rows } = await sql<DeliveryRow>`
    UPDATE deliveries SET lease_until = ${leaseUntil}, attempts = attempts + 1
     WHERE id IN (
       SELECT id FROM deliveries
        WHERE status = 'queued' AND next_attempt_at <= ${now}
          AND (lease_until IS NULL OR lease_until <= ${now})
        ORDER BY next_attempt_at, id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(db);
  return rows;
}

/** The outcome of one attempt, written only while this sender still holds the lease it claimed. */
export async function settleDelivery(
  db: Db,
  claimed: { id: number; leaseUntil: Date },
  outcome:
    | { status: 'sent'; at: Date }
    | { status: 'queued'; nextAttemptAt: Date; error: string }
    | { status: 'failed'; at: Date; error: string },
): Promise<boolean> {
  const r = await db
    .updateTable('deliveries')
    .set({
      status: outcome.status,
      lease_until: null,
      ...(outcome.status === 'sent'
        ? { sent_at: outcome.at, last_error: null }
        : { last_error: outcome.error }),
      ...(outcome.status === 'queued' ? { next_attempt_at: outcome.nextAttemptAt } : {}),
      ...(outcome.status === 'failed' ? { failed_at: outcome.at } : {}),
    })
    .where('id', '=', claimed.id)
    .where('lease_until', '=', claimed.leaseUntil)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
