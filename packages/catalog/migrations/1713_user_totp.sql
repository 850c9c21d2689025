-- TOTP second factor (issue #17 finding 6; RFC 6238). The shared secret is sealed (AES-256-GCM) under a key
-- derived from the token secret, which is not in the database: a copy of this table alone gives no codes.
-- last_step: the time step of the last accepted code, so a code is accepted once (replay).
CREATE TABLE user_totp (
  user_id       uuid PRIMARY KEY REFERENCES users(id),
  secret_sealed text NOT NULL,
  confirmed_at  timestamptz,
  last_step     bigint NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now()
);
