/*
 * Production waves in bulwarkd (waves.h).
 *
 * The server holds each wave's charter (verified against the production
 * root when uploaded), the open step, and one row per admitted device
 * with its outcome. It can only narrow what the charter allows: the
 * gateway admits a device when the device's own cohort step (the same
 * library rule the device applies) is open, at most admit_per_minute
 * devices a minute; devices check the charter themselves before taking
 * the wave. Every state change (start, advance, halt, operator commands)
 * is one durable transaction with its log entry.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "bulwark/wave.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "translog.h"
#include "waves.h"

static const char *const state_names[] = {"?", "running", "paused",
					  "halted", "completed", "cancelled"};

static const char *state_name(int s)
{
	return s >= 1 && s <= 5 ? state_names[s] : "?";
}

static void rule_of(const struct bw_srv *srv, struct bw_wave_rule *r)
{
	const struct bw_srv_config *c = srv->cfg;

	r->max_failure_rate = (double)c->wave_max_failure_ppm / BW_WAVE_PPM;
	r->halt_confidence = (double)c->wave_halt_confidence_ppm / BW_WAVE_PPM;
	r->advance_confidence =
	    (double)c->wave_advance_confidence_ppm / BW_WAVE_PPM;
	r->min_sample = (uint32_t)c->wave_min_sample;
}

static int64_t silence_limit(const struct bw_srv *srv)
{
	return srv->cfg->wave_poll_interval * srv->cfg->wave_silence_polls;
}

/*
 * Every wave step and decision also goes into the transparency log, in
 * the same transaction: "wave.<action>" (start, advance, halt, pause,
 * resume, complete, ...) with the wave, its tag and step, by whom.
 */
static int wave_tlog(struct bw_store *st, const char *wave, const char *text,
		     int64_t now, struct bw_err *err)
{
	json_t *e = json_loads(text, 0, NULL), *o = NULL;
	const char *action = json_string_value(json_object_get(e, "action"));
	const char *who = json_string_value(json_object_get(e, "by"));
	char act[64], by[64];
	int rc;

	snprintf(act, sizeof(act), "wave.%.40s", action ? action : "change");
	snprintf(by, sizeof(by), "wave:%.40s", who ? who : "server");
	/* entry names allow [a-z0-9._-] and no space */
	for (char *p = act; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == '_'))
			*p = '-';
	for (char *p = by; *p; p++)
		if (*p <= ' ' || *p > '~')
			*p = '-';
	o = json_pack("{s:s, s:O?, s:O?}", "wave", wave, "step",
		      json_object_get(e, "step"), "tag",
		      json_object_get(e, "tag"));
	rc = o ? bw_srv_tlog_append(st, act, by, o, now, NULL, err)
	       : bw_err_set(err, BW_ENOMEM, "out of memory");
	json_decref(o);
	json_decref(e);
	return rc;
}

/*
 * Every wave step and decision is recorded here, in the caller's
 * transaction: in the wave's own log (shown by GET /waves/NAME), in the
 * transparency log (wave_tlog) and in the server log the operator reads.
 */
