/*
 * Unit tests: every bit flip and every truncation of signed metadata must
 * fail verification through the public API (for every signed fixture,
 * flip each bit and truncate), unless the mutated file still
 * verifies with exactly the same signed content (e.g. a hex digit of a
 * signature changing case, which decodes to the same signature).
 *
 * root.json goes through bw_tuf_trust_root (self-signature threshold);
 * timestamp.json and snapshot.json through a refresh of an updater whose
 * fetcher serves an in-memory repository.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/fetch.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"

#define EXPIRES "2099-01-01T00:00:00Z"
#define NFILES 4

struct mem_file {
	const char *name;
	uint8_t *data;
	size_t len;
};

/* The fixture: keys and the served files of a small repository. */
struct fixture {
	struct bw_signer *root, *timestamp, *snapshot, *targets;
	struct mem_file files[NFILES]; /* root, timestamp, snapshot, targets */
	char dir[64];		       /* client metadata dir */
};

enum { F_ROOT, F_TIMESTAMP, F_SNAPSHOT, F_TARGETS };

static struct bw_signer *seeded(uint8_t n)
{
	uint8_t seed[32];
	struct bw_signer *s = NULL;

	memset(seed, 0, sizeof(seed));
	seed[0] = 0xb1;
	seed[31] = n;
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, &s, NULL),
			 0);
	return s;
}

static json_t *role(struct bw_signer *s)
{
	return json_pack("{s:[s], s:i}", "keyids", bw_signer_key(s)->keyid,
			 "threshold", 1);
}

static void add_key(json_t *keys, struct bw_signer *s)
{
	json_t *k = NULL;

	assert_int_equal(bw_key_to_json(bw_signer_key(s), &k, NULL), 0);
	json_object_set_new(keys, bw_signer_key(s)->keyid, k);
}

/* Sign signed_obj (stolen) and store its canonical bytes as file i. */
static void put(struct fixture *fx, int i, const char *name, json_t *signed_obj,
		struct bw_signer *signer)
{
	json_t *env = NULL;

	assert_non_null(signed_obj);
	assert_int_equal(
	    bw_tuf_envelope_sign(signed_obj, &signer, 1, &env, NULL), 0);
	fx->files[i].name = name;
	assert_int_equal(bw_json_canonical_alloc(env, &fx->files[i].data,
						 &fx->files[i].len, NULL),
			 0);
	json_decref(env);
	json_decref(signed_obj);
}

