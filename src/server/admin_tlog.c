/*
 * The transparency log on the admin API (read-only, behind the admin
 * token like every admin route):
 *   GET /log/checkpoint                      the newest signed checkpoint
 *   GET /log/entries?start=S&end=E           entries S..E-1 (at most 1000)
 *   GET /log/proof/inclusion?index=I&size=N  RFC 9162 inclusion proof
 *   GET /log/proof/consistency?old=M&size=N  RFC 9162 consistency proof
 *   PUT /log/witnessed                       a witnessed checkpoint
 * and on the gateway (devices, mutual TLS):
 *   GET /log/release?sha256=HEX              binary transparency proof
 * docs/transparency-log.md describes the formats.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "admin.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "translog.h"

#define ENTRIES_MAX 1000

/* A query number: decimal digits only, 0 .. 2^62. -1 if absent or bad. */
static int64_t qnum(struct evkeyvalq *q, const char *k)
{
	const char *v = evhttp_find_header(q, k);
	int64_t n = 0;
	size_t i;

	if (!v || !v[0] || strlen(v) > 19)
		return -1;
	for (i = 0; v[i]; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
		if (n > ((int64_t)1 << 62))
			return -1;
	}
	return n;
}

int bw_srv_admin_log_checkpoint(struct bw_srv *srv, char **note, size_t *len,
				struct bw_err *err)
{
	int rc;

	*note = NULL;
	if (!srv->log_key)
		return bw_err_set(err, BW_ENOTFOUND, "no log key configured");
	rc = bw_srv_tlog_checkpoint(srv->store, srv->log_key, srv->log_origin,
				    time(NULL), note, len, err);
	if (rc)
		bw_srv_log(BW_SRV_LOG_ERR, "log: checkpoint: %s", err->msg);
	return rc;
}

