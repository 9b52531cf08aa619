/*
 * The default fetcher: libcurl (include/bulwark/fetch.h). One easy handle
 * per fetcher, so consecutive requests reuse the connection and the TLS
 * session.
 *
 * libcurl is loaded at the first http:// or https:// request (dlopen),
 * not linked. Starting a program linked with Debian's libcurl maps and
 * relocates some 30 more shared libraries (GnuTLS through librtmp,
 * Kerberos, LDAP, libssh2, nghttp2, ...) and runs their constructors:
 * measured at about 4 ms of CPU per process start on a 2-core machine,
 * twice what a warm TUF refresh needs for its own work. A program that
 * never speaks HTTP (init, --help, a file:// repository: offline bundles
 * and local mirrors, read by file.c) no longer pays it; one that does
 * pays it once, at its first request. The library is found by the same
 * search as a link-time dependency (its soname, the system's library
 * path). Everything set on the handle is as before: protocols, no
 * redirects, timeouts, the slow-retrieval guard, the size cap, mutual TLS.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "bulwark/fetch.h"
#include "http_priv.h"

#ifndef BW_LIBCURL_SONAME
#define BW_LIBCURL_SONAME "libcurl.so.4"
#endif

/* The libcurl calls this file makes, resolved once by curl_api_load(). */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *easy, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *easy);
	CURLcode (*easy_getinfo)(CURL *easy, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *easy);
	const char *(*easy_strerror)(CURLcode cc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} lc;
static pthread_once_t lc_once = PTHREAD_ONCE_INIT;
static char lc_failed[256]; /* why loading failed; empty when loaded */

static void curl_api_resolve(void)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{"curl_global_init", offsetof(__typeof__(lc), global_init)},
		{"curl_easy_init", offsetof(__typeof__(lc), easy_init)},
		{"curl_easy_setopt", offsetof(__typeof__(lc), easy_setopt)},
		{"curl_easy_perform", offsetof(__typeof__(lc), easy_perform)},
		{"curl_easy_getinfo", offsetof(__typeof__(lc), easy_getinfo)},
		{"curl_easy_cleanup", offsetof(__typeof__(lc), easy_cleanup)},
		{"curl_easy_strerror", offsetof(__typeof__(lc), easy_strerror)},
		{"curl_slist_append", offsetof(__typeof__(lc), slist_append)},
		{"curl_slist_free_all", offsetof(__typeof__(lc), slist_free_all)},
	};
	void *h = dlopen(BW_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		const char *why = dlerror();

		snprintf(lc_failed, sizeof(lc_failed), "%s", why ? why : "");
		return;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *fn = dlsym(h, syms[i].name);

		if (fn == NULL) {
			snprintf(lc_failed, sizeof(lc_failed), "%s: no %s",
				 BW_LIBCURL_SONAME, syms[i].name);
			return;
		}
		/* POSIX: a function's address as dlsym returns it. */
		memcpy((char *)&lc + syms[i].off, &fn, sizeof(fn));
	}
	if (lc.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		snprintf(lc_failed, sizeof(lc_failed),
			 "libcurl initialisation failed");
}

/* Load libcurl once per process; 0, or BW_ENET with the reason. */
static int curl_api_load(struct bw_err *err)
{
	pthread_once(&lc_once, curl_api_resolve);
	if (lc_failed[0] != '\0')
		return bw_err_set(err, BW_ENET, "loading libcurl (%s): %s",
				  BW_LIBCURL_SONAME, lc_failed);
	return 0;
}

struct curl_fetcher {
	CURL *easy;                 /* made at the first http(s) request */
	struct curl_slist *headers; /* opts.headers, on the handle */
	struct bw_http_opts opts;   /* its strings: this fetcher's copies */
	char **header_copy;         /* opts.headers, NULL-terminated */
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
	long status;
	CURL *easy;
};

