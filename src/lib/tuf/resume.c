/*
 * Resumable, verified target download (tuf.h:
 * bw_tuf_updater_download_resumable). A device on a flaky link keeps what
 * it already has: the partial file survives a failed transfer or a power
 * cut, and the next attempt re-hashes it and asks for the rest with Range.
 * The bytes are still bounded by the signed length and checked against
 * every signed hash before the file gets its final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "updater_priv.h"

struct resume {
	struct bw_tuf_verifier v;
	bw_tuf_progress_fn progress;
	void *progress_ctx;
};

static int sink_append(void *ctx, const uint8_t *data, size_t len)
{
	struct resume *r = ctx;
	int rc = bw_tuf__verifier_write(&r->v, data, len);

	if (rc == 0 && r->progress != NULL)
		r->progress(r->progress_ctx, r->v.got, r->v.t->length);
	return rc;
}

/* Empty the part file and start the hashes again from byte 0. */
static int restart(struct resume *r, const char *part, struct bw_err *err)
{
	const struct bw_tuf_target *t = r->v.t;
	int fd = r->v.fd, rc;

	bw_tuf__verifier_dispose(&r->v);
	if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		return bw_err_set(err, BW_EIO, "%s: truncate: %s", part,
				  strerror(errno));
	rc = bw_tuf__verifier_init(&r->v, t, err);
	r->v.fd = fd;
	return rc;
}

/* Hash what an earlier attempt left in the part file; a part that is
 * longer than the signed length can not be a prefix: start over. */
static int rehash_part(struct resume *r, const char *part, struct bw_err *err)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = read(r->v.fd, buf, sizeof(buf))) > 0)
		if (bw_tuf__verifier_update(&r->v, buf, (size_t)n) != 0)
			break;
	if (n == 0)
		return 0;
	if (n < 0 && errno != EINTR && errno != EAGAIN)
		return bw_err_set(err, BW_EIO, "%s: read: %s", part,
				  strerror(errno));
	return restart(r, part, err);
}

static int open_part(struct resume *r, const char *path, char **part,
		     struct bw_err *err)
{
	size_t n = strlen(path) + 6;

	if ((*part = malloc(n)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	snprintf(*part, n, "%s.part", path);
	r->v.fd = open(*part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (r->v.fd < 0)
		return bw_err_set(err, BW_EIO, "%s: %s", *part, strerror(errno));
	return rehash_part(r, *part, err);
}

/*
 * The transfer and its verdict; the part stays unless the bytes are bad.
 * A server (or CDN) that ignores Range sends the whole body again: start
 * the part over and take it, still bounded by the signed length.
 */
static int fetch_rest(struct bw_tuf_updater *u, struct resume *r,
		      const char *part, const char *url, struct bw_err *err)
{
	int rc = 0;

	if (r->v.got < r->v.t->length)
		rc = u->fetcher->fetch(u->fetcher, url, r->v.got,
				       r->v.t->length - r->v.got, sink_append, r,
				       err);
	if (rc == BW_ENORANGE) {
		bw_tuf__log(u, BW_LOG_INFO, "%.128s: the server does not resume "
			    "downloads; starting again", r->v.t->path);
		rc = restart(r, part, err);
		if (rc == 0)
			rc = u->fetcher->fetch(u->fetcher, url, 0, r->v.t->length,
					       sink_append, r, err);
	}
	if (rc == BW_ETOOBIG)
		rc = bw_err_set(err, BW_EHASH, "%.128s: longer than its signed "
				"length %llu", r->v.t->path,
				(unsigned long long)r->v.t->length);
	if (rc == 0)
		rc = bw_tuf__verifier_finish(&r->v, err);
	return rc;
}

int bw_tuf_updater_download_resumable(struct bw_tuf_updater *u,
				      const struct bw_tuf_target *t,
				      const char *filepath,
				      bw_tuf_progress_fn progress,
				      void *progress_ctx, char **path_out,
				      struct bw_err *err)
{
	struct resume r = {.progress = progress, .progress_ctx = progress_ctx};
	char *path = NULL, *part = NULL, *url = NULL;
	int rc;

	if (path_out != NULL)
		*path_out = NULL;
	if (u->turl == NULL || u->root == NULL)
		return bw_err_set(err, BW_EINVAL, "no target base URL or root");
	r.v.fd = -1;
	rc = bw_tuf__target_local_path(u, t, filepath, &path, err);
	if (rc != 0)
		goto out;
	if (bw_tuf__target_url(u, t, &url) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = bw_tuf__verifier_init(&r.v, t, err);
	if (rc == 0)
		rc = open_part(&r, path, &part, err);
	if (rc != 0)
		goto out;
	if (r.v.got > 0)
		bw_tuf__log(u, BW_LOG_INFO, "resuming %.128s at byte %llu",
			    t->path, (unsigned long long)r.v.got);
	rc = fetch_rest(u, &r, part, url, err);
	/* Keep a good prefix across power loss; drop proven-bad bytes. */
	if (fsync(r.v.fd) != 0 && rc == 0)
		rc = bw_err_set(err, BW_EIO, "%s: fsync: %s", part, strerror(errno));
	if (rc == BW_EHASH)
		unlink(part);
	if (rc == 0 && rename(part, path) != 0)
		rc = bw_err_set(err, BW_EIO, "%s: rename: %s", path,
				strerror(errno));
	if (rc == 0 && path_out != NULL) {
		*path_out = path;
		path = NULL; /* transferred */
	}
out:
	if (r.v.fd >= 0)
		close(r.v.fd);
	bw_tuf__verifier_dispose(&r.v);
	free(path);
	free(part);
	free(url);
	return rc;
}
