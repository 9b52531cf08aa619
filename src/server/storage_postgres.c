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

#include "storage_postgres_priv.h"

/* Every writer that needs the SQLite "BEGIN IMMEDIATE" guarantee (one
 * write transaction at a time: uploads, registrations, deny-list) takes
 * this transaction-scoped advisory lock. */
#define WRITE_LOCK_KEY "4242001"
/* Held while migrating, so gateways starting together migrate once. */
#define MIGRATE_LOCK_KEY "4242002"

int bw_pg__err(struct pg *q, const PGresult *r, struct bw_err *err,
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
		r = PQprepare(q->conn, name, bw_pg__sql[id], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return r;
		PQclear(r);
		q->prepared[id] = 1;
	}
	if (q->queries)
		(*q->queries)++;
	return PQexecPrepared(q->conn, name, p->n, p->v, p->len, p->fmt, 0);
}

/*
 * Run a prepared statement; *out (when not NULL) receives the result,
 * which the caller clears. Outside a transaction a lost connection is
 * re-made and the statement tried once more; inside one the error goes to
 * the caller, who rolls back.
 */
int bw_pg__xq(struct pg *q, enum bw_store_stmt id, const struct params *p,
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
		rc = bw_pg__err(q, r, err, what);
		PQclear(r);
		return rc;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

/* Run a statement that changes rows; *changed receives how many. */
int bw_pg__xq_changed(struct pg *q, enum bw_store_stmt id,
		      const struct params *p, int64_t *changed,
		      struct bw_err *err, const char *what)
{
	PGresult *r = NULL;
	int rc = bw_pg__xq(q, id, p, &r, err, what);

	*changed = 0;
	if (rc)
		return rc;
	*changed = col_i64_text(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

/* Run an INSERT ... RETURNING id; *id (when not NULL) receives the id. */
int bw_pg__xq_insert_id(struct pg *q, enum bw_store_stmt id,
			const struct params *p, int64_t *new_id,
			struct bw_err *err, const char *what)
{
	PGresult *r = NULL;
	int rc = bw_pg__xq(q, id, p, &r, err, what);

	if (rc)
		return rc;
	if (new_id)
		*new_id = PQntuples(r) == 1 ? col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

/* A BYTEA column (text result, hex format) as a malloc'd, NUL-terminated
 * buffer. */
uint8_t *bw_pg__col_bytes(const PGresult *r, int row, int col, size_t *len)
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

json_t *bw_pg__col_json_bytes(const PGresult *r, int row, int col)
{
	size_t n = 0;
	uint8_t *b = bw_pg__col_bytes(r, row, col, &n);
	json_t *j = b ? json_stringn((const char *)b, n) : NULL;

	free(b);
	return j;
}

/* Every row of r through rowfn into a new array. */
int bw_pg__collect(PGresult *r, json_t *(*rowfn)(const PGresult *, int),
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

int bw_pg__list(struct pg *q, enum bw_store_stmt id, const struct params *p,
		json_t *(*rowfn)(const PGresult *, int), json_t **out,
		struct bw_err *err)
{
	PGresult *r = NULL;
	int rc = bw_pg__xq(q, id, p, &r, err, "list");

	*out = NULL;
	return rc ? rc : bw_pg__collect(r, rowfn, out);
}

/* ---- lifecycle and transactions --------------------------------------- */

static int exec(struct pg *q, const char *s, struct bw_err *err)
{
	PGresult *r = PQexec(q->conn, s);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (q->queries)
		(*q->queries)++;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = bw_pg__err(q, r, err, "postgresql");
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
	return begin_with(
	    s, "BEGIN; SET LOCAL synchronous_commit = remote_write", err);
}

static int pg_commit(struct bw_store *s, struct bw_err *err)
{
	struct pg *q = PG(s);
	PGresult *r = PQexec(q->conn, "COMMIT");
	int rc = 0;

	if (q->queries)
		(*q->queries)++;
	/* a failed transaction's COMMIT answers ROLLBACK, not an error */
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = bw_pg__err(q, r, err, "commit");
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = bw_err_set(err, BW_EIO, "commit: transaction aborted");
	else
		s->commits++;
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

static int pg_savepoint(struct bw_store *s, struct bw_err *err)
{
	return exec(PG(s), "SAVEPOINT part", err);
}

static int pg_savepoint_release(struct bw_store *s, struct bw_err *err)
{
	return exec(PG(s), "RELEASE SAVEPOINT part", err);
}

/* also leaves a transaction that a failed statement aborted usable */
static void pg_savepoint_undo(struct bw_store *s)
{
	exec(PG(s), "ROLLBACK TO SAVEPOINT part; RELEASE SAVEPOINT part", NULL);
}

static const struct bw_store_ops postgres_ops = {
    .name = "postgresql",
    .close = pg_close,
    .begin = pg_begin,
    .begin_light = pg_begin_light,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .savepoint_release = pg_savepoint_release,
    .savepoint_undo = pg_savepoint_undo,
    .device_get = bw_pg__device_get,
    .device_put = bw_pg__device_put,
    .device_note = bw_pg__device_note,
    .device_list = bw_pg__device_list,
    .device_expiring = bw_pg__device_expiring,
    .deny_set = bw_pg__deny_set,
    .deny_has = bw_pg__deny_has,
    .deny_list = bw_pg__deny_list,
    .event_add = bw_pg__event_add,
    .event_trim = bw_pg__event_trim,
    .event_list = bw_pg__event_list,
    .token_add = bw_pg__token_add,
    .token_list = bw_pg__token_list,
    .token_revoke = bw_pg__token_revoke,
    .token_use = bw_pg__token_use,
    .meta_put = bw_pg__meta_put,
    .meta_get = bw_pg__meta_get,
    .meta_heads = bw_pg__meta_heads,
    .crl_put = bw_pg__crl_put,
    .crl_list = bw_pg__crl_list,
    .ca_put = bw_pg__ca_put,
    .ca_list = bw_pg__ca_list,
    .identity_changes = bw_pg__identity_changes,
    .rotation_add = bw_pg__rotation_add,
    .rotation_pending = bw_pg__rotation_pending,
    .rotation_by_fp = bw_pg__rotation_by_fp,
    .rotation_finish = bw_pg__rotation_finish,
    .rotation_list = bw_pg__rotation_list,
    .cert_deny_add = bw_pg__cert_deny_add,
    .cert_deny_has = bw_pg__cert_deny_has,
    .rotate_request_set = bw_pg__rotate_request_set,
    .rotate_request_get = bw_pg__rotate_request_get,
    .device_query = bw_pg__device_query,
    .device_status_set = bw_pg__device_status_set,
    .account_add = bw_pg__account_add,
    .account_list = bw_pg__account_list,
    .account_revoke = bw_pg__account_revoke,
    .account_find = bw_pg__account_find,
    .session_put = bw_pg__session_put,
    .session_get = bw_pg__session_get,
    .session_del = bw_pg__session_del,
    .wave_add = bw_pg__wave_add,
    .wave_update = bw_pg__wave_update,
    .wave_get = bw_pg__wave_get,
    .wave_active = bw_pg__wave_active,
    .wave_list = bw_pg__wave_list,
    .wave_device_get = bw_pg__wave_device_get,
    .wave_device_put = bw_pg__wave_device_put,
    .wave_counts = bw_pg__wave_counts,
    .wave_admitted_since = bw_pg__wave_admitted_since,
    .wave_log_add = bw_pg__wave_log_add,
    .wave_log = bw_pg__wave_log,
    .tlog_size = bw_pg__tlog_size,
    .tlog_leaf_add = bw_pg__tlog_leaf_add,
    .tlog_leaf_get = bw_pg__tlog_leaf_get,
    .tlog_node_put = bw_pg__tlog_node_put,
    .tlog_node_get = bw_pg__tlog_node_get,
    .tlog_checkpoint_put = bw_pg__tlog_checkpoint_put,
    .tlog_checkpoint_get = bw_pg__tlog_checkpoint_get,
    .tlog_checkpoint_witnessed = bw_pg__tlog_checkpoint_witnessed,
    .tlog_find_digest = bw_pg__tlog_find_digest,
    .pki_logged_put = bw_pg__pki_logged_put,
    .pki_logged_get = bw_pg__pki_logged_get,
    .ci_target_add = bw_pg__ci_target_add,
    .rate_hit = bw_pg__rate_hit,
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
		rc = bw_pg__err(q, r, err, "schema version");
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
	if (v > bw_pg__schema_version) {
		rc = bw_err_set(err, BW_ESTATE,
				"database schema %d is newer than this "
				"bulwarkd (%d)",
				v, bw_pg__schema_version);
		goto out;
	}
	for (; v < bw_pg__schema_version; v++) {
		snprintf(buf, sizeof(buf),
			 "INSERT INTO schema_version VALUES (%d)", v + 1);
		if ((rc = exec(q, bw_pg__migrations[v], err)) ||
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
	return bw_pg__schema_version;
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
	q->queries = &s->queries;
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
