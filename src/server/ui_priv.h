/* Shared by the fleet page's files (ui.c, ui_views.c). */
#ifndef BW_SRV_UI_PRIV_H
#define BW_SRV_UI_PRIV_H

#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "storage.h"
#include "ui.h"

/* One signed-in request. */
struct bw_ui_ctx {
	struct bw_srv *srv;
	struct evhttp_request *req;
	struct evkeyvalq *q;	 /* query parameters (GET) */
	struct evkeyvalq *form;	 /* form fields (POST), else NULL */
	struct bw_session_rec s; /* the session */
	enum bw_srv_access role;
	int64_t now;
	char who[48]; /* for the log: "admin token" / "account 3" */
};

/* A compiled-in stylesheet or script (ui_assets.c, generated). */
struct bw_ui_asset {
	const char *name;
	const unsigned char *data;
	unsigned long len;
};
extern const struct bw_ui_asset bw_ui_assets[];
extern const unsigned long bw_ui_nassets;

/* The page frame: head, skip link, navigation (nav names the current
 * view), the sign-out form; then <main>. */
void bw_ui_page_begin(struct bw_ui_ctx *c, struct evbuffer *b,
		      const char *title, const char *nav);
void bw_ui_page_end(struct evbuffer *b);
/* Send b as text/html with the page's security headers (frees b). */
void bw_ui_send(struct evhttp_request *req, int code, struct evbuffer *b);
/* The hidden CSRF field every form carries. */
void bw_ui_csrf_field(struct bw_ui_ctx *c, struct evbuffer *b);
/* 303 to location (a path of ours). */
void bw_ui_redirect(struct evhttp_request *req, const char *location);
/* An error page with a message of ours (never untrusted text). */
void bw_ui_error(struct bw_ui_ctx *c, int code, const char *msg);

/* The views (ui_views.c). rest: the path below the view's name. */
void bw_ui_view_fleet(struct bw_ui_ctx *c);
void bw_ui_view_device(struct bw_ui_ctx *c, const char *uuid);
void bw_ui_view_releases(struct bw_ui_ctx *c);
void bw_ui_view_expiry(struct bw_ui_ctx *c);
void bw_ui_view_pki(struct bw_ui_ctx *c);
void bw_ui_view_log(struct bw_ui_ctx *c);
/* POST /ui/waves/<name>/<action>: pause, resume, halt. */
void bw_ui_act_wave(struct bw_ui_ctx *c, const char *name,
		    const char *action);
/* POST /ui/devices/<uuid>/<action>: deny, allow, rotate-cert. */
void bw_ui_act_device(struct bw_ui_ctx *c, const char *uuid,
		      const char *action);

#endif
