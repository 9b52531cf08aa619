/*
 * The fleet page (ui.h): routing, sign-in, sessions, CSRF and the page
 * frame. The views live in ui_views.c.
 *
 * Sign-in: POST /ui/login with a bearer token (the admin token file or an
 * account's token, checked by the admin API's own rule) and a nonce that
 * must match a cookie set by GET /ui/login (so no other site can sign a
 * browser in under its own account). A session is 32 random bytes in an
 * HttpOnly, Secure, SameSite=Strict cookie; the database keeps only its
 * sha256, its role and its CSRF token. Every POST carries that CSRF token
 * and is authorised by the admin API's rule for the request it stands for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "ui_priv.h"

#define SESSION_COOKIE "bw_session"
#define LOGIN_COOKIE "bw_login"
#define FORM_MAX 8192
#define SIGNIN_PER_MINUTE 20

static const char CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

static void security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

void bw_ui_send(struct evhttp_request *req, int code, struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	security_headers(req);
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

void bw_ui_redirect(struct evhttp_request *req, const char *location)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	security_headers(req);
	evhttp_add_header(h, "Location", location);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, 303, "See Other", NULL);
}

/* 64 lowercase hex characters. */
static int hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int bw_ui_cookie_value(const char *h, const char *name, char out[65])
{
	size_t n = strlen(name);

	for (const char *p = h; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		if (!strncmp(p, name, n) && p[n] == '=') {
			const char *v = p + n + 1;
			size_t len = strcspn(v, "; ");

			if (!hex64(v, len))
				return 0;
			memcpy(out, v, 64);
			out[64] = '\0';
			return 1;
		}
		p = strchr(p, ';');
	}
	return 0;
}

static int cookie_get(struct evhttp_request *req, const char *name,
		      char out[65])
{
	return bw_ui_cookie_value(bw_srv_http_header(req, "Cookie", 4096), name,
				  out);
}

static int random_hex64(char out[65])
{
	uint8_t raw[32];
	int ok = RAND_bytes(raw, sizeof(raw)) == 1;

	if (ok)
		bw_hex_encode(raw, sizeof(raw), out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return ok;
}

static void sha256_hex(const char *s, char out[65])
{
	bw_hash_buf_hex(BW_HASH_SHA256, s, strlen(s), out);
}

/* The session of this request, if its cookie names a live one. */
static int session_load(struct bw_ui_ctx *c)
{
	struct bw_err err = {0};
	char id[65], hash[65];

	if (!cookie_get(c->req, SESSION_COOKIE, id))
		return 0;
	sha256_hex(id, hash);
	OPENSSL_cleanse(id, sizeof(id));
	if (c->srv->store->ops->session_get(c->srv->store, hash, c->now, &c->s,
					    &err))
		return 0;
	c->role = bw_srv_access_parse(c->s.role);
	/* the page acts as its account does on the admin API, and is
	 * logged (server log, transparency log) the same way */
	if (c->s.account)
		snprintf(c->who, sizeof(c->who), "account %" PRId64,
			 c->s.account);
	else
		snprintf(c->who, sizeof(c->who), "admin token");
	return c->role != BW_SRV_ACCESS_NONE;
}

/* Parse an application/x-www-form-urlencoded body into form. */
static int form_parse(struct evhttp_request *req, struct evkeyvalq *form)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char body[FORM_MAX + 1];
	int rc = 0;

	TAILQ_INIT(form);
	if (n > FORM_MAX)
		return -1;
	if (evbuffer_copyout(in, body, n) != (ev_ssize_t)n)
		return -1;
	body[n] = '\0';
	rc = evhttp_parse_query_str(body, form);
	OPENSSL_cleanse(body, n); /* the sign-in form carries a token */
	return rc;
}

/* The form's csrf field equals the session's (constant time). */
static int csrf_ok(struct bw_ui_ctx *c)
{
	const char *v = evhttp_find_header(c->form, "csrf");

	return v && strlen(v) == 64 && c->s.csrf[0] &&
	       CRYPTO_memcmp(v, c->s.csrf, 64) == 0;
}

void bw_ui_csrf_field(struct bw_ui_ctx *c, struct evbuffer *b)
{
	evbuffer_add_printf(b,
			    "<input type=\"hidden\" name=\"csrf\" "
			    "value=\"%s\">",
			    c->s.csrf);
}

static void head(struct evbuffer *b, const char *title)
{
	evbuffer_add_printf(
	    b, "<!doctype html>\n<html lang=\"en\"><head><meta "
	       "charset=\"utf-8\"><meta name=\"viewport\" "
	       "content=\"width=device-width, initial-scale=1\"><title>");
	bw_ui_esc(b, title);
	evbuffer_add_printf(
	    b, " &middot; bulwark</title><link rel=\"icon\" "
	       "href=\"/ui/static/favicon.svg\"><link rel=\"stylesheet\" "
	       "href=\"/ui/static/bulwark.css\"><script "
	       "src=\"/ui/static/bulwark.js\" defer></script></head>\n");
}

