/*
 * PostgreSQL storage backend (storage_postgres.c): the fleet page: filtered
 * device pages, operator accounts and sessions.
 */
#include "bulwark/buf.h"
#include "storage_postgres_priv.h"

static json_t *device_status_row_json(const PGresult *r, int i)
{
	json_t *o = bw_pg__device_row_json(r, i);

	if (o) {
		json_object_set_new(o, "status", col_json_str(r, i, 15));
		json_object_set_new(o, "rotation-pending",
				    json_boolean(col_i64(r, i, 16) != 0));
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
int bw_pg__device_query(struct bw_store *s, const struct bw_device_query *dq,
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
	    " ca_name, ca_fingerprint, serial, cert_not_after, status,"
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
	if (q->queries)
		(*q->queries)++;
	r = PQexecParams(q->conn, (const char *)sqlb.data, p.n, NULL, p.v,
			 p.len, p.fmt, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = bw_pg__err(q, r, err, "device query");
		PQclear(r);
		goto out;
	}
	rc = bw_pg__collect(r, device_status_row_json, out);
out:
	bw_buf_dispose(&sqlb);
	return rc;
}

int bw_pg__device_status_set(struct bw_store *s, const char *uuid,
			     const char *status, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, uuid);
	p_text(&p, status);
	return bw_pg__xq(PG(s), S_DEV_STATUS, &p, NULL, err, "device status");
}

int bw_pg__account_add(struct bw_store *s, const char *hash_hex,
		       const char *role, int64_t expires, const char *comment,
		       int64_t now, int64_t *id, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, hash_hex);
	p_text(&p, role);
	p_i64(&p, expires);
	p_i64(&p, now);
	p_text(&p, comment ? comment : "");
	return bw_pg__xq_insert_id(PG(s), S_ACC_ADD, &p, id, err,
				   "account add");
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

int bw_pg__account_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return bw_pg__list(PG(s), S_ACC_LIST, &p, account_row_json, out, err);
}

int bw_pg__account_revoke(struct bw_store *s, int64_t id, struct bw_err *err)
{
	struct params p = {.n = 0};
	int64_t n = 0;
	int rc = 0;

	p_i64(&p, id);
	if ((rc = bw_pg__xq_changed(PG(s), S_ACC_REVOKE, &p, &n, err,
				    "account revoke")))
		return rc;
	return n == 0 ? bw_err_set(err, BW_ENOTFOUND, "no such account") : 0;
}

int bw_pg__account_find(struct bw_store *s, const char *hash_hex, int64_t now,
			struct bw_account_rec *out, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	p_text(&p, hash_hex);
	if ((rc = bw_pg__xq(PG(s), S_ACC_FIND, &p, &r, err, "account find")))
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

int bw_pg__session_put(struct bw_store *s, const char *hash_hex,
		       const struct bw_session_rec *rec, int64_t now,
		       struct bw_err *err)
{
	struct params p = {.n = 0};
	int rc = 0;

	p_i64(&p, now);
	if ((rc = bw_pg__xq(PG(s), S_SES_EXPIRE, &p, NULL, err,
			    "session expire")))
		return rc;
	p.n = 0;
	p_text(&p, hash_hex);
	p_i64(&p, rec->account);
	p_text(&p, rec->role);
	p_text(&p, rec->csrf);
	p_i64(&p, rec->expires);
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_SES_PUT, &p, NULL, err, "session put");
}

int bw_pg__session_get(struct bw_store *s, const char *hash_hex, int64_t now,
		       struct bw_session_rec *out, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	p_text(&p, hash_hex);
	p_i64(&p, now);
	if ((rc = bw_pg__xq(PG(s), S_SES_GET, &p, &r, err, "session get")))
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

int bw_pg__session_del(struct bw_store *s, const char *hash_hex,
		       struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, hash_hex);
	return bw_pg__xq(PG(s), S_SES_DEL, &p, NULL, err, "session delete");
}