static int curl_ready(struct curl_fetcher *cf, struct bw_err *err);

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t n = size * nmemb;

	/* Only a successful response body goes to the sink. */
	if (t->status == 0)
		lc.easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
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
			     .sink_ctx = sink_ctx};
	char range[64];
	CURLcode cc;
	long status = 0;
	int rc;

	if (strncmp(url, "file:", 5) == 0)
		return bw_http__file_fetch(url, offset, max_len, sink, sink_ctx,
					   err);
	rc = curl_ready(cf, err);
	if (rc != 0)
		return rc;
	t.easy = cf->easy;
	cf->errbuf[0] = '\0';
	lc.easy_setopt(cf->easy, CURLOPT_URL, url);
	lc.easy_setopt(cf->easy, CURLOPT_WRITEDATA, &t);
	if (offset > 0) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)offset);
		lc.easy_setopt(cf->easy, CURLOPT_RANGE, range);
	} else {
		lc.easy_setopt(cf->easy, CURLOPT_RANGE, NULL);
	}
	cc = lc.easy_perform(cf->easy);
	lc.easy_getinfo(cf->easy, CURLINFO_RESPONSE_CODE, &status);
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
	if (cc != CURLE_OK)
		return bw_err_set(err, BW_ENET, "%.256s: %s", url,
				  cf->errbuf[0] ? cf->errbuf
						: lc.easy_strerror(cc));
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
		if (cf->headers != NULL)
			lc.slist_free_all(cf->headers);
		if (cf->easy != NULL)
			lc.easy_cleanup(cf->easy);
		free(cf->chain_file);
		free((char *)cf->opts.ca_file);
		free((char *)cf->opts.cert_file);
		free((char *)cf->opts.key_file);
		free((char *)cf->opts.user_agent);
		for (char **h = cf->header_copy; h != NULL && *h != NULL; h++)
			free(*h);
		free(cf->header_copy);
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

	lc.easy_setopt(e, CURLOPT_ERRORBUFFER, cf->errbuf);
	lc.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	lc.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* Metadata and targets are never fetched through redirects to other
	 * places; TUF verifies content, but the URL is the operator's. */
	lc.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	lc.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	lc.easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
			 o->connect_timeout_s > 0 ? o->connect_timeout_s : 10L);
	if (o->total_timeout_s > 0)
		lc.easy_setopt(e, CURLOPT_TIMEOUT, o->total_timeout_s);
	/* TUF slow retrieval attack: give up below lsb bytes/s over lst s. */
	lc.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, lsb);
	lc.easy_setopt(e, CURLOPT_LOW_SPEED_TIME, lst);
	lc.easy_setopt(e, CURLOPT_USERAGENT,
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
	lc.easy_setopt(e, CURLOPT_MAXAGE_CONN, 1L);
	if (o->ca_file != NULL)
		lc.easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	if (o->client_pkey != NULL) {
		/* Key in a token: curl never sees a key file; the SSL_CTX gets
		 * the chain and the EVP_PKEY (on_ssl_ctx). */
		lc.easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		lc.easy_setopt(e, CURLOPT_SSL_CTX_DATA, cf);
	} else if (o->cert_file != NULL) {
		lc.easy_setopt(e, CURLOPT_SSLCERT, o->cert_file);
	}
	if (o->key_file != NULL)
		lc.easy_setopt(e, CURLOPT_SSLKEY, o->key_file);
	for (const char *const *h = o->headers; h != NULL && *h != NULL; h++) {
		struct curl_slist *n = lc.slist_append(cf->headers, *h);

		if (n == NULL)
			return BW_ENOMEM;
		cf->headers = n;
	}
	if (cf->headers != NULL)
		lc.easy_setopt(e, CURLOPT_HTTPHEADER, cf->headers);
	return 0;
}

/* The handle, set up at the first http(s) request (libcurl loaded). */
static int curl_ready(struct curl_fetcher *cf, struct bw_err *err)
{
	int rc;

	if (cf->easy != NULL)
		return 0;
	rc = curl_api_load(err);
	if (rc != 0)
		return rc;
	cf->easy = lc.easy_init();
	if (cf->easy == NULL)
		return bw_err_set(err, BW_ENOMEM, "libcurl handle setup failed");
	rc = setup_easy(cf, &cf->opts);
	if (rc != 0) {
		lc.easy_cleanup(cf->easy);
		cf->easy = NULL;
		return bw_err_set(err, rc, "libcurl handle setup failed");
	}
	return 0;
}

static int dup_opt(const char **field)
{
	if (*field == NULL)
		return 0;
	*field = strdup(*field);
	return *field == NULL ? BW_ENOMEM : 0;
}

/*
 * The options, with copies of their strings: the handle is set up at the
 * first request, when the caller's strings may be gone.
 */
