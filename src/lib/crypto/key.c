/*
 * TUF public keys: parsing key objects, key ids, encoding keys the way
 * python-tuf/securesystemslib do, and signature verification
 * (include/bulwark/crypto.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "crypto_priv.h"

/* PEM SPKI of RSA-16384 is about 2.9 KB; far beyond that is hostile. */
#define KEY_PUBLIC_MAX (16u * 1024u)
#define ED25519_RAW_LEN 32
#define ED25519_SIG_LEN 64
/* DER SEQUENCE of two INTEGERs of at most 33 bytes each. */
#define ECDSA_P256_SIG_MAX 72

static const char PEM_PUBKEY_BEGIN[] = "-----BEGIN PUBLIC KEY-----";

struct scheme_entry {
	const char *keytype;
	const char *scheme;
	enum bw_key_type type;
};

/* The first entry per type is what bulwark (and python-tuf) writes. */
static const struct scheme_entry SCHEMES[] = {
    {"ed25519", "ed25519", BW_KEY_ED25519},
    {"ecdsa", "ecdsa-sha2-nistp256", BW_KEY_ECDSA_P256},
    {"rsa", "rsassa-pss-sha256", BW_KEY_RSA},
    /* Older securesystemslib wrote the scheme as keytype; still accepted. */
    {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", BW_KEY_ECDSA_P256},
};

static const struct scheme_entry *scheme_for_type(enum bw_key_type type)
{
	size_t i;

	for (i = 0; i < sizeof(SCHEMES) / sizeof(SCHEMES[0]); i++)
		if (SCHEMES[i].type == type)
			return &SCHEMES[i];
	return NULL;
}

int bw_key_type_from_name(const char *name, enum bw_key_type *out)
{
	size_t i;

	if (name == NULL || out == NULL)
		return BW_EINVAL;
	for (i = 0; i < sizeof(SCHEMES) / sizeof(SCHEMES[0]); i++) {
		if (strcmp(SCHEMES[i].keytype, name) == 0) {
			*out = SCHEMES[i].type;
			return 0;
		}
	}
	return BW_EUNSUPPORTED;
}

static int scheme_lookup(const char *keytype, const char *scheme,
			 enum bw_key_type *type, struct bw_err *err)
{
	size_t i;

	for (i = 0; i < sizeof(SCHEMES) / sizeof(SCHEMES[0]); i++) {
		if (strcmp(SCHEMES[i].keytype, keytype) == 0 &&
		    strcmp(SCHEMES[i].scheme, scheme) == 0) {
			*type = SCHEMES[i].type;
			return 0;
		}
	}
	return bw_err_set(err, BW_EUNSUPPORTED,
			  "unsupported key type/scheme \"%.40s\"/\"%.40s\"",
			  keytype, scheme);
}

/* A string member without embedded NULs (they would hide text from C). */
static const char *json_str_member(const json_t *obj, const char *name,
				   size_t *len)
{
	const json_t *v = json_object_get(obj, name);
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	*len = json_string_length(v);
	if (strlen(s) != *len)
		return NULL;
	return s;
}

int bw_crypto__pkey_type(EVP_PKEY *pkey, enum bw_key_type *type,
			 struct bw_err *err)
{
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
		*type = BW_KEY_ED25519;
		return 0;
	case EVP_PKEY_EC:
		*type = BW_KEY_ECDSA_P256;
		return 0;
	case EVP_PKEY_RSA:
		*type = BW_KEY_RSA;
		return 0;
	default:
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "unsupported key algorithm %.40s",
				  EVP_PKEY_get0_type_name(pkey)
				      ? EVP_PKEY_get0_type_name(pkey)
				      : "?");
	}
}

static int ec_check(EVP_PKEY *pkey, struct bw_err *err)
{
	char name[64];
	size_t len = 0;

	if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1 ||
	    strcmp(name, SN_X9_62_prime256v1) != 0) {
		ERR_clear_error();
		return bw_err_set(err, BW_EFORMAT, "ecdsa key is not on P-256");
	}
	/*
	 * Explicit curve parameters are a classic source of parser bugs and
	 * never what TUF tools write. Keys that cannot report an encoding
	 * (engine keys) are named by construction.
	 */
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
					   name, sizeof(name), &len) == 1 &&
	    strcmp(name, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
		return bw_err_set(err, BW_EFORMAT,
				  "ecdsa key uses explicit curve parameters");
	ERR_clear_error();
	return 0;
}

