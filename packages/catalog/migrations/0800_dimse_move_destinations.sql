-- C-MOVE destinations (#16): the AE titles a clinic's devices may move studies to, with where they listen.
-- Per clinic: a Move Destination is looked up for the calling AE's clinic only, so one clinic cannot send
-- studies to another clinic's workstation (or learn that it exists). An AE title unknown here -> 0xA801.
CREATE TABLE dimse_move_destinations (
  clinic_id  uuid NOT NULL REFERENCES clinics(id),
  ae_title   text NOT NULL CHECK (length(ae_title) BETWEEN 1 AND 16),
  host       text NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
  port       integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (clinic_id, ae_title)
);
