-- Recovery codes for the TOTP second factor (ASVS V2.5.x, 等保 8.1.4.1 d): a user who lost the phone signs in
-- with one of ten single-use codes instead of waiting for an admin reset. Only a keyed hash is stored (HMAC-SHA256
-- under a pepper derived from the token secret, which is not in the database); used_at marks a code spent.
-- A new set replaces the old one; an admin reset of the second factor removes them.
CREATE TABLE user_recovery_codes (
  user_id    uuid NOT NULL REFERENCES users(id),
  code_hash  text NOT NULL,
  used_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, code_hash)
);