int bw_crypto__pkey_check(EVP_PKEY *pkey, enum bw_key_type type,
			  struct bw_err *err)
{
	enum bw_key_type actual;
	int bits, rc;

	rc = bw_crypto__pkey_type(pkey, &actual, err);
	if (rc != 0)
		return rc == BW_EUNSUPPORTED ? BW_EFORMAT : rc;
	if (actual != type)
		return bw_err_set(
		    err, BW_EFORMAT,
		    "key material (%.40s) does not match key type",
		    EVP_PKEY_get0_type_name(pkey));
	switch (type) {
	case BW_KEY_ED25519:
		return 0;
	case BW_KEY_ECDSA_P256:
		return ec_check(pkey, err);
	case BW_KEY_RSA:
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < BW_CRYPTO__RSA_MIN_BITS ||
		    bits > BW_CRYPTO__RSA_MAX_BITS)
			return bw_err_set(err, BW_EFORMAT,
					  "rsa key of %d bits (need %d..%d)",
					  bits, BW_CRYPTO__RSA_MIN_BITS,
					  BW_CRYPTO__RSA_MAX_BITS);
		return 0;
	}
	return bw_err_set(err, BW_EINVAL, "unknown key type %d", (int)type);
}

static int parse_ed25519(const char *pub, size_t len, EVP_PKEY **out,
			 struct bw_err *err)
{
	uint8_t raw[ED25519_RAW_LEN];

	if (len != 2 * ED25519_RAW_LEN ||
	    bw_hex_decode(pub, len, raw, sizeof(raw)) != 0)
		return bw_err_set(
		    err, BW_EFORMAT,
		    "ed25519 public key is not 64 hex characters");
	*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
					   sizeof(raw));
	if (*out == NULL) {
		ERR_clear_error();
		return bw_err_set(err, BW_ECRYPTO, "ed25519 key import failed");
	}
	return 0;
}

/*
 * One PEM "PUBLIC KEY" block into a provider key. Not PEM_read_bio_PUBKEY:
 * its legacy path binds the key to any ENGINE registered for the
 * algorithm, and once a process has used a PKCS#11 engine key (the
 * device's TLS client key) such keys can no longer be checked
 * (EVP_PKEY_public_check: "operation not supported for this keytype").
 * Provider decoders never involve an engine.
 */
static int decode_pem_spki(BIO *bio, EVP_PKEY **out)
{
	OSSL_DECODER_CTX *dctx = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long len = 0;
	size_t left;
	int rc = BW_EFORMAT;

	*out = NULL;
	if (PEM_read_bio(bio, &name, &header, &der, &len) != 1 ||
	    strcmp(name, "PUBLIC KEY") != 0 || header[0] != '\0' || len <= 0)
		goto out;
	dctx = OSSL_DECODER_CTX_new_for_pkey(out, "DER", "SubjectPublicKeyInfo",
					     NULL, EVP_PKEY_PUBLIC_KEY, NULL,
					     NULL);
	p = der;
	left = (size_t)len;
	if (dctx != NULL && OSSL_DECODER_from_data(dctx, &p, &left) == 1 &&
	    left == 0 && *out != NULL)
		rc = 0;
out:
	if (rc != 0) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return rc;
}

