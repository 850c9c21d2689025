-- Access control (issue #7): users, radiologist grants, sessions with rotating refresh tokens, device API
-- keys and the sign-in rate limiter. No secret is stored in plaintext: passwords are argon2id hashes,
-- refresh tokens and API keys are peppered HMAC-SHA256 digests (see packages/auth/README.md).

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
  display_name  text NOT NULL DEFAULT '',
  role          text NOT NULL CHECK (role IN ('clinic', 'radiologist', 'auditor', 'admin')),
  -- Only a clinic user belongs to one clinic; a radiologist's clinics are grants, auditors and admins see all.
  clinic_id     uuid REFERENCES clinics(id),
  password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  disabled      boolean NOT NULL DEFAULT false,
  -- Bumped on any change of role, grants, password or disabled: access tokens carrying an older
  -- version are refused at once, so a change takes effect on the next request, not at token expiry.
  token_version integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((role = 'clinic') = (clinic_id IS NOT NULL))
);

CREATE TABLE radiologist_grants (
  user_id    uuid NOT NULL REFERENCES users(id),
  clinic_id  uuid NOT NULL REFERENCES clinics(id),
  granted_by uuid REFERENCES users(id),
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, clinic_id)
);
CREATE INDEX radiologist_grants_clinic ON radiologist_grants (clinic_id);

-- A browser or API sign-in. Its refresh tokens form one rotation family: presenting a refresh token
-- that was already used revokes the whole session (stolen-token reuse detection, RFC 6819 5.2.2.3).
CREATE TABLE sessions (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL REFERENCES users(id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- Absolute end: rotation never extends a session beyond this.
  expires_at     timestamptz NOT NULL,
  revoked_at     timestamptz,
  revoked_reason text,
  source_ip      text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id  uuid NOT NULL REFERENCES sessions(id),
  token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  issued_at   timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  replaced_by uuid REFERENCES refresh_tokens(id)
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Device keys for uploaders and the CLI, each bound to one clinic. The plaintext `yy_<prefix>_<secret>`
-- is shown once; key_prefix finds the row, key_hash proves the secret.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id    uuid NOT NULL REFERENCES clinics(id),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  key_prefix   text NOT NULL UNIQUE CHECK (key_prefix ~ '^[a-z0-9]{8}$'),
  key_hash     text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  created_by   uuid REFERENCES users(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at   timestamptz,
  revoked_at   timestamptz,
  replaced_by  uuid REFERENCES api_keys(id)
);
CREATE INDEX api_keys_clinic ON api_keys (clinic_id);

-- Failed sign-ins, for the limiter (per username+IP and per IP, over a sliding window). In the database
-- so the limit holds across every replica of the viewer service.
CREATE TABLE sign_in_failures (
  id           bigserial PRIMARY KEY,
  username     text NOT NULL,
  source_ip    text NOT NULL,
  attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_user_ip ON sign_in_failures (username, source_ip, attempted_at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (source_ip, attempted_at);
