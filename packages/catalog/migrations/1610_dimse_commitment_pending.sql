-- Storage Commitment reports that did not reach the SCU (#16, PS3.4 J.3.3): the archive's verdict was
-- answered in the N-ACTION-RSP, but the N-EVENT-REPORT could not be delivered on the requesting
-- association nor on a new one to the SCU's registered address. Until the SCU has it, the report is
-- kept here and retried on a new association with backoff, up to expires_at; each outcome is audited.
-- Only UIDs and failure reasons are kept (result), never a patient attribute.
CREATE TABLE dimse_commitment_pending (
  id              bigserial PRIMARY KEY,
  clinic_id       uuid NOT NULL REFERENCES clinics(id),
  calling_ae      text NOT NULL,
  transaction_uid text NOT NULL,
  result          jsonb NOT NULL,
  study_uids      text[] NOT NULL DEFAULT '{}',
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, calling_ae, transaction_uid)
);

CREATE INDEX dimse_commitment_pending_due ON dimse_commitment_pending (next_attempt_at);
