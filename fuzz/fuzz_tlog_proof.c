/*
 * Fuzz target for proofs and entries as the server sends them
 * (bulwark/tlog.h): a JSON document {"hashes": [...], "entry": "..."} is
 * parsed with bw_tlog_proof_from_json, the proof is checked for inclusion
 * and consistency against a small fixed tree, and the entry (base64) with
 * bw_tlog_entry_parse, and the whole document with bw_tlog_release_verify
 * (a device's binary transparency check) against a fixed key.
 *
 * For every input: a refused proof has no hashes; an accepted one has at
 * most BW_TLOG_PROOF_MAX; a proof that verifies is the real proof (the
 * tree's own); an accepted entry re-encodes to the same bytes; no input
 * passes the release check without a signature by the fixed key. Any
 * violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"
#include "bulwark/tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LEAVES 11

static void violation(const char *what)
{
	fprintf(stderr, "fuzz_tlog_proof: %s\n", what);
	abort();
}

static struct bw_tlog_hash nodes[5][LEAVES];

static int rd(void *ctx, int level, uint64_t index, struct bw_tlog_hash *out,
	      struct bw_err *err)
{
	(void)ctx;
	(void)err;
	if (level >= 5 || index >= LEAVES)
		return BW_ENOTFOUND;
	*out = nodes[level][index];
	return 0;
}

static void tree(void)
{
	static int done;
	struct bw_tlog_reader r = {rd, NULL};
	struct bw_tlog_node out[BW_TLOG_LEVELS];
	size_t k, i;
	uint64_t j;

	if (done)
		return;
	for (j = 0; j < LEAVES; j++) {
		struct bw_tlog_hash h;
		uint8_t b = (uint8_t)j;

		bw_tlog_leaf_hash(&b, 1, &h);
		if (bw_tlog_stored_hashes(j, &h, &r, out, &k, NULL) != 0)
			abort();
		for (i = 0; i < k; i++)
			nodes[out[i].level][out[i].index] = out[i].hash;
	}
	done = 1;
}

static void proofs(const struct bw_tlog_proof *p)
{
	struct bw_tlog_reader r = {rd, NULL};
	struct bw_tlog_proof real;
	struct bw_tlog_hash root, old, leaf;
	uint8_t b = 3;

	bw_tlog_leaf_hash(&b, 1, &leaf);
	bw_tlog_tree_hash(LEAVES, &r, &root, NULL);
	bw_tlog_tree_hash(6, &r, &old, NULL);
	if (bw_tlog_verify_inclusion(LEAVES, 3, &leaf, p, &root, NULL) == 0) {
		bw_tlog_prove_inclusion(LEAVES, 3, &r, &real, NULL);
		if (real.n != p->n || memcmp(real.h, p->h, p->n * 32) != 0)
			violation("a forged inclusion proof verified");
	}
	if (bw_tlog_verify_consistency(6, LEAVES, &old, &root, p, NULL) == 0) {
		bw_tlog_prove_consistency(6, LEAVES, &r, &real, NULL);
		if (real.n != p->n || memcmp(real.h, p->h, p->n * 32) != 0)
			violation("a forged consistency proof verified");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_tlog_proof *p = calloc(1, sizeof(*p));
	json_t *doc = NULL, *e;
	uint8_t *raw = NULL;
	size_t len = 0;

	tree();
	if (!p || bw_json_parse(data, size, NULL, &doc, NULL) != 0)
		goto out;
	if (bw_tlog_proof_from_json(doc, p, NULL) != 0) {
		if (p->n != 0)
			violation("refused proof with hashes");
	} else {
		if (p->n > BW_TLOG_PROOF_MAX)
			violation("proof too long");
		proofs(p);
	}
	e = json_object_get(doc, "entry");
	if (json_is_string(e) &&
	    bw_tlog_b64_decode(json_string_value(e), json_string_length(e),
			       BW_TLOG_ENTRY_MAX, &raw, &len) == 0) {
		json_t *rec = NULL;
		uint8_t *again = NULL;
		size_t alen = 0;

		if (bw_tlog_entry_parse(raw, len, &rec, NULL) == 0) {
			if (bw_json_canonical_alloc(rec, &again, &alen,
						    NULL) != 0 ||
			    alen != len || memcmp(again, raw, len) != 0)
				violation("accepted entry is not canonical");
		}
		free(again);
		json_decref(rec);
	}
out:
	{
		static const char vk_text[] =
		    "bulwark.test/log+23b74c2e+"
		    "AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
		struct bw_tlog_vkey vk;

		if (bw_tlog_vkey_parse(vk_text, sizeof(vk_text) - 1, &vk,
				       NULL) == 0 &&
		    bw_tlog_release_verify(data, size, (const uint8_t *)"t", 1,
					   &vk, NULL, 0, 0, NULL) == 0)
			violation("a release proof without a valid signature");
	}
	free(raw);
	json_decref(doc);
	free(p);
	return 0;
}
