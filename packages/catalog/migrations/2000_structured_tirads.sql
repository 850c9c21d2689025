-- Structured TI-RADS findings (#20): per nodule the five ACR lexicon categories, size, location and, per
-- field, where it came from (the AI's prefill or the reader) and whether the reader confirmed it, with the
-- points, TR level and recommendation the server computed when the version was written. Kept on the report
-- row itself, so every version and addendum carries its own findings and the signed-row trigger (0300)
-- makes them as immutable as the text.
ALTER TABLE reports ADD COLUMN nodules jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(nodules) = 'array');
-- The scoring system the findings were written in. Only ACR TI-RADS 2017 exists today; C-TIRADS 2020 is
-- meant to be chosen per clinic (clinics.tirads_system) and stored here per version, so a report keeps
-- the system it was signed under when the clinic later changes its setting.
ALTER TABLE reports ADD COLUMN tirads_system text NOT NULL DEFAULT 'acr-2017' CHECK (tirads_system IN ('acr-2017'));
ALTER TABLE clinics ADD COLUMN tirads_system text NOT NULL DEFAULT 'acr-2017' CHECK (tirads_system IN ('acr-2017'));
