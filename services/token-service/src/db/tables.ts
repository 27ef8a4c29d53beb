import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface ServerConfigTable {
  id: Generated<number>;
  institution: string;
  department: string;
  public_address: string;
  local_address: string;
  port: number;
  server_name: string;
  ssl: boolean;
  zip_content: 'as-stored' | 'jpeg-lossless';
  viewer_url: string;
  default_expiry_days: number | null;
  updated_at: Timestamp;
}

export interface TokenTable {
  id: Generated<number>;
  study_instance_uid: string;
  token_hash: Buffer;
  token_ciphertext: Buffer;
  created_at: Timestamp;
  expires_at: Date | null;
  revoked_at: Date | null;
  created_by: string;
}

export interface StudyTable {
  study_instance_uid: string;
  patient_name: string;
  patient_id: string;
  study_id: string;
  accession_number: string;
  description: string;
  study_date: string;
  study_time: string;
  modalities: string[];
  series_count: number | null;
  instance_count: number | null;
  institution_name: string;
  last_export_bytes: number | null;
  refreshed_at: Timestamp;
}

export interface ApiKeyTable {
  id: Generated<number>;
  name: string;
  key_hash: Buffer;
  key_prefix: string;
  /** Derived from scopes (a generated column): admin when scopes hold admin. */
  role: ColumnType<'admin' | 'integrator', never, never>;
  scopes: ('tokens' | 'audit' | 'admin')[];
  created_at: Timestamp;
  created_by: string;
  disabled_at: Date | null;
  last_used_at: Date | null;
}

export interface AccessLogTable {
  id: Generated<number>;
  at: Timestamp;
  event: string;
  outcome: string;
  token_id: number | null;
  study_instance_uid: string | null;
  client_ip: string | null;
  user_agent: string | null;
  actor: string | null;
  bytes: number | null;
  detail: unknown | null;
}

/** Invalid-token attempts per client key and fixed window (migrations/0003); unlogged. */
export interface InvalidTokenAttemptsTable {
  client_key: string;
  window_start: Date;
  attempts: number;
  refusal_logged: Generated<boolean>;
}

export interface DB {
  server_config: ServerConfigTable;
  tokens: TokenTable;
  studies: StudyTable;
  api_keys: ApiKeyTable;
  access_log: AccessLogTable;
  invalid_token_attempts: InvalidTokenAttemptsTable;
}

export type ServerConfigRow = Selectable<ServerConfigTable>;
export type TokenRow = Selectable<TokenTable>;
export type NewToken = Insertable<TokenTable>;
export type StudyRow = Selectable<StudyTable>;
export type NewStudy = Insertable<StudyTable>;
export type StudyUpdate = Updateable<StudyTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;
export type AccessLogRow = Selectable<AccessLogTable>;
export type NewAccessLog = Insertable<AccessLogTable>;
