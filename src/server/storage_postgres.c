/*
 * PostgreSQL backend of the storage ops (storage.h), for several bulwarkd
 * gateways on one shared database. libpq; statements prepared once per
 * connection; schema migrations in a table, applied under an advisory
 * lock so gateways starting together migrate once.
 *
 * Failover: the connection string may name several hosts with
 * target_session_attrs=read-write (libpq picks the primary). A lost
 * connection is re-established by the next operation outside a
 * transaction (PQreset walks the host list again); an operation inside a
 * transaction fails and the caller's rollback discards it, so nothing is
 * acknowledged that was not committed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bulwark/buf.h"
#include "bulwark/identity.h"
#include "storage.h"
#include "storage_stmt.h"

/* Same versions as the SQLite schema: entry N-1 brings a database to N. */
static const char *const migrations[] = {
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
};
#define PG_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Every writer that needs the SQLite "BEGIN IMMEDIATE" guarantee (one
 * write transaction at a time: uploads, registrations, deny-list) takes
 * this transaction-scoped advisory lock. */
#define WRITE_LOCK_KEY "4242001"
/* Held while migrating, so gateways starting together migrate once. */
#define MIGRATE_LOCK_KEY "4242002"

static const char *const sql[S_NSTMT] = {
    [S_ID_CHANGES] = "SELECT n FROM identity_changes WHERE id = 1",
    [S_DEV_GET] = "SELECT uuid, production, name, hwid, tag, target,"
		  " fingerprint, first_seen, last_seen, registered, ca_name,"
		  " ca_fingerprint, serial FROM devices WHERE uuid = $1",
    [S_DEV_PUT] = "INSERT INTO devices (uuid, production, name, hwid, tag,"
		  " target, fingerprint, first_seen, last_seen, registered,"
		  " ca_name, ca_fingerprint, serial) VALUES ($1, $2, $3, $4,"
		  " $5, $6, $7, $8, $9, $10, $11, $12, $13)"
		  " ON CONFLICT (uuid) DO UPDATE SET production = $2,"
		  " name = $3, hwid = $4, tag = $5, target = $6,"
		  " fingerprint = $7, first_seen = $8, last_seen = $9,"
		  " registered = $10, ca_name = $11, ca_fingerprint = $12,"
		  " serial = $13",
    [S_DEV_LIST] = "SELECT uuid, production, name, hwid, tag, target,"
		   " fingerprint, first_seen, last_seen, registered,"
		   " EXISTS (SELECT 1 FROM deny WHERE deny.uuid = devices.uuid)"
		   "::int, ca_name, ca_fingerprint, serial FROM devices"
		   " WHERE uuid > $1 ORDER BY uuid LIMIT $2",
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
    [S_CA_PUT] = "INSERT INTO device_cas (name, pem, uploaded)"
		 " VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE"
		 " SET pem = $2, uploaded = $3",
    [S_CA_LIST] = "SELECT name, pem FROM device_cas ORDER BY name",
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
    [S_TLOG_CP_GET] = "SELECT size, note FROM tlog_checkpoints"
		      " WHERE size = $1",
};

struct pg {
	PGconn *conn;
	char prepared[S_NSTMT];
	int in_txn;
};

static struct pg *PG(struct bw_store *s)
{
	return s->backend;
}

/* Parameters of one statement: text values, or binary for BYTEA. */
#define PARAMS_MAX 10
struct params {
	const char *v[PARAMS_MAX];
	int len[PARAMS_MAX];
	int fmt[PARAMS_MAX];
	char num[PARAMS_MAX][24];
	int n;
};

