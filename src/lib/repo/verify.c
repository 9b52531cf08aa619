/*
 * `bulwark keys tuf verify`: the whole repository as a device sees it. For
 * CI and every production tag the flavour is exported, and the real TUF
 * updater (TUF 5.3-5.7) starts from root version 1 over file://, walks
 * every root version, and must end at the latest versions and download
 * every target.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/fetch.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

static void say(bw_repo_report_fn fn, void *ctx, int warn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(bw_repo_report_fn fn, void *ctx, int warn, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fn != NULL)
		fn(ctx, warn, msg);
}

/* Warn about a metadata file that expires within 30 days. */
static void check_expiry(struct bw_repo *r, const char *label, const char *rel,
			 bw_repo_report_fn fn, void *ctx)
{
	char *p = bw_repo__path(r->dir, "%s", rel);
	uint8_t *b = NULL;
	size_t n = 0;
	struct bw_tuf_info info;
	int64_t left;

	if (p != NULL &&
	    bw_repo__read(p, BW_REPO_MAX_META, &b, &n, NULL) == 0 &&
	    bw_tuf_metadata_info(b, n, &info, NULL) == 0) {
		left = info.expires - bw_repo__now(r);
		if (left < 0)
			say(fn, ctx, 1, "%s: %s EXPIRED", label, info.type);
		else if (left < BW_REPO_WARN_DAYS * (int64_t)BW_REPO_DAY &&
			 strcmp(info.type, "timestamp") != 0)
			say(fn, ctx, 1, "%s: %s v%lld expires in %lld days",
			    label, info.type, (long long)info.version,
			    (long long)(left / BW_REPO_DAY));
	}
	free(p);
	free(b);
}

static int64_t now_cb(void *ctx)
{
	return bw_repo__now(ctx);
}

struct vctx {
	struct bw_repo *r;
	char *tmp, *md, *mu, *tu, *dl;
	struct bw_fetcher *f;
	struct bw_tuf_updater *u;
};

static void vctx_dispose(struct vctx *v)
{
	bw_tuf_updater_free(v->u);
	bw_fetcher_free(v->f);
	if (v->tmp != NULL)
		bw_repo__rmtree(v->tmp);
	free(v->tmp);
	free(v->md);
	free(v->mu);
	free(v->tu);
	free(v->dl);
	memset(v, 0, sizeof(*v));
}

