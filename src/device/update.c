/*
 * check, list and pull. Everything the
 * device may install comes out of a TUF refresh (TUF 5.3-5.7) through the
 * gateway; the listing of matching targets is kept in the state database
 * so `list`, `install` and `status` need no network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bulwark/buf.h"
#include "bulwark/tuf.h"
#include "events.h"
#include "transparency.h"
#include "bootcheck.h"
#include "select.h"
#include "update.h"
#include "wave.h"

#define MAX_MATCHES 100000
#define MAX_SKIP_NOTES 10

/* What a failed refresh means to the operator (exit code and hint). */
static int refresh_exit(int rc)
{
	switch (rc) {
	case BW_ENET:
		return BW_DEV_EXIT_CHECKIN_FAILED;
	case BW_EEXPIRED:
		return BW_DEV_EXIT_TUF_EXPIRED;
	case BW_ENOTFOUND:
		return BW_DEV_EXIT_TUF_FETCH_FAILED;
	case BW_ESIG: case BW_EROLLBACK: case BW_EFORMAT: case BW_EHASH:
	case BW_EBADVERSION: case BW_ETOOBIG: case BW_EUNSUPPORTED:
		return BW_DEV_EXIT_TUF_INVALID;
	default:
		return BW_DEV_EXIT_FAIL;
	}
}

static int sha256_hex(const struct bw_tuf_target *t, char out[65])
{
	for (size_t i = 0; i < t->nhashes; i++)
		if (strcmp(t->hashes[i].name, "sha256") == 0 &&
		    t->hashes[i].len == 32) {
			bw_hex_encode(t->hashes[i].digest, 32, out);
			return 1;
		}
	return 0;
}

static const char *current_version(const struct bw_dev *d)
{
	return d->st.slot[d->st.active].version;
}

/*
 * The rule that picks the target to install: higher than the running
 * version and than the best so far (of equal versions the first in name
 * order stays), and (the caller's part, asked only then) never one that
 * failed here before: no silent downgrade, no automatic retry of a
 * rolled-back target.
 */
static int beats(const struct bw_dev *d, const struct bw_dev_target *t,
		 const struct bw_dev_target *best)
{
	return bw_dev_version_cmp(t->version, current_version(d)) > 0 &&
	       (best == NULL || bw_dev_version_cmp(t->version,
						   best->version) > 0);
}

/*
 * The device's selection, made while the TUF library reads targets.json
 * (bw_tuf_selector): for each target of this hardware id and tag, its
 * version and boot firmware version are kept here (the library keeps its
 * name and length); nothing is used before the role verified.
 */
struct selecting {
	struct bw_dev_match m;
	struct bw_buf kept;   /* records: int64 bootfw, u8 length, version */
	size_t skipped;       /* ours by hardware id, but not installable */
	char notes[MAX_SKIP_NOTES][400];
};

/* What a check found: whether any target is listed for this device, the
 * one to install, and the accepted wave's targets (this run only). */
struct found {
	int any;
	int have_best;
	struct bw_dev_target best;
	struct bw_dev_target *wave;
	size_t nwave;
	struct selecting *sel; /* lives as long as the updater */
};

static void sel_begin(void *ctx)
{
	struct selecting *s = ctx;

	s->kept.len = 0;
	s->skipped = 0;
	bw_dev_match_init(&s->m, s->m.cfg);
}

static int sel_custom(void *ctx, const struct bw_json_event *ev, size_t depth)
{
	struct selecting *s = ctx;

	bw_dev_match_event(&s->m, ev, depth);
	return 0;
}

static int64_t sel_end(void *ctx, const uint8_t *name, size_t name_len)
{
	struct selecting *s = ctx;
	struct bw_dev_target t;
	const char *why;
	size_t at = s->kept.len, vl;
	uint8_t rec[sizeof(t.bootfw) + 1 + BW_DEV_VERSION_MAX];
	int r = bw_dev_match_end(&s->m, name, name_len, &t, &why);

	if (r < 0) {
		if (s->skipped < MAX_SKIP_NOTES)
			snprintf(s->notes[s->skipped], sizeof(s->notes[0]),
				 "%.*s: %s", (int)(name_len > 128 ? 128
								  : name_len),
				 (const char *)name, why);
		s->skipped++;
		return 0;
	}
	if (r == 0)
		return 0;
	vl = strlen(t.version); /* < BW_DEV_VERSION_MAX */
	memcpy(rec, &t.bootfw, sizeof(t.bootfw));
	rec[sizeof(t.bootfw)] = (uint8_t)vl;
	memcpy(rec + sizeof(t.bootfw) + 1, t.version, vl);
	if (bw_buf_append(&s->kept, rec, sizeof(t.bootfw) + 1 + vl) != 0)
		return BW_ENOMEM;
	return (int64_t)at + 1;
}

