/*
 * The transparency log module: RFC 9162 tree hashes and proofs against a
 * straightforward recursive definition, every proof for every pair of
 * sizes up to 70 leaves, tampered proofs, signed notes and checkpoints
 * (bit flips, another key, witnesses), verifier keys and entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/hash.h"
#include "bulwark/tlog.h"

#define NMAX 70

/* Nodes kept in memory: level l, index i at nodes[l][i]. */
struct memtree {
	uint64_t size;
	struct bw_tlog_hash leaf[NMAX];
	struct bw_tlog_hash nodes[8][NMAX];
	int have[8][NMAX];
};

static int mem_read(void *ctx, int level, uint64_t index,
		    struct bw_tlog_hash *out, struct bw_err *err)
{
	struct memtree *t = ctx;

	if (level >= 8 || index >= NMAX || !t->have[level][index])
		return bw_err_set(err, BW_ENOTFOUND, "no node %d/%llu", level,
				  (unsigned long long)index);
	*out = t->nodes[level][index];
	return 0;
}

static void mem_build(struct memtree *t, uint64_t n)
{
	struct bw_tlog_reader r = { mem_read, t };
	struct bw_tlog_node nodes[BW_TLOG_LEVELS];
	size_t k, i;
	uint64_t j;

	memset(t, 0, sizeof(*t));
	for (j = 0; j < n; j++) {
		char e[32];
		int len = snprintf(e, sizeof(e), "entry %llu",
				   (unsigned long long)j);

		bw_tlog_leaf_hash(e, (size_t)len, &t->leaf[j]);
		assert_int_equal(bw_tlog_stored_hashes(j, &t->leaf[j], &r,
						       nodes, &k, NULL),
				 0);
		for (i = 0; i < k; i++) {
			t->nodes[nodes[i].level][nodes[i].index] = nodes[i].hash;
			t->have[nodes[i].level][nodes[i].index] = 1;
		}
	}
	t->size = n;
}

/* RFC 9162 2.1.1 MTH, by its recursive definition. */
static void mth(const struct memtree *t, uint64_t lo, uint64_t hi,
		struct bw_tlog_hash *out)
{
	struct bw_tlog_hash l, r;
	uint64_t k = 1;

