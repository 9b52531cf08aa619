/* Private to src/lib/http: the fetcher's file:// backend. */
#ifndef BW_HTTP_PRIV_H
#define BW_HTTP_PRIV_H

#include <stdint.h>

#include "bulwark/fetch.h"

/*
 * Read a file:// URL from the file system with the fetch contract of
 * struct bw_fetcher (offset, max_len, sink, error codes).
 */
int bw_http__file_fetch(const char *url, uint64_t offset, uint64_t max_len,
			bw_fetch_sink_fn sink, void *sink_ctx,
			struct bw_err *err);

#endif