static int wave_record(struct bw_srv *srv, const char *wave, int64_t now,
		       json_t *entry, struct bw_err *err)
{
	uint8_t *b = NULL;
	size_t n = 0;
	char *text;
	int rc;

	if (!entry)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_json_serialize(entry, &b, &n, err);
	json_decref(entry);
	if (rc)
		return rc;
	text = malloc(n + 1);
	if (!text) {
		free(b);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	memcpy(text, b, n);
	text[n] = '\0';
	free(b);
	rc = srv->store->ops->wave_log_add(srv->store, wave, now, text, err);
	if (!rc)
		rc = wave_tlog(srv->store, wave, text, now, err);
	if (!rc)
		bw_srv_log(BW_SRV_LOG_NOTICE, "wave %s: %.400s", wave, text);
	free(text);
	return rc;
}

/* The whole wave's counts (steps summed) and the per-step table. */
static int wave_counts(struct bw_srv *srv, const struct bw_wave_rec *w,
		       const struct bw_wave_charter *c, int64_t now,
		       struct bw_wave_step_counts *steps,
		       struct bw_wave_counts *total, struct bw_err *err)
{
	int rc = srv->store->ops->wave_counts(srv->store, w->name,
					      now - silence_limit(srv), steps,
					      c->nsteps, err);

	memset(total, 0, sizeof(*total));
	for (size_t i = 0; !rc && i < c->nsteps; i++) {
		total->succeeded += (uint64_t)steps[i].succeeded;
		total->failed += (uint64_t)steps[i].failed;
		total->silent += (uint64_t)steps[i].silent;
	}
	return rc;
}

static json_t *verdict_json(const struct bw_wave_verdict *v)
{
	return json_pack("{s:s,s:I,s:I,s:I,s:I}", "decision",
			 bw_wave_decision_name(v->decision), "outcomes",
			 (json_int_t)v->outcomes, "failures",
			 (json_int_t)v->failures, "lower-ppm",
			 (json_int_t)(v->lower * BW_WAVE_PPM + 0.5), "upper-ppm",
			 (json_int_t)(v->upper * BW_WAVE_PPM + 0.5));
}

/* Apply the health rule to a running wave inside the caller's
 * transaction: halt, advance, or nothing. *changed says whether w moved. */
static int decide(struct bw_srv *srv, struct bw_wave_rec *w,
		  const struct bw_wave_charter *c, int64_t now, int *changed,
		  struct bw_err *err)
{
	struct bw_wave_step_counts steps[BW_WAVE_MAX_STEPS];
	struct bw_wave_counts total;
	struct bw_wave_verdict v;
	struct bw_wave_rule rule;
	int bake_done, rc;

	*changed = 0;
	if (w->state != BW_WAVE_RUNNING || w->step < 0 ||
	    (size_t)w->step >= c->nsteps)
		return 0;
	if (now >= c->expires) {
		w->state = BW_WAVE_HALTED;
		snprintf(w->reason, sizeof(w->reason), "the charter expired");
		*changed = 1;
		return wave_record(srv, w->name, now,
				   json_pack("{s:s,s:s}", "action", "halt",
					     "by", "charter expiry"), err);
	}
	rc = wave_counts(srv, w, c, now, steps, &total, err);
	if (rc)
		return rc;
	rule_of(srv, &rule);
	bake_done = now - w->step_started >= c->steps[w->step].bake_seconds;
	bw_wave_decide(&rule, &total, bake_done, &v);
	if (v.decision == BW_WAVE_HALT) {
		w->state = BW_WAVE_HALTED;
		snprintf(w->reason, sizeof(w->reason),
			 "health rule: %" PRIu64 " of %" PRIu64
			 " outcomes failed; failure rate above %.4g%% at "
			 "%.4g%% confidence",
			 v.failures, v.outcomes, 100 * rule.max_failure_rate,
			 100 * rule.halt_confidence);
	} else if (v.decision == BW_WAVE_ADVANCE &&
		   (size_t)w->step + 1 < c->nsteps) {
		w->step++;
		w->step_started = now;
		snprintf(w->reason, sizeof(w->reason),
			 "health rule: step %" PRId64 " opened", w->step);
	} else {
		return 0;
	}
	*changed = 1;
	return wave_record(
	    srv, w->name, now,
	    json_pack("{s:s,s:s,s:I,s:o}", "action",
		      w->state == BW_WAVE_HALTED ? "halt" : "advance", "by",
		      "health rule", "step", (json_int_t)w->step, "verdict",
		      verdict_json(&v)),
	    err);
}

static int charter_of(const uint8_t *b, size_t n, struct bw_wave_charter **c,
		      struct bw_err *err)
{
	return bw_wave_charter_parse(b, n, c, err);
}

/* Evaluate wave name now, in one durable transaction. */
static void evaluate(struct bw_srv *srv, const char *name)
{
	struct bw_store *st = srv->store;
	struct bw_wave_charter *c = NULL;
	struct bw_wave_rec w;
	struct bw_err err = {0};
	uint8_t *b = NULL;
	size_t n = 0;
	int changed = 0, rc;
	int64_t now = time(NULL);

	rc = st->ops->begin(st, &err);
	if (!rc)
		rc = st->ops->wave_get(st, name, &w, &b, &n, &err);
	if (!rc)
		rc = charter_of(b, n, &c, &err);
	if (!rc)
		rc = decide(srv, &w, c, now, &changed, &err);
	if (!rc && changed) {
		w.updated = now;
		rc = st->ops->wave_update(st, &w, &err);
	}
	if (!rc)
		rc = st->ops->commit(st, &err);
	if (rc) {
		st->ops->rollback(st);
		bw_srv_log(BW_SRV_LOG_ERR, "wave %s: evaluation failed: %s",
			   name, err.msg);
	}
	bw_wave_charter_free(c);
	free(b);
}

void bw_srv_waves_tick(struct bw_srv *srv)
{
	struct bw_err err = {0};
	json_t *list = NULL, *v;
	size_t i;

	if (srv->store->ops->wave_list(srv->store, 1, &list, &err)) {
		bw_srv_log(BW_SRV_LOG_ERR, "waves: %s", err.msg);
		return;
	}
	json_array_foreach(list, i, v)
	{
		const char *state = json_string_value(json_object_get(v, "state"));

		if (state && !strcmp(state, "running"))
			evaluate(srv, json_string_value(json_object_get(v, "name")));
	}
	json_decref(list);
}

/* ---- the gateway -------------------------------------------------------- */

static int hw_ok(const struct bw_wave_charter *c, const char *hwid)
{
	if (!hwid[0])
		return 1; /* not known to the server: the device decides */
	for (size_t i = 0; i < c->nhwids; i++)
		if (!strcmp(c->hwids[i], hwid))
			return 1;
	return 0;
}

/* Admit uuid into running wave w when its cohort step is open and the
 * throttle allows. *granted: the open step, or -1. */
static int admit(struct bw_srv *srv, const struct bw_wave_rec *w,
		 const struct bw_wave_charter *c, const char *uuid,
		 const char *hwid, int64_t now, int64_t *granted,
		 struct bw_err *err)
{
	struct bw_store *st = srv->store;
	struct bw_wave_dev_rec d;
	size_t step = 0;
	int64_t recent = 0;
	int rc;

	*granted = -1;
	rc = st->ops->wave_device_get(st, w->name, uuid, &d, err);
	if (!rc) {
		if (w->state == BW_WAVE_RUNNING || w->state == BW_WAVE_PAUSED)
			*granted = w->step;
		return 0;
	}
	if (rc != BW_ENOTFOUND)
		return rc;
	if (w->state != BW_WAVE_RUNNING || !hw_ok(c, hwid) ||
	    bw_wave_charter_step_of(c, uuid, &step, NULL) ||
	    (int64_t)step > w->step)
		return 0;
	/* a device the throttle turns away costs no write transaction: the
	 * count is read first, and again inside the admission's own */
	rc = st->ops->wave_admitted_since(st, w->name, now - 59, &recent, err);
	if (rc)
		return rc;
	if (recent >= srv->cfg->wave_admit_per_minute)
		return 0; /* throttled: next poll */
	rc = st->ops->begin(st, err);
	if (!rc)
		rc = st->ops->wave_admitted_since(st, w->name, now - 59, &recent,
						  err);
	if (!rc && recent >= srv->cfg->wave_admit_per_minute) {
		st->ops->rollback(st);
		return 0; /* throttled: next poll */
	}
	memset(&d, 0, sizeof(d));
	snprintf(d.wave, sizeof(d.wave), "%s", w->name);
	snprintf(d.uuid, sizeof(d.uuid), "%s", uuid);
	d.step = (int64_t)step;
	d.admitted = now;
	if (!rc)
		rc = st->ops->wave_device_put(st, &d, err);
	if (!rc)
		rc = st->ops->commit(st, err);
	if (rc) {
		st->ops->rollback(st);
		return rc;
	}
	*granted = w->step;
	return 0;
}

void bw_srv_waves_serve(struct bw_srv *srv, struct evhttp_request *req,
			const struct bw_srv_identity *id,
			const struct bw_device_rec *dev, const char *tag)
{
	struct bw_wave_charter *c = NULL;
	struct bw_wave_rec w;
	struct bw_err err = {0};
	uint8_t *b = NULL;
	size_t n = 0;
	int64_t granted = -1;
	int rc;

	if (!id->production) {
		bw_srv_http_status(req, 404);
		return;
	}
	rc = srv->store->ops->wave_active(srv->store, tag, &w, &b, &n, &err);
	if (!rc)
		rc = charter_of(b, n, &c, &err);
	if (!rc)
		rc = admit(srv, &w, c, id->uuid, dev ? dev->hwid : "",
			   time(NULL), &granted, &err);
	if (rc) {
		if (rc != BW_ENOTFOUND)
			bw_srv_log(BW_SRV_LOG_ERR, "wave for %s: %s", id->uuid,
				   err.msg);
		bw_srv_http_status(req, rc == BW_ENOTFOUND ? 404 : 500);
		goto out;
	}
	/* {"charter": the signed charter as uploaded, "state", "step": the
	 * step granted to this device, -1 while it is not admitted}. The
	 * step is only the server's word: the device checks it against the
	 * charter. */
	bw_srv_http_json(req, 200,
			 json_pack("{s:O,s:s,s:I}", "charter", c->doc, "state",
				   state_name(w.state), "step",
				   (json_int_t)granted));
out:
	bw_wave_charter_free(c);
	free(b);
}

int bw_srv_waves_target_allowed(struct bw_srv *srv,
				const struct bw_srv_identity *id,
				const char *tag, const char *name)
{
	struct bw_wave_charter *c = NULL;
	struct bw_wave_dev_rec d;
	struct bw_wave_rec w;
	uint8_t *b = NULL;
	size_t n = 0;
	int ok = 0;

	if (!id->production ||
	    srv->store->ops->wave_active(srv->store, tag, &w, &b, &n, NULL) ||
	    srv->store->ops->wave_device_get(srv->store, w.name, id->uuid, &d,
					     NULL) ||
	    charter_of(b, n, &c, NULL)) {
		free(b);
		return 0;
	}
	for (size_t i = 0; i < c->ntargets; i++)
		ok |= !strcmp(c->targets[i]->path, name);
	bw_wave_charter_free(c);
	free(b);
	return ok;
}

/* 1 succeeded, 2 failed, 0 no outcome for the wave's targets. */
static int outcome_of(const json_t *e, const struct bw_wave_charter *c)
{
	const json_t *ev = json_object_get(e, "event");
	const char *type = json_string_value(
	    json_object_get(json_object_get(e, "eventType"), "id"));
	const char *name =
	    json_string_value(json_object_get(ev, "targetName"));
	const json_t *ok = json_object_get(ev, "success");
	int ours = 0;

	for (size_t i = 0; name && i < c->ntargets; i++)
		ours |= !strcmp(c->targets[i]->path, name);
	if (!type || !ours)
		return 0;
	if (!strcmp(type, "EcuRollback"))
		return 2;
	if (!strcmp(type, "EcuInstallationCompleted"))
		return json_is_true(ok) ||
			       (json_is_string(ok) &&
				!strcmp(json_string_value(ok), "true"))
			   ? 1
			   : 2;
	return 0;
}

void bw_srv_waves_note_events(struct bw_srv *srv, const char *uuid,
			      const char *tag, const uint8_t *body,
			      size_t len)
{
	struct bw_store *st = srv->store;
	struct bw_json_limits lim = {.max_bytes = len + 1, .max_depth = 4};
	struct bw_wave_charter *c = NULL;
	struct bw_wave_dev_rec d;
	struct bw_wave_rec w;
	struct bw_err err = {0};
	json_t *arr = NULL, *e;
	uint8_t *b = NULL;
	size_t n = 0, i;
	int changed = 0, rc;

	rc = st->ops->wave_active(st, tag, &w, &b, &n, &err);
	if (!rc)
		rc = charter_of(b, n, &c, &err);
	if (!rc)
		rc = st->ops->wave_device_get(st, w.name, uuid, &d, &err);
	if (!rc)
		rc = bw_json_parse(body, len, &lim, &arr, &err);
	json_array_foreach(rc ? NULL : arr, i, e)
	{
		int o = outcome_of(e, c);

		/* A failure after a success (a later rollback) wins. */
		if (o && o != d.outcome && d.outcome != 2) {
			d.outcome = o;
			d.reported = time(NULL);
			changed = 1;
		}
	}
	if (changed) {
		rc = st->ops->begin(st, &err);
		if (!rc)
			rc = st->ops->wave_device_put(st, &d, &err);
		if (!rc)
			rc = st->ops->commit(st, &err);
		if (rc) {
			st->ops->rollback(st);
			bw_srv_log(BW_SRV_LOG_ERR, "wave %s: outcome of %s: %s",
				   w.name, uuid, err.msg);
		} else if (w.state == BW_WAVE_RUNNING) {
			evaluate(srv, w.name); /* halt at once on bad news */
		}
	}
	json_decref(arr);
	bw_wave_charter_free(c);
	free(b);
}

/* ---- the admin API ------------------------------------------------------ */

static void reply_err(struct evhttp_request *req, int rc,
		      const struct bw_err *err)
{
	bw_srv_http_json(req, bw_srv_http_code(rc),
			 json_pack("{s:s,s:s}", "error", bw_strerror(rc),
				   "reason", err->msg));
}

static json_t *status_json(struct bw_srv *srv, const struct bw_wave_rec *w,
			   const struct bw_wave_charter *c, int64_t now,
			   struct bw_err *err)
{
	struct bw_wave_step_counts steps[BW_WAVE_MAX_STEPS];
	struct bw_wave_counts total;
	struct bw_wave_verdict v;
	struct bw_wave_rule rule;
	json_t *out = NULL, *arr, *log = NULL;
	char exp[32];

	if (wave_counts(srv, w, c, now, steps, &total, err) ||
	    srv->store->ops->wave_log(srv->store, w->name, &log, err))
		return NULL;
	rule_of(srv, &rule);
	bw_wave_decide(&rule, &total,
		       w->step >= 0 && (size_t)w->step < c->nsteps &&
			   now - w->step_started >=
			       c->steps[w->step].bake_seconds,
		       &v);
	arr = json_array();
	for (size_t i = 0; arr && i < c->nsteps; i++)
		json_array_append_new(
		    arr, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "step",
				   (json_int_t)i, "admit-ppm",
				   (json_int_t)c->steps[i].admit_ppm,
				   "bake-seconds",
				   (json_int_t)c->steps[i].bake_seconds,
				   "admitted", (json_int_t)steps[i].admitted,
				   "succeeded", (json_int_t)steps[i].succeeded,
				   "failed", (json_int_t)steps[i].failed,
				   "silent", (json_int_t)steps[i].silent,
				   "pending", (json_int_t)steps[i].pending));
	bw_tuf_time_format(c->expires, exp, sizeof(exp));
	out = json_pack(
	    "{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:o,s:o,s:o,s:o}", "name",
	    w->name, "tag", w->tag, "state", state_name(w->state), "step",
	    (json_int_t)w->step, "step-started", (json_int_t)w->step_started,
	    "created", (json_int_t)w->created, "updated",
	    (json_int_t)w->updated, "reason", w->reason, "expires", exp,
	    "rule",
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "max-failure-ppm",
		      (json_int_t)srv->cfg->wave_max_failure_ppm,
		      "halt-confidence-ppm",
		      (json_int_t)srv->cfg->wave_halt_confidence_ppm,
		      "advance-confidence-ppm",
		      (json_int_t)srv->cfg->wave_advance_confidence_ppm,
		      "min-sample", (json_int_t)srv->cfg->wave_min_sample,
		      "silence-seconds", (json_int_t)silence_limit(srv),
		      "admit-per-minute",
		      (json_int_t)srv->cfg->wave_admit_per_minute),
	    "steps", arr, "verdict", verdict_json(&v), "log", log);
	if (!out)
		bw_err_set(err, BW_ENOMEM, "out of memory");
	return out;
}

