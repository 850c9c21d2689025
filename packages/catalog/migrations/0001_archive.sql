-- The archive catalog: clinics, patients, studies, series, instances, stored objects and their copies.
-- QIDO attributes are columns (indexed for matching); the full DICOM JSON model of each instance is kept
-- in instances.dicom_json so metadata requests never read an object from storage.

CREATE TABLE clinics (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name            text NOT NULL,
  -- A clinic's policy may only lengthen retention beyond the global minimum (enforced again in code).
  retention_years integer NOT NULL DEFAULT 15 CHECK (retention_years >= 1),
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- DIMSE: the calling AE title identifies the sending clinic (PS3.8 association negotiation).
CREATE TABLE clinic_ae_titles (
  ae_title   text PRIMARY KEY CHECK (length(ae_title) BETWEEN 1 AND 16),
  clinic_id  uuid NOT NULL REFERENCES clinics(id),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE patients (
  id          bigserial PRIMARY KEY,
  clinic_id   uuid NOT NULL REFERENCES clinics(id),
  -- PatientID as sent; when absent, the key is per study so unrelated anonymous patients never merge.
  patient_key text NOT NULL,
  patient_id  text NOT NULL DEFAULT '',
  patient_name text,
  birth_date  text,
  sex         text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, patient_key)
);

CREATE TABLE studies (
  id                       bigserial PRIMARY KEY,
  clinic_id                uuid NOT NULL REFERENCES clinics(id),
  patient_ref              bigint NOT NULL REFERENCES patients(id),
  study_instance_uid       text NOT NULL UNIQUE,
  -- Study-level QIDO attributes (PS3.18 10.6.1.2.1), copied from the instances.
  patient_name             text,
  patient_id               text,
  patient_birth_date       text,
  patient_sex              text,
  study_date               text,
  study_time               text,
  accession_number         text,
  referring_physician_name text,
  study_id                 text,
  study_description        text,
  modalities               text[] NOT NULL DEFAULT '{}',
  number_of_series         integer NOT NULL DEFAULT 0,
  number_of_instances      integer NOT NULL DEFAULT 0,
  received_at              timestamptz NOT NULL DEFAULT now(),
  last_instance_at         timestamptz NOT NULL DEFAULT now(),
  retain_until             timestamptz NOT NULL,
  legal_hold               boolean NOT NULL DEFAULT false
);
CREATE INDEX studies_clinic_date ON studies (clinic_id, study_date);
CREATE INDEX studies_patient_id ON studies (clinic_id, patient_id);
CREATE INDEX studies_patient_name ON studies (clinic_id, lower(patient_name) text_pattern_ops);
CREATE INDEX studies_accession ON studies (clinic_id, accession_number);
CREATE INDEX studies_modalities ON studies USING gin (modalities);
CREATE INDEX studies_last_instance ON studies (last_instance_at);

CREATE TABLE series (
  id                  bigserial PRIMARY KEY,
  study_ref           bigint NOT NULL REFERENCES studies(id),
  series_instance_uid text NOT NULL UNIQUE,
  modality            text,
  series_number       integer,
  series_description  text,
  series_date         text,
  body_part_examined  text,
  number_of_instances integer NOT NULL DEFAULT 0,
  thumbnail_key       text,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX series_study ON series (study_ref);

-- One stored object per distinct content (SHA-256). Several instance versions never share bytes, but a
-- re-sent identical instance maps to the same object.
CREATE TABLE objects (
  sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  object_key   text NOT NULL UNIQUE,
  size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
  retain_until timestamptz NOT NULL,
  legal_hold   boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Each copy of an object on a replica target. state: ok = written and verified at write time;
-- missing/corrupt = found bad by verification or failed at write, waiting for repair.
CREATE TABLE copies (
  id               bigserial PRIMARY KEY,
  sha256           text NOT NULL REFERENCES objects(sha256),
  target           text NOT NULL,
  object_key       text NOT NULL,
  version_id       text,
  size_bytes       bigint NOT NULL,
  retain_until     timestamptz NOT NULL,
  lock_mode        text NOT NULL CHECK (lock_mode IN ('COMPLIANCE', 'GOVERNANCE', 'FS_READONLY', 'NONE')),
  state            text NOT NULL CHECK (state IN ('ok', 'missing', 'corrupt')),
  failure_reason   text,
  last_verified_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (sha256, target)
);
CREATE INDEX copies_needing_repair ON copies (state) WHERE state <> 'ok';
CREATE INDEX copies_verification_due ON copies (last_verified_at NULLS FIRST);

CREATE TABLE instances (
  id                  bigserial PRIMARY KEY,
  series_ref          bigint NOT NULL REFERENCES series(id),
  study_ref           bigint NOT NULL REFERENCES studies(id),
  clinic_id           uuid NOT NULL REFERENCES clinics(id),
  sop_instance_uid    text NOT NULL,
  -- Different bytes under a known SOP Instance UID become a new version; every version stays retained.
  version             integer NOT NULL DEFAULT 1,
  is_current          boolean NOT NULL DEFAULT true,
  sop_class_uid       text NOT NULL,
  transfer_syntax_uid text NOT NULL,
  instance_number     integer,
  rows                integer,
  columns             integer,
  number_of_frames    integer,
  photometric         text,
  sha256              text NOT NULL REFERENCES objects(sha256),
  size_bytes          bigint NOT NULL,
  dicom_json          jsonb NOT NULL,
  -- Byte ranges of each frame in the object, so WADO-RS serves frame N without parsing the file.
  frames              jsonb,
  received_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (sop_instance_uid, version),
  UNIQUE (sop_instance_uid, sha256)
);
CREATE UNIQUE INDEX instances_one_current ON instances (sop_instance_uid) WHERE is_current;
CREATE INDEX instances_series ON instances (series_ref) WHERE is_current;
CREATE INDEX instances_study ON instances (study_ref) WHERE is_current;

-- Transactional outbox: work that must survive a Redis loss is written here in the same transaction as
-- the state it refers to; a relay publishes it to bull and marks it published (#8 reconciler).
CREATE TABLE outbox (
  id           bigserial PRIMARY KEY,
  queue        text NOT NULL,
  job_name     text NOT NULL,
  job_id       text NOT NULL,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
