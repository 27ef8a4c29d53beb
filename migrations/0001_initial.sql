-- Server-address setup: a single row, seeded from the environment on first start.
CREATE TABLE server_config (
  id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  institution text NOT NULL DEFAULT '',
  department text NOT NULL DEFAULT '',
  public_address text NOT NULL DEFAULT '',
  local_address text NOT NULL DEFAULT '',
  port integer NOT NULL DEFAULT 3000 CHECK (port BETWEEN 1 AND 65535),
  server_name text NOT NULL DEFAULT '',
  ssl boolean NOT NULL DEFAULT false,
  zip_content text NOT NULL DEFAULT 'as-stored' CHECK (zip_content IN ('as-stored', 'jpeg-lossless')),
  viewer_url text NOT NULL DEFAULT '',
  default_expiry_days integer CHECK (default_expiry_days IS NULL OR default_expiry_days > 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Tokens: looked up by SHA-256; the token itself only as AES-256-GCM ciphertext
-- whose key lives outside the database.
CREATE TABLE tokens (
  id bigserial PRIMARY KEY,
  study_instance_uid varchar(64) NOT NULL,
  token_hash bytea NOT NULL,
  token_ciphertext bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  created_by text NOT NULL
);
CREATE UNIQUE INDEX tokens_hash_idx ON tokens (token_hash);
-- One active (not revoked) token per study.
CREATE UNIQUE INDEX tokens_active_study_idx ON tokens (study_instance_uid) WHERE revoked_at IS NULL;

-- A copy of the study details read from the store with QIDO-RS, so the page
-- still shows when the store is down.
CREATE TABLE studies (
  study_instance_uid varchar(64) PRIMARY KEY,
  patient_name text NOT NULL DEFAULT '',
  patient_id text NOT NULL DEFAULT '',
  study_id text NOT NULL DEFAULT '',
  accession_number text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  study_date text NOT NULL DEFAULT '',
  study_time text NOT NULL DEFAULT '',
  modalities text[] NOT NULL DEFAULT '{}',
  series_count integer,
  instance_count integer,
  institution_name text NOT NULL DEFAULT '',
  last_export_bytes bigint,
  refreshed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  key_hash bytea NOT NULL UNIQUE,
  key_prefix text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'integrator')),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL DEFAULT 'system',
  disabled_at timestamptz,
  last_used_at timestamptz
);

-- Append-only access log.
CREATE TABLE access_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  event text NOT NULL,
  outcome text NOT NULL DEFAULT '',
  token_id bigint,
  study_instance_uid varchar(64),
  client_ip text,
  user_agent text,
  actor text,
  bytes bigint,
  detail jsonb
);
CREATE INDEX access_log_at_idx ON access_log (at DESC, id DESC);
CREATE INDEX access_log_study_idx ON access_log (study_instance_uid, at DESC);
CREATE INDEX access_log_event_idx ON access_log (event, at DESC);

-- The application's role may insert and read the log, never change it.
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'access_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log
  FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
  FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
