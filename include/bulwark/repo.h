/*
 * The factory TUF repository workspace: what `bulwark factory`, `bulwark
 * keys tuf`, `bulwark targets` and `bulwark repo` work on
 * (docs/operator-guide.md describes the layout and the ceremony).
 *
 * A factory has one TUF repository with two flavours of root that carry
 * the same keys and versions and differ only in the targets role: CI
 * (threshold 1, the online targets key) and production (threshold >= 2,
 * the online targets key plus offline targets keys). Offline keys (root,
 * production targets) live in key archives (tar.gz, one "<keyid>.pem" per
 * key, mode 0600) or in a PKCS#11 token; online keys (targets, snapshot,
 * timestamp) live in DIR/online/ for the server.
 *
 * Every command that changes the workspace stages its files and commits
 * them through a journal (DIR/.txn): a failed command leaves the workspace
 * as it was, an interrupted one is rolled forward by the next open.
 */
#ifndef BULWARK_REPO_H
#define BULWARK_REPO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BW_REPO_DAY 86400

/* Expiry policy in seconds from signing time (TUF 4.x "expires"). */
struct bw_repo_expiry {
	int64_t root;	      /* default 365 days */
	int64_t targets_prod; /* default 365 days */
	int64_t targets_ci;   /* default 90 days */
	int64_t snapshot;     /* default 90 days */
	int64_t timestamp;    /* default 1 day */
};

void bw_repo_expiry_defaults(struct bw_repo_expiry *e);

struct bw_repo_init_opts {
	const char *name;	   /* factory name (required) */
	unsigned root_keys;	   /* default 1 */
	unsigned root_threshold;   /* default 1 */
	unsigned prod_threshold;   /* default 2 (online + 1 offline key) */
	enum bw_key_type key_type; /* offline key files; 0: ed25519 */
	const char *keys_out;	   /* archives dir; default DIR/offline-keys */
	/* HSM: offline keys made in the token (ECDSA P-256) when set. */
	const char *hsm_module;
	const char *hsm_token;
	const char *hsm_pin;	      /* borrowed, never stored */
	struct bw_repo_expiry expiry; /* zero fields take the defaults */
	int64_t now;		      /* 0: time(NULL) */
};

struct bw_repo;

/*
 * Create a workspace in dir (must not exist): factory.json, online keys,
 * CI and production root v1, empty CI targets, snapshot, timestamp. The
 * offline keys go to one archive each in keys_out (or the token). The
 * workspace is built in a temporary directory and renamed into place.
 */
int bw_repo_init(const char *dir, const struct bw_repo_init_opts *opts,
		 struct bw_err *err);

/* Open a workspace (rolls an interrupted commit forward). */
int bw_repo_open(const char *dir, struct bw_repo **out, struct bw_err *err);
void bw_repo_free(struct bw_repo *r);

const char *bw_repo_name(const struct bw_repo *r);
const char *bw_repo_dir(const struct bw_repo *r);
int64_t bw_repo_root_version(const struct bw_repo *r);
const struct bw_repo_expiry *bw_repo_expiry(const struct bw_repo *r);
/* The PKCS#11 module factory init recorded (NULL if no HSM). */
const char *bw_repo_hsm_module(const struct bw_repo *r);
/* Override "now" for signing and checks (tests); 0 = time(NULL). */
void bw_repo_set_now(struct bw_repo *r, int64_t now);

/* The served bytes of root version (0: latest) of a flavour. */
int bw_repo_root_read(struct bw_repo *r, int prod, int64_t version,
		      uint8_t **out, size_t *len, struct bw_err *err);

/* ---- offline keys ------------------------------------------------------ */

/* A set of signers loaded from archives and/or PKCS#11 URIs. */
struct bw_repo_keys {
	struct bw_signer **s;
	char **where; /* archive path or URI each signer came from */
	size_t n;
};

void bw_repo_keys_init(struct bw_repo_keys *k);
void bw_repo_keys_dispose(struct bw_repo_keys *k);

/*
 * Add the keys of spec: a key archive path (tar.gz; the file must not be
 * readable by group or others; every member "<keyid>.pem" must hold the key
 * with that id) or a "pkcs11:" URI (pin required; module NULL: the
 * URI's module-path, else SoftHSM2). A key already in k is skipped.
 */
int bw_repo_keys_load(struct bw_repo_keys *k, const char *spec,
		      const char *module, const char *pin, struct bw_err *err);

/*
 * Generate an offline key (ECDSA P-256, non-extractable) in a PKCS#11
 * token (module NULL: SoftHSM2), labelled "bulwark-tuf-<role>-<id>" with a
 * random CKA_ID (bw_pkcs11_key_create: on failure the token is as it
 * was). *out is a signer on it, *uri (malloc'd) its pkcs11: URI.
 */
int bw_repo_hsm_keygen(const char *module, const char *token, const char *pin,
		       const char *role, struct bw_signer **out, char **uri,
		       struct bw_err *err);

