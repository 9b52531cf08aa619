/*
 * An in-memory TUF repository for updater unit tests: metadata built and
 * signed with the library's own signing, served by an injected fetcher.
 */
#ifndef BW_TEST_HELPER_REPO_H
#define BW_TEST_HELPER_REPO_H

#include <jansson.h>

#include "bulwark/crypto.h"
#include "bulwark/fetch.h"
#include "bulwark/tuf.h"

#define REPO_MAX_FILES 256
#define REPO_EXPIRES 4070908800LL /* 2099-01-01T00:00:00Z */

struct repo_file {
	char *name;
	unsigned char *data;
	size_t len;
};

struct repo {
	struct bw_signer *root, *timestamp, *snapshot, *targets, *deleg;
	struct repo_file files[REPO_MAX_FILES];
	size_t nfiles;
	struct bw_fetcher fetcher;
	unsigned fetches;
	int no_range; /* answer Range requests with BW_ENORANGE */
};

/* Deterministic ed25519 keys from seeds 1..5. */
void repo_init(struct repo *r);
void repo_dispose(struct repo *r);

/* Store bytes under name (replacing an existing file). */
void repo_put(struct repo *r, const char *name, const void *data, size_t len);
void repo_del(struct repo *r, const char *name);
const struct repo_file *repo_get(const struct repo *r, const char *name);

/* Sign signed_obj (reference stolen) with signers and store it. */
void repo_put_signed(struct repo *r, const char *name, json_t *signed_obj,
		     struct bw_signer *const *signers, size_t n);

/* The key object of a signer (new reference). */
json_t *repo_key_json(struct bw_signer *s);
/* {"keyids":[ids of signers], "threshold":t} */
json_t *repo_role(struct bw_signer *const *signers, size_t n, int threshold);

/* Signed objects of each top-level role with the repo's keys. */
json_t *repo_root_signed(struct repo *r, int version, int64_t expires);
json_t *repo_timestamp_signed(struct repo *r, int version, int snap_version,
			      int64_t expires);
json_t *repo_snapshot_signed(struct repo *r, int version, int targets_version,
			     int64_t expires);
json_t *repo_targets_signed(int version, int64_t expires);
/* Add a target with the content given to a targets signed object and
 * store its file under "targets/<path>". */
void repo_add_target(struct repo *r, json_t *targets_signed, const char *path,
		     const char *content);

/* A complete valid repository: root 1, timestamp/snapshot/targets v1,
 * one target "hello.txt". */
void repo_build_basic(struct repo *r);

/* A fresh metadata dir (mkdtemp) holding root.json = 1.root.json. */
char *repo_client_dir(struct repo *r);
void repo_rmrf(const char *dir);
#endif
