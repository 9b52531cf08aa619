/*
 * bw_key_*: parsing TUF key objects, key ids, python-tuf encoding,
 * same-material detection, and verification of hostile signatures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "helper_crypto.h"

/* RFC 8032 7.1 TEST 1: public key and the signature of the empty message. */
static const char RFC8032_PUB[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char RFC8032_SIG[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

static struct {
	EVP_PKEY *p256, *p384, *rsa1024, *rsa2048, *ed25519, *x25519;
	char *p256_pem, *p384_pem, *rsa1024_pem, *rsa2048_pem, *ed25519_pem;
} K;

static int setup(void **state)
{
	(void)state;
	K.p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	K.p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	K.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	K.rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	K.ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	K.x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (!K.p256 || !K.p384 || !K.rsa1024 || !K.rsa2048 || !K.ed25519 ||
	    !K.x25519)
		return -1;
	K.p256_pem = bw_test_crypto_pubkey_pem(K.p256);
	K.p384_pem = bw_test_crypto_pubkey_pem(K.p384);
	K.rsa1024_pem = bw_test_crypto_pubkey_pem(K.rsa1024);
	K.rsa2048_pem = bw_test_crypto_pubkey_pem(K.rsa2048);
	K.ed25519_pem = bw_test_crypto_pubkey_pem(K.ed25519);
	return K.p256_pem && K.p384_pem && K.rsa1024_pem && K.rsa2048_pem &&
		       K.ed25519_pem
		   ? 0
		   : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(K.p256);
	EVP_PKEY_free(K.p384);
	EVP_PKEY_free(K.rsa1024);
	EVP_PKEY_free(K.rsa2048);
	EVP_PKEY_free(K.ed25519);
	EVP_PKEY_free(K.x25519);
	free(K.p256_pem);
	free(K.p384_pem);
	free(K.rsa1024_pem);
	free(K.rsa2048_pem);
	free(K.ed25519_pem);
	return 0;
}

/* Parse obj (consumed) and return the code; *out gets the key if wanted. */
static int parse(json_t *obj, struct bw_key **out)
{
	struct bw_key *key = NULL;
	struct bw_err err = {0};
	int rc;

	assert_non_null(obj);
	rc = bw_key_from_json(obj, &key, &err);
	json_decref(obj);
	if (rc == 0)
		assert_non_null(key);
	else
		assert_null(key);
	if (rc != 0)
		assert_int_equal(err.code, rc);
	if (out != NULL)
		*out = key;
	else
		bw_key_free(key);
	return rc;
}

static int parse_text(const char *json)
{
	/* NULs allowed: keys do not only come from bw_json_parse. */
	json_t *obj = json_loads(json, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);

	return parse(obj, NULL);
}

static void expect_keyid(const json_t *obj, const char *keyid)
{
	uint8_t *canon = NULL;
	size_t len = 0;
	char hex[BW_HASH_MAX_HEX];

	assert_int_equal(bw_json_canonical_alloc(obj, &canon, &len, NULL), 0);
	assert_int_equal(bw_hash_buf_hex(BW_HASH_SHA256, canon, len, hex), 0);
	assert_string_equal(hex, keyid);
	free(canon);
}

static void test_crypto_key_parse__ed25519(void **state)
{
	json_t *obj = bw_test_crypto_key_obj("ed25519", "ed25519", RFC8032_PUB);
	struct bw_key *key = NULL;

	(void)state;
	assert_int_equal(bw_key_from_json(obj, &key, NULL), 0);
	assert_int_equal(key->type, BW_KEY_ED25519);
	assert_string_equal(key->keytype, "ed25519");
	assert_string_equal(key->scheme, "ed25519");
	assert_string_equal(key->public, RFC8032_PUB);
	assert_non_null(key->pkey);
	assert_int_equal(key->spki_len, 44); /* 12-byte header + 32 */
	{
		/* The SPKI built by hand is OpenSSL's own encoding. */
		uint8_t *der = NULL;
		int der_len = i2d_PUBKEY(key->pkey, &der);

		assert_int_equal(der_len, 44);
		assert_memory_equal(key->spki, der, 44);
		OPENSSL_free(der);
	}
	expect_keyid(obj, key->keyid);
	assert_int_equal(
	    bw_key_verify(key, NULL, 0, RFC8032_SIG, strlen(RFC8032_SIG), NULL),
	    0);
	assert_int_equal(bw_key_verify(key, (const uint8_t *)"x", 1,
				       RFC8032_SIG, strlen(RFC8032_SIG), NULL),
			 BW_ESIG);
	json_decref(obj);
	bw_key_free(key);
}

static void test_crypto_key_parse__structure_errors(void **state)
{
	(void)state;
	assert_int_equal(parse_text("[]"), BW_EFORMAT);
	assert_int_equal(parse_text("\"ed25519\""), BW_EFORMAT);
	assert_int_equal(parse_text("{\"scheme\":\"ed25519\",\"keyval\":"
				    "{\"public\":\"00\"}}"),
			 BW_EFORMAT);
	assert_int_equal(parse_text("{\"keytype\":1,\"scheme\":\"ed25519\","
				    "\"keyval\":{\"public\":\"00\"}}"),
			 BW_EFORMAT);
	assert_int_equal(parse_text("{\"keytype\":\"ed25519\",\"scheme\":null,"
				    "\"keyval\":{\"public\":\"00\"}}"),
			 BW_EFORMAT);
	assert_int_equal(parse_text("{\"keytype\":\"ed25519\",\"scheme\":"
				    "\"ed25519\"}"),
			 BW_EFORMAT);
	assert_int_equal(parse_text("{\"keytype\":\"ed25519\",\"scheme\":"
				    "\"ed25519\",\"keyval\":\"00\"}"),
			 BW_EFORMAT);
	assert_int_equal(parse_text("{\"keytype\":\"ed25519\",\"scheme\":"
				    "\"ed25519\",\"keyval\":{}}"),
			 BW_EFORMAT);
	assert_int_equal(parse_text("{\"keytype\":\"ed25519\",\"scheme\":"
				    "\"ed25519\",\"keyval\":{\"public\":7}}"),
			 BW_EFORMAT);
	assert_int_equal(parse_text("{\"keytype\":\"ed25519\",\"scheme\":"
				    "\"ed25519\",\"keyval\":{\"public\":[]}}"),
			 BW_EFORMAT);
	/* A NUL would hide the rest of the value from C string handling. */
	assert_int_equal(parse_text("{\"keytype\":\"ed25519\",\"scheme\":"
				    "\"ed25519\",\"keyval\":{\"public\":"
				    "\"d75a\\u0000\"}}"),
			 BW_EFORMAT);
	assert_int_equal(bw_key_from_json(NULL, NULL, NULL), BW_EINVAL);
}

static void test_crypto_key_parse__unsupported(void **state)
{
	(void)state;
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("dsa", "dsa-sha1", RFC8032_PUB), NULL),
	    BW_EUNSUPPORTED);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ed25519", "ecdsa-sha2-nistp256",
					 RFC8032_PUB),
		  NULL),
	    BW_EUNSUPPORTED);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "rsa", "rsassa-pss-sha512", K.rsa2048_pem),
			       NULL),
			 BW_EUNSUPPORTED);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "rsa", "ecdsa-sha2-nistp256", K.p256_pem),
			       NULL),
			 BW_EUNSUPPORTED);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ed25519", RFC8032_PUB),
		  NULL),
	    BW_EUNSUPPORTED);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "ECDSA", "ecdsa-sha2-nistp256", K.p256_pem),
			       NULL),
			 BW_EUNSUPPORTED);
}

