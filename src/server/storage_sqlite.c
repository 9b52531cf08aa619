/*
 * SQLite backend of the storage ops (storage.h). WAL journal, FULL sync
 * (an accepted upload survives kill -9 and power loss), prepared
 * statements cached per connection, schema migrations in a table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bulwark/buf.h"
#include "bulwark/identity.h"
#include "storage.h"
#include "storage_stmt.h"

static const char *const migrations[] = {
    /* 1: the first schema (each entry one string: parenthesised) */
    ("CREATE TABLE devices (uuid TEXT PRIMARY KEY, production INTEGER NOT NULL,"
     " name TEXT NOT NULL, hwid TEXT NOT NULL, tag TEXT NOT NULL,"
     " target TEXT NOT NULL, fingerprint TEXT NOT NULL,"
     " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
     " registered INTEGER NOT NULL);"
     "CREATE TABLE deny (uuid TEXT PRIMARY KEY, reason TEXT NOT NULL,"
     " since INTEGER NOT NULL);"
     "CREATE TABLE events (id INTEGER PRIMARY KEY, device TEXT NOT NULL,"
     " event_id TEXT NOT NULL, event_type TEXT NOT NULL,"
     " received INTEGER NOT NULL, body BLOB NOT NULL,"
     " UNIQUE (device, event_id));"
     "CREATE INDEX events_received ON events (received);"
     "CREATE TABLE tokens (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
     " scope TEXT NOT NULL CHECK (scope IN ('ci', 'production')),"
     " expires INTEGER NOT NULL, uses_left INTEGER NOT NULL,"
     " created INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
     " comment TEXT NOT NULL);"
     "CREATE TABLE metadata (flavour TEXT NOT NULL"
     " CHECK (flavour IN ('ci', 'production')), tag TEXT NOT NULL,"
     " role TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0),"
     " expires INTEGER NOT NULL, sha256 TEXT NOT NULL, data BLOB NOT NULL,"
     " created INTEGER NOT NULL, PRIMARY KEY (flavour, tag, role, version));"
     "CREATE TABLE ci_targets (name TEXT PRIMARY KEY, length INTEGER NOT NULL,"
     " sha256 TEXT NOT NULL, custom TEXT, added INTEGER NOT NULL);"),
    /* 2: CRLs uploaded on the admin API */
    ("CREATE TABLE crls (issuer TEXT PRIMARY KEY, number INTEGER NOT NULL,"
     " pem BLOB NOT NULL, uploaded INTEGER NOT NULL);"),
    /* 3: per-device event trimming */
    "CREATE INDEX events_device ON events (device, id);",
    /* 4: device CA certificates uploaded on the admin API */
    ("CREATE TABLE device_cas (name TEXT PRIMARY KEY, pem BLOB NOT NULL,"
     " uploaded INTEGER NOT NULL);"),
    /* 5: a counter of every change that can alter a device's identity
     * decision (deny-list, uploaded CRLs and device CAs), kept by
     * triggers so that no writer, in this process or another, can forget
     * it; gateways compare it to drop their cached decisions. */
    ("CREATE TABLE identity_changes (id INTEGER PRIMARY KEY CHECK (id = 1),"
     " n INTEGER NOT NULL);"
     "INSERT INTO identity_changes VALUES (1, 0);"
     "CREATE TRIGGER deny_ins AFTER INSERT ON deny BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER deny_del AFTER DELETE ON deny BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER deny_upd AFTER UPDATE ON deny BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER crls_ins AFTER INSERT ON crls BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER crls_upd AFTER UPDATE ON crls BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER crls_del AFTER DELETE ON crls BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER cas_ins AFTER INSERT ON device_cas BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER cas_upd AFTER UPDATE ON device_cas BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER cas_del AFTER DELETE ON device_cas BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"),
    /* 6: certificate rotations over EST, certificates refused by
     * fingerprint once their successor was used, operators' requests to
     * rotate; a refused fingerprint changes identity decisions */
    ("CREATE TABLE rotations (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL,"
     " old_fp TEXT NOT NULL, new_fp TEXT NOT NULL UNIQUE,"
     " serial TEXT NOT NULL, issuer TEXT NOT NULL,"
     " state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),"
     " cert BLOB NOT NULL, requested INTEGER NOT NULL,"
     " finished INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX rotations_uuid ON rotations (uuid, state);"
     "CREATE TABLE cert_deny (fingerprint TEXT PRIMARY KEY,"
     " uuid TEXT NOT NULL, reason TEXT NOT NULL, since INTEGER NOT NULL);"
     "CREATE TRIGGER cert_deny_ins AFTER INSERT ON cert_deny BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER cert_deny_del AFTER DELETE ON cert_deny BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TABLE rotate_requests (kind TEXT NOT NULL"
     " CHECK (kind IN ('device', 'ca')), name TEXT NOT NULL,"
     " requested INTEGER NOT NULL, PRIMARY KEY (kind, name));"),
    /* 7: the fleet page: operator accounts with a role, their browser
     * sessions, and a device status kept from events so that a fleet of a
     * million devices can be filtered through an index */
    ("CREATE TABLE accounts (id INTEGER PRIMARY KEY, hash TEXT NOT NULL"
     " UNIQUE, role TEXT NOT NULL CHECK (role IN ('viewer', 'operator')),"
     " expires INTEGER NOT NULL, created INTEGER NOT NULL,"
     " revoked INTEGER NOT NULL DEFAULT 0, comment TEXT NOT NULL);"
     "CREATE TABLE ui_sessions (hash TEXT PRIMARY KEY, account INTEGER NOT"
     " NULL, role TEXT NOT NULL, csrf TEXT NOT NULL,"
     " expires INTEGER NOT NULL, created INTEGER NOT NULL);"
     "ALTER TABLE devices ADD COLUMN status TEXT NOT NULL DEFAULT '';"
     "CREATE INDEX devices_status ON devices (status, uuid);"
     "CREATE INDEX devices_tag ON devices (tag, uuid);"
     "CREATE INDEX devices_name ON devices (name);"
     "CREATE INDEX devices_last_seen ON devices (last_seen);"),
    /* 8: a device is its binding: the issuing device CA (name and SHA-256
     * of its certificate), the current certificate's serial (its
     * fingerprint was there already). UUIDs take their canonical
     * lowercase form; a record whose lowercase twin exists (a second
     * registration under another case) keeps its spelling, which no
     * connection matches any more. Binding changes move the identity
     * counter so that every gateway drops its cached decisions. */
    ("ALTER TABLE devices ADD COLUMN ca_name TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE devices ADD COLUMN ca_fingerprint TEXT NOT NULL"
     " DEFAULT '';"
     "ALTER TABLE devices ADD COLUMN serial TEXT NOT NULL DEFAULT '';"
     "UPDATE OR IGNORE devices SET uuid = lower(uuid)"
     " WHERE uuid <> lower(uuid);"
     "UPDATE OR IGNORE deny SET uuid = lower(uuid) WHERE uuid <> lower(uuid);"
     "DELETE FROM deny WHERE uuid <> lower(uuid);"
     "UPDATE rotations SET uuid = lower(uuid) WHERE uuid <> lower(uuid);"
     "UPDATE cert_deny SET uuid = lower(uuid) WHERE uuid <> lower(uuid);"
     "UPDATE OR IGNORE rotate_requests SET name = lower(name)"
     " WHERE kind = 'device' AND name <> lower(name);"
     "UPDATE OR IGNORE events SET device = lower(device)"
     " WHERE device <> lower(device)"
     " AND device NOT IN (SELECT uuid FROM devices);"
     "CREATE TRIGGER devices_bind AFTER UPDATE OF fingerprint,"
     " ca_fingerprint, production ON devices"
     " WHEN old.fingerprint IS NOT new.fingerprint"
     " OR old.ca_fingerprint IS NOT new.ca_fingerprint"
     " OR old.production IS NOT new.production BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"),
    /* 9: production waves, the devices each admitted, their decisions */
    ("CREATE TABLE waves (name TEXT PRIMARY KEY, tag TEXT NOT NULL,"
     " state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 5),"
     " step INTEGER NOT NULL, step_started INTEGER NOT NULL,"
     " charter BLOB NOT NULL, created INTEGER NOT NULL,"
     " updated INTEGER NOT NULL, reason TEXT NOT NULL);"
     "CREATE INDEX waves_tag ON waves (tag, state);"
     "CREATE TABLE wave_devices (wave TEXT NOT NULL REFERENCES waves(name),"
     " uuid TEXT NOT NULL, step INTEGER NOT NULL,"
     " admitted INTEGER NOT NULL, outcome INTEGER NOT NULL"
     " CHECK (outcome IN (0, 1, 2)), reported INTEGER NOT NULL,"
     " PRIMARY KEY (wave, uuid));"
     "CREATE INDEX wave_devices_admitted ON wave_devices (wave, admitted);"
     "CREATE TABLE wave_log (id INTEGER PRIMARY KEY, wave TEXT NOT NULL,"
     " time INTEGER NOT NULL, entry TEXT NOT NULL);"),
    /* 10: the transparency log: entries, stored complete-subtree hashes
     * and signed checkpoints, append-only (the triggers stop this
     * program's own mistakes; an attacker with the file is caught by
     * the signed checkpoints, not by these). */
    ("CREATE TABLE tlog_leaves (idx INTEGER PRIMARY KEY CHECK (idx >= 0),"
     " entry BLOB NOT NULL, added INTEGER NOT NULL);"
     "CREATE TABLE tlog_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL,"
     " hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;"
     "CREATE TABLE tlog_checkpoints (size INTEGER PRIMARY KEY,"
     " note BLOB NOT NULL, created INTEGER NOT NULL);"
     "CREATE TRIGGER tlog_leaves_upd BEFORE UPDATE ON tlog_leaves BEGIN"
     " SELECT RAISE(ABORT, 'transparency log is append-only'); END;"
     "CREATE TRIGGER tlog_leaves_del BEFORE DELETE ON tlog_leaves BEGIN"
     " SELECT RAISE(ABORT, 'transparency log is append-only'); END;"
     "CREATE TRIGGER tlog_nodes_upd BEFORE UPDATE ON tlog_nodes BEGIN"
     " SELECT RAISE(ABORT, 'transparency log is append-only'); END;"
     "CREATE TRIGGER tlog_nodes_del BEFORE DELETE ON tlog_nodes BEGIN"
     " SELECT RAISE(ABORT, 'transparency log is append-only'); END;"),
    /* 11: the current certificate's notAfter, so the fleet page lists
     * the devices whose certificates expire soon (0: not known yet, a
     * record bound before this version; set at its next binding) */
    ("ALTER TABLE devices ADD COLUMN cert_not_after INTEGER NOT NULL"
     " DEFAULT 0;"
     "CREATE INDEX devices_cert_not_after ON devices (cert_not_after)"
     " WHERE cert_not_after > 0;"),
    /* 12: rate-limit counters shared by every worker and gateway on this
     * database: hits per limiter, key and time window */
    ("CREATE TABLE rate_counts (limiter TEXT NOT NULL, key TEXT NOT NULL,"
     " win INTEGER NOT NULL, n INTEGER NOT NULL,"
     " PRIMARY KEY (limiter, key, win)) WITHOUT ROWID;"
     "CREATE INDEX rate_counts_win ON rate_counts (win);"),
    /* 13: may an uploaded device CA issue production certificates (an
     * explicit choice at upload; those uploaded before could not) */
    ("ALTER TABLE device_cas ADD COLUMN production INTEGER NOT NULL"
     " DEFAULT 0;"),
    /* 14: the PKI policies (bw_srv_policy_digest) whose changes the
     * transparency log holds, written in the transaction of their log
     * entries; seq orders them. Every write moves the identity counter,
     * so the other processes re-check at their next identity poll. */
    ("CREATE TABLE pki_logged (digest TEXT PRIMARY KEY,"
     " seq INTEGER NOT NULL, logged INTEGER NOT NULL);"
     "CREATE TRIGGER pki_logged_ins AFTER INSERT ON pki_logged BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"
     "CREATE TRIGGER pki_logged_upd AFTER UPDATE ON pki_logged BEGIN"
     " UPDATE identity_changes SET n = n + 1; END;"),
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))


