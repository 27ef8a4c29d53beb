import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** The second factor a link asks for (migrations/0006). */
export type Verification = 'none' | 'birth-date' | 'pin';

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
  default_verification: Generated<Verification>;
  default_language: Generated<string>;
  contact_phone: Generated<string>;
  contact_email: Generated<string>;
  time_zone: string | null;
  allow_onward_downloads: Generated<boolean>;
  reports_on_page: Generated<boolean>;
  logo: Buffer | null;
  logo_type: 'image/png' | 'image/jpeg' | null;
  logo_sha256: string | null;
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
  // Link trust (migrations/0006)
  verification: Generated<Verification>;
  pin_ciphertext: Buffer | null;
  max_downloads: number | null;
  allow_download: Generated<boolean>;
  downloads_used: Generated<number>;
  failed_streak: Generated<number>;
  failed_total: Generated<number>;
  locked_until: Date | null;
  locked_at: Date | null;
  /** A child link shared onward by the patient: its parent (migrations/0016); null for a study's own link. */
  parent_id: Generated<number | null>;
  /** Whether the link shows the study's reports (migrations/0014); null follows the setup's reportsOnPage. */
  include_report: Generated<boolean | null>;
}

/** The PDF a RIS pushed for a study (migrations/0014). */
export interface StudyReportTable {
  study_instance_uid: string;
  id: string;
  pdf: Buffer;
  sha256: string;
  bytes: number;
  uploaded_at: Timestamp;
  uploaded_by: string;
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
  /** DICOM DA (YYYYMMDD) or ''; compared with a birth-date answer, never logged. */
  patient_birth_date: Generated<string>;
  last_export_bytes: number | null;
  refreshed_at: Timestamp;
  text_source: ColumnType<'qido' | 'instance', 'qido' | 'instance' | undefined, 'qido' | 'instance'>;
  qido_text_digest: ColumnType<string | null, string | null | undefined, string | null>;
  refresh_attempted_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  refresh_failed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  refresh_error: ColumnType<string | null, string | null | undefined, string | null>;
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
  /** Who disabled the key (migrations/0002_staff.sql). */
  disabled_by: string | null;
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

/** A granted download of a limited link that is not over yet (migrations/0006). */
export interface DownloadLeaseTable {
  id: string;
  token_id: number;
  expires_at: Date;
}

/** A study's fixed zip layout (migrations/0011). */
export interface ZipLayoutTable {
  study_instance_uid: string;
  zip_content: 'as-stored' | 'jpeg-lossless';
  id: string;
  body: string;
  base_length: number;
  readme: ColumnType<ZipLayoutReadme, string, string>;
  made_at: Timestamp;
}
export interface ZipLayoutReadme {
  patientName: string;
  studyDate: string;
  studyDescription: string;
  instanceCount: number;
  seriesCount: number;
  /**
   * The zip of a link whose report is held back (issue 20): its length with an empty README.txt and
   * its README values; null when the study holds no report object (the same zip either way). Absent
   * on a layout made before issue 20: the link gate takes it for no layout, and one is made again.
   */
  held?: { baseLength: number; readme: Omit<ZipLayoutReadme, 'held'> } | null;
}

/** Downloads counted against maxDownloads, by layout (migrations/0012). */
export interface CountedDownloadTable {
  token_id: number;
  layout_id: string;
  counted_at: Timestamp;
}

/** A message to the patient with the link or its PIN, queued until sent (migrations/0015). */
export interface DeliveryTable {
  id: Generated<number>;
  token_id: number;
  channel: 'email' | 'sms';
  content: 'link' | 'pin';
  pin_apart: Generated<boolean>;
  recipient_ciphertext: Buffer;
  recipient_masked: string;
  language: string;
  status: Generated<'queued' | 'sent' | 'failed'>;
  attempts: Generated<number>;
  created_at: Date;
  next_attempt_at: Date;
  lease_until: Date | null;
  sent_at: Date | null;
  failed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_error: string | null;
  requested_by: string;
}

export type StaffRole = 'admin' | 'staff';

/** A staff account (migrations/0002_staff.sql). */
export interface StaffUserTable {
  id: Generated<number>;
  username: string;
  role: StaffRole;
  /** Null for a user from the identity provider (single sign-on, migrations/0018). */
  password_hash: string | null;
  created_at: Timestamp;
  created_by: string;
  disabled_at: Date | null;
  failed_attempts: Generated<number>;
  locked_until: Date | null;
  password_changed_at: Timestamp;
  last_sign_in_at: Date | null;
  /** The staff pages' language for this account (migrations/0017); null: the browser's. */
  language: ColumnType<string | null, string | null | undefined, string | null>;
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

/** A signed-in staff session, keyed by the hash of its cookie (migrations/0002_staff.sql). */
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

/** migrations/migrate.mjs's record of the files it applied (the services may only read it). */
export interface SchemaMigrationTable {
  name: string;
}

/** The staff search's index of the studies the store holds (migrations/0017). */
export interface StudyIndexTable {
  study_instance_uid: string;
  patient_name: string;
  patient_id: string;
  /** DICOM DA or ''; never logged. */
  patient_birth_date: string;
  accession_number: string;
  study_date: string;
  study_time: string;
  description: string;
  modalities: string[];
  series_count: number | null;
  instance_count: number | null;
  name_sort: string;
  text_source: 'qido' | 'instance';
  qido_text_digest: string | null;
  seen_at: Timestamp;
}

/** The folded words of each indexed study's name (migrations/0017). */
export interface StudyIndexWordTable {
  word: string;
  study_instance_uid: string;
}

export interface DB {
  schema_migrations: SchemaMigrationTable;
  server_config: ServerConfigTable;
  tokens: TokenTable;
  studies: StudyTable;
  api_keys: ApiKeyTable;
  access_log: AccessLogTable;
  invalid_token_attempts: InvalidTokenAttemptsTable;
  download_leases: DownloadLeaseTable;
  zip_layouts: ZipLayoutTable;
  study_reports: StudyReportTable;
  counted_downloads: CountedDownloadTable;
  deliveries: DeliveryTable;
  staff_users: StaffUserTable;
  staff_sessions: StaffSessionTable;
  study_index: StudyIndexTable;
  study_index_words: StudyIndexWordTable;
  staff_oidc_logins: StaffOidcLoginTable;
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
export type DeliveryRow = Selectable<DeliveryTable>;
export type StaffUserRow = Selectable<StaffUserTable>;
export type StaffSessionRow = Selectable<StaffSessionTable>;
export type StudyIndexRow = Selectable<StudyIndexTable>;
