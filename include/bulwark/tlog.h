/*
 * The transparency log: an append-only Merkle tree (RFC 9162, Certificate
 * Transparency 2.0, section 2.1), its signed checkpoints (C2SP
 * tlog-checkpoint inside a C2SP signed-note, Ed25519) and its entries
 * (small canonical JSON records).
 *
 * Tree storage is the caller's: the tree is kept as the hashes of its
 * complete subtrees, node (level, index) covering leaves
 * [index * 2^level, (index + 1) * 2^level). Appending leaf n adds node
 * (0, n) and one node per level that the new leaf completes
 * (bw_tlog_stored_hashes); every root hash and proof is computed from
 * those nodes through a reader callback, so a log of any size needs
 * O(log n) reads per proof.
 *
 * Hashes: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || l || r),
 * the empty tree = SHA-256("") (RFC 9162 2.1.1).
 */
#ifndef BULWARK_TLOG_H
#define BULWARK_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BW_TLOG_HASH_LEN 32
/* An inclusion proof has at most 63 hashes, a consistency proof 2 * 63. */
#define BW_TLOG_PROOF_MAX 128
/* Levels a tree of at most 2^63 leaves can have. */
#define BW_TLOG_LEVELS 64

struct bw_tlog_hash {
	uint8_t h[BW_TLOG_HASH_LEN];
};

/* RFC 9162 2.1.1: leaf and interior node hashes. */
void bw_tlog_leaf_hash(const void *entry, size_t len,
		       struct bw_tlog_hash *out);
void bw_tlog_node_hash(const struct bw_tlog_hash *left,
		       const struct bw_tlog_hash *right,
		       struct bw_tlog_hash *out);

/* ---- tree storage ------------------------------------------------------ */

/* A complete subtree's hash: leaves [index << level, (index + 1) << level). */
struct bw_tlog_node {
	int level;
	uint64_t index;
	struct bw_tlog_hash hash;
};

/*
 * Where the caller keeps nodes. read fills *out with node (level,
 * index); BW_ENOTFOUND if it is not stored (the tree is damaged).
 */
struct bw_tlog_reader {
	int (*read)(void *ctx, int level, uint64_t index,
		    struct bw_tlog_hash *out, struct bw_err *err);
	void *ctx;
};

/*
 * The nodes to store when leaf number n (0-based; the tree had n leaves)
 * with hash leaf is appended: (0, n) first, then every parent the leaf
 * completes. out holds BW_TLOG_LEVELS nodes; *nout receives the count.
 * The reader must already return the nodes of the first n leaves.
 */
int bw_tlog_stored_hashes(uint64_t n, const struct bw_tlog_hash *leaf,
			  const struct bw_tlog_reader *r,
			  struct bw_tlog_node *out, size_t *nout,
			  struct bw_err *err);

/* Root hash of the first size leaves (RFC 9162 MTH). */
int bw_tlog_tree_hash(uint64_t size, const struct bw_tlog_reader *r,
		      struct bw_tlog_hash *out, struct bw_err *err);

struct bw_tlog_proof {
	size_t n;
	struct bw_tlog_hash h[BW_TLOG_PROOF_MAX];
};

/* RFC 9162 2.1.3.1: inclusion proof of leaf index in the tree of size
 * leaves. BW_EINVAL if index >= size. */
int bw_tlog_prove_inclusion(uint64_t size, uint64_t index,
			    const struct bw_tlog_reader *r,
			    struct bw_tlog_proof *out, struct bw_err *err);

/* RFC 9162 2.1.4.1: consistency proof from size old to size new
 * (0 < old <= new; empty when old == new). */
int bw_tlog_prove_consistency(uint64_t old, uint64_t size,
			      const struct bw_tlog_reader *r,
			      struct bw_tlog_proof *out, struct bw_err *err);

/* RFC 9162 2.1.3.2. 0 if leaf is entry index of the tree (size, root);
 * BW_EHASH if the proof does not lead to root, BW_EFORMAT if it has the
 * wrong length for (size, index). */
int bw_tlog_verify_inclusion(uint64_t size, uint64_t index,
			     const struct bw_tlog_hash *leaf,
			     const struct bw_tlog_proof *p,
			     const struct bw_tlog_hash *root,
			     struct bw_err *err);