void bw_ui_page_begin(struct bw_ui_ctx *c, struct evbuffer *b,
		      const char *title, const char *nav)
{
	static const char *const views[][2] = {
	    {"fleet", "Fleet"}, {"releases", "Releases"},
	    {"expiry", "Expiry"}, {"pki", "PKI"},
	    {"log", "Log"}};

	head(b, title);
	evbuffer_add_printf(b, "<body><a class=\"skip\" href=\"#main\">Skip "
			       "to content</a><header><nav "
			       "aria-label=\"Main\"><span "
			       "class=\"brand\">bulwark</span><ul>");
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
		evbuffer_add_printf(b, "<li><a href=\"/ui/%s\"%s>%s</a></li>",
				    views[i][0],
				    !strcmp(nav, views[i][0])
					? " aria-current=\"page\""
					: "",
				    views[i][1]);
	evbuffer_add_printf(b, "</ul><form class=\"signout\" method=\"post\" "
			       "action=\"/ui/logout\">");
	bw_ui_csrf_field(c, b);
	evbuffer_add_printf(b,
			    "<span class=\"role\">%s</span><button "
			    "type=\"submit\">Sign out</button></form></nav>"
			    "</header>\n<main id=\"main\"><h1>",
			    bw_srv_access_name(c->role));
	bw_ui_esc(b, title);
	evbuffer_add_printf(b, "</h1>\n");
}

void bw_ui_page_end(struct evbuffer *b)
{
	evbuffer_add_printf(b, "</main></body></html>\n");
}

void bw_ui_error(struct bw_ui_ctx *c, int code, const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(c->req, 500, NULL);
		return;
	}
	bw_ui_page_begin(c, b, code == 404 ? "Not found" : "Refused", "");
	evbuffer_add_printf(b, "<p class=\"notice bad\" role=\"alert\">");
	bw_ui_esc(b, msg);
	evbuffer_add_printf(b, "</p>");
	bw_ui_page_end(b);
	bw_ui_send(c->req, code, b);
}

/* ---- sign-in ------------------------------------------------------------ */

static void login_form(struct evhttp_request *req, int code, const char *msg)
{
	struct evbuffer *b = evbuffer_new();
	char nonce[65], cookie[160];

	if (!b || !random_hex64(nonce)) {
		if (b)
			evbuffer_free(b);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	snprintf(cookie, sizeof(cookie),
		 LOGIN_COOKIE "=%s; Path=/ui/login; HttpOnly; Secure; "
			      "SameSite=Strict; Max-Age=900",
		 nonce);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  cookie);
	head(b, "Sign in");
	evbuffer_add_printf(
	    b, "<body class=\"login\"><main id=\"main\"><h1>bulwark</h1>");
	if (msg) {
		evbuffer_add_printf(b, "<p class=\"notice bad\" role=\"alert\">");
		bw_ui_esc(b, msg);
		evbuffer_add_printf(b, "</p>");
	}
	evbuffer_add_printf(
	    b,
	    "<form method=\"post\" action=\"/ui/login\"><input type=\"hidden\" "
	    "name=\"nonce\" value=\"%s\"><label for=\"token\">Admin or account "
	    "token</label><input id=\"token\" name=\"token\" type=\"password\" "
	    "autocomplete=\"current-password\" required "
	    "maxlength=\"512\"><button type=\"submit\">Sign in</button>"
	    "</form></main></body></html>\n",
	    nonce);
	bw_ui_send(req, code, b);
}