static const char *const sql[S_NSTMT] = {
    [S_ID_CHANGES] = "SELECT n FROM identity_changes WHERE id = 1",
    [S_TLOG_SIZE] = "SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_leaves",
    [S_TLOG_LEAF_ADD] = "INSERT INTO tlog_leaves (idx, entry, added)"
			" VALUES (?1, ?2, ?3)",
    [S_TLOG_LEAF_GET] = "SELECT entry FROM tlog_leaves WHERE idx = ?1",
    [S_TLOG_NODE_PUT] = "INSERT INTO tlog_nodes (level, idx, hash)"
			" VALUES (?1, ?2, ?3)",
    [S_TLOG_NODE_GET] = "SELECT hash FROM tlog_nodes WHERE level = ?1"
			" AND idx = ?2",
    [S_TLOG_CP_PUT] = "INSERT OR REPLACE INTO tlog_checkpoints (size, note,"
		      " created) VALUES (?1, ?2, ?3)",
    [S_TLOG_CP_WIT] = "SELECT size, note FROM tlog_checkpoints WHERE size > ?1"
		      " AND CAST(note AS TEXT) LIKE ('%' || char(10) ||"
		      " char(8212) || ' %' || char(10) || char(8212) || ' %')"
		      " ORDER BY size DESC LIMIT 1",
    [S_TLOG_FIND] = "SELECT idx FROM tlog_leaves WHERE"
		    " instr(CAST(entry AS TEXT), ?1) > 0 ORDER BY idx DESC LIMIT 1",
    [S_TLOG_CP_LATEST] = "SELECT size, note FROM tlog_checkpoints"
			 " ORDER BY size DESC LIMIT 1",
    [S_TLOG_CP_GET] = "SELECT size, note FROM tlog_checkpoints"
		      " WHERE size = ?1",
    [S_DEV_GET] = "SELECT uuid, production, name, hwid, tag, target,"
		  " fingerprint, first_seen, last_seen, registered, ca_name,"
		  " ca_fingerprint, serial, cert_not_after FROM devices"
		  " WHERE uuid = ?1",
    [S_DEV_NOTE] = "UPDATE devices SET last_seen = MAX(last_seen, ?2),"
		   " tag = CASE WHEN ?3 = '' THEN tag ELSE ?3 END,"
		   " target = CASE WHEN ?4 = '' THEN target ELSE ?4 END,"
		   " cert_not_after = CASE WHEN ?5 = 0 THEN cert_not_after"
		   " ELSE ?5 END WHERE uuid = ?1",
    /* an update, not a replace: the binding trigger sees it */
    [S_DEV_PUT] =
	"INSERT INTO devices (uuid, production, name,"
	" hwid, tag, target, fingerprint, first_seen, last_seen,"
	" registered, ca_name, ca_fingerprint, serial, cert_not_after)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
	" ON CONFLICT (uuid) DO"
	" UPDATE SET production = ?2, name = ?3, hwid = ?4, tag = ?5,"
	" target = ?6, fingerprint = ?7, first_seen = ?8, last_seen = ?9,"
	" registered = ?10, ca_name = ?11, ca_fingerprint = ?12, serial = ?13,"
	" cert_not_after = ?14",
    [S_DEV_LIST] = "SELECT uuid, production, name, hwid, tag, target,"
		   " fingerprint, first_seen, last_seen, registered,"
		   " EXISTS (SELECT 1 FROM deny WHERE deny.uuid = devices.uuid),"
		   " ca_name, ca_fingerprint, serial, cert_not_after"
		   " FROM devices WHERE uuid > ?1 ORDER BY uuid LIMIT ?2",
    [S_DEV_EXPIRING] =
	"SELECT uuid, production, name, hwid, tag, target, fingerprint,"
	" first_seen, last_seen, registered,"
	" EXISTS (SELECT 1 FROM deny WHERE deny.uuid = devices.uuid),"
	" ca_name, ca_fingerprint, serial, cert_not_after FROM devices"
	" WHERE cert_not_after > 0 AND cert_not_after < ?1"
	" ORDER BY cert_not_after LIMIT ?2",
    [S_DENY_ADD] = "INSERT OR REPLACE INTO deny (uuid, reason, since)"
		   " VALUES (?1, ?2, ?3)",
    [S_DENY_DEL] = "DELETE FROM deny WHERE uuid = ?1",
    [S_DENY_HAS] = "SELECT 1 FROM deny WHERE uuid = ?1",
    [S_DENY_LIST] = "SELECT uuid, reason, since FROM deny ORDER BY uuid",
    [S_EV_ADD] = "INSERT OR IGNORE INTO events (device, event_id,"
		 " event_type, received, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_EV_LIST_ALL] = "SELECT device, received, body FROM events"
		      " ORDER BY id DESC LIMIT ?1",
    [S_EV_LIST_DEV] = "SELECT device, received, body FROM events"
		      " WHERE device = ?2 ORDER BY id DESC LIMIT ?1",
    [S_TOK_ADD] = "INSERT INTO tokens (hash, scope, expires, uses_left,"
		  " created, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_TOK_LIST] = "SELECT id, scope, expires, uses_left, created, revoked,"
		   " comment FROM tokens ORDER BY id",
    [S_TOK_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE id = ?1",
    [S_TOK_FIND] = "SELECT id, scope, expires, uses_left, revoked FROM"
		   " tokens WHERE hash = ?1",
    [S_TOK_DEC] = "UPDATE tokens SET uses_left = uses_left - 1"
		  " WHERE id = ?1 AND uses_left > 0",
    [S_META_PUT] =
	"INSERT INTO metadata (flavour, tag, role, version,"
	" expires, sha256, data, created) VALUES (?1, ?2, ?3, ?4, ?5,"
	" ?6, ?7, ?8)",
    [S_META_GET] =
	"SELECT version, expires, sha256, data FROM metadata"
	" WHERE flavour = ?1 AND tag = ?2 AND role = ?3 AND version = ?4",
    [S_META_LATEST] = "SELECT version, expires, sha256, data FROM metadata"
		      " WHERE flavour = ?1 AND tag = ?2 AND role = ?3"
		      " ORDER BY version DESC LIMIT 1",
    [S_META_HEADS] = "SELECT flavour, tag, role, MAX(version), expires"
		     " FROM metadata GROUP BY flavour, tag, role"
		     " ORDER BY flavour, tag, role",
    [S_CI_ADD] = "INSERT OR REPLACE INTO ci_targets (name, length, sha256,"
		 " custom, added) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_CRL_PUT] = "INSERT OR REPLACE INTO crls (issuer, number, pem,"
		  " uploaded) VALUES (?1, ?2, ?3, ?4)",
    [S_EV_TRIM] = "DELETE FROM events WHERE device = ?1 AND id <= (SELECT id"
		  " FROM events WHERE device = ?1 ORDER BY id DESC LIMIT 1"
		  " OFFSET ?2)",
    [S_CA_PUT] = "INSERT OR REPLACE INTO device_cas (name, pem, uploaded,"
		 " production) VALUES (?1, ?2, ?3, ?4)",
    [S_CA_LIST] = "SELECT name, pem, production FROM device_cas ORDER BY"
		  " name",
    [S_CRL_LIST] = "SELECT issuer, number, pem FROM crls ORDER BY issuer",
    [S_ROT_ADD] = "INSERT INTO rotations (uuid, old_fp, new_fp, serial,"
		  " issuer, state, cert, requested) VALUES (?1, ?2, ?3, ?4,"
		  " ?5, 1, ?6, ?7)",
    [S_ROT_PENDING] = "SELECT uuid, old_fp, new_fp, serial, issuer, state,"
		      " requested, finished, cert FROM rotations"
		      " WHERE uuid = ?1 AND state = 1 ORDER BY id DESC LIMIT 1",
    [S_ROT_BY_FP] = "SELECT uuid, old_fp, new_fp, serial, issuer, state,"
		    " requested, finished, cert FROM rotations"
		    " WHERE new_fp = ?1",
    [S_ROT_FINISH] = "UPDATE rotations SET state = ?2, finished = ?3"
		     " WHERE new_fp = ?1 AND state = 1",
    [S_ROT_LIST] = "SELECT uuid, old_fp, new_fp, serial, issuer, state,"
		   " requested, finished FROM rotations ORDER BY id DESC"
		   " LIMIT ?1",
    [S_ROT_LIST_STATE] = "SELECT uuid, old_fp, new_fp, serial, issuer,"
			 " state, requested, finished FROM rotations"
			 " WHERE state = ?2 ORDER BY id DESC LIMIT ?1",
    [S_CDENY_ADD] = "INSERT OR IGNORE INTO cert_deny (fingerprint, uuid,"
		    " reason, since) VALUES (?1, ?2, ?3, ?4)",
    [S_CDENY_HAS] = "SELECT 1 FROM cert_deny WHERE fingerprint = ?1",
    [S_RREQ_SET] = "INSERT OR REPLACE INTO rotate_requests (kind, name,"
		   " requested) VALUES (?1, ?2, ?3)",
    [S_RREQ_GET] = "SELECT requested FROM rotate_requests"
		   " WHERE kind = ?1 AND name = ?2",
    [S_ACC_ADD] = "INSERT INTO accounts (hash, role, expires, created,"
		  " comment) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_ACC_LIST] = "SELECT id, role, expires, created, revoked, comment"
		   " FROM accounts ORDER BY id",
    [S_ACC_REVOKE] = "UPDATE accounts SET revoked = 1 WHERE id = ?1",
    [S_ACC_FIND] = "SELECT id, role, expires, revoked FROM accounts"
		   " WHERE hash = ?1",
    [S_SES_PUT] = "INSERT INTO ui_sessions (hash, account, role, csrf,"
		  " expires, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* a session dies with its account: revoking an account signs its
     * browsers out at once */
    [S_SES_GET] = "SELECT s.account, s.role, s.csrf, s.expires"
		  " FROM ui_sessions s WHERE s.hash = ?1 AND s.expires > ?2"
		  " AND (s.account = 0 OR EXISTS (SELECT 1 FROM accounts a"
		  " WHERE a.id = s.account AND a.revoked = 0"
		  " AND a.expires > ?2))",
    [S_SES_DEL] = "DELETE FROM ui_sessions WHERE hash = ?1",
    [S_SES_EXPIRE] = "DELETE FROM ui_sessions WHERE expires <= ?1",
    [S_DEV_STATUS] = "UPDATE devices SET status = ?2 WHERE uuid = ?1",
    [S_WAVE_ADD] = "INSERT INTO waves (name, tag, state, step, step_started,"
		   " charter, created, updated, reason) VALUES (?1, ?2, ?3,"
		   " ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_WAVE_UPD] = "UPDATE waves SET state = ?2, step = ?3, step_started = ?4,"
		   " updated = ?5, reason = ?6 WHERE name = ?1",
    [S_WAVE_GET] = "SELECT name, tag, state, step, step_started, created,"
		   " updated, reason, charter FROM waves WHERE name = ?1",
    [S_WAVE_ACTIVE] = "SELECT name, tag, state, step, step_started, created,"
		      " updated, reason, charter FROM waves WHERE tag = ?1"
		      " AND state IN (1, 2) ORDER BY created DESC, name"
		      " LIMIT 1",
    [S_WAVE_LIST] = "SELECT name, tag, state, step, step_started, created,"
		    " updated, reason FROM waves ORDER BY created DESC, name",
    [S_WAVE_LIST_ACTIVE] = "SELECT name, tag, state, step, step_started,"
			   " created, updated, reason FROM waves WHERE state"
			   " IN (1, 2) ORDER BY created DESC, name",
    [S_WDEV_GET] = "SELECT wave, uuid, step, admitted, outcome, reported"
		   " FROM wave_devices WHERE wave = ?1 AND uuid = ?2",
    [S_WDEV_PUT] = "INSERT OR REPLACE INTO wave_devices (wave, uuid, step,"
		   " admitted, outcome, reported) VALUES (?1, ?2, ?3, ?4, ?5,"
		   " ?6)",
    [S_WDEV_COUNTS] = "SELECT step, COUNT(*), SUM(outcome = 1),"
		      " SUM(outcome = 2), SUM(outcome = 0 AND admitted < ?2),"
		      " SUM(outcome = 0 AND admitted >= ?2) FROM wave_devices"
		      " WHERE wave = ?1 GROUP BY step",
    [S_WDEV_SINCE] = "SELECT COUNT(*) FROM wave_devices WHERE wave = ?1"
		     " AND admitted >= ?2",
    [S_WLOG_ADD] = "INSERT INTO wave_log (wave, time, entry) VALUES (?1, ?2,"
		   " ?3)",
    [S_WLOG_LIST] = "SELECT time, entry FROM wave_log WHERE wave = ?1"
		    " ORDER BY id",
    [S_RATE_HIT] = "INSERT INTO rate_counts (limiter, key, win, n)"
		   " VALUES (?1, ?2, ?3, 1) ON CONFLICT (limiter, key, win)"
		   " DO UPDATE SET n = rate_counts.n + 1 RETURNING n",
    [S_RATE_EXPIRE] = "DELETE FROM rate_counts WHERE win < ?1",
    [S_PKI_LOGGED_PUT] = "INSERT INTO pki_logged (digest, seq, logged)"
			 " VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1"
			 " FROM pki_logged), ?2) ON CONFLICT (digest) DO"
			 " UPDATE SET seq = excluded.seq,"
			 " logged = excluded.logged",
    [S_PKI_LOGGED_GET] = "SELECT seq FROM pki_logged WHERE digest = ?1",
};

struct sq {
	sqlite3 *db;
	sqlite3_stmt *st[S_NSTMT];
	int in_txn;
	int light; /* inside a begin_light transaction */
	uint64_t *queries; /* the handle's count (struct bw_store) */
};

static struct sq *SQ(struct bw_store *s)
{
	return s->backend;
}

static int db_err(struct sq *q, struct bw_err *err, const char *what)
{
	int ext = sqlite3_errcode(q->db);

	if (ext == SQLITE_CONSTRAINT)
		return bw_err_set(err, BW_EEXIST, "%s: %s", what,
				  sqlite3_errmsg(q->db));
	return bw_err_set(err, BW_EIO, "%s: %s", what, sqlite3_errmsg(q->db));
}

/* The cached statement, reset and with bindings cleared. */
static sqlite3_stmt *stmt(struct sq *q, enum bw_store_stmt id, struct bw_err *err)
{
	if (!q->st[id] &&
	    sqlite3_prepare_v3(q->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
			       &q->st[id], NULL) != SQLITE_OK) {
		db_err(q, err, "prepare");
		return NULL;
	}
	if (q->queries)
		(*q->queries)++;
	sqlite3_reset(q->st[id]);
	sqlite3_clear_bindings(q->st[id]);
	return q->st[id];
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Run a statement that returns no rows. */
static int run(struct sq *q, sqlite3_stmt *st, struct bw_err *err,
	       const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_err(q, err, what);
	return 0;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

static json_t *col_json_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return json_stringn(t ? (const char *)t : "",
			    t ? (size_t)sqlite3_column_bytes(st, i) : 0);
}

/* ---- lifecycle and transactions --------------------------------------- */

static int exec(struct sq *q, const char *s, struct bw_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(q->db, s, NULL, NULL, &msg);

	if (q->queries)
		(*q->queries)++;
	if (rc != SQLITE_OK) {
		bw_err_set(err, BW_EIO, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return BW_EIO;
	}
	return 0;
}

static void sq_close(struct bw_store *s)
{
	struct sq *q = SQ(s);

	for (int i = 0; i < S_NSTMT; i++)
		sqlite3_finalize(q->st[i]);
	/* the last connection to close checkpoints and removes the WAL */
	sqlite3_close(q->db);
	free(q);
	free(s);
}

static int sq_begin(struct bw_store *s, struct bw_err *err)
{
	int rc = exec(SQ(s), "BEGIN IMMEDIATE", err);

	if (!rc)
		SQ(s)->in_txn = 1;
	return rc;
}

/* WAL with synchronous=NORMAL: commits reach the WAL without fsync (safe
 * from a process crash); the next FULL commit or checkpoint syncs them.
 * The setting can only change outside a transaction. */
static int sq_begin_light(struct bw_store *s, struct bw_err *err)
{
	int rc = exec(SQ(s), "PRAGMA synchronous=NORMAL", err);

	if (rc)
		return rc;
	SQ(s)->light = 1;
	if ((rc = sq_begin(s, err))) {
		exec(SQ(s), "PRAGMA synchronous=FULL", NULL);
		SQ(s)->light = 0;
	}
	return rc;
}

static void light_end(struct sq *q)
{
	if (q->light)
		exec(q, "PRAGMA synchronous=FULL", NULL);
	q->light = 0;
}

static int sq_commit(struct bw_store *s, struct bw_err *err)
{
	int rc = exec(SQ(s), "COMMIT", err);

	if (!rc) {
		SQ(s)->in_txn = 0;
		light_end(SQ(s));
	}
	return rc;
}

static void sq_rollback(struct bw_store *s)
{
	if (SQ(s)->in_txn)
		exec(SQ(s), "ROLLBACK", NULL);
	SQ(s)->in_txn = 0;
	light_end(SQ(s));
}

static int sq_savepoint(struct bw_store *s, struct bw_err *err)
{
	return exec(SQ(s), "SAVEPOINT part", err);
}

static int sq_savepoint_release(struct bw_store *s, struct bw_err *err)
{
	return exec(SQ(s), "RELEASE part", err);
}

static void sq_savepoint_undo(struct bw_store *s)
{
	exec(SQ(s), "ROLLBACK TO part; RELEASE part", NULL);
}

/* ---- devices ----------------------------------------------------------- */

static int sq_device_get(struct bw_store *s, const char *uuid,
			 struct bw_device_rec *d, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_DEV_GET, err);
	int rc = 0;

	memset(d, 0, sizeof(*d));
	if (!st)
		return BW_EIO;
	bind_text(st, 1, uuid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return bw_err_set(err, BW_ENOTFOUND, "unknown device");
	}
	if (rc != SQLITE_ROW) {
		rc = db_err(q, err, "device get");
		sqlite3_reset(st);
		return rc;
	}
	col_copy(st, 0, d->uuid, sizeof(d->uuid));
	d->production = sqlite3_column_int(st, 1);
	col_copy(st, 2, d->name, sizeof(d->name));
	col_copy(st, 3, d->hwid, sizeof(d->hwid));
	col_copy(st, 4, d->tag, sizeof(d->tag));
	col_copy(st, 5, d->target, sizeof(d->target));
	col_copy(st, 6, d->fingerprint, sizeof(d->fingerprint));
	d->first_seen = sqlite3_column_int64(st, 7);
	d->last_seen = sqlite3_column_int64(st, 8);
	d->registered = sqlite3_column_int64(st, 9);
	col_copy(st, 10, d->ca_name, sizeof(d->ca_name));
	col_copy(st, 11, d->ca_fingerprint, sizeof(d->ca_fingerprint));
	col_copy(st, 12, d->serial, sizeof(d->serial));
	d->cert_not_after = sqlite3_column_int64(st, 13);
	sqlite3_reset(st);
	return 0;
}

/* Records hold canonical UUIDs only (include/bulwark/identity.h). */
static int device_write(struct bw_store *s, enum bw_store_stmt id,
			const struct bw_device_rec *d, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = NULL;

	if (!bw_identity_uuid_is_canonical(d->uuid))
		return bw_err_set(err, BW_EINVAL, "device uuid not canonical");
	if (!(st = stmt(q, id, err)))
		return BW_EIO;
	bind_text(st, 1, d->uuid);
	sqlite3_bind_int(st, 2, d->production ? 1 : 0);
	bind_text(st, 3, d->name);
	bind_text(st, 4, d->hwid);
	bind_text(st, 5, d->tag);
	bind_text(st, 6, d->target);
	bind_text(st, 7, d->fingerprint);
	sqlite3_bind_int64(st, 8, d->first_seen);
	sqlite3_bind_int64(st, 9, d->last_seen);
	sqlite3_bind_int64(st, 10, d->registered);
	bind_text(st, 11, d->ca_name);
	bind_text(st, 12, d->ca_fingerprint);
	bind_text(st, 13, d->serial);
	sqlite3_bind_int64(st, 14, d->cert_not_after);
	return run(q, st, err, "device write");
}

static int sq_device_put(struct bw_store *s, const struct bw_device_rec *d,
			 struct bw_err *err)
{
	return device_write(s, S_DEV_PUT, d, err);
}

static int sq_device_note(struct bw_store *s, const char *uuid,
			  int64_t last_seen, const char *tag,
			  const char *target, int64_t cert_not_after,
			  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_DEV_NOTE, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, uuid);
	sqlite3_bind_int64(st, 2, last_seen);
	bind_text(st, 3, tag);
	bind_text(st, 4, target);
	sqlite3_bind_int64(st, 5, cert_not_after);
	return run(q, st, err, "device note");
}

static json_t *device_row_json(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:b,s:o,s:o,"
			 "s:o,s:I}",
			 "uuid", col_json_str(st, 0), "production",
			 sqlite3_column_int(st, 1), "name", col_json_str(st, 2),
			 "hardware-id", col_json_str(st, 3), "tag",
			 col_json_str(st, 4), "target", col_json_str(st, 5),
			 "fingerprint", col_json_str(st, 6), "first-seen",
			 (json_int_t)sqlite3_column_int64(st, 7), "last-seen",
			 (json_int_t)sqlite3_column_int64(st, 8), "registered",
			 (json_int_t)sqlite3_column_int64(st, 9), "denied",
			 sqlite3_column_int(st, 10), "ca", col_json_str(st, 11),
			 "ca-fingerprint", col_json_str(st, 12), "serial",
			 col_json_str(st, 13), "cert-not-after",
			 (json_int_t)sqlite3_column_int64(st, 14));
}

/* Step st to the end, appending rowfn(st) of each row to a new array. */
static int collect(struct sq *q, sqlite3_stmt *st,
		   json_t *(*rowfn)(sqlite3_stmt *), json_t **out,
		   struct bw_err *err)
{
	json_t *arr = json_array();
	int rc = 0;

	*out = NULL;
	if (!arr) {
		sqlite3_reset(st);
		return BW_ENOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json_array_append_new(arr, rowfn(st))) {
			rc = BW_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = db_err(q, err, "list");
		goto out;
	}
	rc = 0;
	*out = arr;
	arr = NULL; /* transferred */
out:
	sqlite3_reset(st);
	json_decref(arr);
	return rc;
}

static int sq_device_list(struct bw_store *s, const char *after, int64_t limit,
			  json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_DEV_LIST, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, after ? after : "");
	sqlite3_bind_int64(st, 2, limit);
	return collect(q, st, device_row_json, out, err);
}

