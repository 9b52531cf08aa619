/*
 * Interoperability with python-tuf/securesystemslib: every key in the
 * vectors under $BW_VECTORS has the key id it is listed under, encodes back
 * to the same bytes, and every signature of the valid basic-* and
 * mixed-keys-threshold repositories verifies; any flipped bit fails.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/json.h"
#include "helper_crypto.h"

static char *join(const char *a, const char *b)
{
	char *p = NULL;

	assert_int_equal(bw_path_join(a, b, &p), 0);
	return p;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void check_canonical_equal(const json_t *a, const json_t *b)
{
	uint8_t *ca = NULL, *cb = NULL;
	size_t la = 0, lb = 0;

	assert_int_equal(bw_json_canonical_alloc(a, &ca, &la, NULL), 0);
	assert_int_equal(bw_json_canonical_alloc(b, &cb, &lb, NULL), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(ca, cb, la);
	free(ca);
	free(cb);
}

/* Every key of a "keys" object: listed id == computed id; round trip. */
static size_t check_keys(const json_t *keys, const char *file)
{
	const char *id;
	json_t *obj, *back;
	struct bw_key *key;
	struct bw_err err;
	size_t n = 0;

	json_object_foreach((json_t *)keys, id, obj)
	{
		key = NULL;
		back = NULL;
		memset(&err, 0, sizeof(err));
		if (bw_key_from_json(obj, &key, &err) != 0)
			fail_msg("%s: key %s: %s", file, id, err.msg);
		if (strcmp(key->keyid, id) != 0)
			fail_msg("%s: key listed as %s has id %s", file, id,
				 key->keyid);
		assert_int_equal(bw_key_to_json(key, &back, NULL), 0);
		check_canonical_equal(obj, back);
		json_decref(back);
		bw_key_free(key);
		n++;
	}
	return n;
}

static size_t check_file(const char *path)
{
	json_t *doc = bw_test_crypto_load_json(path);
	json_t *signed_ = json_object_get(doc, "signed");
	size_t n = 0;

	if (doc == NULL)
		fail_msg("%s does not parse", path);
	n += check_keys(json_object_get(signed_, "keys"), path);
	n += check_keys(
	    json_object_get(json_object_get(signed_, "delegations"), "keys"),
	    path);
	json_decref(doc);
	return n;
}

static size_t check_json_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	char *p;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		p = join(dir, e->d_name);
		if (is_dir(p)) {
			/* metadata/, state1/, state2/; not targets/. */
			if (strcmp(e->d_name, "targets") != 0)
				n += check_json_files(p);
		} else if (strlen(e->d_name) > 5 &&
			   strcmp(e->d_name + strlen(e->d_name) - 5, ".json") ==
			       0 &&
			   strcmp(e->d_name, "expected.json") != 0) {
			n += check_file(p);
		}
		free(p);
	}
	closedir(d);
	return n;
}

static void test_crypto_vectors_keyids__all(void **state)
{
	const char *vec = bw_test_crypto_vectors();
	size_t n;

	(void)state;
	if (vec == NULL)
		skip();
	n = check_json_files(vec);
	/* 14 scenarios, at least 4 keys in each root. */
	assert_true(n >= 56);
	print_message("checked %zu key objects\n", n);
}

/* A root's key for keyid if role lists it; NULL otherwise. */
static struct bw_key *role_key(const json_t *root, const char *role,
			       const char *keyid)
{
	const json_t *rs =
	    json_object_get(json_object_get(root, "signed"), "roles");
	const json_t *ids =
	    json_object_get(json_object_get(rs, role), "keyids");
	const json_t *keys =
	    json_object_get(json_object_get(root, "signed"), "keys");
	struct bw_key *key = NULL;
	size_t i;

	for (i = 0; i < json_array_size(ids); i++) {
		if (strcmp(json_string_value(json_array_get(ids, i)), keyid) ==
		    0) {
			assert_int_equal(
			    bw_key_from_json(json_object_get(keys, keyid), &key,
					     NULL),
			    0);
			return key;
		}
	}
	return NULL;
}