/* The selector for this run's updater (f->sel owns what it keeps). */
static int select_for(struct bw_dev *d, struct bw_tuf_updater *u,
		      struct found *f, struct bw_err *err)
{
	struct bw_tuf_selector s = {0};

	f->sel = calloc(1, sizeof(*f->sel));
	if (f->sel == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	bw_buf_init(&f->sel->kept, SIZE_MAX);
	bw_dev_match_init(&f->sel->m, &d->cfg);
	s.ctx = f->sel;
	s.begin = sel_begin;
	s.custom = sel_custom;
	s.end = sel_end;
	bw_tuf_updater_set_selector(u, &s);
	return 0;
}

/* The targets of this hardware id that can not be installed, and why
 * (from verified metadata: said only after the refresh succeeded). */
static void report_skipped(const struct selecting *s)
{
	for (size_t i = 0; i < s->skipped && i < MAX_SKIP_NOTES; i++)
		fprintf(stderr, "bulwark-device: target skipped: %s\n",
			s->notes[i]);
	if (s->skipped > MAX_SKIP_NOTES)
		fprintf(stderr, "bulwark-device: %zu more targets skipped\n",
			s->skipped - MAX_SKIP_NOTES);
}

struct walk {
	struct bw_dev *d;
	struct bw_dev_listing_tx *tx;
	struct found *f;
	size_t n;
	struct bw_err *err;
};

/* One verified target of this device: stored, and weighed. */
static int walk_one(void *ctx, const struct bw_tuf_selected *t)
{
	struct walk *w = ctx;
	const struct bw_buf *kept = &w->f->sel->kept;
	struct bw_dev_target m;
	size_t at = (size_t)(t->value - 1), n = strlen(t->path), vl;
	int rc, failed = 0;

	if (w->n >= MAX_MATCHES || !t->has_sha256)
		return 0;
	/* the record sel_end kept: bootfw, version length, version */
	if (at + sizeof(m.bootfw) + 1 > kept->len ||
	    (vl = kept->data[at + sizeof(m.bootfw)]) >= sizeof(m.version) ||
	    at + sizeof(m.bootfw) + 1 + vl > kept->len || n >= sizeof(m.name))
		return bw_err_set(w->err, BW_ESTATE, "selection out of step");
	memcpy(&m.bootfw, kept->data + at, sizeof(m.bootfw));
	memcpy(m.version, kept->data + at + sizeof(m.bootfw) + 1, vl);
	m.version[vl] = '\0';
	memcpy(m.name, t->path, n + 1);
	m.sha256[0] = '\0'; /* TUF's at download time (see download()) */
	m.length = t->length;
	rc = bw_dev_state_listing_add(w->tx, &m, w->err);
	if (rc == 0 && beats(w->d, &m, w->f->have_best ? &w->f->best : NULL))
		rc = bw_dev_state_listing_is_failed(w->tx, m.name, &failed,
						    w->err);
	if (rc != 0)
		return rc;
	w->n++;
	if (!failed && beats(w->d, &m, w->f->have_best ? &w->f->best : NULL)) {
		w->f->best = m;
		w->f->have_best = 1;
	}
	return 0;
}

/*
 * Walk the verified top-level targets, one in memory at a time, storing
 * this hardware id's and tag's into the state database as they come and
 * deciding the best on the way, all in one transaction.
 */
static int rebuild(struct bw_dev *d, struct bw_tuf_updater *u, const char *key,
		   struct found *f, struct bw_err *err)
{
	struct walk w = {d, NULL, f, 0, err};
	int rc = bw_dev_state_listing_begin(d->db, &w.tx, err);

