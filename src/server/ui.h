/*
 * The fleet page: server-rendered HTML on the admin listener under /ui/
 * (docs/ui.md). Sign-in exchanges an admin token or an account's token for
 * a session cookie; every view reads through the admin API's own
 * functions (admin.h) and every form acts through them.
 */
#ifndef BW_SRV_UI_H
#define BW_SRV_UI_H

#include <stddef.h>
#include <stdint.h>

struct bw_srv;
struct evhttp_request;
struct evbuffer;

/* Every request whose path is /ui or under /ui/. */
void bw_srv_ui_handle(struct bw_srv *srv, struct evhttp_request *req,
		      const char *path, const char *query);

/* ---- untrusted input (ui.c) ------------------------------------------ */

/* The value of cookie name in a Cookie header h (may be NULL) when it is
 * 64 lowercase hex digits, copied into out; 0 otherwise. */
int bw_ui_cookie_value(const char *h, const char *name, char out[65]);

/* "/ui/<kind>/<name>/<action>" into its parts (kind and name copied,
 * bounded; action points into path). -1 if path has another shape. */
int bw_ui_action_path(const char *path, char *kind, size_t kindlen,
		      char *name, size_t namelen, const char **action);

/* ---- HTML writing (ui_html.c) ---------------------------------------- */

/* Append s HTML-escaped (text and attribute values alike); bytes below
 * 0x20 but tab and newline are dropped, so untrusted text can not break
 * the page. NULL is "". */
void bw_ui_esc(struct evbuffer *b, const char *s);

/* Append s percent-encoded for a URL query value. */
void bw_ui_urlenc(struct evbuffer *b, const char *s);

/* A unix time as "2026-12-07 22:55 UTC" ("never" for 0). */
void bw_ui_time(struct evbuffer *b, int64_t t);

/* A duration from now: "in 3 d", "5 h ago". */
void bw_ui_until(struct evbuffer *b, int64_t t, int64_t now);

/* The class of an expiry: "bad" (past or within warn/4), "warn" (within
 * warn), "ok". */
const char *bw_ui_expiry_class(int64_t t, int64_t now, int64_t warn);

#endif