static void test_crypto_key_parse__ed25519_bad_hex(void **state)
{
	char buf[80];

	(void)state;
	memcpy(buf, RFC8032_PUB, 62);
	buf[62] = '\0';
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ed25519", "ed25519", buf), NULL),
	    BW_EFORMAT);
	memcpy(buf, RFC8032_PUB, 64);
	memcpy(buf + 64, "00", 3);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ed25519", "ed25519", buf), NULL),
	    BW_EFORMAT);
	memcpy(buf, RFC8032_PUB, 65);
	buf[10] = 'g';
	buf[64] = '\0';
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ed25519", "ed25519", buf), NULL),
	    BW_EFORMAT);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ed25519", "ed25519", ""), NULL),
	    BW_EFORMAT);
	/* A PEM is not how TUF writes ed25519 keys. */
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ed25519", "ed25519", K.ed25519_pem),
		  NULL),
	    BW_EFORMAT);
}

static void test_crypto_key_parse__ecdsa(void **state)
{
	struct bw_key *key = NULL;

	(void)state;
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "ecdsa", "ecdsa-sha2-nistp256", K.p256_pem),
			       &key),
			 0);
	assert_int_equal(key->type, BW_KEY_ECDSA_P256);
	assert_int_equal(key->spki_len, 91);
	bw_key_free(key);
	/* The keytype older securesystemslib wrote. */
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa-sha2-nistp256",
					 "ecdsa-sha2-nistp256", K.p256_pem),
		  &key),
	    0);
	assert_string_equal(key->keytype, "ecdsa-sha2-nistp256");
	bw_key_free(key);
}