/* Exactly one PEM "PUBLIC KEY" block, nothing but whitespace after it. */
static int parse_pem_spki(const char *pub, size_t len, EVP_PKEY **out,
			  struct bw_err *err)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	char *rest = NULL;
	long restlen, i;
	int rc = BW_EFORMAT;

	if (len < sizeof(PEM_PUBKEY_BEGIN) - 1 ||
	    memcmp(pub, PEM_PUBKEY_BEGIN, sizeof(PEM_PUBKEY_BEGIN) - 1) != 0) {
		bw_err_set(err, rc, "public key is not a PEM PUBLIC KEY");
		goto out;
	}
	bio = BIO_new_mem_buf(pub, (int)len);
	if (bio == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (decode_pem_spki(bio, &pkey) != 0) {
		bw_err_set(err, rc, "public key PEM does not parse");
		goto out;
	}
	restlen = BIO_get_mem_data(bio, &rest);
	for (i = 0; i < restlen; i++) {
		if (strchr(" \t\r\n", rest[i]) == NULL) {
			bw_err_set(err, rc, "data after the public key PEM");
			goto out;
		}
	}
	*out = pkey;
	pkey = NULL; /* transferred */
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

/* Point validity for EC keys (the decoder checks the curve equation). */
static int ec_public_check(EVP_PKEY *pkey, struct bw_err *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok;

	if (ctx == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	ok = EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return bw_err_set(err, BW_EFORMAT,
				  "invalid ecdsa public point");
	}
	return 0;
}

/*
 * SPKI DER identifies the material. EC points are re-encoded uncompressed
 * so one key written two ways still compares equal.
 */
static int key_set_spki(struct bw_key *key, struct bw_err *err)
{
	/*
	 * RFC 8410: an Ed25519 SubjectPublicKeyInfo is this fixed prefix
	 * and the 32 raw key bytes, exactly what i2d_PUBKEY writes. Built
	 * here because i2d_PUBKEY looks up OpenSSL's encoders on every
	 * call, which costs more CPU than verifying a signature and runs
	 * for every key of every root a client loads.
	 */
	static const uint8_t ed25519_spki[] = {0x30, 0x2a, 0x30, 0x05, 0x06,
					       0x03, 0x2b, 0x65, 0x70, 0x03,
					       0x21, 0x00};
	uint8_t *p = NULL;
	int len;

	if (key->type == BW_KEY_ED25519) {
		size_t raw_len = ED25519_RAW_LEN;

		p = OPENSSL_malloc(sizeof(ed25519_spki) + ED25519_RAW_LEN);
		if (p == NULL)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		memcpy(p, ed25519_spki, sizeof(ed25519_spki));
		if (EVP_PKEY_get_raw_public_key(key->pkey,
						p + sizeof(ed25519_spki),
						&raw_len) != 1 ||
		    raw_len != ED25519_RAW_LEN) {
			OPENSSL_free(p);
			ERR_clear_error();
			return bw_err_set(err, BW_ECRYPTO,
					  "ed25519 public key export failed");
		}
		key->spki = p;
		key->spki_len = sizeof(ed25519_spki) + ED25519_RAW_LEN;
		return 0;
	}
	if (key->type == BW_KEY_ECDSA_P256 &&
	    EVP_PKEY_set_utf8_string_param(
		key->pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
		ERR_clear_error();
		return bw_err_set(err, BW_ECRYPTO,
				  "ec point format not settable");
	}
	len = i2d_PUBKEY(key->pkey, &p);
	if (len <= 0) {
		ERR_clear_error();
		return bw_err_set(err, BW_ECRYPTO,
				  "public key DER encoding failed");
	}
	key->spki = p;
	key->spki_len = (size_t)len;
	return 0;
}

static int key_set_id(struct bw_key *key, const json_t *obj, struct bw_err *err)
{
	uint8_t *canon = NULL;
	size_t canon_len = 0;
	char hex[BW_HASH_MAX_HEX];
	int rc;

	rc = bw_json_canonical_alloc(obj, &canon, &canon_len, err);
	if (rc != 0)
		goto out;
	rc = bw_hash_buf_hex(BW_HASH_SHA256, canon, canon_len, hex);
	if (rc != 0) {
		bw_err_set(err, rc, "sha256 failed");
		goto out;
	}
	memcpy(key->keyid, hex, BW_KEYID_HEX_LEN);
	key->keyid[BW_KEYID_HEX_LEN] = '\0';
out:
	free(canon);
	return rc;
}

static int key_parse_material(struct bw_key *key, size_t publen,
			      struct bw_err *err)
{
	int rc;

	if (key->type == BW_KEY_ED25519)
		rc = parse_ed25519(key->public, publen, &key->pkey, err);
	else
		rc = parse_pem_spki(key->public, publen, &key->pkey, err);
	if (rc != 0)
		return rc;
	rc = bw_crypto__pkey_check(key->pkey, key->type, err);
	if (rc == 0 && key->type == BW_KEY_ECDSA_P256)
		rc = ec_public_check(key->pkey, err);
	if (rc == 0)
		rc = key_set_spki(key, err);
	return rc;
}

int bw_key_from_json(const json_t *obj, struct bw_key **out, struct bw_err *err)
{
	struct bw_key *key = NULL;
	const char *keytype, *scheme, *pub;
	size_t len, publen = 0;
	int rc = BW_EFORMAT;

	if (obj == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "bw_key_from_json: NULL argument");
	*out = NULL;
	if (!json_is_object(obj)) {
		bw_err_set(err, rc, "key is not an object");
		goto out;
	}
	keytype = json_str_member(obj, "keytype", &len);
	scheme = json_str_member(obj, "scheme", &len);
	pub =
	    json_str_member(json_object_get(obj, "keyval"), "public", &publen);
	if (keytype == NULL || scheme == NULL) {
		bw_err_set(err, rc, "key needs string keytype and scheme");
		goto out;
	}
	if (!json_is_object(json_object_get(obj, "keyval")) || pub == NULL) {
		bw_err_set(err, rc,
			   "keyval must be an object with string public");
		goto out;
	}
	if (publen > KEY_PUBLIC_MAX) {
		rc = bw_err_set(err, BW_ETOOBIG, "public key of %zu bytes",
				publen);
		goto out;
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = scheme_lookup(keytype, scheme, &key->type, err);
	if (rc != 0)
		goto out;
	key->keytype = strdup(keytype);
	key->scheme = strdup(scheme);
	key->public = strdup(pub);
	if (key->keytype == NULL || key->scheme == NULL ||
	    key->public == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = key_parse_material(key, publen, err);
	if (rc == 0)
		rc = key_set_id(key, obj, err);
	if (rc != 0)
		goto out;
	*out = key;
	key = NULL; /* transferred */
out:
	bw_key_free(key);
	return rc;
}

int bw_key_to_json(const struct bw_key *key, json_t **out, struct bw_err *err)
{
	if (key == NULL || out == NULL || key->keytype == NULL ||
	    key->scheme == NULL || key->public == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "bw_key_to_json: NULL argument");
	*out =
	    json_pack("{s:s, s:{s:s}, s:s}", "keytype", key->keytype, "keyval",
		      "public", key->public, "scheme", key->scheme);
	if (*out == NULL)
		return bw_err_set(err, BW_ENOMEM, "building key JSON failed");
	return 0;
}

/*
 * The PEM python-tuf writes: SubjectPublicKeyInfo, EC points uncompressed.
 * Works on a public-only copy so the caller's key is never modified.
 */
static int pkey_public_pem(EVP_PKEY *pkey, enum bw_key_type type, char **out,
			   struct bw_err *err)
{
	uint8_t *der = NULL;
	const uint8_t *p;
	EVP_PKEY *pub = NULL;
	BIO *bio = NULL;
	char *data = NULL;
	long len;
	int derlen, rc = BW_ECRYPTO;

	derlen = i2d_PUBKEY(pkey, &der);
	p = der;
	if (derlen <= 0 || (pub = d2i_PUBKEY(NULL, &p, derlen)) == NULL)
		goto fail;
	if (type == BW_KEY_ECDSA_P256 &&
	    EVP_PKEY_set_utf8_string_param(
		pub, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1)
		goto fail;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pub) != 1)
		goto fail;
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0 || (*out = strndup(data, (size_t)len)) == NULL)
		goto fail;
	rc = 0;
	goto out;
fail:
	ERR_clear_error();
	bw_err_set(err, rc, "encoding the public key as PEM failed");
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	BIO_free(bio);
	return rc;
}

static int pkey_public_text(EVP_PKEY *pkey, enum bw_key_type type, char **out,
			    struct bw_err *err)
{
	uint8_t raw[ED25519_RAW_LEN];
	size_t len = sizeof(raw);

	if (type != BW_KEY_ED25519)
		return pkey_public_pem(pkey, type, out, err);
	if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 ||
	    len != sizeof(raw)) {
		ERR_clear_error();
		return bw_err_set(err, BW_ECRYPTO,
				  "ed25519 public key export failed");
	}
	*out = malloc(2 * sizeof(raw) + 1);
	if (*out == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	bw_hex_encode(raw, sizeof(raw), *out);
	return 0;
}

int bw_key_from_pkey(EVP_PKEY *pkey, struct bw_key **out, struct bw_err *err)
{
	const struct scheme_entry *names;
	enum bw_key_type type;
	char *text = NULL;
	json_t *obj = NULL;
	int rc;

	if (pkey == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "bw_key_from_pkey: NULL argument");
	*out = NULL;
	rc = bw_crypto__pkey_type(pkey, &type, err);
	if (rc == 0)
		rc = bw_crypto__pkey_check(pkey, type, err);
	if (rc == 0)
		rc = pkey_public_text(pkey, type, &text, err);
	if (rc != 0)
		goto out;
	names = scheme_for_type(type);
	obj = json_pack("{s:s, s:{s:s}, s:s}", "keytype", names->keytype,
			"keyval", "public", text, "scheme", names->scheme);
	if (obj == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "building key JSON failed");
		goto out;
	}
	/* One parser for every key keeps ids and checks identical. */
	rc = bw_key_from_json(obj, out, err);
out:
	json_decref(obj);
	free(text);
	return rc;
}

void bw_key_free(struct bw_key *key)
{
	if (key == NULL)
		return;
	free(key->keytype);
	free(key->scheme);
	free(key->public);
	EVP_PKEY_free(key->pkey);
	OPENSSL_free(key->spki);
	free(key);
}

int bw_key_same_material(const struct bw_key *a, const struct bw_key *b)
{
	if (a == NULL || b == NULL || a->spki == NULL || b->spki == NULL)
		return 0;
	return a->spki_len == b->spki_len &&
	       CRYPTO_memcmp(a->spki, b->spki, a->spki_len) == 0;
}

/*
 * Set up ctx for key's scheme. BW_ESIG if siglen can not be a signature
 * of this scheme, so hostile lengths never reach the primitives.
 */
static int verify_init(const struct bw_key *key, EVP_MD_CTX *ctx, size_t siglen,
		       struct bw_err *err)
{
	EVP_PKEY_CTX *pctx = NULL;

	switch (key->type) {
	case BW_KEY_ED25519:
		if (siglen != ED25519_SIG_LEN)
			return bw_err_set(err, BW_ESIG,
					  "ed25519 signature of %zu bytes",
					  siglen);
		if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) != 1)
			break;
		return 0;
	case BW_KEY_ECDSA_P256:
		if (siglen > ECDSA_P256_SIG_MAX)
			return bw_err_set(err, BW_ESIG,
					  "ecdsa signature of %zu bytes",
					  siglen);
		if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
					 key->pkey) != 1)
			break;
		return 0;
	case BW_KEY_RSA:
		/* RFC 8017 8.1.2 step 1: exactly k bytes (go-tuf too). */
		if (siglen != (size_t)EVP_PKEY_get_size(key->pkey))
			return bw_err_set(err, BW_ESIG,
					  "rsa signature of %zu bytes", siglen);
		if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL,
					 key->pkey) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) !=
			1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
						     RSA_PSS_SALTLEN_AUTO) != 1)
			break;
		return 0;
	default:
		return bw_err_set(err, BW_EINVAL, "unknown key type %d",
				  (int)key->type);
	}
	ERR_clear_error();
	return bw_err_set(err, BW_ECRYPTO, "verification setup failed");
}

