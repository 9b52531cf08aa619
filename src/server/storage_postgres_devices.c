/*
 * PostgreSQL storage backend (storage_postgres.c): devices, the deny-list,
 * events, registration tokens, metadata, CRLs and device CAs.
 */
#include "bulwark/identity.h"
#include "storage_postgres_priv.h"

int bw_pg__device_get(struct bw_store *s, const char *uuid,
		      struct bw_device_rec *d, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	p_text(&p, uuid);
	if ((rc = bw_pg__xq(PG(s), S_DEV_GET, &p, &r, err, "device get")))
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
	d->cert_not_after = col_i64(r, 0, 13);
	PQclear(r);
	return 0;
}

int bw_pg__device_put(struct bw_store *s, const struct bw_device_rec *d,
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
	p_i64(&p, d->cert_not_after);
	return bw_pg__xq(PG(s), S_DEV_PUT, &p, NULL, err, "device put");
}

int bw_pg__device_note(struct bw_store *s, const char *uuid, int64_t last_seen,
		       const char *tag, const char *target,
		       int64_t cert_not_after, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, uuid);
	p_i64(&p, last_seen);
	p_text(&p, tag);
	p_text(&p, target);
	p_i64(&p, cert_not_after);
	return bw_pg__xq(PG(s), S_DEV_NOTE, &p, NULL, err, "device note");
}

json_t *bw_pg__device_row_json(const PGresult *r, int i)
{
	return json_pack(
	    "{s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:b,s:o,s:o,s:o,s:I}",
	    "uuid",
	    col_json_str(r, i, 0), "production", (int)(col_i64(r, i, 1) != 0),
	    "name", col_json_str(r, i, 2), "hardware-id", col_json_str(r, i, 3),
	    "tag", col_json_str(r, i, 4), "target", col_json_str(r, i, 5),
	    "fingerprint", col_json_str(r, i, 6), "first-seen",
	    (json_int_t)col_i64(r, i, 7), "last-seen",
	    (json_int_t)col_i64(r, i, 8), "registered",
	    (json_int_t)col_i64(r, i, 9), "denied",
	    (int)(col_i64(r, i, 10) != 0), "ca", col_json_str(r, i, 11),
	    "ca-fingerprint", col_json_str(r, i, 12), "serial",
	    col_json_str(r, i, 13), "cert-not-after",
	    (json_int_t)col_i64(r, i, 14));
}

int bw_pg__device_list(struct bw_store *s, const char *after, int64_t limit,
		       json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, after ? after : "");
	p_i64(&p, limit);
	return bw_pg__list(PG(s), S_DEV_LIST, &p, bw_pg__device_row_json, out,
			   err);
}

/* ---- deny-list --------------------------------------------------------- */

int bw_pg__deny_set(struct bw_store *s, const char *uuid, int deny,
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
	return bw_pg__xq(PG(s), deny ? S_DENY_ADD : S_DENY_DEL, &p, NULL, err,
			 "deny-list");
}

int bw_pg__deny_has(struct bw_store *s, const char *uuid, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, uuid);
	if ((rc =
		 bw_pg__xq(PG(s), S_DENY_HAS, &p, &r, err, "deny-list lookup")))
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

int bw_pg__deny_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return bw_pg__list(PG(s), S_DENY_LIST, &p, deny_row_json, out, err);
}

/* ---- events ------------------------------------------------------------- */

int bw_pg__event_add(struct bw_store *s, const char *uuid, const char *event_id,
		     const char *event_type, int64_t received,
		     const uint8_t *json, size_t len, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, uuid);
	p_text(&p, event_id);
	p_text(&p, event_type);
	p_i64(&p, received);
	p_bin(&p, json, len);
	return bw_pg__xq(PG(s), S_EV_ADD, &p, NULL, err, "event add");
}

int bw_pg__event_trim(struct bw_store *s, const char *uuid, int64_t keep,
		      struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, uuid);
	p_i64(&p, keep);
	return bw_pg__xq(PG(s), S_EV_TRIM, &p, NULL, err, "event trim");
}

static json_t *event_row_json(const PGresult *r, int i)
{
	size_t n = 0;
	uint8_t *b = bw_pg__col_bytes(r, i, 2, &n);
	json_t *ev = b ? json_loadb((const char *)b, n, 0, NULL) : NULL;

	free(b);
	return json_pack("{s:o,s:I,s:o}", "device", col_json_str(r, i, 0),
			 "received", (json_int_t)col_i64(r, i, 1), "event",
			 ev ? ev : json_null());
}

int bw_pg__event_list(struct bw_store *s, const char *uuid, int64_t limit,
		      json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, limit);
	if (uuid)
		p_text(&p, uuid);
	return bw_pg__list(PG(s), uuid ? S_EV_LIST_DEV : S_EV_LIST_ALL, &p,
			   event_row_json, out, err);
}

/* ---- registration tokens ---------------------------------------------- */

int bw_pg__token_add(struct bw_store *s, const char *hash_hex,
		     const char *scope, int64_t expires, int64_t uses,
		     const char *comment, int64_t now, int64_t *id,
		     struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, hash_hex);
	p_text(&p, scope);
	p_i64(&p, expires);
	p_i64(&p, uses);
	p_i64(&p, now);
	p_text(&p, comment ? comment : "");
	return bw_pg__xq_insert_id(PG(s), S_TOK_ADD, &p, id, err, "token add");
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