int bw_srv_waves_status(struct bw_srv *srv, const char *name, json_t **out,
			struct bw_err *err)
{
	struct bw_wave_charter *c = NULL;
	struct bw_wave_rec w;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	rc = srv->store->ops->wave_get(srv->store, name, &w, &b, &n, err);
	if (!rc)
		rc = charter_of(b, n, &c, err);
	if (!rc && !(*out = status_json(srv, &w, c, time(NULL), err)))
		rc = err->code ? err->code : BW_ENOMEM;
	bw_wave_charter_free(c);
	free(b);
	return rc;
}

static void wave_status(struct bw_srv *srv, struct evhttp_request *req,
			const char *name, int code)
{
	struct bw_err err = {0};
	json_t *out = NULL;
	int rc = bw_srv_waves_status(srv, name, &out, &err);

	if (rc)
		reply_err(req, rc, &err);
	else
		bw_srv_http_json(req, code, out);
}

/* POST /waves: a charter signed up to the production threshold. */
static void wave_upload(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_store *st = srv->store;
	struct bw_wave_charter *c = NULL;
	struct bw_wave_rec w, cur;
	struct bw_meta_rec root;
	struct bw_err err = {0};
	const uint8_t *body;
	size_t len = 0;
	int64_t now = time(NULL);
	int rc;

	memset(&root, 0, sizeof(root));
	body = bw_srv_http_body(req, &len);
	rc = body ? 0 : bw_err_set(&err, BW_EIO, "no body");
	if (!rc)
		rc = st->ops->meta_get(st, "production", "", "root", 0, &root,
				       &err);
	if (rc == BW_ENOTFOUND)
		rc = bw_err_set(&err, BW_ESTATE, "no production root yet");
	if (!rc)
		rc = bw_wave_charter_verify(body, len, root.data, root.len, now,
					    &c, &err);
	if (!rc)
		rc = st->ops->begin(st, &err);
	if (!rc && !st->ops->wave_active(st, c->tag, &cur, NULL, NULL, NULL))
		rc = bw_err_set(&err, BW_EEXIST, "tag %s already has wave %s",
				c->tag, cur.name);
	if (!rc) {
		memset(&w, 0, sizeof(w));
		snprintf(w.name, sizeof(w.name), "%s", c->name);
		snprintf(w.tag, sizeof(w.tag), "%s", c->tag);
		w.state = BW_WAVE_RUNNING;
		w.step_started = w.created = w.updated = now;
		snprintf(w.reason, sizeof(w.reason), "started");
		rc = st->ops->wave_add(st, &w, body, len, &err);
	}
	if (!rc)
		rc = wave_record(srv, w.name, now,
				 json_pack("{s:s,s:s,s:s}", "action", "start",
					   "by", "operator", "tag", w.tag),
				 &err);
	if (!rc)
		rc = st->ops->commit(st, &err);
	if (rc) {
		st->ops->rollback(st);
		reply_err(req, rc == BW_ESIG || rc == BW_EEXPIRED ? BW_EFORMAT
								   : rc,
			  &err);
	} else {
		wave_status(srv, req, w.name, 201);
	}
	bw_wave_charter_free(c);
	free(root.data);
}