	if (rc != 0)
		return rc;
	rc = bw_tuf_updater_selected_foreach(u, walk_one, &w, err);
	if (rc != 0) {
		bw_dev_state_listing_abort(w.tx);
		return rc;
	}
	report_skipped(f->sel);
	f->any = w.n > 0;
	return bw_dev_state_listing_commit(w.tx, (int64_t)time(NULL), key,
					   current_version(d),
					   f->have_best ? &f->best : NULL, err);
}

static int weigh_stored(void *ctx, const struct bw_dev_target *t, int failed)
{
	struct walk *w = ctx;

	if (!failed && beats(w->d, t, w->f->have_best ? &w->f->best : NULL)) {
		w->f->best = *t;
		w->f->have_best = 1;
	}
	return 0;
}

/*
 * The answer for the stored listing: stored with it when decided for the
 * running version, else decided again from the rows (after an install or
 * a failure) and, when the state may change (save), stored.
 */
static int stored_best(struct bw_dev *d, int save, struct found *f,
		       struct bw_err *err)
{
	struct walk w = {d, NULL, f, 0, err};
	int stored = 0;
	int rc = bw_dev_state_listing_any(d->db, &f->any, err);

	if (rc == 0)
		rc = bw_dev_state_best_load(d->db, current_version(d), &f->best,
					    &f->have_best, &stored, err);
	if (rc != 0 || stored)
		return rc;
	f->have_best = 0;
	rc = bw_dev_state_listing_foreach(d->db, 0, weigh_stored, &w, err);
	if (rc == 0 && save)
		rc = bw_dev_state_best_save(d->db, current_version(d),
					    f->have_best ? &f->best : NULL,
					    err);
	return rc;
}

/* The accepted wave's targets compete under the same rule. */
static void weigh_wave(struct bw_dev *d, struct found *f)
{
	int failed;

	for (size_t i = 0; i < f->nwave; i++) {
		const struct bw_dev_target *t = &f->wave[i];

		if (!beats(d, t, f->have_best ? &f->best : NULL) ||
		    bw_dev_state_is_failed(d->db, t->name, &failed, NULL) ||
		    failed)
			continue;
		f->best = *t;
		f->have_best = 1;
	}
	f->any = f->any || f->nwave > 0;
}

/*
 * Refresh and find the target to install for this hardware id and tag.
 * When the trusted targets version and the device's selectors are those
 * the stored listing was built from, the stored answer is used: a check
 * that finds nothing new neither reads targets.json nor the listing.
 */
static int refresh(struct bw_dev *d, struct bw_tuf_updater **u,
		   struct found *f, struct bw_err *err)
{
	struct bw_fetcher *fe = NULL;
	char key[600], old[600];
	int rc;