static void p_text(struct params *p, const char *v)
{
	p->v[p->n] = v;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void p_i64(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	p_text(p, p->num[p->n]);
}

static void p_bin(struct params *p, const uint8_t *v, size_t len)
{
	p->v[p->n] = (const char *)v;
	p->len[p->n] = (int)len;
	p->fmt[p->n++] = 1;
}

static int pg_err(struct pg *q, const PGresult *r, struct bw_err *err,
		  const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorMessage(r) : "";

	if (!msg || !msg[0])
		msg = PQerrorMessage(q->conn);
	/* class 23: integrity constraint violation */
	if (state && strncmp(state, "23", 2) == 0)
		return bw_err_set(err, BW_EEXIST, "%s: %.200s", what, msg);
	return bw_err_set(err, BW_EIO, "%s: %.200s", what, msg);
}

/* The connection is gone: reconnect (libpq tries every host of the
 * connection string again). Prepared statements died with it. */
static int reconnect(struct pg *q)
{
	PQreset(q->conn);
	memset(q->prepared, 0, sizeof(q->prepared));
	return PQstatus(q->conn) == CONNECTION_OK ? 0 : -1;
}

static PGresult *exec_once(struct pg *q, enum bw_store_stmt id,
			   const struct params *p)
{
	char name[16];
	PGresult *r = NULL;

	snprintf(name, sizeof(name), "bw%d", (int)id);
	if (!q->prepared[id]) {
		r = PQprepare(q->conn, name, sql[id], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return r;
		PQclear(r);
		q->prepared[id] = 1;
	}
	return PQexecPrepared(q->conn, name, p->n, p->v, p->len, p->fmt, 0);
}

/*
 * Run a prepared statement; *out (when not NULL) receives the result,
 * which the caller clears. Outside a transaction a lost connection is
 * re-made and the statement tried once more; inside one the error goes to
 * the caller, who rolls back.
 */
static int xq(struct pg *q, enum bw_store_stmt id, const struct params *p,
	      PGresult **out, struct bw_err *err, const char *what)
{
	PGresult *r = exec_once(q, id, p);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (out)
		*out = NULL;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    PQstatus(q->conn) == CONNECTION_BAD && !q->in_txn &&
	    reconnect(q) == 0) {
		PQclear(r);
		r = exec_once(q, id, p);
		st = PQresultStatus(r);
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		rc = pg_err(q, r, err, what);
		PQclear(r);
		return rc;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static void col_copy(const PGresult *r, int row, int col, char *dst,
		     size_t size)
{
	size_t n = (size_t)PQgetlength(r, row, col);

	if (n >= size)
		n = size - 1;
	memcpy(dst, PQgetvalue(r, row, col), n);
	dst[n] = '\0';
}

/* Integers come back as text; a value that is not one reads as 0. */
static int64_t col_i64(const PGresult *r, int row, int col)
{
	const char *v = PQgetvalue(r, row, col);
	char *end = NULL;
	long long n = 0;

	errno = 0;
	n = strtoll(v, &end, 10);
	return (errno || end == v || *end) ? 0 : (int64_t)n;
}

static json_t *col_json_str(const PGresult *r, int row, int col)
{
	return json_stringn(PQgetvalue(r, row, col),
			    (size_t)PQgetlength(r, row, col));
}

/* A BYTEA column (text result, hex format) as a malloc'd, NUL-terminated
 * buffer. */
static uint8_t *col_bytes(const PGresult *r, int row, int col, size_t *len)
{
	size_t n = 0;
	unsigned char *raw =
	    PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	uint8_t *out = NULL;

	*len = 0;
	if (!raw)
		return NULL;
	if ((out = malloc(n + 1)) != NULL) {
		memcpy(out, raw, n);
		out[n] = 0;
		*len = n;
	}
	PQfreemem(raw);
	return out;
}

static json_t *col_json_bytes(const PGresult *r, int row, int col)
{
	size_t n = 0;
	uint8_t *b = col_bytes(r, row, col, &n);
	json_t *j = b ? json_stringn((const char *)b, n) : NULL;

	free(b);
	return j;
}

/* Every row of r through rowfn into a new array. */
static int collect(PGresult *r, json_t *(*rowfn)(const PGresult *, int),
		   json_t **out)
{
	json_t *arr = json_array();
	int rc = BW_ENOMEM;

	*out = NULL;
	if (!arr)
		goto out;
	for (int i = 0; i < PQntuples(r); i++)
		if (json_array_append_new(arr, rowfn(r, i)))
			goto out;
	*out = arr;
	arr = NULL; /* transferred */
	rc = 0;
out:
	PQclear(r);
	json_decref(arr);
	return rc;
}

static int list(struct pg *q, enum bw_store_stmt id, const struct params *p,
		json_t *(*rowfn)(const PGresult *, int), json_t **out,
		struct bw_err *err)
{
	PGresult *r = NULL;
	int rc = xq(q, id, p, &r, err, "list");

	*out = NULL;
	return rc ? rc : collect(r, rowfn, out);
}

/* ---- lifecycle and transactions --------------------------------------- */

static int exec(struct pg *q, const char *s, struct bw_err *err)
{
	PGresult *r = PQexec(q->conn, s);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pg_err(q, r, err, "postgresql");
	PQclear(r);
	return rc;
}

static void pg_close(struct bw_store *s)
{
	struct pg *q = PG(s);

	if (q)
		PQfinish(q->conn);
	free(q);
	free(s);
}

static int begin_with(struct bw_store *s, const char *stmts, struct bw_err *err)
{
	struct pg *q = PG(s);
	int rc = 0;

	if (PQstatus(q->conn) == CONNECTION_BAD && reconnect(q) != 0)
		return bw_err_set(err, BW_EIO, "postgresql: %.200s",
				  PQerrorMessage(q->conn));
	rc = exec(q, stmts, err);
	if (rc && PQstatus(q->conn) == CONNECTION_BAD && reconnect(q) == 0)
		rc = exec(q, stmts, err);
	if (rc) {
		exec(q, "ROLLBACK", NULL);
		return rc;
	}
	q->in_txn = 1;
	return 0;
}

static int pg_begin(struct bw_store *s, struct bw_err *err)
{
	return begin_with(
	    s, "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK_KEY ")", err);
}

/*
 * Telemetry (last-seen times, events): no write lock (idempotent upserts,
 * so gateways do not queue behind each other), and the commit waits for
 * the local WAL write and, with synchronous replication, for the standby
 * to have received it (remote_write) but not for its fsync: an
 * acknowledged event survives the loss of the primary (failover); only
 * losing both hosts at once may lose the last moments.
 */
static int pg_begin_light(struct bw_store *s, struct bw_err *err)
{
	return begin_with(s,
			  "BEGIN; SET LOCAL synchronous_commit = remote_write",
			  err);
}

static int pg_commit(struct bw_store *s, struct bw_err *err)
{
	struct pg *q = PG(s);
	PGresult *r = PQexec(q->conn, "COMMIT");
	int rc = 0;

	/* a failed transaction's COMMIT answers ROLLBACK, not an error */
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_err(q, r, err, "commit");
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = bw_err_set(err, BW_EIO, "commit: transaction aborted");
	PQclear(r);
	q->in_txn = 0;
	return rc;
}

static void pg_rollback(struct bw_store *s)
{
	struct pg *q = PG(s);

	if (q->in_txn && PQstatus(q->conn) == CONNECTION_OK)
		exec(q, "ROLLBACK", NULL);
	q->in_txn = 0;
}

/* ---- devices ----------------------------------------------------------- */

static int pg_device_get(struct bw_store *s, const char *uuid,
			 struct bw_device_rec *d, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	p_text(&p, uuid);
	if ((rc = xq(PG(s), S_DEV_GET, &p, &r, err, "device get")))
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "unknown device");
	}
	col_copy(r, 0, 0, d->uuid, sizeof(d->uuid));
	d->production = col_i64(r, 0, 1) != 0;
	col_copy(r, 0, 2, d->name, sizeof(d->name));
	col_copy(r, 0, 3, d->hwid, sizeof(d->hwid));
	col_copy(r, 0, 4, d->tag, sizeof(d->tag));
	col_copy(r, 0, 5, d->target, sizeof(d->target));
	col_copy(r, 0, 6, d->fingerprint, sizeof(d->fingerprint));
	d->first_seen = col_i64(r, 0, 7);
	d->last_seen = col_i64(r, 0, 8);
	d->registered = col_i64(r, 0, 9);
	col_copy(r, 0, 10, d->ca_name, sizeof(d->ca_name));
	col_copy(r, 0, 11, d->ca_fingerprint, sizeof(d->ca_fingerprint));
	col_copy(r, 0, 12, d->serial, sizeof(d->serial));
	PQclear(r);
	return 0;
}

static int pg_device_put(struct bw_store *s, const struct bw_device_rec *d,
			 struct bw_err *err)
{
	struct params p = {.n = 0};

	/* records hold canonical UUIDs only (bulwark/identity.h) */
	if (!bw_identity_uuid_is_canonical(d->uuid))
		return bw_err_set(err, BW_EINVAL, "device uuid not canonical");
	p_text(&p, d->uuid);
	p_i64(&p, d->production ? 1 : 0);
	p_text(&p, d->name);
	p_text(&p, d->hwid);
	p_text(&p, d->tag);
	p_text(&p, d->target);
	p_text(&p, d->fingerprint);
	p_i64(&p, d->first_seen);
	p_i64(&p, d->last_seen);
	p_i64(&p, d->registered);
	p_text(&p, d->ca_name);
	p_text(&p, d->ca_fingerprint);
	p_text(&p, d->serial);
	return xq(PG(s), S_DEV_PUT, &p, NULL, err, "device put");
}

static json_t *device_row_json(const PGresult *r, int i)
{
	return json_pack(
	    "{s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:b,s:o,s:o,s:o}", "uuid",
	    col_json_str(r, i, 0), "production", (int)(col_i64(r, i, 1) != 0),
	    "name", col_json_str(r, i, 2), "hardware-id", col_json_str(r, i, 3),
	    "tag", col_json_str(r, i, 4), "target", col_json_str(r, i, 5),
	    "fingerprint", col_json_str(r, i, 6), "first-seen",
	    (json_int_t)col_i64(r, i, 7), "last-seen",
	    (json_int_t)col_i64(r, i, 8), "registered",
	    (json_int_t)col_i64(r, i, 9), "denied",
	    (int)(col_i64(r, i, 10) != 0), "ca", col_json_str(r, i, 11),
	    "ca-fingerprint", col_json_str(r, i, 12), "serial",
	    col_json_str(r, i, 13));
}

static int pg_device_list(struct bw_store *s, const char *after, int64_t limit,
			  json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, after ? after : "");
	p_i64(&p, limit);
	return list(PG(s), S_DEV_LIST, &p, device_row_json, out, err);
}

