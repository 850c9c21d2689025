-- Per-account sign-in throttling (issue #17 finding 6): guesses spread over many source addresses were never
-- throttled (the limit was per username + address). Failures per account now back off exponentially; a source
-- address from which the account signed in successfully recently is exempt from the account-wide and the
-- address-wide limits, so an attacker cannot lock the real user (or everyone behind one address) out.
CREATE INDEX sign_in_failures_user ON sign_in_failures (username, attempted_at);

CREATE TABLE sign_in_known_sources (
  username        text NOT NULL,
  source_ip       text NOT NULL,
  last_success_at timestamptz NOT NULL,
  PRIMARY KEY (username, source_ip)
);
