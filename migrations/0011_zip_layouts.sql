-- Issue 18: a study's fixed zip layout (entries in order with their sizes and CRC-32s, the DICOMDIR,
-- what the README says), made in the background when a link is issued and read by the export
-- service for every download through the internal API. One per study and zip content.
CREATE TABLE zip_layouts (
  study_instance_uid text NOT NULL,
  zip_content text NOT NULL CHECK (zip_content IN ('as-stored', 'jpeg-lossless')),
  -- sha256 of the layout: the first half of the zip's ETag.
  id text NOT NULL UNIQUE,
  -- The layout as JSON (the contract's zipLayoutSchema), served to the export service as is.
  body text NOT NULL,
  -- The zip's length with an empty README.txt (the page adds its README's bytes), and the README's
  -- values, so the patient page shows the exact size without reading the body.
  base_length bigint NOT NULL,
  readme jsonb NOT NULL,
  made_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (study_instance_uid, zip_content)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON zip_layouts TO studylink_app;
