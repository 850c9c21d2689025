-- An object's instances by content address (#18 catalog at scale). The keeper asks it per copy: the
-- claim's study of a copy being verified or repaired, what a copy's lock must reach (lock extender), an
-- object still referred to (disposal). Without it each of those lookups read all of every partition's
-- (sop_instance_uid, sha256) index, since sha256 is not its leading column: per copy, in proportion to the
-- archive. With it, one probe per partition (instances are partitioned by SOP Instance UID, not sha256).
-- On a catalog of 10⁸+ rows, build it per partition CONCURRENTLY and attach (docs/operations.md).
CREATE INDEX instances_sha256 ON instances (sha256);
