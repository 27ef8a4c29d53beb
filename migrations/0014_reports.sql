-- Reports (issue 20): the PDF a RIS pushed for a study (PUT /api/v1/studies/{uid}/report), one per
-- study, served to a link whose report rule allows it (the page, the viewer, REPORT.PDF in the zip),
-- and the per-link release control.
CREATE TABLE study_reports (
  study_instance_uid text PRIMARY KEY,
  -- The grant names the report by this id (random, new at every push): the export service fetches
  -- its bytes from the internal listener.
  id text NOT NULL UNIQUE CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  pdf bytea NOT NULL CHECK (octet_length(pdf) BETWEEN 1 AND 20971520),
  -- Hex SHA-256 of the PDF: part of the zip layout's identity (the ETag changes with it).
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes integer NOT NULL CHECK (bytes = octet_length(pdf)),
  uploaded_at timestamptz NOT NULL DEFAULT now(),
  -- The actor that pushed it (the API key), as the access log names it.
  uploaded_by text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON study_reports TO studylink_app;

-- Whether this link shows the study's reports: NULL follows the setup's reports_on_page (0013); false
-- holds them back (until the doctor has spoken to the patient), true shows them whatever the setup.
ALTER TABLE tokens ADD COLUMN include_report boolean;
