-- Staff single sign-on (OpenID Connect): a user from the hospital's identity provider is linked by
-- issuer + subject (never by name), has no local password, and takes its role from the provider's
-- group claim at every sign-in.
ALTER TABLE staff_users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE staff_users ADD COLUMN oidc_issuer text, ADD COLUMN oidc_subject text;
ALTER TABLE staff_users
  ADD CONSTRAINT staff_users_oidc_link_check CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL)),
  -- Every user signs in somehow: with a local password, or through the provider.
  ADD CONSTRAINT staff_users_sign_in_check CHECK (password_hash IS NOT NULL OR oidc_subject IS NOT NULL);
CREATE UNIQUE INDEX staff_users_oidc_idx ON staff_users (oidc_issuer, oidc_subject)
  WHERE oidc_subject IS NOT NULL;
-- Names from a provider are often e-mail addresses (Entra ID's UPN): '@' and '+' are allowed too.
ALTER TABLE staff_users DROP CONSTRAINT IF EXISTS staff_users_username_check;
ALTER TABLE staff_users
  ADD CONSTRAINT staff_users_username_check CHECK (username ~ '^[a-z0-9][a-z0-9._@+-]{0,127}$');

-- Sign-ins under way: the browser holds a random id in a cookie, the table its SHA-256 with the
-- state, nonce and PKCE verifier sent to the provider. A row is used once (used_at); a second
-- callback with it (a replayed code) is refused before the provider is asked.
CREATE TABLE staff_oidc_logins (
  id_hash bytea PRIMARY KEY,
  state text NOT NULL,
  nonce text NOT NULL,
  code_verifier text NOT NULL,
  redirect_uri text NOT NULL,
  next text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX staff_oidc_logins_expires_idx ON staff_oidc_logins (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_oidc_logins TO studylink_app;
