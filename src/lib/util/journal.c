/*
 * The journalled multi-file commit (util/journal.h).
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
#include "util/journal.h"

#define JOURNAL_MAX_FILES 4096
#define JOURNAL_MAX_BYTES (1024u * 1024u)

void bw_journal_init(struct bw_journal *j, const char *dir)
{
	memset(j, 0, sizeof(*j));
	j->dir = strdup(dir);
}

/* dir/rel plus suffix, malloc'd; NULL when out of memory. */
static char *jpath(const char *dir, const char *rel, const char *suffix)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s%s", dir, rel, suffix) < 0)
		return NULL;
	return p;
}

static int rel_ok(const char *rel)
{
	return rel[0] != '\0' && rel[0] != '/' && rel[0] != '-' &&
	       strstr(rel, "..") == NULL;
}

/* Record rel (a removal if del), replacing an earlier entry for it. */
static int note(struct bw_journal *j, const char *rel, int del,
		struct bw_err *err)
{
	char *s = NULL;

	if (j->dir == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!rel_ok(rel))
		return bw_err_set(err, BW_EINVAL, "bad path %s in a commit",
				  rel);
	if (asprintf(&s, "%s%s", del ? "-" : "", rel) < 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < j->n; i++) {
		const char *e = j->rel[i] + (j->rel[i][0] == '-');

		if (strcmp(e, rel) == 0) {
			free(j->rel[i]);
			j->rel[i] = s;
			return 0;
		}
	}
	if (j->n == j->cap) {
		size_t cap = j->cap == 0 ? 16 : j->cap * 2;
		char **v;

		if (cap > JOURNAL_MAX_FILES) {
			free(s);
			return bw_err_set(err, BW_ETOOBIG, "too many files");
		}
		v = realloc(j->rel, cap * sizeof(*v));
		if (v == NULL) {
			free(s);
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		}
		j->rel = v;
		j->cap = cap;
	}
	j->rel[j->n++] = s;
	return 0;
}

static int mkparent(const char *path, struct bw_err *err)
{
	char *d = strdup(path), *slash;
	int rc = 0;

	if (d == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	slash = strrchr(d, '/');
	if (slash != NULL && slash != d) {
		*slash = '\0';
		rc = bw_io_mkdirs(d, 0755, err);
	}
	free(d);
	return rc;
}

/*
 * A fresh <rel>.bw-new: any stray of that name is removed first, so the
 * file is created with exactly mode (a secret key is never readable by
 * others, not even for a moment).
 */
static int open_new(const char *p, mode_t mode, struct bw_err *err)
{
	int fd;

	if (unlink(p) != 0 && errno != ENOENT)
		return bw_err_set(err, BW_EIO, "%s: %s", p, strerror(errno));
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  mode & 0600);
	if (fd < 0)
		return bw_err_set(err, BW_EIO, "%s: %s", p, strerror(errno));
	if (fchmod(fd, mode) != 0) {
		int rc = bw_err_set(err, BW_EIO, "%s: %s", p, strerror(errno));

		close(fd);
		return rc;
	}
	return fd;
}