static int sq_device_expiring(struct bw_store *s, int64_t before,
			      int64_t limit, json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_DEV_EXPIRING, err);

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, limit);
	return collect(q, st, device_row_json, out, err);
}

/* ---- deny-list --------------------------------------------------------- */

static int sq_deny_set(struct bw_store *s, const char *uuid, int deny,
		       const char *reason, int64_t now, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = NULL;

	if (!bw_identity_uuid_is_canonical(uuid))
		return bw_err_set(err, BW_EINVAL, "device uuid not canonical");
	if (!(st = stmt(q, deny ? S_DENY_ADD : S_DENY_DEL, err)))
		return BW_EIO;
	bind_text(st, 1, uuid);
	if (deny) {
		bind_text(st, 2, reason ? reason : "");
		sqlite3_bind_int64(st, 3, now);
	}
	return run(q, st, err, "deny-list");
}

static int sq_deny_has(struct bw_store *s, const char *uuid, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_DENY_HAS, err);
	int rc = 0;

	if (!st)
		return BW_EIO;
	bind_text(st, 1, uuid);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_err(q, err, "deny-list lookup");
}

static json_t *deny_row_json(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:o,s:I}", "uuid", col_json_str(st, 0), "reason",
			 col_json_str(st, 1), "since",
			 (json_int_t)sqlite3_column_int64(st, 2));
}

