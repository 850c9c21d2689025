-- Reading time (#20): when a reader opened a study for reading (their first claim of it) and when they
-- signed its report, so the lead can see whether reading takes the 3 minutes the product is built for.
-- One row per study and reader: a reader who claims, releases and claims again keeps the first open
-- time (the time to sign is what they spent); another reader who takes over gets a row of their own.
-- Only the signer's row gets signed_at. No patient data: ids and times only.
CREATE TABLE reading_times (
  study_ref       bigint NOT NULL REFERENCES studies(id),
  reader_user_id  uuid NOT NULL REFERENCES users(id),
  clinic_id       uuid NOT NULL REFERENCES clinics(id),
  opened_at       timestamptz NOT NULL DEFAULT now(),
  signed_at       timestamptz,
  PRIMARY KEY (study_ref, reader_user_id),
  CHECK (signed_at IS NULL OR signed_at >= opened_at)
);
-- The dashboard reads signed rows by sign time.
CREATE INDEX reading_times_signed ON reading_times (signed_at) WHERE signed_at IS NOT NULL;
