-- Source-network binding of DIMSE associations (issue #17, 等保 8.1.4.2 access control by address): a
-- clinic may list the networks its devices call from (e.g. the clinic gateway's address, the clinic's VPN
-- range). An association for that clinic from any other address is refused before its credentials are
-- even looked at. NULL: any address (the credentials policy alone decides), as before.
ALTER TABLE clinics ADD COLUMN dimse_source_networks cidr[]
  CHECK (dimse_source_networks IS NULL OR (cardinality(dimse_source_networks) BETWEEN 1 AND 64 AND array_position(dimse_source_networks, NULL) IS NULL));
