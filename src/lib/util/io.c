/*
 * File helpers: bounded reads, atomic writes (include/bulwark/buf.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"

int bw_path_join(const char *dir, const char *name, char **out)
{
	size_t dl = strlen(dir), nl = strlen(name);
	int slash = dl > 0 && dir[dl - 1] == '/';
	char *p;

	*out = NULL;
	if (dl > SIZE_MAX - nl - 2)
		return BW_ENOMEM;
	p = malloc(dl + nl + 2);
	if (p == NULL)
		return BW_ENOMEM;
	memcpy(p, dir, dl);
	if (!slash)
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	*out = p;
	return 0;
}

int bw_io_read_file(const char *path, size_t max, struct bw_buf *b,
		    struct bw_err *err)
{
	uint8_t chunk[65536];
	struct stat st;
	int fd, rc = BW_EIO;
	ssize_t n;

	/* O_NONBLOCK so that a FIFO at path can not block us before fstat
	 * sees it is not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return bw_err_set(err, BW_ENOTFOUND, "%s: not found", path);
		return bw_err_set(err, BW_EIO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = bw_err_set(err, BW_EIO, "%s: not a regular file", path);
		goto out;
	}
	if (fcntl(fd, F_SETFL, 0) != 0) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = bw_err_set(err, BW_ETOOBIG, "%s: larger than %zu bytes",
				path, max);
		goto out;
	}
	if (b->max < max)
		b->max = max;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bw_err_set(err, BW_EIO, "%s: %s", path,
					strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > max) {
			rc = bw_err_set(err, BW_ETOOBIG,
					"%s: larger than %zu bytes", path, max);
			goto out;
		}
		rc = bw_buf_append(b, chunk, (size_t)n);
		if (rc != 0) {
			bw_err_set(err, rc, "%s: out of memory", path);
			goto out;
		}
	}
	if (b->data == NULL && bw_buf_append(b, "", 0) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (b->secret)
		OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

/* fsync the directory holding path so a rename or unlink is durable. */
static int sync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = 0;

	if (copy == NULL)
		return BW_ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = BW_EIO;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

