-- The download events get the names issue 18 gives them: download_start -> download_started,
-- download_abort -> download_aborted (download_resumed and download_complete keep theirs).
--
-- 1. Rows already logged are rewritten, so the log, its filters, the staff page and exports read
--    one name per event whatever the row's age. The log is append-only (access_log_no_update, on
--    the partitioned table and so on every partition): the trigger is lifted for this UPDATE only,
--    inside this migration's transaction, and is back before it commits. Only the event's name
--    changes; time, outcome, bytes and detail are untouched.
-- 2. The actor check (0009) lists the patient-side events by name: it gets the new names, and
--    download_resumed, which it did not list, so no row of a patient's download can carry an actor.
--    A service of the previous release still sending the old names is read with the new ones by
--    the token service (packages/contracts RENAMED_ACCESS_EVENTS) before anything is written.
--
-- Safe to run again: a second run finds no row to rewrite and replaces the function with itself.

ALTER TABLE access_log DISABLE TRIGGER access_log_no_update;
UPDATE access_log SET event = 'download_started' WHERE event = 'download_start';
UPDATE access_log SET event = 'download_aborted' WHERE event = 'download_abort';
ALTER TABLE access_log ENABLE TRIGGER access_log_no_update;

CREATE OR REPLACE FUNCTION access_log_check_actor() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  -- The owner (and a superuser) writes what it must; the application's roles what the service does.
  IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'access_log'::regclass), 'MEMBER')
     OR NOT pg_has_role(current_user, 'studylink_app', 'MEMBER') THEN
    RETURN NEW;
  END IF;
  IF NEW.actor IS NOT NULL AND NEW.event IN ('page_view', 'viewer_opened', 'invalid_token', 'rate_limited',
      'download_started', 'download_resumed', 'download_complete', 'download_aborted', 'download_refused',
      'verification') THEN
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