static int sq_deny_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_DENY_LIST, err);

	if (!st)
		return BW_EIO;
	return collect(q, st, deny_row_json, out, err);
}

/* ---- events ------------------------------------------------------------- */

static int sq_event_add(struct bw_store *s, const char *uuid,
			const char *event_id, const char *event_type,
			int64_t received, const uint8_t *json, size_t len,
			struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_EV_ADD, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, uuid);
	bind_text(st, 2, event_id);
	bind_text(st, 3, event_type);
	sqlite3_bind_int64(st, 4, received);
	sqlite3_bind_blob(st, 5, json, (int)len, SQLITE_TRANSIENT);
	return run(q, st, err, "event add");
}

static int sq_event_trim(struct bw_store *s, const char *uuid, int64_t keep,
			 struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_EV_TRIM, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, uuid);
	sqlite3_bind_int64(st, 2, keep);
	return run(q, st, err, "event trim");
}

static json_t *event_row_json(sqlite3_stmt *st)
{
	json_t *ev = json_loadb(sqlite3_column_blob(st, 2),
				(size_t)sqlite3_column_bytes(st, 2), 0, NULL);

	return json_pack("{s:o,s:I,s:o}", "device", col_json_str(st, 0),
			 "received", (json_int_t)sqlite3_column_int64(st, 1),
			 "event", ev ? ev : json_null());
}

static int sq_event_list(struct bw_store *s, const char *uuid, int64_t limit,
			 json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, uuid ? S_EV_LIST_DEV : S_EV_LIST_ALL, err);

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, limit);
	if (uuid)
		bind_text(st, 2, uuid);
	return collect(q, st, event_row_json, out, err);
}

/* ---- registration tokens ---------------------------------------------- */

static int sq_token_add(struct bw_store *s, const char *hash_hex,
			const char *scope, int64_t expires, int64_t uses,
			const char *comment, int64_t now, int64_t *id,
			struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TOK_ADD, err);
	int rc = 0;

	if (!st)
		return BW_EIO;
	bind_text(st, 1, hash_hex);
	bind_text(st, 2, scope);
	sqlite3_bind_int64(st, 3, expires);
	sqlite3_bind_int64(st, 4, uses);
	sqlite3_bind_int64(st, 5, now);
	bind_text(st, 6, comment ? comment : "");
	rc = run(q, st, err, "token add");
	if (!rc && id)
		*id = sqlite3_last_insert_rowid(q->db);
	return rc;
}

static json_t *token_row_json(sqlite3_stmt *st)
{
	return json_pack("{s:I,s:o,s:I,s:I,s:I,s:b,s:o}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "scope",
			 col_json_str(st, 1), "expires",
			 (json_int_t)sqlite3_column_int64(st, 2), "uses-left",
			 (json_int_t)sqlite3_column_int64(st, 3), "created",
			 (json_int_t)sqlite3_column_int64(st, 4), "revoked",
			 sqlite3_column_int(st, 5), "comment",
			 col_json_str(st, 6));
}

static int sq_token_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TOK_LIST, err);

	if (!st)
		return BW_EIO;
	return collect(q, st, token_row_json, out, err);
}

static int sq_token_revoke(struct bw_store *s, int64_t id, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TOK_REVOKE, err);
	int rc = 0;

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = run(q, st, err, "token revoke");
	if (!rc && sqlite3_changes(q->db) == 0)
		return bw_err_set(err, BW_ENOTFOUND, "no token %lld",
				  (long long)id);
	return rc;
}

