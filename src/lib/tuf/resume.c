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

#define RESUME_MAX_HASHES 8

struct resume {
	const struct bw_tuf_target *t;
	struct bw_hash *h[RESUME_MAX_HASHES];
	size_t nh;
	uint64_t got;
	int fd;
	bw_tuf_progress_fn progress;
	void *progress_ctx;
};

static int resume_init(struct resume *r, const struct bw_tuf_target *t,
		       struct bw_err *err)
{
	if (t->nhashes > RESUME_MAX_HASHES || t->nhashes == 0)
		return bw_err_set(err, BW_EHASH, "%.128s: %zu hashes listed",
				  t->path, t->nhashes);
	for (size_t i = 0; i < t->nhashes; i++) {
		enum bw_hash_alg a;

		/* Every listed hash is checked; one we can not compute makes
		 * the target unverifiable. */
		if (bw_hash_alg_from_name(t->hashes[i].name, &a) != 0)
			return bw_err_set(err, BW_EHASH,
					  "%.128s: unsupported hash %.32s",
					  t->path, t->hashes[i].name);
		if (bw_hash_new(a, &r->h[r->nh]) != 0)
			return bw_err_set(err, BW_ECRYPTO, "hash init failed");
		r->nh++;
	}
	return 0;
}

static int resume_hash(struct resume *r, const uint8_t *data, size_t len)
{
	if (len > r->t->length - r->got)
		return BW_ETOOBIG;
	r->got += len;
	for (size_t i = 0; i < r->nh; i++)
		if (bw_hash_update(r->h[i], data, len) != 0)
			return BW_ECRYPTO;
	return 0;
}

static int resume_finish(struct resume *r, struct bw_err *err)
{
	uint8_t d[BW_HASH_MAX_LEN];

	if (r->got != r->t->length)
		return bw_err_set(err, BW_EHASH, "%.128s: length %llu, expected %llu",
				  r->t->path, (unsigned long long)r->got,
				  (unsigned long long)r->t->length);
	for (size_t i = 0; i < r->nh; i++)
		if (bw_hash_final(r->h[i], d) != 0 ||
		    CRYPTO_memcmp(d, r->t->hashes[i].digest,
				  r->t->hashes[i].len) != 0)
			return bw_err_set(err, BW_EHASH, "%.128s: %s mismatch",
					  r->t->path, r->t->hashes[i].name);
	return 0;
}

static int sink_append(void *ctx, const uint8_t *data, size_t len)
{
	struct resume *r = ctx;
	int rc = resume_hash(r, data, len);

	if (rc != 0)
		return rc;
	while (len > 0) {
		ssize_t n = write(r->fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return BW_EIO;
		data += n;
		len -= (size_t)n;
	}
	if (r->progress != NULL)
		r->progress(r->progress_ctx, r->got, r->t->length);
	return 0;
}

/* Hash what an earlier attempt left in the part file; a part that is
 * longer than the signed length can not be a prefix: start over. */
static int rehash_part(struct resume *r, const char *part, struct bw_err *err)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = read(r->fd, buf, sizeof(buf))) > 0)
		if (resume_hash(r, buf, (size_t)n) != 0)
			break;
	if (n == 0)
		return 0;
	if (n < 0 && errno != EINTR && errno != EAGAIN)
		return bw_err_set(err, BW_EIO, "%s: read: %s", part,
				  strerror(errno));
	/* Too long or unreadable: discard and start from byte 0. */
	for (size_t i = 0; i < r->nh; i++)
		bw_hash_free(r->h[i]);
	r->nh = 0;
	r->got = 0;
	if (ftruncate(r->fd, 0) != 0 || lseek(r->fd, 0, SEEK_SET) != 0)
		return bw_err_set(err, BW_EIO, "%s: truncate: %s", part,
				  strerror(errno));
	return resume_init(r, r->t, err);
}

/* Same naming as lookup.c's download (kept in step with it): filepath, or
 * target_dir/<path quoted as one file name>. */
static int resume_path(struct bw_tuf_updater *u, const struct bw_tuf_target *t,
		       const char *filepath, char **out)
{
	char *q = NULL;
	int rc;

	if (filepath != NULL)
		return (*out = strdup(filepath)) ? 0 : BW_ENOMEM;
	if (u->tdir == NULL)
		return BW_EINVAL;
	if (bw_tuf__quote(t->path, "", &q) != 0)
		return BW_ENOMEM;
	rc = bw_path_join(u->tdir, q, out);
	free(q);
	return rc;
}