static void login(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_session_rec rec;
	struct bw_err err = {0};
	struct evkeyvalq form;
	const char *tok = NULL, *nonce = NULL;
	const char *addr = bw_srv_peer_addr(req);
	enum bw_srv_access role = BW_SRV_ACCESS_NONE;
	char want[65] = "", id[65], hash[65], cookie[200];
	int64_t account = 0, now = time(NULL);

	memset(&rec, 0, sizeof(rec));
	if (!bw_srv_rate_ok(srv, "ui-sign-in", addr, SIGNIN_PER_MINUTE)) {
		bw_srv_log(BW_SRV_LOG_NOTICE, "ui: sign-in from %s throttled",
			   addr);
		login_form(req, 429, "Too many attempts. Wait a minute.");
		return;
	}
	if (form_parse(req, &form)) {
		login_form(req, 400, "Sign-in refused.");
		return;
	}
	tok = evhttp_find_header(&form, "token");
	nonce = evhttp_find_header(&form, "nonce");
	if (!cookie_get(req, LOGIN_COOKIE, want) || !nonce ||
	    strlen(nonce) != 64 || CRYPTO_memcmp(nonce, want, 64)) {
		bw_srv_log(BW_SRV_LOG_NOTICE,
			   "ui: sign-in from %s without its nonce", addr);
		login_form(req, 403, "Sign-in refused.");
		goto out;
	}
	if (tok) {
		/* a pasted token often brings a line end along */
		size_t n = strlen(tok);

		while (n > 0 && strchr(" \t\r\n", tok[n - 1]))
			n--;
		role = bw_srv_admin_token_role(srv, tok, n, &account);
	}
	if (role == BW_SRV_ACCESS_NONE) {
		bw_srv_log(BW_SRV_LOG_NOTICE, "ui: sign-in from %s refused",
			   addr);
		login_form(req, 401, "Sign-in refused.");
		goto out;
	}
	rec.account = account;
	snprintf(rec.role, sizeof(rec.role), "%s", bw_srv_access_name(role));
	rec.expires = now + srv->cfg->session_lifetime;
	if (!random_hex64(id) || !random_hex64(rec.csrf)) {
		evhttp_send_error(req, 500, NULL);
		goto out;
	}
	sha256_hex(id, hash);
	if (srv->store->ops->session_put(srv->store, hash, &rec, now, &err)) {
		bw_srv_log(BW_SRV_LOG_ERR, "ui: session: %s", err.msg);
		evhttp_send_error(req, 500, NULL);
		goto out;
	}
	bw_srv_log(BW_SRV_LOG_NOTICE, "ui: %s signed in from %s (%s)",
		   account ? "an account" : "the admin token", addr, rec.role);
	snprintf(cookie, sizeof(cookie),
		 SESSION_COOKIE "=%s; Path=/ui; HttpOnly; Secure; "
				"SameSite=Strict; Max-Age=%" PRId64,
		 id, srv->cfg->session_lifetime);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  cookie);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  LOGIN_COOKIE "=; Path=/ui/login; HttpOnly; Secure; "
				       "SameSite=Strict; Max-Age=0");
	bw_ui_redirect(req, "/ui/fleet");
out:
	OPENSSL_cleanse(id, sizeof(id));
	OPENSSL_cleanse(cookie, sizeof(cookie));
	evhttp_clear_headers(&form);
}

static void logout(struct bw_ui_ctx *c)
{
	struct bw_err err = {0};
	char id[65], hash[65];

	if (cookie_get(c->req, SESSION_COOKIE, id)) {
		sha256_hex(id, hash);
		OPENSSL_cleanse(id, sizeof(id));
		c->srv->store->ops->session_del(c->srv->store, hash, &err);
	}
	evhttp_add_header(evhttp_request_get_output_headers(c->req),
			  "Set-Cookie",
			  SESSION_COOKIE "=; Path=/ui; HttpOnly; Secure; "
					 "SameSite=Strict; Max-Age=0");
	bw_ui_redirect(c->req, "/ui/login");
}

/* ---- static files --------------------------------------------------------- */

static void asset(struct evhttp_request *req, const char *name)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	for (unsigned long i = 0; i < bw_ui_nassets; i++) {
		const char *n = bw_ui_assets[i].name;
		size_t len = strlen(n);

		if (strcmp(n, name))
			continue;
		security_headers(req);
		evhttp_add_header(h, "Content-Type",
				  len > 4 && !strcmp(n + len - 4, ".css")
				      ? "text/css; charset=utf-8"
				  : len > 4 && !strcmp(n + len - 4, ".svg")
				      ? "image/svg+xml"
				      : "text/javascript; charset=utf-8");
		evhttp_add_header(h, "Cache-Control", "max-age=3600");
		evbuffer_add_reference(evhttp_request_get_output_buffer(req),
				       bw_ui_assets[i].data,
				       bw_ui_assets[i].len, NULL, NULL);
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	security_headers(req);
	evhttp_send_reply(req, 404, "Not Found", NULL);
}

/* ---- routing ---------------------------------------------------------------- */

int bw_ui_action_path(const char *path, char *kind, size_t kindlen,
		      char *name, size_t namelen, const char **action)
{
	const char *p = path + 4, *s1 = NULL, *s2 = NULL;

	if (strncmp(path, "/ui/", 4) || !(s1 = strchr(p, '/')) ||
	    !(s2 = strchr(s1 + 1, '/')) || strchr(s2 + 1, '/') ||
	    (size_t)(s1 - p) >= kindlen || s2 == s1 + 1 ||
	    (size_t)(s2 - s1 - 1) >= namelen || !s2[1])
		return -1;
	memcpy(kind, p, (size_t)(s1 - p));
	kind[s1 - p] = '\0';
	memcpy(name, s1 + 1, (size_t)(s2 - s1 - 1));
	name[s2 - s1 - 1] = '\0';
	*action = s2 + 1;
	return 0;
}

