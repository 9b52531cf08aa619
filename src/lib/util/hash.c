/*
 * Streaming SHA-256 / SHA-512 on OpenSSL EVP (include/bulwark/hash.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"

struct bw_hash {
	EVP_MD_CTX *ctx;
	enum bw_hash_alg alg;
};

int bw_hash_alg_from_name(const char *name, enum bw_hash_alg *alg)
{
	if (strcmp(name, "sha256") == 0) {
		*alg = BW_HASH_SHA256;
		return 0;
	}
	if (strcmp(name, "sha512") == 0) {
		*alg = BW_HASH_SHA512;
		return 0;
	}
	return BW_EUNSUPPORTED;
}

const char *bw_hash_alg_name(enum bw_hash_alg alg)
{
	return alg == BW_HASH_SHA512 ? "sha512" : "sha256";
}

size_t bw_hash_alg_len(enum bw_hash_alg alg)
{
	return alg == BW_HASH_SHA512 ? 64 : 32;
}

static const EVP_MD *hash_md(enum bw_hash_alg alg)
{
	return alg == BW_HASH_SHA512 ? EVP_sha512() : EVP_sha256();
}

int bw_hash_new(enum bw_hash_alg alg, struct bw_hash **out)
{
	struct bw_hash *h;

	*out = NULL;
	if (alg != BW_HASH_SHA256 && alg != BW_HASH_SHA512)
		return BW_EUNSUPPORTED;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return BW_ENOMEM;
	h->alg = alg;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, hash_md(alg), NULL) != 1) {
		bw_hash_free(h);
		return BW_ECRYPTO;
	}
	*out = h;
	return 0;
}

int bw_hash_update(struct bw_hash *h, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : BW_ECRYPTO;
}

int bw_hash_final(struct bw_hash *h, uint8_t *out)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 ||
	    n != bw_hash_alg_len(h->alg))
		return BW_ECRYPTO;
	return 0;
}

void bw_hash_free(struct bw_hash *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int bw_hash_buf(enum bw_hash_alg alg, const void *data, size_t len,
		uint8_t *out)
{
	unsigned int n = 0;

	if (alg != BW_HASH_SHA256 && alg != BW_HASH_SHA512)
		return BW_EUNSUPPORTED;
	if (EVP_Digest(data, len, out, &n, hash_md(alg), NULL) != 1)
		return BW_ECRYPTO;
	return 0;
}

int bw_hash_buf_hex(enum bw_hash_alg alg, const void *data, size_t len,
		    char *out)
{
	uint8_t d[BW_HASH_MAX_LEN];
	int rc;

	rc = bw_hash_buf(alg, data, len, d);
	if (rc != 0)
		return rc;
	bw_hex_encode(d, bw_hash_alg_len(alg), out);
	return 0;
}
