/*
 * The key file signer backend and the signer interface: generate, sign,
 * verify, save, load (with file mode checks), deterministic seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "crypto/crypto_priv.h"
#include "helper_crypto.h"

static const uint8_t MSG[] = "{\"signed\":{\"_type\":\"targets\"}}";

/* One generated signer per type, shared (RSA-4096 generation is slow). */
static struct bw_signer *G[4];
static char tmpdir[] = "/tmp/bw-crypto-keyfile-XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	for (int t = BW_KEY_ED25519; t <= BW_KEY_RSA; t++)
		if (bw_signer_keyfile_generate((enum bw_key_type)t, &G[t],
					       NULL) != 0)
			return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int t = BW_KEY_ED25519; t <= BW_KEY_RSA; t++)
		bw_signer_free(G[t]);
	/* Every test removes its files: a leftover fails here. */
	return rmdir(tmpdir);
}

static char *tmp_path(const char *name)
{
	char *p = NULL;

	assert_int_equal(bw_path_join(tmpdir, name, &p), 0);
	return p;
}

static int verify(const struct bw_key *key, const uint8_t *msg, size_t len,
		  const char *hex)
{
	return bw_key_verify(key, msg, len, hex, strlen(hex), NULL);
}

static void sign_ok(struct bw_signer *s, char **hex)
{
	struct bw_err err = {0};

	if (bw_signer_sign_hex(s, MSG, sizeof(MSG) - 1, hex, &err) != 0)
		fail_msg("sign: %s", err.msg);
}

static void test_crypto_keyfile_generate__sign_verify(void **state)
{
	static const char *const keytypes[] = {NULL, "ed25519", "ecdsa", "rsa"};
	static const char *const schemes[] = {
	    NULL, "ed25519", "ecdsa-sha2-nistp256", "rsassa-pss-sha256"};
	char *hex = NULL;

	(void)state;
	for (int t = BW_KEY_ED25519; t <= BW_KEY_RSA; t++) {
		const struct bw_key *key = bw_signer_key(G[t]);

		assert_non_null(key);
		assert_int_equal(key->type, t);
		assert_string_equal(key->keytype, keytypes[t]);
		assert_string_equal(key->scheme, schemes[t]);
		assert_string_equal(G[t]->ops->name, "file");
		sign_ok(G[t], &hex);
		assert_int_equal(verify(key, MSG, sizeof(MSG) - 1, hex), 0);
		assert_int_equal(verify(key, MSG, sizeof(MSG) - 2, hex),
				 BW_ESIG);
		/* Signature by this key under every other generated key. */
		for (int u = BW_KEY_ED25519; u <= BW_KEY_RSA; u++)
			if (u != t)
				assert_int_equal(verify(bw_signer_key(G[u]),
							MSG, sizeof(MSG) - 1,
							hex),
						 BW_ESIG);
		free(hex);
		hex = NULL;
		/* Empty messages are messages too. */
		assert_int_equal(bw_signer_sign_hex(G[t], NULL, 0, &hex, NULL),
				 0);
		assert_int_equal(verify(key, NULL, 0, hex), 0);
		free(hex);
		hex = NULL;
	}
	assert_int_equal(EVP_PKEY_get_bits(G[BW_KEY_RSA]->pkey), 4096);
	assert_int_equal(
	    bw_signer_keyfile_generate((enum bw_key_type)9, &G[0], NULL),
	    BW_EUNSUPPORTED);
	assert_null(G[0]);
}

/* Same type, different key: must not verify. */
static void test_crypto_keyfile_sign__other_key_fails(void **state)
{
	struct bw_signer *a = NULL, *b = NULL;
	EVP_PKEY *rsa = NULL;
	char *pem = NULL, *hex = NULL;

	(void)state;
	for (int t = BW_KEY_ED25519; t <= BW_KEY_ECDSA_P256; t++) {
		assert_int_equal(
		    bw_signer_keyfile_generate((enum bw_key_type)t, &a, NULL),
		    0);
		sign_ok(a, &hex);
		assert_int_equal(
		    verify(bw_signer_key(G[t]), MSG, sizeof(MSG) - 1, hex),
		    BW_ESIG);
		assert_int_equal(
		    verify(bw_signer_key(a), MSG, sizeof(MSG) - 1, hex), 0);
		bw_signer_free(a);
		free(hex);
	}
	/* A 2048-bit RSA key through load_mem (cheaper than another 4096). */
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	pem = bw_test_crypto_privkey_pem(rsa);
	assert_int_equal(bw_signer_keyfile_load_mem(pem, strlen(pem), &b, NULL),
			 0);
	sign_ok(b, &hex);
	assert_int_equal(verify(bw_signer_key(b), MSG, sizeof(MSG) - 1, hex),
			 0);
	assert_int_equal(
	    verify(bw_signer_key(G[BW_KEY_RSA]), MSG, sizeof(MSG) - 1, hex),
	    BW_ESIG);
	free(hex);
	bw_signer_free(b);
	EVP_PKEY_free(rsa);
	free(pem);
}

