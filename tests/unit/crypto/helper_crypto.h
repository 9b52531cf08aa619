/*
 * Shared fixtures for the crypto unit tests (tests/unit/crypto/).
 */
#ifndef BW_TEST_HELPER_CRYPTO_H
#define BW_TEST_HELPER_CRYPTO_H

#include <jansson.h>
#include <openssl/evp.h>

/* Parse a JSON file (strict bw_json_parse); NULL on any failure. */
json_t *bw_test_crypto_load_json(const char *path);

/* {"keytype":..,"keyval":{"public":..},"scheme":..} (new reference). */
json_t *bw_test_crypto_key_obj(const char *keytype, const char *scheme,
			       const char *public);

/* PEM SubjectPublicKeyInfo of pkey, malloc'd NUL-terminated. */
char *bw_test_crypto_pubkey_pem(EVP_PKEY *pkey);

/* PKCS#8 PEM of a private pkey, malloc'd NUL-terminated. */
char *bw_test_crypto_privkey_pem(EVP_PKEY *pkey);

/* $BW_VECTORS/python-tuf if it exists, else NULL (tests then skip). */
const char *bw_test_crypto_vectors(void);

#endif
