-- Reports are records (#20): every signed version is rendered as a DICOM SR (TID 2000) and stored through
-- the one write path, and signed by the reader's key.
--
-- reader_signing_keys: one key pair per reader and algorithm, generated at their first signature. The
-- private key is held by the server, encrypted (AES-256-GCM) with the server's report-signing secret; the
-- public key stays here for every verifier. A key is never deleted or changed: old signatures need it.
CREATE TABLE reader_signing_keys (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id          uuid NOT NULL REFERENCES users(id),
  algorithm        text NOT NULL CHECK (algorithm IN ('ecdsa-p256-sha256', 'sm2-sm3')),
  public_key_pem   text NOT NULL,
  private_key_enc  bytea NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, algorithm)
);

-- report_records: per signed version, what was signed (the canonical payload, which includes the SR's
-- SHA-256), the signature, and the SR written for it. Written in the signing transaction, before the SR is
-- stored; sr_stored_at says the one write path accepted it (a retried sign finishes a missing store).
CREATE TABLE report_records (
  report_id             uuid PRIMARY KEY REFERENCES reports(id),
  key_id                uuid NOT NULL REFERENCES reader_signing_keys(id),
  algorithm             text NOT NULL,
  payload               text NOT NULL,
  signature             bytea NOT NULL,
  sr_sop_instance_uid   text NOT NULL UNIQUE,
  sr_sha256             text NOT NULL,
  sr_stored_at          timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now()
);

-- The signature is as immutable as the signed report: only the one-time "stored" mark may change.
CREATE FUNCTION report_records_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'report records cannot be deleted' USING ERRCODE = 'YY601';
  END IF;
  IF NEW.report_id <> OLD.report_id OR NEW.key_id <> OLD.key_id OR NEW.algorithm <> OLD.algorithm OR NEW.payload <> OLD.payload
     OR NEW.signature <> OLD.signature OR NEW.sr_sop_instance_uid <> OLD.sr_sop_instance_uid OR NEW.sr_sha256 <> OLD.sr_sha256
     OR (OLD.sr_stored_at IS NOT NULL AND NEW.sr_stored_at IS DISTINCT FROM OLD.sr_stored_at) THEN
    RAISE EXCEPTION 'a report record is immutable' USING ERRCODE = 'YY601';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER report_records_immutable BEFORE UPDATE OR DELETE ON report_records
  FOR EACH ROW EXECUTE FUNCTION report_records_refuse_change();
