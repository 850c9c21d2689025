-- Tamper-evident audit log (issue #7; event types of DICOM PS3.15 A.5.3).
--
-- Append-only in three layers:
--   1. the application's role (yunying_app) is granted only SELECT and INSERT on audit_events;
--   2. triggers refuse UPDATE, DELETE and TRUNCATE for everyone, the table owner included;
--   3. each record carries the SHA-256 of its own content and of the previous record (computed by
--      packages/audit), so a superuser who bypasses the triggers still leaves a broken chain that
--      verifyAuditChain() names.
-- seq is gapless: the appender assigns head+1 under a lock held to the end of its transaction, and the
-- link trigger refuses any record that does not extend audit_chain_head exactly. A rolled-back append
-- leaves no gap, so a gap always means a removed record.

CREATE TABLE audit_events (
  seq                bigint PRIMARY KEY CHECK (seq > 0),
  id                 uuid NOT NULL UNIQUE,
  occurred_at        timestamptz NOT NULL,
  event_type         text NOT NULL,
  event_code         text NOT NULL,
  action             text NOT NULL CHECK (action IN ('C', 'R', 'U', 'D', 'E')),
  outcome            smallint NOT NULL CHECK (outcome IN (0, 4, 8, 12)),
  actor_user_id      uuid,
  actor_username     text NOT NULL,
  actor_role         text,
  actor_clinic       uuid,
  source_ip          text,
  request_id         text,
  study_instance_uid text,
  clinic_id          uuid,
  -- Only UIDs, counts and reasons: never patient names or ids (enforced in packages/audit).
  details            jsonb NOT NULL DEFAULT '{}',
  prev_hash          text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash               text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
  CHECK ((event_type, event_code) IN (
    ('Begin Transferring DICOM Instances', '110102'),
    ('DICOM Instances Accessed', '110103'),
    ('DICOM Instances Transferred', '110104'),
    ('DICOM Study Deleted', '110105'),
    ('Export', '110106'),
    ('Query', '110112'),
    ('Security Alert', '110113'),
    ('User Authentication', '110114')
  ))
);
CREATE INDEX audit_events_study ON audit_events (study_instance_uid, seq) WHERE study_instance_uid IS NOT NULL;
CREATE INDEX audit_events_user ON audit_events (actor_username, seq);
CREATE INDEX audit_events_user_id ON audit_events (actor_user_id, seq) WHERE actor_user_id IS NOT NULL;
CREATE INDEX audit_events_time ON audit_events (occurred_at);
CREATE INDEX audit_events_clinic ON audit_events (clinic_id, seq) WHERE clinic_id IS NOT NULL;

-- The last record of the chain. Lets verification notice a truncated tail, and lets the link trigger
-- refuse a record that would fork the chain.
CREATE TABLE audit_chain_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_seq  bigint NOT NULL,
  last_hash text NOT NULL
);
INSERT INTO audit_chain_head (singleton, last_seq, last_hash) VALUES (true, 0, repeat('0', 64));

-- SECURITY DEFINER so the application role needs no UPDATE right on the head; the schema comes from the
-- trigger, never from a caller's search_path.
CREATE FUNCTION audit_events_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  head_seq  bigint;
  head_hash text;
BEGIN
  EXECUTE format('SELECT last_seq, last_hash FROM %I.audit_chain_head FOR UPDATE', TG_TABLE_SCHEMA) INTO head_seq, head_hash;
  IF NEW.seq <> head_seq + 1 OR NEW.prev_hash <> head_hash THEN
    RAISE EXCEPTION 'audit record % does not extend the chain head %', NEW.seq, head_seq USING ERRCODE = '40001';
  END IF;
  EXECUTE format('UPDATE %I.audit_chain_head SET last_seq = $1, last_hash = $2', TG_TABLE_SCHEMA) USING NEW.seq, NEW.hash;
  RETURN NEW;
END $$;

CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- The head may only move as part of an append (the link trigger runs one level deeper).
  IF TG_TABLE_NAME = 'audit_chain_head' AND TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % refused on %', TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';
END $$;

CREATE TRIGGER audit_events_link BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_link();
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_chain_head_no_change BEFORE UPDATE OR DELETE ON audit_chain_head FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The application's database role. Roles are cluster-wide: create it once, tolerate a concurrent
-- creator, and skip creation when it exists (so a migration runner without CREATEROLE works once a DBA
-- has created it). It cannot log in; production logs in as a role that is a member of it
-- (see packages/audit/README.md).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'yunying_app') THEN
    CREATE ROLE yunying_app NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;

DO $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO yunying_app', current_schema());
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO yunying_app', current_schema());
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO yunying_app', current_schema());
  -- Tables of later migrations get ordinary DML too; audit tables are narrowed below.
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO yunying_app', current_schema());
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO yunying_app', current_schema());
END $$;

REVOKE ALL ON audit_events, audit_chain_head, schema_migrations FROM yunying_app;
GRANT SELECT, INSERT ON audit_events TO yunying_app;
GRANT SELECT ON audit_chain_head, schema_migrations TO yunying_app;
