-- Mobile viewing and sharing (#20, 云胶片 / 互认): a time-limited, revocable link to one study's key images
-- and signed report, viewed without an account. Only the SHA-256 of the link's 256-bit token is kept, so a
-- copy of this table (a backup, a replica) cannot be turned into working links; the optional 6-digit access
-- code is kept as a SHA-256 salted with the share id (the token, not the code, is what resists guessing:
-- wrong codes lock the share for a while, see share.repository.ts).
CREATE TABLE study_shares (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  study_ref          bigint NOT NULL REFERENCES studies(id),
  -- Copied from the study, so listing and auditing never need the study row's patient columns.
  clinic_id          uuid NOT NULL REFERENCES clinics(id),
  token_sha256       bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
  code_sha256        bytea CHECK (code_sha256 IS NULL OR octet_length(code_sha256) = 32),
  created_by         uuid NOT NULL REFERENCES users(id),
  created_at         timestamptz NOT NULL DEFAULT now(),
  expires_at         timestamptz NOT NULL,
  revoked_at         timestamptz,
  revoked_by         uuid REFERENCES users(id),
  -- Wrong access codes: counted in a window; at the limit the share refuses even the right code until
  -- code_locked_until (a 6-digit code has only a million values).
  code_failures      integer NOT NULL DEFAULT 0 CHECK (code_failures >= 0),
  code_locked_until  timestamptz,
  view_count         integer NOT NULL DEFAULT 0 CHECK (view_count >= 0),
  last_viewed_at     timestamptz,
  CHECK (expires_at > created_at),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX study_shares_study ON study_shares (study_ref, created_at DESC);