static void checkpoint(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	char *note = NULL;
	size_t len = 0;
	int rc = bw_srv_admin_log_checkpoint(srv, &note, &len, &err);

	if (rc == BW_ENOTFOUND) {
		bw_srv_http_error(req, 503, "no log key configured");
		return;
	}
	if (rc) {
		bw_srv_http_error(req, 500, "checkpoint failed");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain; charset=utf-8");
	evbuffer_add(evhttp_request_get_output_buffer(req), note, len);
	evhttp_send_reply(req, 200, "OK", NULL);
	free(note);
}

int bw_srv_admin_log_entries(struct bw_srv *srv, int64_t start, int64_t end,
			     json_t **out, struct bw_err *err)
{
	struct bw_store *st = srv->store;
	uint64_t size = 0, i;
	json_t *arr = json_array();
	int rc = st->ops->tlog_size(st, &size, err);

	*out = NULL;
	if (!rc && !arr)
		rc = BW_ENOMEM;
	if (rc) {
		json_decref(arr);
		return rc;
	}
	if (end < 0 || (uint64_t)end > size)
		end = (int64_t)size;
	if (start < 0 || start > end) {
		json_decref(arr);
		return bw_err_set(err, BW_EFORMAT,
				  "need start <= end <= tree size");
	}
	if (end - start > ENTRIES_MAX)
		end = start + ENTRIES_MAX;
	for (i = (uint64_t)start; i < (uint64_t)end; i++) {
		uint8_t *e = NULL;
		char *b64 = NULL;
		size_t len = 0;

		rc = st->ops->tlog_leaf_get(st, i, BW_TLOG_ENTRY_MAX, &e, &len,
					    err);
		if (rc == 0)
			rc = bw_tlog_b64_encode(e, len, &b64);
		free(e);
		if (rc == 0 &&
		    json_array_append_new(arr, json_pack("{s:I, s:s}", "index",
							 (json_int_t)i, "entry",
							 b64)))
			rc = BW_ENOMEM;
		free(b64);
		if (rc) {
			/* a gap is what a deleted entry looks like: say so */
			bw_srv_log(BW_SRV_LOG_ERR, "log: entry %llu: %s",
				   (unsigned long long)i, err->msg);
			rc = 0;
			break;
		}
	}
	*out = json_pack("{s:I, s:I, s:o}", "start", (json_int_t)start, "size",
			 (json_int_t)size, "entries", arr);
	return *out ? 0 : BW_ENOMEM;
}

static void entries(struct bw_srv *srv, struct evhttp_request *req,
		    struct evkeyvalq *q)
{
	struct bw_err err = {0};
	json_t *out = NULL;
	int rc = bw_srv_admin_log_entries(srv, qnum(q, "start"),
					  qnum(q, "end"), &out, &err);

	if (rc == BW_EFORMAT)
		bw_srv_http_error(req, 400, "need start <= end <= tree size");
	else if (rc)
		bw_srv_http_error(req, 500, "log unreadable");
	else
		bw_srv_http_json(req, 200, out);
}

static void proof(struct bw_srv *srv, struct evhttp_request *req,
		  struct evkeyvalq *q, int inclusion)
{
	struct bw_store *st = srv->store;
	struct bw_err err = {0};
	struct bw_tlog_reader r;
	struct bw_tlog_proof *p = calloc(1, sizeof(*p));
	int64_t a = qnum(q, inclusion ? "index" : "old"), n = qnum(q, "size");
	uint64_t size = 0;
	json_t *hashes;
	int rc = p ? st->ops->tlog_size(st, &size, &err) : BW_ENOMEM;

	if (rc) {
		bw_srv_http_error(req, 500, "log unreadable");
		goto out;
	}
	if (a < 0 || n < 1 || (uint64_t)n > size ||
	    (inclusion ? a >= n : (a < 1 || a > n))) {
		bw_srv_http_error(req, 400, inclusion
				  ? "need 0 <= index < size <= tree size"
				  : "need 1 <= old <= size <= tree size");
		goto out;
	}
	bw_srv_tlog_reader(st, &r);
	rc = inclusion ? bw_tlog_prove_inclusion((uint64_t)n, (uint64_t)a, &r,
						 p, &err)
		       : bw_tlog_prove_consistency((uint64_t)a, (uint64_t)n,
						   &r, p, &err);
	hashes = rc ? NULL : bw_tlog_proof_to_json(p);
	if (!hashes) {
		bw_srv_log(BW_SRV_LOG_ERR, "log: proof: %s", err.msg);
		bw_srv_http_error(req, 500, "proof failed");
		goto out;
	}
	bw_srv_http_json(req, 200,
			 json_pack("{s:I, s:I, s:o}", inclusion ? "index" : "old",
				   (json_int_t)a, "size", (json_int_t)n,
				   "hashes", hashes));
out:
	free(p);
}

static void witnessed(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	size_t len = 0;
	const uint8_t *note = bw_srv_http_body(req, &len);
	int rc;

	if (!srv->log_key) {
		bw_srv_http_error(req, 503, "no log key configured");
		return;
	}
	rc = note ? bw_srv_tlog_witnessed_put(srv->store, srv->log_key,
					      srv->log_origin, note, len,
					      time(NULL), &err)
		  : bw_err_set(&err, BW_ENOMEM, "body");
	if (rc) {
		bw_srv_log(BW_SRV_LOG_NOTICE, "log: witnessed checkpoint "
			   "refused: %s", err.msg);
		bw_srv_http_json(req, rc == BW_EIO ? 500 : 400,
				 json_pack("{s:s, s:s}", "error",
					   bw_strerror(rc), "reason", err.msg));
		return;
	}
	bw_srv_http_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void bw_srv_gateway_log_release(struct bw_srv *srv, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct bw_err err = {0};
	struct evkeyvalq q;
	const char *hex;
	json_t *out = NULL;
	size_t i;
	int rc;

	TAILQ_INIT(&q);
	if (!query || evhttp_parse_query_str(query, &q)) {
		bw_srv_http_status(req, 400);
		return;
	}
	hex = evhttp_find_header(&q, "sha256");
	for (i = 0; hex && hex[i]; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		      (hex[i] >= 'a' && hex[i] <= 'f')))
			break;
	if (!hex || i != 64 || hex[i]) {
		bw_srv_http_status(req, 400);
		goto out;
	}
	rc = bw_srv_tlog_release(srv->store, hex, &out, &err);
	if (rc == BW_ENOTFOUND)
		bw_srv_http_status(req, 404);
	else if (rc)
		bw_srv_http_status(req, 500);
	else
		bw_srv_http_json(req, 200, out);
out:
	evhttp_clear_headers(&q);
}

void bw_srv_admin_log(struct bw_srv *srv, struct evhttp_request *req,
		      const char *rest, struct evkeyvalq *q)
{
	if (evhttp_request_get_command(req) == EVHTTP_REQ_PUT &&
	    !strcmp(rest, "witnessed"))
		witnessed(srv, req);
	else if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
		bw_srv_http_error(req, 405, "the log is read-only");
	else if (!strcmp(rest, "checkpoint"))
		checkpoint(srv, req);
	else if (!strcmp(rest, "entries"))
		entries(srv, req, q);
	else if (!strcmp(rest, "proof/inclusion"))
		proof(srv, req, q, 1);
	else if (!strcmp(rest, "proof/consistency"))
		proof(srv, req, q, 0);
	else
		bw_srv_http_error(req, 404, "no such resource");
}
