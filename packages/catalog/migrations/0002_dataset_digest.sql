-- The SHA-256 of the dataset alone (the bytes after the Part 10 file meta group). The same dataset sent
-- by STOW-RS (the clinic's own file meta) and by C-STORE (file meta written by the archive) differs only
-- in group 0002: it is the same instance, not a new version.
ALTER TABLE instances ADD COLUMN dataset_sha256 text;
CREATE INDEX instances_dataset_digest ON instances (sop_instance_uid, dataset_sha256);