/* Write signers' private keys to a new archive (mode 0600, atomically). */
int bw_repo_archive_write(const char *path, struct bw_signer *const *s,
			  size_t n, struct bw_err *err);

/* ---- targets ----------------------------------------------------------- */

struct bw_repo_target_opts {
	const char *file;
	const char *name; /* target path in targets.json */
	int64_t version;  /* custom.version, > 0 */
	const char *const *hwids;
	size_t nhwids;
	const char *const *tags;
	size_t ntags;
	const char *custom_json; /* extra custom fields (object) or NULL */
};

/* Add a CI target (TUF 4.5 target entry: length, sha256, sha512, custom)
 * and publish new CI targets, snapshot and timestamp. */
int bw_repo_targets_add(struct bw_repo *r, const struct bw_repo_target_opts *o,
			struct bw_err *err);

/*
 * Build the next production targets for tag from the CI targets whose
 * custom.version is version, sign with the online targets key and keys.
 * Below the production threshold: BW_ESIG unless partial, which stores it
 * as pending for bw_repo_targets_sign. At the threshold it is published
 * with a new snapshot and timestamp of that tag. *have / *need (may be
 * NULL) receive the signature count and threshold.
 */
int bw_repo_targets_promote(struct bw_repo *r, int64_t version, const char *tag,
			    const struct bw_repo_keys *keys, int partial,
			    size_t *have, int64_t *need, struct bw_err *err);

/* Add signatures to the pending production targets of tag; publish when
 * the threshold is met (else stays pending, *have < *need). */
int bw_repo_targets_sign(struct bw_repo *r, const char *tag,
			 const struct bw_repo_keys *keys, size_t *have,
			 int64_t *need, struct bw_err *err);

/* The current targets.json envelope of CI (prod 0) or of tag (borrowed
 * from nothing: *out is a new reference). BW_ENOTFOUND if none. */
int bw_repo_targets_load(struct bw_repo *r, int prod, const char *tag,
			 json_t **out, struct bw_err *err);

/* Production tags that have targets (NULL-terminated, malloc'd array of
 * malloc'd strings; free with bw_repo_strv_free). */
int bw_repo_tags(struct bw_repo *r, char ***out, struct bw_err *err);
void bw_repo_strv_free(char **v);

/* ---- waves: rollout charters (include/bulwark/wave.h) ------------------- */

struct bw_wave_step;

struct bw_repo_wave_opts {
	const char *name;    /* wave name: 1-64 of [A-Za-z0-9._-] */
	const char *tag;     /* production tag */
	int64_t version;     /* CI targets of this custom.version */
	const char *const *hwids;
	size_t nhwids;
	const struct bw_wave_step *steps;
	size_t nsteps;
	int64_t lifetime;    /* seconds from now to expiry, > 0 */
	const uint8_t *salt; /* BW_WAVE_SALT_LEN bytes, or NULL: random */
};

/*
 * Build the charter of a new wave (DIR/waves/<name>.json), sign it with the
 * online targets key and keys (production targets keys). Below the
 * production threshold: BW_ESIG unless partial, which keeps it as
 * DIR/waves/<name>.pending.json for bw_repo_wave_sign. BW_EEXIST if a
 * wave of that name exists. *have / *need: signatures and threshold.
 */
int bw_repo_wave_init(struct bw_repo *r, const struct bw_repo_wave_opts *o,
		      const struct bw_repo_keys *keys, int partial,
		      size_t *have, int64_t *need, struct bw_err *err);

/* Add signatures to the pending charter of wave name; complete it at the
 * threshold. */
int bw_repo_wave_sign(struct bw_repo *r, const char *name,
		      const struct bw_repo_keys *keys, size_t *have,
		      int64_t *need, struct bw_err *err);

/* The bytes of the complete charter of wave name (malloc'd).
 * BW_ENOTFOUND if none (or only a pending one). */
int bw_repo_wave_read(struct bw_repo *r, const char *name, uint8_t **out,
		      size_t *len, struct bw_err *err);

/* ---- boot signing requests (src/lib/repo/boot.c) ------------------------ */

/*
 * Start the approval of a production boot artifact (data, len; format
 * "uefi" or "fit") as DIR/boot/<name>.json: its length and sha256, signed
 * with the online targets key and keys (production targets keys). Below
 * the production threshold: BW_ESIG unless partial, which keeps it as
 * boot/<name>.pending.json for bw_repo_boot_approve. *have / *need.
 */
int bw_repo_boot_request(struct bw_repo *r, const char *name,
			 const char *format, const uint8_t *data, size_t len,
			 const struct bw_repo_keys *keys, int partial,
			 size_t *have, int64_t *need, struct bw_err *err);

/* Add signatures to the pending request name; complete at the threshold. */
int bw_repo_boot_approve(struct bw_repo *r, const char *name,
			 const struct bw_repo_keys *keys, size_t *have,
			 int64_t *need, struct bw_err *err);