/* ---- deny-list --------------------------------------------------------- */

static int pg_deny_set(struct bw_store *s, const char *uuid, int deny,
		       const char *reason, int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};

	if (!bw_identity_uuid_is_canonical(uuid))
		return bw_err_set(err, BW_EINVAL, "device uuid not canonical");
	p_text(&p, uuid);
	if (deny) {
		p_text(&p, reason ? reason : "");
		p_i64(&p, now);
	}
	return xq(PG(s), deny ? S_DENY_ADD : S_DENY_DEL, &p, NULL, err,
		  "deny-list");
}

static int pg_deny_has(struct bw_store *s, const char *uuid, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, uuid);
	if ((rc = xq(PG(s), S_DENY_HAS, &p, &r, err, "deny-list lookup")))
		return rc;
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

static json_t *deny_row_json(const PGresult *r, int i)
{
	return json_pack("{s:o,s:o,s:I}", "uuid", col_json_str(r, i, 0),
			 "reason", col_json_str(r, i, 1), "since",
			 (json_int_t)col_i64(r, i, 2));
}

static int pg_deny_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return list(PG(s), S_DENY_LIST, &p, deny_row_json, out, err);
}

/* ---- events ------------------------------------------------------------- */

static int pg_event_add(struct bw_store *s, const char *uuid,
			const char *event_id, const char *event_type,
			int64_t received, const uint8_t *json, size_t len,
			struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, uuid);
	p_text(&p, event_id);
	p_text(&p, event_type);
	p_i64(&p, received);
	p_bin(&p, json, len);
	return xq(PG(s), S_EV_ADD, &p, NULL, err, "event add");
}

static int pg_event_trim(struct bw_store *s, const char *uuid, int64_t keep,
			 struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, uuid);
	p_i64(&p, keep);
	return xq(PG(s), S_EV_TRIM, &p, NULL, err, "event trim");
}

static json_t *event_row_json(const PGresult *r, int i)
{
	size_t n = 0;
	uint8_t *b = col_bytes(r, i, 2, &n);
	json_t *ev = b ? json_loadb((const char *)b, n, 0, NULL) : NULL;

	free(b);
	return json_pack("{s:o,s:I,s:o}", "device", col_json_str(r, i, 0),
			 "received", (json_int_t)col_i64(r, i, 1), "event",
			 ev ? ev : json_null());
}

static int pg_event_list(struct bw_store *s, const char *uuid, int64_t limit,
			 json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, limit);
	if (uuid)
		p_text(&p, uuid);
	return list(PG(s), uuid ? S_EV_LIST_DEV : S_EV_LIST_ALL, &p,
		    event_row_json, out, err);
}

/* ---- registration tokens ---------------------------------------------- */

static int pg_token_add(struct bw_store *s, const char *hash_hex,
			const char *scope, int64_t expires, int64_t uses,
			const char *comment, int64_t now, int64_t *id,
			struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, hash_hex);
	p_text(&p, scope);
	p_i64(&p, expires);
	p_i64(&p, uses);
	p_i64(&p, now);
	p_text(&p, comment ? comment : "");
	if ((rc = xq(PG(s), S_TOK_ADD, &p, &r, err, "token add")))
		return rc;
	if (id)
		*id = PQntuples(r) == 1 ? col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static json_t *token_row_json(const PGresult *r, int i)
{
	return json_pack(
	    "{s:I,s:o,s:I,s:I,s:I,s:b,s:o}", "id", (json_int_t)col_i64(r, i, 0),
	    "scope", col_json_str(r, i, 1), "expires",
	    (json_int_t)col_i64(r, i, 2), "uses-left",
	    (json_int_t)col_i64(r, i, 3), "created",
	    (json_int_t)col_i64(r, i, 4), "revoked",
	    (int)(col_i64(r, i, 5) != 0), "comment", col_json_str(r, i, 6));
}

static int pg_token_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return list(PG(s), S_TOK_LIST, &p, token_row_json, out, err);
}

static int pg_token_revoke(struct bw_store *s, int64_t id, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_i64(&p, id);
	if ((rc = xq(PG(s), S_TOK_REVOKE, &p, &r, err, "token revoke")))
		return rc;
	rc = strcmp(PQcmdTuples(r), "0") == 0
		 ? bw_err_set(err, BW_ENOTFOUND, "no token %lld", (long long)id)
		 : 0;
	PQclear(r);
	return rc;
}

static int pg_token_use(struct bw_store *s, const char *hash_hex, int64_t now,
			struct bw_token_use *out, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int64_t expires = 0, uses = 0, revoked = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	p_text(&p, hash_hex);
	if ((rc = xq(PG(s), S_TOK_FIND, &p, &r, err, "token lookup")))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "unknown token");
	}
	out->id = col_i64(r, 0, 0);
	col_copy(r, 0, 1, out->scope, sizeof(out->scope));
	expires = col_i64(r, 0, 2);
	uses = col_i64(r, 0, 3);
	revoked = col_i64(r, 0, 4);
	PQclear(r);
	if (revoked)
		return bw_err_set(err, BW_ENOTFOUND, "token revoked");
	if (expires <= now)
		return bw_err_set(err, BW_EEXPIRED, "token expired");
	if (uses == 0)
		return bw_err_set(err, BW_EEXPIRED, "token used up");
	if (uses < 0)
		return 0;
	p.n = 0;
	p_i64(&p, out->id);
	return xq(PG(s), S_TOK_DEC, &p, NULL, err, "token use");
}

/* ---- metadata ------------------------------------------------------------ */

static int pg_meta_put(struct bw_store *s, const struct bw_meta_rec *m,
		       int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};
	int rc = 0;

	p_text(&p, m->flavour);
	p_text(&p, m->tag);
	p_text(&p, m->role);
	p_i64(&p, m->version);
	p_i64(&p, m->expires);
	p_text(&p, m->sha256);
	p_bin(&p, m->data, m->len);
	p_i64(&p, now);
	rc = xq(PG(s), S_META_PUT, &p, NULL, err, "metadata put");
	if (rc == 0)
		s->meta_writes++;
	return rc;
}

