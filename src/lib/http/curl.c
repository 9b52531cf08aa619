/*
 * The default fetcher: libcurl (include/bulwark/fetch.h). One easy handle
 * per fetcher, so consecutive requests reuse the connection and the TLS
 * session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "bulwark/fetch.h"

struct curl_fetcher {
	CURL *easy;
	struct curl_slist *headers;
	struct bw_http_opts opts;
	char errbuf[CURL_ERROR_SIZE];
	void *client_pkey; /* EVP_PKEY, borrowed (opts.client_pkey) */
	char *chain_file;  /* opts.cert_file when client_pkey is set */
};

struct transfer {
	uint64_t offset;
	uint64_t max_len;
	uint64_t got;
	bw_fetch_sink_fn sink;
	void *sink_ctx;
	int rc; /* why the write callback stopped the transfer */
	int is_file; /* file:// has no status code */
	long status;
	CURL *easy;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t n = size * nmemb;

	/* Only a successful response body goes to the sink. */
	if (t->status == 0)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
	/* file:// reports no response code: the body is the file, or the
	 * requested range of it (libcurl's file protocol honours Range). */
	if (t->status == 0 && t->is_file)
		t->status = t->offset > 0 ? 206 : 200;
	if (t->status != 200 && t->status != 206)
		return n;
	/* A server that ignores Range resends from byte 0: never append
	 * that to a partial download. */
	if (t->offset > 0 && t->status != 206) {
		t->rc = BW_ENORANGE;
		return 0;
	}
	if (n > t->max_len - t->got) {
		t->rc = BW_ETOOBIG;
		return 0;
	}
	t->got += n;
	t->rc = t->sink(t->sink_ctx, (const uint8_t *)ptr, n);
	return t->rc == 0 ? n : 0;
}

static int curl_fetch(struct bw_fetcher *f, const char *url, uint64_t offset,
		      uint64_t max_len, bw_fetch_sink_fn sink, void *sink_ctx,
		      struct bw_err *err)
{
	struct curl_fetcher *cf = f->ctx;
	struct transfer t = {.offset = offset, .max_len = max_len, .sink = sink,
			     .is_file = strncmp(url, "file:", 5) == 0,
			     .sink_ctx = sink_ctx, .easy = cf->easy};
	char range[64];
	CURLcode cc;
	long status = 0;

	cf->errbuf[0] = '\0';
	curl_easy_setopt(cf->easy, CURLOPT_URL, url);
	curl_easy_setopt(cf->easy, CURLOPT_WRITEDATA, &t);
	if (offset > 0) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)offset);
		curl_easy_setopt(cf->easy, CURLOPT_RANGE, range);
	} else {
		curl_easy_setopt(cf->easy, CURLOPT_RANGE, NULL);
	}
	cc = curl_easy_perform(cf->easy);
	curl_easy_getinfo(cf->easy, CURLINFO_RESPONSE_CODE, &status);
	if (t.rc == BW_ENORANGE)
		return bw_err_set(err, BW_ENORANGE,
				  "%.256s: server ignored the Range request", url);
	if (t.rc != 0)
		return t.rc == BW_ETOOBIG
			       ? bw_err_set(err, BW_ETOOBIG,
					    "%.256s: more than %llu bytes", url,
					    (unsigned long long)max_len)
			       : bw_err_set(err, t.rc, "%.256s: transfer aborted",
					    url);
	/* file:// (offline bundles): a missing file is "not found". */
	if (cc == CURLE_FILE_COULDNT_READ_FILE)
		return bw_err_set(err, BW_ENOTFOUND, "%.256s: not found", url);
	if (cc != CURLE_OK)
		return bw_err_set(err, BW_ENET, "%.256s: %s", url,
				  cf->errbuf[0] ? cf->errbuf
						: curl_easy_strerror(cc));
	if (status == 0 && strncmp(url, "file:", 5) == 0)
		status = offset > 0 ? 206 : 200;
	if (status == 404 || status == 403)
		return bw_err_set(err, BW_ENOTFOUND, "%.256s: HTTP %ld", url,
				  status);
	if (offset > 0 && status != 206)
		return bw_err_set(err, BW_ENORANGE,
				  "%.256s: server ignored the Range request "
				  "(HTTP %ld)", url, status);
	if (status != 200 && status != 206)
		return bw_err_set(err, BW_ENET, "%.256s: HTTP %ld", url, status);
	return 0;
}