static void test_crypto_key_parse__ecdsa_wrong_material(void **state)
{
	(void)state;
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "ecdsa", "ecdsa-sha2-nistp256", K.p384_pem),
			       NULL),
			 BW_EFORMAT);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256",
					 K.rsa2048_pem),
		  NULL),
	    BW_EFORMAT);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256",
					 K.ed25519_pem),
		  NULL),
	    BW_EFORMAT);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "ecdsa", "ecdsa-sha2-nistp256", RFC8032_PUB),
			       NULL),
			 BW_EFORMAT);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "rsa", "rsassa-pss-sha256", K.p256_pem),
			       NULL),
			 BW_EFORMAT);
}

static void test_crypto_key_parse__pem_garbage(void **state)
{
	char *buf;
	size_t len = strlen(K.p256_pem);

	(void)state;
	buf = malloc(len + 32);
	assert_non_null(buf);
	/* Leading text: PEM readers skip it, TUF keys never have it. */
	snprintf(buf, len + 32, "hello\n%s", K.p256_pem);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256", buf),
		  NULL),
	    BW_EFORMAT);
	snprintf(buf, len + 32, "%sjunk\n", K.p256_pem);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256", buf),
		  NULL),
	    BW_EFORMAT);
	/* A second key after the first. */
	snprintf(buf, len + 32, "%s", K.p256_pem);
	{
		char *two = malloc(2 * len + 1);

		assert_non_null(two);
		memcpy(two, K.p256_pem, len);
		memcpy(two + len, K.p256_pem, len + 1);
		assert_int_equal(parse(bw_test_crypto_key_obj(
					   "ecdsa", "ecdsa-sha2-nistp256", two),
				       NULL),
				 BW_EFORMAT);
		free(two);
	}
	/* Trailing whitespace is harmless. */
	snprintf(buf, len + 32, "%s\n\n", K.p256_pem);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256", buf),
		  NULL),
	    0);
	/* Damaged base64 body. */
	snprintf(buf, len + 32, "%s", K.p256_pem);
	buf[40] = '*';
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256", buf),
		  NULL),
	    BW_EFORMAT);
	/* Truncated. */
	snprintf(buf, len + 32, "%s", K.p256_pem);
	buf[len - 10] = '\0';
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256", buf),
		  NULL),
	    BW_EFORMAT);
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256",
					 "-----BEGIN PUBLIC KEY-----\n"),
		  NULL),
	    BW_EFORMAT);
	free(buf);
}

static void test_crypto_key_parse__rsa_size(void **state)
{
	struct bw_key *key = NULL;

	(void)state;
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "rsa", "rsassa-pss-sha256", K.rsa1024_pem),
			       NULL),
			 BW_EFORMAT);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "rsa", "rsassa-pss-sha256", K.rsa2048_pem),
			       &key),
			 0);
	assert_int_equal(key->type, BW_KEY_RSA);
	bw_key_free(key);
}

static void test_crypto_key_parse__too_big(void **state)
{
	size_t len = 64 * 1024;
	char *big = malloc(len + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'A', len);
	memcpy(big, "-----BEGIN PUBLIC KEY-----\n", 27);
	big[len] = '\0';
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("rsa", "rsassa-pss-sha256", big),
		  NULL),
	    BW_ETOOBIG);
	free(big);
}

