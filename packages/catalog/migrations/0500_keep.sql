-- Keep and prove (#8): scrubbing and repair of copies, orphan reports, retention expiry and disposal.

-- Scrub and repair bookkeeping on each copy. A worker claims a copy by setting claimed_until (a lease, so a
-- worker that dies frees its claim); several ingest processes claim with FOR UPDATE SKIP LOCKED and never
-- verify or repair the same copy at once. A bad copy is retried at next_repair_at with backoff.
ALTER TABLE copies ADD COLUMN claimed_until timestamptz;
ALTER TABLE copies ADD COLUMN repair_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE copies ADD COLUMN next_repair_at timestamptz;
ALTER TABLE copies ADD COLUMN last_repaired_at timestamptz;

-- Objects found on a replica target but absent from `objects`: written, then the upload died before the
-- catalog commit. They are locked, so they are reported, never deleted; a retried upload adopts them by
-- content address, and the next sweep marks them resolved.
CREATE TABLE orphan_copies (
  id            bigserial PRIMARY KEY,
  target        text NOT NULL,
  object_key    text NOT NULL,
  size_bytes    bigint,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  resolved_at   timestamptz,
  UNIQUE (target, object_key)
);
CREATE INDEX orphan_copies_open ON orphan_copies (first_seen_at) WHERE resolved_at IS NULL;

-- Disposal after retention expiry: an admin requests, an auditor (not the requester) approves, a job
-- carries it out after re-checking expiry and legal hold. Rows are never deleted (they are the proof).
CREATE TABLE disposal_requests (
  id            bigserial PRIMARY KEY,
  study_ref     bigint NOT NULL REFERENCES studies(id),
  requested_by  uuid REFERENCES users(id),
  requested_at  timestamptz NOT NULL DEFAULT now(),
  reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  status        text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected', 'executed', 'blocked')),
  approved_by   uuid REFERENCES users(id),
  approved_at   timestamptz,
  decided_note  text,
  executed_at   timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  claimed_until timestamptz,
  result        jsonb,
  CHECK (approved_by IS NULL OR approved_by IS DISTINCT FROM requested_by)
);
-- One open request per study at a time.
CREATE UNIQUE INDEX disposal_requests_open ON disposal_requests (study_ref) WHERE status IN ('requested', 'approved');
CREATE INDEX disposal_requests_pending ON disposal_requests (id) WHERE status = 'approved';

-- The tombstone of a disposed study: the study row stays (reports and the audit trail refer to it) with
-- its patient attributes cleared; its series, instances, objects and copies rows are deleted.
ALTER TABLE studies ADD COLUMN disposed_at timestamptz;
ALTER TABLE studies ADD COLUMN disposal_request_ref bigint REFERENCES disposal_requests(id);
