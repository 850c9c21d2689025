-- Storage Commitment on a new association (#16, PS3.4 J.3.3): a clinic's registered AE (the rows of
-- dimse_move_destinations are the clinic's known remote AEs with their address) may ask for every
-- N-EVENT-REPORT on an association the archive opens to it, instead of on the association that carried
-- the N-ACTION. 'same_association' (default) still falls back to that address when the requesting
-- association is gone before the report is acknowledged.
ALTER TABLE dimse_move_destinations
  ADD COLUMN commitment_reports text NOT NULL DEFAULT 'same_association'
    CHECK (commitment_reports IN ('same_association', 'new_association'));
