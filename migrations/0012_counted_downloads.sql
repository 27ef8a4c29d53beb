-- Issue 18: downloads counted against a link's maxDownloads, by the zip layout they were of. A
-- ranged resume of the same layout within 24 hours is the same download: let through, never
-- counted again.
CREATE TABLE counted_downloads (
  token_id bigint NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  layout_id text NOT NULL,
  counted_at timestamptz NOT NULL,
  PRIMARY KEY (token_id, layout_id)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON counted_downloads TO studylink_app;
