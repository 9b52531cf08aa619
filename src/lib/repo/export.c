/*
 * `bulwark repo export`: a static TUF repository (TUF 5: what a client
 * fetches) any plain HTTP server can publish, or an offline bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

void bw_repo__rmtree(const char *path)
{
	(void)nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copy DIR/<src> to OUT/metadata/<name>. */
static int put_meta(struct bw_repo *r, const char *out, const char *src,
		    const char *name, struct bw_err *err)
{
	char *s = bw_repo__path(r->dir, "%s", src);
	char *d = bw_repo__path(out, "metadata/%s", name);
	int rc = s != NULL && d != NULL ? 0 : BW_ENOMEM;

	if (rc == 0)
		rc = bw_io_copy_atomic(s, d, 0644, 0, err);
	free(s);
	free(d);
	return rc;
}

static int export_roots(struct bw_repo *r, const char *out, int prod,
			struct bw_err *err)
{
	char src[64], name[48];
	int rc = 0;

	for (int64_t v = 1; rc == 0 && v <= r->root_version; v++) {
		snprintf(src, sizeof(src), "%s/root/%lld.root.json",
			 prod ? "prod" : "ci", (long long)v);
		snprintf(name, sizeof(name), "%lld.root.json", (long long)v);
		rc = put_meta(r, out, src, name, err);
		if (rc == 0 && v == r->root_version)
			rc = put_meta(r, out, src, "root.json", err);
	}
	return rc;
}

/* role.json and, for snapshot/targets, <version>.role.json. */
static int export_role(struct bw_repo *r, const char *out, const char *fdir,
		       const char *role, struct bw_err *err)
{
	char src[200], name[64];
	char *p = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	struct bw_tuf_info info;
	int rc;

	snprintf(src, sizeof(src), "%s/%s.json", fdir, role);
	snprintf(name, sizeof(name), "%s.json", role);
	rc = put_meta(r, out, src, name, err);
	if (rc != 0 || strcmp(role, "timestamp") == 0)
		return rc;
	p = bw_repo__path(r->dir, "%s", src);
	rc = p != NULL ? bw_repo__read(p, BW_REPO_MAX_META, &b, &n, err)
		       : BW_ENOMEM;
	if (rc == 0)
		rc = bw_tuf_metadata_info(b, n, &info, err);
	snprintf(name, sizeof(name), "%lld.%s.json", (long long)info.version,
		 role);
	if (rc == 0)
		rc = put_meta(r, out, src, name, err);
	free(p);
	free(b);
	return rc;
}

static int mkparents(const char *path, struct bw_err *err)
{
	char *d = strdup(path), *slash;
	int rc = 0;

	if (d == NULL)
		return BW_ENOMEM;
	slash = strrchr(d, '/');
	if (slash != NULL) {
		*slash = '\0';
		rc = bw_io_mkdirs(d, 0755, err);
	}
	free(d);
	return rc;
}

/* OUT/targets/<name> and <dir>/<hash>.<base> for sha256 and sha512. */
static int export_target(struct bw_repo *r, const char *out, const char *name,
			 const json_t *e, struct bw_err *err)
{
	const json_t *h = json_object_get(e, "hashes");
	const char *s256 = json_string_value(json_object_get(h, "sha256"));
	const char *s512 = json_string_value(json_object_get(h, "sha512"));
	const char *slash = strrchr(name, '/');
	int dl = slash != NULL ? (int)(slash - name + 1) : 0;
	const char *hs[2] = {s256, s512};
	char *src = NULL, *dst = NULL;
	int rc;

	if (s256 == NULL)
		return bw_err_set(err, BW_EFORMAT, "%.80s: no sha256", name);
	src = bw_repo__path(r->dir, "targets/%s", s256);
	dst = bw_repo__path(out, "targets/%s", name);
	rc = src != NULL && dst != NULL ? mkparents(dst, err) : BW_ENOMEM;
	if (rc == 0)
		rc = bw_io_copy_atomic(src, dst, 0644, 0, err);
	for (int i = 0; rc == 0 && i < 2; i++) {
		if (hs[i] == NULL)
			continue;
		free(dst);
		dst = bw_repo__path(out, "targets/%.*s%s.%s", dl, name, hs[i],
				    name + dl);
		rc = dst != NULL ? bw_io_copy_atomic(src, dst, 0644, 0, err) : BW_ENOMEM;
	}
	free(src);
	free(dst);
	return rc;
}

static int export_targets(struct bw_repo *r, const char *out, int prod,
			  const char *tag, struct bw_err *err)
{
	json_t *env = NULL, *e;
	const char *name;
	int rc;

	rc = bw_repo_targets_load(r, prod, tag, &env, err);
	json_object_foreach(
	    json_object_get(json_object_get(env, "signed"), "targets"), name, e)
	{
		if (rc == 0)
			rc = export_target(r, out, name, e, err);
	}
	json_decref(env);
	return rc;
}

static int export_into(struct bw_repo *r, const char *out, int prod,
		       const char *tag, struct bw_err *err)
{
	static const char *const roles[] = {"timestamp", "snapshot", "targets"};
	char fdir[128];
	char *md = bw_repo__path(out, "metadata");
	char *td = bw_repo__path(out, "targets");
	int rc = md != NULL && td != NULL ? 0 : BW_ENOMEM;

	if (rc == 0)
		rc = bw_io_mkdirs(md, 0755, err);
	if (rc == 0)
		rc = bw_io_mkdirs(td, 0755, err);
	if (rc == 0)
		rc = export_roots(r, out, prod, err);
	if (rc == 0)
		rc = bw_repo__flavour_dir(prod, tag, fdir, sizeof(fdir));
	for (size_t i = 0; rc == 0 && i < 3; i++)
		rc = export_role(r, out, fdir, roles[i], err);
	if (rc == 0)
		rc = export_targets(r, out, prod, tag, err);
	free(md);
	free(td);
	return rc;
}

int bw_repo_export(struct bw_repo *r, const char *out, int prod,
		   const char *tag, struct bw_err *err)
{
	struct stat st;
	json_t *env = NULL;
	int rc;

	if (prod && !bw_repo__tag_ok(tag))
		return bw_err_set(err, BW_EINVAL, "give a valid --tag");
	/* The flavour must exist before anything is created. */
	rc = bw_repo_targets_load(r, prod, tag, &env, err);
	json_decref(env);
	if (rc != 0)
		return rc;
	if (lstat(out, &st) == 0)
		return bw_err_set(err, BW_EEXIST, "%s already exists", out);
	rc = export_into(r, out, prod, tag, err);
	if (rc == BW_ENOMEM)
		bw_err_set(err, rc, "out of memory");
	if (rc != 0)
		bw_repo__rmtree(out);
	return rc;
}
