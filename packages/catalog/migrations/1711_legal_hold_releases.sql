-- Four eyes on legal-hold release (issue #17 finding 4): one admin could lift a hold and then have the
-- study disposed of. Lifting is now a request that another, independent person (an auditor whose account the
-- requester neither created nor changed) approves; placing a hold stays one step (it only protects more).
CREATE TABLE legal_hold_releases (
  id           bigserial PRIMARY KEY,
  study_ref    bigint NOT NULL REFERENCES studies(id),
  requested_by uuid REFERENCES users(id),
  requested_at timestamptz NOT NULL DEFAULT now(),
  reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  status       text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected')),
  decided_by   uuid REFERENCES users(id),
  decided_at   timestamptz,
  CHECK (decided_by IS NULL OR decided_by IS DISTINCT FROM requested_by)
);
CREATE UNIQUE INDEX legal_hold_releases_open ON legal_hold_releases (study_ref) WHERE status = 'requested';