static int pg_meta_get(struct bw_store *s, const char *flavour, const char *tag,
		       const char *role, int64_t version, struct bw_meta_rec *m,
		       struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	p_text(&p, flavour);
	p_text(&p, tag);
	p_text(&p, role);
	if (version)
		p_i64(&p, version);
	if ((rc = xq(PG(s), version ? S_META_GET : S_META_LATEST, &p, &r, err,
		     "metadata get")))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "no %s metadata", role);
	}
	snprintf(m->flavour, sizeof(m->flavour), "%s", flavour);
	snprintf(m->tag, sizeof(m->tag), "%s", tag);
	snprintf(m->role, sizeof(m->role), "%s", role);
	m->version = col_i64(r, 0, 0);
	m->expires = col_i64(r, 0, 1);
	col_copy(r, 0, 2, m->sha256, sizeof(m->sha256));
	m->data = col_bytes(r, 0, 3, &m->len);
	PQclear(r);
	return m->data ? 0 : BW_ENOMEM;
}

static json_t *head_row_json(const PGresult *r, int i)
{
	return json_pack("{s:o,s:o,s:o,s:I,s:I}", "flavour",
			 col_json_str(r, i, 0), "tag", col_json_str(r, i, 1),
			 "role", col_json_str(r, i, 2), "version",
			 (json_int_t)col_i64(r, i, 3), "expires",
			 (json_int_t)col_i64(r, i, 4));
}

static int pg_meta_heads(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return list(PG(s), S_META_HEADS, &p, head_row_json, out, err);
}

static int pg_ci_target_add(struct bw_store *s, const char *name,
			    uint64_t length, const char *sha256,
			    const char *custom_json, int64_t now,
			    struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, name);
	p_i64(&p, (int64_t)length);
	p_text(&p, sha256);
	p_text(&p, custom_json); /* NULL is SQL NULL */
	p_i64(&p, now);
	return xq(PG(s), S_CI_ADD, &p, NULL, err, "ci target add");
}

static int pg_crl_put(struct bw_store *s, const char *issuer, int64_t number,
		      const uint8_t *pem, size_t len, int64_t now,
		      struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, issuer);
	p_i64(&p, number);
	p_bin(&p, pem, len);
	p_i64(&p, now);
	return xq(PG(s), S_CRL_PUT, &p, NULL, err, "crl put");
}

static json_t *crl_row_json(const PGresult *r, int i)
{
	return json_pack("{s:o,s:I,s:o}", "issuer", col_json_str(r, i, 0),
			 "number", (json_int_t)col_i64(r, i, 1), "pem",
			 col_json_bytes(r, i, 2));
}

static int pg_crl_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return list(PG(s), S_CRL_LIST, &p, crl_row_json, out, err);
}

static int pg_ca_put(struct bw_store *s, const char *name, const uint8_t *pem,
		     size_t len, int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, name);
	p_bin(&p, pem, len);
	p_i64(&p, now);
	return xq(PG(s), S_CA_PUT, &p, NULL, err, "ca put");
}

static json_t *ca_row_json(const PGresult *r, int i)
{
	return json_pack("{s:o,s:o}", "name", col_json_str(r, i, 0), "pem",
			 col_json_bytes(r, i, 1));
}

static int pg_ca_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return list(PG(s), S_CA_LIST, &p, ca_row_json, out, err);
}

static int pg_identity_changes(struct bw_store *s, int64_t *out,
			       struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*out = 0;
	if ((rc = xq(PG(s), S_ID_CHANGES, &p, &r, err, "identity changes")))
		return rc;
	if (PQntuples(r) == 1)
		*out = col_i64(r, 0, 0);
	else
		rc = bw_err_set(err, BW_EIO, "identity changes: no row");
	PQclear(r);
	return rc;
}

/* ---- certificate rotations (EST) ---------------------------------------- */

static int pg_rotation_add(struct bw_store *s, const struct bw_rotation_rec *r,
			   const char *cert_pem, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, r->uuid);
	p_text(&p, r->old_fp);
	p_text(&p, r->new_fp);
	p_text(&p, r->serial);
	p_text(&p, r->issuer);
	p_bin(&p, (const uint8_t *)cert_pem, strlen(cert_pem));
	p_i64(&p, r->requested);
	return xq(PG(s), S_ROT_ADD, &p, NULL, err, "rotation add");
}

static void rotation_row(const PGresult *r, int i, struct bw_rotation_rec *o)
{
	col_copy(r, i, 0, o->uuid, sizeof(o->uuid));
	col_copy(r, i, 1, o->old_fp, sizeof(o->old_fp));
	col_copy(r, i, 2, o->new_fp, sizeof(o->new_fp));
	col_copy(r, i, 3, o->serial, sizeof(o->serial));
	col_copy(r, i, 4, o->issuer, sizeof(o->issuer));
	o->state = (int)col_i64(r, i, 5);
	o->requested = col_i64(r, i, 6);
	o->finished = col_i64(r, i, 7);
}

/* One row of S_ROT_PENDING / S_ROT_BY_FP. */
static int rotation_one(struct pg *q, enum bw_store_stmt id, const char *key,
			struct bw_rotation_rec *out, char **cert_pem,
			struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	size_t n = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (cert_pem)
		*cert_pem = NULL;
	p_text(&p, key);
	if ((rc = xq(q, id, &p, &r, err, "rotation get")))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "no such rotation");
	}
	rotation_row(r, 0, out);
	if (cert_pem)
		*cert_pem = (char *)col_bytes(r, 0, 8, &n);
	PQclear(r);
	return cert_pem && !*cert_pem ? BW_ENOMEM : 0;
}

static int pg_rotation_pending(struct bw_store *s, const char *uuid,
			       struct bw_rotation_rec *out, char **cert_pem,
			       struct bw_err *err)
{
	return rotation_one(PG(s), S_ROT_PENDING, uuid, out, cert_pem, err);
}

static int pg_rotation_by_fp(struct bw_store *s, const char *new_fp,
			     struct bw_rotation_rec *out, struct bw_err *err)
{
	return rotation_one(PG(s), S_ROT_BY_FP, new_fp, out, NULL, err);
}

static int pg_rotation_finish(struct bw_store *s, const char *new_fp, int state,
			      int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, new_fp);
	p_i64(&p, state);
	p_i64(&p, now);
	if ((rc = xq(PG(s), S_ROT_FINISH, &p, &r, err, "rotation finish")))
		return rc;
	rc = strcmp(PQcmdTuples(r), "1") == 0
		 ? 0
		 : bw_err_set(err, BW_ENOTFOUND, "no pending rotation");
	PQclear(r);
	return rc;
}

static const char *const rot_state_names[] = {"", "pending", "completed",
					      "superseded"};

static json_t *rotation_row_json(const PGresult *r, int i)
{
	int64_t state = col_i64(r, i, 5);

	return json_pack(
	    "{s:o,s:s,s:o,s:o,s:o,s:o,s:I,s:I}", "uuid", col_json_str(r, i, 0),
	    "state", state >= 1 && state <= 3 ? rot_state_names[state] : "?",
	    "old-fingerprint", col_json_str(r, i, 1), "new-fingerprint",
	    col_json_str(r, i, 2), "serial", col_json_str(r, i, 3), "issuer",
	    col_json_str(r, i, 4), "requested", (json_int_t)col_i64(r, i, 6),
	    "finished", (json_int_t)col_i64(r, i, 7));
}

