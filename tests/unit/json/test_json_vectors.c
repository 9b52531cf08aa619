/*
 * The json module against the python-tuf vectors under $BW_VECTORS (made
 * by python-tuf and securesystemslib; see tests/vectors and
 * ../shared/vectors/README.md). Every metadata file parses strictly, its
 * canonical form is a fixed point, and the encoder reproduces the bytes
 * securesystemslib really hashed and signed: every key id is
 * sha256(canonical(key)), and every ed25519 signature covers
 * canonical(signed). Skipped when the vectors are not there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"

/* Canonical bytes of v as a NUL-terminated malloc'd string. */
static char *canon(const json_t *v, size_t *len)
{
	struct bw_err err = {0};
	uint8_t *out = NULL;
	size_t n = 0;
	int rc = bw_json_canonical_alloc(v, &out, &n, &err);

	if (rc != 0)
		fail_msg("canonical failed: %d %s", rc, err.msg);
	assert_non_null(out);
	assert_int_equal(out[n], '\0');
	if (len != NULL)
		*len = n;
	return (char *)out;
}

typedef void (*metadata_fn)(const char *path, json_t *doc, void *ctx);

static int vectors_dir(char *out, size_t outlen)
{
	const char *base = getenv("BW_VECTORS");
	struct stat st;

	if (base == NULL)
		return -1;
	snprintf(out, outlen, "%s/python-tuf", base);
	return stat(out, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Call fn for every *.json in one metadata directory; returns the count. */
static size_t for_each_in_metadata_dir(const char *dir, metadata_fn fn,
				       void *ctx)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t count = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		char *path = NULL;
		struct bw_buf b;
		struct bw_err err = {0};
		json_t *doc = NULL;

		if (nl < 6 || strcmp(de->d_name + nl - 5, ".json") != 0)
			continue;
		assert_int_equal(bw_path_join(dir, de->d_name, &path), 0);
		bw_buf_init(&b, BW_JSON_DEFAULT_MAX_BYTES);
		if (bw_io_read_file(path, BW_JSON_DEFAULT_MAX_BYTES, &b, &err))
			fail_msg("%s: %s", path, err.msg);
		if (bw_json_parse(b.data, b.len, NULL, &doc, &err) != 0)
			fail_msg("%s: %s", path, err.msg);
		fn(path, doc, ctx);
		json_decref(doc);
		bw_buf_dispose(&b);
		free(path);
		count++;
	}
	closedir(d);
	return count;
}

/*
 * Call fn for every file in every metadata directory: <scenario>/metadata/
 * and <scenario>/<state>/metadata/. Returns the number of files.
 */
static size_t for_each_metadata(metadata_fn fn, void *ctx)
{
	char base[4096], sub[4608], md[5120];
	DIR *d, *sd;
	struct dirent *de, *se;
	size_t count = 0;

	if (vectors_dir(base, sizeof(base)) != 0)
		return 0;
	d = opendir(base);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", base, de->d_name);
		if (!is_dir(sub))
			continue;
		snprintf(md, sizeof(md), "%s/metadata", sub);
		if (is_dir(md))
			count += for_each_in_metadata_dir(md, fn, ctx);
		sd = opendir(sub);
		assert_non_null(sd);
		while ((se = readdir(sd)) != NULL) {
			if (se->d_name[0] == '.' ||
			    strcmp(se->d_name, "metadata") == 0)
				continue;
			snprintf(md, sizeof(md), "%s/%s/metadata", sub,
				 se->d_name);
			if (is_dir(md))
				count += for_each_in_metadata_dir(md, fn, ctx);
		}
		closedir(sd);
	}
	closedir(d);
	return count;
}

static void skip_without_vectors(void)
{
	char base[4096];

	if (vectors_dir(base, sizeof(base)) != 0)
		skip();
}

/*
 * Canonical JSON writes control characters raw, which JSON forbids (the
 * PEM keys of ecdsa and rsa vectors hold newlines), so it is not always
 * JSON. Canonical output has no whitespace outside strings, so escaping
 * every byte below 0x20 as \u00XX gives JSON for the same value.
 */
