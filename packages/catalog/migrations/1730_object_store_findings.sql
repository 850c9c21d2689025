-- Object store tampering findings (issue #17 finding 7). A later version or a delete marker written at a
-- copy's key with a leaked object-store key is itself locked (the bucket's default COMPLIANCE retention)
-- and cannot be removed, so the scrubber would find it on every pass: what it last reported is kept here
-- and a Security Alert is raised only when it changes. Reads take the recorded version (copies.version_id,
-- migration 0001) and are not affected by what is written later.
ALTER TABLE copies ADD COLUMN tampering text;

-- The last problems found with each replica target's own protection (S3: Object Lock disabled, default
-- retention no longer COMPLIANCE for the global minimum; fs: the root marker), one row per target.
-- Empty problems: as init left it.
CREATE TABLE replica_protection (
  target     text PRIMARY KEY,
  problems   text NOT NULL,
  checked_at timestamptz NOT NULL DEFAULT now()
);