/* Extra fields are covered by the key id; the material stays the same. */
static void test_crypto_key_keyid__extra_fields(void **state)
{
	json_t *plain =
	    bw_test_crypto_key_obj("ed25519", "ed25519", RFC8032_PUB);
	json_t *extra =
	    bw_test_crypto_key_obj("ed25519", "ed25519", RFC8032_PUB);
	struct bw_key *a = NULL, *b = NULL;

	(void)state;
	json_object_set_new(extra, "x-note", json_string("second id"));
	json_object_set_new(json_object_get(extra, "keyval"), "private",
			    json_string(""));
	assert_int_equal(bw_key_from_json(plain, &a, NULL), 0);
	assert_int_equal(bw_key_from_json(extra, &b, NULL), 0);
	expect_keyid(extra, b->keyid);
	assert_string_not_equal(a->keyid, b->keyid);
	assert_int_equal(bw_key_same_material(a, b), 1);
	/* A real in an extra field can not be canonicalized. */
	json_object_set_new(extra, "x-real", json_real(1.5));
	assert_int_equal(parse(json_incref(extra), NULL), BW_EFORMAT);
	json_decref(plain);
	json_decref(extra);
	bw_key_free(a);
	bw_key_free(b);
}

/* The same P-256 key with a compressed point is the same material. */
static void test_crypto_key_same_material__ec_compressed(void **state)
{
	EVP_PKEY *copy = EVP_PKEY_dup(K.p256);
	char *pem = NULL;
	struct bw_key *a = NULL, *b = NULL, *c = NULL;

	(void)state;
	assert_non_null(copy);
	assert_int_equal(
	    EVP_PKEY_set_utf8_string_param(
		copy, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
	    1);
	pem = bw_test_crypto_pubkey_pem(copy);
	assert_non_null(pem);
	assert_true(strlen(pem) < strlen(K.p256_pem));
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ecdsa", "ecdsa-sha2-nistp256", pem),
		  &a),
	    0);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "ecdsa", "ecdsa-sha2-nistp256", K.p256_pem),
			       &b),
			 0);
	assert_string_not_equal(a->keyid, b->keyid);
	assert_int_equal(bw_key_same_material(a, b), 1);
	/* python-tuf encoding of that key is the uncompressed one. */
	assert_int_equal(bw_key_from_pkey(copy, &c, NULL), 0);
	assert_string_equal(c->public, K.p256_pem);
	assert_string_equal(c->keyid, b->keyid);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "ecdsa", "ecdsa-sha2-nistp256", K.p384_pem),
			       NULL),
			 BW_EFORMAT);
	bw_key_free(a);
	bw_key_free(c);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "rsa", "rsassa-pss-sha256", K.rsa2048_pem),
			       &a),
			 0);
	assert_int_equal(bw_key_same_material(a, b), 0);
	assert_int_equal(bw_key_same_material(a, NULL), 0);
	assert_int_equal(bw_key_same_material(NULL, NULL), 0);
	bw_key_free(a);
	bw_key_free(b);
	EVP_PKEY_free(copy);
	free(pem);
}

static void check_from_pkey(EVP_PKEY *pkey, const char *keytype,
			    const char *scheme)
{
	struct bw_key *key = NULL, *again = NULL;
	json_t *obj = NULL;

	assert_int_equal(bw_key_from_pkey(pkey, &key, NULL), 0);
	assert_string_equal(key->keytype, keytype);
	assert_string_equal(key->scheme, scheme);
	assert_int_equal(bw_key_to_json(key, &obj, NULL), 0);
	assert_int_equal(json_object_size(obj), 3);
	assert_int_equal(json_object_size(json_object_get(obj, "keyval")), 1);
	expect_keyid(obj, key->keyid);
	assert_int_equal(bw_key_from_json(obj, &again, NULL), 0);
	assert_string_equal(again->keyid, key->keyid);
	assert_int_equal(bw_key_same_material(key, again), 1);
	json_decref(obj);
	bw_key_free(key);
	bw_key_free(again);
}