static char *escape_controls(const char *c, size_t n, size_t *outlen)
{
	struct bw_buf b;
	uint8_t *out;

	bw_buf_init(&b, SIZE_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		char esc[8];

		if ((unsigned char)c[i] >= 0x20) {
			assert_int_equal(bw_buf_append(&b, &c[i], 1), 0);
			continue;
		}
		snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)c[i]);
		assert_int_equal(bw_buf_append_str(&b, esc), 0);
	}
	assert_int_equal(bw_buf_steal(&b, &out, outlen), 0);
	return (char *)out;
}

/* canonical(parse(canonical(v))) == canonical(v) */
static void check_fixed_point(const char *path, const json_t *v)
{
	size_t n1, nj, n2;
	char *c1 = canon(v, &n1);
	char *j = escape_controls(c1, n1, &nj);
	json_t *again = NULL;
	struct bw_err err = {0};
	char *c2;

	if (bw_json_parse(j, nj, NULL, &again, &err) != 0)
		fail_msg("%s: canonical bytes do not parse: %s", path, err.msg);
	c2 = canon(again, &n2);
	if (n1 != n2 || memcmp(c1, c2, n1) != 0)
		fail_msg("%s: canonical form is not a fixed point", path);
	free(c1);
	free(j);
	free(c2);
	json_decref(again);
}

static void roundtrip_one(const char *path, json_t *doc, void *ctx)
{
	json_t *sig = json_object_get(doc, "signed");

	(void)ctx;
	if (!json_is_object(sig))
		fail_msg("%s: no \"signed\" object", path);
	check_fixed_point(path, sig);
	check_fixed_point(path, doc);
}

static void test_json_vectors__canonical_roundtrip(void **state)
{
	(void)state;
	skip_without_vectors();
	assert_true(for_each_metadata(roundtrip_one, NULL) >= 80);
}

/* key id = sha256(canonical(key)) as securesystemslib computes it. */
static void check_keyids_in(const char *path, json_t *keys, size_t *count)
{
	const char *keyid;
	json_t *key;

	json_object_foreach(keys, keyid, key)
	{
		char hex[BW_HASH_MAX_HEX];
		size_t n;
		char *c = canon(key, &n);

		assert_int_equal(bw_hash_buf_hex(BW_HASH_SHA256, c, n, hex), 0);
		if (strcmp(hex, keyid) != 0)
			fail_msg("%s: key %s hashes to %s: %s", path, keyid,
				 hex, c);
		free(c);
		(*count)++;
	}
}

static void keyids_one(const char *path, json_t *doc, void *ctx)
{
	json_t *sig = json_object_get(doc, "signed");
	json_t *keys = json_object_get(sig, "keys");
	json_t *dkeys =
	    json_object_get(json_object_get(sig, "delegations"), "keys");

	if (json_is_object(keys))
		check_keyids_in(path, keys, ctx);
	if (json_is_object(dkeys))
		check_keyids_in(path, dkeys, ctx);
}

static void test_json_vectors__keyids(void **state)
{
	size_t count = 0;

	(void)state;
	skip_without_vectors();
	for_each_metadata(keyids_one, &count);
	assert_true(count >= 50);
}

/*
 * ed25519 signatures over canonical(signed): keys are collected from every
 * root and delegating targets file in a first pass, signatures checked in
 * a second.
 */
struct sigcheck {
	json_t *keys; /* keyid -> hex public key */
	size_t verified;
	size_t failed;
	int pass;
};

static void collect_ed25519(json_t *keys, json_t *into)
{
	const char *keyid;
	json_t *key;

	json_object_foreach(keys, keyid, key)
	{
		const char *type =
		    json_string_value(json_object_get(key, "keytype"));
		json_t *pub =
		    json_object_get(json_object_get(key, "keyval"), "public");

		if (type != NULL && strcmp(type, "ed25519") == 0 &&
		    json_is_string(pub))
			json_object_set(into, keyid, pub);
	}
}

