/*
 * The signer interface shared by all backends, and signing with an
 * OpenSSL private key under a TUF scheme (include/bulwark/crypto.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "crypto_priv.h"

static int sign_init(EVP_MD_CTX *ctx, EVP_PKEY *pkey, enum bw_key_type type)
{
	EVP_PKEY_CTX *pctx = NULL;

	switch (type) {
	case BW_KEY_ED25519:
		return EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1;
	case BW_KEY_ECDSA_P256:
		return EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
					  pkey) == 1;
	case BW_KEY_RSA:
		/* securesystemslib's CryptoSigner: PSS.DIGEST_LENGTH salt. */
		return EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL,
					  pkey) == 1 &&
		       EVP_PKEY_CTX_set_rsa_padding(
			   pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
		       EVP_PKEY_CTX_set_rsa_pss_saltlen(
			   pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	}
	return 0;
}

int bw_crypto__pkey_sign(EVP_PKEY *pkey, enum bw_key_type type,
			 const uint8_t *msg, size_t msglen, uint8_t **sig,
			 size_t *siglen, struct bw_err *err)
{
	static const uint8_t empty[1];
	EVP_MD_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = BW_ECRYPTO;

	if (pkey == NULL || sig == NULL || siglen == NULL ||
	    (msg == NULL && msglen != 0))
		return bw_err_set(err, BW_EINVAL, "sign: NULL argument");
	if (msg == NULL)
		msg = empty;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (!sign_init(ctx, pkey, type) ||
	    EVP_DigestSign(ctx, NULL, &len, msg, msglen) != 1 || len == 0) {
		bw_err_set(err, rc, "signing setup failed");
		goto out;
	}
	buf = malloc(len);
	if (buf == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	/* ECDSA reports the maximum first; the DER may come out shorter. */
	if (EVP_DigestSign(ctx, buf, &len, msg, msglen) != 1) {
		bw_err_set(err, rc, "signing failed");
		goto out;
	}
	*sig = buf;
	*siglen = len;
	buf = NULL; /* transferred */
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

int bw_crypto__signer_new(const struct bw_signer_ops *ops, EVP_PKEY *pkey,
			  void *backend, struct bw_signer **out,
			  struct bw_err *err)
{
	struct bw_signer *s = NULL;
	struct bw_key *key = NULL;
	int rc;

	if (ops == NULL || pkey == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL, "signer: NULL argument");
	rc = bw_key_from_pkey(pkey, &key, err);
	if (rc != 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		bw_key_free(key);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	s->ops = ops;
	s->key = key;
	s->pkey = pkey;
	s->backend = backend;
	*out = s;
	return 0;
}

int bw_signer_sign_hex(struct bw_signer *s, const uint8_t *msg, size_t msglen,
		       char **sig_hex, struct bw_err *err)
{
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char *hex = NULL;
	int rc;

	if (s == NULL || s->ops == NULL || s->ops->sign == NULL ||
	    sig_hex == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "bw_signer_sign_hex: NULL argument");
	*sig_hex = NULL;
	rc = s->ops->sign(s, msg, msglen, &sig, &siglen, err);
	if (rc != 0)
		goto out;
	if (siglen == 0 || siglen > BW_CRYPTO__SIG_MAX) {
		rc = bw_err_set(err, BW_ECRYPTO,
				"backend returned %zu signature bytes", siglen);
		goto out;
	}
	hex = malloc(2 * siglen + 1);
	if (hex == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	bw_hex_encode(sig, siglen, hex);
	*sig_hex = hex;
	hex = NULL; /* transferred */
out:
	free(sig);
	free(hex);
	return rc;
}

const struct bw_key *bw_signer_key(const struct bw_signer *s)
{
	return s == NULL ? NULL : s->key;
}

void bw_signer_free(struct bw_signer *s)
{
	if (s == NULL)
		return;
	/* Backend first: it may need pkey to log out or close (or free it). */
	if (s->ops != NULL && s->ops->dispose != NULL)
		s->ops->dispose(s);
	bw_key_free(s->key);
	EVP_PKEY_free(s->pkey);
	free(s);
}