	if (hi - lo == 1) {
		*out = t->leaf[lo];
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	mth(t, lo, lo + k, &l);
	mth(t, lo + k, hi, &r);
	bw_tlog_node_hash(&l, &r, out);
}

static void test_tlog_merkle__known_hashes(void **state)
{
	struct bw_tlog_hash h, e;
	struct bw_tlog_range rg;
	char b64[BW_TLOG_HASH_B64];

	(void)state;
	/* RFC 9162 2.1.1: MTH({}) = SHA-256(""); leaf("") = SHA-256(0x00) */
	bw_tlog_range_init(&rg);
	bw_tlog_range_root(&rg, &e);
	bw_tlog_hash_b64(&e, b64);
	assert_string_equal(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	bw_tlog_leaf_hash("", 0, &h);
	bw_tlog_hash_b64(&h, b64);
	assert_string_equal(b64, "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
}

static void test_tlog_merkle__roots_match_definition(void **state)
{
	static struct memtree t;
	struct bw_tlog_reader r = { mem_read, &t };
	struct bw_tlog_hash a, b;
	struct bw_tlog_range rg;
	uint64_t n, j;

	(void)state;
	mem_build(&t, NMAX);
	bw_tlog_range_init(&rg);
	for (n = 1; n <= NMAX; n++) {
		assert_int_equal(bw_tlog_range_append(&rg, &t.leaf[n - 1]), 0);
		assert_int_equal(bw_tlog_tree_hash(n, &r, &a, NULL), 0);
		mth(&t, 0, n, &b);
		assert_memory_equal(a.h, b.h, 32);
		bw_tlog_range_root(&rg, &b);
		assert_memory_equal(a.h, b.h, 32);
	}
	for (j = 0; j < 3; j++)
		assert_int_equal(bw_tlog_tree_hash(NMAX + 1 + j, &r, &a, NULL),
				 BW_ENOTFOUND);
}

static void test_tlog_merkle__inclusion_all(void **state)
{
	static struct memtree t;
	struct bw_tlog_reader r = { mem_read, &t };
	struct bw_tlog_proof p;
	struct bw_tlog_hash root, other;
	uint64_t n, m;
	size_t i;

	(void)state;
	mem_build(&t, NMAX);
	for (n = 1; n <= NMAX; n++) {
		assert_int_equal(bw_tlog_tree_hash(n, &r, &root, NULL), 0);
		for (m = 0; m < n; m++) {
			assert_int_equal(bw_tlog_prove_inclusion(n, m, &r, &p,
								 NULL),
					 0);
			assert_int_equal(bw_tlog_verify_inclusion(
					     n, m, &t.leaf[m], &p, &root, NULL),
					 0);
			/* another leaf, index or size does not verify */
			assert_int_not_equal(bw_tlog_verify_inclusion(
						 n, m, &t.leaf[(m + 1) % NMAX],
						 &p, &root, NULL),
					     0);
			if (n > 1)
				assert_int_not_equal(
				    bw_tlog_verify_inclusion(n, (m + 1) % n,
							     &t.leaf[m], &p,
							     &root, NULL),
				    0);
			for (i = 0; i < p.n; i++) {
				p.h[i].h[i % 32] ^= 0x01;
				assert_int_equal(
				    bw_tlog_verify_inclusion(n, m, &t.leaf[m],
							     &p, &root, NULL),
				    BW_EHASH);
				p.h[i].h[i % 32] ^= 0x01;
			}
			/* a longer or shorter proof has the wrong shape */
			if (p.n > 0) {
				p.n--;
				assert_int_not_equal(
				    bw_tlog_verify_inclusion(n, m, &t.leaf[m],
							     &p, &root, NULL),
				    0);
				p.n++;
			}
			p.h[p.n++] = root;
			assert_int_not_equal(bw_tlog_verify_inclusion(
						 n, m, &t.leaf[m], &p, &root,
						 NULL),
					     0);
		}
		assert_int_equal(bw_tlog_prove_inclusion(n, n, &r, &p, NULL),
				 BW_EINVAL);
	}
	other = root;
	other.h[0] ^= 1;
	assert_int_equal(bw_tlog_prove_inclusion(NMAX, 3, &r, &p, NULL), 0);
	assert_int_equal(bw_tlog_verify_inclusion(NMAX, 3, &t.leaf[3], &p,
						  &other, NULL),
			 BW_EHASH);
}

static void test_tlog_merkle__consistency_all(void **state)
{
	static struct memtree t;
	struct bw_tlog_reader r = { mem_read, &t };
	struct bw_tlog_proof p;
	struct bw_tlog_hash ro, rn;
	uint64_t n, m;
	size_t i;

	(void)state;
	mem_build(&t, NMAX);
	for (n = 1; n <= NMAX; n++) {
		assert_int_equal(bw_tlog_tree_hash(n, &r, &rn, NULL), 0);
		for (m = 1; m <= n; m++) {
			assert_int_equal(bw_tlog_tree_hash(m, &r, &ro, NULL), 0);
			assert_int_equal(bw_tlog_prove_consistency(m, n, &r, &p,
								   NULL),
					 0);
			assert_int_equal(bw_tlog_verify_consistency(
					     m, n, &ro, &rn, &p, NULL),
					 0);
			for (i = 0; i < p.n; i++) {
				p.h[i].h[7] ^= 0x80;
				assert_int_not_equal(
				    bw_tlog_verify_consistency(m, n, &ro, &rn,
							       &p, NULL),
				    0);
				p.h[i].h[7] ^= 0x80;
			}
			if (m < n) {
				assert_int_equal(bw_tlog_verify_consistency(
						     n, m, &rn, &ro, &p, NULL),
						 BW_EROLLBACK);
				ro.h[0] ^= 1;
				assert_int_not_equal(
				    bw_tlog_verify_consistency(m, n, &ro, &rn,
							       &p, NULL),
				    0);
			}
		}
	}
}

static void test_tlog_proof__json_roundtrip(void **state)
{
	static struct memtree t;
	struct bw_tlog_reader r = { mem_read, &t };
	struct bw_tlog_proof p, q;
	json_t *a, *o;

	(void)state;
	mem_build(&t, 37);
	assert_int_equal(bw_tlog_prove_consistency(13, 37, &r, &p, NULL), 0);
	a = bw_tlog_proof_to_json(&p);
	assert_non_null(a);
	o = json_pack("{s:o}", "hashes", a);
	assert_int_equal(bw_tlog_proof_from_json(o, &q, NULL), 0);
	assert_int_equal(q.n, p.n);
	assert_memory_equal(q.h, p.h, p.n * sizeof(p.h[0]));
	json_array_append_new(a, json_string("AAAA"));
	assert_int_equal(bw_tlog_proof_from_json(o, &q, NULL), BW_EFORMAT);
	json_decref(o);
}

static struct bw_signer *seed_signer(uint8_t b)
{
	uint8_t seed[32];
	struct bw_signer *s = NULL;

	memset(seed, b, sizeof(seed));
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, &s, NULL), 0);
	return s;
}

static void signed_checkpoint(struct bw_signer *s, const char *name,
			      uint64_t size, char **note, size_t *len)
{
	struct bw_tlog_checkpoint c;
	char *body = NULL;
	size_t blen = 0;

	memset(&c, 0, sizeof(c));
	snprintf(c.origin, sizeof(c.origin), "example.com/log");
	c.size = size;
	memset(c.root.h, 0xab, 32);
	assert_int_equal(bw_tlog_checkpoint_format(&c, &body, &blen, NULL), 0);
	*note = NULL;
	assert_int_equal(bw_tlog_note_sign(body, blen, name, s, note, len, NULL),
			 0);
	free(body);
}

static void test_tlog_note__checkpoint_sign_open(void **state)
{
	struct bw_signer *log = seed_signer(1), *other = seed_signer(2),
			 *wit = seed_signer(3);
	struct bw_tlog_vkey vlog, vother, vwit, parsed;
	struct bw_tlog_checkpoint c;
	struct bw_err err;
	char *note = NULL, *vtext = NULL, *onote = NULL;
	size_t len = 0, olen = 0, i;
	int bit;

	(void)state;
	assert_int_equal(bw_tlog_vkey_from_key("example.com/log",
					       bw_signer_key(log), &vlog,
					       &vtext, NULL),
			 0);
	assert_int_equal(bw_tlog_vkey_parse(vtext, strlen(vtext), &parsed,
					    NULL),
			 0);
	assert_memory_equal(&parsed, &vlog, sizeof(vlog));
	vtext[strlen(vtext) - 2] ^= 0x01;
	assert_int_equal(bw_tlog_vkey_parse(vtext, strlen(vtext), &parsed,
					    NULL),
			 BW_EFORMAT);
	free(vtext);
	assert_int_equal(bw_tlog_vkey_from_key("example.com/log",
					       bw_signer_key(other), &vother,
					       NULL, NULL),
			 0);
	assert_int_equal(bw_tlog_vkey_from_key("witness", bw_signer_key(wit),
					       &vwit, NULL, NULL),
			 0);

	signed_checkpoint(log, "example.com/log", 42, &note, &len);
	assert_int_equal(bw_tlog_checkpoint_open((uint8_t *)note, len, &vlog,
						 "example.com/log", NULL, 0, 0,
						 &c, &err),
			 0);
	assert_int_equal(c.size, 42);
	assert_string_equal(c.origin, "example.com/log");
	/* every bit of the note matters */
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			note[i] ^= (char)(1 << bit);
			assert_int_not_equal(
			    bw_tlog_checkpoint_open((uint8_t *)note, len, &vlog,
						    NULL, NULL, 0, 0, &c, NULL),
			    0);
			note[i] ^= (char)(1 << bit);
		}
	for (i = 0; i < len; i++)
		assert_int_not_equal(bw_tlog_checkpoint_open((uint8_t *)note,
							     i, &vlog, NULL,
							     NULL, 0, 0, &c,
							     NULL),
				     0);
	/* signed by another key of the same name: named as such */
	signed_checkpoint(other, "example.com/log", 42, &onote, &olen);
	assert_int_equal(bw_tlog_checkpoint_open((uint8_t *)onote, olen, &vlog,
						 NULL, NULL, 0, 0, &c, &err),
			 BW_ESIG);
	assert_non_null(strstr(err.msg, "not signed by the log key"));
	/* wrong origin */
	assert_int_equal(bw_tlog_checkpoint_open((uint8_t *)note, len, &vlog,
						 "other/log", NULL, 0, 0, &c,
						 NULL),
			 BW_ESIG);
	/* witness: missing, then present */
	assert_int_equal(bw_tlog_checkpoint_open((uint8_t *)note, len, &vlog,
						 NULL, &vwit, 1, 1, &c, &err),
			 BW_ESIG);
	{
		struct bw_tlog_note *n = NULL;

		assert_int_equal(bw_tlog_note_parse((uint8_t *)note, len, &n,
						    NULL),
				 0);
		assert_int_equal(bw_tlog_note_sign(n->text, n->text_len,
						   "witness", wit, &note, &len,
						   NULL),
				 0);
		bw_tlog_note_free(n);
	}
	assert_int_equal(bw_tlog_checkpoint_open((uint8_t *)note, len, &vlog,
						 NULL, &vwit, 1, 1, &c, &err),
			 0);
	/* the log key does not count as its own witness */
	assert_int_equal(bw_tlog_checkpoint_open((uint8_t *)note, len, &vlog,
						 NULL, &vlog, 1, 1, &c, NULL),
			 BW_ESIG);
	free(note);
	free(onote);
	bw_signer_free(log);
	bw_signer_free(other);
	bw_signer_free(wit);
}