static void curl_fetcher_free(struct bw_fetcher *f)
{
	struct curl_fetcher *cf = f->ctx;

	if (cf != NULL) {
		curl_slist_free_all(cf->headers);
		free(cf->chain_file);
		if (cf->easy != NULL)
			curl_easy_cleanup(cf->easy);
		free(cf);
	}
	free(f);
}

/* CURLOPT_SSL_CTX_FUNCTION: client certificate chain and token key. */
static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *ud)
{
	struct curl_fetcher *cf = ud;
	SSL_CTX *ctx = ssl_ctx;

	(void)easy;
	if (SSL_CTX_use_certificate_chain_file(ctx, cf->chain_file) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, cf->client_pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

static int setup_easy(struct curl_fetcher *cf, const struct bw_http_opts *o)
{
	CURL *e = cf->easy;
	long lsb = o->low_speed_bytes > 0 ? o->low_speed_bytes : 1024;
	long lst = o->low_speed_time_s > 0 ? o->low_speed_time_s : 30;

	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cf->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* Metadata and targets are never fetched through redirects to other
	 * places; TUF verifies content, but the URL is the operator's. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
			 o->connect_timeout_s > 0 ? o->connect_timeout_s : 10L);
	if (o->total_timeout_s > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT, o->total_timeout_s);
	/* TUF slow retrieval attack: give up below lsb bytes/s over lst s. */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, lsb);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, lst);
	curl_easy_setopt(e, CURLOPT_USERAGENT,
			 o->user_agent ? o->user_agent : "bulwark/" BW_VERSION);
	/* Reuse a kept-alive connection only for the requests of one
	 * check-in (they follow each other within milliseconds; one idle
	 * for a second is not reused, and bulwarkd keeps an idle connection
	 * at least that long: idle_timeout >= 1 s); the next
	 * check-in opens a fresh connection, with a resumed TLS session.
	 * A connection left idle is closed by the server sooner or later
	 * (bulwarkd: idle_timeout) with a TLS close_notify, which libcurl
	 * 7.88 takes for a live connection: reusing it fails the request,
	 * and a long-lived agent (the daemon) ran out of retries. */
	curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 1L);
	if (o->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	if (o->client_pkey != NULL) {
		/* Key in a token: curl never sees a key file; the SSL_CTX gets
		 * the chain and the EVP_PKEY (on_ssl_ctx). */
		if (o->cert_file == NULL || o->key_file != NULL)
			return BW_EINVAL;
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, cf);
	} else if (o->cert_file != NULL) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, o->cert_file);
	}
	if (o->key_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLKEY, o->key_file);
	for (const char *const *h = o->headers; h != NULL && *h != NULL; h++) {
		struct curl_slist *n = curl_slist_append(cf->headers, *h);

		if (n == NULL)
			return BW_ENOMEM;
		cf->headers = n;
	}
	if (cf->headers != NULL)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, cf->headers);
	return 0;
}

