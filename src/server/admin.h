/*
 * bulwarkd's admin API listener (admin.c), authenticated by a bearer
 * token (the admin token file, or an account's token with its role).
 * Its decisions and queries are shared by its HTTP handlers and the fleet
 * page (ui.c), so that the page reads and acts through exactly the code
 * the CLI reaches: one path to the data.
 */
#ifndef BW_SRV_ADMIN_H
#define BW_SRV_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "bulwark/error.h"

struct bw_srv;
struct evkeyvalq;
struct evhttp_request;

struct evkeyvalq;
struct bw_srv;

void bw_srv_admin_handle(struct evhttp_request *req, void *arg);

/* GET /log/<rest> (admin_tlog.c): checkpoint, entries, proofs. */
void bw_srv_admin_log(struct bw_srv *srv, struct evhttp_request *req,
		      const char *rest, struct evkeyvalq *q);

/* GET /log/release?sha256=HEX on the gateway (admin_tlog.c). */
void bw_srv_gateway_log_release(struct bw_srv *srv,
				struct evhttp_request *req);

/* Admin "add CI target" body {name, length, hashes.sha256, custom?} into
 * a TUF fileinfo (*fileinfo new reference). */
int bw_srv_admin_fileinfo_parse(json_t *b, json_t **fileinfo,
				struct bw_err *err);

/* What a bearer token may do, weakest first. */
enum bw_srv_access {
	BW_SRV_ACCESS_NONE = 0,
	BW_SRV_ACCESS_VIEWER,   /* read everything but accounts */
	BW_SRV_ACCESS_OPERATOR, /* and act on devices and waves */
	BW_SRV_ACCESS_ADMIN,    /* everything: the token file */
};

/* "viewer" / "operator" / "admin" ("" for none). */
const char *bw_srv_access_name(enum bw_srv_access r);
/* BW_SRV_ACCESS_NONE unless s names a role. */
enum bw_srv_access bw_srv_access_parse(const char *s);

/*
 * The role of a bearer token: the admin token file (admin), else a live
 * account (its role), else none. Compared through digests in constant
 * time. *account: the account id (0 for the token file). The token is
 * never logged.
 */
enum bw_srv_access bw_srv_admin_token_role(struct bw_srv *srv, const char *tok,
					 size_t len, int64_t *account);

/* 1 if role may make this request (method and path of the admin API). */
int bw_srv_admin_allows(enum bw_srv_access role, enum evhttp_cmd_type cmd,
			const char *path);

/*
 * GET /devices: a filtered page of the fleet from query parameters
 * (after, limit, q: uuid or name prefix, tag, flavour ci|production,
 * status ok|updating|failed|silent|denied). A bad parameter is
 * BW_EFORMAT. *out: {"devices": [...], "next": uuid|null} (new reference).
 */
int bw_srv_admin_devices_query(struct bw_srv *srv, struct evkeyvalq *q,
			       json_t **out, struct bw_err *err);

/* GET /devices/<uuid>: the record with its status and deny-list entry. */
int bw_srv_admin_device_get(struct bw_srv *srv, const char *uuid,
			    json_t **out, struct bw_err *err);

/*
 * POST|DELETE /devices/<uuid>/deny: deny (reason bounded, may be "") or
 * allow; open connections and cached decisions re-check at once. who
 * names the caller in the log ("admin token", "account 3").
 */
int bw_srv_admin_device_deny(struct bw_srv *srv, const char *uuid, int deny,
			     const char *reason, const char *who,
			     struct bw_err *err);

/*
 * POST /rotate-cert: ask one device (uuid) or every device of a device CA
 * (ca) to rotate its certificate over EST; exactly one of the two.
 */
int bw_srv_admin_rotate_request(struct bw_srv *srv, const char *uuid,
				const char *ca, const char *who,
				struct bw_err *err);

/* GET /pki: {"factory", "device-cas": [...]} (new reference). */
json_t *bw_srv_admin_pki_json(struct bw_srv *srv);

/* GET /events[?device=uuid]: newest first, at most limit. */
int bw_srv_admin_events(struct bw_srv *srv, const char *uuid, int64_t limit,
			json_t **out, struct bw_err *err);

/*
 * GET /expiry: what expires when: every TUF role's newest version (as
 * GET /status), the factory CA, each device CA and the server's TLS
 * certificate, and each CRL's next update. {"now", "warn-before",
 * "repository": [...], "certificates": [{"what","name","not-after"}],
 * "crls": [{"issuer","next-update"}]} (unix seconds; 0: none).
 */
int bw_srv_admin_expiry(struct bw_srv *srv, int64_t now, json_t **out,
			struct bw_err *err);

/* GET /releases: every published targets role (CI, and production per
 * tag), newest version: [{"flavour","tag","version","expires","targets":
 * [{"name","length","version","hardware-ids"}]}]. */
int bw_srv_admin_releases(struct bw_srv *srv, json_t **out,
			  struct bw_err *err);

/* GET /log/checkpoint: the newest signed checkpoint (*note malloc'd).
 * BW_ENOTFOUND without a log key. */
int bw_srv_admin_log_checkpoint(struct bw_srv *srv, char **note, size_t *len,
				struct bw_err *err);

/* GET /log/entries: entries start..end-1 (end < 0: to the tree's size; at
 * most 1000) as {"start","size","entries": [{"index","entry": base64 of
 * the entry's bytes}]}. BW_EFORMAT for a bad range. */
int bw_srv_admin_log_entries(struct bw_srv *srv, int64_t start, int64_t end,
			     json_t **out, struct bw_err *err);

#endif