static int sq_token_use(struct bw_store *s, const char *hash_hex, int64_t now,
			struct bw_token_use *out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TOK_FIND, err);
	int64_t expires = 0, uses = 0;
	int rc = 0, revoked = 0;

	memset(out, 0, sizeof(*out));
	if (!st)
		return BW_EIO;
	bind_text(st, 1, hash_hex);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return db_err(q, err, "token lookup");
		return bw_err_set(err, BW_ENOTFOUND, "unknown token");
	}
	out->id = sqlite3_column_int64(st, 0);
	col_copy(st, 1, out->scope, sizeof(out->scope));
	expires = sqlite3_column_int64(st, 2);
	uses = sqlite3_column_int64(st, 3);
	revoked = sqlite3_column_int(st, 4);
	sqlite3_reset(st);
	if (revoked)
		return bw_err_set(err, BW_ENOTFOUND, "token revoked");
	if (expires <= now)
		return bw_err_set(err, BW_EEXPIRED, "token expired");
	if (uses == 0)
		return bw_err_set(err, BW_EEXPIRED, "token used up");
	if (uses < 0)
		return 0;
	if (!(st = stmt(q, S_TOK_DEC, err)))
		return BW_EIO;
	sqlite3_bind_int64(st, 1, out->id);
	return run(q, st, err, "token use");
}

/* ---- metadata ------------------------------------------------------------ */

static int sq_meta_put(struct bw_store *s, const struct bw_meta_rec *m,
		       int64_t now, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_META_PUT, err);
	int rc;

	if (!st)
		return BW_EIO;
	bind_text(st, 1, m->flavour);
	bind_text(st, 2, m->tag);
	bind_text(st, 3, m->role);
	sqlite3_bind_int64(st, 4, m->version);
	sqlite3_bind_int64(st, 5, m->expires);
	bind_text(st, 6, m->sha256);
	sqlite3_bind_blob(st, 7, m->data, (int)m->len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, now);
	rc = run(q, st, err, "metadata put");
	if (rc == 0)
		s->meta_writes++;
	return rc;
}

static int sq_meta_get(struct bw_store *s, const char *flavour, const char *tag,
		       const char *role, int64_t version, struct bw_meta_rec *m,
		       struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, version ? S_META_GET : S_META_LATEST, err);
	int rc = 0;
	size_t n = 0;

	memset(m, 0, sizeof(*m));
	if (!st)
		return BW_EIO;
	bind_text(st, 1, flavour);
	bind_text(st, 2, tag);
	bind_text(st, 3, role);
	if (version)
		sqlite3_bind_int64(st, 4, version);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return db_err(q, err, "metadata get");
		return bw_err_set(err, BW_ENOTFOUND, "no %s metadata", role);
	}
	snprintf(m->flavour, sizeof(m->flavour), "%s", flavour);
	snprintf(m->tag, sizeof(m->tag), "%s", tag);
	snprintf(m->role, sizeof(m->role), "%s", role);
	m->version = sqlite3_column_int64(st, 0);
	m->expires = sqlite3_column_int64(st, 1);
	col_copy(st, 2, m->sha256, sizeof(m->sha256));
	n = (size_t)sqlite3_column_bytes(st, 3);
	m->data = malloc(n + 1);
	if (m->data) {
		if (n)
			memcpy(m->data, sqlite3_column_blob(st, 3), n);
		m->data[n] = 0;
		m->len = n;
	}
	sqlite3_reset(st);
	return m->data ? 0 : BW_ENOMEM;
}

static json_t *head_row_json(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:o,s:o,s:I,s:I}", "flavour",
			 col_json_str(st, 0), "tag", col_json_str(st, 1),
			 "role", col_json_str(st, 2), "version",
			 (json_int_t)sqlite3_column_int64(st, 3), "expires",
			 (json_int_t)sqlite3_column_int64(st, 4));
}

static int sq_meta_heads(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_META_HEADS, err);

	if (!st)
		return BW_EIO;
	return collect(q, st, head_row_json, out, err);
}

static int sq_ci_target_add(struct bw_store *s, const char *name,
			    uint64_t length, const char *sha256,
			    const char *custom_json, int64_t now,
			    struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_CI_ADD, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)length);
	bind_text(st, 3, sha256);
	if (custom_json)
		bind_text(st, 4, custom_json);
	sqlite3_bind_int64(st, 5, now);
	return run(q, st, err, "ci target add");
}

static int sq_crl_put(struct bw_store *s, const char *issuer, int64_t number,
		      const uint8_t *pem, size_t len, int64_t now,
		      struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_CRL_PUT, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, issuer);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_blob(st, 3, pem, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, now);
	return run(q, st, err, "crl put");
}

static json_t *crl_row_json(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:I,s:s%}", "issuer", col_json_str(st, 0),
			 "number", (json_int_t)sqlite3_column_int64(st, 1),
			 "pem", (const char *)sqlite3_column_blob(st, 2),
			 (size_t)sqlite3_column_bytes(st, 2));
}

static int sq_crl_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_CRL_LIST, err);

	if (!st)
		return BW_EIO;
	return collect(q, st, crl_row_json, out, err);
}

static int sq_ca_put(struct bw_store *s, const char *name, const uint8_t *pem,
		     size_t len, int production, int64_t now,
		     struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_CA_PUT, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, name);
	sqlite3_bind_blob(st, 2, pem, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int(st, 4, production ? 1 : 0);
	return run(q, st, err, "ca put");
}

static int sq_identity_changes(struct bw_store *s, int64_t *out,
			       struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ID_CHANGES, err);
	int rc;

	*out = 0;
	if (!st)
		return BW_EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : bw_err_set(err, BW_EIO, "identity "
						 "changes: %s",
						 sqlite3_errmsg(q->db));
}

static json_t *ca_row_json(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:s%,s:b}", "name", col_json_str(st, 0), "pem",
			 (const char *)sqlite3_column_blob(st, 1),
			 (size_t)sqlite3_column_bytes(st, 1), "production",
			 sqlite3_column_int(st, 2) != 0);
}

static int sq_ca_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_CA_LIST, err);

	if (!st)
		return BW_EIO;
	return collect(q, st, ca_row_json, out, err);
}

/* ---- certificate rotations (EST) ---------------------------------------- */

static int sq_rotation_add(struct bw_store *s, const struct bw_rotation_rec *r,
			   const char *cert_pem, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ROT_ADD, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, r->uuid);
	bind_text(st, 2, r->old_fp);
	bind_text(st, 3, r->new_fp);
	bind_text(st, 4, r->serial);
	bind_text(st, 5, r->issuer);
	sqlite3_bind_blob(st, 6, cert_pem, (int)strlen(cert_pem),
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, r->requested);
	return run(q, st, err, "rotation add");
}

static void rotation_row(sqlite3_stmt *st, struct bw_rotation_rec *r)
{
	col_copy(st, 0, r->uuid, sizeof(r->uuid));
	col_copy(st, 1, r->old_fp, sizeof(r->old_fp));
	col_copy(st, 2, r->new_fp, sizeof(r->new_fp));
	col_copy(st, 3, r->serial, sizeof(r->serial));
	col_copy(st, 4, r->issuer, sizeof(r->issuer));
	r->state = sqlite3_column_int(st, 5);
	r->requested = sqlite3_column_int64(st, 6);
	r->finished = sqlite3_column_int64(st, 7);
}

/* One row of S_ROT_PENDING / S_ROT_BY_FP (bound by the caller). */
static int rotation_one(struct sq *q, sqlite3_stmt *st,
			struct bw_rotation_rec *out, char **cert_pem,
			struct bw_err *err)
{
	int rc = sqlite3_step(st);

	memset(out, 0, sizeof(*out));
	if (cert_pem)
		*cert_pem = NULL;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return bw_err_set(err, BW_ENOTFOUND, "no such rotation");
	}
	if (rc != SQLITE_ROW) {
		rc = db_err(q, err, "rotation get");
		sqlite3_reset(st);
		return rc;
	}
	rotation_row(st, out);
	if (cert_pem) {
		size_t n = (size_t)sqlite3_column_bytes(st, 8);

		*cert_pem = malloc(n + 1);
		if (*cert_pem) {
			memcpy(*cert_pem, sqlite3_column_blob(st, 8), n);
			(*cert_pem)[n] = '\0';
		}
	}
	sqlite3_reset(st);
	return cert_pem && !*cert_pem ? BW_ENOMEM : 0;
}

static int sq_rotation_pending(struct bw_store *s, const char *uuid,
			       struct bw_rotation_rec *out, char **cert_pem,
			       struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ROT_PENDING, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, uuid);
	return rotation_one(q, st, out, cert_pem, err);
}

static int sq_rotation_by_fp(struct bw_store *s, const char *new_fp,
			     struct bw_rotation_rec *out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ROT_BY_FP, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, new_fp);
	return rotation_one(q, st, out, NULL, err);
}

static int sq_rotation_finish(struct bw_store *s, const char *new_fp,
			      int state, int64_t now, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ROT_FINISH, err);
	int rc;

	if (!st)
		return BW_EIO;
	bind_text(st, 1, new_fp);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_int64(st, 3, now);
	if ((rc = run(q, st, err, "rotation finish")))
		return rc;
	return sqlite3_changes(q->db) == 1
		   ? 0
		   : bw_err_set(err, BW_ENOTFOUND, "no pending rotation");
}

static const char *const rot_state_names[] = {"", "pending", "completed",
					      "superseded"};

static json_t *rotation_row_json(sqlite3_stmt *st)
{
	int state = sqlite3_column_int(st, 5);

	return json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:I,s:I}", "uuid",
			 col_json_str(st, 0), "state",
			 state >= 1 && state <= 3 ? rot_state_names[state] : "?",
			 "old-fingerprint", col_json_str(st, 1),
			 "new-fingerprint", col_json_str(st, 2), "serial",
			 col_json_str(st, 3), "issuer", col_json_str(st, 4),
			 "requested", (json_int_t)sqlite3_column_int64(st, 6),
			 "finished", (json_int_t)sqlite3_column_int64(st, 7));
}

static int sq_rotation_list(struct bw_store *s, int state, int64_t limit,
			    json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, state ? S_ROT_LIST_STATE : S_ROT_LIST, err);

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, limit);
	if (state)
		sqlite3_bind_int(st, 2, state);
	return collect(q, st, rotation_row_json, out, err);
}

