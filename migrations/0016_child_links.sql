-- Issue 21: a patient shares the link onward with a doctor. A child link is a token of the same
-- study with parent_id set: no second factor, view-only unless the setup allows onward downloads,
-- expiring no later than its parent, and ending the moment its parent is revoked or expires (the
-- link gate reads the parent's state on every use). A study still has one link of its own: the
-- unique index of active links leaves children out.
ALTER TABLE tokens ADD COLUMN parent_id bigint REFERENCES tokens (id) ON DELETE CASCADE;
CREATE INDEX tokens_parent_idx ON tokens (parent_id, id) WHERE parent_id IS NOT NULL;
DROP INDEX tokens_active_study_idx;
CREATE UNIQUE INDEX tokens_active_study_idx ON tokens (study_instance_uid)
  WHERE revoked_at IS NULL AND parent_id IS NULL;

-- The setup: may a child link download the zip (default: view only)?
ALTER TABLE server_config ADD COLUMN allow_onward_downloads boolean NOT NULL DEFAULT false;