/* RFC 9162 2.1.4.2. 0 if the tree (size, root) extends (old, old_root);
 * BW_EHASH otherwise, BW_EFORMAT for a proof of the wrong shape,
 * BW_EROLLBACK if size < old. */
int bw_tlog_verify_consistency(uint64_t old, uint64_t size,
			       const struct bw_tlog_hash *old_root,
			       const struct bw_tlog_hash *root,
			       const struct bw_tlog_proof *p,
			       struct bw_err *err);

/*
 * A tree built in memory from its leaves, keeping only the right edge (one
 * hash per set bit of the size): enough for the root hash, which is what
 * a verifier that reads every entry needs.
 */
struct bw_tlog_range {
	uint64_t size;
	size_t n;
	struct bw_tlog_hash edge[BW_TLOG_LEVELS];
};
void bw_tlog_range_init(struct bw_tlog_range *rg);
/* Append one leaf hash. BW_ETOOBIG past 2^63 leaves. */
int bw_tlog_range_append(struct bw_tlog_range *rg,
			 const struct bw_tlog_hash *leaf);
void bw_tlog_range_root(const struct bw_tlog_range *rg,
			struct bw_tlog_hash *out);

/* ---- proofs on the wire --------------------------------------------------
 * {"hashes": ["<base64>", ...], ...}: the hashes in RFC 9162 order. */

/* Parse the "hashes" array of a proof object (other keys ignored).
 * BW_EFORMAT / BW_ETOOBIG (more than BW_TLOG_PROOF_MAX). */
int bw_tlog_proof_from_json(const json_t *obj, struct bw_tlog_proof *out,
			    struct bw_err *err);
/* The array of base64 hashes (new reference). */
json_t *bw_tlog_proof_to_json(const struct bw_tlog_proof *p);

/* Standard base64 of a hash (44 characters + NUL). */
#define BW_TLOG_HASH_B64 45
void bw_tlog_hash_b64(const struct bw_tlog_hash *h, char out[BW_TLOG_HASH_B64]);
/* Strict: exactly 44 characters of padded standard base64. */
int bw_tlog_hash_from_b64(const char *s, size_t len, struct bw_tlog_hash *out);

/* Standard padded base64 decode, strict (no whitespace, canonical
 * padding). *out malloc'd. BW_EFORMAT / BW_ETOOBIG above max bytes. */
int bw_tlog_b64_decode(const char *s, size_t len, size_t max, uint8_t **out,
		       size_t *outlen);
/* Encode; *out malloc'd NUL-terminated. */
int bw_tlog_b64_encode(const void *data, size_t len, char **out);

/* ---- signed notes and checkpoints (C2SP signed-note, tlog-checkpoint) ---- */

#define BW_TLOG_NAME_MAX 128   /* key names and origins */
#define BW_TLOG_NOTE_MAX 16384 /* a whole signed note */
#define BW_TLOG_SIGS_MAX 16    /* signature lines kept */

/* A verifier key: name, 4-byte key hash and an Ed25519 public key. Its
 * text form is "<name>+<hex key hash>+<base64(0x01 || public key)>". */
struct bw_tlog_vkey {
	char name[BW_TLOG_NAME_MAX + 1];
	uint8_t keyhash[4];
	uint8_t pub[32];
};

/* Parse a verifier key string (trailing newline allowed). */
int bw_tlog_vkey_parse(const char *s, size_t len, struct bw_tlog_vkey *out,
		       struct bw_err *err);
/* The verifier key of an Ed25519 key under name; *out malloc'd text. */
int bw_tlog_vkey_from_key(const char *name, const struct bw_key *key,
			  struct bw_tlog_vkey *vk, char **out,
			  struct bw_err *err);

/* One signature line: "— <name> <base64(keyhash || signature)>". */
struct bw_tlog_sig {
	char name[BW_TLOG_NAME_MAX + 1];
	uint8_t keyhash[4];
	uint8_t sig[128]; /* longer signatures: BW_EFORMAT */
	size_t siglen;
};

/* A parsed signed note: the text (what is signed, ending in "\n") and its
 * signature lines. */
struct bw_tlog_note {
	char *text;
	size_t text_len;
	size_t nsigs;
	struct bw_tlog_sig sigs[BW_TLOG_SIGS_MAX];
};