/* The production targets of tag list every target of the charter with
 * the same length and hashes (what `complete` requires). */
static int promoted(struct bw_srv *srv, const struct bw_wave_charter *c,
		    struct bw_err *err)
{
	struct bw_meta_rec m;
	json_t *doc = NULL, *targets, *mine;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = srv->store->ops->meta_get(srv->store, "production", c->tag,
				       "targets", 0, &m, err);
	if (!rc)
		rc = bw_json_parse(m.data, m.len, NULL, &doc, err);
	targets = json_object_get(json_object_get(doc, "signed"), "targets");
	mine = json_object_get(json_object_get(c->doc, "signed"), "targets");
	for (size_t i = 0; !rc && i < c->ntargets; i++) {
		const char *p = c->targets[i]->path;
		json_t *a = json_object_get(targets, p),
		       *b = json_object_get(mine, p);

		if (!a || !json_equal(json_object_get(a, "length"),
				      json_object_get(b, "length")) ||
		    !json_equal(json_object_get(a, "hashes"),
				json_object_get(b, "hashes")))
			rc = bw_err_set(err, BW_ESTATE,
					"the production targets of %s do not "
					"list %.200s yet: promote the wave's "
					"release first",
					c->tag, p);
	}
	json_decref(doc);
	free(m.data);
	return rc;
}

