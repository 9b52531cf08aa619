/*
 * The run's watcher and report (fleetsim.h). The wave's numbers come from
 * the server (its per-step counts and its own log of decisions); the
 * simulator adds what only the devices know: when each outcome reached
 * the server, so the deciding outcome of a halt can be named and the time
 * from it to the halt measured.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "fleetsim.h"

#define FS_WATCH_PERIOD 0.2
#define FS_SETTLE_POLLS 3

struct fs_watch {
	double halt_seen;   /* first time the wave was seen stopped, 0 */
	double ended;
	double cpu0, cpu1, cpu0_at;
	int cpu_ok;
	long admin_errors;
	int failed;        /* the wave could not be started */
	json_t *advances;   /* [{"step", "seen"}] as observed */
};

static void nap(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

/* Nobody is between admission and outcome, and nobody was admitted for
 * a few poll intervals: the last step has reached whom it will reach. */
static int settled(struct fs_fleet *f, double now)
{
	double last = f->wave_started;
	int busy = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n; i++) {
		const struct fs_device *dv = &f->devs[i];

		if (dv->admitted_at > last)
			last = dv->admitted_at;
		if ((dv->admitted_at > 0 && dv->outcome == FS_OUT_NONE) ||
		    dv->report_pending)
			busy = 1;
	}
	pthread_mutex_unlock(&f->lock);
	return !busy && now - last > FS_SETTLE_POLLS * f->o->poll_s;
}

static int is_stopped(const char *state)
{
	return state && strcmp(state, "running") && strcmp(state, "paused");
}

/* Upload the charter once every device has checked in once: the wave
 * meets a warm fleet (bound, connected), as a real one would. */
static int start_wave(struct fs_fleet *f, struct fs_admin *a,
		      double deadline, struct bw_err *err)
{
	struct bw_buf b;
	long status = 0;
	size_t warm = 0;
	int rc;

	while (fs_now() < deadline) {
		pthread_mutex_lock(&f->lock);
		warm = f->warm;
		pthread_mutex_unlock(&f->lock);
		if (warm >= f->n)
			break;
		nap(FS_WATCH_PERIOD);
	}
	if (warm < f->n)
		return bw_err_set(err, BW_ESTATE, "only %zu of %zu devices "
				  "checked in before the deadline", warm, f->n);
	bw_buf_init(&b, 1u << 20);
	rc = bw_io_read_file(f->o->charter, b.max, &b, err);
	if (!rc)
		rc = fs_admin_post(a, "/waves", b.data, b.len, &status, err);
	bw_buf_dispose(&b);
	if (!rc) {
		pthread_mutex_lock(&f->lock);
		f->wave_started = fs_now();
		pthread_mutex_unlock(&f->lock);
	}
	return rc;
}

/* Watch until the wave stops or settles in its last step, or until the
 * deadline (traffic runs: the deadline only). */
static void watch(struct fs_fleet *f, struct fs_admin *a, struct fs_watch *w)
{
	const struct fs_opts *o = f->o;
	double deadline = f->started + o->max_seconds;
	long last_step = -2;
	char path[160];
	struct bw_err err = {0};

	snprintf(path, sizeof(path), "/waves/%s", o->wave ? o->wave : "");
	if (o->charter && start_wave(f, a, deadline, &err) != 0) {
		fprintf(f->err, "bw-fleetsim: %s\n", err.msg);
		w->failed = 1;
		deadline = 0;
	}
	while (fs_now() < deadline) {
		double now;
		json_t *st = NULL;

		nap(FS_WATCH_PERIOD);
		now = fs_now();
		if (o->server_pid > 0 && !w->cpu0_at && now >= f->measure_from &&
		    fs_proc_cpu(o->server_pid, &w->cpu0, &err) == 0)
			w->cpu0_at = now;
		if (!o->wave)
			continue;
		if (fs_admin_get(a, path, &st, &err) != 0) {
			if (w->admin_errors++ == 0)
				fprintf(f->err, "bw-fleetsim: %s\n", err.msg);
			continue;
		}
		long step = (long)json_integer_value(json_object_get(st, "step"));
		long nsteps = (long)json_array_size(json_object_get(st, "steps"));
		const char *state =
		    json_string_value(json_object_get(st, "state"));

		if (step != last_step) {
			json_array_append_new(w->advances,
					      json_pack("{s:I,s:f}", "step",
							(json_int_t)step,
							"seen", now));
			last_step = step;
		}
		if (is_stopped(state)) {
			w->halt_seen = now;
			json_decref(st);
			break;
		}
		json_decref(st);
		if (step == nsteps - 1 && settled(f, now))
			break;
	}
	w->ended = fs_now();
	if (w->cpu0_at && fs_proc_cpu(o->server_pid, &w->cpu1, &err) == 0)
		w->cpu_ok = 1;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static int cmp_float(const void *x, const void *y)
{
	float a = *(const float *)x, b = *(const float *)y;

	return (a > b) - (a < b);
}

/* When each admitted device's outcome counted on the server: its report,
 * or the moment it became silent (admitted + silence limit, the server
 * counting in whole seconds), whichever came first. Sorted. */
static double *outcome_times(struct fs_fleet *f, long silence, size_t *n)
{
	double *t = calloc(f->n ? f->n : 1, sizeof(*t));

	*n = 0;
	for (size_t i = 0; t && i < f->n; i++) {
		const struct fs_device *dv = &f->devs[i];
		double sil;

		if (dv->admitted_at <= 0)
			continue;
		sil = floor(dv->admitted_at) + (double)silence + 1;
		t[(*n)++] = dv->reported_at > 0 && dv->reported_at < sil
				    ? dv->reported_at
				    : sil;
	}
	if (t)
		qsort(t, *n, sizeof(*t), cmp_double);
	return t;
}

/* The first halt in the wave's log, or NULL. */
static json_t *halt_entry(json_t *status)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(status, "log"), i, e)
	{
		const char *act = json_string_value(
		    json_object_get(json_object_get(e, "entry"), "action"));

		if (act && !strcmp(act, "halt"))
			return e;
	}
	return NULL;
}