/* Any other key of the root: a signature must not verify under it. */
static struct bw_key *other_key(const json_t *root, const char *keyid)
{
	const json_t *keys =
	    json_object_get(json_object_get(root, "signed"), "keys");
	const char *id;
	json_t *obj;
	struct bw_key *key = NULL;

	json_object_foreach((json_t *)keys, id, obj)
	{
		if (strcmp(id, keyid) != 0) {
			assert_int_equal(bw_key_from_json(obj, &key, NULL), 0);
			return key;
		}
	}
	return NULL;
}

static size_t next_bit(size_t bit, size_t nbits)
{
	if (bit + 1 == nbits)
		return nbits;
	return bit + 61 < nbits ? bit + 61 : nbits - 1;
}

static void check_mutations(const struct bw_key *key, uint8_t *msg,
			    size_t msglen, const char *sig_hex)
{
	size_t hexlen = strlen(sig_hex), siglen = 0, bit;
	uint8_t *sig = NULL;
	char *hex = malloc(hexlen + 1);

	assert_non_null(hex);
	/* Message: every 61st bit and the last (all bits: minutes). */
	for (bit = 0; bit < msglen * 8; bit = next_bit(bit, msglen * 8)) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(
		    bw_key_verify(key, msg, msglen, sig_hex, hexlen, NULL),
		    BW_ESIG);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(
	    bw_key_verify(key, msg, msglen - 1, sig_hex, hexlen, NULL),
	    BW_ESIG);
	/* Signature: every bit. */
	assert_int_equal(bw_hex_decode_alloc(sig_hex, hexlen, &sig, &siglen),
			 0);
	for (bit = 0; bit < siglen * 8; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		bw_hex_encode(sig, siglen, hex);
		if (bw_key_verify(key, msg, msglen, hex, hexlen, NULL) !=
		    BW_ESIG)
			fail_msg("%s: flipped signature bit %zu verifies",
				 key->scheme, bit);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(
	    bw_key_verify(key, msg, msglen, sig_hex, hexlen - 2, NULL),
	    BW_ESIG);
	assert_int_equal(
	    bw_key_verify(key, msg, msglen, sig_hex, hexlen - 1, NULL),
	    BW_ESIG);
	/* And the untouched pair still verifies. */
	assert_int_equal(bw_key_verify(key, msg, msglen, sig_hex, hexlen, NULL),
			 0);
	free(sig);
	free(hex);
}

/* Verify every signature of one metadata file; returns how many verified. */
static size_t check_signatures(const json_t *root, const char *path,
			       int expect_ok)
{
	json_t *doc = bw_test_crypto_load_json(path);
	const json_t *sigs = json_object_get(doc, "signatures");
	const char *role = json_string_value(
	    json_object_get(json_object_get(doc, "signed"), "_type"));
	uint8_t *msg = NULL;
	size_t msglen = 0, i, ok = 0;
	struct bw_err err;

	if (doc == NULL || role == NULL)
		fail_msg("%s: not TUF metadata", path);
	assert_int_equal(bw_json_canonical_alloc(json_object_get(doc, "signed"),
						 &msg, &msglen, NULL),
			 0);
	for (i = 0; i < json_array_size(sigs); i++) {
		const json_t *s = json_array_get(sigs, i);
		const char *keyid =
		    json_string_value(json_object_get(s, "keyid"));
		const char *hex = json_string_value(json_object_get(s, "sig"));
		struct bw_key *key = role_key(root, role, keyid);
		struct bw_key *other;
		int rc;

		assert_non_null(hex);
		if (key == NULL)
			continue;
		memset(&err, 0, sizeof(err));
		rc = bw_key_verify(key, msg, msglen, hex, strlen(hex), &err);
		if (!expect_ok) {
			assert_int_equal(rc, BW_ESIG);
			bw_key_free(key);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s signature by %s: %s", path,
				 key->scheme, keyid, err.msg);
		ok++;
		check_mutations(key, msg, msglen, hex);
		other = other_key(root, keyid);
		assert_int_equal(
		    bw_key_verify(other, msg, msglen, hex, strlen(hex), NULL),
		    BW_ESIG);
		bw_key_free(other);
		bw_key_free(key);
	}
	free(msg);
	json_decref(doc);
	return ok;
}

static void check_scenario(const char *name)
{
	const char *vec = bw_test_crypto_vectors();
	char *dir, *mdir, *rootpath, *p;
	json_t *root;
	DIR *d;
	struct dirent *e;
	size_t files = 0;

	if (vec == NULL)
		skip();
	dir = join(vec, name);
	mdir = join(dir, "metadata");
	rootpath = join(mdir, "1.root.json");
	root = bw_test_crypto_load_json(rootpath);
	assert_non_null(root);
	d = opendir(mdir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		p = join(mdir, e->d_name);
		/* Every file here is signed by its role at least once. */
		if (check_signatures(root, p, 1) == 0)
			fail_msg("%s: no signature verified", p);
		files++;
		free(p);
	}
	closedir(d);
	assert_int_equal(files, 4);
	json_decref(root);
	free(rootpath);
	free(mdir);
	free(dir);
}

static void test_crypto_vectors_sigs__basic_ed25519(void **state)
{
	(void)state;
	check_scenario("basic-ed25519");
}

static void test_crypto_vectors_sigs__basic_ecdsa(void **state)
{
	(void)state;
	check_scenario("basic-ecdsa");
}

static void test_crypto_vectors_sigs__basic_rsa(void **state)
{
	(void)state;
	check_scenario("basic-rsa");
}

static void test_crypto_vectors_sigs__mixed_keys_threshold(void **state)
{
	const char *vec = bw_test_crypto_vectors();
	char *root_path, *p;
	json_t *root;

	(void)state;
	check_scenario("mixed-keys-threshold");
	if (vec == NULL)
		skip();
	/* Root threshold 2 of ed25519+ecdsa+rsa: ecdsa and rsa signed. */
	root_path = join(vec, "mixed-keys-threshold/metadata/1.root.json");
	root = bw_test_crypto_load_json(root_path);
	assert_int_equal(check_signatures(root, root_path, 1), 2);
	p = join(vec, "mixed-keys-threshold/metadata/1.targets.json");
	assert_int_equal(check_signatures(root, p, 1), 2);
	free(p);
	json_decref(root);
	free(root_path);
}

/* The vector whose targets signature has one hex digit changed. */
static void test_crypto_vectors_sigs__bad_signature_targets(void **state)
{
	const char *vec = bw_test_crypto_vectors();
	char *root_path, *p;
	json_t *root;

	(void)state;
	if (vec == NULL)
		skip();
	root_path = join(vec, "bad-signature-targets/metadata/1.root.json");
	p = join(vec, "bad-signature-targets/metadata/1.targets.json");
	root = bw_test_crypto_load_json(root_path);
	assert_non_null(root);
	assert_int_equal(check_signatures(root, p, 0), 0);
	assert_int_equal(check_signatures(root, root_path, 1), 1);
	json_decref(root);
	free(p);
	free(root_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crypto_vectors_keyids__all),
	    cmocka_unit_test(test_crypto_vectors_sigs__basic_ed25519),
	    cmocka_unit_test(test_crypto_vectors_sigs__basic_ecdsa),
	    cmocka_unit_test(test_crypto_vectors_sigs__basic_rsa),
	    cmocka_unit_test(test_crypto_vectors_sigs__mixed_keys_threshold),
	    cmocka_unit_test(test_crypto_vectors_sigs__bad_signature_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
