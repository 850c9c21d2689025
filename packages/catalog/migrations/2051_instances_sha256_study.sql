-- An object's instances, and a study's, over every version (#18 catalog at scale). Instances are partitioned
-- by SOP Instance UID, and the indexes on study_ref hold current versions only (QIDO's).
-- By content address: the keeper asks it per copy (the claim's study of a copy being verified or repaired,
-- what a copy's lock must reach, whether a disposal leaves an object referred to). Without this index each
-- such lookup read every partition's whole (sop_instance_uid, sha256) index, sha256 not being its leading
-- column: per copy, in proportion to the archive.
-- By study, every version: a disposal's copies, objects and tombstone (superseded versions are disposed of
-- with the study), which were a scan of every partition per disposal.
-- Both: one probe per partition. On a catalog of 10⁸+ rows, build them per partition CONCURRENTLY and attach
-- (docs/operations.md).
CREATE INDEX instances_sha256 ON instances (sha256);
CREATE INDEX instances_study_all_versions ON instances (study_ref);
