/*
 * Opening a factory workspace and reading its state (layout: repo_priv.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

#define MAX_ROOT_VERSIONS 100000
#define MAX_TAGS 256

void bw_repo_expiry_defaults(struct bw_repo_expiry *e)
{
	e->root = 365 * (int64_t)BW_REPO_DAY;
	e->targets_prod = 365 * (int64_t)BW_REPO_DAY;
	e->targets_ci = 90 * (int64_t)BW_REPO_DAY;
	e->snapshot = 90 * (int64_t)BW_REPO_DAY;
	e->timestamp = BW_REPO_DAY;
}

static int expiry_from_cfg(const json_t *cfg, struct bw_repo_expiry *e,
			   struct bw_err *err)
{
	const json_t *x = json_object_get(cfg, "expiry");
	struct {
		const char *name;
		int64_t *v;
	} f[] = {{"root", &e->root},
		 {"targets_prod", &e->targets_prod},
		 {"targets_ci", &e->targets_ci},
		 {"snapshot", &e->snapshot},
		 {"timestamp", &e->timestamp}};

	bw_repo_expiry_defaults(e);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const json_t *v = json_object_get(x, f[i].name);

		if (v == NULL)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 60 ||
		    json_integer_value(v) > 20 * 365 * (int64_t)BW_REPO_DAY)
			return bw_err_set(err, BW_EFORMAT,
					  "factory.json: bad expiry.%s",
					  f[i].name);
		*f[i].v = json_integer_value(v);
	}
	return 0;
}

static int count_roots(struct bw_repo *r, struct bw_err *err)
{
	struct stat st;
	int64_t v = 0;

	for (;;) {
		char *p = bw_repo__path(r->dir, "prod/root/%lld.root.json",
					(long long)(v + 1));
		int found;

		if (p == NULL)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		found = stat(p, &st) == 0;
		free(p);
		if (!found || v >= MAX_ROOT_VERSIONS)
			break;
		v++;
	}
	r->root_version = v;
	if (v == 0)
		return bw_err_set(err, BW_EFORMAT,
				  "%s: no prod/root/1.root.json", r->dir);
	return 0;
}

/* One command at a time per workspace (two would both write version N+1). */
static int lock_dir(struct bw_repo *r, struct bw_err *err)
{
	char *p = bw_repo__path(r->dir, ".lock");
	int rc = 0;

	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	r->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->lock_fd < 0)
		rc = bw_err_set(err, BW_EIO, "%s: %s", p, strerror(errno));
	else if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0)
		rc = bw_err_set(err, BW_ESTATE,
				"another bulwark command is using %s", r->dir);
	free(p);
	return rc;
}

int bw_repo_open(const char *dir, struct bw_repo **out, struct bw_err *err)
{
	struct bw_repo *r = calloc(1, sizeof(*r));
	char *p = NULL;
	int rc = 0;

	*out = NULL;
	if (r == NULL || (r->dir = strdup(dir)) == NULL) {
		free(r);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	r->lock_fd = -1;
	p = bw_repo__path(dir, "factory.json");
	if (p == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	else if (access(p, F_OK) != 0)
		rc = BW_ENOTFOUND;
	if (rc == 0)
		rc = lock_dir(r, err);
	if (rc == 0)
		rc = bw_journal_recover(r->dir, err);
	if (rc == 0)
		rc = bw_repo__read_json(p, BW_REPO_MAX_SMALL, &r->cfg, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc,
			   "%s is not a factory workspace "
			   "(no factory.json; see bulwark factory init)",
			   dir);
	if (rc == 0 && (!json_is_object(r->cfg) ||
			!json_is_string(json_object_get(r->cfg, "name"))))
		rc = bw_err_set(err, BW_EFORMAT, "factory.json: no name");
	if (rc == 0)
		rc = expiry_from_cfg(r->cfg, &r->exp, err);
	if (rc == 0)
		rc = count_roots(r, err);
	free(p);
	if (rc != 0)
		bw_repo_free(r);
	else
		*out = r;
	return rc;
}

void bw_repo_free(struct bw_repo *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < BW_ONLINE_N; i++)
		bw_signer_free(r->online[i]);
	json_decref(r->cfg);
	if (r->lock_fd >= 0)
		close(r->lock_fd); /* releases the flock */
	free(r->dir);
	free(r);
}

const char *bw_repo_name(const struct bw_repo *r)
{
	return json_string_value(json_object_get(r->cfg, "name"));
}

const char *bw_repo_dir(const struct bw_repo *r)
{
	return r->dir;
}

int64_t bw_repo_root_version(const struct bw_repo *r)
{
	return r->root_version;
}

const struct bw_repo_expiry *bw_repo_expiry(const struct bw_repo *r)
{
	return &r->exp;
}

const char *bw_repo_hsm_module(const struct bw_repo *r)
{
	return json_string_value(
	    json_object_get(json_object_get(r->cfg, "hsm"), "module"));
}

void bw_repo_set_now(struct bw_repo *r, int64_t now)
{
	r->now = now;
}

int bw_repo_root_read(struct bw_repo *r, int prod, int64_t version,
		      uint8_t **out, size_t *len, struct bw_err *err)
{
	char *p;
	int rc;

	*out = NULL;
	*len = 0;
	if (version == 0)
		version = r->root_version;
	if (version < 1 || version > r->root_version)
		return bw_err_set(
		    err, BW_ENOTFOUND, "no root version %lld (latest is %lld)",
		    (long long)version, (long long)r->root_version);
	p = bw_repo__path(r->dir, "%s/root/%lld.root.json",
			  prod ? "prod" : "ci", (long long)version);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read(p, BW_REPO_MAX_SMALL, out, len, err);
	free(p);
	return rc;
}

int bw_repo_targets_load(struct bw_repo *r, int prod, const char *tag,
			 json_t **out, struct bw_err *err)
{
	char fdir[128];
	char *p;
	int rc;

	*out = NULL;
	if (bw_repo__flavour_dir(prod, tag, fdir, sizeof(fdir)) != 0)
		return bw_err_set(err, BW_EINVAL, "bad tag '%.64s'",
				  tag != NULL ? tag : "");
	p = bw_repo__path(r->dir, "%s/targets.json", fdir);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read_json(p, BW_REPO_MAX_META, out, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc, "no %s targets%s%s",
			   prod ? "production" : "CI", prod ? " for tag " : "",
			   prod ? tag : "");
	free(p);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int bw_repo_tags(struct bw_repo *r, char ***out, struct bw_err *err)
{
	char *p = bw_repo__path(r->dir, "prod/tags");
	char **v = calloc(MAX_TAGS + 1, sizeof(*v));
	DIR *d = NULL;
	struct dirent *de;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	if (p == NULL || v == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	d = opendir(p);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *tp;
		int has;

		if (!bw_repo__tag_ok(de->d_name))
			continue;
		/* Only tags with published targets (not just pending). */
		tp = bw_repo__path(p, "%s/targets.json", de->d_name);
		has = tp != NULL && access(tp, F_OK) == 0;
		free(tp);
		if (!has)
			continue;
		if (n == MAX_TAGS || (v[n++] = strdup(de->d_name)) == NULL) {
			rc = bw_err_set(err, BW_ENOMEM, "too many tags");
			goto out;
		}
	}
	qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	v = NULL;
out:
	if (d != NULL)
		closedir(d);
	bw_repo_strv_free(v);
	free(p);
	return rc;
}