static int sq_cert_deny_add(struct bw_store *s, const char *fp,
			    const char *uuid, const char *reason, int64_t now,
			    struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_CDENY_ADD, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, fp);
	bind_text(st, 2, uuid);
	bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	return run(q, st, err, "cert deny add");
}

static int sq_cert_deny_has(struct bw_store *s, const char *fp,
			    struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_CDENY_HAS, err);
	int rc;

	if (!st)
		return BW_EIO;
	bind_text(st, 1, fp);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_err(q, err, "cert deny has");
}

static int sq_rotate_request_set(struct bw_store *s, const char *kind,
				 const char *name, int64_t now,
				 struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_RREQ_SET, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, kind);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, now);
	return run(q, st, err, "rotate request");
}

static int sq_rotate_request_get(struct bw_store *s, const char *kind,
				 const char *name, int64_t *when,
				 struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_RREQ_GET, err);
	int rc;

	*when = 0;
	if (!st)
		return BW_EIO;
	bind_text(st, 1, kind);
	bind_text(st, 2, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*when = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE
		   ? bw_err_set(err, BW_ENOTFOUND, "no rotate request")
		   : db_err(q, err, "rotate request get");
}

/* ---- the fleet page: filtered device pages, accounts, sessions ---------- */

static json_t *device_status_row_json(sqlite3_stmt *st)
{
	json_t *o = device_row_json(st);

	if (o) {
		json_object_set_new(o, "status", col_json_str(st, 15));
		json_object_set_new(o, "rotation-pending",
				    json_boolean(sqlite3_column_int(st, 16)));
	}
	return o;
}

/* The end of a prefix range: "abc" -> "abd" (bytes; NUL if none). */
static void prefix_end(const char *p, char *out, size_t size)
{
	size_t n = strlen(p);

	snprintf(out, size, "%s", p);
	while (n > 0 && (unsigned char)out[n - 1] == 0xff)
		out[--n] = '\0';
	if (n > 0)
		out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
}

/*
 * The statement is built from fixed fragments only (every value is a
 * bound parameter), so that each filter can use its index: status and tag
 * have (column, uuid) indexes for keyset paging, a name search the name
 * index, silence the last_seen index.
 */
static int sq_device_query(struct bw_store *s, const struct bw_device_query *dq,
			   json_t **out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	struct bw_buf sqlb;
	sqlite3_stmt *st = NULL;
	char end[BW_STORE_NAME_MAX + 2];
	const char *after = dq->after ? dq->after : "";
	int uprefix = dq->uuid_prefix && *dq->uuid_prefix;
	int rc = 0;

	*out = NULL;
	bw_buf_init(&sqlb, 4096);
	rc = bw_buf_append_str(
	    &sqlb,
	    "SELECT uuid, production, name, hwid, tag, target, fingerprint,"
	    " first_seen, last_seen, registered,"
	    " EXISTS (SELECT 1 FROM deny WHERE deny.uuid = devices.uuid),"
	    " ca_name, ca_fingerprint, serial, cert_not_after, status,"
	    " EXISTS (SELECT 1 FROM rotations r WHERE r.uuid ="
	    " devices.uuid AND r.state = 1) FROM devices WHERE");
	/* one lower bound on uuid, the higher of `after` and the prefix:
	 * given two, SQLite bounds its index range by the first only */
	if (!rc && uprefix && strcmp(after, dq->uuid_prefix) < 0)
		rc = bw_buf_append_str(&sqlb, " uuid >= ?2 AND uuid < ?3");
	else if (!rc && uprefix)
		rc = bw_buf_append_str(&sqlb, " uuid > ?1 AND uuid < ?3");
	else if (!rc)
		rc = bw_buf_append_str(&sqlb, " uuid > ?1");
	if (!rc && dq->uuid)
		rc = bw_buf_append_str(&sqlb, " AND uuid = ?9");
	if (!rc && dq->name_prefix && *dq->name_prefix)
		rc = bw_buf_append_str(&sqlb, " AND name >= ?2 AND name < ?3");
	if (!rc && dq->tag && *dq->tag)
		rc = bw_buf_append_str(&sqlb, " AND tag = ?4");
	if (!rc && dq->production >= 0)
		rc = bw_buf_append_str(&sqlb, " AND production = ?5");
	if (!rc && dq->status && !strcmp(dq->status, "denied"))
		rc = bw_buf_append_str(
		    &sqlb, " AND uuid IN (SELECT uuid FROM deny)");
	else if (!rc && dq->status && !strcmp(dq->status, "silent"))
		rc = bw_buf_append_str(&sqlb, " AND last_seen < ?6");
	else if (!rc && dq->status && *dq->status)
		rc = bw_buf_append_str(&sqlb, " AND status = ?7");
	if (!rc)
		rc = bw_buf_append_str(&sqlb, " ORDER BY uuid LIMIT ?8");
	if (rc)
		goto out;
	if (sqlite3_prepare_v2(q->db, (const char *)sqlb.data, -1, &st,
			       NULL) != SQLITE_OK) {
		rc = db_err(q, err, "device query");
		goto out;
	}
	bind_text(st, 1, after);
	if (uprefix) {
		prefix_end(dq->uuid_prefix, end, sizeof(end));
		bind_text(st, 2, dq->uuid_prefix);
		bind_text(st, 3, end);
	} else if (dq->name_prefix && *dq->name_prefix) {
		prefix_end(dq->name_prefix, end, sizeof(end));
		bind_text(st, 2, dq->name_prefix);
		bind_text(st, 3, end);
	}
	if (dq->tag && *dq->tag)
		bind_text(st, 4, dq->tag);
	sqlite3_bind_int(st, 5, dq->production > 0);
	sqlite3_bind_int64(st, 6, dq->silent_before);
	if (dq->status && *dq->status)
		bind_text(st, 7, dq->status);
	sqlite3_bind_int64(st, 8, dq->limit);
	if (dq->uuid)
		bind_text(st, 9, dq->uuid);
	rc = collect(q, st, device_status_row_json, out, err);
out:
	sqlite3_finalize(st);
	bw_buf_dispose(&sqlb);
	return rc;
}

static int sq_device_status_set(struct bw_store *s, const char *uuid,
				const char *status, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_DEV_STATUS, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, uuid);
	bind_text(st, 2, status);
	return run(q, st, err, "device status");
}

static int sq_account_add(struct bw_store *s, const char *hash_hex,
			  const char *role, int64_t expires,
			  const char *comment, int64_t now, int64_t *id,
			  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ACC_ADD, err);
	int rc = 0;

	if (!st)
		return BW_EIO;
	bind_text(st, 1, hash_hex);
	bind_text(st, 2, role);
	sqlite3_bind_int64(st, 3, expires);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, comment ? comment : "");
	if (!(rc = run(q, st, err, "account add")))
		*id = sqlite3_last_insert_rowid(q->db);
	return rc;
}

static json_t *account_row_json(sqlite3_stmt *st)
{
	return json_pack("{s:I,s:o,s:I,s:I,s:b,s:o}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "role",
			 col_json_str(st, 1), "expires",
			 (json_int_t)sqlite3_column_int64(st, 2), "created",
			 (json_int_t)sqlite3_column_int64(st, 3), "revoked",
			 sqlite3_column_int(st, 4), "comment",
			 col_json_str(st, 5));
}

static int sq_account_list(struct bw_store *s, json_t **out,
			   struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ACC_LIST, err);

	if (!st)
		return BW_EIO;
	return collect(q, st, account_row_json, out, err);
}

static int sq_account_revoke(struct bw_store *s, int64_t id,
			     struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ACC_REVOKE, err);
	int rc = 0;

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = run(q, st, err, "account revoke")))
		return rc;
	if (sqlite3_changes(q->db) == 0)
		return bw_err_set(err, BW_ENOTFOUND, "no such account");
	return 0;
}

static int sq_account_find(struct bw_store *s, const char *hash_hex,
			   int64_t now, struct bw_account_rec *out,
			   struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_ACC_FIND, err);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!st)
		return BW_EIO;
	bind_text(st, 1, hash_hex);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && !sqlite3_column_int(st, 3) &&
	    sqlite3_column_int64(st, 2) > now) {
		out->id = sqlite3_column_int64(st, 0);
		col_copy(st, 1, out->role, sizeof(out->role));
		rc = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = bw_err_set(err, BW_ENOTFOUND, "no such account");
	} else {
		rc = db_err(q, err, "account find");
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_session_put(struct bw_store *s, const char *hash_hex,
			  const struct bw_session_rec *r, int64_t now,
			  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_SES_EXPIRE, err);
	int rc = 0;

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, now);
	if ((rc = run(q, st, err, "session expire")) ||
	    !(st = stmt(q, S_SES_PUT, err)))
		return rc ? rc : BW_EIO;
	bind_text(st, 1, hash_hex);
	sqlite3_bind_int64(st, 2, r->account);
	bind_text(st, 3, r->role);
	bind_text(st, 4, r->csrf);
	sqlite3_bind_int64(st, 5, r->expires);
	sqlite3_bind_int64(st, 6, now);
	return run(q, st, err, "session put");
}

static int sq_session_get(struct bw_store *s, const char *hash_hex,
			  int64_t now, struct bw_session_rec *out,
			  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_SES_GET, err);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!st)
		return BW_EIO;
	bind_text(st, 1, hash_hex);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->account = sqlite3_column_int64(st, 0);
		col_copy(st, 1, out->role, sizeof(out->role));
		col_copy(st, 2, out->csrf, sizeof(out->csrf));
		out->expires = sqlite3_column_int64(st, 3);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = bw_err_set(err, BW_ENOTFOUND, "no such session");
	} else {
		rc = db_err(q, err, "session get");
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_session_del(struct bw_store *s, const char *hash_hex,
			  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_SES_DEL, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, hash_hex);
	return run(q, st, err, "session delete");
}

/* ---- rate limits ------------------------------------------------------- */

