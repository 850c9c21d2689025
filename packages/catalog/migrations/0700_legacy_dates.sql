-- Legacy DA / TM forms (ACR-NEMA `1994.01.30`, `07:57:30`) are normalised at ingest since #15 so that
-- QIDO range matching compares like with like. This brings rows stored before that into the same form:
-- the catalog's date/time columns and the top-level DA/TM attributes of the stored DICOM JSON. The
-- Part 10 objects are untouched (they are kept as received, under retention).
UPDATE patients SET birth_date = replace(birth_date, '.', '') WHERE birth_date ~ '^\d{4}\.\d{2}\.\d{2}$';
UPDATE studies SET patient_birth_date = replace(patient_birth_date, '.', '') WHERE patient_birth_date ~ '^\d{4}\.\d{2}\.\d{2}$';
UPDATE studies SET study_date = replace(study_date, '.', '') WHERE study_date ~ '^\d{4}\.\d{2}\.\d{2}$';
UPDATE studies SET study_time = replace(study_time, ':', '') WHERE study_time ~ '^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$';
UPDATE series SET series_date = replace(series_date, '.', '') WHERE series_date ~ '^\d{4}\.\d{2}\.\d{2}$';

UPDATE instances i
   SET dicom_json = (
     SELECT jsonb_object_agg(e.key, CASE
       WHEN e.value->>'vr' IN ('DA', 'TM') AND jsonb_typeof(e.value->'Value') = 'array' THEN
         jsonb_set(e.value, '{Value}', (
           SELECT jsonb_agg(CASE
             WHEN e.value->>'vr' = 'DA' AND v #>> '{}' ~ '^\d{4}\.\d{2}\.\d{2}$' THEN to_jsonb(replace(v #>> '{}', '.', ''))
             WHEN e.value->>'vr' = 'TM' AND v #>> '{}' ~ '^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$' THEN to_jsonb(replace(v #>> '{}', ':', ''))
             ELSE v END ORDER BY ord)
           FROM jsonb_array_elements(e.value->'Value') WITH ORDINALITY AS a(v, ord)))
       ELSE e.value END)
     FROM jsonb_each(i.dicom_json) AS e)
 WHERE i.dicom_json::text ~ '"(\d{4}\.\d{2}\.\d{2}|\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)"';