static void test_crypto_key_from_pkey__encodings(void **state)
{
	struct bw_key *key = NULL;
	uint8_t raw[32];
	char hex[65];
	size_t len = sizeof(raw);

	(void)state;
	check_from_pkey(K.ed25519, "ed25519", "ed25519");
	check_from_pkey(K.p256, "ecdsa", "ecdsa-sha2-nistp256");
	check_from_pkey(K.rsa2048, "rsa", "rsassa-pss-sha256");

	assert_int_equal(EVP_PKEY_get_raw_public_key(K.ed25519, raw, &len), 1);
	bw_hex_encode(raw, len, hex);
	assert_int_equal(bw_key_from_pkey(K.ed25519, &key, NULL), 0);
	assert_string_equal(key->public, hex); /* lowercase hex */
	bw_key_free(key);

	/* PEM_write_bio_PUBKEY output, trailing newline included. */
	assert_int_equal(bw_key_from_pkey(K.p256, &key, NULL), 0);
	assert_string_equal(key->public, K.p256_pem);
	assert_true(strncmp(key->public, "-----BEGIN PUBLIC KEY-----\n", 27) ==
		    0);
	assert_string_equal(key->public + strlen(key->public) - 25,
			    "-----END PUBLIC KEY-----\n");
	bw_key_free(key);
	assert_int_equal(bw_key_from_pkey(K.rsa2048, &key, NULL), 0);
	assert_string_equal(key->public, K.rsa2048_pem);
	bw_key_free(key);
}

static void test_crypto_key_from_pkey__rejects(void **state)
{
	struct bw_key *key = NULL;

	(void)state;
	assert_int_equal(bw_key_from_pkey(K.p384, &key, NULL), BW_EFORMAT);
	assert_null(key);
	assert_int_equal(bw_key_from_pkey(K.rsa1024, &key, NULL), BW_EFORMAT);
	assert_int_equal(bw_key_from_pkey(K.x25519, &key, NULL),
			 BW_EUNSUPPORTED);
	assert_int_equal(bw_key_from_pkey(NULL, &key, NULL), BW_EINVAL);
}

static void test_crypto_key_type__from_name(void **state)
{
	enum bw_key_type t;

	(void)state;
	assert_int_equal(bw_key_type_from_name("ed25519", &t), 0);
	assert_int_equal(t, BW_KEY_ED25519);
	assert_int_equal(bw_key_type_from_name("ecdsa", &t), 0);
	assert_int_equal(t, BW_KEY_ECDSA_P256);
	assert_int_equal(bw_key_type_from_name("ecdsa-sha2-nistp256", &t), 0);
	assert_int_equal(t, BW_KEY_ECDSA_P256);
	assert_int_equal(bw_key_type_from_name("rsa", &t), 0);
	assert_int_equal(t, BW_KEY_RSA);
	assert_int_equal(bw_key_type_from_name("RSA", &t), BW_EUNSUPPORTED);
	assert_int_equal(bw_key_type_from_name("", &t), BW_EUNSUPPORTED);
	assert_int_equal(bw_key_type_from_name(NULL, &t), BW_EINVAL);
}

static int verify_hex(const struct bw_key *key, const char *sig)
{
	struct bw_err err = {0};
	int rc =
	    bw_key_verify(key, (const uint8_t *)"", 0, sig, strlen(sig), &err);

	if (rc != 0)
		assert_int_equal(err.code, rc);
	return rc;
}

static void test_crypto_key_verify__hostile_ed25519(void **state)
{
	struct bw_key *key = NULL;
	char sig[sizeof(RFC8032_SIG) + 4];

	(void)state;
	assert_int_equal(
	    parse(bw_test_crypto_key_obj("ed25519", "ed25519", RFC8032_PUB),
		  &key),
	    0);
	assert_int_equal(verify_hex(key, RFC8032_SIG), 0);
	/* Uppercase hex decodes to the same bytes. */
	snprintf(sig, sizeof(sig), "%s", RFC8032_SIG);
	for (size_t i = 0; sig[i]; i++)
		if (sig[i] >= 'a' && sig[i] <= 'f')
			sig[i] = (char)(sig[i] - 'a' + 'A');
	assert_int_equal(verify_hex(key, sig), 0);
	assert_int_equal(verify_hex(key, ""), BW_ESIG);
	snprintf(sig, sizeof(sig), "%.127s", RFC8032_SIG);
	assert_int_equal(verify_hex(key, sig), BW_ESIG); /* odd */
	snprintf(sig, sizeof(sig), "%.126s", RFC8032_SIG);
	assert_int_equal(verify_hex(key, sig), BW_ESIG); /* 63 bytes */
	snprintf(sig, sizeof(sig), "%s00", RFC8032_SIG);
	assert_int_equal(verify_hex(key, sig), BW_ESIG); /* 65 bytes */
	snprintf(sig, sizeof(sig), "%s", RFC8032_SIG);
	sig[5] = 'x';
	assert_int_equal(verify_hex(key, sig), BW_ESIG);
	sig[5] = ' ';
	assert_int_equal(verify_hex(key, sig), BW_ESIG);
	/* A NUL inside sig_hex_len must not shorten the signature. */
	snprintf(sig, sizeof(sig), "%s", RFC8032_SIG);
	sig[20] = '\0';
	assert_int_equal(bw_key_verify(key, NULL, 0, sig, 128, NULL), BW_ESIG);
	assert_int_equal(bw_key_verify(key, NULL, 1, RFC8032_SIG, 128, NULL),
			 BW_EINVAL);
	assert_int_equal(bw_key_verify(NULL, NULL, 0, RFC8032_SIG, 128, NULL),
			 BW_EINVAL);
	assert_int_equal(bw_key_verify(key, NULL, 0, NULL, 0, NULL), BW_EINVAL);
	bw_key_free(key);
}

