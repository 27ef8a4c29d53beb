-- Issue 21: the link (and apart from it, the PIN) sent to the patient by e-mail or SMS.
-- A queue in PostgreSQL: every replica's sender claims due rows with FOR UPDATE SKIP LOCKED and a
-- short lease, so a delivery is sent once however many replicas run, and a restart loses nothing.
-- The message is built when it is sent (the token and PIN decrypted then): no token, PIN or
-- message text is ever stored here; the address is kept encrypted (the tokens' cipher), and
-- masked for display.
CREATE TABLE deliveries (
  id bigserial PRIMARY KEY,
  token_id bigint NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  channel text NOT NULL CHECK (channel IN ('email', 'sms')),
  -- What the message carries: the link, or (the link gone by e-mail) the link's PIN.
  content text NOT NULL CHECK (content IN ('link', 'pin')),
  -- A link message whose PIN goes in another message (an SMS): it says so.
  pin_apart boolean NOT NULL DEFAULT false,
  recipient_ciphertext bytea NOT NULL,
  recipient_masked text NOT NULL,
  language text NOT NULL,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  next_attempt_at timestamptz NOT NULL,
  -- A sender holds the row until then while it sends; another may take it over afterwards.
  lease_until timestamptz,
  sent_at timestamptz,
  last_error text,
  requested_by text NOT NULL
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'queued';
CREATE INDEX deliveries_token_idx ON deliveries (token_id, id);
