-- The access log really is append-only, and can be kept for a set time.
--
-- 1. Two roles. Migrations (and `cli.js purge-access-log`) run as the role that owns the tables
--    (MIGRATION_DATABASE_URL). The services connect as a login role that is a member of the group
--    role `studylink_app` (migrations/migrate.mjs makes the login role from DATABASE_URL). That
--    group may only INSERT and SELECT the access log: it owns nothing, and UPDATE, DELETE,
--    TRUNCATE, DROP, ALTER (DISABLE TRIGGER, DETACH PARTITION) and session_replication_role are
--    refused to it by PostgreSQL's privileges. The triggers below stay, for the owner's mistakes.
-- 2. access_log is partitioned by month on `at` (declarative partitioning), so retention drops
--    whole partitions instead of deleting rows. A DEFAULT partition takes any row whose month has
--    no partition yet, so an insert never fails for want of one; `access_log_create_partition`
--    (run by migrations and by purge-access-log, a few months ahead) creates the monthly ones.
-- 3. API keys get scopes (tokens, audit, admin); `role` becomes derived from them.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'studylink_app') THEN
    BEGIN
      CREATE ROLE studylink_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'the migration role cannot create the group role studylink_app: ask a superuser to run CREATE ROLE studylink_app NOLOGIN, then migrate again';
    END;
  END IF;
END
$$;

-- Nobody but the owner creates objects in the schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO studylink_app;