static int pg_rotation_list(struct bw_store *s, int state, int64_t limit,
			    json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, limit);
	if (state)
		p_i64(&p, state);
	return list(PG(s), state ? S_ROT_LIST_STATE : S_ROT_LIST, &p,
		    rotation_row_json, out, err);
}

static int pg_cert_deny_add(struct bw_store *s, const char *fp,
			    const char *uuid, const char *reason, int64_t now,
			    struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, fp);
	p_text(&p, uuid);
	p_text(&p, reason);
	p_i64(&p, now);
	return xq(PG(s), S_CDENY_ADD, &p, NULL, err, "cert deny add");
}

static int pg_cert_deny_has(struct bw_store *s, const char *fp,
			    struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, fp);
	if ((rc = xq(PG(s), S_CDENY_HAS, &p, &r, err, "cert deny has")))
		return rc;
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

static int pg_rotate_request_set(struct bw_store *s, const char *kind,
				 const char *name, int64_t now,
				 struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, kind);
	p_text(&p, name);
	p_i64(&p, now);
	return xq(PG(s), S_RREQ_SET, &p, NULL, err, "rotate request");
}

static int pg_rotate_request_get(struct bw_store *s, const char *kind,
				 const char *name, int64_t *when,
				 struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*when = 0;
	p_text(&p, kind);
	p_text(&p, name);
	if ((rc = xq(PG(s), S_RREQ_GET, &p, &r, err, "rotate request get")))
		return rc;
	if (PQntuples(r) == 1)
		*when = col_i64(r, 0, 0);
	else
		rc = bw_err_set(err, BW_ENOTFOUND, "no rotate request");
	PQclear(r);
	return rc;
}

/* ---- the fleet page: filtered device pages, accounts, sessions ---------- */

static json_t *device_status_row_json(const PGresult *r, int i)
{
	json_t *o = device_row_json(r, i);

	if (o) {
		json_object_set_new(o, "status", col_json_str(r, i, 14));
		json_object_set_new(o, "rotation-pending",
				    json_boolean(col_i64(r, i, 15) != 0));
	}
	return o;
}

/* The end of a prefix range: "abc" -> "abd" (bytes; "" if none). */
static void prefix_end(const char *p, char *out, size_t size)
{
	size_t n = strlen(p);

	snprintf(out, size, "%s", p);
	while (n > 0 && (unsigned char)out[n - 1] == 0xff)
		out[--n] = '\0';
	if (n > 0)
		out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
}

/* Append " AND <col> <op> $n" for the parameter added last. */
static int where(struct bw_buf *b, const struct params *p, const char *col,
		 const char *op)
{
	char frag[96];

	snprintf(frag, sizeof(frag), " AND %s %s $%d", col, op, p->n);
	return bw_buf_append_str(b, frag);
}

/*
 * Built from fixed fragments only (every value is a parameter), so each
 * filter can use its index (status and tag: (column, uuid) for keyset
 * paging; name; last_seen). Run unprepared: the filters vary.
 */
static int pg_device_query(struct bw_store *s, const struct bw_device_query *dq,
			   json_t **out, struct bw_err *err)
{
	struct pg *q = PG(s);
	struct params p = {.n = 0};
	struct bw_buf sqlb;
	PGresult *r = NULL;
	char end[BW_STORE_NAME_MAX + 2], limit[32];
	int rc = 0;

	*out = NULL;
	bw_buf_init(&sqlb, 4096);
	p_text(&p, dq->after ? dq->after : "");
	rc = bw_buf_append_str(
	    &sqlb,
	    "SELECT uuid, production, name, hwid, tag, target, fingerprint,"
	    " first_seen, last_seen, registered,"
	    " EXISTS (SELECT 1 FROM deny WHERE deny.uuid = devices.uuid)::int,"
	    " ca_name, ca_fingerprint, serial, status,"
	    " EXISTS (SELECT 1 FROM rotations r WHERE r.uuid ="
	    " devices.uuid AND r.state = 1)::int FROM devices WHERE uuid > $1");
	/* at most 6 parameters: within PARAMS_MAX */
	if (!rc && dq->uuid) {
		p_text(&p, dq->uuid);
		rc = where(&sqlb, &p, "uuid", "=");
	}
	if (!rc && dq->uuid_prefix && *dq->uuid_prefix) {
		prefix_end(dq->uuid_prefix, end, sizeof(end));
		p_text(&p, dq->uuid_prefix);
		if (!(rc = where(&sqlb, &p, "uuid", ">=")))
			p_text(&p, end), rc = where(&sqlb, &p, "uuid", "<");
	} else if (!rc && dq->name_prefix && *dq->name_prefix) {
		prefix_end(dq->name_prefix, end, sizeof(end));
		p_text(&p, dq->name_prefix);
		if (!(rc = where(&sqlb, &p, "name", ">=")))
			p_text(&p, end), rc = where(&sqlb, &p, "name", "<");
	}
	if (!rc && dq->tag && *dq->tag) {
		p_text(&p, dq->tag);
		rc = where(&sqlb, &p, "tag", "=");
	}
	if (!rc && dq->production >= 0)
		rc = bw_buf_append_str(&sqlb, dq->production > 0
						  ? " AND production = 1"
						  : " AND production = 0");
	if (!rc && dq->status && !strcmp(dq->status, "denied")) {
		rc = bw_buf_append_str(&sqlb,
				       " AND uuid IN (SELECT uuid FROM deny)");
	} else if (!rc && dq->status && !strcmp(dq->status, "silent")) {
		p_i64(&p, dq->silent_before);
		rc = where(&sqlb, &p, "last_seen", "<");
	} else if (!rc && dq->status && *dq->status) {
		p_text(&p, dq->status);
		rc = where(&sqlb, &p, "status", "=");
	}
	snprintf(limit, sizeof(limit), " ORDER BY uuid LIMIT %lld",
		 (long long)dq->limit);
	if (!rc)
		rc = bw_buf_append_str(&sqlb, limit);
	if (!rc)
		rc = bw_buf_append(&sqlb, "", 1);
	if (rc)
		goto out;
	r = PQexecParams(q->conn, (const char *)sqlb.data, p.n, NULL, p.v,
			 p.len, p.fmt, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_err(q, r, err, "device query");
		PQclear(r);
		goto out;
	}
	rc = collect(r, device_status_row_json, out);
out:
	bw_buf_dispose(&sqlb);
	return rc;
}

static int pg_device_status_set(struct bw_store *s, const char *uuid,
				const char *status, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, uuid);
	p_text(&p, status);
	return xq(PG(s), S_DEV_STATUS, &p, NULL, err, "device status");
}

