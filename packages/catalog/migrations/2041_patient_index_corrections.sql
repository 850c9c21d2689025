-- Demographics corrections (#20): an admin states who a study's patient really is (a wrong patient chosen
-- at the scanner, a mistyped birth date). The stored DICOM objects are records and stay as received; the
-- patient index files the study by its latest correction instead of its header, re-links it at once (and
-- its priors follow), and keeps every correction. Values here are patient data: never copied into audit.
CREATE TABLE patient_index_corrections (
  id                   bigserial PRIMARY KEY,
  study_ref            bigint NOT NULL REFERENCES studies(id),
  patient_id           text CHECK (patient_id IS NULL OR length(patient_id) BETWEEN 1 AND 64),
  issuer               text CHECK (issuer IS NULL OR length(issuer) BETWEEN 1 AND 64),
  patient_name         text CHECK (patient_name IS NULL OR length(patient_name) <= 324),
  birth_date           text CHECK (birth_date IS NULL OR birth_date ~ '^[0-9]{8}$'),
  sex                  text CHECK (sex IS NULL OR sex IN ('M', 'F', 'O')),
  reason               text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  corrected_by         text NOT NULL,
  corrected_at         timestamptz NOT NULL DEFAULT now(),
  -- Where the study was filed before and after (person roots at the time).
  previous_person_ref  bigint REFERENCES patient_index_persons(id),
  person_ref           bigint REFERENCES patient_index_persons(id)
);
CREATE INDEX patient_index_corrections_study ON patient_index_corrections (study_ref, id DESC);
