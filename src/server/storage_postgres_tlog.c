/*
 * PostgreSQL storage backend (storage_postgres.c): the transparency log:
 * leaves, tree nodes, checkpoints.
 */
#include "storage_postgres_priv.h"

int bw_pg__tlog_size(struct bw_store *s, uint64_t *out, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*out = 0;
	if ((rc = bw_pg__xq(PG(s), S_TLOG_SIZE, &p, &r, err, "tlog size")))
		return rc;
	if (PQntuples(r) == 1 && col_i64(r, 0, 0) >= 0)
		*out = (uint64_t)col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

int bw_pg__tlog_leaf_add(struct bw_store *s, uint64_t index,
			 const uint8_t *entry, size_t len, int64_t now,
			 struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, (int64_t)index);
	p_bin(&p, entry, len);
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_TLOG_LEAF_ADD, &p, NULL, err,
			 "tlog leaf add");
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
	if ((rc = bw_pg__xq(q, id, p, &r, err, what)))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "%s: not found", what);
	}
	if (col0)
		*col0 = col_i64(r, 0, 0);
	if (!(*out = bw_pg__col_bytes(r, 0, 1, len)))
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

int bw_pg__tlog_leaf_get(struct bw_store *s, uint64_t index, size_t max,
			 uint8_t **entry, size_t *len, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, (int64_t)index);
	return one_blob(PG(s), S_TLOG_LEAF_GET, &p, max, entry, len, NULL, err,
			"tlog entry");
}

int bw_pg__tlog_node_put(struct bw_store *s, int level, uint64_t index,
			 const uint8_t hash[32], struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, level);
	p_i64(&p, (int64_t)index);
	p_bin(&p, hash, 32);
	return bw_pg__xq(PG(s), S_TLOG_NODE_PUT, &p, NULL, err,
			 "tlog node put");
}

int bw_pg__tlog_node_get(struct bw_store *s, int level, uint64_t index,
			 uint8_t out[32], struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	uint8_t *h = NULL;
	size_t n = 0;
	int rc = 0;

	p_i64(&p, level);
	p_i64(&p, (int64_t)index);
	if ((rc = bw_pg__xq(PG(s), S_TLOG_NODE_GET, &p, &r, err,
			    "tlog node get")))
		return rc;
	if (PQntuples(r) == 1 && (h = bw_pg__col_bytes(r, 0, 0, &n)) && n == 32)
		memcpy(out, h, 32);
	else
		rc = bw_err_set(err, BW_ENOTFOUND,
				"tlog: tree node %d/%llu missing or damaged",
				level, (unsigned long long)index);
	free(h);
	PQclear(r);
	return rc;
}

int bw_pg__tlog_checkpoint_put(struct bw_store *s, uint64_t size,
			       const char *note, size_t len, int64_t now,
			       struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, (int64_t)size);
	p_bin(&p, (const uint8_t *)note, len);
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_TLOG_CP_PUT, &p, NULL, err,
			 "tlog checkpoint put");
}

int bw_pg__tlog_checkpoint_get(struct bw_store *s, int64_t size,
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

int bw_pg__tlog_checkpoint_witnessed(struct bw_store *s, uint64_t min,
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

int bw_pg__pki_logged_put(struct bw_store *s, const char *digest,
			  int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, digest);
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_PKI_LOGGED_PUT, &p, NULL, err,
			 "pki_logged put");
}

int bw_pg__pki_logged_get(struct bw_store *s, const char *digest,
			  int64_t *seq, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*seq = 0;
	p_text(&p, digest);
	if ((rc = bw_pg__xq(PG(s), S_PKI_LOGGED_GET, &p, &r, err,
			    "pki_logged get")))
		return rc;
	if (PQntuples(r) == 1)
		*seq = col_i64(r, 0, 0);
	else
		rc = bw_err_set(err, BW_ENOTFOUND, "policy not logged");
	PQclear(r);
	return rc;
}

int bw_pg__tlog_find_digest(struct bw_store *s, const char *hex,
			    uint64_t *index, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	char pat[96];
	int rc = 0;

	snprintf(pat, sizeof(pat), "sha256\":\"%.64s\"", hex);
	p_bin(&p, (const uint8_t *)pat, strlen(pat));
	if ((rc = bw_pg__xq(PG(s), S_TLOG_FIND, &p, &r, err, "tlog find")))
		return rc;
	if (PQntuples(r) == 1)
		*index = (uint64_t)col_i64(r, 0, 0);
	else
		rc = bw_err_set(err, BW_ENOTFOUND, "not in the log");
	PQclear(r);
	return rc;
}