static json_t *wave_report(struct fs_fleet *f, json_t *status,
			   const struct fs_watch *w)
{
	json_t *steps = json_object_get(status, "steps"), *s, *h;
	json_t *out = json_object(), *halt = json_null();
	long silence = (long)json_integer_value(json_object_get(
	    json_object_get(status, "rule"), "silence-seconds"));
	json_int_t exposed = 0;
	size_t i, n = 0;
	double *times = outcome_times(f, silence, &n);

	json_array_foreach(steps, i, s)
	    exposed += json_integer_value(json_object_get(s, "admitted"));
	if ((h = halt_entry(status)) != NULL) {
		json_t *e = json_object_get(h, "entry");
		json_t *v = json_object_get(e, "verdict");
		json_int_t logged = json_integer_value(json_object_get(h, "time"));
		json_int_t outcomes =
		    json_integer_value(json_object_get(v, "outcomes"));

		halt = json_pack("{s:s?,s:I,s:f,s:I,s:I}", "by",
				 json_string_value(json_object_get(e, "by")),
				 "logged", logged, "seen", w->halt_seen,
				 "outcomes", outcomes, "failures",
				 json_integer_value(
				     json_object_get(v, "failures")));
		if (times && outcomes >= 1 && (size_t)outcomes <= n) {
			double d = times[outcomes - 1];
			double seen = w->halt_seen - d;

			json_object_set_new(halt, "deciding-outcome",
					    json_real(d));
			json_object_set_new(halt, "latency-seen-s",
					    json_real(seen));
			/* the server logs whole seconds */
			json_object_set_new(halt, "latency-logged-s",
					    json_integer(logged -
							 (json_int_t)floor(d)));
			json_object_set_new(halt, "latency-polls",
					    json_real(seen / f->o->poll_s));
		}
	}
	free(times);
	json_object_set(out, "name", json_object_get(status, "name"));
	json_object_set(out, "state", json_object_get(status, "state"));
	json_object_set(out, "step", json_object_get(status, "step"));
	json_object_set(out, "reason", json_object_get(status, "reason"));
	json_object_set(out, "steps", steps);
	json_object_set(out, "rule", json_object_get(status, "rule"));
	json_object_set(out, "log", json_object_get(status, "log"));
	json_object_set_new(out, "exposed", json_integer(exposed));
	json_object_set_new(out, "started", json_real(f->wave_started));
	json_object_set_new(out, "halt", halt);
	json_object_set(out, "steps-seen", w->advances);
	return out;
}

static json_t *devices_report(struct fs_fleet *f)
{
	long fate[4] = {0}, oc[5] = {0}, took = 0, slow = 0, procs = 0;

	for (size_t i = 0; i < f->n; i++) {
		const struct fs_device *dv = &f->devs[i];

		fate[dv->fate]++;
		oc[dv->outcome]++;
		took += dv->admitted_at > 0;
		slow += dv->slow_s > 0;
		procs += dv->process;
	}
	return json_pack(
	    "{s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I},s:I,s:{s:I,s:I,s:I,s:I}}",
	    "devices", (json_int_t)f->n, "processes", (json_int_t)procs,
	    "fates", "ok", (json_int_t)fate[FS_FATE_OK], "install-error",
	    (json_int_t)fate[FS_FATE_INSTALL_ERROR], "boot-fallback",
	    (json_int_t)fate[FS_FATE_BOOT_FALLBACK], "silent",
	    (json_int_t)fate[FS_FATE_SILENT], "slow", (json_int_t)slow,
	    "took-wave", (json_int_t)took, "outcomes", "succeeded",
	    (json_int_t)oc[FS_OUT_SUCCEEDED], "install-failed",
	    (json_int_t)oc[FS_OUT_INSTALL_FAILED], "rolled-back",
	    (json_int_t)oc[FS_OUT_ROLLED_BACK], "silent",
	    (json_int_t)oc[FS_OUT_SILENT]);
}