static int copy_opts(struct curl_fetcher *cf, const struct bw_http_opts *o)
{
	size_t n = 0;

	cf->opts = *o;
	cf->opts.headers = NULL;
	cf->opts.ca_file = cf->opts.cert_file = cf->opts.key_file = NULL;
	cf->opts.user_agent = NULL;
	while (o->headers != NULL && o->headers[n] != NULL)
		n++;
	if (n > 0) {
		cf->header_copy = calloc(n + 1, sizeof(*cf->header_copy));
		if (cf->header_copy == NULL)
			return BW_ENOMEM;
		for (size_t i = 0; i < n; i++)
			if ((cf->header_copy[i] = strdup(o->headers[i])) == NULL)
				return BW_ENOMEM;
		cf->opts.headers = (const char *const *)cf->header_copy;
	}
	cf->opts.ca_file = o->ca_file;
	cf->opts.cert_file = o->cert_file;
	cf->opts.key_file = o->key_file;
	cf->opts.user_agent = o->user_agent;
	if (dup_opt(&cf->opts.ca_file) != 0 ||
	    dup_opt(&cf->opts.cert_file) != 0 ||
	    dup_opt(&cf->opts.key_file) != 0 ||
	    dup_opt(&cf->opts.user_agent) != 0)
		return BW_ENOMEM;
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
	/* A key in a token needs its certificate chain, and no key file. */
	if (opts->client_pkey != NULL &&
	    (opts->cert_file == NULL || opts->key_file != NULL))
		return bw_err_set(err, BW_EINVAL,
				  "client_pkey needs cert_file and no key_file");
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
	if (copy_opts(cf, opts) != 0) {
		curl_fetcher_free(f);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	if (opts->client_pkey != NULL) {
		cf->client_pkey = opts->client_pkey;
		cf->chain_file = strdup(opts->cert_file);
		if (cf->chain_file == NULL) {
			curl_fetcher_free(f);
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		}
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
	n = lc.slist_append(l, ct);
	for (struct curl_slist *h = cf->headers; n != NULL && h != NULL;
	     h = h->next)
		n = lc.slist_append(l = n, h->data);
	for (const char *const *h = req->headers; n != NULL && h && *h; h++)
		n = lc.slist_append(l = n, *h);
	if (n == NULL) {
		lc.slist_free_all(l);
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
	rc = curl_ready(cf, err);
	if (rc != 0)
		return rc;
	if (resp->max == 0 || req->max_response != 0)
		resp->max = req->max_response ? req->max_response : 1u << 20;
	if (request_headers(cf, req, &hdrs) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	cf->errbuf[0] = '\0';
	lc.easy_setopt(cf->easy, CURLOPT_URL, req->url);
	lc.easy_setopt(cf->easy, CURLOPT_RANGE, NULL);
	lc.easy_setopt(cf->easy, CURLOPT_HTTPHEADER, hdrs);
	lc.easy_setopt(cf->easy, CURLOPT_POSTFIELDS, req->body);
	lc.easy_setopt(cf->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)req->body_len);
	lc.easy_setopt(cf->easy, CURLOPT_CUSTOMREQUEST, req->method);
	lc.easy_setopt(cf->easy, CURLOPT_WRITEFUNCTION, on_body);
	lc.easy_setopt(cf->easy, CURLOPT_WRITEDATA, &b);
	cc = lc.easy_perform(cf->easy);
	lc.easy_getinfo(cf->easy, CURLINFO_RESPONSE_CODE, status);
	/* Back to the GET set-up that fetch() expects. */
	lc.easy_setopt(cf->easy, CURLOPT_CUSTOMREQUEST, NULL);
	lc.easy_setopt(cf->easy, CURLOPT_HTTPGET, 1L);
	lc.easy_setopt(cf->easy, CURLOPT_WRITEFUNCTION, on_write);
	lc.easy_setopt(cf->easy, CURLOPT_HTTPHEADER, cf->headers);
	lc.slist_free_all(hdrs);
	if (b.rc != 0)
		rc = bw_err_set(err, BW_ETOOBIG, "%.256s: response too large",
				req->url);
	else if (cc != CURLE_OK)
		rc = bw_err_set(err, BW_ENET, "%.256s: %s", req->url,
				cf->errbuf[0] ? cf->errbuf
					      : lc.easy_strerror(cc));
	else
		rc = 0;
	return rc;
}

void bw_fetcher_free(struct bw_fetcher *f)
{
	if (f != NULL && f->free != NULL)
		f->free(f);
}
