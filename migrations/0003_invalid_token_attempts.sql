-- Invalid-token attempts per client address and fixed time window, shared by every token-service
-- replica so the guessing limit holds however many run. One row per (address, window), upserted
-- with ON CONFLICT ... RETURNING; rows of past windows are deleted in small batches.
--
-- UNLOGGED: counters are worth no WAL. After a PostgreSQL crash the table comes back empty, which
-- only forgives the current window; it is not replicated to standbys, which never take writes.
CREATE UNLOGGED TABLE invalid_token_attempts (
  -- An IPv4 address, or the /64 prefix of an IPv6 one (a single host owns a whole /64).
  client_key text NOT NULL,
  window_start timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  -- Set by the first refusal of the window, so a flood logs one 'rate_limited' event, not one per request.
  refusal_logged boolean NOT NULL DEFAULT false,
  PRIMARY KEY (client_key, window_start)
);
-- Pruning deletes by age.
CREATE INDEX invalid_token_attempts_window_idx ON invalid_token_attempts (window_start);