static int sq_rate_hit(struct bw_store *s, const char *limiter,
		       const char *key, int64_t win, int64_t *count,
		       struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_RATE_HIT, err);
	int rc;

	*count = 0;
	if (!st)
		return BW_EIO;
	bind_text(st, 1, limiter);
	bind_text(st, 2, key);
	sqlite3_bind_int64(st, 3, win);
	/* a count is not worth an fsync of its own (one per request on the
	 * registration path): it reaches the disk with the next full
	 * commit, and a power loss forgets at most this minute's counts */
	if (!q->in_txn && exec(q, "PRAGMA synchronous=NORMAL", NULL) == 0)
		q->light = 1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (!q->in_txn)
		light_end(q);
	if (rc != SQLITE_ROW)
		return db_err(q, err, "rate limit");
	if (*count != 1 || !(st = stmt(q, S_RATE_EXPIRE, err)))
		return 0;
	sqlite3_bind_int64(st, 1, win);
	/* a failed clean-up leaves old rows for the next window's first hit */
	run(q, st, NULL, "rate limit expiry");
	return 0;
}

/* ---- PKI policies in the transparency log ------------------------------ */

static int sq_pki_logged_put(struct bw_store *s, const char *digest,
			     int64_t now, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_PKI_LOGGED_PUT, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, digest);
	sqlite3_bind_int64(st, 2, now);
	return run(q, st, err, "pki_logged put");
}

static int sq_pki_logged_get(struct bw_store *s, const char *digest,
			     int64_t *seq, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_PKI_LOGGED_GET, err);
	int rc;

	*seq = 0;
	if (!st)
		return BW_EIO;
	bind_text(st, 1, digest);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? bw_err_set(err, BW_ENOTFOUND, "policy "
					      "not logged")
				 : db_err(q, err, "pki_logged get");
}

/* ---- waves ------------------------------------------------------------- */

static const char *const wave_state_names[] = {
    "?", "running", "paused", "halted", "completed", "cancelled"};

static void wave_row(sqlite3_stmt *st, struct bw_wave_rec *w)
{
	memset(w, 0, sizeof(*w));
	col_copy(st, 0, w->name, sizeof(w->name));
	col_copy(st, 1, w->tag, sizeof(w->tag));
	w->state = sqlite3_column_int(st, 2);
	w->step = sqlite3_column_int64(st, 3);
	w->step_started = sqlite3_column_int64(st, 4);
	w->created = sqlite3_column_int64(st, 5);
	w->updated = sqlite3_column_int64(st, 6);
	col_copy(st, 7, w->reason, sizeof(w->reason));
}

static int sq_wave_add(struct bw_store *s, const struct bw_wave_rec *w,
		       const uint8_t *charter, size_t len, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WAVE_ADD, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, w->name);
	bind_text(st, 2, w->tag);
	sqlite3_bind_int(st, 3, w->state);
	sqlite3_bind_int64(st, 4, w->step);
	sqlite3_bind_int64(st, 5, w->step_started);
	sqlite3_bind_blob(st, 6, charter, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, w->created);
	sqlite3_bind_int64(st, 8, w->updated);
	bind_text(st, 9, w->reason);
	return run(q, st, err, "wave add");
}

static int sq_wave_update(struct bw_store *s, const struct bw_wave_rec *w,
			  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WAVE_UPD, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, w->name);
	sqlite3_bind_int(st, 2, w->state);
	sqlite3_bind_int64(st, 3, w->step);
	sqlite3_bind_int64(st, 4, w->step_started);
	sqlite3_bind_int64(st, 5, w->updated);
	bind_text(st, 6, w->reason);
	return run(q, st, err, "wave update");
}

static int wave_fetch(struct sq *q, sqlite3_stmt *st, struct bw_wave_rec *out,
		      uint8_t **charter, size_t *len, struct bw_err *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		wave_row(st, out);
		if (charter) {
			size_t n = (size_t)sqlite3_column_bytes(st, 8);

			*charter = malloc(n ? n : 1);
			if (!*charter) {
				sqlite3_reset(st);
				return bw_err_set(err, BW_ENOMEM, "no memory");
			}
			if (n)
				memcpy(*charter, sqlite3_column_blob(st, 8), n);
			*len = n;
		}
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? bw_err_set(err, BW_ENOTFOUND, "no such wave")
				 : db_err(q, err, "wave get");
}

static int sq_wave_get(struct bw_store *s, const char *name,
		       struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		       struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WAVE_GET, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, name);
	return wave_fetch(q, st, out, charter, len, err);
}

static int sq_wave_active(struct bw_store *s, const char *tag,
			  struct bw_wave_rec *out, uint8_t **charter,
			  size_t *len, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WAVE_ACTIVE, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, tag);
	return wave_fetch(q, st, out, charter, len, err);
}

static json_t *wave_row_json(sqlite3_stmt *st)
{
	struct bw_wave_rec w;

	wave_row(st, &w);
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "name", w.name,
			 "tag", w.tag, "state",
			 w.state >= 1 && w.state <= 5 ? wave_state_names[w.state]
						      : "?",
			 "step", (json_int_t)w.step, "step-started",
			 (json_int_t)w.step_started, "created",
			 (json_int_t)w.created, "updated", (json_int_t)w.updated,
			 "reason", w.reason);
}

static int sq_wave_list(struct bw_store *s, int active_only, json_t **out,
			struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st =
	    stmt(q, active_only ? S_WAVE_LIST_ACTIVE : S_WAVE_LIST, err);

	if (!st)
		return BW_EIO;
	return collect(q, st, wave_row_json, out, err);
}

static int sq_wave_device_get(struct bw_store *s, const char *wave,
			      const char *uuid, struct bw_wave_dev_rec *out,
			      struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WDEV_GET, err);
	int rc;

	if (!st)
		return BW_EIO;
	bind_text(st, 1, wave);
	bind_text(st, 2, uuid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		col_copy(st, 0, out->wave, sizeof(out->wave));
		col_copy(st, 1, out->uuid, sizeof(out->uuid));
		out->step = sqlite3_column_int64(st, 2);
		out->admitted = sqlite3_column_int64(st, 3);
		out->outcome = sqlite3_column_int(st, 4);
		out->reported = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE
		   ? bw_err_set(err, BW_ENOTFOUND, "device not in wave")
		   : db_err(q, err, "wave device get");
}

static int sq_wave_device_put(struct bw_store *s,
			      const struct bw_wave_dev_rec *d,
			      struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WDEV_PUT, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, d->wave);
	bind_text(st, 2, d->uuid);
	sqlite3_bind_int64(st, 3, d->step);
	sqlite3_bind_int64(st, 4, d->admitted);
	sqlite3_bind_int(st, 5, d->outcome);
	sqlite3_bind_int64(st, 6, d->reported);
	return run(q, st, err, "wave device put");
}

static int sq_wave_counts(struct bw_store *s, const char *wave,
			  int64_t silent_before,
			  struct bw_wave_step_counts *out, size_t nsteps,
			  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WDEV_COUNTS, err);
	int rc;

	memset(out, 0, nsteps * sizeof(*out));
	if (!st)
		return BW_EIO;
	bind_text(st, 1, wave);
	sqlite3_bind_int64(st, 2, silent_before);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t step = sqlite3_column_int64(st, 0);

		if (step < 0 || (uint64_t)step >= nsteps)
			continue; /* a row no charter step names counts nowhere */
		out[step].admitted = sqlite3_column_int64(st, 1);
		out[step].succeeded = sqlite3_column_int64(st, 2);
		out[step].failed = sqlite3_column_int64(st, 3);
		out[step].silent = sqlite3_column_int64(st, 4);
		out[step].pending = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_err(q, err, "wave counts");
}

static int sq_wave_admitted_since(struct bw_store *s, const char *wave,
				  int64_t since, int64_t *n,
				  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WDEV_SINCE, err);
	int rc;

	*n = 0;
	if (!st)
		return BW_EIO;
	bind_text(st, 1, wave);
	sqlite3_bind_int64(st, 2, since);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_err(q, err, "wave admissions");
}

static int sq_wave_log_add(struct bw_store *s, const char *wave, int64_t now,
			   const char *entry_json, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WLOG_ADD, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, wave);
	sqlite3_bind_int64(st, 2, now);
	bind_text(st, 3, entry_json);
	return run(q, st, err, "wave log add");
}

static json_t *wave_log_row_json(sqlite3_stmt *st)
{
	const unsigned char *t = sqlite3_column_text(st, 1);
	json_t *entry = t ? json_loadb((const char *)t,
				       (size_t)sqlite3_column_bytes(st, 1), 0,
				       NULL)
			  : NULL;

	return json_pack("{s:I,s:o}", "time",
			 (json_int_t)sqlite3_column_int64(st, 0), "entry",
			 entry ? entry : json_null());
}

static int sq_wave_log(struct bw_store *s, const char *wave, json_t **out,
		       struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_WLOG_LIST, err);

	if (!st)
		return BW_EIO;
	bind_text(st, 1, wave);
	return collect(q, st, wave_log_row_json, out, err);
}

/* ---- transparency log ------------------------------------------------ */

static int sq_tlog_size(struct bw_store *s, uint64_t *out, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_SIZE, err);
	int rc;

	*out = 0;
	if (!st)
		return BW_EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) >= 0)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_err(q, err, "tlog size");
}

static int sq_tlog_leaf_add(struct bw_store *s, uint64_t index,
			    const uint8_t *entry, size_t len, int64_t now,
			    struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_LEAF_ADD, err);

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, (int64_t)index);
	sqlite3_bind_blob(st, 2, entry, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	return run(q, st, err, "tlog leaf add");
}

/* Step a one-row query whose column col is a blob; copy it out. */
static int one_blob(struct sq *q, sqlite3_stmt *st, int col, size_t max,
		    uint8_t **out, size_t *len, int64_t *col0,
		    struct bw_err *err, const char *what)
{
	int rc = sqlite3_step(st);
	size_t n;

