-- rebuild-catalog --adopt (#18): after a point-in-time restore, the objects the restored catalog already
-- holds are decided 'catalogued' without being read; only the others are indexed.
ALTER TABLE rebuild_objects DROP CONSTRAINT rebuild_objects_outcome_check;
ALTER TABLE rebuild_objects ADD CONSTRAINT rebuild_objects_outcome_check
  CHECK (outcome IN ('indexed', 'same_instance', 'catalogued', 'not_dicom', 'unattributed', 'clinic_disagrees', 'no_good_copy', 'conflict'));