static void test_tlog_note__bad_notes(void **state)
{
	static const char *const bad[] = {
		"",
		"a\n",
		"a\n\n",
		"a\n\nno dash\n",
		"a\n\n\xe2\x80\x94 name AAAA\n",
		"a\n\n\xe2\x80\x94 name AAAAAAAA",
		"a\r\n\n\xe2\x80\x94 name AAAAAAAA\n",
		"a\xff\n\n\xe2\x80\x94 name AAAAAAAA\n",
		"a\n\n\xe2\x80\x94 na+me AAAAAAAA\n",
	};
	struct bw_tlog_note *n = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(bw_tlog_note_parse((const uint8_t *)bad[i],
							strlen(bad[i]), &n,
							NULL),
				     0);
	assert_int_equal(bw_tlog_note_parse(
			     (const uint8_t *)"a\n\n\xe2\x80\x94 name AAAAAAAA\n",
			     21, &n, NULL),
			 0);
	assert_int_equal(n->nsigs, 1);
	assert_int_equal(n->sigs[0].siglen, 2);
	bw_tlog_note_free(n);
}

static void test_tlog_entry__build_parse(void **state)
{
	json_t *o = json_pack("{s:s}", "sha256", "ab"), *e = NULL;
	uint8_t *b = NULL;
	size_t len = 0;
	const char *noncanon = "{\"v\":1,\"action\":\"x\",\"by\":\"server\","
			       "\"objects\":{},\"time\":1}";

	(void)state;
	assert_int_equal(bw_tlog_entry_build("tuf.upload", "admin:1234", 17, o,
					     &b, &len, NULL),
			 0);
	assert_string_equal((char *)b, "{\"action\":\"tuf.upload\",\"by\":"
				       "\"admin:1234\",\"objects\":{\"sha256\":"
				       "\"ab\"},\"time\":17,\"v\":1}");
	assert_int_equal(bw_tlog_entry_parse(b, len, &e, NULL), 0);
	json_decref(e);
	free(b);
	b = NULL;
	assert_int_equal(bw_tlog_entry_parse((const uint8_t *)noncanon,
					     strlen(noncanon), &e, NULL),
			 BW_EFORMAT);
	assert_int_equal(bw_tlog_entry_build("Bad Action", "x", 1, o, &b, &len,
					     NULL),
			 BW_EINVAL);
	assert_int_equal(bw_tlog_entry_build("a", "has space", 1, o, &b, &len,
					     NULL),
			 BW_EINVAL);
	free(b);
	json_decref(o);
}

