-- rebuild-catalog (#18): the catalog rebuilt from the replica targets alone. These two tables are the
-- rebuild's own state, so a rerun resumes instead of starting over, and the source of its report. They
-- stay empty in a catalog that was never rebuilt.

-- One row per copy found by listing a target: what its store says about it (size, version, retention,
-- origin), and whether its bytes hash to its content address (null until read).
CREATE TABLE rebuild_copies (
  target       text NOT NULL,
  object_key   text NOT NULL,
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   bigint NOT NULL,
  version_id   text,
  retain_until timestamptz,
  lock_mode    text,
  legal_hold   boolean NOT NULL DEFAULT false,
  clinic_id    uuid,
  clinic_code  text,
  received_at  timestamptz,
  digest_ok    boolean,
  listed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (target, object_key)
);
CREATE INDEX rebuild_copies_sha256 ON rebuild_copies (sha256);

-- One row per object (distinct SHA-256) once the rebuild has decided about it: indexed into the catalog,
-- or why not. Written in the transaction that writes its catalog rows, so a crash never half-indexes.
CREATE TABLE rebuild_objects (
  sha256     text PRIMARY KEY,
  outcome    text NOT NULL CHECK (outcome IN ('indexed', 'same_instance', 'not_dicom', 'unattributed', 'clinic_disagrees', 'no_good_copy', 'conflict')),
  done_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rebuild_objects_outcome ON rebuild_objects (outcome);