static int pg_account_add(struct bw_store *s, const char *hash_hex,
			  const char *role, int64_t expires,
			  const char *comment, int64_t now, int64_t *id,
			  struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, hash_hex);
	p_text(&p, role);
	p_i64(&p, expires);
	p_i64(&p, now);
	p_text(&p, comment ? comment : "");
	if ((rc = xq(PG(s), S_ACC_ADD, &p, &r, err, "account add")))
		return rc;
	*id = PQntuples(r) == 1 ? col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static json_t *account_row_json(const PGresult *r, int i)
{
	return json_pack(
	    "{s:I,s:o,s:I,s:I,s:b,s:o}", "id", (json_int_t)col_i64(r, i, 0),
	    "role", col_json_str(r, i, 1), "expires",
	    (json_int_t)col_i64(r, i, 2), "created",
	    (json_int_t)col_i64(r, i, 3), "revoked",
	    (int)(col_i64(r, i, 4) != 0), "comment", col_json_str(r, i, 5));
}

static int pg_account_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return list(PG(s), S_ACC_LIST, &p, account_row_json, out, err);
}

static int pg_account_revoke(struct bw_store *s, int64_t id, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_i64(&p, id);
	if ((rc = xq(PG(s), S_ACC_REVOKE, &p, &r, err, "account revoke")))
		return rc;
	rc = strcmp(PQcmdTuples(r), "0") == 0
		 ? bw_err_set(err, BW_ENOTFOUND, "no such account")
		 : 0;
	PQclear(r);
	return rc;
}

static int pg_account_find(struct bw_store *s, const char *hash_hex,
			   int64_t now, struct bw_account_rec *out,
			   struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	p_text(&p, hash_hex);
	if ((rc = xq(PG(s), S_ACC_FIND, &p, &r, err, "account find")))
		return rc;
	if (PQntuples(r) == 1 && col_i64(r, 0, 3) == 0 &&
	    col_i64(r, 0, 2) > now) {
		out->id = col_i64(r, 0, 0);
		col_copy(r, 0, 1, out->role, sizeof(out->role));
	} else {
		rc = bw_err_set(err, BW_ENOTFOUND, "no such account");
	}
	PQclear(r);
	return rc;
}

static int pg_session_put(struct bw_store *s, const char *hash_hex,
			  const struct bw_session_rec *rec, int64_t now,
			  struct bw_err *err)
{
	struct params p = {.n = 0};
	int rc = 0;

	p_i64(&p, now);
	if ((rc = xq(PG(s), S_SES_EXPIRE, &p, NULL, err, "session expire")))
		return rc;
	p.n = 0;
	p_text(&p, hash_hex);
	p_i64(&p, rec->account);
	p_text(&p, rec->role);
	p_text(&p, rec->csrf);
	p_i64(&p, rec->expires);
	p_i64(&p, now);
	return xq(PG(s), S_SES_PUT, &p, NULL, err, "session put");
}

static int pg_session_get(struct bw_store *s, const char *hash_hex, int64_t now,
			  struct bw_session_rec *out, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	p_text(&p, hash_hex);
	p_i64(&p, now);
	if ((rc = xq(PG(s), S_SES_GET, &p, &r, err, "session get")))
		return rc;
	if (PQntuples(r) == 1) {
		out->account = col_i64(r, 0, 0);
		col_copy(r, 0, 1, out->role, sizeof(out->role));
		col_copy(r, 0, 2, out->csrf, sizeof(out->csrf));
		out->expires = col_i64(r, 0, 3);
	} else {
		rc = bw_err_set(err, BW_ENOTFOUND, "no such session");
	}
	PQclear(r);
	return rc;
}

static int pg_session_del(struct bw_store *s, const char *hash_hex,
			  struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, hash_hex);
	return xq(PG(s), S_SES_DEL, &p, NULL, err, "session delete");
}

/* ---- waves ------------------------------------------------------------- */

static const char *const wave_state_names[] = {
    "?", "running", "paused", "halted", "completed", "cancelled"};

static void wave_row(const PGresult *r, int i, struct bw_wave_rec *w)
{
	memset(w, 0, sizeof(*w));
	col_copy(r, i, 0, w->name, sizeof(w->name));
	col_copy(r, i, 1, w->tag, sizeof(w->tag));
	w->state = (int)col_i64(r, i, 2);
	w->step = col_i64(r, i, 3);
	w->step_started = col_i64(r, i, 4);
	w->created = col_i64(r, i, 5);
	w->updated = col_i64(r, i, 6);
	col_copy(r, i, 7, w->reason, sizeof(w->reason));
}

static int pg_wave_add(struct bw_store *s, const struct bw_wave_rec *w,
		       const uint8_t *charter, size_t len, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, w->name);
	p_text(&p, w->tag);
	p_i64(&p, w->state);
	p_i64(&p, w->step);
	p_i64(&p, w->step_started);
	p_bin(&p, charter, len);
	p_i64(&p, w->created);
	p_i64(&p, w->updated);
	p_text(&p, w->reason);
	return xq(PG(s), S_WAVE_ADD, &p, NULL, err, "wave add");
}

static int pg_wave_update(struct bw_store *s, const struct bw_wave_rec *w,
			  struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, w->name);
	p_i64(&p, w->state);
	p_i64(&p, w->step);
	p_i64(&p, w->step_started);
	p_i64(&p, w->updated);
	p_text(&p, w->reason);
	return xq(PG(s), S_WAVE_UPD, &p, NULL, err, "wave update");
}

static int wave_fetch(struct pg *q, enum bw_store_stmt id, const char *key,
		      struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		      struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, key);
	if ((rc = xq(q, id, &p, &r, err, "wave get")))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "no such wave");
	}
	wave_row(r, 0, out);
	if (charter && !(*charter = col_bytes(r, 0, 8, len)))
		rc = bw_err_set(err, BW_ENOMEM, "no memory");
	PQclear(r);
	return rc;
}

static int pg_wave_get(struct bw_store *s, const char *name,
		       struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		       struct bw_err *err)
{
	return wave_fetch(PG(s), S_WAVE_GET, name, out, charter, len, err);
}

static int pg_wave_active(struct bw_store *s, const char *tag,
			  struct bw_wave_rec *out, uint8_t **charter,
			  size_t *len, struct bw_err *err)
{
	return wave_fetch(PG(s), S_WAVE_ACTIVE, tag, out, charter, len, err);
}

static json_t *wave_row_json(const PGresult *r, int i)
{
	struct bw_wave_rec w;

	wave_row(r, i, &w);
	return json_pack(
	    "{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "name", w.name, "tag", w.tag,
	    "state",
	    w.state >= 1 && w.state <= 5 ? wave_state_names[w.state] : "?",
	    "step", (json_int_t)w.step, "step-started",
	    (json_int_t)w.step_started, "created", (json_int_t)w.created,
	    "updated", (json_int_t)w.updated, "reason", w.reason);
}

static int pg_wave_list(struct bw_store *s, int active_only, json_t **out,
			struct bw_err *err)
{
	struct params p = {.n = 0};

	return list(PG(s), active_only ? S_WAVE_LIST_ACTIVE : S_WAVE_LIST, &p,
		    wave_row_json, out, err);
}

