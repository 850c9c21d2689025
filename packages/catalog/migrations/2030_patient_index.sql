-- Patient index (#20): which studies, across visits and clinics, belong to the same person, so that priors
-- follow a person and not a clinic's local number. A study is linked to a person on an identifier
-- (PatientID under its Issuer of Patient ID, a PatientID without an issuer only within its clinic, or an
-- identifier of a configured issuer such as a national ID in Other Patient IDs) when name, birth date and
-- sex do not contradict it. Anything ambiguous gets a person of its own and a review for an admin: the
-- index never merges two people on a guess. Merges and unmerges are explicit, reversible and audited.

-- A person of the index. The demographics are those of the study that created it; merged persons keep
-- theirs, so a later study that matches any variant an admin accepted links without a new review.
CREATE TABLE patient_index_persons (
  id            bigserial PRIMARY KEY,
  patient_name  text,
  birth_date    text,
  sex           text,
  -- Set when an admin merged this person into another; always points at a root (merges are flattened).
  merged_into   bigint REFERENCES patient_index_persons(id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (merged_into IS NULL OR merged_into <> id)
);
CREATE INDEX patient_index_persons_merged ON patient_index_persons (merged_into) WHERE merged_into IS NOT NULL;
-- The duplicate check (same name, birth date and sex under another identifier) reads by birth date.
CREATE INDEX patient_index_persons_birth ON patient_index_persons (birth_date, sex) WHERE birth_date IS NOT NULL;

-- Identifiers a person is known by. namespace: 'issuer:<Issuer of Patient ID>' (shared across clinics) or
-- 'clinic:<clinic uuid>' (a PatientID sent without an issuer is only the clinic's own number). Several
-- persons may hold one identifier while a review between them is open or was decided "not the same".
CREATE TABLE patient_index_identifiers (
  namespace  text NOT NULL CHECK (namespace ~ '^(issuer|clinic):.+$'),
  value      text NOT NULL CHECK (length(value) BETWEEN 1 AND 64),
  person_ref bigint NOT NULL REFERENCES patient_index_persons(id),
  PRIMARY KEY (namespace, value, person_ref)
);
CREATE INDEX patient_index_identifiers_person ON patient_index_identifiers (person_ref);

-- Which person each study was filed under (its person's root is the person it belongs to now).
-- linked_by: identifier (matched one person), new (nothing matched), review (ambiguous: a person of its
-- own until an admin decides).
CREATE TABLE patient_index_studies (
  study_ref  bigint PRIMARY KEY REFERENCES studies(id),
  person_ref bigint NOT NULL REFERENCES patient_index_persons(id),
  linked_by  text NOT NULL CHECK (linked_by IN ('identifier', 'new', 'review')),
  indexed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patient_index_studies_person ON patient_index_studies (person_ref);

-- The admin queue: two persons that may be the same. reason: identifier-demographics-differ (one
-- identifier, contradicting name/birth date/sex), identifiers-match-several (the study's identifiers
-- point at different persons), demographics-match (same name, birth date and sex, different identifier).
CREATE TABLE patient_index_reviews (
  id            bigserial PRIMARY KEY,
  study_ref     bigint NOT NULL REFERENCES studies(id),
  person_ref    bigint NOT NULL REFERENCES patient_index_persons(id),
  candidate_ref bigint NOT NULL REFERENCES patient_index_persons(id),
  reason        text NOT NULL CHECK (reason IN ('identifier-demographics-differ', 'identifiers-match-several', 'demographics-match')),
  -- Which of name, birthDate, sex, identifier differ: field names only, never the values.
  differs       text[] NOT NULL DEFAULT '{}',
  status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'kept-apart')),
  decided_by    text,
  decided_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (person_ref <> candidate_ref),
  CHECK ((status = 'open') = (decided_at IS NULL)),
  UNIQUE (person_ref, candidate_ref)
);
CREATE INDEX patient_index_reviews_open ON patient_index_reviews (id) WHERE status = 'open';

-- Every merge, so that it can be undone exactly: the persons it moved under the survivor.
CREATE TABLE patient_index_merges (
  id            bigserial PRIMARY KEY,
  survivor_ref  bigint NOT NULL REFERENCES patient_index_persons(id),
  merged_ref    bigint NOT NULL REFERENCES patient_index_persons(id),
  moved_persons bigint[] NOT NULL,
  review_ref    bigint REFERENCES patient_index_reviews(id),
  merged_by     text NOT NULL,
  merged_at     timestamptz NOT NULL DEFAULT now(),
  unmerged_by   text,
  unmerged_at   timestamptz,
  CHECK (survivor_ref <> merged_ref),
  CHECK ((unmerged_by IS NULL) = (unmerged_at IS NULL))
);

-- Issuers whose identifiers in Other Patient IDs (0010,1002) identify a person everywhere (a national ID,
-- a chain's member number). Set by admins; a PatientID under such an issuer counts the same way.
CREATE TABLE patient_identifier_issuers (
  issuer     text PRIMARY KEY CHECK (length(issuer) BETWEEN 1 AND 64),
  label      text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
  added_by   text NOT NULL,
  added_at   timestamptz NOT NULL DEFAULT now()
);

-- PS3.15 A.5.3.11 Patient Record (DCM 110110): merges and unmerges of the index are recorded as such.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_check CHECK ((event_type, event_code) IN (
  ('Begin Transferring DICOM Instances', '110102'),
  ('DICOM Instances Accessed', '110103'),
  ('DICOM Instances Transferred', '110104'),
  ('DICOM Study Deleted', '110105'),
  ('Export', '110106'),
  ('Patient Record', '110110'),
  ('Query', '110112'),
  ('Security Alert', '110113'),
  ('User Authentication', '110114')
));
