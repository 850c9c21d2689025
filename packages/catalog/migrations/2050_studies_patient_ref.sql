-- A patient's studies by their patient row: C-FIND's PATIENT level counts them and lists a patient only
-- while one of them is live, and a disposal forgets the patient row when none is (docs/keep-and-prove.md).
-- Without it each of those is a scan of every study.
CREATE INDEX studies_patient_ref ON studies (patient_ref);