/* A temp dir for the client; src is the export to read (NULL: tmp/export). */
static int vctx_paths(struct vctx *v, const char *src, struct bw_err *err)
{
	const char *base = getenv("TMPDIR");
	char *t = NULL;

	if (asprintf(&t, "%s/bulwark-verify-XXXXXX",
		     base != NULL && base[0] == '/' ? base : "/tmp") < 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (mkdtemp(t) == NULL) {
		free(t);
		return bw_err_set(err, BW_EIO, "cannot make a temp directory");
	}
	v->tmp = t;
	v->md = bw_repo__path(t, "client");
	v->dl = bw_repo__path(t, "dl");
	if (v->md == NULL || v->dl == NULL ||
	    asprintf(&v->mu, "file://%s%s/metadata/", src != NULL ? src : t,
		     src != NULL ? "" : "/export") < 0 ||
	    asprintf(&v->tu, "file://%s%s/targets/", src != NULL ? src : t,
		     src != NULL ? "" : "/export") < 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	return 0;
}

/* Trust root (version 1) and refresh over file:// (TUF 5.3-5.6). */
static int client_start(struct vctx *v, const uint8_t *root, size_t n,
			struct bw_err *err)
{
	struct bw_tuf_config cfg;
	int rc;

	bw_tuf_config_init(&cfg);
	cfg.now = now_cb;
	cfg.now_ctx = v->r;
	rc = bw_io_mkdirs(v->md, 0700, err);
	if (rc == 0)
		rc = bw_io_mkdirs(v->dl, 0700, err);
	if (rc == 0)
		rc = bw_tuf_trust_root(v->md, root, n, err);
	if (rc == 0)
		rc = bw_http_fetcher_new(NULL, &v->f, err);
	if (rc == 0)
		rc = bw_tuf_updater_new(v->md, v->mu, v->dl, v->tu, v->f, &cfg,
					&v->u, err);
	if (rc == 0)
		rc = bw_tuf_updater_refresh(v->u, err);
	return rc;
}

/* Export the flavour, then run the client over it from root v1. */
static int client_refresh(struct vctx *v, int prod, const char *tag,
			  struct bw_err *err)
{
	uint8_t *root = NULL;
	char *ex = NULL;
	size_t n = 0;
	int rc;

	rc = vctx_paths(v, NULL, err);
	if (rc == 0 && (ex = bw_repo__path(v->tmp, "export")) == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = bw_repo_export(v->r, ex, prod, tag, err);
	if (rc == 0)
		rc = bw_repo_root_read(v->r, prod, 1, &root, &n, err);
	if (rc == 0)
		rc = client_start(v, root, n, err);
	free(root);
	free(ex);
	return rc;
}

int bw_repo_verify_export(const char *dir, bw_repo_report_fn report, void *ctx,
			  struct bw_err *err)
{
	struct vctx v = {0};
	char *rp = bw_repo__path(dir, "metadata/1.root.json");
	uint8_t *root = NULL;
	size_t n = 0, nt;
	int rc;

	if (rp == NULL || dir[0] != '/')
		rc = bw_err_set(err, BW_EINVAL,
				"give the export's absolute "
				"path");
	else
		rc = bw_repo__read(rp, BW_REPO_MAX_SMALL, &root, &n, err);
	if (rc == 0)
		rc = vctx_paths(&v, dir, err);
	if (rc == 0)
		rc = client_start(&v, root, n, err);
	nt = rc == 0 ? bw_tuf_updater_targets_count(v.u) : 0;
	for (size_t i = 0; rc == 0 && i < nt; i++)
		rc = bw_tuf_updater_download(
		    v.u, bw_tuf_updater_target_at(v.u, i), NULL, NULL, err);
	if (rc == 0)
		say(report, ctx, 0,
		    "%s: ok (a client from root v1 reached root v%lld, "
		    "targets v%lld, %zu target(s) downloaded and checked)",
		    dir, (long long)bw_tuf_updater_role_version(v.u, "root"),
		    (long long)bw_tuf_updater_role_version(v.u, "targets"), nt);
	vctx_dispose(&v);
	free(rp);
	free(root);
	return rc;
}

static int client_check(struct vctx *v, int prod, const char *tag,
			size_t *ntargets, struct bw_err *err)
{
	json_t *env = NULL;
	int64_t want = 0;
	int rc;

	if (bw_tuf_updater_role_version(v->u, "root") != v->r->root_version)
		return bw_err_set(
		    err, BW_EROLLBACK,
		    "client reached root v%lld, latest is v%lld",
		    (long long)bw_tuf_updater_role_version(v->u, "root"),
		    (long long)v->r->root_version);
	rc = bw_repo_targets_load(v->r, prod, tag, &env, err);
	if (rc == 0)
		want = json_integer_value(
		    json_object_get(json_object_get(env, "signed"), "version"));
	json_decref(env);
	if (rc == 0 && bw_tuf_updater_role_version(v->u, "targets") != want)
		rc = bw_err_set(
		    err, BW_EROLLBACK,
		    "client trusts targets v%lld, workspace has "
		    "v%lld",
		    (long long)bw_tuf_updater_role_version(v->u, "targets"),
		    (long long)want);
	*ntargets = bw_tuf_updater_targets_count(v->u);
	/* TUF 5.7: every target must download with its length and hashes. */
	for (size_t i = 0; rc == 0 && i < *ntargets; i++)
		rc = bw_tuf_updater_download(
		    v->u, bw_tuf_updater_target_at(v->u, i), NULL, NULL, err);
	return rc;
}

static int verify_one(struct bw_repo *r, int prod, const char *tag,
		      bw_repo_report_fn fn, void *ctx, struct bw_err *err)
{
	struct vctx v = {.r = r};
	char label[96], fdir[128];
	const char *roles[] = {"targets", "snapshot", "timestamp"};
	size_t nt = 0;
	int rc;

	snprintf(label, sizeof(label), "%s%s", prod ? "production:" : "CI",
		 prod ? tag : "");
	rc = client_refresh(&v, prod, tag, err);
	if (rc == 0)
		rc = client_check(&v, prod, tag, &nt, err);
	if (rc == 0)
		say(fn, ctx, 0,
		    "%s: ok (a client from root v1 reached root v%lld, "
		    "targets v%lld, %zu target(s) downloaded and checked)",
		    label, (long long)r->root_version,
		    (long long)bw_tuf_updater_role_version(v.u, "targets"), nt);
	else
		say(fn, ctx, 0, "%s: FAILED: %s", label,
		    err != NULL ? err->msg : bw_strerror(rc));
	vctx_dispose(&v);
	if (bw_repo__flavour_dir(prod, tag, fdir, sizeof(fdir)) == 0) {
		for (size_t i = 0; i < 3; i++) {
			char rel[200];

			snprintf(rel, sizeof(rel), "%s/%s.json", fdir,
				 roles[i]);
			check_expiry(r, label, rel, fn, ctx);
		}
	}
	return rc;
}

int bw_repo_verify(struct bw_repo *r, bw_repo_report_fn report, void *ctx,
		   struct bw_err *err)
{
	char **tags = NULL;
	char rel[64];
	int rc, first;

	snprintf(rel, sizeof(rel), "prod/root/%lld.root.json",
		 (long long)r->root_version);
	check_expiry(r, "root", rel, report, ctx);
	first = verify_one(r, 0, NULL, report, ctx, err);
	rc = bw_repo_tags(r, &tags, err);
	if (rc != 0)
		return rc;
	if (tags[0] == NULL)
		say(report, ctx, 0, "production: no tags promoted yet");
	for (size_t i = 0; tags[i] != NULL; i++) {
		struct bw_err e = {0};

		rc = verify_one(r, 1, tags[i], report, ctx, &e);
		if (rc != 0 && first == 0) {
			first = rc;
			if (err != NULL)
				*err = e;
		}
	}
	bw_repo_strv_free(tags);
	return first;
}
