-- migrate:no-transaction
-- The link's own history on the patient page (issue 12): the latest events of one token. Built
-- concurrently on each partition and attached (migrate.mjs), so the access log keeps taking
-- inserts while it is indexed; a database that has it from an earlier 0006 skips it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS access_log_token_idx ON access_log (token_id, id DESC) WHERE token_id IS NOT NULL;
