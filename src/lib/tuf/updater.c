/*
 * The TUF client workflow (TUF spec 1.0, section 5: "Detailed client
 * workflow") for the top-level roles. Target lookup through delegations and
 * target download live in lookup.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "updater_priv.h"

void bw_tuf_config_init(struct bw_tuf_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_root_bytes = 512u * 1024u;
	cfg->max_timestamp_bytes = 16u * 1024u;
	cfg->max_snapshot_bytes = 8u * 1024u * 1024u;
	cfg->max_targets_bytes = 64u * 1024u * 1024u;
	cfg->max_root_rotations = 256;
	cfg->max_delegations = 32;
	cfg->prefix_targets_with_hash = 1;
}

void bw_tuf__log(struct bw_tuf_updater *u, enum bw_log_level level,
		 const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (u->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	u->cfg.log(u->cfg.log_ctx, level, msg);
}

/* ---- transport -------------------------------------------------------- */

static int sink_to_buf(void *ctx, const uint8_t *data, size_t len)
{
	return bw_buf_append(ctx, data, len) == 0 ? 0 : BW_ETOOBIG;
}

/* Fetch base+name into out, at most max bytes (TUF: endless data). */
int bw_tuf__fetch_meta(struct bw_tuf_updater *u, const char *name, size_t max,
		       struct bw_buf *out, struct bw_err *err)
{
	char *url = NULL;
	int rc;

	bw_buf_init(out, max);
	url = malloc(strlen(u->murl) + strlen(name) + 1);
	if (url == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	memcpy(url, u->murl, strlen(u->murl));
	memcpy(url + strlen(u->murl), name, strlen(name) + 1);
	rc = u->fetcher->fetch(u->fetcher, url, 0, max, sink_to_buf, out, err);
	if (rc == BW_ETOOBIG)
		rc = bw_err_set(err, BW_ETOOBIG, "%s: more than %zu bytes",
				name, max);
	else if (rc == 0)
		bw_tuf__log(u, BW_LOG_DEBUG, "fetched %s (%zu bytes)", name,
			    out->len);
	free(url);
	if (rc != 0)
		bw_buf_dispose(out);
	return rc;
}

/* ---- local metadata cache --------------------------------------------- */

/* Parse mdir/name if it exists; any failure just means "no local copy". */
struct bw_tuf_md *bw_tuf__load_local(struct bw_tuf_updater *u,
				     const char *name,
				     enum bw_tuf_role_type type, size_t max)
{
	struct bw_tuf_md *md = NULL;
	struct bw_buf b;
	struct bw_err err;
	char *path = NULL;

	if (bw_path_join(u->mdir, name, &path) != 0)
		return NULL;
	bw_buf_init(&b, max);
	if (bw_io_read_file(path, max, &b, &err) == 0 &&
	    bw_tuf__md_parse_buf(&b, type, &md, &err) != 0)
		bw_tuf__log(u, BW_LOG_WARN, "ignoring local %s: %s", name,
			    err.msg);
	bw_buf_dispose(&b);
	free(path);
	return md;
}

/* TUF 5.3.8 / 5.4.5 / 5.5.7 / 5.6.6: persist the exact verified bytes. */
int bw_tuf__persist(struct bw_tuf_updater *u, const char *name,
		    struct bw_tuf_md *md, struct bw_err *err)
{
	char *path = NULL;
	int rc;

	if (bw_path_join(u->mdir, name, &path) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (md->tmp_path != NULL) {
		/* Fetched into a file of its own, fsync'd: rename it. */
		rc = bw_io_rename_durable(md->tmp_path, path, err);
		if (rc == 0) {
			free(md->tmp_path);
			md->tmp_path = NULL;
		}
	} else {
		rc = bw_io_write_atomic(path, md->raw, md->raw_len, 0644, err);
	}
	free(path);
	return rc;
}

static void remove_local(struct bw_tuf_updater *u, const char *name)
{
	char *path = NULL;

	if (bw_path_join(u->mdir, name, &path) == 0)
		bw_io_remove(path, NULL);
	free(path);
}

int bw_tuf__check_expiry(const struct bw_tuf_updater *u,
			 const struct bw_tuf_md *md, const char *what,
			 struct bw_err *err)
{
	char when[32];

