/*
 * The updater's state, shared by updater.c (workflow) and lookup.c
 * (delegation search, download). Library-internal.
 */
#ifndef BW_TUF_UPDATER_PRIV_H
#define BW_TUF_UPDATER_PRIV_H

#include "tuf_priv.h"

struct bw_tuf_loaded_role {
	char *name;
	struct bw_tuf_md *md;
};

struct bw_tuf_updater {
	char *mdir, *murl, *tdir, *turl;
	struct bw_fetcher *fetcher; /* borrowed */
	struct bw_tuf_config cfg;
	int64_t now;
	int refreshed;
	int refresh_rc;
	struct bw_tuf_md *first_root; /* during update_root only */
	struct bw_tuf_md *root, *timestamp, *snapshot, *targets;
	int targets_deferred;    /* targets current per the verified record,
				    loaded and verified on first use */
	int64_t targets_version; /* when deferred */
	struct bw_tuf_loaded_role *roles; /* verified delegated roles */
	size_t nroles;
	struct bw_tuf_target **found; /* targets handed out (owned) */
	json_t **entries;             /* their entries (custom points in) */
	size_t nfound;
	const struct bw_tuf_target **list; /* top-level listing, filled as
					      it is read (borrowed) */
	size_t nlist;
	struct bw_tuf_selector selector; /* for the top-level targets role */
	int has_selector;
};

void bw_tuf__log(struct bw_tuf_updater *u, enum bw_log_level level,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int bw_tuf__fetch_meta(struct bw_tuf_updater *u, const char *name, size_t max,
		       struct bw_buf *out, struct bw_err *err);
struct bw_tuf_md *bw_tuf__load_local(struct bw_tuf_updater *u,
				     const char *name,
				     enum bw_tuf_role_type type, size_t max);
/* TUF 5.x persist: md's bytes (or its fetched file, renamed) as name. */
int bw_tuf__persist(struct bw_tuf_updater *u, const char *name,
		    struct bw_tuf_md *md, struct bw_err *err);
int bw_tuf__check_expiry(const struct bw_tuf_updater *u,
			 const struct bw_tuf_md *md, const char *what,
			 struct bw_err *err);
/*
 * Load a targets role (top-level "targets" or delegated) as TUF 5.6 says:
 * listed in the trusted snapshot, signed by a threshold of rk from kr,
 * the version snapshot names, not expired. Cached copy used when valid.
 */
int bw_tuf__load_targets_role(struct bw_tuf_updater *u, const char *role,
			      const struct bw_tuf_keyring *kr,
			      const struct bw_tuf_role_keys *rk,
			      struct bw_tuf_md **out, struct bw_err *err);

/*
 * Checking a target's bytes as they arrive (lookup.c): the signed length
 * bounds them, every listed hash is computed. Used by the plain and the
 * resumable download.
 */
#define BW_TUF_MAX_TARGET_HASHES 8

struct bw_tuf_verifier {
	const struct bw_tuf_target *t;
	struct bw_hash *h[BW_TUF_MAX_TARGET_HASHES];
	size_t nh;
	uint64_t got;
	int fd; /* where the bytes go, -1 for none */
};

int bw_tuf__verifier_init(struct bw_tuf_verifier *v,
			  const struct bw_tuf_target *t, struct bw_err *err);
/* BW_ETOOBIG past the signed length. */
int bw_tuf__verifier_update(struct bw_tuf_verifier *v, const uint8_t *data,
			    size_t len);
/* Length and every hash; BW_EHASH otherwise. */
int bw_tuf__verifier_finish(struct bw_tuf_verifier *v, struct bw_err *err);
/* Free the hash states (not the fd). */
void bw_tuf__verifier_dispose(struct bw_tuf_verifier *v);
/* Hash data and append it to v->fd. */
int bw_tuf__verifier_write(struct bw_tuf_verifier *v, const uint8_t *data,
			   size_t len);

/* Where a target is stored: filepath, or target_dir/<path as one quoted
 * file name>. Refuses unsafe paths. */
int bw_tuf__target_local_path(struct bw_tuf_updater *u,
			      const struct bw_tuf_target *t,
			      const char *filepath, char **out,
			      struct bw_err *err);
/* The target's URL (TUF 5.7.3: "<dir>/<hash>.<name>" with consistent
 * snapshots), percent-encoded. */
int bw_tuf__target_url(struct bw_tuf_updater *u, const struct bw_tuf_target *t,
		       char **out);

/* verified.c: the record that lets a warm refresh skip targets.json. */
int bw_tuf__record_matches(struct bw_tuf_updater *u, int64_t *version);
void bw_tuf__record_write(struct bw_tuf_updater *u, const struct bw_tuf_md *md);
void bw_tuf__record_remove(struct bw_tuf_updater *u);
/* Load deferred top-level targets (full verification). */
int bw_tuf__ensure_targets(struct bw_tuf_updater *u, struct bw_err *err);
#endif
