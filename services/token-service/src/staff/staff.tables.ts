import type { ColumnType, Generated, Kysely, Selectable, Transaction } from 'kysely';
import type { DB } from '../db/tables.js';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type StaffRole = 'admin' | 'staff';

export interface StaffUserTable {
  id: Generated<number>;
  username: string;
  role: StaffRole;
  /** Null for a user from the identity provider (single sign-on). */
  password_hash: string | null;
  created_at: Timestamp;
  created_by: string;
  disabled_at: Date | null;
  failed_attempts: Generated<number>;
  locked_until: Date | null;
  password_changed_at: Timestamp;
  last_sign_in_at: Date | null;
  /** The provider's issuer and subject of a single sign-on user (migrations/0018_staff_oidc.sql). */
  oidc_issuer: string | null;
  oidc_subject: string | null;
}

/** A sign-in through the identity provider under way (migrations/0018_staff_oidc.sql). */
export interface StaffOidcLoginTable {
  id_hash: Buffer;
  state: string;
  nonce: string;
  code_verifier: string;
  redirect_uri: string;
  next: string;
  created_at: Timestamp;
  expires_at: Date;
  used_at: Date | null;
}

export interface StaffSessionTable {
  id_hash: Buffer;
  user_id: number;
  csrf_token: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Date;
  client_ip: string | null;
  user_agent: string | null;
}

/** Columns migrations/0002_staff.sql adds to api_keys. */
export interface ApiKeyStaffColumns {
  disabled_by: string | null;
}

/** The tables of migrations/0002_staff.sql, added to the service's DB with `db.withTables`. */
export type StaffTables = {
  staff_users: StaffUserTable;
  staff_sessions: StaffSessionTable;
  staff_oidc_logins: StaffOidcLoginTable;
  api_keys: ApiKeyStaffColumns;
};

export type StaffDB = DB & StaffTables;
export type StaffDb = Kysely<StaffDB> | Transaction<StaffDB>;

export type StaffUserRow = Selectable<StaffUserTable>;
export type StaffSessionRow = Selectable<StaffSessionTable>;

/** The service's Kysely, typed with the staff tables as well. */
export function withStaffTables(db: Kysely<DB>): Kysely<StaffDB> {
  return db.withTables<StaffTables>();
}
