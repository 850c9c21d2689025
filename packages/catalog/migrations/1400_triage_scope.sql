-- Whole-frame triage (#13): a thyroid study may be in scope yet show no confident nodule
-- ('no_nodule_found', routine), which is not the same as out of scope ('not_triaged').
ALTER TABLE ai_results DROP CONSTRAINT ai_results_status_check;
ALTER TABLE ai_results ADD CONSTRAINT ai_results_status_check CHECK (status IN ('triaged', 'no_nodule_found', 'not_triaged', 'failed'));
ALTER TABLE studies DROP CONSTRAINT studies_triage_status_check;
ALTER TABLE studies ADD CONSTRAINT studies_triage_status_check
  CHECK (triage_status IN ('pending', 'triaged', 'no_nodule_found', 'not_triaged', 'failed'));
-- How the scope gate decided: attributes or image, the thyroid likelihood and the threshold. No patient data.
ALTER TABLE ai_results ADD COLUMN gate jsonb;

-- A clinic's own protocol names for the scope gate: a case-insensitive substring of BodyPartExamined,
-- the anatomic region, the study/series/protocol/procedure descriptions or procedure codes -> scope.
CREATE TABLE triage_scope_rules (
  clinic_id  uuid NOT NULL REFERENCES clinics(id),
  pattern    text NOT NULL CHECK (length(pattern) BETWEEN 2 AND 64),
  scope      text NOT NULL CHECK (scope IN ('thyroid', 'other')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (clinic_id, pattern)
);

-- Reader-guided scoring (#13): a reader pointed at a nodule (a box on a frame) and the model scored it.
-- Kept as its own AI result, attributed to the reader, next to the automatic one.
CREATE TABLE reader_ai_results (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  study_ref       bigint NOT NULL REFERENCES studies(id),
  sop_instance_uid text NOT NULL,
  frame_number    integer NOT NULL CHECK (frame_number >= 1),
  requested_by    uuid NOT NULL,
  model_id        text NOT NULL,
  model_version   text NOT NULL,
  model_sha256    text NOT NULL CHECK (model_sha256 ~ '^[0-9a-f]{64}$'),
  box             jsonb NOT NULL,
  finding         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reader_ai_results_study ON reader_ai_results (study_ref, created_at);
