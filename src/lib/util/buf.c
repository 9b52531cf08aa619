/*
 * Bounded growable byte buffers (include/bulwark/buf.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"

void bw_buf_init(struct bw_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->secret = 0;
}

void bw_buf_init_secret(struct bw_buf *b, size_t max)
{
	bw_buf_init(b, max);
	b->secret = 1;
}

/* Make room for len more bytes plus the terminating NUL. */
static int buf_reserve(struct bw_buf *b, size_t len)
{
	size_t need, ncap;
	uint8_t *n;

	if (len > b->max || b->len > b->max - len)
		return BW_ETOOBIG;
	/* With max == SIZE_MAX the NUL's byte could wrap need to 0. */
	if (b->len + len == SIZE_MAX)
		return BW_ENOMEM;
	need = b->len + len + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	/* Never allocate far past the cap: max + 1 holds the NUL. */
	if (ncap > b->max + 1 && b->max < SIZE_MAX)
		ncap = b->max + 1 > need ? b->max + 1 : need;
	if (b->secret) {
		/* Not realloc: the old block is wiped before it is freed, so
		 * a secret leaves no copy behind when the buffer grows. */
		n = malloc(ncap);
		if (n == NULL)
			return BW_ENOMEM;
		if (b->data != NULL) {
			memcpy(n, b->data, b->len);
			OPENSSL_cleanse(b->data, b->cap);
			free(b->data);
		}
	} else {
		n = realloc(b->data, ncap);
		if (n == NULL)
			return BW_ENOMEM;
	}
	b->data = n;
	b->cap = ncap;
	return 0;
}

int bw_buf_append(struct bw_buf *b, const void *data, size_t len)
{
	int rc;

	if (len == 0 && b->data != NULL)
		return 0;
	rc = buf_reserve(b, len);
	if (rc != 0)
		return rc;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int bw_buf_append_str(struct bw_buf *b, const char *s)
{
	return bw_buf_append(b, s, strlen(s));
}

void bw_buf_reset(struct bw_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void bw_buf_dispose(struct bw_buf *b)
{
	if (b->secret && b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void bw_buf_dispose_secret(struct bw_buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	bw_buf_dispose(b);
}

int bw_buf_steal(struct bw_buf *b, uint8_t **out, size_t *len)
{
	int rc;

	if (b->data == NULL) {
		rc = buf_reserve(b, 0);
		if (rc != 0)
			return rc;
		b->data[0] = '\0';
	}
	*out = b->data;
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return 0;
}