static json_t *meta(int version)
{
	/* Version only: the signature is all that protects the file. */
	return json_pack("{s:i}", "version", version);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	json_t *root, *keys;

	assert_non_null(fx);
	fx->root = seeded(1);
	fx->timestamp = seeded(2);
	fx->snapshot = seeded(3);
	fx->targets = seeded(4);
	keys = json_object();
	add_key(keys, fx->root);
	add_key(keys, fx->timestamp);
	add_key(keys, fx->snapshot);
	add_key(keys, fx->targets);
	root = json_pack(
	    "{s:s, s:s, s:i, s:s, s:b, s:o, s:{s:o, s:o, s:o, s:o}}", "_type",
	    "root", "spec_version", "1.0.31", "version", 1, "expires", EXPIRES,
	    "consistent_snapshot", 0, "keys", keys, "roles", "root",
	    role(fx->root), "timestamp", role(fx->timestamp), "snapshot",
	    role(fx->snapshot), "targets", role(fx->targets));
	put(fx, F_ROOT, "1.root.json", root, fx->root);
	put(fx, F_TIMESTAMP, "timestamp.json",
	    json_pack("{s:s, s:s, s:i, s:s, s:{s:o}}", "_type", "timestamp",
		      "spec_version", "1.0.31", "version", 1, "expires",
		      EXPIRES, "meta", "snapshot.json", meta(1)),
	    fx->timestamp);
	put(fx, F_SNAPSHOT, "snapshot.json",
	    json_pack("{s:s, s:s, s:i, s:s, s:{s:o}}", "_type", "snapshot",
		      "spec_version", "1.0.31", "version", 1, "expires",
		      EXPIRES, "meta", "targets.json", meta(1)),
	    fx->snapshot);
	put(fx, F_TARGETS, "targets.json",
	    json_pack("{s:s, s:s, s:i, s:s, s:{s:{s:i, s:{s:s}}}}", "_type",
		      "targets", "spec_version", "1.0.31", "version", 1,
		      "expires", EXPIRES, "targets", "a.txt", "length", 1,
		      "hashes", "sha256",
		      "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785"
		      "afee48bb"),
	    fx->targets);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/bw-bitflip-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

/* Remove the top-level metadata from dir (root.json too if with_root). */
static void clear_metadata(const char *dir, int with_root)
{
	static const char *const names[] = {"timestamp.json", "snapshot.json",
					    "targets.json", "root.json"};
	char *p;

	for (size_t i = 0; i < (with_root ? 4u : 3u); i++) {
		assert_int_equal(bw_path_join(dir, names[i], &p), 0);
		unlink(p);
		free(p);
	}
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	clear_metadata(fx->dir, 1);
	rmdir(fx->dir);
	for (int i = 0; i < NFILES; i++)
		free(fx->files[i].data);
	bw_signer_free(fx->root);
	bw_signer_free(fx->timestamp);
	bw_signer_free(fx->snapshot);
	bw_signer_free(fx->targets);
	free(fx);
	return 0;
}

/* ---- in-memory fetcher -----------------------------------------------------
 */

struct mem_repo {
	const struct mem_file *files; /* NFILES, one of them possibly mutated */
	unsigned fetches;
};

static int mem_fetch(struct bw_fetcher *f, const char *url, uint64_t offset,
		     uint64_t max_len, bw_fetch_sink_fn sink, void *sink_ctx,
		     struct bw_err *err)
{
	struct mem_repo *r = f->ctx;
	const char *name = strrchr(url, '/');

	r->fetches++;
	name = name != NULL ? name + 1 : url;
	if (offset != 0)
		return bw_err_set(err, BW_ENET, "no ranges here");
	for (int i = 0; i < NFILES; i++) {
		if (strcmp(name, r->files[i].name) != 0)
			continue;
		if (r->files[i].len > max_len)
			return bw_err_set(err, BW_ETOOBIG, "%s too big", name);
		return sink(sink_ctx, r->files[i].data, r->files[i].len);
	}
	return bw_err_set(err, BW_ENOTFOUND, "%s: 404", name);
}

static void mem_free(struct bw_fetcher *f)
{
	(void)f;
}

/* Refresh fx->dir (holding only root.json) against files. */
static int refresh(struct fixture *fx, const struct mem_file *files)
{
	struct mem_repo repo = {files, 0};
	struct bw_fetcher f = {mem_fetch, mem_free, &repo};
	struct bw_tuf_updater *u = NULL;
	struct bw_err err;
	int rc;

	rc = bw_tuf_updater_new(fx->dir, "http://mem.invalid/metadata/", NULL,
				NULL, &f, NULL, &u, &err);
	assert_int_equal(rc, 0);
	rc = bw_tuf_updater_refresh(u, &err);
	bw_tuf_updater_free(u);
	return rc;
}

/* ---- the mutation loop --------------------------------------------------- */

/* Canonical bytes of the "signed" object of envelope bytes; NULL if none. */
static uint8_t *signed_canonical(const uint8_t *data, size_t len, size_t *out)
{
	json_t *v = NULL;
	uint8_t *c = NULL;

	if (bw_json_parse(data, len, NULL, &v, NULL) != 0)
		return NULL;
	if (bw_json_canonical_alloc(json_object_get(v, "signed"), &c, out,
				    NULL) != 0)
		c = NULL;
	json_decref(v);
	return c;
}

/*
 * A mutated file verified: its signed content must be the original's.
 * Returns 1 (counted as benign) or fails the test.
 */
static int check_benign(const struct mem_file *orig, const uint8_t *mut,
			size_t len, size_t pos)
{
	size_t alen = 0, blen = 0;
	uint8_t *a = signed_canonical(orig->data, orig->len, &alen);
	uint8_t *b = signed_canonical(mut, len, &blen);
	int same =
	    a != NULL && b != NULL && alen == blen && memcmp(a, b, alen) == 0;

	free(a);
	free(b);
	if (!same)
		fail_msg(
		    "%s: mutation at %zu verified with other signed content",
		    orig->name, pos);
	return 1;
}

/* Verify file which of fx, replaced by mut; 0 if it was accepted. */
static int verify_variant(struct fixture *fx, int which, const uint8_t *mut,
			  size_t len)
{
	struct mem_file files[NFILES];
	int rc;

	if (which == F_ROOT) {
		rc = bw_tuf_trust_root(fx->dir, mut, len, NULL);
		clear_metadata(fx->dir, 1);
		return rc;
	}
	memcpy(files, fx->files, sizeof(files));
	files[which].data = (uint8_t *)mut;
	files[which].len = len;
	rc = refresh(fx, files);
	/* Back to "only root v1 trusted" for the next variant (no root
	 * rotation is served, so root.json stays as it was). */
	clear_metadata(fx->dir, 0);
	return rc;
}

static void prepare(struct fixture *fx, int which)
{
	clear_metadata(fx->dir, 1);
	if (which != F_ROOT)
		assert_int_equal(bw_tuf_trust_root(fx->dir,
						   fx->files[F_ROOT].data,
						   fx->files[F_ROOT].len, NULL),
				 0);
	/* The unmutated fixture verifies. */
	assert_int_equal(verify_variant(fx, which, fx->files[which].data,
					fx->files[which].len),
			 0);
}

/*
 * Sampling, to stay well under 10 s on a loaded machine: timestamp.json gets
 * every variant (except under ASan, which is 2-3 times slower); root.json
 * and snapshot.json bits 0 and 5 (hex case) of every byte plus one more bit
 * that walks through 1..7 with the position, and every third truncation
 * length plus the last 64. BW_BITFLIP_FULL=1 tries every variant of every
 * file.
 */
#ifdef __SANITIZE_ADDRESS__
#define SAMPLE_TIMESTAMP 1
#else
#define SAMPLE_TIMESTAMP 0
#endif

static int try_all(int which)
{
	static int full = -1;

	if (full < 0) {
		const char *e = getenv("BW_BITFLIP_FULL");

		full = e != NULL && strcmp(e, "1") == 0;
	}
	return full || (which == F_TIMESTAMP && !SAMPLE_TIMESTAMP);
}

static int wanted_bit(int which, size_t pos, unsigned b)
{
	return try_all(which) || b == 0 || b == 5 || b == 1 + pos % 7;
}

static int wanted_length(int which, size_t len, size_t full_len)
{
	return try_all(which) || len % 3 == 0 || len + 64 >= full_len;
}

static void flip_every_bit(struct fixture *fx, int which)
{
	const struct mem_file *orig = &fx->files[which];
	uint8_t *mut = malloc(orig->len);
	size_t benign = 0, tried = 0;

	assert_non_null(mut);
	prepare(fx, which);
	for (size_t bit = 0; bit < orig->len * 8; bit++) {
		if (!wanted_bit(which, bit / 8, (unsigned)(bit % 8)))
			continue;
		tried++;
		memcpy(mut, orig->data, orig->len);
		mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (verify_variant(fx, which, mut, orig->len) == 0)
			benign += check_benign(orig, mut, orig->len, bit / 8);
	}
	print_message("%s: %zu of %zu bit flips tried, %zu verified with the "
		      "same signed content (hex case of a signature)\n",
		      orig->name, tried, orig->len * 8, benign);
	free(mut);
}

static void truncate_everywhere(struct fixture *fx, int which)
{
	const struct mem_file *orig = &fx->files[which];

	prepare(fx, which);
	for (size_t len = 0; len < orig->len; len++) {
		if (!wanted_length(which, len, orig->len))
			continue;
		if (verify_variant(fx, which, orig->data, len) == 0)
			fail_msg("%s truncated to %zu bytes verified",
				 orig->name, len);
	}
}

static void test_tuf_bitflip__root(void **state)
{
	flip_every_bit(*state, F_ROOT);
}

static void test_tuf_bitflip__timestamp(void **state)
{
	flip_every_bit(*state, F_TIMESTAMP);
}

static void test_tuf_bitflip__snapshot(void **state)
{
	flip_every_bit(*state, F_SNAPSHOT);
}

static void test_tuf_bitflip__truncate(void **state)
{
	truncate_everywhere(*state, F_ROOT);
	truncate_everywhere(*state, F_TIMESTAMP);
	truncate_everywhere(*state, F_SNAPSHOT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tuf_bitflip__root, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tuf_bitflip__timestamp, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tuf_bitflip__snapshot, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tuf_bitflip__truncate, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