	*u = NULL;
	memset(f, 0, sizeof(*f));
	if (d->cfg.metadata_url == NULL || d->cfg.targets_url == NULL)
		return bw_err_set(err, BW_EINVAL, "[server] url is not set");
	rc = bw_dev_fetcher(d, &fe, err);
	if (rc == 0)
		rc = bw_tuf_updater_new(d->mdir, d->cfg.metadata_url, d->ddir,
					d->cfg.targets_url, fe, NULL, u, err);
	if (rc == 0)
		rc = select_for(d, *u, f, err);
	if (rc == 0)
		rc = bw_tuf_updater_refresh(*u, err);
	if (rc != 0)
		return rc;
	snprintf(key, sizeof(key), "%lld|%.256s|%.256s",
		 (long long)bw_tuf_updater_role_version(*u, "targets"),
		 d->cfg.hardware_id, d->cfg.tag ? d->cfg.tag : "");
	if (bw_dev_state_listing_key(d->db, old, sizeof(old)) == 0 &&
	    strcmp(old, key) == 0) {
		rc = stored_best(d, 1, f, err);
		if (rc == 0)
			rc = bw_dev_state_checkin(d->db, time(NULL), err);
	} else {
		rc = rebuild(d, *u, key, f, err);
	}
	/* A wave's release joins this run's choice (never the stored
	 * listing) only when its charter admits this device. */
	if (rc == 0) {
		bw_dev_wave_offer(d, &f->wave, &f->nwave);
		weigh_wave(d, f);
	}
	return rc;
}

static void print_target(const struct bw_dev *d, const struct bw_dev_target *t,
			 int is_best, int failed)
{
	printf("%c %-40s version %-12s %12llu bytes%s%s\n",
	       is_best ? '*' : ' ', t->name, t->version,
	       (unsigned long long)t->length,
	       strcmp(t->version, current_version(d)) == 0 ? " (running)" : "",
	       failed ? " (failed here before)" : "");
}

struct printing {
	const struct bw_dev *d;
	const struct found *f;
	int newer_only;
};

static int print_one(void *ctx, const struct bw_dev_target *t, int failed)
{
	const struct printing *p = ctx;

	if (p->newer_only &&
	    bw_dev_version_cmp(t->version, current_version(p->d)) <= 0)
		return 0;
	print_target(p->d, t, p->f->have_best &&
				      strcmp(t->name, p->f->best.name) == 0,
		     failed);
	return 0;
}

static int report_refresh_error(int rc, const struct bw_err *err)
{
	fprintf(stderr, "bulwark-device: check failed: %s\n", err->msg);
	if (rc == BW_ENET)
		fprintf(stderr, "bulwark-device: server unreachable; trusted "
				"metadata and state are unchanged\n");
	return refresh_exit(rc);
}

static void found_dispose(struct found *f)
{
	free(f->wave);
	f->wave = NULL;
	f->nwave = 0;
	if (f->sel != NULL)
		bw_buf_dispose(&f->sel->kept);
	free(f->sel);
	f->sel = NULL;
}

int bw_dev_check(struct bw_dev *d, int print)
{
	struct bw_err err = {0};
	struct bw_tuf_updater *u = NULL;
	struct found f;
	struct printing p;
	int rc = refresh(d, &u, &f, &err);

	if (rc != 0) {
		rc = report_refresh_error(rc, &err);
		goto out;
	}
	/* Newer targets that are not taken because they failed here (the
	 * whole listing is `list`'s: it may hold 100,000 targets). */
	p = (struct printing){d, &f, 1};
	if (print)
		bw_dev_state_listing_foreach(d->db, 1, print_one, &p, NULL);
	if (!f.any) {
		printf("no target for hardware id %s%s%s\n", d->cfg.hardware_id,
		       d->cfg.tag ? " and tag " : "", d->cfg.tag ? d->cfg.tag : "");
		rc = BW_DEV_EXIT_NO_MATCHING_TARGET;
	} else if (f.have_best) {
		printf("update available: %s (version %s)\n", f.best.name,
		       f.best.version);
		rc = BW_DEV_EXIT_UPDATE_AVAILABLE;
	} else {
		printf("up to date (version %s)\n",
		       current_version(d)[0] ? current_version(d) : "factory");
	}
	bw_dev_send_events(d);
out:
	bw_tuf_updater_free(u);
	found_dispose(&f);
	return rc;
}

int bw_dev_list(struct bw_dev *d)
{
	struct bw_err err = {0};
	struct found f = {0};
	struct printing p = {d, &f, 0};

	if (stored_best(d, 0, &f, &err) != 0 ||
	    bw_dev_state_listing_foreach(d->db, 0, print_one, &p, &err) != 0) {
		fprintf(stderr, "bulwark-device: %s\n", err.msg);
		return BW_DEV_EXIT_FAIL;
	}
	if (d->st.last_checkin == 0)
		printf("never checked in: run `bulwark-device check`\n");
	if (!f.any)
		return BW_DEV_EXIT_NO_MATCHING_TARGET;
	return f.have_best ? BW_DEV_EXIT_UPDATE_AVAILABLE : BW_DEV_EXIT_OK;
}

/* ---- pull ------------------------------------------------------------------ */

struct bar {
	int last;
};

static void draw_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct bar *b = ctx;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (pct == b->last)
		return;
	b->last = pct;
	printf("\r[%-50.*s] %3d%% %llu/%llu MiB", pct / 2,
	       "##################################################", pct,
	       (unsigned long long)(done >> 20),
	       (unsigned long long)(total >> 20));
	if (done == total)
		putchar('\n');
	fflush(stdout);
}

/* Start (or resume) the download record for t. */
static int begin_download(struct bw_dev *d, const struct bw_dev_target *t,
			  struct bw_err *err)
{
	struct bw_dev_event ev = {"EcuDownloadStarted", -1, NULL, NULL};
	char id[37], file[80];