/* securesystemslib signs RSA-PSS with salt length = digest length (32). */
static void test_crypto_keyfile_sign__rsa_pss_salt_is_digest_len(void **state)
{
	struct bw_signer *s = G[BW_KEY_RSA];
	uint8_t *sig = NULL;
	size_t siglen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	(void)state;
	assert_int_equal(
	    s->ops->sign(s, MSG, sizeof(MSG) - 1, &sig, &siglen, NULL), 0);
	assert_int_equal(siglen, 512);
	for (int salt = 31; salt <= 33; salt++) {
		assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(),
						      NULL, s->key->pkey),
				 1);
		assert_int_equal(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
		    1);
		assert_int_equal(
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt),
				 1);
		assert_int_equal(EVP_DigestVerify(ctx, sig, siglen, MSG,
						  sizeof(MSG) - 1) == 1,
				 salt == 32);
	}
	EVP_MD_CTX_free(ctx);
	free(sig);
}

/* RFC 8032 7.1 TEST 1: the seed gives the known key and signature. */
static void test_crypto_keyfile_seed__rfc8032(void **state)
{
	static const uint8_t seed[32] = {
	    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
	    0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
	    0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
	};
	struct bw_signer *s = NULL;
	char *hex = NULL;

	(void)state;
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, &s, NULL),
			 0);
	assert_string_equal(
	    s->key->public,
	    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
	assert_int_equal(
	    bw_signer_sign_hex(s, (const uint8_t *)"", 0, &hex, NULL), 0);
	assert_string_equal(
	    hex,
	    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
	    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
	free(hex);
	bw_signer_free(s);
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(NULL, &s, NULL),
			 BW_EINVAL);
}

