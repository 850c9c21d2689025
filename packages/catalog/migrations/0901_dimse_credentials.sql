-- DIMSE credentials (issue #17): an AE title alone no longer identifies a sender.
--
-- clinics.dimse_auth is the clinic's policy for its DICOM associations:
--   'credentials': the association must present a credential of this clinic: a DICOM TLS client certificate
--                  registered below (PS3.15 B.1), or a User Identity (PS3.7 D.3.3.7, username + passcode)
--                  whose passcode is one of the clinic's API keys;
--   'ae_only':     the calling AE title is enough (e.g. a clinic gateway on loopback). Credentials that are
--                  presented are still checked: a wrong one is refused, never ignored.
-- Clinics that exist when this migration runs keep working as before ('ae_only', an operator tightens them);
-- every clinic created afterwards requires credentials unless someone decides otherwise.
ALTER TABLE clinics ADD COLUMN dimse_auth text NOT NULL DEFAULT 'ae_only' CHECK (dimse_auth IN ('credentials', 'ae_only'));
ALTER TABLE clinics ALTER COLUMN dimse_auth SET DEFAULT 'credentials';

-- One row per clinic device certificate, pinned by the SHA-256 fingerprint of its DER encoding (as Node's
-- TLS reports it: 32 upper-case hex pairs joined by ':'). The certificate must also chain to DIMSE_TLS_CA_FILE.
-- ae_title, when set, binds the certificate to that calling AE title.
CREATE TABLE clinic_dimse_certificates (
  fingerprint_sha256 text PRIMARY KEY CHECK (fingerprint_sha256 ~ '^[0-9A-F]{2}(:[0-9A-F]{2}){31}$'),
  clinic_id          uuid NOT NULL REFERENCES clinics(id),
  ae_title           text CHECK (length(ae_title) BETWEEN 1 AND 16),
  label              text NOT NULL CHECK (length(label) BETWEEN 1 AND 128),
  created_at         timestamptz NOT NULL DEFAULT now(),
  revoked_at         timestamptz
);
CREATE INDEX clinic_dimse_certificates_clinic ON clinic_dimse_certificates (clinic_id);
