-- Reading (issue #6): queue state on studies, the triage service's AI results (#5 writes them) and reports.
--
-- Who writes what:
--   triage (#5)  ai_results rows; studies.priority, triage_status, ai_result_ref, and reading_status
--                'new' -> 'triaged' (never over 'in_reading' / 'reported');
--   viewer (#6)  claims (claimed_by, claim_expires_at, reading_status 'in_reading'), reports, 'reported'.

-- The queue order: urgent (0) before priority (1) before routine (2), then oldest first. priority_rank is
-- generated from priority so the two can never disagree; triage sets only `priority`.
ALTER TABLE studies
  ADD COLUMN priority text NOT NULL DEFAULT 'routine' CHECK (priority IN ('urgent', 'priority', 'routine')),
  ADD COLUMN priority_rank smallint GENERATED ALWAYS AS (
    CASE priority WHEN 'urgent' THEN 0 WHEN 'priority' THEN 1 ELSE 2 END
  ) STORED,
  ADD COLUMN triage_status text NOT NULL DEFAULT 'pending' CHECK (triage_status IN ('pending', 'triaged', 'not_triaged', 'failed')),
  ADD COLUMN reading_status text NOT NULL DEFAULT 'new' CHECK (reading_status IN ('new', 'triaged', 'in_reading', 'reported')),
  -- A claim is held while claim_expires_at is in the future; an expired one is free (no sweeper needed:
  -- the claim UPDATE and the queue listing both compare with now()).
  ADD COLUMN claimed_by uuid REFERENCES users(id),
  ADD COLUMN claim_expires_at timestamptz,
  ADD CONSTRAINT studies_claim_complete CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL));

-- Serves the queue: for each (granted clinic, status) pair one ordered range scan, merged by the query
-- (see services/viewer/src/reading/queue.repository.ts). id last so keyset paging has a total order.
CREATE INDEX studies_reading_queue ON studies (clinic_id, reading_status, priority_rank, received_at, id);

-- One row per (study, model version, number of instances it saw): a late instance yields a new result,
-- a re-run of the same job changes nothing (#5 upserts on the unique key).
CREATE TABLE ai_results (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  study_ref      bigint NOT NULL REFERENCES studies(id),
  model_id       text NOT NULL,
  model_version  text NOT NULL,
  model_sha256   text NOT NULL CHECK (model_sha256 ~ '^[0-9a-f]{64}$'),
  instance_count integer NOT NULL CHECK (instance_count >= 0),
  status         text NOT NULL CHECK (status IN ('triaged', 'not_triaged', 'failed')),
  -- Why not triaged / failed, readable by a person; never patient data.
  reason         text,
  score          real CHECK (score IS NULL OR (score >= 0 AND score <= 1)),
  category       text,
  priority       text CHECK (priority IS NULL OR priority IN ('urgent', 'priority', 'routine')),
  thresholds     jsonb,
  -- Per image: SOP Instance UID, frame, score, descriptors, nodule outline/box.
  images         jsonb NOT NULL DEFAULT '[]',
  timings        jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (study_ref, model_id, model_version, instance_count),
  -- Target of reports' composite reference, so a report can only cite a result of its own study.
  UNIQUE (id, study_ref)
);
CREATE INDEX ai_results_study ON ai_results (study_ref, created_at DESC);

-- The result that set the study's current priority (triage sets it with `priority`), so the queue shows
-- the score and category behind the order without choosing among models itself.
ALTER TABLE studies ADD COLUMN ai_result_ref uuid REFERENCES ai_results(id);

-- Reports: version 1 is the report, later versions are addenda. A signed row never changes (trigger
-- below); a correction is a new addendum row, so every signed version is kept.
CREATE TABLE reports (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  study_ref              bigint NOT NULL REFERENCES studies(id),
  version                integer NOT NULL CHECK (version >= 1),
  kind                   text NOT NULL CHECK (kind IN ('report', 'addendum')),
  author_user_id         uuid NOT NULL REFERENCES users(id),
  tirads_category        text CHECK (tirads_category IN ('TR1', 'TR2', 'TR3', 'TR4', 'TR5')),
  findings               text NOT NULL DEFAULT '',
  impression             text NOT NULL DEFAULT '',
  -- The AI result the reader had on screen, and their explicit choice about its suggestion: null means
  -- "not stated", never "accepted". Nothing here is ever copied from ai_results by the system.
  ai_result_ref          uuid,
  ai_suggestion_accepted boolean,
  status                 text NOT NULL CHECK (status IN ('draft', 'signed')),
  signed_at              timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (study_ref, version),
  FOREIGN KEY (ai_result_ref, study_ref) REFERENCES ai_results (id, study_ref),
  CHECK ((kind = 'report') = (version = 1)),
  CHECK ((status = 'signed') = (signed_at IS NOT NULL)),
  CHECK (ai_suggestion_accepted IS NULL OR ai_result_ref IS NOT NULL)
);
-- At most one open draft per study.
CREATE UNIQUE INDEX reports_one_draft ON reports (study_ref) WHERE status = 'draft';

-- Immutability of signed reports, in the database: an UPDATE or DELETE of a signed row is refused for
-- everyone (the application's code path never tries; this catches every other path). A draft may be
-- edited, signed (draft -> signed) or deleted.
CREATE FUNCTION reports_refuse_signed_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'reports cannot be truncated' USING ERRCODE = 'YY601';
  END IF;
  IF OLD.status = 'signed' THEN
    RAISE EXCEPTION 'report % version % is signed and cannot be changed; add an addendum', OLD.id, OLD.version
      USING ERRCODE = 'YY601';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER reports_signed_immutable BEFORE UPDATE OR DELETE ON reports FOR EACH ROW EXECUTE FUNCTION reports_refuse_signed_change();
CREATE TRIGGER reports_no_truncate BEFORE TRUNCATE ON reports FOR EACH STATEMENT EXECUTE FUNCTION reports_refuse_signed_change();