/* The operator's commands: which states each may leave, where it goes. */
static int transition(const char *action, int from, int *to)
{
	static const struct {
		const char *action;
		int from_mask;
		int to;
	} t[] = {
	    {"pause", 1 << BW_WAVE_RUNNING, BW_WAVE_PAUSED},
	    {"resume", 1 << BW_WAVE_PAUSED | 1 << BW_WAVE_HALTED,
	     BW_WAVE_RUNNING},
	    {"halt", 1 << BW_WAVE_RUNNING | 1 << BW_WAVE_PAUSED,
	     BW_WAVE_HALTED},
	    {"cancel",
	     1 << BW_WAVE_RUNNING | 1 << BW_WAVE_PAUSED | 1 << BW_WAVE_HALTED,
	     BW_WAVE_CANCELLED},
	    {"complete",
	     1 << BW_WAVE_RUNNING | 1 << BW_WAVE_PAUSED | 1 << BW_WAVE_HALTED,
	     BW_WAVE_COMPLETED},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(t[i].action, action))
			continue;
		if (!(t[i].from_mask & (1 << from)))
			return BW_ESTATE;
		*to = t[i].to;
		return 0;
	}
	return BW_ENOTFOUND;
}

int bw_srv_waves_command(struct bw_srv *srv, const char *name,
			 const char *action, const char *who,
			 struct bw_err *errp)
{
	struct bw_store *st = srv->store;
	struct bw_wave_charter *c = NULL;
	struct bw_wave_rec w, other;
	struct bw_err err = {0};
	uint8_t *b = NULL;
	size_t n = 0;
	int64_t now = time(NULL);
	int to = 0, rc;

