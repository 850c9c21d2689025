-- A clinic's studies newest first (the clinic's study list, report.repository.ts clinicStudies): an ordered range
-- per clinic, so a page reads `limit` rows however many studies the clinic keeps. Without it every page sorted
-- all of the clinic's studies (182 ms for a clinic with 50,000 studies, growing with the archive).
CREATE INDEX studies_clinic_received ON studies (clinic_id, received_at DESC, id DESC);
