-- #18 Catalog at scale: `instances` and `copies` become hash-partitioned on their natural keys
-- (docs/operations.md "Catalog at scale" explains the choice and its limits).
--
-- Why hash on the natural key and not range by received month: PostgreSQL enforces a unique constraint
-- on a partitioned table only when it contains the partition key. Partitioned by received month, the
-- catalog could no longer enforce "one current version per SOP Instance UID", (sop_instance_uid,
-- version) or (sop_instance_uid, sha256) across months, nor (sha256, target) for copies (the ON CONFLICT
-- target of every ingest), and every lookup by UID (the write path's first query) would probe one index
-- per month ever stored (180 after 15 years). Partitioned by hash of sop_instance_uid / sha256, every
-- existing constraint keeps its meaning, and the ingest lookups prune to one partition.
--
-- Primary keys must contain the partition key too: (id, sop_instance_uid) and (id, sha256). Nothing
-- references either table by foreign key, and `id` stays unique in practice (one sequence each).
-- 16 partitions: ~60 M instance rows each at 10⁹; each can later be split in two (modulus 32) alone.
--
-- Existing rows are copied in this transaction: fine for the catalogs that exist today; a catalog of
-- 10⁸+ rows would be moved online instead (see docs/operations.md).

-- instances ---------------------------------------------------------------------------------------------
ALTER SEQUENCE instances_id_seq OWNED BY NONE;
ALTER TABLE instances RENAME TO instances_before_1810;
CREATE TABLE instances (LIKE instances_before_1810 INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY HASH (sop_instance_uid);
DO $$
BEGIN
  FOR r IN 0..15 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF instances FOR VALUES WITH (MODULUS 16, REMAINDER %s)', 'instances_h' || lpad(r::text, 2, '0'), r);
  END LOOP;
END $$;
INSERT INTO instances SELECT * FROM instances_before_1810;
DROP TABLE instances_before_1810;
ALTER SEQUENCE instances_id_seq OWNED BY instances.id;

ALTER TABLE instances ADD CONSTRAINT instances_pkey PRIMARY KEY (id, sop_instance_uid);
ALTER TABLE instances ADD CONSTRAINT instances_sop_instance_uid_version_key UNIQUE (sop_instance_uid, version);
ALTER TABLE instances ADD CONSTRAINT instances_sop_instance_uid_sha256_key UNIQUE (sop_instance_uid, sha256);
ALTER TABLE instances ADD CONSTRAINT instances_series_ref_fkey FOREIGN KEY (series_ref) REFERENCES series(id);
ALTER TABLE instances ADD CONSTRAINT instances_study_ref_fkey FOREIGN KEY (study_ref) REFERENCES studies(id);
ALTER TABLE instances ADD CONSTRAINT instances_clinic_id_fkey FOREIGN KEY (clinic_id) REFERENCES clinics(id);
ALTER TABLE instances ADD CONSTRAINT instances_sha256_fkey FOREIGN KEY (sha256) REFERENCES objects(sha256);
CREATE UNIQUE INDEX instances_one_current ON instances (sop_instance_uid) WHERE is_current;
-- (study_ref, id) and (series_ref, id), not (study_ref) alone: QIDO's "first current instance of the
-- study" (ORDER BY id LIMIT 1) then reads one entry per partition instead of sorting the study's rows.
CREATE INDEX instances_series ON instances (series_ref, id) WHERE is_current;
CREATE INDEX instances_study ON instances (study_ref, id) WHERE is_current;
CREATE INDEX instances_dataset_digest ON instances (sop_instance_uid, dataset_sha256);

-- copies ------------------------------------------------------------------------------------------------
ALTER SEQUENCE copies_id_seq OWNED BY NONE;
ALTER TABLE copies RENAME TO copies_before_1810;
CREATE TABLE copies (LIKE copies_before_1810 INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY HASH (sha256);
DO $$
BEGIN
  FOR r IN 0..15 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF copies FOR VALUES WITH (MODULUS 16, REMAINDER %s)', 'copies_h' || lpad(r::text, 2, '0'), r);
  END LOOP;
END $$;
INSERT INTO copies SELECT * FROM copies_before_1810;
DROP TABLE copies_before_1810;
ALTER SEQUENCE copies_id_seq OWNED BY copies.id;

ALTER TABLE copies ADD CONSTRAINT copies_pkey PRIMARY KEY (id, sha256);
ALTER TABLE copies ADD CONSTRAINT copies_sha256_target_key UNIQUE (sha256, target);
ALTER TABLE copies ADD CONSTRAINT copies_sha256_fkey FOREIGN KEY (sha256) REFERENCES objects(sha256);
CREATE INDEX copies_needing_repair ON copies (state) WHERE state <> 'ok';
CREATE INDEX copies_verification_due ON copies (last_verified_at NULLS FIRST);