	if (md->expires > u->now)
		return 0;
	bw_tuf_time_format(md->expires, when, sizeof(when));
	return bw_err_set(err, BW_EEXPIRED, "%s expired at %s", what, when);
}

/* ---- root (TUF 5.2, 5.3) ----------------------------------------------- */

static int verify_root_self(struct bw_tuf_md *root, struct bw_err *err)
{
	return bw_tuf__verify_sigs(root, &root->keyring,
				   &root->roles[BW_TUF_ROOT], "root", err);
}

int bw_tuf_trust_root(const char *metadata_dir, const void *root, size_t len,
		      struct bw_err *err)
{
	struct bw_tuf_md *md = NULL;
	char *path = NULL;
	int rc;

	rc = bw_tuf__md_parse(root, len, BW_TUF_ROOT, &md, err);
	if (rc == 0)
		rc = verify_root_self(md, err);
	if (rc == 0)
		rc = bw_io_mkdirs(metadata_dir, 0755, err);
	if (rc == 0 && bw_path_join(metadata_dir, "root.json", &path) != 0)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = bw_io_write_atomic(path, root, len, 0644, err);
	free(path);
	bw_tuf__md_free(md);
	return rc;
}

/* TUF 5.2: the trusted root, signed by its own threshold. */
static int load_trusted_root(struct bw_tuf_updater *u, struct bw_err *err)
{
	struct bw_buf b;
	char *path = NULL;
	int rc;

	if (bw_path_join(u->mdir, "root.json", &path) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	bw_buf_init(&b, u->cfg.max_root_bytes);
	rc = bw_io_read_file(path, u->cfg.max_root_bytes, &b, err);
	if (rc == 0)
		rc = bw_tuf__md_parse_buf(&b, BW_TUF_ROOT, &u->root, err);
	if (rc == 0)
		rc = verify_root_self(u->root, err);
	if (rc != 0) {
		bw_tuf__md_free(u->root);
		u->root = NULL;
		bw_err_set(err, rc, "trusted root %s: %s", path, err ? err->msg : "");
	}
	bw_buf_dispose(&b);
	free(path);
	return rc;
}

static int role_keys_equal(const struct bw_tuf_role_keys *a,
			   const struct bw_tuf_role_keys *b)
{
	if (a->nkeyids != b->nkeyids || a->threshold != b->threshold)
		return 0;
	for (size_t i = 0; i < a->nkeyids; i++) {
		int found = 0;

		for (size_t j = 0; j < b->nkeyids && !found; j++)
			found = strcmp(a->keyids[i], b->keyids[j]) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* TUF 5.3.3 - 5.3.9: one step of the root chain, version N+1. */
static int root_step(struct bw_tuf_updater *u, int64_t next, int *done,
		     struct bw_err *err)
{
	struct bw_tuf_md *md = NULL;
	struct bw_buf b;
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "%lld.root.json", (long long)next);
	rc = bw_tuf__fetch_meta(u, name, u->cfg.max_root_bytes, &b, err);
	if (rc == BW_ENOTFOUND) {
		/* TUF 5.3.3: no newer root; the chain ends here. */
		*done = 1;
		bw_err_clear(err);
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = bw_tuf__md_parse_buf(&b, BW_TUF_ROOT, &md, err);
	bw_buf_dispose(&b);
	if (rc != 0)
		return rc;
	/* TUF 5.3.4: signed by a threshold of the trusted root's root keys
	 * AND by a threshold of the new root's own root keys. */
	rc = bw_tuf__verify_sigs(md, &u->root->keyring,
				 &u->root->roles[BW_TUF_ROOT],
				 "new root (by trusted root keys)", err);
	if (rc == 0)
		rc = bw_tuf__verify_sigs(md, &md->keyring,
					 &md->roles[BW_TUF_ROOT],
					 "new root (by its own keys)", err);
	/* TUF 5.3.5: the version is exactly N+1. */
	if (rc == 0 && md->version != next)
		rc = bw_err_set(err, BW_EBADVERSION,
				"%s has version %lld, expected %lld", name,
				(long long)md->version, (long long)next);
	/* TUF 5.3.8: persist before trusting further steps on it. */
	if (rc == 0)
		rc = bw_tuf__persist(u, "root.json", md, err);
	if (rc != 0) {
		bw_tuf__md_free(md);
		return rc;
	}
	bw_tuf__log(u, BW_LOG_INFO, "root rotated to version %lld",
		    (long long)next);
	/* TUF 5.3.7: the new root is now the trusted root. */
	if (u->root != u->first_root)
		bw_tuf__md_free(u->root);
	u->root = md;
	return 0;
}

static int update_root(struct bw_tuf_updater *u, struct bw_err *err)
{
	unsigned steps;
	int done = 0, rc = 0;

	u->first_root = u->root;
	for (steps = 0; steps < u->cfg.max_root_rotations && !done; steps++) {
		rc = root_step(u, u->root->version + 1, &done, err);
		if (rc != 0)
			goto out;
	}
	if (!done)
		bw_tuf__log(u, BW_LOG_WARN, "stopped after %u root rotations",
			    steps);
	/* TUF 5.3.10: freeze attack: the final root must not be expired. */
	rc = bw_tuf__check_expiry(u, u->root, "root", err);
	if (rc != 0)
		goto out;
	/* TUF 5.3.11: timestamp or snapshot keys rotated: the cached
	 * timestamp and snapshot can no longer be checked against, and would
	 * block recovery from a fast-forward attack. Delete them. */
	if (u->root != u->first_root &&
	    (!role_keys_equal(&u->first_root->roles[BW_TUF_TIMESTAMP],
			      &u->root->roles[BW_TUF_TIMESTAMP]) ||
	     !role_keys_equal(&u->first_root->roles[BW_TUF_SNAPSHOT],
			      &u->root->roles[BW_TUF_SNAPSHOT]))) {
		bw_tuf__log(u, BW_LOG_INFO,
			    "timestamp/snapshot keys rotated: dropping cached "
			    "timestamp and snapshot");
		remove_local(u, "timestamp.json");
		remove_local(u, "snapshot.json");
	}
out:
	if (u->first_root != u->root)
		bw_tuf__md_free(u->first_root);
	u->first_root = NULL;
	return rc;
}

/* ---- timestamp (TUF 5.4) ----------------------------------------------- */

static int update_timestamp(struct bw_tuf_updater *u, struct bw_err *err)
{
	const struct bw_tuf_role_keys *rk = &u->root->roles[BW_TUF_TIMESTAMP];
	struct bw_tuf_md *trusted, *md = NULL;
	struct bw_buf b;
	int rc, is_new = 1;

	/* The cached timestamp (verified by the current root, expiry not
	 * judged) is the reference for the rollback checks. */
	trusted = bw_tuf__load_local(u, "timestamp.json", BW_TUF_TIMESTAMP,
				     u->cfg.max_timestamp_bytes);
	if (trusted != NULL &&
	    bw_tuf__verify_sigs(trusted, &u->root->keyring, rk, "timestamp",
				NULL) != 0) {
		bw_tuf__md_free(trusted);
		trusted = NULL;
	}
	/* TUF 5.4.1: timestamp.json, at most max_timestamp_bytes. */
	rc = bw_tuf__fetch_meta(u, "timestamp.json",
				u->cfg.max_timestamp_bytes, &b, err);
	if (rc != 0)
		goto out;
	rc = bw_tuf__md_parse_buf(&b, BW_TUF_TIMESTAMP, &md, err);
	bw_buf_dispose(&b);
	/* TUF 5.4.2: arbitrary software attack. */
	if (rc == 0)
		rc = bw_tuf__verify_sigs(md, &u->root->keyring, rk, "timestamp",
					 err);
	if (rc != 0)
		goto out;
	if (trusted != NULL) {
		const struct bw_tuf_metafile *a, *n;

		/* TUF 5.4.3.1: timestamp version must not go down. */
		if (md->version < trusted->version) {
			rc = bw_err_set(err, BW_EROLLBACK,
					"timestamp version %lld is older than "
					"trusted version %lld",
					(long long)md->version,
					(long long)trusted->version);
			goto out;
		}
		/* TUF 5.4.3.2: nor the snapshot version it lists. */
		a = bw_tuf__md_meta(trusted, "snapshot.json");
		n = bw_tuf__md_meta(md, "snapshot.json");
		if (n->version < a->version) {
			rc = bw_err_set(err, BW_EROLLBACK,
					"timestamp lists snapshot version %lld, "
					"older than trusted %lld",
					(long long)n->version,
					(long long)a->version);
			goto out;
		}
		if (md->version == trusted->version) {
			/* Unchanged: keep what is already trusted. */
			bw_tuf__md_free(md);
			md = trusted;
			trusted = NULL;
			is_new = 0;
		}
	}
	/* TUF 5.4.4: freeze attack. */
	rc = bw_tuf__check_expiry(u, md, "timestamp", err);
	/* TUF 5.4.5: persist. */
	if (rc == 0 && is_new)
		rc = bw_tuf__persist(u, "timestamp.json", md, err);
	if (rc == 0) {
		u->timestamp = md;
		md = NULL;
	}
out:
	bw_tuf__md_free(md);
	bw_tuf__md_free(trusted);
	return rc;
}

/* ---- snapshot (TUF 5.5) ------------------------------------------------ */

/* TUF 5.5.5: no targets role listed before may vanish or go back. */
static int check_snapshot_rollback(const struct bw_tuf_md *old,
				   const struct bw_tuf_md *md,
				   struct bw_err *err)
{
	for (size_t i = 0; i < old->nmeta; i++) {
		const struct bw_tuf_metafile *n =
			bw_tuf__md_meta(md, old->meta[i].name);

		if (n == NULL)
			return bw_err_set(err, BW_EROLLBACK,
					  "snapshot no longer lists %.64s",
					  old->meta[i].name);
		if (n->version < old->meta[i].version)
			return bw_err_set(err, BW_EROLLBACK,
					  "snapshot lists %.64s version %lld, "
					  "older than trusted %lld",
					  n->name, (long long)n->version,
					  (long long)old->meta[i].version);
	}
	return 0;
}

static int update_snapshot(struct bw_tuf_updater *u, struct bw_err *err)
{
	const struct bw_tuf_role_keys *rk = &u->root->roles[BW_TUF_SNAPSHOT];
	const struct bw_tuf_metafile *sm =
		bw_tuf__md_meta(u->timestamp, "snapshot.json");
	struct bw_tuf_md *old, *md = NULL;
	size_t max = u->cfg.max_snapshot_bytes;
	char name[64];
	struct bw_buf b;
	int rc;

	old = bw_tuf__load_local(u, "snapshot.json", BW_TUF_SNAPSHOT, max);
	if (old != NULL &&
	    bw_tuf__verify_sigs(old, &u->root->keyring, rk, "snapshot", NULL) != 0) {
		bw_tuf__md_free(old);
		old = NULL;
	}
	if (old != NULL && old->version == sm->version &&
	    bw_tuf__check_expiry(u, old, "snapshot", NULL) == 0) {
		/* The cached snapshot is the one timestamp names: keep it. */
		u->snapshot = old;
		return 0;
	}
	/* TUF 5.5.1: bounded by the length timestamp lists, if any. */
	if (sm->length >= 0)
		max = (size_t)sm->length;
	if (u->root->consistent_snapshot)
		snprintf(name, sizeof(name), "%lld.snapshot.json",
			 (long long)sm->version);
	else
		snprintf(name, sizeof(name), "snapshot.json");
	rc = bw_tuf__fetch_meta(u, name, max, &b, err);
	if (rc != 0)
		goto out;
	/* TUF 5.5.2: length and hashes as timestamp lists them. */
	rc = bw_tuf__check_length_hashes(b.data, b.len, sm->length, sm->hashes,
					 sm->nhashes, "snapshot", err);
	if (rc == 0)
		rc = bw_tuf__md_parse_buf(&b, BW_TUF_SNAPSHOT, &md, err);
	bw_buf_dispose(&b);
	/* TUF 5.5.3: arbitrary software attack. */
	if (rc == 0)
		rc = bw_tuf__verify_sigs(md, &u->root->keyring, rk, "snapshot",
					 err);
	/* TUF 5.5.4: the version timestamp names (mix-and-match). */
	if (rc == 0 && md->version != sm->version)
		rc = bw_err_set(err, BW_EBADVERSION,
				"snapshot version %lld, timestamp lists %lld",
				(long long)md->version, (long long)sm->version);
	if (rc == 0 && old != NULL)
		rc = check_snapshot_rollback(old, md, err);
	/* TUF 5.5.6: freeze attack. 5.5.7: persist. */
	if (rc == 0)
		rc = bw_tuf__check_expiry(u, md, "snapshot", err);
	if (rc == 0)
		rc = bw_tuf__persist(u, "snapshot.json", md, err);
	if (rc == 0) {
		u->snapshot = md;
		md = NULL;
	}
out:
	bw_tuf__md_free(md);
	bw_tuf__md_free(old);
	return rc;
}

/* ---- targets (TUF 5.6, also used for delegated roles in 5.7) ----------- */

/*
 * Targets roles are streamed from a file (targets.c): fetched into the
 * metadata directory under a temporary name, checked against snapshot's
 * length and hashes, then read once without building a tree. The file is
 * renamed into place only after every check (bw_tuf__persist).
 */
static int fetch_targets_role(struct bw_tuf_updater *u, const char *role,
			      const char *quoted,
			      const struct bw_tuf_metafile *mf,
			      const struct bw_tuf_keyring *kr,
			      const struct bw_tuf_role_keys *rk,
			      const struct bw_tuf_selector *sel,
			      struct bw_tuf_md **out, struct bw_err *err)
{
	size_t max = u->cfg.max_targets_bytes;
	struct bw_tuf_md *md = NULL;
	char *url = NULL, *tmp = NULL;
	size_t nlen = strlen(u->murl) + strlen(quoted) + 32;
	int rc;

	/* TUF 5.6.1: bounded by the length snapshot lists, if any. */
	if (mf->length >= 0)
		max = (size_t)mf->length;
	url = malloc(nlen);
	if (url == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (u->root->consistent_snapshot)
		snprintf(url, nlen, "%s%lld.%s.json", u->murl,
			 (long long)mf->version, quoted);
	else
		snprintf(url, nlen, "%s%s.json", u->murl, quoted);
	/* TUF 5.6.2: length and hashes as snapshot lists them. */
	rc = bw_tuf__fetch_to_file(u->fetcher, url, max, u->mdir, mf, role,
				   &tmp, err);
	free(url);
	if (rc != 0)
		return rc;
	bw_tuf__log(u, BW_LOG_DEBUG, "fetched %s", role);
	rc = bw_tuf__targets_load(tmp, max, NULL, role, sel, &md, err);
	if (rc != 0) {
		unlink(tmp);
		free(tmp);
		return rc;
	}
	md->tmp_path = tmp; /* transferred: unlinked unless persisted */
	/* TUF 5.6.3: signed by the threshold of the delegating role's keys. */
	rc = bw_tuf__verify_sigs(md, kr, rk, role, err);
	/* TUF 5.6.4: the version snapshot names (mix-and-match). */
	if (rc == 0 && md->version != mf->version)
		rc = bw_err_set(err, BW_EBADVERSION,
				"%s version %lld, snapshot lists %lld", role,
				(long long)md->version, (long long)mf->version);
	/* TUF 5.6.5: freeze attack. */
	if (rc == 0)
		rc = bw_tuf__check_expiry(u, md, role, err);
	if (rc != 0) {
		bw_tuf__md_free(md);
		return rc;
	}
	*out = md;
	return 0;
}

/* The cached copy of a targets role, if it is still the one snapshot
 * lists (length, hashes, version) and still verifies; NULL otherwise. */
static struct bw_tuf_md *cached_targets_role(struct bw_tuf_updater *u,
					     const char *role, const char *file,
					     const struct bw_tuf_metafile *mf,
					     const struct bw_tuf_keyring *kr,
					     const struct bw_tuf_role_keys *rk,
					     const struct bw_tuf_selector *sel)
{
	struct bw_tuf_md *md = NULL;
	struct bw_err err;
	char *path = NULL;
	int rc;

	if (bw_path_join(u->mdir, file, &path) != 0)
		return NULL;
	rc = bw_tuf__targets_load(path, u->cfg.max_targets_bytes, mf, role,
				  sel, &md, &err);
	free(path);
	if (rc != 0) {
		if (rc != BW_ENOTFOUND)
			bw_tuf__log(u, BW_LOG_WARN, "ignoring local %s: %s",
				    file, err.msg);
		return NULL;
	}
	if (md->version != mf->version ||
	    bw_tuf__verify_sigs(md, kr, rk, role, NULL) != 0 ||
	    bw_tuf__check_expiry(u, md, role, NULL) != 0) {
		bw_tuf__md_free(md);
		return NULL;
	}
	return md;
}

int bw_tuf__load_targets_role(struct bw_tuf_updater *u, const char *role,
			      const struct bw_tuf_keyring *kr,
			      const struct bw_tuf_role_keys *rk,
			      struct bw_tuf_md **out, struct bw_err *err)
{
	const struct bw_tuf_metafile *mf;
	struct bw_tuf_md *md = NULL;
	char *quoted = NULL, *file = NULL, *metaname = NULL;
	/* Only the top-level role is read with the program's selector. */
	const struct bw_tuf_selector *sel =
		u->has_selector && rk == &u->root->roles[BW_TUF_TARGETS]
			? &u->selector
			: NULL;
	int rc;

	*out = NULL;
	if (bw_tuf__quote(role, "", &quoted) != 0 ||
	    (file = malloc(strlen(quoted) + 6)) == NULL ||
	    (metaname = malloc(strlen(role) + 6)) == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(file, strlen(quoted) + 6, "%s.json", quoted);
	snprintf(metaname, strlen(role) + 6, "%s.json", role);
	mf = bw_tuf__md_meta(u->snapshot, metaname);
	if (mf == NULL) {
		rc = bw_err_set(err, BW_ENOTFOUND,
				"snapshot does not list %.64s", metaname);
		goto out;
	}
	/* A cached copy that still verifies and is the version snapshot
	 * names needs no download. */
	md = cached_targets_role(u, role, file, mf, kr, rk, sel);
	if (md == NULL) {
		rc = fetch_targets_role(u, role, quoted, mf, kr, rk, sel, &md,
					err);
		/* TUF 5.6.6: persist. */
		if (rc == 0)
			rc = bw_tuf__persist(u, file, md, err);
		if (rc != 0)
			goto out;
	}
	*out = md;
	md = NULL;
	rc = 0;
out:
	bw_tuf__md_free(md);
	free(quoted);
	free(file);
	free(metaname);
	return rc;
}

/* ---- updater life cycle ------------------------------------------------ */

void bw_tuf_updater_set_selector(struct bw_tuf_updater *u,
				 const struct bw_tuf_selector *s)
{
	u->selector = *s;
	u->has_selector = 1;
}

static int64_t default_now(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static int dup_url(const char *url, char **out)
{
	size_t n = strlen(url);
	int slash = n > 0 && url[n - 1] == '/';

	*out = malloc(n + 2);
	if (*out == NULL)
		return BW_ENOMEM;
	memcpy(*out, url, n);
	if (!slash)
		(*out)[n++] = '/';
	(*out)[n] = '\0';
	return 0;
}

int bw_tuf_updater_new(const char *metadata_dir, const char *metadata_url,
		       const char *target_dir, const char *target_base_url,
		       struct bw_fetcher *fetcher,
		       const struct bw_tuf_config *cfg,
		       struct bw_tuf_updater **out, struct bw_err *err)
{
	struct bw_tuf_updater *u;
	int rc = BW_ENOMEM;

	*out = NULL;
	if (metadata_dir == NULL || metadata_url == NULL || fetcher == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "metadata dir, URL and fetcher are required");
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (cfg != NULL)
		u->cfg = *cfg;
	else
		bw_tuf_config_init(&u->cfg);
	if (u->cfg.now == NULL)
		u->cfg.now = default_now;
	u->fetcher = fetcher;
	if ((u->mdir = strdup(metadata_dir)) == NULL ||
	    dup_url(metadata_url, &u->murl) != 0 ||
	    (target_dir != NULL && (u->tdir = strdup(target_dir)) == NULL) ||
	    (target_base_url != NULL && dup_url(target_base_url, &u->turl) != 0)) {
		bw_err_set(err, rc, "out of memory");
		goto fail;
	}
	/* TUF 5.2: load the trusted root. */
	rc = load_trusted_root(u, err);
	if (rc != 0)
		goto fail;
	*out = u;
	return 0;
fail:
	bw_tuf_updater_free(u);
	return rc;
}

static int load_top_targets(struct bw_tuf_updater *u, struct bw_err *err);

int bw_tuf_updater_refresh(struct bw_tuf_updater *u, struct bw_err *err)
{
	const struct bw_tuf_metafile *tm;
	int rc;

	if (u->refreshed)
		return bw_err_set(err, BW_ESTATE,
				  "refresh may run once per updater");
	u->refreshed = 1;
	/* TUF 5.1: one fixed update start time for every expiry check. */
	u->now = u->cfg.now(u->cfg.now_ctx);
	rc = update_root(u, err);
	if (rc == 0)
		rc = update_timestamp(u, err);
	if (rc == 0)
		rc = update_snapshot(u, err);
	if (rc == 0) {
		tm = bw_tuf__md_meta(u->snapshot, "targets.json");
		if (tm == NULL)
			rc = bw_err_set(err, BW_EFORMAT,
					"snapshot does not list targets.json");
	}
	if (rc == 0 && bw_tuf__record_matches(u, &u->targets_version)) {
		/* Unchanged since it was last fully verified: see verified.c. */
		u->targets_deferred = 1;
	} else if (rc == 0) {
		rc = load_top_targets(u, err);
	}
	u->refresh_rc = rc;
	if (rc == 0)
		bw_tuf__log(u, BW_LOG_INFO,
			    "refreshed: root v%lld, timestamp v%lld, snapshot "
			    "v%lld, targets v%lld%s",
			    (long long)u->root->version,
			    (long long)u->timestamp->version,
			    (long long)u->snapshot->version,
			    (long long)bw_tuf_updater_role_version(u, "targets"),
			    u->targets_deferred ? " (unchanged)" : "");
	return rc;
}

static int load_top_targets(struct bw_tuf_updater *u, struct bw_err *err)
{
	int rc;

	bw_tuf__record_remove(u);
	rc = bw_tuf__load_targets_role(u, "targets", &u->root->keyring,
				       &u->root->roles[BW_TUF_TARGETS],
				       &u->targets, err);
	if (rc == 0)
		bw_tuf__record_write(u, u->targets);
	return rc;
}

int bw_tuf__ensure_targets(struct bw_tuf_updater *u, struct bw_err *err)
{
	int rc;

	if (u->targets != NULL || !u->targets_deferred)
		return u->targets != NULL ? 0
					  : bw_err_set(err, BW_ESTATE,
						       "no trusted targets");
	rc = load_top_targets(u, err);
	if (rc == 0 && u->targets->version != u->targets_version)
		rc = bw_err_set(err, BW_EBADVERSION,
				"targets changed under the updater");
	if (rc != 0) {
		bw_tuf__md_free(u->targets);
		u->targets = NULL;
		return rc;
	}
	u->targets_deferred = 0;
	return 0;
}

int64_t bw_tuf_updater_role_version(const struct bw_tuf_updater *u,
				    const char *role)
{
	const struct bw_tuf_md *md = NULL;

	if (strcmp(role, "root") == 0)
		md = u->root;
	else if (strcmp(role, "timestamp") == 0)
		md = u->timestamp;
	else if (strcmp(role, "snapshot") == 0)
		md = u->snapshot;
	else if (strcmp(role, "targets") == 0)
		md = u->targets;
	if (md == NULL && u->targets_deferred && strcmp(role, "targets") == 0)
		return u->targets_version;
	return md != NULL ? md->version : 0;
}

void bw_tuf_updater_free(struct bw_tuf_updater *u)
{
	if (u == NULL)
		return;
	bw_tuf__md_free(u->root);
	bw_tuf__md_free(u->timestamp);
	bw_tuf__md_free(u->snapshot);
	bw_tuf__md_free(u->targets);
	for (size_t i = 0; i < u->nroles; i++) {
		free(u->roles[i].name);
		bw_tuf__md_free(u->roles[i].md);
	}
	free(u->roles);
	for (size_t i = 0; i < u->nfound; i++) {
		bw_tuf__target_free(u->found[i]);
		json_decref(u->entries[i]);
	}
	free(u->found);
	free(u->entries);
	free(u->list);
	free(u->mdir);
	free(u->murl);
	free(u->tdir);
	free(u->turl);
	free(u);
}
