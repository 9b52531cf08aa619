/*
 * bulwarkd's TUF repository store and online signer (repo.c), and the
 * import of a static export (import.c).
 */
#ifndef BW_SRV_REPO_H
#define BW_SRV_REPO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "storage.h"

struct bw_srv;

struct bw_srv_repo;

struct bw_srv_repo_opts {
	struct bw_signer *timestamp; /* borrowed; may be NULL (no signing) */
	struct bw_signer *snapshot;
	struct bw_signer *ci_targets;
	int64_t timestamp_expiry, timestamp_resign_before;
	int64_t snapshot_expiry, ci_targets_expiry, expiry_warn;
	size_t max_bytes;
};

int bw_srv_repo_new(struct bw_store *store, const struct bw_srv_repo_opts *opts,
		    struct bw_srv_repo **out);
void bw_srv_repo_free(struct bw_srv_repo *r);

/* Who the following uploads are logged for in the transparency log
 * ("admin:<id>"; NULL or "" = "server"). */
void bw_srv_repo_set_actor(struct bw_srv_repo *r, const char *by);

/*
 * Root upload for a flavour ("ci" / "production"): the first must be
 * version 1 and signed by its own threshold; later ones must pass TUF
 * 5.3.4/5.3.5 against the newest stored root. BW_ESIG / BW_EROLLBACK /
 * BW_EFORMAT with the reason in err.
 */
int bw_srv_repo_root_upload(struct bw_srv_repo *r, const char *flavour,
			    const uint8_t *md, size_t len, int64_t now,
			    struct bw_err *err);

/*
 * Targets upload (CI: tag ""; production: per tag): signed by the
 * flavour's targets threshold, not expired, version above the stored one.
 * The server then signs a new snapshot and timestamp; all stored in one
 * transaction.
 */
int bw_srv_repo_targets_upload(struct bw_srv_repo *r, const char *flavour,
			       const char *tag, const uint8_t *md, size_t len,
			       int64_t now, struct bw_err *err);

/* What a static export (`bulwark repo export`) holds for one flavour/tag;
 * snapshot and timestamp may be NULL. */
struct bw_srv_import_md {
	const uint8_t *targets, *snapshot, *timestamp;
	size_t targets_len, snapshot_len, timestamp_len;
};

/*
 * Seed (flavour, tag) from a static export: targets must verify against
 * the newest stored root (TUF rules, unexpired) and be above the stored
 * version. The exported snapshot and timestamp are kept as they are when
 * they verify, chain (timestamp -> snapshot -> targets version) and are
 * newer than what is stored (*kept = 1), so devices that used the static
 * repository see no version go back; otherwise the server signs a new
 * snapshot and timestamp. One transaction.
 */
int bw_srv_repo_import(struct bw_srv_repo *r, const char *flavour,
		       const char *tag, const struct bw_srv_import_md *md,
		       int64_t now, int *kept, struct bw_err *err);

/*
 * bulwarkd --import: every DIR/metadata/N.root.json above the stored
 * root (in order, each verified), then targets/snapshot/timestamp as
 * bw_srv_repo_import, then the target files targets.json lists, copied
 * from DIR/targets/ into the gateway's targets_dir.
 */
int bw_srv_import(struct bw_srv *srv, const char *dir, const char *flavour,
		  const char *tag, struct bw_err *err);

/* Add (or replace) one CI target: new CI targets, snapshot, timestamp. */
int bw_srv_repo_ci_target_add(struct bw_srv_repo *r, const char *name,
			      json_t *fileinfo, int64_t now,
			      struct bw_err *err);

/*
 * Re-sign every timestamp (and snapshot) that expires within its resign
 * window; log offline roles close to expiry. *nsigned: count.
 */
int bw_srv_repo_resign(struct bw_srv_repo *r, int64_t now, int *nsigned,
		       struct bw_err *err);

/* Newest version of every role with expiry and warnings (admin API). */
int bw_srv_repo_status(struct bw_srv_repo *r, int64_t now, json_t **out,
		       struct bw_err *err);

#endif
