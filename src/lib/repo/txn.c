/*
 * All-or-nothing commits of several workspace files. Each file is first
 * written completely as <path>.bw-new (bw_io_write_atomic: fsync'd); then
 * the journal .txn lists them, every .bw-new is renamed over its path, the
 * directories are fsync'd and the journal removed. A failure before the
 * journal exists leaves the workspace untouched (the .bw-new files are
 * removed); a crash after it is rolled forward by bw_repo__txn_recover.
 * A staged removal is journalled as "-<path>".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "repo/repo_priv.h"

#define TXN_JOURNAL ".txn"
#define TXN_MAX_FILES 4096

void bw_repo__txn_init(struct bw_repo_txn *t, const char *dir)
{
	memset(t, 0, sizeof(*t));
	t->dir = strdup(dir);
}

static int txn_note(struct bw_repo_txn *t, const char *rel, int del,
		    struct bw_err *err)
{
	char *s = NULL;

	if (t->dir == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rel[0] == '/' || strstr(rel, "..") != NULL || rel[0] == '-')
		return bw_err_set(err, BW_EINVAL, "bad workspace path");
	if (t->n == t->cap) {
		size_t cap = t->cap == 0 ? 16 : t->cap * 2;
		char **v;

		if (cap > TXN_MAX_FILES)
			return bw_err_set(err, BW_ETOOBIG, "too many files");
		v = realloc(t->rel, cap * sizeof(*v));
		if (v == NULL)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		t->rel = v;
		t->cap = cap;
	}
	if (asprintf(&s, "%s%s", del ? "-" : "", rel) < 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	t->rel[t->n++] = s;
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

int bw_repo__txn_put(struct bw_repo_txn *t, const char *rel, const void *data,
		     size_t len, mode_t mode, struct bw_err *err)
{
	char *p = NULL;
	int rc;

	rc = txn_note(t, rel, 0, err);
	if (rc != 0)
		return rc;
	p = bw_repo__path(t->dir, "%s" BW_REPO_NEW_SUFFIX, rel);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = mkparent(p, err);
	if (rc == 0)
		rc = bw_io_write_atomic(p, data, len, mode, err);
	free(p);
	return rc;
}

int bw_repo__txn_put_json(struct bw_repo_txn *t, const char *rel,
			  const json_t *v, struct bw_err *err)
{
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	rc = bw_repo__serialize(v, &b, &n, err);
	if (rc == 0)
		rc = bw_repo__txn_put(t, rel, b, n, 0644, err);
	free(b);
	return rc;
}

int bw_repo__txn_del(struct bw_repo_txn *t, const char *rel, struct bw_err *err)
{
	return txn_note(t, rel, 1, err);
}

int bw_repo__txn_put_copy(struct bw_repo_txn *t, const char *rel,
			  const char *src, struct bw_err *err)
{
	char *p = NULL;
	int rc;

	rc = txn_note(t, rel, 0, err);
	if (rc != 0)
		return rc;
	p = bw_repo__path(t->dir, "%s" BW_REPO_NEW_SUFFIX, rel);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = mkparent(p, err);
	if (rc != 0)
		goto out;
	rc = bw_io_copy_fsync(src, p, 0644, 0, err);
out:
	free(p);
	return rc;
}

static int sync_dir_of(const char *path)
{
	char *d = strdup(path), *slash;
	int fd, rc = 0;

	if (d == NULL)
		return -1;
	slash = strrchr(d, '/');
	if (slash != NULL)
		*slash = '\0';
	fd = open(slash != NULL ? d : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	free(d);
	return rc;
}

/* Rename (or remove) one journalled entry; missing .bw-new = already done. */
static int roll_one(const char *dir, const char *ent, struct bw_err *err)
{
	char *p = bw_repo__path(dir, "%s", ent[0] == '-' ? ent + 1 : ent);
	char *n = bw_repo__path(dir, "%s" BW_REPO_NEW_SUFFIX, ent);
	int rc = 0;

	if (p == NULL || n == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	} else if (ent[0] == '-') {
		if (unlink(p) != 0 && errno != ENOENT)
			rc = bw_err_set(err, BW_EIO, "remove %s: %s", p,
					strerror(errno));
	} else if (rename(n, p) != 0 && errno != ENOENT) {
		rc = bw_err_set(err, BW_EIO, "rename %s: %s", n,
				strerror(errno));
	}
	if (rc == 0 && p != NULL)
		(void)sync_dir_of(p);
	free(p);
	free(n);
	return rc;
}

static int roll_forward(const char *dir, const json_t *list, struct bw_err *err)
{
	size_t i;
	json_t *v;
	int rc;

	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v))
			return bw_err_set(err, BW_EFORMAT, "bad journal");
		rc = roll_one(dir, json_string_value(v), err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int bw_repo__txn_commit(struct bw_repo_txn *t, struct bw_err *err)
{
	json_t *list = json_array();
	char *jp = bw_repo__path(t->dir, TXN_JOURNAL);
	uint8_t *b = NULL;
	size_t n = 0;
	int rc = BW_ENOMEM;

	if (list == NULL || jp == NULL)
		goto out;
	for (size_t i = 0; i < t->n; i++)
		if (json_array_append_new(list, json_string(t->rel[i])) != 0)
			goto out;
	rc = bw_repo__serialize(list, &b, &n, err);
	if (rc == 0)
		rc = bw_io_write_atomic(jp, b, n, 0600, err);
	if (rc != 0)
		goto out;
	/* From here the commit is decided: recovery rolls it forward. */
	rc = roll_forward(t->dir, list, err);
	if (rc == 0)
		rc = bw_io_remove(jp, err);
	if (rc == 0)
		t->committed = 1;
out:
	if (rc == BW_ENOMEM)
		bw_err_set(err, rc, "out of memory");
	json_decref(list);
	free(jp);
	free(b);
	return rc;
}

void bw_repo__txn_dispose(struct bw_repo_txn *t)
{
	char *jp = t->dir != NULL ? bw_repo__path(t->dir, TXN_JOURNAL) : NULL;
	struct stat st;

	/* A journal on disk means the commit was decided: keep the files. */
	for (size_t i = 0; i < t->n; i++) {
		char *p =
		    bw_repo__path(t->dir, "%s" BW_REPO_NEW_SUFFIX, t->rel[i]);

		if (!t->committed && p != NULL && jp != NULL &&
		    stat(jp, &st) != 0)
			(void)unlink(p);
		free(p);
		free(t->rel[i]);
	}
	free(t->rel);
	free(t->dir);
	free(jp);
	memset(t, 0, sizeof(*t));
}

int bw_repo__txn_recover(const char *dir, struct bw_err *err)
{
	char *jp = bw_repo__path(dir, TXN_JOURNAL);
	json_t *list = NULL;
	int rc;

	if (jp == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read_json(jp, BW_REPO_MAX_SMALL, &list, err);
	if (rc == BW_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc == 0 && !json_is_array(list))
		rc = bw_err_set(err, BW_EFORMAT, "bad journal %s", jp);
	if (rc == 0)
		rc = roll_forward(dir, list, err);
	if (rc == 0)
		rc = bw_io_remove(jp, err);
out:
	json_decref(list);
	free(jp);
	return rc;
}
