/*
 * bulwarkd --import: seed the repository store from a static TUF
 * repository as `bulwark repo export` writes it (OUT/metadata/N.root.json,
 * targets.json, snapshot.json, timestamp.json; OUT/targets/<name>).
 * Everything is verified with the TUF rules on the way in (repo.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/tuf.h"
#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "http.h"
#include "log.h"
#include "repo.h"
#include "server.h"

#define ROOT_MAX (512u * 1024u)
#define TARGETS_MAX (64u * 1024u * 1024u)
#define SMALL_MAX (8u * 1024u * 1024u)
#define MAX_ROOTS 10000
#define PATH_BUF (BW_SRV_PATH_MAX + 1100)

static int fits(int n, size_t size)
{
	return n >= 0 && (size_t)n < size;
}

static int read_md(const char *dir, const char *name, size_t max,
		   struct bw_buf *b, struct bw_err *err)
{
	char path[BW_SRV_PATH_MAX + 64];
	int n = snprintf(path, sizeof(path), "%s/metadata/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return bw_err_set(err, BW_ETOOBIG, "path too long");
	bw_buf_reset(b);
	return bw_io_read_file(path, max, b, err);
}

/* Every N.root.json above the stored version, in order. */
static int import_roots(struct bw_srv *srv, const char *dir,
			const char *flavour, int *n, struct bw_err *err)
{
	struct bw_meta_rec cur;
	struct bw_buf b;
	char name[40];
	int64_t v = 0;
	int rc = srv->store->ops->meta_get(srv->store, flavour, "", "root", 0,
					   &cur, err);

	*n = 0;
	if (rc && rc != BW_ENOTFOUND)
		return rc;
	v = rc ? 1 : cur.version + 1;
	free(cur.data);
	bw_buf_init(&b, ROOT_MAX);
	for (rc = 0; !rc && *n < MAX_ROOTS; v++, (*n)++) {
		snprintf(name, sizeof(name), "%lld.root.json", (long long)v);
		rc = read_md(dir, name, ROOT_MAX, &b, err);
		if (rc == BW_ENOTFOUND) {
			rc = 0;
			break;
		}
		if (!rc)
			rc = bw_srv_repo_root_upload(srv->repo, flavour, b.data,
						     b.len, time(NULL), err);
	}
	bw_buf_dispose(&b);
	return rc;
}

/* The target files targets.json lists, into targets_dir. */
static int import_files(struct bw_srv *srv, const char *dir,
			const struct bw_buf *targets, int *n,
			struct bw_err *err)
{
	char src[PATH_BUF], dst[PATH_BUF];
	json_t *env = NULL, *t = NULL;
	const char *name = NULL;
	int rc = bw_json_parse(targets->data, targets->len, NULL, &env, err);

	*n = 0;
	if (rc)
		return rc;
	json_object_foreach(
	    json_object_get(json_object_get(env, "signed"), "targets"), name, t)
	{
		char *slash = NULL;

		if (!bw_tuf_target_path_is_safe(name, strlen(name))) {
			rc = bw_err_set(err, BW_EFORMAT, "unsafe target name");
			break;
		}
		if (!fits(
			snprintf(src, sizeof(src), "%s/targets/%s", dir, name),
			sizeof(src)) ||
		    !fits(snprintf(dst, sizeof(dst), "%s/%s",
				   srv->cfg->targets_dir, name),
			  sizeof(dst))) {
			rc = bw_err_set(err, BW_ETOOBIG, "path too long");
			break;
		}
		if ((slash = strrchr(dst, '/')) != NULL) {
			*slash = '\0';
			rc = bw_io_mkdirs(dst, 0755, err);
			*slash = '/';
		}
		if (rc || (rc = bw_io_copy_atomic(src, dst, 0644, BW_IO_NOFOLLOW, err)))
			break;
		(*n)++;
	}
	json_decref(env);
	return rc;
}

int bw_srv_import(struct bw_srv *srv, const char *dir, const char *flavour,
		  const char *tag, struct bw_err *err)
{
	struct bw_buf tg, sn, ts;
	struct bw_srv_import_md md;
	int rc = 0, nroots = 0, nfiles = 0, kept = 0;

	bw_buf_init(&tg, TARGETS_MAX);
	bw_buf_init(&sn, SMALL_MAX);
	bw_buf_init(&ts, SMALL_MAX);
	memset(&md, 0, sizeof(md));
	if ((rc = import_roots(srv, dir, flavour, &nroots, err)) ||
	    (rc = read_md(dir, "targets.json", TARGETS_MAX, &tg, err)))
		goto out;
	md.targets = tg.data, md.targets_len = tg.len;
	if (!read_md(dir, "snapshot.json", SMALL_MAX, &sn, NULL))
		md.snapshot = sn.data, md.snapshot_len = sn.len;
	if (!read_md(dir, "timestamp.json", SMALL_MAX, &ts, NULL))
		md.timestamp = ts.data, md.timestamp_len = ts.len;
	/* files first: metadata must never list a file the gateway lacks */
	if ((rc = import_files(srv, dir, &tg, &nfiles, err)) ||
	    (rc = bw_srv_repo_import(srv->repo, flavour, tag, &md, time(NULL),
				     &kept, err)))
		goto out;
	bw_srv_log(BW_SRV_LOG_NOTICE,
		   "imported %s%s%s: %d root(s), targets, %d file(s); "
		   "snapshot/timestamp %s",
		   flavour, tag[0] ? " tag " : "", tag, nroots, nfiles,
		   kept ? "kept from the export" : "signed by the server");
out:
	bw_buf_dispose(&tg);
	bw_buf_dispose(&sn);
	bw_buf_dispose(&ts);
	return rc;
}
