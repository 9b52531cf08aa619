/*
 * The TUF (spec 1.0) client updater and metadata signing helpers.
 *
 * Typical use:
 *   bw_tuf_trust_root(dir, root_bytes, len, &err);          // provisioning
 *   bw_tuf_updater_new(dir, meta_url, tgt_dir, tgt_url, fetcher, &cfg,
 *                      &u, &err);
 *   bw_tuf_updater_refresh(u, &err);                         // TUF 5.3-5.6
 *   bw_tuf_updater_get_target(u, "path", &t, &err);           // TUF 5.7
 *   bw_tuf_updater_download(u, t, NULL, &local_path, &err);
 *   bw_tuf_updater_free(u);
 */
#ifndef BULWARK_TUF_H
#define BULWARK_TUF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/fetch.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- time ------------------------------------------------------------ */

/* "YYYY-MM-DDTHH:MM:SSZ" (exactly) to seconds since the epoch, UTC. */
int bw_tuf_time_parse(const char *s, int64_t *out);
/* The reverse; out holds at least 21 bytes. */
int bw_tuf_time_format(int64_t t, char *out, size_t outlen);

/* ---- target info ------------------------------------------------------ */

struct bw_tuf_hash {
	char *name;                     /* algorithm name as listed */
	uint8_t digest[BW_HASH_MAX_LEN];
	size_t len;                     /* digest length in bytes */
};

struct bw_tuf_target {
	char *path;         /* target path as in the metadata (UTF-8) */
	uint64_t length;
	struct bw_tuf_hash *hashes;
	size_t nhashes;
	json_t *custom;     /* "custom" object or NULL; borrowed */
};

/* ---- target paths ----------------------------------------------------- */

#define BW_TUF_TARGET_PATH_MAX 1024 /* bytes */

/*
 * The one rule for a target path that becomes a file name or a URL: 1 to
 * BW_TUF_TARGET_PATH_MAX bytes, relative, every "/"-separated segment
 * non-empty and neither "." nor "..", no control character, DEL or
 * backslash (and no NUL within len). Nothing a repository, an upload or
 * a request names can then reach outside the targets directory. The TUF
 * client, bulwarkd and the CLI all decide with it. 1 safe, 0 not.
 */
int bw_tuf_target_path_is_safe(const char *path, size_t len);

/* ---- updater ---------------------------------------------------------- */

enum bw_log_level { BW_LOG_DEBUG = 0, BW_LOG_INFO = 1, BW_LOG_WARN = 2,
		    BW_LOG_ERROR = 3 };

typedef void (*bw_log_fn)(void *ctx, enum bw_log_level level, const char *msg);
typedef int64_t (*bw_time_fn)(void *ctx);

struct bw_tuf_config {
	size_t max_root_bytes;      /* default 512 KiB */
	size_t max_timestamp_bytes; /* default 16 KiB */
	size_t max_snapshot_bytes;  /* default 8 MiB (when timestamp lists no length) */
	size_t max_targets_bytes;   /* default 64 MiB (when snapshot lists no length) */
	unsigned max_root_rotations; /* default 256 */
	unsigned max_delegations;    /* roles visited per lookup; default 32 */
	int prefix_targets_with_hash; /* default 1: "<hash>.<name>" with cs */
	bw_time_fn now;   /* default: time(NULL); read once per refresh */
	void *now_ctx;
	bw_log_fn log;    /* default: silent */
	void *log_ctx;
};

/* Fill cfg with the defaults. */
void bw_tuf_config_init(struct bw_tuf_config *cfg);

struct bw_tuf_updater;

/*
 * Store a trusted root in metadata_dir as root.json (atomically). The root
 * must parse strictly and be signed by its own root threshold; it is not
 * checked for expiry (TUF 5.2). No network.
 */
int bw_tuf_trust_root(const char *metadata_dir, const void *root, size_t len,
		      struct bw_err *err);

/*
 * Create an updater. metadata_dir must hold a trusted root.json.
 * metadata_url and target_base_url are base URLs (a trailing '/' is
 * added if missing); target_dir may be NULL when nothing is downloaded.
 * The fetcher is borrowed and must outlive the updater. cfg may be NULL.
 */
int bw_tuf_updater_new(const char *metadata_dir, const char *metadata_url,
		       const char *target_dir, const char *target_base_url,
		       struct bw_fetcher *fetcher,
		       const struct bw_tuf_config *cfg,
		       struct bw_tuf_updater **out, struct bw_err *err);

