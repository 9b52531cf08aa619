/*
 * Fuzz target for the fetcher's file:// URLs (src/lib/http/file.c): the
 * URL is "file://" followed by the input (cut at the first NUL, at most
 * 4 KiB), fetched with a size cap of 64 bytes into a sink that counts.
 *
 * For every input:
 *   - fetch returns 0, BW_ENOTFOUND, BW_EINVAL, BW_ETOOBIG, BW_ENORANGE
 *     or BW_ENET;
 *   - never more than 64 bytes reach the sink, and none when the URL is
 *     refused (BW_EINVAL);
 *   - an error carries a message.
 * Any violation abort()s. Files are only read, never written.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/fetch.h"

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *ctx, const uint8_t *d, size_t len)
{
	(void)d;
	*(size_t *)ctx += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bw_fetcher *f;
	char url[7 + 4096 + 1] = "file://";
	struct bw_err err = {0};
	size_t n = size < 4096 ? size : 4096, got = 0;
	int rc;

	if (f == NULL && bw_http_fetcher_new(NULL, &f, NULL) != 0)
		abort();
	memcpy(url + 7, data, n);
	url[7 + n] = '\0';
	rc = f->fetch(f, url, 0, CAP, count, &got, &err);
	if (rc != 0 && rc != BW_ENOTFOUND && rc != BW_EINVAL &&
	    rc != BW_ETOOBIG && rc != BW_ENORANGE && rc != BW_ENET) {
		fprintf(stderr, "fuzz_http_file_url: unexpected %d\n", rc);
		abort();
	}
	if (got > CAP || (rc == BW_EINVAL && got != 0) ||
	    (rc != 0 && err.msg[0] == '\0')) {
		fprintf(stderr, "fuzz_http_file_url: %zu bytes, rc %d\n", got,
			rc);
		abort();
	}
	return 0;
}