static void test_crypto_key_verify__hostile_lengths(void **state)
{
	struct bw_key *ec = NULL, *rsa = NULL;
	size_t len = 1u << 20;
	char *huge = malloc(len + 1);

	(void)state;
	assert_non_null(huge);
	memset(huge, 'a', len);
	huge[len] = '\0';
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "ecdsa", "ecdsa-sha2-nistp256", K.p256_pem),
			       &ec),
			 0);
	assert_int_equal(parse(bw_test_crypto_key_obj(
				   "rsa", "rsassa-pss-sha256", K.rsa2048_pem),
			       &rsa),
			 0);
	assert_int_equal(verify_hex(ec, huge), BW_ESIG);
	assert_int_equal(verify_hex(rsa, huge), BW_ESIG);
	/* Not DER at all, and DER of the wrong shape. */
	assert_int_equal(verify_hex(ec, "00"), BW_ESIG);
	assert_int_equal(verify_hex(ec, "3000"), BW_ESIG);
	assert_int_equal(verify_hex(ec, "300602010102010"), BW_ESIG);
	assert_int_equal(verify_hex(ec, "3006020101020101"), BW_ESIG);
	assert_int_equal(verify_hex(ec, "30080201010201010000"), BW_ESIG);
	assert_int_equal(verify_hex(ec, "3080020101020101"), BW_ESIG);
	assert_int_equal(verify_hex(ec, "308400000006020101020101"), BW_ESIG);
	huge[144] = '\0'; /* 72 bytes of 0xaa */
	assert_int_equal(verify_hex(ec, huge), BW_ESIG);
	huge[144] = 'a';
	huge[512] =
	    '\0'; /* 256 bytes: right length for RSA-2048, wrong value */
	assert_int_equal(verify_hex(rsa, huge), BW_ESIG);
	huge[510] = '\0';
	assert_int_equal(verify_hex(rsa, huge), BW_ESIG);
	memset(huge, '0', 512);
	huge[512] = '\0';
	assert_int_equal(verify_hex(rsa, huge), BW_ESIG);
	memset(huge, 'f', 512);
	assert_int_equal(verify_hex(rsa, huge), BW_ESIG);
	bw_key_free(ec);
	bw_key_free(rsa);
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crypto_key_parse__ed25519),
	    cmocka_unit_test(test_crypto_key_parse__structure_errors),
	    cmocka_unit_test(test_crypto_key_parse__unsupported),
	    cmocka_unit_test(test_crypto_key_parse__ed25519_bad_hex),
	    cmocka_unit_test(test_crypto_key_parse__ecdsa),
	    cmocka_unit_test(test_crypto_key_parse__ecdsa_wrong_material),
	    cmocka_unit_test(test_crypto_key_parse__pem_garbage),
	    cmocka_unit_test(test_crypto_key_parse__rsa_size),
	    cmocka_unit_test(test_crypto_key_parse__too_big),
	    cmocka_unit_test(test_crypto_key_keyid__extra_fields),
	    cmocka_unit_test(test_crypto_key_same_material__ec_compressed),
	    cmocka_unit_test(test_crypto_key_from_pkey__encodings),
	    cmocka_unit_test(test_crypto_key_from_pkey__rejects),
	    cmocka_unit_test(test_crypto_key_type__from_name),
	    cmocka_unit_test(test_crypto_key_verify__hostile_ed25519),
	    cmocka_unit_test(test_crypto_key_verify__hostile_lengths),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
