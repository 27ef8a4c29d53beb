-- Issue 23. The staff search's own index of the studies the store holds, and the staff member's
-- language.
--
-- A store's QIDO-RS cannot be trusted with names outside ASCII: Orthanc (stock or tuned) matches
-- names through an ASCII-folded index, so `Διονυσιος`, `Люк*`, `やまだ*` or even `äneas*` find
-- nothing, and with its default encoding it answers Greek names empty. Nor can QIDO-RS sort. So the
-- staff search keeps one row per study the product has seen (each search's answer, and a walk of
-- the whole store), with the names read from a file where the QIDO-RS answer lost them, and answers
-- from it: any script, sorted by study date, paged.
CREATE TABLE study_index (
  study_instance_uid text PRIMARY KEY,
  patient_name text NOT NULL,
  patient_id text NOT NULL,
  -- DICOM DA (YYYYMMDD) or ''; a second factor of links, so never logged.
  patient_birth_date text NOT NULL DEFAULT '',
  accession_number text NOT NULL,
  study_date text NOT NULL,
  study_time text NOT NULL,
  description text NOT NULL,
  modalities text[] NOT NULL DEFAULT '{}',
  series_count integer,
  instance_count integer,
  -- The name folded (case, accents, kana) for ordering rows of one date.
  name_sort text NOT NULL DEFAULT '',
  -- As on the study copy (0007): where the text came from and the digest of the QIDO-RS answer it
  -- was checked against; null: not checked against a file yet, so the next sight reads one.
  text_source text NOT NULL DEFAULT 'qido' CHECK (text_source IN ('qido', 'instance')),
  qido_text_digest text,
  -- When a search or a walk of the store last saw the study; a complete walk removes older rows.
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX study_index_order_idx ON study_index (study_date DESC, name_sort, study_instance_uid);
CREATE INDEX study_index_patient_id_idx ON study_index (lower(patient_id));
CREATE INDEX study_index_accession_idx ON study_index (lower(accession_number));
CREATE INDEX study_index_birth_date_idx ON study_index (patient_birth_date);
CREATE INDEX study_index_seen_idx ON study_index (seen_at);

-- Every word of every name group (and each group's parts run together, for scripts written without
-- spaces), folded; a typed word matches as a prefix, through the C-collated btree.
CREATE TABLE study_index_words (
  word text COLLATE "C" NOT NULL,
  study_instance_uid text NOT NULL REFERENCES study_index (study_instance_uid) ON DELETE CASCADE,
  PRIMARY KEY (word, study_instance_uid)
);
CREATE INDEX study_index_words_study_idx ON study_index_words (study_instance_uid);

-- The language the staff pages are shown in for this account; null: the browser's choice.
ALTER TABLE staff_users ADD COLUMN language text CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$');
