/*
 * PostgreSQL storage backend (storage_postgres.c): waves: rollouts, the devices
 * admitted, their log.
 */
#include "storage_postgres_priv.h"

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

int bw_pg__wave_add(struct bw_store *s, const struct bw_wave_rec *w,
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
	return bw_pg__xq(PG(s), S_WAVE_ADD, &p, NULL, err, "wave add");
}

int bw_pg__wave_update(struct bw_store *s, const struct bw_wave_rec *w,
		       struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, w->name);
	p_i64(&p, w->state);
	p_i64(&p, w->step);
	p_i64(&p, w->step_started);
	p_i64(&p, w->updated);
	p_text(&p, w->reason);
	return bw_pg__xq(PG(s), S_WAVE_UPD, &p, NULL, err, "wave update");
}

static int wave_fetch(struct pg *q, enum bw_store_stmt id, const char *key,
		      struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		      struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, key);
	if ((rc = bw_pg__xq(q, id, &p, &r, err, "wave get")))
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return bw_err_set(err, BW_ENOTFOUND, "no such wave");
	}
	wave_row(r, 0, out);
	if (charter && !(*charter = bw_pg__col_bytes(r, 0, 8, len)))
		rc = bw_err_set(err, BW_ENOMEM, "no memory");
	PQclear(r);
	return rc;
}

int bw_pg__wave_get(struct bw_store *s, const char *name,
		    struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		    struct bw_err *err)
{
	return wave_fetch(PG(s), S_WAVE_GET, name, out, charter, len, err);
}

int bw_pg__wave_active(struct bw_store *s, const char *tag,
		       struct bw_wave_rec *out, uint8_t **charter, size_t *len,
		       struct bw_err *err)
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

int bw_pg__wave_list(struct bw_store *s, int active_only, json_t **out,
		     struct bw_err *err)
{
	struct params p = {.n = 0};

	return bw_pg__list(PG(s),
			   active_only ? S_WAVE_LIST_ACTIVE : S_WAVE_LIST, &p,
			   wave_row_json, out, err);
}

int bw_pg__wave_device_get(struct bw_store *s, const char *wave,
			   const char *uuid, struct bw_wave_dev_rec *out,
			   struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	p_text(&p, wave);
	p_text(&p, uuid);
	if ((rc = bw_pg__xq(PG(s), S_WDEV_GET, &p, &r, err, "wave device get")))
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

int bw_pg__wave_device_put(struct bw_store *s, const struct bw_wave_dev_rec *d,
			   struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, d->wave);
	p_text(&p, d->uuid);
	p_i64(&p, d->step);
	p_i64(&p, d->admitted);
	p_i64(&p, d->outcome);
	p_i64(&p, d->reported);
	return bw_pg__xq(PG(s), S_WDEV_PUT, &p, NULL, err, "wave device put");
}

int bw_pg__wave_counts(struct bw_store *s, const char *wave,
		       int64_t silent_before, struct bw_wave_step_counts *out,
		       size_t nsteps, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	memset(out, 0, nsteps * sizeof(*out));
	p_text(&p, wave);
	p_i64(&p, silent_before);
	if ((rc = bw_pg__xq(PG(s), S_WDEV_COUNTS, &p, &r, err, "wave counts")))
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

int bw_pg__wave_admitted_since(struct bw_store *s, const char *wave,
			       int64_t since, int64_t *n, struct bw_err *err)
{
	struct params p = {.n = 0};
	PGresult *r = NULL;
	int rc = 0;

	*n = 0;
	p_text(&p, wave);
	p_i64(&p, since);
	if ((rc = bw_pg__xq(PG(s), S_WDEV_SINCE, &p, &r, err,
			    "wave admissions")))
		return rc;
	if (PQntuples(r) == 1)
		*n = col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

int bw_pg__wave_log_add(struct bw_store *s, const char *wave, int64_t now,
			const char *entry_json, struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, wave);
	p_i64(&p, now);
	p_text(&p, entry_json);
	return bw_pg__xq(PG(s), S_WLOG_ADD, &p, NULL, err, "wave log add");
}

static json_t *wave_log_row_json(const PGresult *r, int i)
{
	json_t *entry = json_loadb(PQgetvalue(r, i, 1),
				   (size_t)PQgetlength(r, i, 1), 0, NULL);

	return json_pack("{s:I,s:o}", "time", (json_int_t)col_i64(r, i, 0),
			 "entry", entry ? entry : json_null());
}

int bw_pg__wave_log(struct bw_store *s, const char *wave, json_t **out,
		    struct bw_err *err)
{
	struct params p = {.n = 0};

	p_text(&p, wave);
	return bw_pg__list(PG(s), S_WLOG_LIST, &p, wave_log_row_json, out, err);
}
