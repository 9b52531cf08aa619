/*
 * The agent object: configuration, state database, the one fetcher of a
 * run (so every request of a check-in reuses one TLS session, and a slow
 * secure element signs once), recovery after a power cut, target matching
 * and version order.
 */
#include <ctype.h>
#include <errno.h>
#include <sys/file.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "agent.h"
#include "bulwark/wave.h"
#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"
#include "bootcheck.h"
#include "bootenv.h"
#include "lifecycle.h"
#include "select.h"

#define DEFAULT_KEY_LABEL "bulwark-device"

/* With no download recorded, files in downloads/ are leftovers of a power
 * cut between "installed" and the unlink that follows it. */
static void sweep_downloads(struct bw_dev *d)
{
	DIR *dir;
	struct dirent *de;

	if (d->st.dl_state != BW_DEV_DL_NONE || (dir = opendir(d->ddir)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
}

static int make_dirs(struct bw_dev *d, struct bw_err *err)
{
	int rc = bw_io_mkdirs(d->cfg.state_dir, 0700, err);

	if (rc == 0 && (bw_path_join(d->cfg.state_dir, "metadata", &d->mdir) ||
			bw_path_join(d->cfg.state_dir, "downloads", &d->ddir)))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = bw_io_mkdirs(d->mdir, 0755, err);
	if (rc == 0)
		rc = bw_io_mkdirs(d->ddir, 0700, err);
	return rc;
}

/* One agent at a time changes the state (a status call during the
 * daemon's install must not "recover" the slot being written). */
static int take_lock(struct bw_dev *d, struct bw_err *err)
{
	char *p = NULL;
	int rc = 0;

	if (bw_path_join(d->cfg.state_dir, "agent.lock", &p) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	d->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0)
		rc = bw_err_set(err, BW_EIO, "%s: %s", p, strerror(errno));
	else if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0)
		rc = bw_err_set(err, BW_ESTATE, "another bulwark-device (the "
				"daemon?) is working on %s", d->cfg.state_dir);
	free(p);
	return rc;
}

int bw_dev_open(const char *config_path, int flags, struct bw_dev **out,
		struct bw_err *err)
{
	struct bw_dev *d = calloc(1, sizeof(*d));
	char *dbp = NULL;
	int rc;

	*out = NULL;
	if (d == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	d->lock_fd = -1;
	bw_dev_config_init(&d->cfg);
	rc = bw_dev_config_load(&d->cfg, config_path, err);
	if (rc == 0 && config_path != NULL &&
	    (d->config_path = strdup(config_path)) == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = make_dirs(d, err);
	if (rc == 0 && flags != BW_DEV_OPEN_READONLY)
		rc = take_lock(d, err);
	if (rc == 0 && bw_path_join(d->cfg.state_dir, "sota.db", &dbp) != 0)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = bw_dev_state_open(dbp, &d->db, err);
	if (rc == 0)
		rc = bw_dev_state_load(d->db, &d->st, err);
	if (rc == 0 && d->lock_fd >= 0)
		rc = bw_dev_recover(d, err);
	if (rc == 0) {
		d->boot = bw_dev_boot_ops_find(d->cfg.bootloader);
		/* What the bootloader did since the last run. */
		rc = d->boot->sync(d, d->lock_fd >= 0, err);
	}
	if (rc == 0 && d->lock_fd >= 0)
		sweep_downloads(d);
	free(dbp);
	if (rc != 0) {
		bw_dev_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void bw_dev_free(struct bw_dev *d)
{
	if (d == NULL)
		return;
	bw_fetcher_free(d->fetcher);
	bw_signer_free(d->signer);
	bw_wave_charter_free(d->wave);
	free(d->config_path);
	sqlite3_close(d->db);
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* releases the lock */
	bw_dev_config_dispose(&d->cfg);
	free(d->mdir);
	free(d->ddir);
	free(d);
}

int bw_dev_save(struct bw_dev *d, const struct bw_dev_event *evs, size_t n,
		struct bw_err *err)
{
	return bw_dev_state_save(d->db, &d->st, evs, n, d->cfg.max_events, err);
}

/* The token key for mutual TLS: used through PKCS#11, never exported. */
static int open_token_key(struct bw_dev *d, struct bw_err *err)
{
	struct bw_pkcs11_opts o = {0};
	char *pin = NULL;
	int rc;

	if (d->cfg.pin_file == NULL)
		return bw_err_set(err, BW_EINVAL, "[pkcs11] pin_file is not set");
	rc = bw_pkcs11_pin_from_file(d->cfg.pin_file, &pin, err);
	if (rc != 0)
		return rc;
	o.module_path = d->cfg.pkcs11_module;
	o.token_label = d->cfg.token_label;
	o.object_label = d->cfg.key_label ? d->cfg.key_label
					  : DEFAULT_KEY_LABEL;
	o.pin = pin;
	rc = bw_pkcs11_signer_open(&o, &d->signer, err);
	bw_pkcs11_pin_free(pin);
	return rc;
}

int bw_dev_fetcher(struct bw_dev *d, struct bw_fetcher **out,
		   struct bw_err *err)
{
	struct bw_http_opts o = {0};
	char tags[300];
	const char *hdrs[2] = {NULL, NULL};
	int rc;

	*out = d->fetcher;
	if (d->fetcher != NULL)
		return 0;
	if (d->cfg.token_label != NULL && d->signer == NULL) {
		rc = open_token_key(d, err);
		if (rc != 0)
			return rc;
	}
	if (d->cfg.tag != NULL) {
		snprintf(tags, sizeof(tags), "x-ats-tags: %.256s", d->cfg.tag);
		hdrs[0] = tags;
	}
	o.headers = hdrs;
	o.ca_file = d->cfg.ca_file;
	o.cert_file = d->cfg.cert_file;
	o.key_file = d->cfg.key_file;
	o.client_pkey = d->signer ? d->signer->pkey : NULL;
	o.low_speed_time_s = d->cfg.low_speed_time_s;
	rc = bw_http_fetcher_new(&o, &d->fetcher, err);
	*out = d->fetcher;
	return rc;
}

/* ---- versions and matching ----------------------------------------------- */

int bw_dev_version_cmp(const char *a, const char *b)
{
	/* strverscmp orders digit runs by value: "10" > "9", "1.10" > "1.9". */
	int c = strverscmp(a, b);

	return c < 0 ? -1 : c > 0;
}

/* The rule is select.c's, over the parser's events: a wave's custom
 * object (a tree) is serialized and streamed through it. */
static int feed_match(void *ctx, const struct bw_json_event *ev)
{
	if (ev->depth > 0)
		bw_dev_match_event(ctx, ev, ev->depth);
	return 0;
}

int bw_dev_target_matches(const struct bw_dev_config *c, const char *name,
			  uint64_t length, const void *custom_json,
			  struct bw_dev_target *t)
{
	struct bw_json_limits lim = {0};
	struct bw_dev_match m;
	struct bw_err err = {0};
	struct bw_buf out;
	const char *why;
	uint8_t *text = NULL;
	size_t len = 0;
	int r = 0;

	memset(t, 0, sizeof(*t));
	t->bootfw = -1;
	if (!json_is_object((const json_t *)custom_json) ||
	    bw_json_serialize(custom_json, &text, &len, &err) != 0)
		return 0;
	lim.max_bytes = len;
	bw_buf_init(&out, len + 1);
	bw_dev_match_init(&m, c);
	if (bw_json_canonical_stream_buf(text, len, &lim, &out, feed_match, &m,
					 &err) == 0)
		r = bw_dev_match_end(&m, (const uint8_t *)name, strlen(name), t,
				     &why) == 1;
	bw_buf_dispose(&out);
	free(text);
	if (r)
		t->length = length;
	return r;
}

int bw_dev_bootfw_refused(const struct bw_dev *d, const struct bw_dev_target *t)
{
	return bw_ab_bootfw_refused(d->cfg.rollback_protection, d->st.bootfw,
				    t->bootfw);
}
