-- Triage (#5): the DICOM Structured Report that carries a result back into the archive. Its SOP Instance
-- UID is derived from (study, model id, model version, instance count), so a re-run never duplicates it;
-- null until the SR is stored (a result that is not 'triaged' has none).
ALTER TABLE ai_results ADD COLUMN sr_sop_instance_uid text;
