/*
 * RFC 9162 (Certificate Transparency 2.0) Merkle tree: hashes, the nodes
 * to store per append, root hashes, inclusion and consistency proofs and
 * their verification. Written here rather than taken from a library
 * because no C library on Debian 12 implements RFC 9162 proofs; the Go
 * implementation (golang.org/x/mod/sumdb/tlog) checks this one in the
 * integration tests.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bulwark/hash.h"
#include "bulwark/tlog.h"

void bw_tlog_leaf_hash(const void *entry, size_t len, struct bw_tlog_hash *out)
{
	static const uint8_t zero = 0x00;
	struct bw_hash *h = NULL;

	/* SHA-256 of a buffer in memory only fails when out of memory; an
	 * all-zero hash then never matches a signed root. */
	if (bw_hash_new(BW_HASH_SHA256, &h) != 0 ||
	    bw_hash_update(h, &zero, 1) != 0 ||
	    bw_hash_update(h, entry, len) != 0 || bw_hash_final(h, out->h) != 0)
		memset(out, 0, sizeof(*out));
	bw_hash_free(h);
}

void bw_tlog_node_hash(const struct bw_tlog_hash *left,
		       const struct bw_tlog_hash *right,
		       struct bw_tlog_hash *out)
{
	uint8_t buf[1 + 2 * BW_TLOG_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left->h, BW_TLOG_HASH_LEN);
	memcpy(buf + 1 + BW_TLOG_HASH_LEN, right->h, BW_TLOG_HASH_LEN);
	if (bw_hash_buf(BW_HASH_SHA256, buf, sizeof(buf), out->h) != 0)
		memset(out, 0, sizeof(*out));
}