/* A form, authorised as the admin API request it stands for. */
static void post(struct bw_ui_ctx *c, const char *path)
{
	char api[200], kind[16], name[BW_STORE_UUID_MAX + 1];
	const char *action = NULL;
	enum evhttp_cmd_type cmd = EVHTTP_REQ_POST;
	int waves = 0;

	if (bw_ui_action_path(path, kind, sizeof(kind), name, sizeof(name),
			&action)) {
		bw_ui_error(c, 404, "No such action.");
		return;
	}
	if (!strcmp(kind, "devices") &&
	    (!strcmp(action, "deny") || !strcmp(action, "allow"))) {
		/* deny and allow are POST and DELETE on one admin resource */
		snprintf(api, sizeof(api), "/devices/%s/deny", name);
		if (!strcmp(action, "allow"))
			cmd = EVHTTP_REQ_DELETE;
	} else if (!strcmp(kind, "devices") &&
		   !strcmp(action, "rotate-cert")) {
		snprintf(api, sizeof(api), "/rotate-cert");
	} else if (!strcmp(kind, "waves") &&
		   (!strcmp(action, "pause") || !strcmp(action, "resume") ||
		    !strcmp(action, "halt"))) {
		snprintf(api, sizeof(api), "/waves/%s/%s", name, action);
		waves = 1;
	} else {
		bw_ui_error(c, 404, "No such action.");
		return;
	}
	if (!bw_srv_admin_allows(c->role, cmd, api)) {
		bw_srv_log(BW_SRV_LOG_NOTICE, "ui: %s may not %.128s", c->who,
			   api);
		bw_ui_error(c, 403, "Your role may not do this.");
		return;
	}
	if (waves)
		bw_ui_act_wave(c, name, action);
	else
		bw_ui_act_device(c, name, action);
}

static void route(struct bw_ui_ctx *c, const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(c->req);

	if (cmd == EVHTTP_REQ_POST) {
		if (!strcmp(path, "/ui/logout"))
			logout(c);
		else
			post(c, path);
	} else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		bw_ui_error(c, 405, "Method not allowed.");
	} else if (!strcmp(path, "/ui/fleet")) {
		bw_ui_view_fleet(c);
	} else if (!strncmp(path, "/ui/devices/", 12)) {
		bw_ui_view_device(c, path + 12);
	} else if (!strcmp(path, "/ui/releases")) {
		bw_ui_view_releases(c);
	} else if (!strcmp(path, "/ui/expiry")) {
		bw_ui_view_expiry(c);
	} else if (!strcmp(path, "/ui/pki")) {
		bw_ui_view_pki(c);
	} else if (!strcmp(path, "/ui/log")) {
		bw_ui_view_log(c);
	} else {
		bw_ui_error(c, 404, "No such page.");
	}
}

void bw_srv_ui_handle(struct bw_srv *srv, struct evhttp_request *req,
		      const char *path, const char *query)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_ui_ctx c;
	struct evkeyvalq q, form;

	memset(&c, 0, sizeof(c));
	c.srv = srv;
	c.req = req;
	c.now = time(NULL);
	if (!strcmp(path, "/ui") || !strcmp(path, "/ui/")) {
		bw_ui_redirect(req, "/ui/fleet");
		return;
	}
	if (!strncmp(path, "/ui/static/", 11) && cmd == EVHTTP_REQ_GET) {
		asset(req, path + 11);
		return;
	}
	if (!strcmp(path, "/ui/login")) {
		if (cmd == EVHTTP_REQ_POST)
			login(srv, req);
		else
			login_form(req, 200, NULL);
		return;
	}
	if (!session_load(&c)) {
		if (cmd == EVHTTP_REQ_GET)
			bw_ui_redirect(req, "/ui/login");
		else
			login_form(req, 401, "Sign in first.");
		return;
	}
	TAILQ_INIT(&q);
	TAILQ_INIT(&form);
	c.q = &q;
	if (query && evhttp_parse_query_str(query, &q)) {
		bw_ui_error(&c, 400, "Bad query.");
		return;
	}
	if (cmd == EVHTTP_REQ_POST) {
		c.form = &form;
		if (form_parse(req, &form) || !csrf_ok(&c)) {
			bw_srv_log(BW_SRV_LOG_NOTICE,
				   "ui: form without its CSRF token from %s",
				   bw_srv_peer_addr(req));
			bw_ui_error(&c, 403, "This form has expired. Reload "
					     "the page and try again.");
			goto out;
		}
	}
	route(&c, path);
out:
	evhttp_clear_headers(&q);
	evhttp_clear_headers(&form);
}