	if (d->st.dl_state == BW_DEV_DL_ACTIVE &&
	    strcmp(d->st.dl.name, t->name) == 0 &&
	    strcmp(d->st.dl.sha256, t->sha256) == 0)
		return 0; /* resume: same target, same correlation */
	if (d->st.dl_state != BW_DEV_DL_NONE && d->st.dl_path[0] != '\0') {
		char part[sizeof(d->st.dl_path) + 8];

		snprintf(part, sizeof(part), "%s.part", d->st.dl_path);
		unlink(part);
		unlink(d->st.dl_path);
	}
	if (bw_dev_uuid(id) != 0)
		return bw_err_set(err, BW_ECRYPTO, "no random bytes");
	/* Named by content: the target name is remote text, the hash was
	 * checked to be 64 hex digits when the listing was built. */
	snprintf(file, sizeof(file), "%s.img", t->sha256);
	snprintf(d->st.dl_path, sizeof(d->st.dl_path), "%s/%s", d->ddir, file);
	snprintf(d->st.correlation, sizeof(d->st.correlation), "%s", id);
	d->st.dl = *t;
	d->st.dl_state = BW_DEV_DL_ACTIVE;
	ev.target = &d->st.dl;
	return bw_dev_save(d, &ev, 1, err);
}

static int finish_download(struct bw_dev *d, int rc, const struct bw_err *derr)
{
	struct bw_dev_event ev = {"EcuDownloadCompleted", rc == 0, NULL,
				  &d->st.dl};
	struct bw_err err = {0};

	if (rc == 0) {
		d->st.dl_state = BW_DEV_DL_DONE;
	} else {
		ev.details = derr->msg;
		/* Bad bytes are gone (resume.c deleted them); a transport
		 * failure keeps the part for the next attempt. */
		if (rc == BW_EHASH)
			d->st.dl_state = BW_DEV_DL_NONE;
	}
	if (bw_dev_save(d, &ev, 1, &err) != 0) {
		fprintf(stderr, "bulwark-device: %s\n", err.msg);
		return BW_DEV_EXIT_FAIL;
	}
	if (rc == 0) {
		printf("downloaded %s (version %s, %llu bytes, sha256 verified)\n",
		       d->st.dl.name, d->st.dl.version,
		       (unsigned long long)d->st.dl.length);
		return BW_DEV_EXIT_OK;
	}
	fprintf(stderr, "bulwark-device: download failed: %s\n", derr->msg);
	return rc == BW_EHASH ? BW_DEV_EXIT_VERIFY_FAILED
			      : BW_DEV_EXIT_DOWNLOAD_FAILED;
}

/* The download is complete and matches TUF; its boot artifacts do not
 * verify with this device's anchors: drop it, never pick it again. */
static int refuse_boot(struct bw_dev *d, const struct bw_err *why)
{
	struct bw_dev_target t = d->st.dl;
	struct bw_dev_event ev = {"EcuDownloadCompleted", 0, why->msg, &t};
	struct bw_err err = {0};

	unlink(d->st.dl_path);
	d->st.dl_state = BW_DEV_DL_NONE;
	fflush(stdout); /* "downloaded ..." before the refusal */
	if (bw_dev_state_mark_failed(d->db, &t, &err) != 0 ||
	    bw_dev_save(d, &ev, 1, &err) != 0)
		fprintf(stderr, "bulwark-device: %s\n", err.msg);
	fprintf(stderr, "bulwark-device: %s refused, nothing installed: "
			"%s\n", t.name, why->msg);
	return BW_DEV_EXIT_REFUSED;
}

