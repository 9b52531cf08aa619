-- An empty bulwarkd database of schema 5 (the device table before
-- bindings), dumped with sqlite3 .dump from a database that bulwarkd
-- d8ef7b6 created. test_bulwarkd_identity.py loads it, adds rows as
-- that version wrote them, and starts today's bulwarkd on it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES(1);
INSERT INTO schema_version VALUES(2);
INSERT INTO schema_version VALUES(3);
INSERT INTO schema_version VALUES(4);
INSERT INTO schema_version VALUES(5);
CREATE TABLE devices (uuid TEXT PRIMARY KEY, production INTEGER NOT NULL, name TEXT NOT NULL, hwid TEXT NOT NULL, tag TEXT NOT NULL, target TEXT NOT NULL, fingerprint TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, registered INTEGER NOT NULL);
CREATE TABLE deny (uuid TEXT PRIMARY KEY, reason TEXT NOT NULL, since INTEGER NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY, device TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, received INTEGER NOT NULL, body BLOB NOT NULL, UNIQUE (device, event_id));
CREATE TABLE tokens (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL CHECK (scope IN ('ci', 'production')), expires INTEGER NOT NULL, uses_left INTEGER NOT NULL, created INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, comment TEXT NOT NULL);
CREATE TABLE metadata (flavour TEXT NOT NULL CHECK (flavour IN ('ci', 'production')), tag TEXT NOT NULL, role TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0), expires INTEGER NOT NULL, sha256 TEXT NOT NULL, data BLOB NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (flavour, tag, role, version));
CREATE TABLE ci_targets (name TEXT PRIMARY KEY, length INTEGER NOT NULL, sha256 TEXT NOT NULL, custom TEXT, added INTEGER NOT NULL);
CREATE TABLE crls (issuer TEXT PRIMARY KEY, number INTEGER NOT NULL, pem BLOB NOT NULL, uploaded INTEGER NOT NULL);
CREATE TABLE device_cas (name TEXT PRIMARY KEY, pem BLOB NOT NULL, uploaded INTEGER NOT NULL);
CREATE TABLE identity_changes (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT INTO identity_changes VALUES(1,0);
CREATE INDEX events_received ON events (received);
CREATE INDEX events_device ON events (device, id);
CREATE TRIGGER deny_ins AFTER INSERT ON deny BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER deny_del AFTER DELETE ON deny BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER deny_upd AFTER UPDATE ON deny BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER crls_ins AFTER INSERT ON crls BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER crls_upd AFTER UPDATE ON crls BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER crls_del AFTER DELETE ON crls BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER cas_ins AFTER INSERT ON device_cas BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER cas_upd AFTER UPDATE ON device_cas BEGIN UPDATE identity_changes SET n = n + 1; END;
CREATE TRIGGER cas_del AFTER DELETE ON device_cas BEGIN UPDATE identity_changes SET n = n + 1; END;
COMMIT;