/* A release proof document for entry `index` of a small log whose
 * entries are uploads of targets "t<i>". */
static char *release_doc(struct bw_signer *logk, struct bw_signer *wit,
			 uint64_t n, uint64_t index, const char *action)
{
	static struct memtree t;
	struct bw_tlog_reader r = {mem_read, &t};
	struct bw_tlog_node nodes[BW_TLOG_LEVELS];
	struct bw_tlog_checkpoint c;
	struct bw_tlog_proof p;
	uint8_t *e[16];
	size_t elen[16], k, i, blen = 0, nlen = 0;
	char *body = NULL, *note = NULL, *b64 = NULL, *out;
	json_t *doc;
	uint64_t j;

	memset(&t, 0, sizeof(t));
	for (j = 0; j < n; j++) {
		char tg[24], hex[BW_HASH_MAX_HEX];
		json_t *o;

		snprintf(tg, sizeof(tg), "t%llu", (unsigned long long)j);
		bw_hash_buf_hex(BW_HASH_SHA256, tg, strlen(tg), hex);
		o = json_pack("{s:s}", "sha256", hex);
		assert_int_equal(bw_tlog_entry_build(j == index ? action
							       : "tuf.targets.upload",
						     "admin:1", 1, o, &e[j],
						     &elen[j], NULL),
				 0);
		json_decref(o);
		bw_tlog_leaf_hash(e[j], elen[j], &t.leaf[j]);
		assert_int_equal(bw_tlog_stored_hashes(j, &t.leaf[j], &r, nodes,
						       &k, NULL),
				 0);
		for (i = 0; i < k; i++) {
			t.nodes[nodes[i].level][nodes[i].index] = nodes[i].hash;
			t.have[nodes[i].level][nodes[i].index] = 1;
		}
	}
	memset(&c, 0, sizeof(c));
	snprintf(c.origin, sizeof(c.origin), "example.com/log");
	c.size = n;
	assert_int_equal(bw_tlog_tree_hash(n, &r, &c.root, NULL), 0);
	assert_int_equal(bw_tlog_checkpoint_format(&c, &body, &blen, NULL), 0);
	assert_int_equal(bw_tlog_note_sign(body, blen, "example.com/log", logk,
					   &note, &nlen, NULL),
			 0);
	if (wit)
		assert_int_equal(bw_tlog_note_sign(body, blen, "witness", wit,
						   &note, &nlen, NULL),
				 0);
	assert_int_equal(bw_tlog_prove_inclusion(n, index, &r, &p, NULL), 0);
	assert_int_equal(bw_tlog_b64_encode(e[index], elen[index], &b64), 0);
	doc = json_pack("{s:s%, s:I, s:I, s:s, s:o}", "checkpoint", note, nlen,
			"index", (json_int_t)index, "size", (json_int_t)n,
			"entry", b64, "hashes", bw_tlog_proof_to_json(&p));
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	for (j = 0; j < n; j++)
		free(e[j]);
	free(body);
	free(note);
	free(b64);
	return out;
}