static int download(struct bw_dev *d, struct bw_tuf_updater *u,
		    const struct bw_dev_target *listed)
{
	const struct bw_tuf_target *tt = NULL;
	struct bw_dev_target v = *listed, *t = &v;
	struct bw_err err = {0};
	struct bar bar = {-1};
	char hex[65];
	int rc;

	rc = bw_tuf_updater_get_target(u, t->name, &tt, &err);
	/* Not in the production targets: the accepted wave's, pinned by its
	 * offline-signed charter. */
	if (rc == BW_ENOTFOUND && (tt = bw_dev_wave_target(d, t->name)) != NULL)
		rc = 0;
	/* What gets recorded (and later checked against the slot) is what
	 * TUF verifies now: its sha256 (the stored listing keeps none), and
	 * a stale listing is not trusted over it. */
	if (rc == 0 && (tt->length != t->length || !sha256_hex(tt, hex) ||
			(t->sha256[0] != '\0' && strcmp(hex, t->sha256) != 0)))
		rc = bw_err_set(&err, BW_ESTATE, "%.128s: the stored listing "
				"differs from the metadata; run check", t->name);
	if (rc == 0) {
		memcpy(t->sha256, hex, sizeof(hex));
		if (d->st.dl_state == BW_DEV_DL_DONE &&
		    strcmp(d->st.dl.name, t->name) == 0 &&
		    strcmp(d->st.dl.sha256, t->sha256) == 0 &&
		    access(d->st.dl_path, R_OK) == 0) {
			printf("%s already downloaded\n", t->name);
			return BW_DEV_EXIT_OK;
		}
		rc = begin_download(d, t, &err);
	}
	if (rc != 0) {
		fprintf(stderr, "bulwark-device: %s\n", err.msg);
		return rc == BW_ENOTFOUND ? BW_DEV_EXIT_TARGET_NOT_FOUND
					  : BW_DEV_EXIT_FAIL;
	}
	rc = bw_tuf_updater_download_resumable(u, tt, d->st.dl_path,
					       d->progress ? draw_progress
							   : NULL,
					       &bar, NULL, &err);
	if (d->progress && rc != 0 && bar.last >= 0)
		putchar('\n');
	rc = finish_download(d, rc, &err);
	if (rc == BW_DEV_EXIT_OK &&
	    bw_dev_boot_check(&d->cfg, tt->custom, d->st.dl_path, &err) != 0)
		return refuse_boot(d, &err);
	return rc;
}

/* The target named by version: the first listed (name order), else the
 * accepted wave's. */
static int find_version(struct bw_dev *d, const struct found *f,
			const char *version, struct bw_dev_target *out)
{
	int found = 0;

	if (bw_dev_state_listing_find_version(d->db, version, out, &found,
					      NULL) == 0 && found)
		return 1;
	for (size_t i = 0; i < f->nwave; i++)
		if (strcmp(f->wave[i].version, version) == 0) {
			*out = f->wave[i];
			return 1;
		}
	return 0;
}

int bw_dev_pull(struct bw_dev *d, const char *version)
{
	struct bw_err err = {0};
	struct bw_tuf_updater *u = NULL;
	struct bw_dev_target named;
	const struct bw_dev_target *t;
	struct found f;
	int rc = refresh(d, &u, &f, &err);

	if (rc != 0) {
		rc = report_refresh_error(rc, &err);
		goto out;
	}
	if (version != NULL)
		t = find_version(d, &f, version, &named) ? &named : NULL;
	else
		t = f.have_best ? &f.best : NULL;
	if (t == NULL) {
		if (version != NULL)
			fprintf(stderr, "bulwark-device: no target with version "
					"%s for this device\n", version);
		else
			printf("nothing to pull: up to date\n");
		rc = version ? BW_DEV_EXIT_TARGET_NOT_FOUND
			     : f.any ? BW_DEV_EXIT_OK
				     : BW_DEV_EXIT_NO_MATCHING_TARGET;
		goto out;
	}
	if (bw_dev_bootfw_refused(d, t)) {
		fprintf(stderr, "bulwark-device: %s carries boot firmware "
				"version %lld, below the installed %lld "
				"(anti-rollback)\n", t->name,
			(long long)t->bootfw, (long long)d->st.bootfw);
		rc = BW_DEV_EXIT_REFUSED;
		goto out;
	}
	/* binary transparency: a release not in the log is not installed */
	if (bw_dev_transparency_check(d, &err) != 0) {
		fprintf(stderr, "bulwark-device: %s refused: not proven to be "
				"in the transparency log: %s\n", t->name,
			err.msg);
		rc = BW_DEV_EXIT_REFUSED;
		goto out;
	}
	rc = download(d, u, t);
	bw_dev_send_events(d);
out:
	bw_tuf_updater_free(u);
	found_dispose(&f);
	return rc;
}
