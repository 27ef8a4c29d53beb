-- Who sent the link (issue 20): the contact a patient can call or write to, the hospital's logo,
-- the time zone every time shown to a patient or staff member is written in, and whether reports
-- show on patient pages by default.
ALTER TABLE server_config
  ADD COLUMN contact_phone text NOT NULL DEFAULT '',
  ADD COLUMN contact_email text NOT NULL DEFAULT '',
  -- An IANA name (Europe/Paris); NULL: the server's own zone.
  ADD COLUMN time_zone text,
  ADD COLUMN reports_on_page boolean NOT NULL DEFAULT true,
  -- PNG or JPEG, at most 200 kB (checked by the service from the file's first bytes).
  ADD COLUMN logo bytea,
  ADD COLUMN logo_type text CHECK (logo_type IN ('image/png', 'image/jpeg')),
  ADD COLUMN logo_sha256 text,
  ADD CONSTRAINT server_config_logo_whole CHECK (
    (logo IS NULL AND logo_type IS NULL AND logo_sha256 IS NULL)
    OR (logo IS NOT NULL AND logo_type IS NOT NULL AND logo_sha256 IS NOT NULL AND octet_length(logo) <= 204800)
  );