	rc = st->ops->begin(st, &err);
	if (!rc)
		rc = st->ops->wave_get(st, name, &w, &b, &n, &err);
	if (!rc)
		rc = charter_of(b, n, &c, &err);
	if (!rc && (rc = transition(action, w.state, &to)))
		bw_err_set(&err, rc == BW_ESTATE ? BW_EEXIST : rc,
			   rc == BW_ESTATE ? "wave %s is %s: can not %s"
					   : "no such command%s%s%s",
			   rc == BW_ESTATE ? name : "",
			   rc == BW_ESTATE ? state_name(w.state) : "",
			   rc == BW_ESTATE ? action : "");
	if (rc == BW_ESTATE)
		rc = BW_EEXIST; /* 409: not in this state */
	if (!rc && to == BW_WAVE_COMPLETED)
		rc = promoted(srv, c, &err);
	if (rc == BW_ESTATE)
		rc = BW_EEXIST;
	/* resume must not give a tag two active waves. */
	if (!rc && to == BW_WAVE_RUNNING &&
	    !st->ops->wave_active(st, w.tag, &other, NULL, NULL, NULL) &&
	    strcmp(other.name, w.name))
		rc = bw_err_set(&err, BW_EEXIST, "tag %s already has wave %s",
				w.tag, other.name);
	if (!rc) {
		w.state = to;
		w.updated = now;
		if (to == BW_WAVE_RUNNING && !strcmp(action, "resume"))
			w.step_started = now; /* bake again after a stop */
		snprintf(w.reason, sizeof(w.reason), "operator: %s", action);
		rc = st->ops->wave_update(st, &w, &err);
	}
	if (!rc)
		rc = wave_record(srv, w.name, now,
				 json_pack("{s:s,s:s,s:I}", "action", action,
					   "by", "operator", "step",
					   (json_int_t)w.step),
				 &err);
	if (!rc)
		rc = st->ops->commit(st, &err);
	bw_wave_charter_free(c);
	free(b);
	if (rc)
		st->ops->rollback(st);
	else
		bw_srv_log(BW_SRV_LOG_NOTICE, "wave %s: %s by %s", name,
			   action, who);
	*errp = err;
	return rc;
}

