-- #18 storage tiering: the storage class each copy was last found in by the scrubber (STANDARD, or the
-- cold class after a lifecycle transition). Null: not looked at since tiering existed, or an fs copy
-- (directories have no storage classes).
ALTER TABLE copies ADD COLUMN storage_class text;
