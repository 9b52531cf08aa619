/*
 * Target lookup through delegations (TUF 5.7) and verified target download.
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

/* A role waiting on the search stack, with the role that delegates to it. */
struct pending {
	const char *name;          /* borrowed from the delegator */
	const struct bw_tuf_md *delegator;
	const struct bw_tuf_role_keys *keys;
};

static struct bw_tuf_md *loaded_role(struct bw_tuf_updater *u,
				     const char *name)
{
	if (strcmp(name, "targets") == 0)
		return u->targets;
	for (size_t i = 0; i < u->nroles; i++)
		if (strcmp(u->roles[i].name, name) == 0)
			return u->roles[i].md;
	return NULL;
}

static int load_delegated(struct bw_tuf_updater *u, const struct pending *p,
			  const struct bw_tuf_md **out, struct bw_err *err)
{
	struct bw_tuf_loaded_role *n;
	struct bw_tuf_md *md = NULL;
	char *name;
	int rc;

	md = loaded_role(u, p->name);
	if (md != NULL) {
		/* TUF 5.7.2: a role reached through two delegators (a
		 * diamond) is trusted on this path only if this path's
		 * delegator's keys sign it. Having verified it for another
		 * delegator earlier says nothing about this one. */
		rc = bw_tuf__verify_sigs(md, &p->delegator->deleg->keyring,
					 p->keys, p->name, err);
		*out = rc == 0 ? md : NULL;
		return rc;
	}
	rc = bw_tuf__load_targets_role(u, p->name, &p->delegator->deleg->keyring,
				       p->keys, &md, err);
	if (rc != 0)
		return rc;
	n = realloc(u->roles, (u->nroles + 1) * sizeof(*n));
	name = strdup(p->name);
	if (n == NULL || name == NULL) {
		if (n != NULL)
			u->roles = n;
		free(name);
		bw_tuf__md_free(md);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	u->roles = n;
	u->roles[u->nroles].name = name;
	u->roles[u->nroles].md = md;
	u->nroles++;
	*out = md;
	return 0;
}

/* Keep a target handed out, and the entry its custom borrows from. */
static int keep_target(struct bw_tuf_updater *u, struct bw_tuf_target *t,
		       json_t *entry, const struct bw_tuf_target **out)
{
	struct bw_tuf_target **n = realloc(u->found, (u->nfound + 1) * sizeof(*n));
	json_t **e;

	if (n != NULL)
		u->found = n;
	e = n != NULL ? realloc(u->entries, (u->nfound + 1) * sizeof(*e)) : NULL;
	if (e == NULL) {
		bw_tuf__target_free(t);
		json_decref(entry);
		return BW_ENOMEM;
	}
	u->entries = e;
	u->found[u->nfound] = t;
	u->entries[u->nfound++] = entry;
	*out = t;
	return 0;
}

/* The i-th target of md as a target (kept by the updater). */
static int target_of(struct bw_tuf_updater *u, const struct bw_tuf_md *md,
		     size_t i, const struct bw_tuf_target **out,
		     struct bw_err *err)
{
	struct bw_tuf_target *t = NULL;
	json_t *entry = NULL;
	const char *name;
	int rc;

	rc = bw_tuf__targets_entry(md, i, &entry, &name, err);
	if (rc == 0)
		rc = bw_tuf__target_parse(name, entry, &t, err);
	if (rc != 0) {
		json_decref(entry);
		return rc;
	}
	if (keep_target(u, t, entry, out) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	return 0;
}

/*
 * Push the roles md delegates path to, in reverse order so the first
 * listed is searched first. A matching terminating role ends the search
 * after itself: later siblings and everything still pending are dropped
 * (TUF 5.7.2.x, as the reference implementation orders it).
 */
static int push_children(const struct bw_tuf_md *md, const char *path,
			 struct pending *stack, size_t *top, size_t cap,
			 char **binname)
{
	const struct bw_tuf_delegations *d = md->deleg;
	size_t start = *top, n = 0;

	if (d->succinct != NULL) {
		/* TAP 15: exactly one bin can hold the path; terminating. */
		if (bw_tuf__succinct_bin(d->succinct, path, binname) != 0)
			return BW_ENOMEM;
		*top = 0;
		stack[(*top)++] = (struct pending){*binname, md,
						   &d->succinct->keys};
		return 0;
	}
	for (size_t i = 0; i < d->nroles; i++) {
		const struct bw_tuf_delegated_role *r = &d->roles[i];

		if (!bw_tuf__role_matches(r, path))
			continue;
		if (r->terminating && start != 0) {
			/* Drop what was pending, keep earlier siblings. */
			memmove(stack, stack + start, n * sizeof(*stack));
			start = 0;
		}
		if (start + n >= cap)
			return BW_ETOOBIG;
		stack[start + n++] = (struct pending){r->name, md, &r->keys};
		if (r->terminating)
			break;
	}
	/* Reverse the n new entries so the first match is on top. */
	for (size_t i = 0; i < n / 2; i++) {
		struct pending tmp = stack[start + i];

		stack[start + i] = stack[start + n - 1 - i];
		stack[start + n - 1 - i] = tmp;
	}
	*top = start + n;
	return 0;
}

static int seen(const char **visited, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(visited[i], name) == 0)
			return 1;
	return 0;
}

/* TUF 5.7: pre-order depth-first search of the delegation graph. */
static int search(struct bw_tuf_updater *u, const char *path,
		  const struct bw_tuf_target **out, struct bw_err *err)
{
	size_t cap = 1024, top = 0, nvisited = 0, nbins = 0;
	struct pending *stack = calloc(cap, sizeof(*stack));
	const char **visited = calloc(u->cfg.max_delegations + 1, sizeof(char *));
	char **bins = calloc(u->cfg.max_delegations + 1, sizeof(char *));
	int rc = BW_ENOTFOUND;

	if (stack == NULL || visited == NULL || bins == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	stack[top++] = (struct pending){"targets", NULL, NULL};
	while (top > 0) {
		struct pending p = stack[--top];
		const struct bw_tuf_md *md = NULL;
		int entry;

		/* TUF 5.7.1: a role already visited is skipped (cycles). */
		if (seen(visited, nvisited, p.name))
			continue;
		if (nvisited >= u->cfg.max_delegations) {
			rc = bw_err_set(err, BW_ENOTFOUND,
					"%.128s: not found within %u delegated "
					"roles", path, u->cfg.max_delegations);
			goto out;
		}
		if (p.delegator == NULL)
			md = u->targets;
		else if ((rc = load_delegated(u, &p, &md, err)) != 0)
			goto out;
		visited[nvisited++] = p.name;
		entry = bw_tuf__targets_find(md, path);
		if (entry >= 0) {
			rc = target_of(u, md, (size_t)entry, out, err);
			goto out;
		}
		if (md->deleg != NULL) {
			rc = push_children(md, path, stack, &top, cap,
					   &bins[nbins]);
			if (bins[nbins] != NULL)
				nbins++;
			if (rc != 0) {
				bw_err_set(err, rc, "delegation graph too wide");
				goto out;
			}
		}
		rc = BW_ENOTFOUND;
	}
	bw_err_set(err, BW_ENOTFOUND, "%.128s: no trusted role lists it", path);
out:
	/* Names in visited/stack may point into bins; free those last. */
	for (size_t i = 0; i < nbins; i++)
		free(bins[i]);
	free(bins);
	free(stack);
	free((void *)visited);
	return rc;
}

int bw_tuf_updater_get_target(struct bw_tuf_updater *u, const char *path,
			      const struct bw_tuf_target **out,
			      struct bw_err *err)
{
	int rc;

	*out = NULL;
	if (!u->refreshed) {
		rc = bw_tuf_updater_refresh(u, err);
		if (rc != 0)
			return rc;
	} else if (u->refresh_rc != 0) {
		return bw_err_set(err, u->refresh_rc,
				  "metadata is not trusted (refresh failed)");
	}
	if (!bw_tuf_target_path_is_safe(path, strlen(path)))
		return bw_err_set(err, BW_EFORMAT, "unsafe target path \"%.128s\"",
				  path);
	rc = bw_tuf__ensure_targets(u, err);
	if (rc != 0)
		return rc;
	return search(u, path, out, err);
}

size_t bw_tuf_updater_targets_count(const struct bw_tuf_updater *cu)
{
	/* Loading deferred targets fills a cache of immutable trusted data. */
	struct bw_tuf_updater *u = (struct bw_tuf_updater *)cu;

	if (u->refresh_rc != 0 || !u->refreshed ||
	    bw_tuf__ensure_targets(u, NULL) != 0)
		return 0;
	return u->targets->ntidx;
}

const struct bw_tuf_target *bw_tuf_updater_target_at(
	const struct bw_tuf_updater *cu, size_t i)
{
	/* The listing is a cache of immutable trusted data, filled as it is
	 * read: a caller that looks at a few targets pays for those. */
	struct bw_tuf_updater *u = (struct bw_tuf_updater *)cu;
	size_t n = bw_tuf_updater_targets_count(u);

	if (i >= n)
		return NULL;
	if (u->list == NULL) {
		u->list = calloc(n, sizeof(*u->list));
		if (u->list == NULL)
			return NULL;
		u->nlist = n;
	}
	if (u->list[i] == NULL && target_of(u, u->targets, i, &u->list[i],
					    NULL) != 0)
		return NULL;
	return u->list[i];
}

int bw_tuf_updater_targets_foreach(struct bw_tuf_updater *u,
				   int (*fn)(void *ctx,
					     const struct bw_tuf_target *t),
				   void *ctx, struct bw_err *err)
{
	int rc;

	if (!u->refreshed || u->refresh_rc != 0)
		return bw_err_set(err, BW_ESTATE, "no trusted targets");
	rc = bw_tuf__ensure_targets(u, err);
	for (size_t i = 0; rc == 0 && i < u->targets->ntidx; i++) {
		struct bw_tuf_target *t = NULL;
		json_t *entry = NULL;
		const char *name;

		rc = bw_tuf__targets_entry(u->targets, i, &entry, &name, err);
		if (rc == 0)
			rc = bw_tuf__target_parse(name, entry, &t, err);
		if (rc == 0)
			rc = fn(ctx, t);
		bw_tuf__target_free(t);
		json_decref(entry);
	}
	return rc;
}

int bw_tuf_updater_selected_foreach(struct bw_tuf_updater *u,
				    int (*fn)(void *ctx,
					      const struct bw_tuf_selected *t),
				    void *ctx, struct bw_err *err)
{
	const struct bw_tuf_md *md;
	int rc;

	if (!u->refreshed || u->refresh_rc != 0)
		return bw_err_set(err, BW_ESTATE, "no trusted targets");
	rc = bw_tuf__ensure_targets(u, err);
	if (rc != 0)
		return rc;
	md = u->targets;
	if (!md->selected)
		return bw_err_set(err, BW_ESTATE, "targets were read without "
				  "a selector");
	for (size_t i = 0; rc == 0 && i < md->ntsel; i++) {
		const struct bw_tuf_tsel *k = &md->tsel[i];
		struct bw_tuf_selected t = {
			.path = md->tnames + md->tidx[k->at].name_off,
			.length = k->length,
			.has_sha256 = k->has_sha256,
			.value = k->value,
		};

		rc = fn(ctx, &t);
	}
	return rc;
}

/* ---- download ----------------------------------------------------------- */

int bw_tuf__target_local_path(struct bw_tuf_updater *u,
			      const struct bw_tuf_target *t,
			      const char *filepath, char **out,
			      struct bw_err *err)
{
	char *q = NULL;
	int rc;

	*out = NULL;
	if (!bw_tuf_target_path_is_safe(t->path, strlen(t->path)))
		return bw_err_set(err, BW_EFORMAT, "unsafe target path \"%.128s\"",
				  t->path);
	if (filepath != NULL) {
		*out = strdup(filepath);
		return *out ? 0 : bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	if (u->tdir == NULL)
		return bw_err_set(err, BW_EINVAL, "no target directory");
	/* One flat file name: the path can not reach outside target_dir. */
	if (bw_tuf__quote(t->path, "", &q) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_path_join(u->tdir, q, out);
	free(q);
	return rc ? bw_err_set(err, rc, "out of memory") : 0;
}

int bw_tuf__verifier_init(struct bw_tuf_verifier *v,
			  const struct bw_tuf_target *t, struct bw_err *err)
{
	memset(v, 0, sizeof(*v));
	v->t = t;
	v->fd = -1;
	if (t->nhashes > BW_TUF_MAX_TARGET_HASHES)
		return bw_err_set(err, BW_EFORMAT, "too many hashes");
	for (size_t i = 0; i < t->nhashes; i++) {
		enum bw_hash_alg a;

		/* Every listed hash must be checked; one we can not compute
		 * makes the target unverifiable. */
		if (bw_hash_alg_from_name(t->hashes[i].name, &a) != 0)
			return bw_err_set(err, BW_EHASH,
					  "%.128s: unsupported hash %.32s",
					  t->path, t->hashes[i].name);
		if (bw_hash_new(a, &v->h[v->nh]) != 0)
			return bw_err_set(err, BW_ECRYPTO, "hash init failed");
		v->nh++;
	}
	return 0;
}

int bw_tuf__verifier_update(struct bw_tuf_verifier *v, const uint8_t *data,
			    size_t len)
{
	if (len > v->t->length - v->got)
		return BW_ETOOBIG;
	v->got += len;
	for (size_t i = 0; i < v->nh; i++)
		if (bw_hash_update(v->h[i], data, len) != 0)
			return BW_ECRYPTO;
	return 0;
}

int bw_tuf__verifier_finish(struct bw_tuf_verifier *v, struct bw_err *err)
{
	uint8_t d[BW_HASH_MAX_LEN];

	if (v->got != v->t->length)
		return bw_err_set(err, BW_EHASH, "%.128s: length %llu, expected %llu",
				  v->t->path, (unsigned long long)v->got,
				  (unsigned long long)v->t->length);
	for (size_t i = 0; i < v->nh; i++) {
		if (bw_hash_final(v->h[i], d) != 0 ||
		    CRYPTO_memcmp(d, v->t->hashes[i].digest,
				  v->t->hashes[i].len) != 0)
			return bw_err_set(err, BW_EHASH, "%.128s: %s mismatch",
					  v->t->path, v->t->hashes[i].name);
	}
	return 0;
}

void bw_tuf__verifier_dispose(struct bw_tuf_verifier *v)
{
	for (size_t i = 0; i < v->nh; i++)
		bw_hash_free(v->h[i]);
	v->nh = 0;
}

int bw_tuf_updater_find_cached(struct bw_tuf_updater *u,
			       const struct bw_tuf_target *t,
			       const char *filepath, char **path_out,
			       struct bw_err *err)
{
	struct bw_tuf_verifier v;
	uint8_t buf[65536];
	char *path = NULL;
	int fd = -1, rc;
	ssize_t n;

	*path_out = NULL;
	memset(&v, 0, sizeof(v));
	rc = bw_tuf__target_local_path(u, t, filepath, &path, err);
	if (rc != 0)
		return rc;
	rc = bw_tuf__verifier_init(&v, t, err);
	if (rc != 0)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = bw_err_set(err, BW_ENOTFOUND, "%s: not cached", path);
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (bw_tuf__verifier_update(&v, buf, (size_t)n) != 0) {
			rc = bw_err_set(err, BW_ENOTFOUND, "%s: longer than signed",
					path);
			goto out;
		}
	}
	rc = n < 0 ? bw_err_set(err, BW_EIO, "%s: read failed", path)
		   : bw_tuf__verifier_finish(&v, err);
	if (rc != 0) {
		rc = BW_ENOTFOUND;
		goto out;
	}
	*path_out = path;
	path = NULL;
out:
	if (fd >= 0)
		close(fd);
	bw_tuf__verifier_dispose(&v);
	free(path);
	return rc;
}

int bw_tuf__verifier_write(struct bw_tuf_verifier *v, const uint8_t *data,
			   size_t len)
{
	int rc = bw_tuf__verifier_update(v, data, len);

	if (rc != 0)
		return rc;
	return bw_io_write_all(v->fd, data, len) == 0 ? 0 : BW_EIO;
}

static int sink_to_file(void *ctx, const uint8_t *data, size_t len)
{
	return bw_tuf__verifier_write(ctx, data, len);
}

/*
 * The URL of a target: with consistent snapshots, "<dir>/<hash>.<name>"
 * (TUF 5.7.3), the sha256 hash when listed; percent-encoded, '/' kept.
 */
int bw_tuf__target_url(struct bw_tuf_updater *u, const struct bw_tuf_target *t,
		       char **out)
{
	const char *slash = strrchr(t->path, '/');
	size_t dlen = slash ? (size_t)(slash - t->path + 1) : 0;
	char hex[BW_HASH_MAX_HEX], *rel = NULL, *q = NULL;
	size_t hi = 0, n;
	int rc = BW_ENOMEM;

	if (u->root->consistent_snapshot && u->cfg.prefix_targets_with_hash &&
	    t->nhashes > 0) {
		for (size_t i = 0; i < t->nhashes; i++)
			if (strcmp(t->hashes[i].name, "sha256") == 0)
				hi = i;
		bw_hex_encode(t->hashes[hi].digest, t->hashes[hi].len, hex);
		n = strlen(t->path) + strlen(hex) + 2;
		rel = malloc(n);
		if (rel == NULL)
			return BW_ENOMEM;
		snprintf(rel, n, "%.*s%s.%s", (int)dlen, t->path, hex,
			 t->path + dlen);
	} else if ((rel = strdup(t->path)) == NULL) {
		return BW_ENOMEM;
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

int bw_tuf_updater_download(struct bw_tuf_updater *u,
			    const struct bw_tuf_target *t, const char *filepath,
			    char **path_out, struct bw_err *err)
{
	struct bw_tuf_verifier v;
	char *path = NULL, *tmp = NULL, *url = NULL;
	int rc;

	if (path_out != NULL)
		*path_out = NULL;
	memset(&v, 0, sizeof(v));
	v.fd = -1;
	if (u->turl == NULL)
		return bw_err_set(err, BW_EINVAL, "no target base URL");
	rc = bw_tuf__target_local_path(u, t, filepath, &path, err);
	if (rc == 0)
		rc = bw_tuf__verifier_init(&v, t, err);
	if (rc != 0)
		goto out;
	if (bw_tuf__target_url(u, t, &url) != 0 ||
	    (tmp = malloc(strlen(path) + 16)) == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(tmp, strlen(path) + 16, "%s.part.XXXXXX", path);
	v.fd = mkostemp(tmp, O_CLOEXEC);
	if (v.fd < 0 || fchmod(v.fd, 0644) != 0) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* Bounded by the signed length: endless data stops early. */
	rc = u->fetcher->fetch(u->fetcher, url, 0, t->length, sink_to_file, &v,
			       err);
	if (rc == BW_ETOOBIG)
		rc = bw_err_set(err, BW_EHASH, "%.128s: longer than its signed "
				"length %llu", t->path,
				(unsigned long long)t->length);
	if (rc == 0)
		rc = bw_tuf__verifier_finish(&v, err);
	if (rc == 0 && fsync(v.fd) != 0)
		rc = bw_err_set(err, BW_EIO, "%s: fsync: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = bw_err_set(err, BW_EIO, "%s: rename: %s", path,
				strerror(errno));
	if (rc == 0) {
		bw_tuf__log(u, BW_LOG_INFO, "downloaded %.128s (%llu bytes)",
			    t->path, (unsigned long long)t->length);
		if (path_out != NULL) {
			*path_out = path;
			path = NULL;
		}
	}
out:
	if (v.fd >= 0)
		close(v.fd);
	if (rc != 0 && tmp != NULL && v.fd >= 0)
		unlink(tmp);
	bw_tuf__verifier_dispose(&v);
	free(tmp);
	free(url);
	free(path);
	return rc;
}