int bw_io_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A new temporary file beside path (*tmp malloc'd); the fd or < 0. */
static int tmp_open(const char *path, mode_t mode, char **tmp,
		    struct bw_err *err)
{
	size_t pl = strlen(path);
	int fd;

	*tmp = malloc(pl + 16);
	if (*tmp == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	memcpy(*tmp, path, pl);
	memcpy(*tmp + pl, ".tmp.XXXXXX", 12);
	fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		fd = bw_err_set(err, BW_EIO, "%s: cannot create temporary "
				"file: %s", path, strerror(errno));
		free(*tmp);
		*tmp = NULL;
		return fd;
	}
	if (fchmod(fd, mode) != 0) {
		fd = bw_err_set(err, BW_EIO, "%s: %s", path, strerror(errno));
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}

/*
 * The end of every atomic write: fsync and close fd (the written
 * temporary file tmp), rename it over path, fsync the directory. Frees
 * tmp; removes it on failure.
 */
static int tmp_commit(int fd, char *tmp, const char *path,
		      struct bw_err *err)
{
	int rc = 0;

	if (fsync(fd) != 0) {
		rc = bw_err_set(err, BW_EIO, "%s: write failed: %s", path,
				strerror(errno));
		close(fd);
	} else if (close(fd) != 0) {
		rc = bw_err_set(err, BW_EIO, "%s: close failed: %s", path,
				strerror(errno));
	} else if (rename(tmp, path) != 0) {
		rc = bw_err_set(err, BW_EIO, "%s: rename failed: %s", path,
				strerror(errno));
	} else if (sync_parent(path) != 0) {
		/* The new content is in place; only durability is in doubt. */
		free(tmp);
		return bw_err_set(err, BW_EIO, "%s: fsync of directory failed",
				  path);
	}
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Drop a temporary file that will not be committed. */
static void tmp_abort(int fd, char *tmp)
{
	close(fd);
	unlink(tmp);
	free(tmp);
}

int bw_io_write_atomic(const char *path, const void *data, size_t len,
		       mode_t mode, struct bw_err *err)
{
	char *tmp = NULL;
	int fd;

	fd = tmp_open(path, mode, &tmp, err);
	if (fd < 0)
		return fd;
	if (bw_io_write_all(fd, data, len) != 0) {
		int rc = bw_err_set(err, BW_EIO, "%s: write failed: %s", path,
				    strerror(errno));

		tmp_abort(fd, tmp);
		return rc;
	}
	return tmp_commit(fd, tmp, path, err);
}

/* Stream in to out; 0 or BW_EIO with the file named in err. */
static int copy_stream(int in, int out, const char *src, const char *dst,
		       struct bw_err *err)
{
	uint8_t buf[65536];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bw_err_set(err, BW_EIO, "%s: read failed: %s",
					  src, strerror(errno));
		if (n == 0)
			return 0;
		if (bw_io_write_all(out, buf, (size_t)n) != 0)
			return bw_err_set(err, BW_EIO, "%s: write failed: %s",
					  dst, strerror(errno));
	}
}

static int open_src(const char *src, unsigned flags, struct bw_err *err)
{
	int in = open(src, O_RDONLY | O_CLOEXEC |
			       ((flags & BW_IO_NOFOLLOW) != 0 ? O_NOFOLLOW : 0));

	if (in < 0)
		return bw_err_set(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				  "%s: %s", src, strerror(errno));
	return in;
}

int bw_io_copy_fsync(const char *src, const char *dst, mode_t mode,
		     unsigned flags, struct bw_err *err)
{
	int in, out, rc;

	in = open_src(src, flags, err);
	if (in < 0)
		return in;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", dst, strerror(errno));
		close(in);
		return rc;
	}
	rc = copy_stream(in, out, src, dst, err);
	if (rc == 0 && fsync(out) != 0)
		rc = bw_err_set(err, BW_EIO, "%s: fsync: %s", dst,
				strerror(errno));
	if (close(out) != 0 && rc == 0)
		rc = bw_err_set(err, BW_EIO, "%s: close: %s", dst,
				strerror(errno));
	close(in);
	return rc;
}

int bw_io_copy_atomic(const char *src, const char *dst, mode_t mode,
		      unsigned flags, struct bw_err *err)
{
	char *tmp = NULL;
	int in, out, rc;

	in = open_src(src, flags, err);
	if (in < 0)
		return in;
	out = tmp_open(dst, mode, &tmp, err);
	if (out < 0) {
		close(in);
		return out;
	}
	rc = copy_stream(in, out, src, dst, err);
	close(in);
	if (rc != 0) {
		tmp_abort(out, tmp);
		return rc;
	}
	return tmp_commit(out, tmp, dst, err);
}

int bw_io_rename_durable(const char *from, const char *to,
			 struct bw_err *err)
{
	if (rename(from, to) != 0)
		return bw_err_set(err, BW_EIO, "%s: rename failed: %s", to,
				  strerror(errno));
	if (sync_parent(to) != 0)
		return bw_err_set(err, BW_EIO, "%s: fsync of directory failed",
				  to);
	return 0;
}

int bw_io_remove(const char *path, struct bw_err *err)
{
	if (unlink(path) != 0) {
		if (errno == ENOENT)
			return 0;
		return bw_err_set(err, BW_EIO, "%s: cannot remove: %s", path,
				  strerror(errno));
	}
	if (sync_parent(path) != 0)
		return bw_err_set(err, BW_EIO, "%s: fsync of directory failed",
				  path);
	return 0;
}

int bw_io_mkdirs(const char *path, mode_t mode, struct bw_err *err)
{
	struct stat st;
	char *p;
	int rc = 0;

	/* The walk below starts at path + 1. */
	if (path[0] == '\0')
		return bw_err_set(err, BW_EINVAL, "mkdirs: empty path");
	p = strdup(path);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			rc = bw_err_set(err, BW_EIO, "%s: cannot create: %s", p,
					strerror(errno));
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	/* EEXIST above also covers a file where the directory should be. */
	if (rc == 0 && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)))
		rc = bw_err_set(err, BW_EIO, "%s: not a directory", path);
	free(p);
	return rc;
}
