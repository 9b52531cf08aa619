/*
 * PostgreSQL storage backend (storage_postgres.c): certificate rotations (EST)
 * and the certificate deny-list.
 */
#include "storage_postgres_priv.h"

int bw_pg__rotation_add(struct bw_store *s, const struct bw_rotation_rec *r,
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
	return bw_pg__xq(PG(s), S_ROT_ADD, &p, NULL, err, "rotation add");
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
	if ((rc = bw_pg__xq(q, id, &p, &r, err, "rotation get")))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "no such rotation");
	}
	rotation_row(r, 0, out);
	if (cert_pem)
		*cert_pem = (char *)bw_pg__col_bytes(r, 0, 8, &n);
	PQclear(r);
	return cert_pem && !*cert_pem ? BW_ENOMEM : 0;
}

int bw_pg__rotation_pending(struct bw_store *s, const char *uuid,
			    struct bw_rotation_rec *out, char **cert_pem,
			    struct bw_err *err)
{
	return rotation_one(PG(s), S_ROT_PENDING, uuid, out, cert_pem, err);
}

int bw_pg__rotation_by_fp(struct bw_store *s, const char *new_fp,
			  struct bw_rotation_rec *out, struct bw_err *err)
{
	return rotation_one(PG(s), S_ROT_BY_FP, new_fp, out, NULL, err);
}

int bw_pg__rotation_finish(struct bw_store *s, const char *new_fp, int state,
			   int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};
	int64_t n = 0;
	int rc = 0;

	p_text(&p, new_fp);
	p_i64(&p, state);
	p_i64(&p, now);
	if ((rc = bw_pg__xq_changed(PG(s), S_ROT_FINISH, &p, &n, err,
				    "rotation finish")))
		return rc;
	return n == 1 ? 0
		      : bw_err_set(err, BW_ENOTFOUND, "no pending rotation");
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

int bw_pg__rotation_list(struct bw_store *s, int state, int64_t limit,
			 json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, limit);
	if (state)
		p_i64(&p, state);
	return bw_pg__list(PG(s), state ? S_ROT_LIST_STATE : S_ROT_LIST, &p,
			   rotation_row_json, out, err);
}

int bw_pg__cert_deny_add(struct bw_store *s, const char *fp, const char *uuid,
			 const char *reason, int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, fp);
	p_text(&p, uuid);
	p_text(&p, reason);
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_CDENY_ADD, &p, NULL, err, "cert deny add");
}

int bw_pg__cert_deny_has(struct bw_store *s, const char *fp, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, fp);
	if ((rc = bw_pg__xq(PG(s), S_CDENY_HAS, &p, &r, err, "cert deny has")))
		return rc;
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

int bw_pg__rotate_request_set(struct bw_store *s, const char *kind,
			      const char *name, int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, kind);
	p_text(&p, name);
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_RREQ_SET, &p, NULL, err, "rotate request");
}

int bw_pg__rotate_request_get(struct bw_store *s, const char *kind,
			      const char *name, int64_t *when,
			      struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*when = 0;
	p_text(&p, kind);
	p_text(&p, name);
	if ((rc = bw_pg__xq(PG(s), S_RREQ_GET, &p, &r, err,
			    "rotate request get")))
		return rc;
	if (PQntuples(r) == 1)
		*when = col_i64(r, 0, 0);
	else
		rc = bw_err_set(err, BW_ENOTFOUND, "no rotate request");
	PQclear(r);
	return rc;
}
