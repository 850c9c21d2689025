-- Keyed audit chain (issue #17): from here on each record's `hash` is a MAC (HMAC-SM3 or HMAC-SHA-256)
-- under a key kept outside the database (AUDIT_MAC_KEY_FILE), so a database superuser who edits a record
-- cannot compute a link that verifies. The key's id and the MAC algorithm are stored with each record
-- (never the key); records written before this migration keep both NULL and are verified as legacy
-- SHA-256 links. The first keyed record links to the last legacy one, so once it exists the legacy part is
-- anchored too: re-hashing any legacy record changes the hash the keyed genesis points at.
ALTER TABLE audit_events ADD COLUMN mac_key_id text CHECK (mac_key_id ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE audit_events ADD COLUMN mac_alg text CHECK (mac_alg IN ('sm3', 'sha256'));
ALTER TABLE audit_events ADD CONSTRAINT audit_events_mac_both CHECK ((mac_key_id IS NULL) = (mac_alg IS NULL));