/*
 * Run the TUF client workflow for the top-level roles (TUF 5.3 root, 5.4
 * timestamp, 5.5 snapshot, 5.6 targets). May be called once per updater.
 * Verified metadata is cached in metadata_dir; on failure what was trusted
 * before stays trusted and nothing unverified is written.
 */
int bw_tuf_updater_refresh(struct bw_tuf_updater *u, struct bw_err *err);

/*
 * Look up a target (TUF 5.7: pre-order depth-first search of delegations).
 * Refreshes first if that has not been done. *out is borrowed from the
 * updater. BW_ENOTFOUND if no trusted role lists it.
 */
int bw_tuf_updater_get_target(struct bw_tuf_updater *u, const char *path,
			      const struct bw_tuf_target **out,
			      struct bw_err *err);

/*
 * Where a target is (or would be) stored: filepath if not NULL, else
 * target_dir/<path percent-encoded as one file name>. If that file exists
 * and matches the target's length and every hash, 0 and *path_out (malloc'd);
 * BW_ENOTFOUND otherwise.
 */
int bw_tuf_updater_find_cached(struct bw_tuf_updater *u,
			       const struct bw_tuf_target *t,
			       const char *filepath, char **path_out,
			       struct bw_err *err);

/*
 * Download a target (bounded by its signed length), check the length and
 * every listed hash, and write it atomically to filepath or the default
 * location (see bw_tuf_updater_find_cached). *path_out (may be NULL)
 * receives the malloc'd path. BW_EHASH on mismatch; nothing is written.
 */
int bw_tuf_updater_download(struct bw_tuf_updater *u,
			    const struct bw_tuf_target *t, const char *filepath,
			    char **path_out, struct bw_err *err);

