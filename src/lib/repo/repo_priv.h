/*
 * Internals of the factory repository workspace (include/bulwark/repo.h).
 *
 * Layout of DIR (docs/operator-guide.md):
 *   factory.json                   name, expiry policy, HSM labels, offline
 *                                  key references (never a PIN)
 *   online/{targets,snapshot,timestamp}.pem   online keys (0600, dir 0700)
 *   ci/root/N.root.json            every CI root version
 *   ci/{targets,snapshot,timestamp}.json
 *   prod/root/N.root.json          every production root version
 *   prod/tags/<tag>/{targets,snapshot,timestamp}.json
 *   prod/tags/<tag>/pending-targets.json   partially signed (promote --partial)
 *   targets/<sha256>               target files, content-addressed
 *   waves/<name>[.pending].json    wave charters (waves.c)
 *   proposal.json                  ceremony in progress (default location)
 *   .txn                           commit journal (only during a commit)
 *   .lock                          flock'd by the command using DIR
 */
#ifndef BW_REPO_PRIV_H
#define BW_REPO_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/repo.h"
#include "util/journal.h"

#define BW_REPO_SPEC_VERSION "1.0.31"
#define BW_REPO_MAX_META (64u * 1024u * 1024u)
#define BW_REPO_MAX_SMALL (1024u * 1024u)
#define BW_REPO_WARN_DAYS 30

enum bw_repo_online {
	BW_ONLINE_TARGETS = 0,
	BW_ONLINE_SNAPSHOT = 1,
	BW_ONLINE_TIMESTAMP = 2,
	BW_ONLINE_N = 3
};

struct bw_repo {
	char *dir;
	json_t *cfg; /* factory.json */
	int64_t root_version;
	int64_t now;
	struct bw_repo_expiry exp;
	struct bw_signer *online[BW_ONLINE_N]; /* loaded on first use */
	int lock_fd; /* DIR/.lock, flock'd while open; -1 if none */
};

/*
 * Several files are replaced together through the shared journal
 * (util/journal.h: struct bw_journal, staged as <rel>.bw-new, the
 * journal DIR/.txn). The repository's own helper: */
int bw_repo__txn_put_json(struct bw_journal *t, const char *rel,
			  const json_t *v, struct bw_err *err);

/* util */
char *bw_repo__path(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int bw_repo__read(const char *path, size_t max, uint8_t **out, size_t *len,
		  struct bw_err *err);
int bw_repo__read_json(const char *path, size_t max, json_t **out,
		       struct bw_err *err);
int64_t bw_repo__now(const struct bw_repo *r);
int bw_repo__tag_ok(const char *tag);
int bw_repo__expires(int64_t t, char out[32]);
/* rm -r (best effort). */
void bw_repo__rmtree(const char *path);

/* Copy of env's signed part with version+1, new expiry (targets.c). */
json_t *bw_repo__next_signed(const json_t *env, int64_t expires);

/* metadata (meta.c) */
json_t *bw_repo__signed_new(const char *type, int64_t version, int64_t expires);
int bw_repo__serialize(const json_t *v, uint8_t **out, size_t *len,
		       struct bw_err *err);
/* CI root signed part from the production one. */
json_t *bw_repo__root_ci(const json_t *prod_signed, const char *online_kid);
int bw_repo__online(struct bw_repo *r, enum bw_repo_online role,
		    struct bw_signer **out, struct bw_err *err);
const char *bw_repo__online_name(enum bw_repo_online role);
/* Relative directory of a flavour: "ci" or "prod/tags/<tag>". */
int bw_repo__flavour_dir(int prod, const char *tag, char *out, size_t len);
/* Stage targets bytes (of version tversion; 0: read it from them) and
 * a new snapshot + timestamp for a flavour. */
int bw_repo__publish(struct bw_repo *r, struct bw_journal *t, int prod,
		     const char *tag, const uint8_t *targets, size_t tlen,
		     int64_t tversion, struct bw_err *err);
/* Root signed parts of the latest version (new references). */
int bw_repo__root_latest(struct bw_repo *r, int prod, json_t **env,
			 struct bw_err *err);
/* Sign env with each signer of keys whose keyid the role of root lists.
 * *n receives how many signed. */
int bw_repo__sign_as(const json_t *root_signed, const char *role, json_t *env,
		     const struct bw_repo_keys *keys, size_t *n,
		     struct bw_err *err);
/* Count valid signatures of env under role in root env. */
int bw_repo__count(const json_t *root_env, const char *role, const json_t *env,
		   size_t *have, int64_t *need, struct bw_err *err);

/* Production signing (targets.c): add signatures by keys (each must be a
 * targets key of the production root root_env) to env; or sign the new
 * signed part sg with the online targets key and keys into *env. */
int bw_repo__sign_prod(const json_t *root_env, json_t *env,
		       const struct bw_repo_keys *keys, struct bw_err *err);
int bw_repo__sign_prod_new(struct bw_repo *r, const json_t *root_env,
			   json_t *sg, const struct bw_repo_keys *keys,
			   json_t **env, struct bw_err *err);
/* Copy the CI target entries of custom.version v into targets, adding tag
 * to their custom.tags. BW_ENOTFOUND when there are none. */
int bw_repo__take_version(const json_t *ci, int64_t v, const char *tag,
			  json_t *targets, struct bw_err *err);

#endif
