-- Staff web interface: users who sign in with a password, and their sessions.

-- Passwords as scrypt hashes in a self-describing string
-- `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>`, so the cost can be raised later
-- without invalidating older hashes.
CREATE TABLE staff_users (
  id bigserial PRIMARY KEY,
  username text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  role text NOT NULL CHECK (role IN ('admin', 'staff')),
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL DEFAULT 'system',
  disabled_at timestamptz,
  -- Lockout: consecutive failures since the last success or lock; locked_until in the future
  -- refuses every attempt, the right password included.
  failed_attempts integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  password_changed_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz
);
CREATE UNIQUE INDEX staff_users_username_idx ON staff_users (username);

-- Sessions: the cookie holds a random id; the table holds only its SHA-256, so a copy of the
-- database does not let anyone sign in. The CSRF token is tied to the session.
CREATE TABLE staff_sessions (
  id_hash bytea PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  client_ip text,
  user_agent text
);
CREATE INDEX staff_sessions_user_idx ON staff_sessions (user_id);
CREATE INDEX staff_sessions_expires_idx ON staff_sessions (expires_at);

-- Who disabled an API key from the staff interface, for the key list.
ALTER TABLE api_keys ADD COLUMN disabled_by text;

-- The per-address sign-in throttle counts recent failures in the access log.
CREATE INDEX access_log_sign_in_failures_idx ON access_log (client_ip, at DESC)
  WHERE event = 'staff_sign_in_failed';
