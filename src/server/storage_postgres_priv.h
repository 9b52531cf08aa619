/*
 * Shared by the files of the PostgreSQL storage backend
 * (storage_postgres*.c): the connection, statement parameters, running a
 * prepared statement, and reading columns. Every operation of one concern
 * lives in one file; the ops table and the connection in
 * storage_postgres.c, the SQL text in storage_postgres_sql.c.
 */
#ifndef BW_SERVER_STORAGE_POSTGRES_PRIV_H
#define BW_SERVER_STORAGE_POSTGRES_PRIV_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "bulwark/buf.h"
#include "storage.h"
#include "storage_stmt.h"

/* Schema migrations (entry N-1 brings a database to version N) and the
 * text of every prepared statement. */
extern const char *const bw_pg__migrations[];
extern const int bw_pg__schema_version;
extern const char *const bw_pg__sql[S_NSTMT];

struct pg {
	PGconn *conn;
	char prepared[S_NSTMT];
	int in_txn;
	uint64_t *queries; /* the handle's count (struct bw_store) */
};

static inline struct pg *PG(struct bw_store *s)
{
	return s->backend;
}

/* Parameters of one statement: text values, or binary for BYTEA. A
 * statement with more than PARAMS_MAX is a programming error: the
 * parameters past the limit are dropped (never written out of bounds) and
 * PostgreSQL refuses the statement for the missing ones. */

#define PARAMS_MAX 16
struct params {
	const char *v[PARAMS_MAX];
	int len[PARAMS_MAX];
	int fmt[PARAMS_MAX];
	char num[PARAMS_MAX][24];
	int n;
};