int bw_key_verify(const struct bw_key *key, const uint8_t *msg, size_t msglen,
		  const char *sig_hex, size_t sig_hex_len, struct bw_err *err)
{
	static const uint8_t empty[1];
	EVP_MD_CTX *ctx = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int rc = BW_ESIG;

	if (key == NULL || key->pkey == NULL || sig_hex == NULL ||
	    (msg == NULL && msglen != 0))
		return bw_err_set(err, BW_EINVAL,
				  "bw_key_verify: NULL argument");
	if (msg == NULL)
		msg = empty;
	if (sig_hex_len == 0 || sig_hex_len > 2 * (size_t)BW_CRYPTO__SIG_MAX) {
		bw_err_set(err, rc, "signature of %zu hex characters",
			   sig_hex_len);
		goto out;
	}
	if (bw_hex_decode_alloc(sig_hex, sig_hex_len, &sig, &siglen) != 0) {
		bw_err_set(err, rc, "signature is not hex");
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = verify_init(key, ctx, siglen, err);
	if (rc != 0)
		goto out;
	/* 0: bad signature; < 0: malformed input (bad DER, ...). */
	if (EVP_DigestVerify(ctx, sig, siglen, msg, msglen) != 1) {
		ERR_clear_error();
		rc = bw_err_set(err, BW_ESIG, "%s signature does not verify",
				key->scheme ? key->scheme : "?");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(sig);
	return rc;
}
