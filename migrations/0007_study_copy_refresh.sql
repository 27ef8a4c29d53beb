-- The study copy (issue 10): where its text came from, and when a background refresh was last
-- tried and failed, so a page view never waits on the store and a store outage is not retried on
-- every view.
ALTER TABLE studies
  -- 'qido': names and description as the store's QIDO-RS answer has them. 'instance': read from the
  -- header of one of the study's instances (WADO-RS) and decoded from the file's own Specific
  -- Character Set, because the QIDO-RS answer differed: a store labelling its answers ISO_IR 100, as
  -- Orthanc does by default, drops Greek or Japanese names, and Orthanc mis-decodes some ISO 2022 sets.
  ADD COLUMN text_source text NOT NULL DEFAULT 'qido' CHECK (text_source IN ('qido', 'instance')),
  -- Digest of the QIDO-RS answer's text values when the copy was made: while a refresh finds the
  -- same answer, the names in the copy stand, and no instance is read again.
  ADD COLUMN qido_text_digest text,
  -- Set when a refresh is claimed (by one replica at a time), whatever its outcome.
  ADD COLUMN refresh_attempted_at timestamptz,
  -- The latest failed refresh and why; cleared by a successful one.
  ADD COLUMN refresh_failed_at timestamptz,
  ADD COLUMN refresh_error text;