static int pg_wave_device_get(struct bw_store *s, const char *wave,
			      const char *uuid, struct bw_wave_dev_rec *out,
			      struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, wave);
	p_text(&p, uuid);
	if ((rc = xq(PG(s), S_WDEV_GET, &p, &r, err, "wave device get")))
		return rc;
	if (PQntuples(r) == 1) {
		memset(out, 0, sizeof(*out));
		col_copy(r, 0, 0, out->wave, sizeof(out->wave));
		col_copy(r, 0, 1, out->uuid, sizeof(out->uuid));
		out->step = col_i64(r, 0, 2);
		out->admitted = col_i64(r, 0, 3);
		out->outcome = (int)col_i64(r, 0, 4);
		out->reported = col_i64(r, 0, 5);
	} else {
		rc = bw_err_set(err, BW_ENOTFOUND, "device not in wave");
	}
	PQclear(r);
	return rc;
}

static int pg_wave_device_put(struct bw_store *s,
			      const struct bw_wave_dev_rec *d,
			      struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, d->wave);
	p_text(&p, d->uuid);
	p_i64(&p, d->step);
	p_i64(&p, d->admitted);
	p_i64(&p, d->outcome);
	p_i64(&p, d->reported);
	return xq(PG(s), S_WDEV_PUT, &p, NULL, err, "wave device put");
}

static int pg_wave_counts(struct bw_store *s, const char *wave,
			  int64_t silent_before,
			  struct bw_wave_step_counts *out, size_t nsteps,
			  struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(out, 0, nsteps * sizeof(*out));
	p_text(&p, wave);
	p_i64(&p, silent_before);
	if ((rc = xq(PG(s), S_WDEV_COUNTS, &p, &r, err, "wave counts")))
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t step = col_i64(r, i, 0);

		if (step < 0 || (uint64_t)step >= nsteps)
			continue; /* a row no charter step names counts nowhere
				   */
		out[step].admitted = col_i64(r, i, 1);
		out[step].succeeded = col_i64(r, i, 2);
		out[step].failed = col_i64(r, i, 3);
		out[step].silent = col_i64(r, i, 4);
		out[step].pending = col_i64(r, i, 5);
	}
	PQclear(r);
	return 0;
}

static int pg_wave_admitted_since(struct bw_store *s, const char *wave,
				  int64_t since, int64_t *n, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*n = 0;
	p_text(&p, wave);
	p_i64(&p, since);
	if ((rc = xq(PG(s), S_WDEV_SINCE, &p, &r, err, "wave admissions")))
		return rc;
	if (PQntuples(r) == 1)
		*n = col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_wave_log_add(struct bw_store *s, const char *wave, int64_t now,
			   const char *entry_json, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, wave);
	p_i64(&p, now);
	p_text(&p, entry_json);
	return xq(PG(s), S_WLOG_ADD, &p, NULL, err, "wave log add");
}

static json_t *wave_log_row_json(const PGresult *r, int i)
{
	json_t *entry = json_loadb(PQgetvalue(r, i, 1),
				   (size_t)PQgetlength(r, i, 1), 0, NULL);

	return json_pack("{s:I,s:o}", "time", (json_int_t)col_i64(r, i, 0),
			 "entry", entry ? entry : json_null());
}

static int pg_wave_log(struct bw_store *s, const char *wave, json_t **out,
		       struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, wave);
	return list(PG(s), S_WLOG_LIST, &p, wave_log_row_json, out, err);
}

/* ---- transparency log ------------------------------------------------ */

static int pg_tlog_size(struct bw_store *s, uint64_t *out, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*out = 0;
	if ((rc = xq(PG(s), S_TLOG_SIZE, &p, &r, err, "tlog size")))
		return rc;
	if (PQntuples(r) == 1 && col_i64(r, 0, 0) >= 0)
		*out = (uint64_t)col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_tlog_leaf_add(struct bw_store *s, uint64_t index,
			    const uint8_t *entry, size_t len, int64_t now,
			    struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, (int64_t)index);
	p_bin(&p, entry, len);
	p_i64(&p, now);
	return xq(PG(s), S_TLOG_LEAF_ADD, &p, NULL, err, "tlog leaf add");
}

/* A one-row query: column 0 an integer (*col0), column 1 a blob of at
 * most max bytes (*out malloc'd, NUL-terminated). */
static int one_blob(struct pg *q, enum bw_store_stmt id, const struct params *p,
		    size_t max, uint8_t **out, size_t *len, int64_t *col0,
		    struct bw_err *err, const char *what)
{
	PGresult *r = NULL;
	int rc = 0;

	*out = NULL;
	*len = 0;
	if ((rc = xq(q, id, p, &r, err, what)))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "%s: not found", what);
	}
	if (col0)
		*col0 = col_i64(r, 0, 0);
	if (!(*out = col_bytes(r, 0, 1, len)))
		rc = BW_ENOMEM;
	else if (*len > max)
		rc = bw_err_set(err, BW_ETOOBIG, "%s: %zu bytes", what, *len);
	PQclear(r);
	if (rc) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return rc;
}

static int pg_tlog_leaf_get(struct bw_store *s, uint64_t index, size_t max,
			    uint8_t **entry, size_t *len, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, (int64_t)index);
	return one_blob(PG(s), S_TLOG_LEAF_GET, &p, max, entry, len, NULL, err,
			"tlog entry");
}

static int pg_tlog_node_put(struct bw_store *s, int level, uint64_t index,
			    const uint8_t hash[32], struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, level);
	p_i64(&p, (int64_t)index);
	p_bin(&p, hash, 32);
	return xq(PG(s), S_TLOG_NODE_PUT, &p, NULL, err, "tlog node put");
}

static int pg_tlog_node_get(struct bw_store *s, int level, uint64_t index,
			    uint8_t out[32], struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	uint8_t *h = NULL;
	size_t n = 0;
	int rc = 0;

	p_i64(&p, level);
	p_i64(&p, (int64_t)index);
	if ((rc = xq(PG(s), S_TLOG_NODE_GET, &p, &r, err, "tlog node get")))
		return rc;
	if (PQntuples(r) == 1 && (h = col_bytes(r, 0, 0, &n)) && n == 32)
		memcpy(out, h, 32);
	else
		rc = bw_err_set(err, BW_ENOTFOUND,
				"tlog: tree node %d/%llu missing or damaged",
				level, (unsigned long long)index);
	free(h);
	PQclear(r);
	return rc;
}

static int pg_tlog_checkpoint_put(struct bw_store *s, uint64_t size,
				  const char *note, size_t len, int64_t now,
				  struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, (int64_t)size);
	p_bin(&p, (const uint8_t *)note, len);
	p_i64(&p, now);
	return xq(PG(s), S_TLOG_CP_PUT, &p, NULL, err, "tlog checkpoint put");
}

static int pg_tlog_checkpoint_get(struct bw_store *s, int64_t size,
				  uint64_t *out_size, char **note, size_t *len,
				  struct bw_err *err)
{
	struct params p = {.n = 0};
	int64_t n = 0;
	int rc = 0;