int bw_http_fetcher_new(const struct bw_http_opts *opts, struct bw_fetcher **out,
			struct bw_err *err)
{
	static const struct bw_http_opts defaults;
	struct bw_fetcher *f;
	struct curl_fetcher *cf;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return bw_err_set(err, BW_ENET, "libcurl initialisation failed");
	f = calloc(1, sizeof(*f));
	cf = calloc(1, sizeof(*cf));
	if (f == NULL || cf == NULL) {
		free(f);
		free(cf);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	f->fetch = curl_fetch;
	f->free = curl_fetcher_free;
	f->ctx = cf;
	if (opts->client_pkey != NULL && opts->cert_file != NULL) {
		cf->client_pkey = opts->client_pkey;
		cf->chain_file = strdup(opts->cert_file);
		if (cf->chain_file == NULL) {
			curl_fetcher_free(f);
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		}
	}
	cf->easy = curl_easy_init();
	if (cf->easy == NULL || setup_easy(cf, opts) != 0) {
		curl_fetcher_free(f);
		return bw_err_set(err, BW_ENOMEM, "libcurl handle setup failed");
	}
	*out = f;
	return 0;
}

/* ---- requests with a body ------------------------------------------------ */

struct body_sink {
	struct bw_buf *resp;
	int rc;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body_sink *b = ud;
	size_t n = size * nmemb;

	b->rc = bw_buf_append(b->resp, ptr, n);
	return b->rc == 0 ? n : 0;
}

/* The fetcher's headers plus the request's (curl keeps no copy of the
 * list, so it lives until the transfer is done). */
static int request_headers(struct curl_fetcher *cf,
			   const struct bw_http_request *req,
			   struct curl_slist **out)
{
	char ct[256];
	const char *type = req->content_type ? req->content_type
					      : "application/json";
	struct curl_slist *l = NULL, *n;

	snprintf(ct, sizeof(ct), "Content-Type: %.200s", type);
	n = curl_slist_append(l, ct);
	for (struct curl_slist *h = cf->headers; n != NULL && h != NULL;
	     h = h->next)
		n = curl_slist_append(l = n, h->data);
	for (const char *const *h = req->headers; n != NULL && h && *h; h++)
		n = curl_slist_append(l = n, *h);
	if (n == NULL) {
		curl_slist_free_all(l);
		return BW_ENOMEM;
	}
	*out = n;
	return 0;
}

int bw_http_request(struct bw_fetcher *f, const struct bw_http_request *req,
		    long *status, struct bw_buf *resp, struct bw_err *err)
{
	struct curl_fetcher *cf;
	struct curl_slist *hdrs = NULL;
	struct body_sink b = {.resp = resp};
	CURLcode cc;
	int rc;

	*status = 0;
	if (f == NULL || f->fetch != curl_fetch || req->url == NULL)
		return bw_err_set(err, BW_EINVAL, "not a libcurl fetcher");
	cf = f->ctx;
	if (resp->max == 0 || req->max_response != 0)
		resp->max = req->max_response ? req->max_response : 1u << 20;
	if (request_headers(cf, req, &hdrs) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	cf->errbuf[0] = '\0';
	curl_easy_setopt(cf->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(cf->easy, CURLOPT_RANGE, NULL);
	curl_easy_setopt(cf->easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(cf->easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(cf->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)req->body_len);
	curl_easy_setopt(cf->easy, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(cf->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(cf->easy, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(cf->easy);
	curl_easy_getinfo(cf->easy, CURLINFO_RESPONSE_CODE, status);
	/* Back to the GET set-up that fetch() expects. */
	curl_easy_setopt(cf->easy, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(cf->easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(cf->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(cf->easy, CURLOPT_HTTPHEADER, cf->headers);
	curl_slist_free_all(hdrs);
	if (b.rc != 0)
		rc = bw_err_set(err, BW_ETOOBIG, "%.256s: response too large",
				req->url);
	else if (cc != CURLE_OK)
		rc = bw_err_set(err, BW_ENET, "%.256s: %s", req->url,
				cf->errbuf[0] ? cf->errbuf
					      : curl_easy_strerror(cc));
	else
		rc = 0;
	return rc;
}

void bw_fetcher_free(struct bw_fetcher *f)
{
	if (f != NULL && f->free != NULL)
		f->free(f);
}
