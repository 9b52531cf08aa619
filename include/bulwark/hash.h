/*
 * Streaming SHA-256 / SHA-512 (OpenSSL EVP underneath).
 */
#ifndef BULWARK_HASH_H
#define BULWARK_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum bw_hash_alg {
	BW_HASH_SHA256 = 0,
	BW_HASH_SHA512 = 1,
};

#define BW_HASH_MAX_LEN 64 /* bytes of the largest digest */
#define BW_HASH_MAX_HEX (2 * BW_HASH_MAX_LEN + 1)

struct bw_hash; /* opaque streaming context */

/* TUF name ("sha256", "sha512") to alg. BW_EUNSUPPORTED otherwise. */
int bw_hash_alg_from_name(const char *name, enum bw_hash_alg *alg);
const char *bw_hash_alg_name(enum bw_hash_alg alg);
size_t bw_hash_alg_len(enum bw_hash_alg alg);

int bw_hash_new(enum bw_hash_alg alg, struct bw_hash **out);
int bw_hash_update(struct bw_hash *h, const void *data, size_t len);
/* Writes bw_hash_alg_len(alg) bytes to out. The context can not be reused. */
int bw_hash_final(struct bw_hash *h, uint8_t *out);
void bw_hash_free(struct bw_hash *h);

/* One-shot digest of a buffer; out holds bw_hash_alg_len(alg) bytes. */
int bw_hash_buf(enum bw_hash_alg alg, const void *data, size_t len,
		uint8_t *out);

/* One-shot digest of a buffer as lowercase hex (out holds BW_HASH_MAX_HEX). */
int bw_hash_buf_hex(enum bw_hash_alg alg, const void *data, size_t len,
		    char *out);

#ifdef __cplusplus
}
#endif
#endif