static void empty_hash(struct bw_tlog_hash *out)
{
	if (bw_hash_buf(BW_HASH_SHA256, "", 0, out->h) != 0)
		memset(out, 0, sizeof(*out));
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

int bw_tlog_stored_hashes(uint64_t n, const struct bw_tlog_hash *leaf,
			  const struct bw_tlog_reader *r,
			  struct bw_tlog_node *out, size_t *nout,
			  struct bw_err *err)
{
	struct bw_tlog_hash h = *leaf, left;
	uint64_t idx = n;
	int level = 0, rc;
	size_t k = 0;

	if (n >= ((uint64_t)1 << 63))
		return bw_err_set(err, BW_ETOOBIG, "tlog: log is full");
	out[k].level = 0;
	out[k].index = n;
	out[k++].hash = h;
	while (idx & 1) {
		rc = r->read(r->ctx, level, idx - 1, &left, err);
		if (rc != 0)
			return rc;
		bw_tlog_node_hash(&left, &h, &h);
		level++;
		idx >>= 1;
		out[k].level = level;
		out[k].index = idx;
		out[k++].hash = h;
	}
	*nout = k;
	return 0;
}

/*
 * MTH(D[lo:hi]) from stored complete subtrees: hi - lo split into
 * descending powers of two, folded from the right. Every range a proof
 * asks for starts at a multiple of its first piece, so each piece is a
 * stored node.
 */
static int subtree_hash(uint64_t lo, uint64_t hi, const struct bw_tlog_reader *r,
			struct bw_tlog_hash *out, struct bw_err *err)
{
	struct bw_tlog_hash piece[BW_TLOG_LEVELS];
	uint64_t pos = lo, width = hi - lo;
	int n = 0, level, rc;

	if (hi <= lo)
		return bw_err_set(err, BW_EINVAL, "tlog: empty subtree");
	for (level = 63; level >= 0; level--) {
		uint64_t w = (uint64_t)1 << level;

		if (!(width & w))
			continue;
		if (pos & (w - 1))
			return bw_err_set(err, BW_EINVAL,
					  "tlog: unaligned subtree");
		rc = r->read(r->ctx, level, pos >> level, &piece[n], err);
		if (rc != 0)
			return rc;
		n++;
		pos += w;
	}
	*out = piece[n - 1];
	for (n -= 2; n >= 0; n--)
		bw_tlog_node_hash(&piece[n], out, out);
	return 0;
}

int bw_tlog_tree_hash(uint64_t size, const struct bw_tlog_reader *r,
		      struct bw_tlog_hash *out, struct bw_err *err)
{
	if (size == 0) {
		empty_hash(out);
		return 0;
	}
	return subtree_hash(0, size, r, out, err);
}

static int proof_push(struct bw_tlog_proof *p, uint64_t lo, uint64_t hi,
		      const struct bw_tlog_reader *r, struct bw_err *err)
{
	if (p->n >= BW_TLOG_PROOF_MAX)
		return bw_err_set(err, BW_ETOOBIG, "tlog: proof too long");
	return subtree_hash(lo, hi, r, &p->h[p->n++], err);
}

/* RFC 9162 2.1.3.1 PATH(m, D[lo:hi]). */
static int path(uint64_t m, uint64_t lo, uint64_t hi,
		const struct bw_tlog_reader *r, struct bw_tlog_proof *p,
		struct bw_err *err)
{
	uint64_t k;
	int rc;

	if (hi - lo <= 1)
		return 0;
	k = split(hi - lo);
	if (m < k) {
		rc = path(m, lo, lo + k, r, p, err);
		return rc ? rc : proof_push(p, lo + k, hi, r, err);
	}
	rc = path(m - k, lo + k, hi, r, p, err);
	return rc ? rc : proof_push(p, lo, lo + k, r, err);
}

int bw_tlog_prove_inclusion(uint64_t size, uint64_t index,
			    const struct bw_tlog_reader *r,
			    struct bw_tlog_proof *out, struct bw_err *err)
{
	out->n = 0;
	if (index >= size)
		return bw_err_set(err, BW_EINVAL, "tlog: entry %llu is not in "
				  "a tree of %llu entries",
				  (unsigned long long)index,
				  (unsigned long long)size);
	return path(index, 0, size, r, out, err);
}

/* RFC 9162 2.1.4.1 SUBPROOF(m, D[lo:hi], b). */
static int subproof(uint64_t m, uint64_t lo, uint64_t hi, int b,
		    const struct bw_tlog_reader *r, struct bw_tlog_proof *p,
		    struct bw_err *err)
{
	uint64_t n = hi - lo, k;
	int rc;

	if (m == n)
		return b ? 0 : proof_push(p, lo, hi, r, err);
	k = split(n);
	if (m <= k) {
		rc = subproof(m, lo, lo + k, b, r, p, err);
		return rc ? rc : proof_push(p, lo + k, hi, r, err);
	}
	rc = subproof(m - k, lo + k, hi, 0, r, p, err);
	return rc ? rc : proof_push(p, lo, lo + k, r, err);
}

int bw_tlog_prove_consistency(uint64_t old, uint64_t size,
			      const struct bw_tlog_reader *r,
			      struct bw_tlog_proof *out, struct bw_err *err)
{
	out->n = 0;
	if (old == 0 || old > size)
		return bw_err_set(err, BW_EINVAL, "tlog: no consistency proof "
				  "from %llu to %llu entries",
				  (unsigned long long)old,
				  (unsigned long long)size);
	if (old == size)
		return 0;
	return subproof(old, 0, size, 1, r, out, err);
}

static int hash_eq(const struct bw_tlog_hash *a, const struct bw_tlog_hash *b)
{
	return CRYPTO_memcmp(a->h, b->h, BW_TLOG_HASH_LEN) == 0;
}

int bw_tlog_verify_inclusion(uint64_t size, uint64_t index,
			     const struct bw_tlog_hash *leaf,
			     const struct bw_tlog_proof *p,
			     const struct bw_tlog_hash *root,
			     struct bw_err *err)
{
	struct bw_tlog_hash h = *leaf;
	uint64_t fn = index, sn;
	size_t i;

	/* RFC 9162 2.1.3.2 step 1 */
	if (index >= size)
		return bw_err_set(err, BW_EFORMAT, "tlog: entry %llu is "
				  "beyond the tree size %llu",
				  (unsigned long long)index,
				  (unsigned long long)size);
	sn = size - 1;
	for (i = 0; i < p->n; i++) {
		if (sn == 0)
			return bw_err_set(err, BW_EFORMAT, "tlog: inclusion "
					  "proof too long for tree size %llu",
					  (unsigned long long)size);
		if ((fn & 1) || fn == sn) {
			bw_tlog_node_hash(&p->h[i], &h, &h);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			bw_tlog_node_hash(&h, &p->h[i], &h);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return bw_err_set(err, BW_EFORMAT, "tlog: inclusion proof too "
				  "short for tree size %llu",
				  (unsigned long long)size);
	if (!hash_eq(&h, root))
		return bw_err_set(err, BW_EHASH, "tlog: entry %llu is not in "
				  "the tree of size %llu with this root",
				  (unsigned long long)index,
				  (unsigned long long)size);
	return 0;
}

int bw_tlog_verify_consistency(uint64_t old, uint64_t size,
			       const struct bw_tlog_hash *old_root,
			       const struct bw_tlog_hash *root,
			       const struct bw_tlog_proof *p,
			       struct bw_err *err)
{
	struct bw_tlog_hash fr, sr;
	uint64_t fn, sn;
	size_t i = 0;

	if (size < old)
		return bw_err_set(err, BW_EROLLBACK, "tlog: the log shrank "
				  "from %llu to %llu entries",
				  (unsigned long long)old,
				  (unsigned long long)size);
	if (old == size || old == 0) {
		if (p->n != 0)
			return bw_err_set(err, BW_EFORMAT, "tlog: consistency "
					  "proof must be empty");
		if (old == size && !hash_eq(old_root, root))
			return bw_err_set(err, BW_EHASH, "tlog: two different "
					  "trees of size %llu (the log forked)",
					  (unsigned long long)size);
		return 0;
	}
	/* RFC 9162 2.1.4.2 steps 1-5 */
	if (p->n == 0)
		return bw_err_set(err, BW_EFORMAT, "tlog: empty consistency "
				  "proof");
	fn = old - 1;
	sn = size - 1;
	if ((old & (old - 1)) == 0) {
		fr = sr = *old_root;
	} else {
		fr = sr = p->h[0];
		i = 1;
	}
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* step 6 */
	for (; i < p->n; i++) {
		if (sn == 0)
			return bw_err_set(err, BW_EFORMAT, "tlog: consistency "
					  "proof too long");
		if ((fn & 1) || fn == sn) {
			bw_tlog_node_hash(&p->h[i], &fr, &fr);
			bw_tlog_node_hash(&p->h[i], &sr, &sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			bw_tlog_node_hash(&sr, &p->h[i], &sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* step 7 */
	if (sn != 0)
		return bw_err_set(err, BW_EFORMAT, "tlog: consistency proof "
				  "too short");
	if (!hash_eq(&fr, old_root) || !hash_eq(&sr, root))
		return bw_err_set(err, BW_EHASH, "tlog: the tree of size %llu "
				  "does not extend the tree of size %llu (the "
				  "log was rewritten or forked)",
				  (unsigned long long)size,
				  (unsigned long long)old);
	return 0;
}

void bw_tlog_range_init(struct bw_tlog_range *rg)
{
	memset(rg, 0, sizeof(*rg));
}

int bw_tlog_range_append(struct bw_tlog_range *rg,
			 const struct bw_tlog_hash *leaf)
{
	struct bw_tlog_hash h = *leaf;
	uint64_t s = rg->size;

	if (s >= ((uint64_t)1 << 63))
		return BW_ETOOBIG;
	while (s & 1) {
		bw_tlog_node_hash(&rg->edge[--rg->n], &h, &h);
		s >>= 1;
	}
	rg->edge[rg->n++] = h;
	rg->size++;
	return 0;
}

void bw_tlog_range_root(const struct bw_tlog_range *rg,
			struct bw_tlog_hash *out)
{
	size_t i;

	if (rg->n == 0) {
		empty_hash(out);
		return;
	}
	*out = rg->edge[rg->n - 1];
	for (i = rg->n - 1; i-- > 0;)
		bw_tlog_node_hash(&rg->edge[i], out, out);
}