static json_t *traffic_report(struct fs_fleet *f, const struct fs_watch *w)
{
	double secs = w->ended - f->measure_from;
	double p50 = 0, p99 = 0;
	json_t *t;

	if (f->nlat) {
		qsort(f->lat, f->nlat, sizeof(*f->lat), cmp_float);
		p50 = f->lat[(f->nlat - 1) / 2];
		p99 = f->lat[(size_t)((double)(f->nlat - 1) * 0.99)];
	}
	t = json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f}", "checkins",
		      (json_int_t)f->checkins, "checkin-failures",
		      (json_int_t)f->checkin_failures, "downloads",
		      (json_int_t)f->downloads, "download-failures",
		      (json_int_t)f->download_failures, "event-send-failures",
		      (json_int_t)f->send_failures, "seconds", secs,
		      "checkins-per-s", secs > 0 ? (double)f->checkins / secs : 0,
		      "latency-p50-ms", p50 * 1e3, "latency-p99-ms", p99 * 1e3);
	if (w->cpu_ok && f->checkins) {
		double cpu = w->cpu1 - w->cpu0;

		json_object_set_new(t, "server-cpu-s", json_real(cpu));
		json_object_set_new(t, "server-cpu-us-per-checkin",
				    json_real(cpu * 1e6 / (double)f->checkins));
	}
	return t;
}

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static void print_human(FILE *out, const struct fs_opts *o, json_t *r)
{
	json_t *dv = json_object_get(r, "fleet"), *t = json_object_get(r, "traffic");
	json_t *wv = json_object_get(r, "wave"), *h, *oc;

	fprintf(out, "fleet: %.0f devices (%.0f bulwark-device processes), "
		     "seed %ld, poll %.3g s\n", num(dv, "devices"),
		num(dv, "processes"), o->seed, o->poll_s);
	if (wv) {
		h = json_object_get(wv, "halt");
		oc = json_object_get(dv, "outcomes");
		fprintf(out, "wave %s: %s in step %.0f (%s)\n",
			json_string_value(json_object_get(wv, "name")),
			json_string_value(json_object_get(wv, "state")),
			num(wv, "step"),
			json_string_value(json_object_get(wv, "reason")));
		fprintf(out, "  devices exposed (admitted): %.0f\n",
			num(wv, "exposed"));
		if (json_is_object(h)) {
			fprintf(out, "  outcomes before the halt: %.0f (%.0f "
				     "failed)\n", num(h, "outcomes"),
				num(h, "failures"));
			if (json_object_get(h, "latency-seen-s"))
				fprintf(out, "  deciding outcome -> halt: "
					     "%.2f s seen (%.0f s in the "
					     "server's log, whole seconds), "
					     "%.2f poll intervals\n",
					num(h, "latency-seen-s"),
					num(h, "latency-logged-s"),
					num(h, "latency-polls"));
		}
		fprintf(out, "  devices: took the wave %.0f; succeeded %.0f, "
			     "install failed %.0f, rolled back %.0f, silent "
			     "%.0f\n", num(dv, "took-wave"),
			num(oc, "succeeded"), num(oc, "install-failed"),
			num(oc, "rolled-back"), num(oc, "silent"));
	}
	fprintf(out, "traffic: %.0f check-ins in %.1f s = %.1f/s; latency "
		     "p50 %.1f ms, p99 %.1f ms", num(t, "checkins"),
		num(t, "seconds"), num(t, "checkins-per-s"),
		num(t, "latency-p50-ms"), num(t, "latency-p99-ms"));
	if (json_object_get(t, "server-cpu-us-per-checkin"))
		fprintf(out, "; server CPU %.0f us per check-in",
			num(t, "server-cpu-us-per-checkin"));
	fprintf(out, "\n");
}

int fs_watch_and_report(struct fs_fleet *f, struct fs_admin *a,
			pthread_t *threads, size_t nthreads, FILE *out,
			struct bw_err *err)
{
	struct fs_watch w = {0};
	json_t *r = NULL, *status = NULL;
	char path[160];
	char *text = NULL;
	int rc = 0;

	w.advances = json_array();
	watch(f, a, &w);
	fs_run_stop(f, threads, nthreads);
	if (w.failed) {
		json_decref(w.advances);
		return bw_err_set(err, BW_ESTATE, "the wave did not start");
	}
	r = json_pack("{s:I,s:f,s:o,s:o}", "seed", (json_int_t)f->o->seed,
		      "poll-seconds", f->o->poll_s, "fleet", devices_report(f),
		      "traffic", traffic_report(f, &w));
	if (f->o->wave) {
		snprintf(path, sizeof(path), "/waves/%s", f->o->wave);
		rc = fs_admin_get(a, path, &status, err);
		if (!rc)
			json_object_set_new(r, "wave",
					    wave_report(f, status, &w));
	}
	if (!rc && !(text = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS)))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!rc && f->o->report)
		rc = bw_io_write_atomic(f->o->report, text, strlen(text), 0644,
					err);
	if (!rc)
		print_human(out, f->o, r);
	free(text);
	json_decref(status);
	json_decref(r);
	json_decref(w.advances);
	return rc;
}
