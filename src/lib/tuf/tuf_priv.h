/*
 * TUF metadata model shared by the updater's files (library-internal).
 */
#ifndef BW_TUF_PRIV_H
#define BW_TUF_PRIV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"

enum bw_tuf_role_type {
	BW_TUF_ROOT = 0,
	BW_TUF_TIMESTAMP = 1,
	BW_TUF_SNAPSHOT = 2,
	BW_TUF_TARGETS = 3,
};

/* Key ids and threshold of one role (top-level or delegated). */
struct bw_tuf_role_keys {
	char **keyids;
	size_t nkeyids;
	int64_t threshold;
};

/* keyid -> key; key is NULL for a key type this build cannot verify. */
struct bw_tuf_keyring {
	char **keyids;
	struct bw_key **keys;
	size_t nkeys;
};

/* A METAFILES entry: version and optionally length and hashes. */
struct bw_tuf_metafile {
	char *name;
	int64_t version;
	int64_t length; /* -1 when not listed */
	struct bw_tuf_hash *hashes;
	size_t nhashes;
};

struct bw_tuf_delegated_role {
	char *name;
	struct bw_tuf_role_keys keys;
	int terminating;
	char **paths;
	size_t npaths;
	char **prefixes;
	size_t nprefixes;
	int has_paths, has_prefixes;
};

struct bw_tuf_succinct {
	struct bw_tuf_role_keys keys;
	int64_t bit_length;
	char *name_prefix;
};

struct bw_tuf_delegations {
	struct bw_tuf_keyring keyring;
	struct bw_tuf_delegated_role *roles;
	size_t nroles;
	struct bw_tuf_succinct *succinct; /* NULL unless succinct_roles */
};

/* One parsed, not necessarily verified, metadata file. */
struct bw_tuf_md {
	enum bw_tuf_role_type type;
	json_t *doc;          /* the whole envelope */
	json_t *signed_obj;   /* borrowed from doc */
	json_t *signatures;   /* borrowed from doc */
	uint8_t *canon;       /* canonical bytes of signed (lazily) */
	size_t canon_len;
	uint8_t *raw;         /* the exact bytes received */
	size_t raw_len;
	const uint8_t *signed_raw; /* the text of "signed" inside raw, when the
				      envelope is in canonical form; or NULL */
	size_t signed_raw_len;
	int signed_is_canonical;   /* signed_raw is the canonical form itself
				      (targets roles, read by targets.c) */
	int64_t version;
	int64_t expires;

	/* root */
	int consistent_snapshot;
	struct bw_tuf_keyring keyring;
	struct bw_tuf_role_keys roles[4];

	/* timestamp (1 entry) and snapshot */
	struct bw_tuf_metafile *meta;
	size_t nmeta;

	/* targets: no tree, an index into the canonical envelope (targets.c) */
	uint8_t *canon_env;
	size_t canon_env_len;
	struct bw_tuf_tentry *tidx; /* sorted by name */
	size_t ntidx;
	char *tnames;
	size_t targets_off; /* of the "targets" object in canon_env */
	char *tmp_path;     /* fetched bytes not yet persisted (unlinked on free) */
	struct bw_tuf_delegations *deleg; /* NULL when none */
	/* top-level targets read with a selector: what it kept, name order */
	int selected;
	struct bw_tuf_tsel *tsel;
	size_t ntsel;
};

/* One target a selector kept: its index entry and what the pass read. */
struct bw_tuf_tsel {
	size_t at;          /* while reading: key offset; then index entry */
	uint64_t length;
	int64_t value;
	uint32_t entry;     /* its index entry (UINT32_MAX: not yet found) */
	uint8_t has_sha256;
};

/* One target of a targets role: its name and its entry's canonical text. */
struct bw_tuf_tentry {
	size_t name_off, name_len; /* in tnames (NUL-terminated) */
	size_t val_off, val_len;   /* from targets_off */
};

#define BW_TUF_MAX_LISTED_HASHES 8

/* Name of a top-level role ("root", ...). */
const char *bw_tuf__role_name(enum bw_tuf_role_type t);

