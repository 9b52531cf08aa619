/*
 * Internals shared by the files of the crypto module (key.c, signer.c and
 * the signer backends keyfile.c, pkcs11.c). Not part of the public API.
 */
#ifndef BULWARK_CRYPTO_PRIV_H
#define BULWARK_CRYPTO_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"

/* Smallest RSA modulus accepted anywhere (TUF keys, key files). */
#define BW_CRYPTO__RSA_MIN_BITS 2048
/* OpenSSL's own verification limit; bounds the cost of one verify. */
#define BW_CRYPTO__RSA_MAX_BITS 16384
/* Longest raw signature of any supported scheme (RSA-16384). */
#define BW_CRYPTO__SIG_MAX (BW_CRYPTO__RSA_MAX_BITS / 8)

/*
 * Check that pkey is usable under type (Ed25519; EC on P-256; RSA with
 * BW_CRYPTO__RSA_MIN_BITS..MAX_BITS). BW_EFORMAT with a message otherwise.
 */
int bw_crypto__pkey_check(EVP_PKEY *pkey, enum bw_key_type type,
			  struct bw_err *err);

/* The bw_key_type matching an OpenSSL key, or BW_EUNSUPPORTED. */
int bw_crypto__pkey_type(EVP_PKEY *pkey, enum bw_key_type *type,
			 struct bw_err *err);

/*
 * Sign msg with a private pkey under the TUF scheme of type (ed25519 raw;
 * ECDSA P-256 SHA-256 DER; RSA-PSS SHA-256, MGF1-SHA256, salt = digest
 * length). *sig is malloc'd (caller frees), *siglen its length. Usable by
 * every backend whose key OpenSSL can drive (files, PKCS#11 engine keys).
 */
int bw_crypto__pkey_sign(EVP_PKEY *pkey, enum bw_key_type type,
			 const uint8_t *msg, size_t msglen, uint8_t **sig,
			 size_t *siglen, struct bw_err *err);

/*
 * Allocate a signer around pkey for the given backend: derives the public
 * bw_key. On success pkey and backend are owned by the signer (transferred);
 * on failure the caller still owns both.
 */
int bw_crypto__signer_new(const struct bw_signer_ops *ops, EVP_PKEY *pkey,
			  void *backend, struct bw_signer **out,
			  struct bw_err *err);

#endif