static void test_crypto_keyfile_save__load_roundtrip(void **state)
{
	char *path = tmp_path("k.pem"), *hex = NULL;
	struct bw_signer *s = NULL;
	struct bw_buf b;
	struct stat st;
	struct bw_err err = {0};

	(void)state;
	for (int t = BW_KEY_ED25519; t <= BW_KEY_RSA; t++) {
		assert_int_equal(bw_signer_keyfile_save(G[t], path, &err), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		bw_buf_init(&b, 1 << 16);
		assert_int_equal(bw_io_read_file(path, 1 << 16, &b, NULL), 0);
		assert_true(strncmp((const char *)b.data,
				    "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
		bw_buf_dispose_secret(&b);
		if (bw_signer_keyfile_load(path, 0, &s, &err) != 0)
			fail_msg("load: %s", err.msg);
		assert_string_equal(s->key->keyid, G[t]->key->keyid);
		assert_int_equal(bw_key_same_material(s->key, G[t]->key), 1);
		sign_ok(s, &hex);
		assert_int_equal(verify(G[t]->key, MSG, sizeof(MSG) - 1, hex),
				 0);
		free(hex);
		bw_signer_free(s);
		s = NULL;
	}
	/* A save replaces the old file whole. */
	assert_int_equal(bw_signer_keyfile_save(G[BW_KEY_ED25519], path, NULL),
			 0);
	assert_int_equal(bw_signer_keyfile_load(path, 0, &s, NULL), 0);
	assert_string_equal(s->key->keyid, G[BW_KEY_ED25519]->key->keyid);
	bw_signer_free(s);
	unlink(path);
	free(path);
}

static void test_crypto_keyfile_load__loose_mode_refused(void **state)
{
	static const mode_t loose[] = {0640, 0604, 0644, 0660,
				       0610, 0601, 0666};
	char *path = tmp_path("loose.pem");
	struct bw_signer *s = NULL;
	struct bw_err err = {0};

	(void)state;
	assert_int_equal(
	    bw_signer_keyfile_save(G[BW_KEY_ECDSA_P256], path, NULL), 0);
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		assert_int_equal(chmod(path, loose[i]), 0);
		assert_int_equal(bw_signer_keyfile_load(path, 0, &s, &err),
				 BW_EINVAL);
		assert_null(s);
		assert_non_null(strstr(err.msg, "group or others"));
		assert_int_equal(bw_signer_keyfile_load(path, 1, &s, NULL), 0);
		assert_string_equal(s->key->keyid,
				    G[BW_KEY_ECDSA_P256]->key->keyid);
		bw_signer_free(s);
		s = NULL;
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(bw_signer_keyfile_load(path, 0, &s, NULL), 0);
	bw_signer_free(s);
	unlink(path);
	free(path);
}

static void test_crypto_keyfile_load__file_errors(void **state)
{
	char *missing = tmp_path("missing.pem"), *junk = tmp_path("junk.pem");
	struct bw_signer *s = NULL;
	uint8_t *big = NULL;

	(void)state;
	assert_int_equal(bw_signer_keyfile_load(missing, 0, &s, NULL),
			 BW_ENOTFOUND);
	assert_int_equal(bw_signer_keyfile_load(tmpdir, 1, &s, NULL), BW_EIO);
	assert_int_equal(bw_io_write_atomic(junk, "hello\n", 6, 0600, NULL), 0);
	assert_int_equal(bw_signer_keyfile_load(junk, 0, &s, NULL), BW_EFORMAT);
	assert_int_equal(bw_io_write_atomic(junk, "", 0, 0600, NULL), 0);
	assert_int_equal(bw_signer_keyfile_load(junk, 0, &s, NULL), BW_EFORMAT);
	big = calloc(1, 65 * 1024);
	assert_non_null(big);
	assert_int_equal(bw_io_write_atomic(junk, big, 65 * 1024, 0600, NULL),
			 0);
	assert_int_equal(bw_signer_keyfile_load(junk, 0, &s, NULL), BW_ETOOBIG);
	assert_int_equal(bw_signer_keyfile_load_mem(big, 65 * 1024, &s, NULL),
			 BW_ETOOBIG);
	assert_null(s);
	free(big);
	unlink(junk);
	free(junk);
	free(missing);
}

/* Keys bulwark must not sign with, and PEMs that are no private key. */
static void test_crypto_keyfile_load_mem__rejects(void **state)
{
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	char *pem = NULL;
	struct bw_signer *s = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	(void)state;
	pem = bw_test_crypto_privkey_pem(p384);
	assert_int_equal(bw_signer_keyfile_load_mem(pem, strlen(pem), &s, NULL),
			 BW_EFORMAT);
	free(pem);
	pem = bw_test_crypto_privkey_pem(rsa1024);
	assert_int_equal(bw_signer_keyfile_load_mem(pem, strlen(pem), &s, NULL),
			 BW_EFORMAT);
	free(pem);
	/* A public key is not a private key. */
	pem = bw_test_crypto_pubkey_pem(G[BW_KEY_ED25519]->pkey);
	assert_int_equal(bw_signer_keyfile_load_mem(pem, strlen(pem), &s, NULL),
			 BW_EFORMAT);
	free(pem);
	/* Encrypted PKCS#8: refused, and no passphrase prompt on a terminal. */
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(
			     bio, G[BW_KEY_ED25519]->pkey, EVP_aes_256_cbc(),
			     NULL, 0, NULL, (void *)"secret"),
			 1);
	len = BIO_get_mem_data(bio, &data);
	assert_true(len > 0);
	assert_int_equal(
	    bw_signer_keyfile_load_mem(data, (size_t)len, &s, NULL),
	    BW_EFORMAT);
	assert_int_equal(bw_signer_keyfile_load_mem("", 0, &s, NULL),
			 BW_EFORMAT);
	assert_int_equal(bw_signer_keyfile_load_mem(NULL, 0, &s, NULL),
			 BW_EINVAL);
	assert_null(s);
	BIO_free(bio);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa1024);
}

static int disposed;

static void fake_dispose(struct bw_signer *s)
{
	(void)s;
	disposed++;
}

static int fake_sign(struct bw_signer *s, const uint8_t *msg, size_t msglen,
		     uint8_t **sig, size_t *siglen, struct bw_err *err)
{
	(void)s;
	(void)msg;
	(void)msglen;
	(void)sig;
	(void)siglen;
	return bw_err_set(err, BW_ECRYPTO, "token removed");
}

/* The interface: backends' dispose runs, errors pass up, save refuses. */
static void test_crypto_signer__other_backend(void **state)
{
	static const struct bw_signer_ops fake = {"fake", fake_sign,
						  fake_dispose};
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct bw_signer *s = NULL;
	struct bw_err err = {0};
	char *hex = NULL, *path = tmp_path("fake.pem");

	(void)state;
	assert_int_equal(bw_crypto__signer_new(&fake, pkey, NULL, &s, NULL), 0);
	assert_int_equal(bw_signer_sign_hex(s, MSG, 3, &hex, &err), BW_ECRYPTO);
	assert_string_equal(err.msg, "token removed");
	assert_null(hex);
	assert_int_equal(bw_signer_keyfile_save(s, path, NULL), BW_EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	bw_signer_free(s);
	assert_int_equal(disposed, 1);
	bw_signer_free(NULL);
	assert_null(bw_signer_key(NULL));
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crypto_keyfile_generate__sign_verify),
	    cmocka_unit_test(test_crypto_keyfile_sign__other_key_fails),
	    cmocka_unit_test(
		test_crypto_keyfile_sign__rsa_pss_salt_is_digest_len),
	    cmocka_unit_test(test_crypto_keyfile_seed__rfc8032),
	    cmocka_unit_test(test_crypto_keyfile_save__load_roundtrip),
	    cmocka_unit_test(test_crypto_keyfile_load__loose_mode_refused),
	    cmocka_unit_test(test_crypto_keyfile_load__file_errors),
	    cmocka_unit_test(test_crypto_keyfile_load_mem__rejects),
	    cmocka_unit_test(test_crypto_signer__other_backend),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