	*out_size = 0;
	if (size >= 0)
		p_i64(&p, size);
	rc = one_blob(PG(s), size < 0 ? S_TLOG_CP_LATEST : S_TLOG_CP_GET, &p,
		      65536, (uint8_t **)note, len, &n, err, "tlog checkpoint");
	if (rc == 0)
		*out_size = (uint64_t)n;
	return rc;
}

static int pg_tlog_checkpoint_witnessed(struct bw_store *s, uint64_t min,
					uint64_t *out_size, char **note,
					size_t *len, struct bw_err *err)
{
	struct params p = {.n = 0};
	int64_t n = 0;
	int rc = 0;

	*out_size = 0;
	p_i64(&p, (int64_t)min);
	rc = one_blob(PG(s), S_TLOG_CP_WIT, &p, 65536, (uint8_t **)note, len,
		      &n, err, "witnessed checkpoint");
	if (rc == 0)
		*out_size = (uint64_t)n;
	return rc;
}

static int pg_tlog_find_digest(struct bw_store *s, const char *hex,
			       uint64_t *index, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	char pat[96];
	int rc = 0;

	snprintf(pat, sizeof(pat), "sha256\":\"%.64s\"", hex);
	p_bin(&p, (const uint8_t *)pat, strlen(pat));
	if ((rc = xq(PG(s), S_TLOG_FIND, &p, &r, err, "tlog find")))
		return rc;
	if (PQntuples(r) == 1)
		*index = (uint64_t)col_i64(r, 0, 0);
	else
		rc = bw_err_set(err, BW_ENOTFOUND, "not in the log");
	PQclear(r);
	return rc;
}

static const struct bw_store_ops postgres_ops = {
    .name = "postgresql",
    .close = pg_close,
    .begin = pg_begin,
    .begin_light = pg_begin_light,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .device_get = pg_device_get,
    .device_put = pg_device_put,
    .device_list = pg_device_list,
    .deny_set = pg_deny_set,
    .deny_has = pg_deny_has,
    .deny_list = pg_deny_list,
    .event_add = pg_event_add,
    .event_trim = pg_event_trim,
    .event_list = pg_event_list,
    .token_add = pg_token_add,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .token_use = pg_token_use,
    .meta_put = pg_meta_put,
    .meta_get = pg_meta_get,
    .meta_heads = pg_meta_heads,
    .crl_put = pg_crl_put,
    .crl_list = pg_crl_list,
    .ca_put = pg_ca_put,
    .ca_list = pg_ca_list,
    .identity_changes = pg_identity_changes,
    .rotation_add = pg_rotation_add,
    .rotation_pending = pg_rotation_pending,
    .rotation_by_fp = pg_rotation_by_fp,
    .rotation_finish = pg_rotation_finish,
    .rotation_list = pg_rotation_list,
    .cert_deny_add = pg_cert_deny_add,
    .cert_deny_has = pg_cert_deny_has,
    .rotate_request_set = pg_rotate_request_set,
    .rotate_request_get = pg_rotate_request_get,
    .device_query = pg_device_query,
    .device_status_set = pg_device_status_set,
    .account_add = pg_account_add,
    .account_list = pg_account_list,
    .account_revoke = pg_account_revoke,
    .account_find = pg_account_find,
    .session_put = pg_session_put,
    .session_get = pg_session_get,
    .session_del = pg_session_del,
    .wave_add = pg_wave_add,
    .wave_update = pg_wave_update,
    .wave_get = pg_wave_get,
    .wave_active = pg_wave_active,
    .wave_list = pg_wave_list,
    .wave_device_get = pg_wave_device_get,
    .wave_device_put = pg_wave_device_put,
    .wave_counts = pg_wave_counts,
    .wave_admitted_since = pg_wave_admitted_since,
    .wave_log_add = pg_wave_log_add,
    .wave_log = pg_wave_log,
    .tlog_size = pg_tlog_size,
    .tlog_leaf_add = pg_tlog_leaf_add,
    .tlog_leaf_get = pg_tlog_leaf_get,
    .tlog_node_put = pg_tlog_node_put,
    .tlog_node_get = pg_tlog_node_get,
    .tlog_checkpoint_put = pg_tlog_checkpoint_put,
    .tlog_checkpoint_get = pg_tlog_checkpoint_get,
    .tlog_checkpoint_witnessed = pg_tlog_checkpoint_witnessed,
    .tlog_find_digest = pg_tlog_find_digest,
    .ci_target_add = pg_ci_target_add,
};

/* ---- open and migrate -------------------------------------------------- */

static int schema_get(struct pg *q, int *version, struct bw_err *err)
{
	PGresult *r = NULL;
	int rc = exec(q,
		      "CREATE TABLE IF NOT EXISTS schema_version"
		      " (version INTEGER NOT NULL)",
		      err);

	*version = 0;
	if (rc)
		return rc;
	r = PQexec(q->conn, "SELECT COALESCE(MAX(version), 0) FROM"
			    " schema_version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		rc = pg_err(q, r, err, "schema version");
		PQclear(r);
		return rc;
	}
	*version = (int)col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/* All pending migrations and their version rows commit together. */
static int migrate(struct pg *q, struct bw_err *err)
{
	char buf[96];
	int v = 0, rc = 0;

	if ((rc = exec(
		 q, "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
		 err)) ||
	    (rc = schema_get(q, &v, err)))
		goto out;
	if (v > PG_SCHEMA_VERSION) {
		rc = bw_err_set(err, BW_ESTATE,
				"database schema %d is newer than this "
				"bulwarkd (%d)",
				v, PG_SCHEMA_VERSION);
		goto out;
	}
	for (; v < PG_SCHEMA_VERSION; v++) {
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

int bw_store_postgres_schema_version(void)
{
	return PG_SCHEMA_VERSION;
}

int bw_store_postgres_open(const char *url, struct bw_store **out,
			   struct bw_err *err)
{
	struct bw_store *s = calloc(1, sizeof(*s));
	struct pg *q = calloc(1, sizeof(*q));
	int rc = BW_ENOMEM;

	*out = NULL;
	if (!s || !q) {
		free(s);
		free(q);
		return BW_ENOMEM;
	}
	s->ops = &postgres_ops;
	s->backend = q;
	/* the URL may carry a password: never put it in a message */
	q->conn = PQconnectdb(url);
	if (!q->conn || PQstatus(q->conn) != CONNECTION_OK) {
		rc = bw_err_set(err, BW_EIO, "postgresql: %.300s",
				q->conn ? PQerrorMessage(q->conn)
					: "out of memory");
		goto out;
	}
	if ((rc = exec(q, "SET client_min_messages = warning", err)) ||
	    (rc = migrate(q, err)))
		goto out;
	*out = s;
	s = NULL; /* transferred */
	q = NULL;
out:
	if (s)
		pg_close(s); /* and q */
	return rc;
}