/* Write data to the new file p and fsync it; removes p on failure. */
static int write_new(const char *p, const void *data, size_t len,
		     mode_t mode, struct bw_err *err)
{
	int fd = open_new(p, mode, err), rc = 0;

	if (fd < 0)
		return fd;
	if (bw_io_write_all(fd, data, len) != 0 || fsync(fd) != 0)
		rc = bw_err_set(err, BW_EIO, "%s: write failed: %s", p,
				strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = bw_err_set(err, BW_EIO, "%s: close failed: %s", p,
				strerror(errno));
	if (rc != 0)
		(void)unlink(p);
	return rc;
}

/* Note rel and give the path of its new file (*np, malloc'd), parent
 * directories made. */
static int stage(struct bw_journal *j, const char *rel, char **np,
		 struct bw_err *err)
{
	int rc = note(j, rel, 0, err);

	*np = NULL;
	if (rc != 0)
		return rc;
	*np = jpath(j->dir, rel, BW_JOURNAL_NEW_SUFFIX);
	if (*np == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	return mkparent(*np, err);
}

int bw_journal_put(struct bw_journal *j, const char *rel, const void *data,
		   size_t len, mode_t mode, struct bw_err *err)
{
	char *p = NULL;
	int rc = stage(j, rel, &p, err);

	if (rc == 0)
		rc = write_new(p, data, len, mode, err);
	free(p);
	return rc;
}

int bw_journal_put_copy(struct bw_journal *j, const char *rel,
			const char *src, mode_t mode, struct bw_err *err)
{
	char *p = NULL;
	int rc = stage(j, rel, &p, err);

	if (rc == 0 && unlink(p) != 0 && errno != ENOENT)
		rc = bw_err_set(err, BW_EIO, "%s: %s", p, strerror(errno));
	if (rc == 0)
		rc = bw_io_copy_fsync(src, p, mode, 0, err);
	free(p);
	return rc;
}

int bw_journal_del(struct bw_journal *j, const char *rel, struct bw_err *err)
{
	char *p = NULL;
	int rc = note(j, rel, 1, err);

	/* a removal replacing a staged file: that file goes now */
	if (rc == 0 && (p = jpath(j->dir, rel, BW_JOURNAL_NEW_SUFFIX)) != NULL)
		(void)unlink(p);
	free(p);
	return rc;
}

/* Rename (or remove) one journalled entry; no new file = already done. */
static int roll_one(const char *dir, const char *ent, struct bw_err *err)
{
	int del = ent[0] == '-';
	char *p = jpath(dir, ent + del, "");
	char *n = jpath(dir, ent + del, BW_JOURNAL_NEW_SUFFIX);
	int rc = 0;

	if (p == NULL || n == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	} else if (!rel_ok(ent + del)) {
		rc = bw_err_set(err, BW_EFORMAT, "bad journal entry in %s",
				dir);
	} else if (del) {
		rc = bw_io_remove(p, err);
	} else if (access(n, F_OK) == 0) {
		rc = bw_io_rename_durable(n, p, err);
	} else if (errno != ENOENT) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", n, strerror(errno));
	}
	free(p);
	free(n);
	return rc;
}

static int roll_forward(const char *dir, const json_t *list,
			struct bw_err *err)
{
	size_t i;
	json_t *v;
	int rc;

	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v))
			return bw_err_set(err, BW_EFORMAT, "bad journal in %s",
					  dir);
		rc = roll_one(dir, json_string_value(v), err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The journal of j, written durably as .txn (via .txn.bw-new). */
static int write_journal(const struct bw_journal *j, const json_t *list,
			 struct bw_err *err)
{
	char *jp = jpath(j->dir, BW_JOURNAL_FILE, "");
	char *np = jpath(j->dir, BW_JOURNAL_FILE, BW_JOURNAL_NEW_SUFFIX);
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	if (jp == NULL || np == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = bw_json_serialize(list, &b, &n, err);
	if (rc == 0)
		rc = write_new(np, b, n, 0600, err);
	if (rc == 0) {
		rc = bw_io_rename_durable(np, jp, err);
		if (rc != 0 && access(jp, F_OK) != 0)
			(void)unlink(np);
	}
out:
	free(b);
	free(jp);
	free(np);
	return rc;
}

int bw_journal_commit(struct bw_journal *j, struct bw_err *err)
{
	json_t *list = json_array();
	char *jp = j->dir != NULL ? jpath(j->dir, BW_JOURNAL_FILE, "") : NULL;
	int rc = 0;

	if (list == NULL || jp == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < j->n && rc == 0; i++)
		if (json_array_append_new(list, json_string(j->rel[i])) != 0)
			rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = write_journal(j, list, err);
	if (rc != 0)
		goto out;
	/* From here the commit is decided: recovery rolls it forward. */
	j->committed = 1;
	rc = roll_forward(j->dir, list, err);
	if (rc == 0)
		rc = bw_io_remove(jp, err);
out:
	json_decref(list);
	free(jp);
	return rc;
}

void bw_journal_dispose(struct bw_journal *j)
{
	for (size_t i = 0; i < j->n; i++) {
		if (!j->committed && j->rel[i][0] != '-') {
			char *p = jpath(j->dir, j->rel[i],
					BW_JOURNAL_NEW_SUFFIX);

			if (p != NULL)
				(void)unlink(p);
			free(p);
		}
		free(j->rel[i]);
	}
	free(j->rel);
	free(j->dir);
	memset(j, 0, sizeof(*j));
}

int bw_journal_pending(const char *dir)
{
	char *jp = jpath(dir, BW_JOURNAL_FILE, "");
	int r;

	if (jp == NULL)
		return 1;
	r = access(jp, F_OK) == 0 || errno != ENOENT;
	free(jp);
	return r;
}

static int stray_cb(const char *p, const struct stat *st, int flag,
		    struct FTW *f)
{
	size_t n = strlen(p), k = strlen(BW_JOURNAL_NEW_SUFFIX);

	(void)st;
	(void)f;
	if (flag == FTW_F && n > k &&
	    strcmp(p + n - k, BW_JOURNAL_NEW_SUFFIX) == 0)
		(void)unlink(p);
	return 0;
}

int bw_journal_recover(const char *dir, struct bw_err *err)
{
	char *jp = jpath(dir, BW_JOURNAL_FILE, "");
	struct bw_json_limits lim = {.max_bytes = JOURNAL_MAX_BYTES};
	struct bw_buf b;
	json_t *list = NULL;
	int rc;

	if (jp == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	bw_buf_init(&b, JOURNAL_MAX_BYTES);
	rc = bw_io_read_file(jp, JOURNAL_MAX_BYTES, &b, err);
	if (rc == BW_ENOTFOUND) {
		rc = 0;
		goto strays;
	}
	if (rc == 0) {
		struct bw_err e = {0};

		rc = bw_json_parse(b.data, b.len, &lim, &list, &e);
		if (rc != 0)
			bw_err_set(err, rc, "%s: %s", jp, e.msg);
	}
	if (rc == 0 && !json_is_array(list))
		rc = bw_err_set(err, BW_EFORMAT, "bad journal %s", jp);
	if (rc == 0)
		rc = roll_forward(dir, list, err);
	if (rc == 0)
		rc = bw_io_remove(jp, err);
strays:
	/* Files staged by a commit that died before its journal: the
	 * directory is as that commit found it, they go. */
	if (rc == 0)
		(void)nftw(dir, stray_cb, 16, FTW_PHYS);
	json_decref(list);
	bw_buf_dispose(&b);
	free(jp);
	return rc;
}
