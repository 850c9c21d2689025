-- DICOM TLS (PS3.15 B.1) to C-MOVE destinations (#16): the archive opens each sub-operation association
-- over TLS, verifying the destination's certificate, when the row says so. Plain TCP stays the default so
-- existing rows keep working. `tls_ca_pem`: the CA (PEM) the certificate must chain to, instead of the
-- system CAs (a clinic's own PKI); `tls_server_name`: the name the certificate must carry (and the SNI),
-- instead of `host` (a workstation reached by IP address whose certificate names its DNS name).
ALTER TABLE dimse_move_destinations
  ADD COLUMN tls             boolean NOT NULL DEFAULT false,
  ADD COLUMN tls_ca_pem      text CHECK (length(tls_ca_pem) BETWEEN 1 AND 65536 AND tls_ca_pem LIKE '%-----BEGIN CERTIFICATE-----%'),
  ADD COLUMN tls_server_name text CHECK (length(tls_server_name) BETWEEN 1 AND 253),
  -- TLS settings on a plain destination would be silently ignored: refuse them instead.
  ADD CONSTRAINT dimse_move_destinations_tls_settings CHECK (tls OR (tls_ca_pem IS NULL AND tls_server_name IS NULL));