	*out = NULL;
	*len = 0;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return bw_err_set(err, BW_ENOTFOUND, "%s: not found", what);
	}
	if (rc != SQLITE_ROW) {
		rc = db_err(q, err, what);
		sqlite3_reset(st);
		return rc;
	}
	if (col0)
		*col0 = sqlite3_column_int64(st, 0);
	n = (size_t)sqlite3_column_bytes(st, col);
	if (n > max) {
		sqlite3_reset(st);
		return bw_err_set(err, BW_ETOOBIG, "%s: %zu bytes", what, n);
	}
	*out = malloc(n + 1);
	if (!*out) {
		sqlite3_reset(st);
		return BW_ENOMEM;
	}
	if (n)
		memcpy(*out, sqlite3_column_blob(st, col), n);
	(*out)[n] = 0;
	*len = n;
	sqlite3_reset(st);
	return 0;
}

static int sq_tlog_leaf_get(struct bw_store *s, uint64_t index, size_t max,
			    uint8_t **entry, size_t *len, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_LEAF_GET, err);

	*entry = NULL;
	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, (int64_t)index);
	return one_blob(q, st, 0, max, entry, len, NULL, err, "tlog entry");
}

static int sq_tlog_node_put(struct bw_store *s, int level, uint64_t index,
			    const uint8_t hash[32], struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_NODE_PUT, err);

	if (!st)
		return BW_EIO;
	sqlite3_bind_int(st, 1, level);
	sqlite3_bind_int64(st, 2, (int64_t)index);
	sqlite3_bind_blob(st, 3, hash, 32, SQLITE_TRANSIENT);
	return run(q, st, err, "tlog node put");
}

static int sq_tlog_node_get(struct bw_store *s, int level, uint64_t index,
			    uint8_t out[32], struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_NODE_GET, err);
	int rc;

	if (!st)
		return BW_EIO;
	sqlite3_bind_int(st, 1, level);
	sqlite3_bind_int64(st, 2, (int64_t)index);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(out, sqlite3_column_blob(st, 0), 32);
		rc = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = bw_err_set(err, BW_ENOTFOUND, "tlog: tree node %d/%llu "
				"missing or damaged", level,
				(unsigned long long)index);
	} else {
		rc = db_err(q, err, "tlog node get");
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_tlog_checkpoint_put(struct bw_store *s, uint64_t size,
				  const char *note, size_t len, int64_t now,
				  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_CP_PUT, err);

	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, (int64_t)size);
	sqlite3_bind_blob(st, 2, note, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	return run(q, st, err, "tlog checkpoint put");
}

static int sq_tlog_checkpoint_get(struct bw_store *s, int64_t size,
				  uint64_t *out_size, char **note, size_t *len,
				  struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, size < 0 ? S_TLOG_CP_LATEST : S_TLOG_CP_GET,
				err);
	int64_t n = 0;
	int rc;

	*note = NULL;
	*out_size = 0;
	if (!st)
		return BW_EIO;
	if (size >= 0)
		sqlite3_bind_int64(st, 1, size);
	rc = one_blob(q, st, 1, 65536, (uint8_t **)note, len, &n, err,
		      "tlog checkpoint");
	if (rc == 0)
		*out_size = (uint64_t)n;
	return rc;
}

static int sq_tlog_checkpoint_witnessed(struct bw_store *s, uint64_t min,
				       uint64_t *out_size, char **note,
				       size_t *len, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_CP_WIT, err);
	int64_t n = 0;
	int rc;

	*note = NULL;
	*out_size = 0;
	if (!st)
		return BW_EIO;
	sqlite3_bind_int64(st, 1, (int64_t)min);
	rc = one_blob(q, st, 1, 65536, (uint8_t **)note, len, &n, err,
		      "witnessed checkpoint");
	if (rc == 0)
		*out_size = (uint64_t)n;
	return rc;
}

static int sq_tlog_find_digest(struct bw_store *s, const char *hex,
			       uint64_t *index, struct bw_err *err)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, S_TLOG_FIND, err);
	char pat[96];
	int rc;

	if (!st)
		return BW_EIO;
	snprintf(pat, sizeof(pat), "sha256\":\"%.64s\"", hex);
	bind_text(st, 1, pat);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*index = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? bw_err_set(err, BW_ENOTFOUND, "not in "
					      "the log")
				 : db_err(q, err, "tlog find");
}

static const struct bw_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .begin_light = sq_begin_light,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .savepoint_release = sq_savepoint_release,
    .savepoint_undo = sq_savepoint_undo,
    .device_get = sq_device_get,
    .device_put = sq_device_put,
    .device_note = sq_device_note,
    .device_list = sq_device_list,
    .device_expiring = sq_device_expiring,
    .deny_set = sq_deny_set,
    .deny_has = sq_deny_has,
    .deny_list = sq_deny_list,
    .event_add = sq_event_add,
    .event_trim = sq_event_trim,
    .event_list = sq_event_list,
    .token_add = sq_token_add,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .token_use = sq_token_use,
    .meta_put = sq_meta_put,
    .meta_get = sq_meta_get,
    .meta_heads = sq_meta_heads,
    .crl_put = sq_crl_put,
    .crl_list = sq_crl_list,
    .ca_put = sq_ca_put,
    .ca_list = sq_ca_list,
    .identity_changes = sq_identity_changes,
    .rotation_add = sq_rotation_add,
    .rotation_pending = sq_rotation_pending,
    .rotation_by_fp = sq_rotation_by_fp,
    .rotation_finish = sq_rotation_finish,
    .rotation_list = sq_rotation_list,
    .cert_deny_add = sq_cert_deny_add,
    .cert_deny_has = sq_cert_deny_has,
    .rotate_request_set = sq_rotate_request_set,
    .rotate_request_get = sq_rotate_request_get,
    .ci_target_add = sq_ci_target_add,
    .device_query = sq_device_query,
    .device_status_set = sq_device_status_set,
    .account_add = sq_account_add,
    .account_list = sq_account_list,
    .account_revoke = sq_account_revoke,
    .account_find = sq_account_find,
    .session_put = sq_session_put,
    .session_get = sq_session_get,
    .session_del = sq_session_del,
    .wave_add = sq_wave_add,
    .wave_update = sq_wave_update,
    .wave_get = sq_wave_get,
    .wave_active = sq_wave_active,
    .wave_list = sq_wave_list,
    .wave_device_get = sq_wave_device_get,
    .wave_device_put = sq_wave_device_put,
    .wave_counts = sq_wave_counts,
    .wave_admitted_since = sq_wave_admitted_since,
    .wave_log_add = sq_wave_log_add,
    .rate_hit = sq_rate_hit,
    .wave_log = sq_wave_log,
    .tlog_size = sq_tlog_size,
    .tlog_leaf_add = sq_tlog_leaf_add,
    .tlog_leaf_get = sq_tlog_leaf_get,
    .tlog_node_put = sq_tlog_node_put,
    .tlog_node_get = sq_tlog_node_get,
    .tlog_checkpoint_put = sq_tlog_checkpoint_put,
    .tlog_checkpoint_get = sq_tlog_checkpoint_get,
    .tlog_checkpoint_witnessed = sq_tlog_checkpoint_witnessed,
    .tlog_find_digest = sq_tlog_find_digest,
    .pki_logged_put = sq_pki_logged_put,
    .pki_logged_get = sq_pki_logged_get,
};

/* ---- open and migrate -------------------------------------------------- */

static int schema_get(struct sq *q, int *version, struct bw_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = exec(q,
		      "CREATE TABLE IF NOT EXISTS schema_version"
		      " (version INTEGER NOT NULL)",
		      err);

	*version = 0;
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(q->db, "SELECT MAX(version) FROM schema_version",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(q, err, "schema version");
	if (sqlite3_step(st) == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Each migration and its version row commit together. */
static int migrate(struct sq *q, struct bw_err *err)
{
	char buf[96];
	int v = 0, rc = 0;

	if ((rc = exec(q, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = schema_get(q, &v, err)))
		goto out;
	if (v > SCHEMA_VERSION) {
		rc = bw_err_set(err, BW_ESTATE,
				"database schema %d is newer than this "
				"bulwarkd (%d)",
				v, SCHEMA_VERSION);
		goto out;
	}
	for (; v < SCHEMA_VERSION; v++) {
		snprintf(buf, sizeof(buf),
			 "INSERT INTO schema_version VALUES (%d)", v + 1);
		if ((rc = exec(q, migrations[v], err)) ||
		    (rc = exec(q, buf, err)))
			goto out;
	}
	rc = exec(q, "COMMIT", err);
out:
	if (rc)
		exec(q, "ROLLBACK", NULL);
	return rc;
}

int bw_store_schema_version(void)
{
	return SCHEMA_VERSION;
}

/* SQLite calls this for every transaction that writes, just before it
 * commits (0: go on). */
static int commit_count(void *arg)
{
	((struct bw_store *)arg)->commits++;
	return 0;
}

int bw_store_sqlite_open(const char *path, struct bw_store **out,
			 struct bw_err *err)
{
	struct bw_store *s = calloc(1, sizeof(*s));
	struct sq *q = calloc(1, sizeof(*q));
	int rc = BW_ENOMEM;

	*out = NULL;
	if (!s || !q)
		goto out;
	s->ops = &sqlite_ops;
	s->backend = q;
	q->queries = &s->queries;
	if (sqlite3_open_v2(path, &q->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", path,
				q->db ? sqlite3_errmsg(q->db) : "open failed");
		goto out;
	}
	sqlite3_busy_timeout(q->db, 5000);
	sqlite3_commit_hook(q->db, commit_count, s);
	if ((rc = exec(q, "PRAGMA journal_mode=WAL", err)) ||
	    (rc = exec(q, "PRAGMA synchronous=FULL", err)) ||
	    (rc = exec(q, "PRAGMA foreign_keys=ON", err)) ||
	    (rc = migrate(q, err)))
		goto out;
	*out = s;
	s = NULL; /* transferred */
	q = NULL;
out:
	if (s)
		sq_close(s);
	else
		free(q);
	return rc;
}

void bw_store_close(struct bw_store *s)
{
	if (s)
		s->ops->close(s);
}
