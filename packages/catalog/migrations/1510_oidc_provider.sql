-- The embedded OpenID Connect provider (#15). oidc-provider keeps its models (browser sessions,
-- interactions, authorization codes, grants, access and refresh tokens) as opaque JSON payloads; the
-- columns beside the payload are the ones its adapter interface looks them up or revokes them by.
CREATE TABLE oidc_payloads (
  model       text NOT NULL,
  id          text NOT NULL,
  payload     jsonb NOT NULL,
  grant_id    text,
  user_code   text,
  uid         text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid ON oidc_payloads (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_expires ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

-- Every OIDC grant belongs to the Yunying session its sign-in started (AuthService.signIn): the session
-- is the one truth of "signed in", so revoking it (sign-out, disabled user, refresh-token reuse) ends the
-- grant's tokens, and revoking the grant (RP-initiated logout, token revocation) revokes the session.
CREATE TABLE oidc_grant_sessions (
  grant_id   text PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oidc_grant_sessions_session ON oidc_grant_sessions (session_id);
