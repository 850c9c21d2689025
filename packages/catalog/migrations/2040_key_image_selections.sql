-- Key images (#20): each time the reader saves the study's key images, a revision is recorded here and
-- written as a DICOM Key Object Selection document (TID 2010) through the one write path. The KOS is the
-- record; this row says which KOS is the study's current selection, and keeps the history of revisions.
-- An empty selection (every mark removed) has no KOS (TID 2010 needs at least one image reference).
CREATE TABLE key_image_selections (
  id                    uuid PRIMARY KEY,
  study_ref             bigint NOT NULL REFERENCES studies(id),
  revision              integer NOT NULL CHECK (revision >= 1),
  -- The document title (CID 7010), e.g. 113000 "Of Interest", 113002 "For Referring Provider".
  title_code            text NOT NULL,
  -- [{seriesInstanceUid, sopInstanceUid, sopClassUid, frameNumber|null}] in the reader's order.
  images                jsonb NOT NULL,
  created_by            uuid NOT NULL REFERENCES users(id),
  created_at            timestamptz NOT NULL DEFAULT now(),
  kos_sop_instance_uid  text UNIQUE,
  kos_sha256            text,
  -- Set once the write path accepted the KOS; a retried save finishes a missing store with the same bytes.
  kos_stored_at         timestamptz,
  UNIQUE (study_ref, revision),
  CHECK ((kos_sop_instance_uid IS NULL) = (jsonb_array_length(images) = 0))
);