/* TUF 5.7.3: with consistent snapshots the file is "<dir>/<sha256>.<name>". */
static int resume_url(struct bw_tuf_updater *u, const struct bw_tuf_target *t,
		      char **out)
{
	const char *slash = strrchr(t->path, '/');
	int dlen = slash ? (int)(slash - t->path + 1) : 0;
	char hex[BW_HASH_MAX_HEX], *rel = NULL, *q = NULL;
	size_t hi = 0, n = strlen(t->path) + sizeof(hex) + 2;
	int rc = BW_ENOMEM;

	if ((rel = malloc(n)) == NULL)
		return BW_ENOMEM;
	if (u->root->consistent_snapshot && u->cfg.prefix_targets_with_hash) {
		for (size_t i = 0; i < t->nhashes; i++)
			if (strcmp(t->hashes[i].name, "sha256") == 0)
				hi = i;
		bw_hex_encode(t->hashes[hi].digest, t->hashes[hi].len, hex);
		snprintf(rel, n, "%.*s%s.%s", dlen, t->path, hex, t->path + dlen);
	} else {
		snprintf(rel, n, "%s", t->path);
	}
	if (bw_tuf__quote(rel, "/", &q) == 0 &&
	    (*out = malloc(strlen(u->turl) + strlen(q) + 1)) != NULL) {
		memcpy(*out, u->turl, strlen(u->turl));
		memcpy(*out + strlen(u->turl), q, strlen(q) + 1);
		rc = 0;
	}
	free(rel);
	free(q);
	return rc;
}

static int open_part(struct resume *r, const char *path, char **part,
		     struct bw_err *err)
{
	size_t n = strlen(path) + 6;

	if ((*part = malloc(n)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	snprintf(*part, n, "%s.part", path);
	r->fd = open(*part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (r->fd < 0)
		return bw_err_set(err, BW_EIO, "%s: %s", *part, strerror(errno));
	return rehash_part(r, *part, err);
}

/* The transfer and its verdict; the part stays unless the bytes are bad. */
static int fetch_rest(struct bw_tuf_updater *u, struct resume *r,
		      const char *url, struct bw_err *err)
{
	int rc = 0;

	if (r->got < r->t->length)
		rc = u->fetcher->fetch(u->fetcher, url, r->got,
				       r->t->length - r->got, sink_append, r,
				       err);
	if (rc == BW_ETOOBIG)
		rc = bw_err_set(err, BW_EHASH, "%.128s: longer than its signed "
				"length %llu", r->t->path,
				(unsigned long long)r->t->length);
	if (rc == 0)
		rc = resume_finish(r, err);
	return rc;
}

int bw_tuf_updater_download_resumable(struct bw_tuf_updater *u,
				      const struct bw_tuf_target *t,
				      const char *filepath,
				      bw_tuf_progress_fn progress,
				      void *progress_ctx, char **path_out,
				      struct bw_err *err)
{
	struct resume r = {.t = t, .fd = -1, .progress = progress,
			   .progress_ctx = progress_ctx};
	char *path = NULL, *part = NULL, *url = NULL;
	int rc;

	if (path_out != NULL)
		*path_out = NULL;
	if (u->turl == NULL || u->root == NULL)
		return bw_err_set(err, BW_EINVAL, "no target base URL or root");
	if (!bw_tuf__path_is_safe(t->path))
		return bw_err_set(err, BW_EFORMAT, "unsafe target path \"%.128s\"",
				  t->path);
	if (resume_path(u, t, filepath, &path) != 0 ||
	    resume_url(u, t, &url) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "no target path or URL");
		goto out;
	}
	rc = resume_init(&r, t, err);
	if (rc == 0)
		rc = open_part(&r, path, &part, err);
	if (rc != 0)
		goto out;
	if (r.got > 0)
		bw_tuf__log(u, BW_LOG_INFO, "resuming %.128s at byte %llu",
			    t->path, (unsigned long long)r.got);
	rc = fetch_rest(u, &r, url, err);
	/* Keep a good prefix across power loss; drop proven-bad bytes. */
	if (fsync(r.fd) != 0 && rc == 0)
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
	if (r.fd >= 0)
		close(r.fd);
	for (size_t i = 0; i < r.nh; i++)
		bw_hash_free(r.h[i]);
	free(path);
	free(part);
	free(url);
	return rc;
}
