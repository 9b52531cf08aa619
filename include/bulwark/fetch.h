/*
 * Transport for the TUF client: an injected fetch callback, and the default
 * libcurl implementation.
 */
#ifndef BULWARK_FETCH_H
#define BULWARK_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/buf.h"
#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives body bytes as they arrive; non-zero return aborts the transfer. */
typedef int (*bw_fetch_sink_fn)(void *ctx, const uint8_t *data, size_t len);

struct bw_fetcher {
	/*
	 * Fetch url, starting at byte offset (0: whole body; else an HTTP Range
	 * request; a server that answers it with the whole body gives
	 * BW_ENORANGE and no bytes reach the sink). Body bytes go
	 * to sink. The transfer stops with BW_ETOOBIG as soon as more than
	 * max_len bytes would be delivered. Returns 0, BW_ENOTFOUND for HTTP
	 * 404 and 403, BW_ENET for any other failure (timeouts included), or the
	 * sink's non-zero return.
	 */
	int (*fetch)(struct bw_fetcher *f, const char *url, uint64_t offset,
		     uint64_t max_len, bw_fetch_sink_fn sink, void *sink_ctx,
		     struct bw_err *err);
	void (*free)(struct bw_fetcher *f);
	void *ctx;
};

/* Options of the libcurl fetcher. Zero/NULL fields take defaults. */
struct bw_http_opts {
	const char *ca_file;   /* trust anchors for https (default: system) */
	const char *cert_file; /* client certificate (PEM) for mutual TLS */
	const char *key_file;  /* client key (PEM) for mutual TLS */
	const char *const *headers; /* NULL-terminated "Name: value" list */
	long connect_timeout_s;  /* default 10 */
	long total_timeout_s;    /* default 0 = none; slow-retrieval guard below */
	long low_speed_bytes;    /* default 1024 bytes/s ... */
	long low_speed_time_s;   /* ... averaged over 30 s, else BW_ENET */
	const char *user_agent;  /* default "bulwark/<version>" */
	/*
	 * Client key for mutual TLS as an OpenSSL EVP_PKEY * (borrowed; must
	 * outlive the fetcher), e.g. bw_pkcs11_signer_open()'s signer->pkey, so
	 * a key that lives in a token signs the handshake without ever being
	 * exported. Needs cert_file (the certificate chain, PEM); key_file must
	 * then be NULL. Set on the SSL_CTX through CURLOPT_SSL_CTX_FUNCTION.
	 */
	void *client_pkey;
};

/*
 * New libcurl fetcher for http://, https:// and file:// URLs (file:// serves
 * an exported repository from a directory, e.g. an offline bundle). Reuses
 * one connection (and TLS session) per fetcher.
 */
int bw_http_fetcher_new(const struct bw_http_opts *opts, struct bw_fetcher **out,
			struct bw_err *err);

/* A request with a body (registration, event upload). */
struct bw_http_request {
	const char *method;         /* NULL: "POST" */
	const char *url;
	const char *content_type;   /* NULL: "application/json" */
	const char *const *headers; /* extra "Name: value", NULL-terminated */
	const void *body;
	size_t body_len;
	size_t max_response;        /* 0: 1 MiB; larger bodies: BW_ETOOBIG */
};

/*
 * Send req on a fetcher made by bw_http_fetcher_new (BW_EINVAL for any
 * other fetcher), on its connection and TLS session, with its options
 * (CA, client certificate and key, headers, timeouts). *status receives
 * the HTTP status and resp (initialised by the caller) the response body
 * whatever the status. Returns 0 when a response arrived (check *status),
 * BW_ENET when none did, BW_ETOOBIG for an oversized response.
 */
int bw_http_request(struct bw_fetcher *f, const struct bw_http_request *req,
		    long *status, struct bw_buf *resp, struct bw_err *err);

/* Free any fetcher (calls its free op). NULL is a no-op. */
void bw_fetcher_free(struct bw_fetcher *f);

#ifdef __cplusplus
}
#endif
#endif
