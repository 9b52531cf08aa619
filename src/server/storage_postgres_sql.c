/*
 * The SQL of the PostgreSQL storage backend: schema migrations and the
 * text of every prepared statement (indexed by enum bw_store_stmt).
 */
#include "storage_postgres_priv.h"

/* Same versions as the SQLite schema: entry N-1 brings a database to N. */
const char *const bw_pg__migrations[] = {
    /* 1: the first schema */
    ("CREATE TABLE devices (uuid TEXT PRIMARY KEY, production INTEGER NOT NULL,"
     " name TEXT NOT NULL, hwid TEXT NOT NULL, tag TEXT NOT NULL,"
     " target TEXT NOT NULL, fingerprint TEXT NOT NULL,"
     " first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
     " registered BIGINT NOT NULL);"
     "CREATE TABLE deny (uuid TEXT PRIMARY KEY, reason TEXT NOT NULL,"
     " since BIGINT NOT NULL);"
     "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, device TEXT NOT NULL,"
     " event_id TEXT NOT NULL, event_type TEXT NOT NULL,"
     " received BIGINT NOT NULL, body BYTEA NOT NULL,"
     " UNIQUE (device, event_id));"
     "CREATE INDEX events_received ON events (received);"
     "CREATE TABLE tokens (id BIGSERIAL PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
     " scope TEXT NOT NULL CHECK (scope IN ('ci', 'production')),"
     " expires BIGINT NOT NULL, uses_left BIGINT NOT NULL,"
     " created BIGINT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
     " comment TEXT NOT NULL);"
     "CREATE TABLE metadata (flavour TEXT NOT NULL"
     " CHECK (flavour IN ('ci', 'production')), tag TEXT NOT NULL,"
     " role TEXT NOT NULL, version BIGINT NOT NULL CHECK (version > 0),"
     " expires BIGINT NOT NULL, sha256 TEXT NOT NULL, data BYTEA NOT NULL,"
     " created BIGINT NOT NULL, PRIMARY KEY (flavour, tag, role, version));"
     "CREATE TABLE ci_targets (name TEXT PRIMARY KEY, length BIGINT NOT NULL,"
     " sha256 TEXT NOT NULL, custom TEXT, added BIGINT NOT NULL);"),
    /* 2: CRLs uploaded on the admin API */
    ("CREATE TABLE crls (issuer TEXT PRIMARY KEY, number BIGINT NOT NULL,"
     " pem BYTEA NOT NULL, uploaded BIGINT NOT NULL);"),
    /* 3: per-device event trimming */
    "CREATE INDEX events_device ON events (device, id);",
    /* 4: device CA certificates uploaded on the admin API */
    ("CREATE TABLE device_cas (name TEXT PRIMARY KEY, pem BYTEA NOT NULL,"
     " uploaded BIGINT NOT NULL);"),
    /* 5: the identity change counter (see the SQLite schema), kept by
     * statement triggers */
    ("CREATE TABLE identity_changes (id INTEGER PRIMARY KEY CHECK (id = 1),"
     " n BIGINT NOT NULL);"
     "INSERT INTO identity_changes VALUES (1, 0);"
     "CREATE FUNCTION bw_identity_bump() RETURNS trigger LANGUAGE plpgsql"
     " AS $$ BEGIN UPDATE identity_changes SET n = n + 1; RETURN NULL; END"
     " $$;"
     "CREATE TRIGGER deny_chg AFTER INSERT OR UPDATE OR DELETE ON deny"
     " FOR EACH STATEMENT EXECUTE FUNCTION bw_identity_bump();"
     "CREATE TRIGGER crls_chg AFTER INSERT OR UPDATE OR DELETE ON crls"
     " FOR EACH STATEMENT EXECUTE FUNCTION bw_identity_bump();"
     "CREATE TRIGGER cas_chg AFTER INSERT OR UPDATE OR DELETE ON device_cas"
     " FOR EACH STATEMENT EXECUTE FUNCTION bw_identity_bump();"),
    /* 6: certificate rotations over EST, certificates refused by
     * fingerprint, operators' requests to rotate (see the SQLite schema) */
    ("CREATE TABLE rotations (id BIGSERIAL PRIMARY KEY, uuid TEXT NOT NULL,"
     " old_fp TEXT NOT NULL, new_fp TEXT NOT NULL UNIQUE,"
     " serial TEXT NOT NULL, issuer TEXT NOT NULL,"
     " state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),"
     " cert BYTEA NOT NULL, requested BIGINT NOT NULL,"
     " finished BIGINT NOT NULL DEFAULT 0);"
     "CREATE INDEX rotations_uuid ON rotations (uuid, state);"
     "CREATE TABLE cert_deny (fingerprint TEXT PRIMARY KEY,"
     " uuid TEXT NOT NULL, reason TEXT NOT NULL, since BIGINT NOT NULL);"
     "CREATE TRIGGER cert_deny_chg AFTER INSERT OR DELETE ON cert_deny"
     " FOR EACH STATEMENT EXECUTE FUNCTION bw_identity_bump();"
     "CREATE TABLE rotate_requests (kind TEXT NOT NULL"
     " CHECK (kind IN ('device', 'ca')), name TEXT NOT NULL,"
     " requested BIGINT NOT NULL, PRIMARY KEY (kind, name));"),
    /* 7: the fleet page: operator accounts, browser sessions, a device
     * status kept from events (see the SQLite schema) */
    ("CREATE TABLE accounts (id BIGSERIAL PRIMARY KEY, hash TEXT NOT NULL"
     " UNIQUE, role TEXT NOT NULL CHECK (role IN ('viewer', 'operator')),"
     " expires BIGINT NOT NULL, created BIGINT NOT NULL,"
     " revoked INTEGER NOT NULL DEFAULT 0, comment TEXT NOT NULL);"
     "CREATE TABLE ui_sessions (hash TEXT PRIMARY KEY, account BIGINT NOT"
     " NULL, role TEXT NOT NULL, csrf TEXT NOT NULL,"
     " expires BIGINT NOT NULL, created BIGINT NOT NULL);"
     "ALTER TABLE devices ADD COLUMN status TEXT NOT NULL DEFAULT '';"
     "CREATE INDEX devices_status ON devices (status, uuid);"
     "CREATE INDEX devices_tag ON devices (tag, uuid);"
     "CREATE INDEX devices_name ON devices (name);"
     "CREATE INDEX devices_last_seen ON devices (last_seen);"),
    /* 8: a device is its binding (see the SQLite schema): issuing CA,
     * its certificate's SHA-256, the serial; canonical lowercase UUIDs
     * (a record whose lowercase twin exists keeps its spelling); binding
     * changes move the identity counter */
    ("ALTER TABLE devices ADD COLUMN ca_name TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE devices ADD COLUMN ca_fingerprint TEXT NOT NULL"
     " DEFAULT '';"
     "ALTER TABLE devices ADD COLUMN serial TEXT NOT NULL DEFAULT '';"
     "UPDATE devices d SET uuid = lower(d.uuid) WHERE d.uuid <> lower(d.uuid)"
     " AND NOT EXISTS (SELECT 1 FROM devices t WHERE t.uuid = lower(d.uuid));"
     "UPDATE deny d SET uuid = lower(d.uuid) WHERE d.uuid <> lower(d.uuid)"
     " AND NOT EXISTS (SELECT 1 FROM deny t WHERE t.uuid = lower(d.uuid));"
     "DELETE FROM deny WHERE uuid <> lower(uuid);"
     "UPDATE rotations SET uuid = lower(uuid) WHERE uuid <> lower(uuid);"
     "UPDATE cert_deny SET uuid = lower(uuid) WHERE uuid <> lower(uuid);"
     "UPDATE rotate_requests r SET name = lower(r.name) WHERE r.kind ="
     " 'device' AND r.name <> lower(r.name) AND NOT EXISTS (SELECT 1 FROM"
     " rotate_requests t WHERE t.kind = 'device' AND t.name ="
     " lower(r.name));"
     "UPDATE events e SET device = lower(e.device) WHERE e.device <>"
     " lower(e.device) AND e.device NOT IN (SELECT uuid FROM devices)"
     " AND NOT EXISTS (SELECT 1 FROM events t WHERE t.device ="
     " lower(e.device) AND t.event_id = e.event_id);"
     "CREATE TRIGGER devices_bind AFTER UPDATE OF fingerprint,"
     " ca_fingerprint, production ON devices FOR EACH ROW WHEN"
     " (old.fingerprint IS DISTINCT FROM new.fingerprint"
     " OR old.ca_fingerprint IS DISTINCT FROM new.ca_fingerprint"
     " OR old.production IS DISTINCT FROM new.production)"
     " EXECUTE FUNCTION bw_identity_bump();"),
    /* 9: production waves, the devices each admitted, their decisions */
    ("CREATE TABLE waves (name TEXT PRIMARY KEY, tag TEXT NOT NULL,"
     " state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 5),"
     " step BIGINT NOT NULL, step_started BIGINT NOT NULL,"
     " charter BYTEA NOT NULL, created BIGINT NOT NULL,"
     " updated BIGINT NOT NULL, reason TEXT NOT NULL);"
     "CREATE INDEX waves_tag ON waves (tag, state);"
     "CREATE TABLE wave_devices (wave TEXT NOT NULL REFERENCES waves(name),"
     " uuid TEXT NOT NULL, step BIGINT NOT NULL,"
     " admitted BIGINT NOT NULL, outcome INTEGER NOT NULL"
     " CHECK (outcome IN (0, 1, 2)), reported BIGINT NOT NULL,"
     " PRIMARY KEY (wave, uuid));"
     "CREATE INDEX wave_devices_admitted ON wave_devices (wave, admitted);"
     "CREATE TABLE wave_log (id BIGSERIAL PRIMARY KEY, wave TEXT NOT NULL,"
     " time BIGINT NOT NULL, entry TEXT NOT NULL);"),
    /* 10: the transparency log, append-only (see the SQLite schema) */
    ("CREATE TABLE tlog_leaves (idx BIGINT PRIMARY KEY CHECK (idx >= 0),"
     " entry BYTEA NOT NULL, added BIGINT NOT NULL);"
     "CREATE TABLE tlog_nodes (level INTEGER NOT NULL, idx BIGINT NOT NULL,"
     " hash BYTEA NOT NULL, PRIMARY KEY (level, idx));"
     "CREATE TABLE tlog_checkpoints (size BIGINT PRIMARY KEY,"
     " note BYTEA NOT NULL, created BIGINT NOT NULL);"
     "CREATE FUNCTION bw_append_only() RETURNS trigger LANGUAGE plpgsql"
     " AS $$ BEGIN RAISE EXCEPTION 'transparency log is append-only'; END"
     " $$;"
     "CREATE TRIGGER tlog_leaves_ro BEFORE UPDATE OR DELETE ON tlog_leaves"
     " FOR EACH ROW EXECUTE FUNCTION bw_append_only();"
     "CREATE TRIGGER tlog_nodes_ro BEFORE UPDATE OR DELETE ON tlog_nodes"
     " FOR EACH ROW EXECUTE FUNCTION bw_append_only();"),
    /* 11: the current certificate's notAfter (see the SQLite schema) */
    ("ALTER TABLE devices ADD COLUMN cert_not_after BIGINT NOT NULL"
     " DEFAULT 0;"
     "CREATE INDEX devices_cert_not_after ON devices (cert_not_after)"
     " WHERE cert_not_after > 0;"),
    /* 12: rate-limit counters shared by every worker and gateway */
    ("CREATE TABLE rate_counts (limiter TEXT NOT NULL, key TEXT NOT NULL,"
     " win BIGINT NOT NULL, n BIGINT NOT NULL,"
     " PRIMARY KEY (limiter, key, win));"
     "CREATE INDEX rate_counts_win ON rate_counts (win);"),
    /* 13: may an uploaded device CA issue production certificates */
    ("ALTER TABLE device_cas ADD COLUMN production INTEGER NOT NULL"
     " DEFAULT 0;"),
    /* 14: the PKI policies whose changes the transparency log holds (see
     * the SQLite schema) */
    ("CREATE TABLE pki_logged (digest TEXT PRIMARY KEY,"
     " seq BIGINT NOT NULL, logged BIGINT NOT NULL);"
     "CREATE TRIGGER pki_logged_chg AFTER INSERT OR UPDATE ON pki_logged"
     " FOR EACH STATEMENT EXECUTE FUNCTION bw_identity_bump();"),
};
const int bw_pg__schema_version =
    (int)(sizeof(bw_pg__migrations) / sizeof(bw_pg__migrations[0]));

