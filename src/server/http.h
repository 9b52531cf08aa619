/*
 * bulwarkd's HTTP helpers (http.c): answers, bounded request bodies and
 * headers, and the parsers of request values shared by the listeners.
 */
#ifndef BW_SRV_HTTP_H
#define BW_SRV_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "storage.h"

struct evhttp_request;

/* Send a JSON body (stolen reference) with status code. */
void bw_srv_http_json(struct evhttp_request *req, int code, json_t *body);
/* Send {"error": msg} with code (msg is ours, never untrusted text). */
void bw_srv_http_error(struct evhttp_request *req, int code, const char *msg);
/* Send a status with an empty body. */
void bw_srv_http_status(struct evhttp_request *req, int code);
/* The request body as a contiguous buffer (NUL-terminated), or NULL. */
const uint8_t *bw_srv_http_body(struct evhttp_request *req, size_t *len);
/* A request header value (bounded: NULL if longer than max). */
const char *bw_srv_http_header(struct evhttp_request *req, const char *name,
			       size_t max);
/* Status code for a BW_E* code of an upload (400/404/409/500). */
int bw_srv_http_code(int rc);

/* Parse "bytes=a-b" / "bytes=a-" / "bytes=-n" against size. 0 and the
 * inclusive range, BW_ENOTFOUND for no usable range (serve all),
 * BW_EFORMAT if unsatisfiable (416). */
int bw_srv_range_parse(const char *h, uint64_t size, uint64_t *first,
		       uint64_t *last);


/* A device tag from x-ats-tags: first entry, [A-Za-z0-9._-], <= 128. */
int bw_srv_tag_parse(const char *h, char *out, size_t outlen);

/* A per-key budget of per_minute requests per clock minute on limiter,
 * counted in the database, so every worker and every gateway on it share
 * one budget (ratelimit.c). 1 if this request is within; 0 if over, or
 * if the count could not be kept (logged: refusing is the safe side). */
struct bw_srv;
int bw_srv_rate_ok(struct bw_srv *srv, const char *limiter, const char *key,
		   int64_t per_minute);
/* The same count inside the caller's open transaction (it commits with
 * the caller's writes): *within 1 if this request is within the budget.
 * Nonzero: the count failed (*within 0). */
int bw_srv_rate_count(struct bw_srv *srv, const char *limiter,
		      const char *key, int64_t per_minute, int *within,
		      struct bw_err *err);

#endif
