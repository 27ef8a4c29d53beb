-- Issue 12: a link the patient can trust. A second factor (birth date or PIN), a download
-- limit, view-only links, a lockout counted per link, and the defaults in the server setup.

ALTER TABLE tokens
  ADD COLUMN verification text NOT NULL DEFAULT 'none' CHECK (verification IN ('none', 'birth-date', 'pin')),
  -- The PIN as AES-256-GCM ciphertext (the token's cipher, bound to the token's hash), so staff
  -- can show it again while a database dump alone does not yield it.
  ADD COLUMN pin_ciphertext bytea,
  ADD COLUMN max_downloads integer CHECK (max_downloads IS NULL OR max_downloads >= 1),
  ADD COLUMN allow_download boolean NOT NULL DEFAULT true,
  -- Completed downloads; an aborted one is not counted.
  ADD COLUMN downloads_used integer NOT NULL DEFAULT 0,
  -- Wrong answers since the last right one or the last short lock (5 lock the link for 15 minutes)
  -- and since the last staff unlock (20 lock it until staff unlock it).
  ADD COLUMN failed_streak integer NOT NULL DEFAULT 0,
  ADD COLUMN failed_total integer NOT NULL DEFAULT 0,
  ADD COLUMN locked_until timestamptz,
  ADD COLUMN locked_at timestamptz,
  ADD CONSTRAINT tokens_pin_when_pin_link CHECK ((verification = 'pin') = (pin_ciphertext IS NOT NULL));

-- Patient's Birth Date (DICOM DA, YYYYMMDD) from the store, compared with a birth-date answer.
ALTER TABLE studies ADD COLUMN patient_birth_date text NOT NULL DEFAULT '';

ALTER TABLE server_config
  ADD COLUMN default_verification text NOT NULL DEFAULT 'none'
    CHECK (default_verification IN ('none', 'birth-date', 'pin')),
  -- The language patient pages fall back to when the browser asks for none we have.
  ADD COLUMN default_language text NOT NULL DEFAULT 'en';

-- Downloads of a link with maxDownloads that are granted and not yet over: two started at once
-- cannot both pass the limit. A lease lasts 2 minutes until the download starts streaming, then 6
-- hours; it ends with the download (complete or abort), or by itself if the export never reports.
CREATE TABLE download_leases (
  id uuid PRIMARY KEY,
  token_id bigint NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);
CREATE INDEX download_leases_token_idx ON download_leases (token_id, expires_at);

-- The link's own history on the patient page reads the latest events of one token: its index on
-- the access log is built concurrently, partition by partition, in 0008, so a big log keeps taking
-- inserts while it is made.
