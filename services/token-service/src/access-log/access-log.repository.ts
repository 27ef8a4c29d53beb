import { ACCESS_EVENTS, type AccessEvent } from '@studylink/contracts';
import { redactTokens } from '@studylink/service-kit';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { AccessLogRow } from '../db/tables.js';

// The list of events is part of the contract with the export service: defined once.
export { ACCESS_EVENTS, type AccessEvent };

export interface AccessEntry {
  event: AccessEvent;
  outcome?: string;
  tokenId?: number | null;
  studyInstanceUid?: string | null;
  clientIp?: string | null;
  userAgent?: string | null;
  actor?: string | null;
  bytes?: number | null;
  detail?: Record<string, unknown> | null;
}

export async function appendAccessEvent(db: Db, e: AccessEntry): Promise<void> {
  await db
    .insertInto('access_log')
    .values({
      event: e.event,
      outcome: e.outcome ?? '',
      token_id: e.tokenId ?? null,
      study_instance_uid: e.studyInstanceUid ?? null,
      client_ip: e.clientIp ?? null,
      // A user agent is attacker-controlled text: keep it bounded, and never keep a token in it
      // (a copy of the database alone must not yield a usable link).
      user_agent: e.userAgent ? redactTokens(e.userAgent.slice(0, 512)) : null,
      actor: e.actor ?? null,
      bytes: e.bytes ?? null,
      detail: e.detail ? JSON.stringify(e.detail) : null,
    })
    .execute();
}

export interface AccessLogFilter {
  study?: string | undefined;
  event?: AccessEvent | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  before?: number | undefined;
  limit: number;
}

/** Newest first, keyset-paged by id. */
export function listAccessEvents(db: Db, f: AccessLogFilter): Promise<AccessLogRow[]> {
  let q = db.selectFrom('access_log').selectAll();
  if (f.study) q = q.where('study_instance_uid', '=', f.study);
  if (f.event) q = q.where('event', '=', f.event);
  if (f.from) q = q.where('at', '>=', f.from);
  if (f.to) q = q.where('at', '<', f.to);
  if (f.before) q = q.where('id', '<', f.before);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

/** An access-log row with the patient of its study, from the study copy or the search index. */
export interface AccessLogRowWithPatient extends AccessLogRow {
  patient_name: string | null;
  patient_id: string | null;
}

export interface StaffAccessLogFilter extends AccessLogFilter {
  /** Studies whose patient name matched (from the search index and the copies); none: no row. */
  studies?: readonly string[] | undefined;
  patientId?: string | undefined;
}

/**
 * The staff page's and CSV's list: newest first, keyset-paged by id, each row with its study's
 * patient name and ID (the copy kept with a link, else the staff search's index).
 */
export function listAccessEventsWithPatients(
  db: Db,
  f: StaffAccessLogFilter,
): Promise<AccessLogRowWithPatient[]> {
  let q = db
    .selectFrom('access_log as l')
    .leftJoin('studies as s', 's.study_instance_uid', 'l.study_instance_uid')
    .leftJoin('study_index as i', 'i.study_instance_uid', 'l.study_instance_uid')
    .selectAll('l')
    .select((eb) => [
      eb.fn.coalesce('s.patient_name', 'i.patient_name').as('patient_name'),
      eb.fn.coalesce('s.patient_id', 'i.patient_id').as('patient_id'),
    ]);
  if (f.study) q = q.where('l.study_instance_uid', '=', f.study);
  if (f.studies)
    q = f.studies.length
      ? q.where('l.study_instance_uid', 'in', [...f.studies])
      : q.where(sql<boolean>`false`);
  if (f.patientId)
    q = q.where(sql`lower(coalesce(s.patient_id, i.patient_id))`, '=', f.patientId.toLowerCase());
  if (f.event) q = q.where('l.event', '=', f.event);
  if (f.from) q = q.where('l.at', '>=', f.from);
  if (f.to) q = q.where('l.at', '<', f.to);
  if (f.before) q = q.where('l.id', '<', f.before);
  return q.orderBy('l.id', 'desc').limit(f.limit).execute() as Promise<AccessLogRowWithPatient[]>;
}