static inline void p_text(struct params *p, const char *v)
{
	if (p->n >= PARAMS_MAX)
		return;
	p->v[p->n] = v;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static inline void p_i64(struct params *p, int64_t v)
{
	if (p->n >= PARAMS_MAX)
		return;
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	p_text(p, p->num[p->n]);
}

static inline void p_bin(struct params *p, const uint8_t *v, size_t len)
{
	if (p->n >= PARAMS_MAX)
		return;
	p->v[p->n] = (const char *)v;
	p->len[p->n] = (int)len;
	p->fmt[p->n++] = 1;
}

static inline void col_copy(const PGresult *r, int row, int col, char *dst,
			    size_t size)
{
	size_t n = (size_t)PQgetlength(r, row, col);

	if (n >= size)
		n = size - 1;
	memcpy(dst, PQgetvalue(r, row, col), n);
	dst[n] = '\0';
}

/* Integers come back as text; a value that is not one reads as 0. */
static inline int64_t col_i64_text(const char *v)
{
	int64_t n = 0;

	return bw_num_parse_i64(v, INT64_MIN, INT64_MAX, &n) == 0 ? n : 0;
}

static inline int64_t col_i64(const PGresult *r, int row, int col)
{
	return col_i64_text(PQgetvalue(r, row, col));
}

static inline json_t *col_json_str(const PGresult *r, int row, int col)
{
	return json_stringn(PQgetvalue(r, row, col),
			    (size_t)PQgetlength(r, row, col));
}

/* ---- running statements (storage_postgres.c) ---------------------------- */

int bw_pg__err(struct pg *q, const PGresult *r, struct bw_err *err,
	       const char *what);
int bw_pg__xq(struct pg *q, enum bw_store_stmt id, const struct params *p,
	      PGresult **out, struct bw_err *err, const char *what);
int bw_pg__xq_changed(struct pg *q, enum bw_store_stmt id,
		      const struct params *p, int64_t *changed,
		      struct bw_err *err, const char *what);
int bw_pg__xq_insert_id(struct pg *q, enum bw_store_stmt id,
			const struct params *p, int64_t *new_id,
			struct bw_err *err, const char *what);
uint8_t *bw_pg__col_bytes(const PGresult *r, int row, int col, size_t *len);
json_t *bw_pg__col_json_bytes(const PGresult *r, int row, int col);
int bw_pg__collect(PGresult *r, json_t *(*rowfn)(const PGresult *, int),
		   json_t **out);
int bw_pg__list(struct pg *q, enum bw_store_stmt id, const struct params *p,
		json_t *(*rowfn)(const PGresult *, int), json_t **out,
		struct bw_err *err);

/* ---- devices, deny-list, events, tokens, metadata, CRLs, CAs ------------ */

json_t *bw_pg__device_row_json(const PGresult *r, int i);
int bw_pg__rate_hit(struct bw_store *s, const char *limiter, const char *key,
		    int64_t win, int64_t *count, struct bw_err *err);
int bw_pg__device_get(struct bw_store *s, const char *uuid,
		      struct bw_device_rec *d, struct bw_err *err);
int bw_pg__device_put(struct bw_store *s, const struct bw_device_rec *d,
		      struct bw_err *err);
int bw_pg__device_note(struct bw_store *s, const char *uuid, int64_t last_seen,
		       const char *tag, const char *target,
		       int64_t cert_not_after, struct bw_err *err);
int bw_pg__device_expiring(struct bw_store *s, int64_t before, int64_t limit,
			   json_t **out, struct bw_err *err);
int bw_pg__device_list(struct bw_store *s, const char *after, int64_t limit,
		       json_t **out, struct bw_err *err);
int bw_pg__deny_set(struct bw_store *s, const char *uuid, int deny,
		    const char *reason, int64_t now, struct bw_err *err);
int bw_pg__deny_has(struct bw_store *s, const char *uuid, struct bw_err *err);
int bw_pg__deny_list(struct bw_store *s, json_t **out, struct bw_err *err);
int bw_pg__event_add(struct bw_store *s, const char *uuid, const char *event_id,
		     const char *event_type, int64_t received,
		     const uint8_t *json, size_t len, struct bw_err *err);
int bw_pg__event_trim(struct bw_store *s, const char *uuid, int64_t keep,
		      struct bw_err *err);
int bw_pg__event_list(struct bw_store *s, const char *uuid, int64_t limit,
		      json_t **out, struct bw_err *err);
int bw_pg__token_add(struct bw_store *s, const char *hash_hex,
		     const char *scope, int64_t expires, int64_t uses,
		     const char *comment, int64_t now, int64_t *id,
		     struct bw_err *err);
int bw_pg__token_list(struct bw_store *s, json_t **out, struct bw_err *err);
int bw_pg__token_revoke(struct bw_store *s, int64_t id, struct bw_err *err);
int bw_pg__token_use(struct bw_store *s, const char *hash_hex, int64_t now,
		     struct bw_token_use *out, struct bw_err *err);
int bw_pg__meta_put(struct bw_store *s, const struct bw_meta_rec *m,
		    int64_t now, struct bw_err *err);
int bw_pg__meta_get(struct bw_store *s, const char *flavour, const char *tag,
		    const char *role, int64_t version, struct bw_meta_rec *m,
		    struct bw_err *err);
int bw_pg__meta_heads(struct bw_store *s, json_t **out, struct bw_err *err);
int bw_pg__ci_target_add(struct bw_store *s, const char *name, uint64_t length,
			 const char *sha256, const char *custom_json,
			 int64_t now, struct bw_err *err);
int bw_pg__crl_put(struct bw_store *s, const char *issuer, int64_t number,
		   const uint8_t *pem, size_t len, int64_t now,
		   struct bw_err *err);
int bw_pg__crl_list(struct bw_store *s, json_t **out, struct bw_err *err);
int bw_pg__ca_put(struct bw_store *s, const char *name, const uint8_t *pem,
		  size_t len, int production, int64_t now, struct bw_err *err);
int bw_pg__ca_list(struct bw_store *s, json_t **out, struct bw_err *err);
int bw_pg__identity_changes(struct bw_store *s, int64_t *out,
			    struct bw_err *err);

/* ---- certificate rotations (EST) ---------------------------------------- */

int bw_pg__rotation_add(struct bw_store *s, const struct bw_rotation_rec *r,
			const char *cert_pem, struct bw_err *err);
int bw_pg__rotation_pending(struct bw_store *s, const char *uuid,
			    struct bw_rotation_rec *out, char **cert_pem,
			    struct bw_err *err);
int bw_pg__rotation_by_fp(struct bw_store *s, const char *new_fp,
			  struct bw_rotation_rec *out, struct bw_err *err);
int bw_pg__rotation_finish(struct bw_store *s, const char *new_fp, int state,
			   int64_t now, struct bw_err *err);
int bw_pg__rotation_list(struct bw_store *s, int state, int64_t limit,
			 json_t **out, struct bw_err *err);
int bw_pg__cert_deny_add(struct bw_store *s, const char *fp, const char *uuid,
			 const char *reason, int64_t now, struct bw_err *err);
int bw_pg__cert_deny_has(struct bw_store *s, const char *fp,
			 struct bw_err *err);
int bw_pg__rotate_request_set(struct bw_store *s, const char *kind,
			      const char *name, int64_t now,
			      struct bw_err *err);
int bw_pg__rotate_request_get(struct bw_store *s, const char *kind,
			      const char *name, int64_t *when,
			      struct bw_err *err);

/* ---- the fleet page: device queries, accounts, sessions ----------------- */

int bw_pg__device_query(struct bw_store *s, const struct bw_device_query *dq,
			json_t **out, struct bw_err *err);
int bw_pg__device_status_set(struct bw_store *s, const char *uuid,
			     const char *status, struct bw_err *err);
int bw_pg__account_add(struct bw_store *s, const char *hash_hex,
		       const char *role, int64_t expires, const char *comment,
		       int64_t now, int64_t *id, struct bw_err *err);
int bw_pg__account_list(struct bw_store *s, json_t **out, struct bw_err *err);
int bw_pg__account_revoke(struct bw_store *s, int64_t id, struct bw_err *err);
int bw_pg__account_find(struct bw_store *s, const char *hash_hex, int64_t now,
			struct bw_account_rec *out, struct bw_err *err);
int bw_pg__session_put(struct bw_store *s, const char *hash_hex,
		       const struct bw_session_rec *rec, int64_t now,
		       struct bw_err *err);
int bw_pg__session_get(struct bw_store *s, const char *hash_hex, int64_t now,
		       struct bw_session_rec *out, struct bw_err *err);
int bw_pg__session_del(struct bw_store *s, const char *hash_hex,
		       struct bw_err *err);

/* ---- waves -------------------------------------------------------------- */

int bw_pg__wave_add(struct bw_store *s, const struct bw_wave_rec *w,
		    const uint8_t *charter, size_t len, struct bw_err *err);
int bw_pg__wave_update(struct bw_store *s, const struct bw_wave_rec *w,
		       struct bw_err *err);
int bw_pg__wave_get(struct bw_store *s, const char *name,
		    struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		    struct bw_err *err);
int bw_pg__wave_active(struct bw_store *s, const char *tag,
		       struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		       struct bw_err *err);
int bw_pg__wave_list(struct bw_store *s, int active_only, json_t **out,
		     struct bw_err *err);
int bw_pg__wave_device_get(struct bw_store *s, const char *wave,
			   const char *uuid, struct bw_wave_dev_rec *out,
			   struct bw_err *err);
int bw_pg__wave_device_put(struct bw_store *s, const struct bw_wave_dev_rec *d,
			   struct bw_err *err);
int bw_pg__wave_counts(struct bw_store *s, const char *wave,
		       int64_t silent_before, struct bw_wave_step_counts *out,
		       size_t nsteps, struct bw_err *err);
int bw_pg__wave_admitted_since(struct bw_store *s, const char *wave,
			       int64_t since, int64_t *n, struct bw_err *err);
int bw_pg__wave_log_add(struct bw_store *s, const char *wave, int64_t now,
			const char *entry_json, struct bw_err *err);
int bw_pg__wave_log(struct bw_store *s, const char *wave, json_t **out,
		    struct bw_err *err);

/* ---- transparency log --------------------------------------------------- */

int bw_pg__tlog_size(struct bw_store *s, uint64_t *out, struct bw_err *err);
int bw_pg__tlog_leaf_add(struct bw_store *s, uint64_t index,
			 const uint8_t *entry, size_t len, int64_t now,
			 struct bw_err *err);
int bw_pg__tlog_leaf_get(struct bw_store *s, uint64_t index, size_t max,
			 uint8_t **entry, size_t *len, struct bw_err *err);
int bw_pg__tlog_node_put(struct bw_store *s, int level, uint64_t index,
			 const uint8_t hash[32], struct bw_err *err);
int bw_pg__tlog_node_get(struct bw_store *s, int level, uint64_t index,
			 uint8_t out[32], struct bw_err *err);
int bw_pg__tlog_checkpoint_put(struct bw_store *s, uint64_t size,
			       const char *note, size_t len, int64_t now,
			       struct bw_err *err);
int bw_pg__tlog_checkpoint_get(struct bw_store *s, int64_t size,
			       uint64_t *out_size, char **note, size_t *len,
			       struct bw_err *err);
int bw_pg__tlog_checkpoint_witnessed(struct bw_store *s, uint64_t min,
				     uint64_t *out_size, char **note,
				     size_t *len, struct bw_err *err);
int bw_pg__tlog_find_digest(struct bw_store *s, const char *hex,
			    uint64_t *index, struct bw_err *err);
int bw_pg__pki_logged_put(struct bw_store *s, const char *digest,
			  int64_t now, struct bw_err *err);
int bw_pg__pki_logged_get(struct bw_store *s, const char *digest,
			  int64_t *seq, struct bw_err *err);

#endif