const char *const bw_pg__sql[S_NSTMT] = {
    [S_ID_CHANGES] = "SELECT n FROM identity_changes WHERE id = 1",
    [S_DEV_GET] = "SELECT uuid, production, name, hwid, tag, target,"
		  " fingerprint, first_seen, last_seen, registered, ca_name,"
		  " ca_fingerprint, serial, cert_not_after FROM devices"
		  " WHERE uuid = $1",
    [S_DEV_NOTE] = "UPDATE devices SET last_seen = GREATEST(last_seen, $2),"
		   " tag = CASE WHEN $3 = '' THEN tag ELSE $3 END,"
		   " target = CASE WHEN $4 = '' THEN target ELSE $4 END,"
		   " cert_not_after = CASE WHEN $5 = 0 THEN cert_not_after"
		   " ELSE $5 END WHERE uuid = $1",
    [S_DEV_PUT] = "INSERT INTO devices (uuid, production, name, hwid, tag,"
		  " target, fingerprint, first_seen, last_seen, registered,"
		  " ca_name, ca_fingerprint, serial, cert_not_after)"
		  " VALUES ($1, $2, $3, $4,"
		  " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
		  " ON CONFLICT (uuid) DO UPDATE SET production = $2,"
		  " name = $3, hwid = $4, tag = $5, target = $6,"
		  " fingerprint = $7, first_seen = $8, last_seen = $9,"
		  " registered = $10, ca_name = $11, ca_fingerprint = $12,"
		  " serial = $13, cert_not_after = $14",
    [S_DEV_LIST] = "SELECT uuid, production, name, hwid, tag, target,"
		   " fingerprint, first_seen, last_seen, registered,"
		   " EXISTS (SELECT 1 FROM deny WHERE deny.uuid = devices.uuid)"
		   "::int, ca_name, ca_fingerprint, serial, cert_not_after"
		   " FROM devices WHERE uuid > $1 ORDER BY uuid LIMIT $2",
    [S_DEV_EXPIRING] =
	"SELECT uuid, production, name, hwid, tag, target, fingerprint,"
	" first_seen, last_seen, registered,"
	" EXISTS (SELECT 1 FROM deny WHERE deny.uuid = devices.uuid)::int,"
	" ca_name, ca_fingerprint, serial, cert_not_after FROM devices"
	" WHERE cert_not_after > 0 AND cert_not_after < $1"
	" ORDER BY cert_not_after LIMIT $2",
    [S_DENY_ADD] = "INSERT INTO deny (uuid, reason, since) VALUES ($1, $2, $3)"
		   " ON CONFLICT (uuid) DO UPDATE SET reason = $2, since = $3",
    [S_DENY_DEL] = "DELETE FROM deny WHERE uuid = $1",
    [S_DENY_HAS] = "SELECT 1 FROM deny WHERE uuid = $1",
    [S_DENY_LIST] = "SELECT uuid, reason, since FROM deny ORDER BY uuid",
    [S_EV_ADD] = "INSERT INTO events (device, event_id, event_type, received,"
		 " body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    [S_EV_LIST_ALL] = "SELECT device, received, body FROM events"
		      " ORDER BY id DESC LIMIT $1",
    [S_EV_LIST_DEV] = "SELECT device, received, body FROM events"
		      " WHERE device = $2 ORDER BY id DESC LIMIT $1",
    [S_TOK_ADD] = "INSERT INTO tokens (hash, scope, expires, uses_left,"
		  " created, comment) VALUES ($1, $2, $3, $4, $5, $6)"
		  " RETURNING id",
    [S_TOK_LIST] = "SELECT id, scope, expires, uses_left, created, revoked,"
		   " comment FROM tokens ORDER BY id",
    [S_TOK_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE id = $1",
    /* FOR UPDATE: two gateways can not both take a token's last use */
    [S_TOK_FIND] = "SELECT id, scope, expires, uses_left, revoked FROM"
		   " tokens WHERE hash = $1 FOR UPDATE",
    [S_TOK_DEC] = "UPDATE tokens SET uses_left = uses_left - 1"
		  " WHERE id = $1 AND uses_left > 0",
    [S_META_PUT] = "INSERT INTO metadata (flavour, tag, role, version,"
		   " expires, sha256, data, created) VALUES ($1, $2, $3, $4,"
		   " $5, $6, $7, $8)",
    [S_META_GET] = "SELECT version, expires, sha256, data FROM metadata"
		   " WHERE flavour = $1 AND tag = $2 AND role = $3"
		   " AND version = $4",
    [S_META_LATEST] = "SELECT version, expires, sha256, data FROM metadata"
		      " WHERE flavour = $1 AND tag = $2 AND role = $3"
		      " ORDER BY version DESC LIMIT 1",
    [S_META_HEADS] = "SELECT DISTINCT ON (flavour, tag, role) flavour, tag,"
		     " role, version, expires FROM metadata"
		     " ORDER BY flavour, tag, role, version DESC",
    [S_CI_ADD] = "INSERT INTO ci_targets (name, length, sha256, custom, added)"
		 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE"
		 " SET length = $2, sha256 = $3, custom = $4, added = $5",
    [S_CRL_PUT] = "INSERT INTO crls (issuer, number, pem, uploaded)"
		  " VALUES ($1, $2, $3, $4) ON CONFLICT (issuer) DO UPDATE"
		  " SET number = $2, pem = $3, uploaded = $4",
    [S_EV_TRIM] = "DELETE FROM events WHERE device = $1 AND id <= (SELECT id"
		  " FROM events WHERE device = $1 ORDER BY id DESC LIMIT 1"
		  " OFFSET $2)",
    [S_CA_PUT] = "INSERT INTO device_cas (name, pem, uploaded, production)"
		 " VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE"
		 " SET pem = $2, uploaded = $3, production = $4",
    [S_CA_LIST] = "SELECT name, pem, production FROM device_cas ORDER BY"
		  " name",
    [S_CRL_LIST] = "SELECT issuer, number, pem FROM crls ORDER BY issuer",
    [S_ROT_ADD] = "INSERT INTO rotations (uuid, old_fp, new_fp, serial,"
		  " issuer, state, cert, requested) VALUES ($1, $2, $3, $4,"
		  " $5, 1, $6, $7)",
    [S_ROT_PENDING] = "SELECT uuid, old_fp, new_fp, serial, issuer, state,"
		      " requested, finished, cert FROM rotations"
		      " WHERE uuid = $1 AND state = 1 ORDER BY id DESC LIMIT 1",
    [S_ROT_BY_FP] = "SELECT uuid, old_fp, new_fp, serial, issuer, state,"
		    " requested, finished, cert FROM rotations"
		    " WHERE new_fp = $1",
    [S_ROT_FINISH] = "UPDATE rotations SET state = $2, finished = $3"
		     " WHERE new_fp = $1 AND state = 1",
    [S_ROT_LIST] = "SELECT uuid, old_fp, new_fp, serial, issuer, state,"
		   " requested, finished FROM rotations ORDER BY id DESC"
		   " LIMIT $1",
    [S_ROT_LIST_STATE] = "SELECT uuid, old_fp, new_fp, serial, issuer,"
			 " state, requested, finished FROM rotations"
			 " WHERE state = $2 ORDER BY id DESC LIMIT $1",
    [S_CDENY_ADD] = "INSERT INTO cert_deny (fingerprint, uuid, reason, since)"
		    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    [S_CDENY_HAS] = "SELECT 1 FROM cert_deny WHERE fingerprint = $1",
    [S_RREQ_SET] = "INSERT INTO rotate_requests (kind, name, requested)"
		   " VALUES ($1, $2, $3) ON CONFLICT (kind, name) DO UPDATE"
		   " SET requested = $3",
    [S_RREQ_GET] = "SELECT requested FROM rotate_requests"
		   " WHERE kind = $1 AND name = $2",
    [S_ACC_ADD] = "INSERT INTO accounts (hash, role, expires, created,"
		  " comment) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    [S_ACC_LIST] = "SELECT id, role, expires, created, revoked, comment"
		   " FROM accounts ORDER BY id",
    [S_ACC_REVOKE] = "UPDATE accounts SET revoked = 1 WHERE id = $1",
    [S_ACC_FIND] = "SELECT id, role, expires, revoked FROM accounts"
		   " WHERE hash = $1",
    [S_SES_PUT] = "INSERT INTO ui_sessions (hash, account, role, csrf,"
		  " expires, created) VALUES ($1, $2, $3, $4, $5, $6)",
    /* a session dies with its account */
    [S_SES_GET] = "SELECT s.account, s.role, s.csrf, s.expires"
		  " FROM ui_sessions s WHERE s.hash = $1 AND s.expires > $2"
		  " AND (s.account = 0 OR EXISTS (SELECT 1 FROM accounts a"
		  " WHERE a.id = s.account AND a.revoked = 0"
		  " AND a.expires > $2))",
    [S_SES_DEL] = "DELETE FROM ui_sessions WHERE hash = $1",
    [S_SES_EXPIRE] = "DELETE FROM ui_sessions WHERE expires <= $1",
    [S_DEV_STATUS] = "UPDATE devices SET status = $2 WHERE uuid = $1",
    [S_WAVE_ADD] = "INSERT INTO waves (name, tag, state, step, step_started,"
		   " charter, created, updated, reason) VALUES ($1, $2, $3,"
		   " $4, $5, $6, $7, $8, $9)",
    [S_WAVE_UPD] = "UPDATE waves SET state = $2, step = $3, step_started = $4,"
		   " updated = $5, reason = $6 WHERE name = $1",
    [S_WAVE_GET] = "SELECT name, tag, state, step, step_started, created,"
		   " updated, reason, charter FROM waves WHERE name = $1",
    [S_WAVE_ACTIVE] = "SELECT name, tag, state, step, step_started, created,"
		      " updated, reason, charter FROM waves WHERE tag = $1"
		      " AND state IN (1, 2) ORDER BY created DESC, name"
		      " LIMIT 1",
    [S_WAVE_LIST] = "SELECT name, tag, state, step, step_started, created,"
		    " updated, reason FROM waves ORDER BY created DESC, name",
    [S_WAVE_LIST_ACTIVE] = "SELECT name, tag, state, step, step_started,"
			   " created, updated, reason FROM waves WHERE state"
			   " IN (1, 2) ORDER BY created DESC, name",
    [S_WDEV_GET] = "SELECT wave, uuid, step, admitted, outcome, reported"
		   " FROM wave_devices WHERE wave = $1 AND uuid = $2",
    [S_WDEV_PUT] = "INSERT INTO wave_devices (wave, uuid, step, admitted,"
		   " outcome, reported) VALUES ($1, $2, $3, $4, $5, $6)"
		   " ON CONFLICT (wave, uuid) DO UPDATE SET step = $3,"
		   " admitted = $4, outcome = $5, reported = $6",
    [S_WDEV_COUNTS] = "SELECT step, COUNT(*), COUNT(*) FILTER (WHERE"
		      " outcome = 1), COUNT(*) FILTER (WHERE outcome = 2),"
		      " COUNT(*) FILTER (WHERE outcome = 0 AND admitted < $2),"
		      " COUNT(*) FILTER (WHERE outcome = 0 AND admitted >= $2)"
		      " FROM wave_devices WHERE wave = $1 GROUP BY step",
    [S_WDEV_SINCE] = "SELECT COUNT(*) FROM wave_devices WHERE wave = $1"
		     " AND admitted >= $2",
    [S_WLOG_ADD] = "INSERT INTO wave_log (wave, time, entry) VALUES ($1, $2,"
		   " $3)",
    [S_WLOG_LIST] = "SELECT time, entry FROM wave_log WHERE wave = $1"
		    " ORDER BY id",
    [S_TLOG_SIZE] = "SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_leaves",
    [S_TLOG_LEAF_ADD] = "INSERT INTO tlog_leaves (idx, entry, added)"
			" VALUES ($1, $2, $3)",
    [S_TLOG_LEAF_GET] = "SELECT 0, entry FROM tlog_leaves WHERE idx = $1",
    [S_TLOG_NODE_PUT] = "INSERT INTO tlog_nodes (level, idx, hash)"
			" VALUES ($1, $2, $3)",
    [S_TLOG_NODE_GET] = "SELECT hash FROM tlog_nodes WHERE level = $1"
			" AND idx = $2",
    [S_TLOG_CP_PUT] = "INSERT INTO tlog_checkpoints (size, note, created)"
		      " VALUES ($1, $2, $3) ON CONFLICT (size) DO UPDATE"
		      " SET note = $2, created = $3",
    /* a second signature line: "\n\u2014 " twice */
    [S_TLOG_CP_WIT] = "SELECT size, note FROM tlog_checkpoints WHERE size > $1"
		      " AND convert_from(note, 'UTF8') LIKE ('%' || chr(10) ||"
		      " chr(8212) || ' %' || chr(10) || chr(8212) || ' %')"
		      " ORDER BY size DESC LIMIT 1",
    [S_TLOG_FIND] = "SELECT idx FROM tlog_leaves WHERE position($1 in entry)"
		    " > 0 ORDER BY idx DESC LIMIT 1",
    [S_TLOG_CP_LATEST] = "SELECT size, note FROM tlog_checkpoints"
			 " ORDER BY size DESC LIMIT 1",
    [S_RATE_HIT] = "INSERT INTO rate_counts (limiter, key, win, n)"
		   " VALUES ($1, $2, $3, 1) ON CONFLICT (limiter, key, win)"
		   " DO UPDATE SET n = rate_counts.n + 1 RETURNING n",
    [S_RATE_EXPIRE] = "DELETE FROM rate_counts WHERE win < $1",
    [S_PKI_LOGGED_PUT] = "INSERT INTO pki_logged (digest, seq, logged)"
			 " VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1"
			 " FROM pki_logged), $2) ON CONFLICT (digest) DO"
			 " UPDATE SET seq = excluded.seq,"
			 " logged = excluded.logged",
    [S_PKI_LOGGED_GET] = "SELECT seq FROM pki_logged WHERE digest = $1",
    [S_TLOG_CP_GET] = "SELECT size, note FROM tlog_checkpoints"
		      " WHERE size = $1",
};