/*
 * Parse metadata of the expected role type from bytes (strict JSON, spec
 * version 1.x, _type, version, expires, role fields). Does not verify
 * signatures. Takes a copy of the bytes.
 */
int bw_tuf__md_parse(const uint8_t *data, size_t len,
		     enum bw_tuf_role_type type, struct bw_tuf_md **out,
		     struct bw_err *err);
void bw_tuf__md_free(struct bw_tuf_md *md);

/* As bw_tuf__md_parse, taking ownership of the buffer (freed on failure).
 * b is left empty. */
int bw_tuf__md_parse_buf(struct bw_buf *b, enum bw_tuf_role_type type,
			 struct bw_tuf_md **out, struct bw_err *err);

/*
 * Check that md is signed by at least rk->threshold distinct keys of rk
 * (looked up in keyring). Distinct means distinct key ids AND distinct key
 * material. what names the role in the message.
 */
int bw_tuf__verify_sigs(struct bw_tuf_md *md,
			const struct bw_tuf_keyring *keyring,
			const struct bw_tuf_role_keys *rk, const char *what,
			struct bw_err *err);

/* Everything after the JSON parse: envelope, common fields, role fields
 * (md->doc set). */
int bw_tuf__md_parse_tree(struct bw_tuf_md *md, struct bw_err *err);

/*
 * targets.c: a targets role from a file, streamed (no tree). With mf, the
 * length and every hash it lists are checked over the bytes read (TUF
 * 5.6.2). At most max bytes. Signatures are not checked.
 */
int bw_tuf__targets_load(const char *path, uint64_t max,
			 const struct bw_tuf_metafile *mf, const char *what,
			 const struct bw_tuf_selector *sel,
			 struct bw_tuf_md **out, struct bw_err *err);
/* The same from bytes in memory (md->raw takes them over; b left empty). */
int bw_tuf__targets_from_buf(struct bw_buf *b, struct bw_tuf_md **out,
			     struct bw_err *err);
/* Index of the target named path, or -1. */
int bw_tuf__targets_find(const struct bw_tuf_md *md, const char *path);
/* The i-th target's entry as a fresh tree (*entry owned by the caller). */
int bw_tuf__targets_entry(const struct bw_tuf_md *md, size_t i, json_t **entry,
			  const char **name, struct bw_err *err);
/* Strict parse of canonical text (raw control characters escaped first). */
int bw_tuf__parse_canonical(const uint8_t *c, size_t n, json_t **out,
			    struct bw_err *err);
/*
 * Fetch url (at most max bytes) into a new file in dir, fsync'd; with mf,
 * check its length and hashes (TUF 5.6.2) before anyone parses it.
 * *tmp_out (malloc'd) names the file; on failure nothing is left behind.
 */
int bw_tuf__fetch_to_file(struct bw_fetcher *f, const char *url, uint64_t max,
			  const char *dir, const struct bw_tuf_metafile *mf,
			  const char *what, char **tmp_out, struct bw_err *err);

/* Find a METAFILES entry by file name ("snapshot.json", "a.json"). */
const struct bw_tuf_metafile *bw_tuf__md_meta(const struct bw_tuf_md *md,
					      const char *name);

/* Check data against a listed length and every listed hash. */
int bw_tuf__check_length_hashes(const uint8_t *data, size_t len,
				int64_t length, const struct bw_tuf_hash *h,
				size_t nh, const char *what,
				struct bw_err *err);

/* Parse one TARGETS entry into a fresh target (caller frees). */
int bw_tuf__target_parse(const char *path, const json_t *obj,
			 struct bw_tuf_target **out, struct bw_err *err);
void bw_tuf__target_free(struct bw_tuf_target *t);

/* Delegation matching (delegation.c). */
int bw_tuf__role_matches(const struct bw_tuf_delegated_role *r,
			 const char *path);
/* Name of the hash bin for path (malloc'd). */
int bw_tuf__succinct_bin(const struct bw_tuf_succinct *s, const char *path,
			 char **out);

/* Percent-encode like Python's urllib.parse.quote(s, safe). */
int bw_tuf__quote(const char *s, const char *safe, char **out);

void bw_tuf__role_keys_dispose(struct bw_tuf_role_keys *rk);
#endif