static int ed25519_verify(const char *pubhex, const char *sighex,
			  const void *msg, size_t len)
{
	uint8_t pub[32], sig[64];
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	int ok = 0;

	if (bw_hex_decode(pubhex, strlen(pubhex), pub, sizeof(pub)) != 0 ||
	    bw_hex_decode(sighex, strlen(sighex), sig, sizeof(sig)) != 0)
		return 0;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	ctx = EVP_MD_CTX_new();
	if (pk != NULL && ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1)
		ok = EVP_DigestVerify(ctx, sig, sizeof(sig), msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok;
}

static void sigcheck_one(const char *path, json_t *doc, void *ctx)
{
	struct sigcheck *sc = ctx;
	json_t *sig = json_object_get(doc, "signed");
	json_t *s;
	size_t i, n;
	char *c;

	if (sc->pass == 0) {
		json_t *keys = json_object_get(sig, "keys");
		json_t *dkeys = json_object_get(
		    json_object_get(sig, "delegations"), "keys");

		if (json_is_object(keys))
			collect_ed25519(keys, sc->keys);
		if (json_is_object(dkeys))
			collect_ed25519(dkeys, sc->keys);
		return;
	}
	c = canon(sig, &n);
	json_array_foreach(json_object_get(doc, "signatures"), i, s)
	{
		const char *kid =
		    json_string_value(json_object_get(s, "keyid"));
		const char *hex = json_string_value(json_object_get(s, "sig"));
		json_t *pub =
		    kid != NULL ? json_object_get(sc->keys, kid) : NULL;

		if (pub == NULL || hex == NULL)
			continue;
		if (ed25519_verify(json_string_value(pub), hex, c, n)) {
			sc->verified++;
		} else if (strstr(path, "bad-signature-targets/metadata/"
					"1.targets.json") != NULL) {
			sc->failed++; /* the vector's deliberate defect */
		} else {
			fail_msg("%s: ed25519 signature by %s does not verify "
				 "over the canonical bytes",
				 path, kid);
		}
	}
	free(c);
}

static void test_json_vectors__ed25519_signatures(void **state)
{
	struct sigcheck sc = {0};

	(void)state;
	skip_without_vectors();
	sc.keys = json_object();
	/*
	 * Key ids are sha256 of the key, so the same id means the same key
	 * everywhere: one map over all directories is enough.
	 */
	sc.pass = 0;
	for_each_metadata(sigcheck_one, &sc);
	sc.pass = 1;
	for_each_metadata(sigcheck_one, &sc);
	/* basic-ed25519 alone has 4 roles signed with ed25519. */
	assert_true(sc.verified >= 20);
	assert_int_equal(sc.failed, 1);
	json_decref(sc.keys);
}

/* The compact basic-ecdsa and large-targets files parse as they are. */
static void test_json_vectors__compact_files_parse(void **state)
{
	static const char *const files[] = {
	    "basic-ecdsa/metadata/targets.json",
	    "basic-ecdsa/metadata/snapshot.json",
	    "large-targets/metadata/1.targets.json",
	};
	char base[4096], path[4608];

	(void)state;
	skip_without_vectors();
	assert_int_equal(vectors_dir(base, sizeof(base)), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct bw_buf b;
		struct bw_err err = {0};
		json_t *doc = NULL;

		snprintf(path, sizeof(path), "%s/%s", base, files[i]);
		bw_buf_init(&b, BW_JSON_DEFAULT_MAX_BYTES);
		if (bw_io_read_file(path, BW_JSON_DEFAULT_MAX_BYTES, &b, &err))
			fail_msg("%s: %s", path, err.msg);
		if (bw_json_parse(b.data, b.len, NULL, &doc, &err) != 0)
			fail_msg("%s: %s", path, err.msg);
		assert_true(json_is_object(json_object_get(doc, "signed")));
		json_decref(doc);
		bw_buf_dispose(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_vectors__canonical_roundtrip),
	    cmocka_unit_test(test_json_vectors__keyids),
	    cmocka_unit_test(test_json_vectors__ed25519_signatures),
	    cmocka_unit_test(test_json_vectors__compact_files_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