int bw_pg__token_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return bw_pg__list(PG(s), S_TOK_LIST, &p, token_row_json, out, err);
}

int bw_pg__token_revoke(struct bw_store *s, int64_t id, struct bw_err *err)
{
	struct params p = {.n = 0};
	int64_t n = 0;
	int rc = 0;

	p_i64(&p, id);
	if ((rc = bw_pg__xq_changed(PG(s), S_TOK_REVOKE, &p, &n, err,
				    "token revoke")))
		return rc;
	return n == 0 ? bw_err_set(err, BW_ENOTFOUND, "no token %lld",
				   (long long)id)
		      : 0;
}

int bw_pg__token_use(struct bw_store *s, const char *hash_hex, int64_t now,
		     struct bw_token_use *out, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int64_t expires = 0, uses = 0, revoked = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	p_text(&p, hash_hex);
	if ((rc = bw_pg__xq(PG(s), S_TOK_FIND, &p, &r, err, "token lookup")))
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
	return bw_pg__xq(PG(s), S_TOK_DEC, &p, NULL, err, "token use");
}

/* ---- metadata ------------------------------------------------------------ */

int bw_pg__meta_put(struct bw_store *s, const struct bw_meta_rec *m,
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
	rc = bw_pg__xq(PG(s), S_META_PUT, &p, NULL, err, "metadata put");
	if (rc == 0)
		s->meta_writes++;
	return rc;
}

int bw_pg__meta_get(struct bw_store *s, const char *flavour, const char *tag,
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
	if ((rc = bw_pg__xq(PG(s), version ? S_META_GET : S_META_LATEST, &p, &r,
			    err, "metadata get")))
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
	m->data = bw_pg__col_bytes(r, 0, 3, &m->len);
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

int bw_pg__meta_heads(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return bw_pg__list(PG(s), S_META_HEADS, &p, head_row_json, out, err);
}

int bw_pg__ci_target_add(struct bw_store *s, const char *name, uint64_t length,
			 const char *sha256, const char *custom_json,
			 int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, name);
	p_i64(&p, (int64_t)length);
	p_text(&p, sha256);
	p_text(&p, custom_json); /* NULL is SQL NULL */
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_CI_ADD, &p, NULL, err, "ci target add");
}

int bw_pg__crl_put(struct bw_store *s, const char *issuer, int64_t number,
		   const uint8_t *pem, size_t len, int64_t now,
		   struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, issuer);
	p_i64(&p, number);
	p_bin(&p, pem, len);
	p_i64(&p, now);
	return bw_pg__xq(PG(s), S_CRL_PUT, &p, NULL, err, "crl put");
}

static json_t *crl_row_json(const PGresult *r, int i)
{
	return json_pack("{s:o,s:I,s:o}", "issuer", col_json_str(r, i, 0),
			 "number", (json_int_t)col_i64(r, i, 1), "pem",
			 bw_pg__col_json_bytes(r, i, 2));
}

int bw_pg__crl_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return bw_pg__list(PG(s), S_CRL_LIST, &p, crl_row_json, out, err);
}

int bw_pg__ca_put(struct bw_store *s, const char *name, const uint8_t *pem,
		  size_t len, int production, int64_t now, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, name);
	p_bin(&p, pem, len);
	p_i64(&p, now);
	p_i64(&p, production ? 1 : 0);
	return bw_pg__xq(PG(s), S_CA_PUT, &p, NULL, err, "ca put");
}

static json_t *ca_row_json(const PGresult *r, int i)
{
	return json_pack("{s:o,s:o,s:b}", "name", col_json_str(r, i, 0), "pem",
			 bw_pg__col_json_bytes(r, i, 1), "production",
			 strcmp(PQgetvalue(r, i, 2), "0") != 0);
}

int bw_pg__ca_list(struct bw_store *s, json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	return bw_pg__list(PG(s), S_CA_LIST, &p, ca_row_json, out, err);
}

int bw_pg__identity_changes(struct bw_store *s, int64_t *out,
			    struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*out = 0;
	if ((rc = bw_pg__xq(PG(s), S_ID_CHANGES, &p, &r, err,
			    "identity changes")))
		return rc;
	if (PQntuples(r) == 1)
		*out = col_i64(r, 0, 0);
	else
		rc = bw_err_set(err, BW_EIO, "identity changes: no row");
	PQclear(r);
	return rc;
}

int bw_pg__device_expiring(struct bw_store *s, int64_t before, int64_t limit,
			   json_t **out, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_i64(&p, before);
	p_i64(&p, limit);
	return bw_pg__list(PG(s), S_DEV_EXPIRING, &p, bw_pg__device_row_json,
			   out, err);
}

/* ---- rate limits -------------------------------------------------------- */

int bw_pg__rate_hit(struct bw_store *s, const char *limiter, const char *key,
		    int64_t win, int64_t *count, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*count = 0;
	p_text(&p, limiter);
	p_text(&p, key);
	p_i64(&p, win);
	if ((rc = bw_pg__xq(PG(s), S_RATE_HIT, &p, &r, err, "rate limit")))
		return rc;
	*count = PQntuples(r) == 1 ? col_i64(r, 0, 0) : 0;
	PQclear(r);
	if (*count != 1)
		return 0;
	p.n = 0;
	p_i64(&p, win);
	/* a failed clean-up leaves old rows for the next window's first hit */
	bw_pg__xq(PG(s), S_RATE_EXPIRE, &p, NULL, NULL, "rate limit expiry");
	return 0;
}