-- The partitioned log. Same columns; the primary key must include the partition key.
ALTER SEQUENCE access_log_id_seq OWNED BY NONE;
ALTER TABLE access_log RENAME TO access_log_unpartitioned;
ALTER INDEX access_log_pkey RENAME TO access_log_unpartitioned_pkey;
CREATE TABLE access_log (
  id bigint NOT NULL DEFAULT nextval('access_log_id_seq'),
  at timestamptz NOT NULL DEFAULT now(),
  event text NOT NULL,
  outcome text NOT NULL DEFAULT '',
  token_id bigint,
  study_instance_uid varchar(64),
  client_ip text,
  user_agent text,
  actor text,
  bytes bigint,
  detail jsonb,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE access_log_id_seq OWNED BY access_log.id;
CREATE TABLE access_log_default PARTITION OF access_log DEFAULT;
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log_default
  FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

-- Indexes on the parent are created on every partition, the ones attached later included.
DROP INDEX IF EXISTS access_log_at_idx, access_log_study_idx, access_log_event_idx,
  access_log_sign_in_failures_idx;
CREATE INDEX access_log_at_idx ON access_log (at DESC, id DESC);
CREATE INDEX access_log_study_idx ON access_log (study_instance_uid, at DESC);
CREATE INDEX access_log_event_idx ON access_log (event, at DESC);
-- The staff sign-in throttle counts failures that were not themselves refusals: the rows it logs
-- for a throttled address (at most one per window) are not in the index it reads.
CREATE INDEX access_log_sign_in_failures_idx ON access_log (client_ip, at DESC)
  WHERE event = 'staff_sign_in_failed' AND outcome <> 'throttled';
-- ...and the one row per window it logs for a throttled address, found by this one.
CREATE INDEX access_log_sign_in_throttled_idx ON access_log (client_ip, at DESC)
  WHERE event = 'staff_sign_in_failed' AND outcome = 'throttled';

CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log
  FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
  FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

-- Creates the partition for the month holding `month` (a no-op when it exists) and returns its
-- name. The new table is built apart, given a CHECK constraint matching its range and attached:
-- ATTACH takes SHARE UPDATE EXCLUSIVE on the log, which does not block inserts, and the check
-- spares it a scan. Rows the DEFAULT partition caught for that month are moved in first (only
-- when the partition was not made ahead of time; this briefly locks the log).
CREATE FUNCTION access_log_create_partition(month date) RETURNS text
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  lo timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
  hi timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
  name text := 'access_log_' || to_char(date_trunc('month', month::timestamp), 'YYYY_MM');
  strays boolean;
BEGIN
  IF to_regclass(name) IS NOT NULL THEN
    RETURN name;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM access_log_default WHERE at >= %L AND at < %L)', lo, hi)
    INTO strays;
  EXECUTE format('CREATE TABLE %I (LIKE access_log INCLUDING DEFAULTS)', name);
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (at >= %L AND at < %L)',
    name, name || '_range', lo, hi);
  IF strays THEN
    LOCK TABLE access_log IN SHARE ROW EXCLUSIVE MODE;
    ALTER TABLE access_log DETACH PARTITION access_log_default;
    EXECUTE format('INSERT INTO %I SELECT * FROM access_log_default WHERE at >= %L AND at < %L',
      name, lo, hi);
    -- The moved rows, out of the detached default partition: the append-only trigger is lifted
    -- for this one statement, by the owner, inside this transaction.
    ALTER TABLE access_log_default DISABLE TRIGGER USER;
    EXECUTE format('DELETE FROM access_log_default WHERE at >= %L AND at < %L', lo, hi);
    ALTER TABLE access_log_default ENABLE TRIGGER USER;
    EXECUTE format('ALTER TABLE access_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    ALTER TABLE access_log ATTACH PARTITION access_log_default DEFAULT;
  ELSE
    EXECUTE format('ALTER TABLE access_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
  END IF;
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_range');
  -- PostgreSQL fires TRUNCATE triggers of the partitions, not of the partitioned table.
  EXECUTE format('CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON %I '
    'FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()', name);
  -- Reached through the log only: the application's privileges are those on access_log.
  EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, studylink_app', name);
  RETURN name;
END
$$;
REVOKE ALL ON FUNCTION access_log_create_partition(date) FROM PUBLIC;

-- Partitions for every month that has rows, and this month and the next three; then the rows.
SELECT access_log_create_partition(m::date)
FROM generate_series(
  date_trunc('month', LEAST(COALESCE((SELECT min(at) FROM access_log_unpartitioned), now()), now()) AT TIME ZONE 'UTC'),
  date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months',
  interval '1 month'
) AS m;
INSERT INTO access_log SELECT * FROM access_log_unpartitioned;
-- The old table's triggers forbid TRUNCATE; DROP is what removes it.
DROP TABLE access_log_unpartitioned;

-- API key scopes: tokens (issue, read, revoke), audit (read the access log), admin (everything).
ALTER TABLE api_keys ADD COLUMN scopes text[];
UPDATE api_keys SET scopes = CASE WHEN role = 'admin' THEN ARRAY['admin'] ELSE ARRAY['tokens'] END;
ALTER TABLE api_keys
  ALTER COLUMN scopes SET NOT NULL,
  ALTER COLUMN scopes SET DEFAULT ARRAY['tokens'],
  ADD CONSTRAINT api_keys_scopes_check
    CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['tokens', 'audit', 'admin']);
ALTER TABLE api_keys DROP COLUMN role;
ALTER TABLE api_keys ADD COLUMN role text GENERATED ALWAYS AS (
  CASE WHEN 'admin' = ANY (scopes) THEN 'admin' ELSE 'integrator' END
) STORED;

-- What the application may do. Explicit per table; the access log: read and append, nothing more.
GRANT SELECT, INSERT ON access_log TO studylink_app;
GRANT SELECT, INSERT, UPDATE ON server_config, tokens, studies, api_keys TO studylink_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_users, staff_sessions, invalid_token_attempts TO studylink_app;
GRANT SELECT ON schema_migrations TO studylink_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO studylink_app;
-- Any other table an earlier migration made (one this file does not name): the application's.
DO $$
DECLARE t regclass;
BEGIN
  FOR t IN
    SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND c.relname NOT IN ('access_log', 'schema_migrations')
       AND NOT has_table_privilege('studylink_app', c.oid, 'SELECT')
  LOOP
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO studylink_app', t);
  END LOOP;
END
$$;
-- Tables later migrations create (as this same owner) are the application's to read and write; a
-- migration adding another append-only table revokes UPDATE and DELETE on it.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO studylink_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO studylink_app;
-- The partitions made above got those defaults: take them back.
DO $$
DECLARE p regclass;
BEGIN
  FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'access_log'::regclass LOOP
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, studylink_app', p);
  END LOOP;
END
$$;
