-- The access log's rows can be trusted as well as kept (issue 17, probe item 4).
--
-- 1. `at` is the database's clock: the application role may insert only the columns it has a
--    reason to write, so `id` and `at` always come from their defaults (the sequence, now()). A
--    back-dated row (`INSERT ... at = '2020-01-01'`) is refused with permission denied.
-- 2. `actor` is what the service itself writes: NULL for what patients do (page views, downloads,
--    the viewer, second-factor answers, invalid links) and `<kind>:<who>` for what staff, API keys,
--    the CLI, the environment and single sign-on do (`staff:alice`, `api-key:3:ris`,
--    `cli:create-admin`, `env:STAFF_ADMIN_USERNAME`, `oidc`). Checked for the application role only; the owner (migrations,
--    purge-access-log) is not held to it.

REVOKE INSERT ON access_log FROM studylink_app;
GRANT INSERT (event, outcome, token_id, study_instance_uid, client_ip, user_agent, actor, bytes, detail)
  ON access_log TO studylink_app;

CREATE FUNCTION access_log_check_actor() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  -- The owner (and a superuser) writes what it must; the application's roles what the service does.
  IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'access_log'::regclass), 'MEMBER')
     OR NOT pg_has_role(current_user, 'studylink_app', 'MEMBER') THEN
    RETURN NEW;
  END IF;
  IF NEW.actor IS NOT NULL AND NEW.event IN ('page_view', 'viewer_opened', 'invalid_token', 'rate_limited',
      'download_start', 'download_complete', 'download_abort', 'download_refused', 'verification') THEN
    RAISE EXCEPTION 'access_log: a patient-side event (%) has no actor', NEW.event
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.actor IS NOT NULL AND NEW.actor !~ '^[a-z][a-z-]{1,20}(:[^[:cntrl:]]{1,255})?$' THEN
    RAISE EXCEPTION 'access_log: an actor is written <kind>[:<who>] (staff:, api-key:, cli:, env:, oidc)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION access_log_check_actor() FROM PUBLIC;

CREATE TRIGGER access_log_actor BEFORE INSERT ON access_log
  FOR EACH ROW EXECUTE FUNCTION access_log_check_actor();