/* Progress of a download: done of total bytes (resumed bytes included). */
typedef void (*bw_tuf_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * As bw_tuf_updater_download, but resumable (src/lib/tuf/resume.c): bytes
 * arrive in "<path>.part" (0644), which is kept (fsync'd) when the transfer
 * fails, and the next call hashes what is there and asks for the rest with
 * an HTTP Range request (fetcher offset). A part longer than the signed
 * length, or a completed file whose hashes do not match, is deleted, so a
 * bad part never poisons later attempts. On success the part is renamed to
 * the path atomically. progress (may be NULL) is called as bytes arrive.
 */
int bw_tuf_updater_download_resumable(struct bw_tuf_updater *u,
				      const struct bw_tuf_target *t,
				      const char *filepath,
				      bw_tuf_progress_fn progress,
				      void *progress_ctx, char **path_out,
				      struct bw_err *err);

/*
 * Top-level targets after a refresh: the number of targets and the i-th one
 * (borrowed). For listing what a device may install.
 */
size_t bw_tuf_updater_targets_count(const struct bw_tuf_updater *u);
const struct bw_tuf_target *bw_tuf_updater_target_at(
	const struct bw_tuf_updater *u, size_t i);

/*
 * Call fn for every top-level target after a refresh, in name order, with
 * a target that is valid during that call only: memory stays that of one
 * target however many there are (bw_tuf_updater_target_at keeps each one
 * it hands out until the updater is freed). fn returns 0 to go on, or a
 * value that stops the walk and is returned. BW_ESTATE without trusted
 * targets.
 */
int bw_tuf_updater_targets_foreach(struct bw_tuf_updater *u,
				   int (*fn)(void *ctx,
					     const struct bw_tuf_target *t),
				   void *ctx, struct bw_err *err);

/*
 * Selecting targets in the one pass that reads the top-level targets role
 * (a program that wants a few of 100,000 targets by their custom fields
 * then never parses an entry twice). The selector sees each target's
 * "custom" values as the streaming parser reports them, while the role is
 * read and BEFORE its signature is checked: nothing it sees is trusted
 * until bw_tuf_updater_selected_foreach hands the target out after a
 * successful refresh. Delegated roles are not passed to it.
 */
struct bw_tuf_selector {
	void *ctx;
	/* A pass over the top-level targets role begins (a refresh may make
	 * two: a cached copy that turns out stale, then the fetched one):
	 * forget what the last pass kept. */
	void (*begin)(void *ctx);
	/* A value inside one target's "custom" object; depth 1 for custom's
	 * own members, 2 inside them, ... Containers are reported as they
	 * open and again as they close (BW_JSON_EV_OBJECT / _ARRAY). 0 goes
	 * on, a negative BW_E* code stops the pass with it. */
	int (*custom)(void *ctx, const struct bw_json_event *ev, size_t depth);
	/* The target's entry closed and passed the library's own checks
	 * (length, hashes): > 0 keeps the target with that value, 0 leaves
	 * it, a negative BW_E* code stops the pass. */
	int64_t (*end)(void *ctx, const uint8_t *name, size_t name_len);
};

/* Set before bw_tuf_updater_refresh (s is copied; its ctx must outlive u). */
void bw_tuf_updater_set_selector(struct bw_tuf_updater *u,
				 const struct bw_tuf_selector *s);

/* A top-level target the selector kept, from verified metadata. */
struct bw_tuf_selected {
	const char *path;   /* as in the metadata (UTF-8, NUL-terminated) */
	uint64_t length;
	int has_sha256;     /* hashes lists "sha256" (get_target has it) */
	int64_t value;      /* what the selector's end returned */
};

/*
 * After a successful refresh: call fn, in name order, for every top-level
 * target the selector kept in the pass that read the trusted role (the
 * entry valid during that call only). fn returns 0 to go on, or a value
 * that stops the walk and is returned. BW_ESTATE without trusted targets
 * or when no selector was set.
 */
int bw_tuf_updater_selected_foreach(struct bw_tuf_updater *u,
				    int (*fn)(void *ctx,
					      const struct bw_tuf_selected *t),
				    void *ctx, struct bw_err *err);

/* Trusted version of a top-level role after refresh ("root", "timestamp",
 * "snapshot", "targets"); 0 if none is trusted. */
int64_t bw_tuf_updater_role_version(const struct bw_tuf_updater *u,
				    const char *role);

void bw_tuf_updater_free(struct bw_tuf_updater *u);

/* ---- verification for repository tools and servers --------------------- */

/* What a metadata file says about itself (parsed strictly, not verified). */
struct bw_tuf_info {
	char type[16];   /* "root", "timestamp", "snapshot", "targets" */
	int64_t version;
	int64_t expires;
};

/*
 * Parse metadata of any top-level type strictly (spec version, _type, and
 * every field of that role) and report its type, version and expiry.
 * Signatures are not checked.
 */
int bw_tuf_metadata_info(const void *md, size_t len, struct bw_tuf_info *out,
			 struct bw_err *err);

/*
 * TUF 5.3.4 / 5.3.5 for an upload or a ceremony: new_root must be version
 * trusted+1 and signed by the threshold of the trusted root's root keys
 * and by the threshold of its own root keys. Expiry is not judged.
 */
int bw_tuf_verify_root_update(const void *trusted_root, size_t trusted_len,
			      const void *new_root, size_t new_len,
			      struct bw_err *err);

/*
 * Check metadata of a top-level role (role: "root", "timestamp",
 * "snapshot", "targets") against root: the right _type, signed by the
 * threshold of that role's keys in root (distinct keys), and, when now is
 * not 0, not expired at now. *version (may be NULL) receives its version.
 */
int bw_tuf_verify_role(const void *root, size_t root_len, const char *role,
		       const void *md, size_t md_len, int64_t now,
		       int64_t *version, struct bw_err *err);

/*
 * Count the distinct keys of role in root that validly sign md (for a
 * ceremony's "how many signatures so far"). *threshold receives the role's
 * threshold. Returns 0 and *count, or an error if either does not parse.
 */
int bw_tuf_count_signatures(const void *root, size_t root_len,
			    const char *role, const void *md, size_t md_len,
			    size_t *count, int64_t *threshold,
			    struct bw_err *err);

/*
 * Count the distinct keys of role in root (its bytes) that validly sign
 * the canonical JSON of envelope's "signed" object, for documents that
 * share TUF's envelope and keys but are not TUF metadata (a wave charter).
 * *threshold receives the role's threshold. The envelope's shape is the
 * caller's to check.
 */
int bw_tuf_count_envelope_signatures(const void *root, size_t root_len,
				     const char *role, const json_t *envelope,
				     size_t *count, int64_t *threshold,
				     struct bw_err *err);

/* ---- signing (repository side) ---------------------------------------- */

/*
 * Wrap the "signed" object in a metadata envelope
 * {"signatures":[...],"signed":signed_obj}, signing the canonical JSON of
 * signed_obj with each signer. *out owns a new reference.
 */
int bw_tuf_envelope_sign(json_t *signed_obj, struct bw_signer *const *signers,
			 size_t nsigners, json_t **out, struct bw_err *err);

/* Add (or replace, same keyid) one signature on an existing envelope. */
int bw_tuf_envelope_add_signature(json_t *envelope, struct bw_signer *signer,
				  struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