static void wave_command(struct bw_srv *srv, struct evhttp_request *req,
			 const char *name, const char *action, const char *who)
{
	struct bw_err err = {0};
	int rc = bw_srv_waves_command(srv, name, action, who, &err);

	if (rc)
		reply_err(req, rc, &err);
	else
		wave_status(srv, req, name, 200);
}

void bw_srv_waves_admin(struct bw_srv *srv, struct evhttp_request *req,
			const char *rest, const char *who)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_err err = {0};
	char name[BW_WAVE_REC_NAME_MAX + 1];
	const char *slash;
	json_t *out = NULL;
	size_t n;
	int rc;

	if (!rest[0] && cmd == EVHTTP_REQ_GET) {
		if ((rc = srv->store->ops->wave_list(srv->store, 0, &out, &err)))
			reply_err(req, rc, &err);
		else
			bw_srv_http_json(req, 200, out);
		return;
	}
	if (!rest[0] && cmd == EVHTTP_REQ_POST) {
		wave_upload(srv, req);
		return;
	}
	if (rest[0] != '/') {
		bw_srv_http_error(req, 404, "no such resource");
		return;
	}
	rest++;
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n >= sizeof(name)) {
		bw_srv_http_error(req, 404, "no such wave");
		return;
	}
	memcpy(name, rest, n);
	name[n] = '\0';
	if (!bw_wave_name_is_valid(name)) {
		bw_srv_http_error(req, 404, "no such wave");
		return;
	}
	if (!slash && cmd == EVHTTP_REQ_GET)
		wave_status(srv, req, name, 200);
	else if (slash && cmd == EVHTTP_REQ_POST && strlen(slash + 1) < 16)
		wave_command(srv, req, name, slash + 1, who);
	else
		bw_srv_http_error(req, 404, "no such resource");
}