/*
 * 0 when request name is approved (threshold of the latest production
 * root's targets keys), unexpired, and names exactly format and these
 * bytes; BW_ESIG / BW_EEXPIRED otherwise.
 */
int bw_repo_boot_approved(struct bw_repo *r, const char *name,
			  const char *format, const uint8_t *data, size_t len,
			  struct bw_err *err);

/* ---- export and verification --------------------------------------------- */

/*
 * Write a static TUF repository to out (created; must not exist or be
 * empty): out/metadata/N.root.json for every version, root.json,
 * timestamp.json, snapshot.json, N.snapshot.json, targets.json,
 * N.targets.json; out/targets/<name>, <sha256>.<name>, <sha512>.<name>.
 * prod selects the production flavour of tag.
 */
int bw_repo_export(struct bw_repo *r, const char *out, int prod,
		   const char *tag, struct bw_err *err);

typedef void (*bw_repo_report_fn)(void *ctx, int warning, const char *msg);

/*
 * Check the whole repository as a client would: for CI and every
 * production tag, export to a temporary directory and run the TUF updater
 * over file:// from root version 1, expecting the latest versions, and
 * download every target. Roles that expire within 30 days are reported
 * as warnings. 0 if every flavour verifies.
 */
int bw_repo_verify(struct bw_repo *r, bw_repo_report_fn report, void *ctx,
		   struct bw_err *err);

/*
 * The same check for an exported repository (an absolute path holding
 * metadata/1.root.json and targets/): trust its root v1, refresh to the
 * latest, download every target. Wall-clock time.
 */
int bw_repo_verify_export(const char *dir, bw_repo_report_fn report, void *ctx,
			  struct bw_err *err);

/* ---- the key ceremony (proposal file) ------------------------------------ */

/*
 * A proposal: the next root (both flavours), the change summary, offline
 * key references after the change, staged production targets, and the
 * signatures so far. Plain JSON; no secrets.
 */
struct bw_repo_proposal;

/* Strictly parse a proposal file's bytes (fuzzed). */
int bw_repo_proposal_parse(const void *buf, size_t len,
			   struct bw_repo_proposal **out, struct bw_err *err);
void bw_repo_proposal_free(struct bw_repo_proposal *p);

/* A proposal for root version latest+1 in memory (same keys, new expiry). */
int bw_repo_proposal_new(struct bw_repo *r, struct bw_repo_proposal **out,
			 struct bw_err *err);
/* Start a proposal for root version latest+1 and write it (must not exist). */
int bw_repo_proposal_init(struct bw_repo *r, const char *path,
			  struct bw_err *err);
int bw_repo_proposal_load(struct bw_repo *r, const char *path,
			  struct bw_repo_proposal **out, struct bw_err *err);
int bw_repo_proposal_save(struct bw_repo *r, struct bw_repo_proposal *p,
			  const char *path, struct bw_err *err);

/* Changes; each resets the root signatures collected so far. */
int bw_repo_proposal_add_key(struct bw_repo *r, struct bw_repo_proposal *p,
			     const char *role, const struct bw_key *key,
			     const char *location, struct bw_err *err);
int bw_repo_proposal_delete_key(struct bw_repo *r, struct bw_repo_proposal *p,
				const char *role, const char *keyid,
				struct bw_err *err);
int bw_repo_proposal_set_threshold(struct bw_repo *r,
				   struct bw_repo_proposal *p, const char *role,
				   int64_t threshold, struct bw_err *err);
/* New online key for role (targets/snapshot/timestamp), kept in
 * DIR/online/<role>.pem.proposed until apply. */
int bw_repo_proposal_rotate_online(struct bw_repo *r,
				   struct bw_repo_proposal *p, const char *role,
				   struct bw_err *err);

/* Sign both root flavours with every key of keys that is a root key of
 * the current or the proposed root (*nsigned receives how many). */
int bw_repo_proposal_sign(struct bw_repo *r, struct bw_repo_proposal *p,
			  const struct bw_repo_keys *keys, size_t *nsigned,
			  struct bw_err *err);
/* Stage and sign the next production targets of tag (NULL: every tag)
 * with the offline targets keys of the proposed production root. */
int bw_repo_proposal_sign_targets(struct bw_repo *r, struct bw_repo_proposal *p,
				  const char *tag,
				  const struct bw_repo_keys *keys,
				  size_t *nsigned, struct bw_err *err);

/* Human-readable diff and problems. *problems counts the problems. */
int bw_repo_proposal_review(struct bw_repo *r, struct bw_repo_proposal *p,
			    bw_repo_report_fn report, void *ctx,
			    size_t *problems, struct bw_err *err);

/*
 * Apply: re-verify (bw_tuf_verify_root_update for both flavours against
 * the latest root; staged production targets against the new production
 * root), then commit the new root versions, key references, online keys,
 * re-signed targets and fresh snapshots and timestamps in one journal.
 * Removes the proposal file on success.
 */
int bw_repo_proposal_apply(struct bw_repo *r, struct bw_repo_proposal *p,
			   const char *path, struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
