-- C-TIRADS 2020 (#20): the Chinese guideline, chosen per clinic. A version keeps the system it was begun
-- in (reports.tirads_system); the C-TIRADS count and category are stored with each nodule's scores.
ALTER TABLE reports DROP CONSTRAINT reports_tirads_system_check;
ALTER TABLE reports ADD CONSTRAINT reports_tirads_system_check CHECK (tirads_system IN ('acr-2017', 'c-tirads-2020'));
ALTER TABLE clinics DROP CONSTRAINT clinics_tirads_system_check;
ALTER TABLE clinics ADD CONSTRAINT clinics_tirads_system_check CHECK (tirads_system IN ('acr-2017', 'c-tirads-2020'));