/*
 * Parse a signed note (untrusted): UTF-8 text without control characters
 * but newline, ending "\n\n", then one or more signature lines. No
 * signature is checked here. *out owned by the caller
 * (bw_tlog_note_free).
 */
int bw_tlog_note_parse(const uint8_t *buf, size_t len,
		       struct bw_tlog_note **out, struct bw_err *err);
void bw_tlog_note_free(struct bw_tlog_note *n);

/* 0 if the note carries a valid signature by vk; BW_ENOTFOUND if no line
 * has vk's name and key hash; BW_ESIG if one does and does not verify. */
int bw_tlog_note_verify(const struct bw_tlog_note *n,
			const struct bw_tlog_vkey *vk, struct bw_err *err);

/*
 * Sign text (a note body ending in "\n") with an Ed25519 signer under
 * name and append the signature line to the note in *note (or start a
 * note when *note is NULL). *note and *note_len: malloc'd, replaced. This is
 * how a witness co-signs: a second line on the same text.
 */
int bw_tlog_note_sign(const char *text, size_t text_len, const char *name,
		      struct bw_signer *signer, char **note, size_t *note_len,
		      struct bw_err *err);

/* The tree head a checkpoint states. */
struct bw_tlog_checkpoint {
	char origin[BW_TLOG_NAME_MAX + 1];
	uint64_t size;
	struct bw_tlog_hash root;
};

/* Checkpoint body "<origin>\n<size>\n<base64 root>\n"; *out malloc'd. */
int bw_tlog_checkpoint_format(const struct bw_tlog_checkpoint *c, char **out,
			      size_t *len, struct bw_err *err);

/* Parse a checkpoint body (extension lines are allowed and ignored). */
int bw_tlog_checkpoint_parse(const char *text, size_t len,
			     struct bw_tlog_checkpoint *out,
			     struct bw_err *err);

/*
 * Open a signed checkpoint: parse the note, require a valid signature by
 * log (BW_ESIG names who did sign), parse the body and require its origin
 * to be log->name's origin when origin is not NULL. witnesses/nwit: keys
 * of which at least min_witness must have signed (BW_ESIG otherwise).
 */
int bw_tlog_checkpoint_open(const uint8_t *note, size_t len,
			    const struct bw_tlog_vkey *log, const char *origin,
			    const struct bw_tlog_vkey *witnesses, size_t nwit,
			    size_t min_witness, struct bw_tlog_checkpoint *out,
			    struct bw_err *err);

/* ---- entries --------------------------------------------------------------
 * An entry is canonical JSON: {"action": "<what>", "by": "<who>",
 * "objects": {...}, "time": <unix seconds>, "v": 1}. "by" names an actor
 * without a secret: "admin:<token id>", "registration-token:<id>",
 * "keys:<keyid>,<keyid>", "device:<uuid>", "server". objects holds hashes
 * and names of what the action touched, never a secret.
 */
#define BW_TLOG_ENTRY_MAX 65536

/* Build an entry (objects borrowed, may be NULL for {}); *out malloc'd. */
int bw_tlog_entry_build(const char *action, const char *by, int64_t time,
			const json_t *objects, uint8_t **out, size_t *len,
			struct bw_err *err);

/* Parse an entry (untrusted): canonical bytes, the fields above.
 * *out new reference. */
int bw_tlog_entry_parse(const uint8_t *buf, size_t len, json_t **out,
			struct bw_err *err);

/* ---- binary transparency ------------------------------------------------
 * What a device checks before it installs a release: a document
 * {"checkpoint": "<signed note>", "index": i, "size": n, "entry":
 * "<base64>", "hashes": [...]} from the server. */

/*
 * 0 if entry index of the tree in the checkpoint records the upload of
 * exactly targets (its sha256: "sha256" of a tuf.targets.upload or
 * tuf.targets.import entry, "targets-sha256" of a tuf.ci-target.add), the
 * checkpoint is signed by log and by min_witness of witnesses, and the
 * inclusion proof leads to its root. BW_ESIG (signatures), BW_EHASH (not
 * this release, or not in the tree), BW_EFORMAT otherwise.
 */
int bw_tlog_release_verify(const uint8_t *doc, size_t len,
			   const uint8_t *targets, size_t targets_len,
			   const struct bw_tlog_vkey *log,
			   const struct bw_tlog_vkey *witnesses, size_t nwit,
			   size_t min_witness, struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