static void test_tlog_release__verify(void **state)
{
	struct bw_signer *logk = seed_signer(1), *wit = seed_signer(3),
			 *other = seed_signer(2);
	struct bw_tlog_vkey vl, vw, vo;
	struct bw_err err;
	char *doc;

	(void)state;
	assert_int_equal(bw_tlog_vkey_from_key("example.com/log",
					       bw_signer_key(logk), &vl, NULL,
					       NULL),
			 0);
	assert_int_equal(bw_tlog_vkey_from_key("witness", bw_signer_key(wit),
					       &vw, NULL, NULL),
			 0);
	assert_int_equal(bw_tlog_vkey_from_key("example.com/log",
					       bw_signer_key(other), &vo, NULL,
					       NULL),
			 0);
	doc = release_doc(logk, wit, 11, 6, "tuf.targets.upload");
	assert_int_equal(bw_tlog_release_verify((uint8_t *)doc, strlen(doc),
						(const uint8_t *)"t6", 2, &vl,
						&vw, 1, 1, &err),
			 0);
	/* another release, the wrong log key, a missing witness */
	assert_int_equal(bw_tlog_release_verify((uint8_t *)doc, strlen(doc),
						(const uint8_t *)"t5", 2, &vl,
						&vw, 1, 1, &err),
			 BW_EHASH);
	assert_int_equal(bw_tlog_release_verify((uint8_t *)doc, strlen(doc),
						(const uint8_t *)"t6", 2, &vo,
						&vw, 1, 1, &err),
			 BW_ESIG);
	free(doc);
	doc = release_doc(logk, NULL, 11, 6, "tuf.targets.upload");
	assert_int_equal(bw_tlog_release_verify((uint8_t *)doc, strlen(doc),
						(const uint8_t *)"t6", 2, &vl,
						&vw, 1, 1, &err),
			 BW_ESIG);
	free(doc);
	/* an entry naming the digest for another action is not a release */
	doc = release_doc(logk, wit, 11, 6, "device.deny");
	assert_int_equal(bw_tlog_release_verify((uint8_t *)doc, strlen(doc),
						(const uint8_t *)"t6", 2, &vl,
						&vw, 1, 1, &err),
			 BW_EHASH);
	free(doc);
	bw_signer_free(logk);
	bw_signer_free(wit);
	bw_signer_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlog_merkle__known_hashes),
		cmocka_unit_test(test_tlog_merkle__roots_match_definition),
		cmocka_unit_test(test_tlog_merkle__inclusion_all),
		cmocka_unit_test(test_tlog_merkle__consistency_all),
		cmocka_unit_test(test_tlog_proof__json_roundtrip),
		cmocka_unit_test(test_tlog_note__checkpoint_sign_open),
		cmocka_unit_test(test_tlog_note__bad_notes),
		cmocka_unit_test(test_tlog_entry__build_parse),
		cmocka_unit_test(test_tlog_release__verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
