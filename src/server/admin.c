/*
 * The admin API (TLS with server authentication; operator bearer token).
 * Every body is parsed with bw_json_parse (bounded); uploads are verified
 * with the TUF client rules in repo.c. docs/server.md lists the wire
 * format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin.h"
#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "repo.h"
#include "server.h"
#include "tls.h"

#define TOKEN_BYTES 32
#define LIST_MAX 1000

/* Constant time whatever the lengths: compare digests. */
static int token_ok(struct bw_srv *srv, struct evhttp_request *req)
{
	const char *h = bw_srv_http_header(req, "Authorization", 512);
	uint8_t a[32], b[32];

	if (!h || strncmp(h, "Bearer ", 7) || !srv->admin_token)
		return 0;
	bw_hash_buf(BW_HASH_SHA256, h + 7, strlen(h + 7), a);
	bw_hash_buf(BW_HASH_SHA256, srv->admin_token, srv->admin_token_len, b);
	return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

static json_t *body_json(struct evhttp_request *req, struct bw_err *err)
{
	struct bw_json_limits lim = {.max_depth = 8};
	size_t len = 0;
	const uint8_t *body = bw_srv_http_body(req, &len);
	json_t *v = NULL;

	lim.max_bytes = len + 1;
	if (!body || bw_json_parse(body, len, &lim, &v, err))
		return NULL;
	return v;
}

static void reply_rc(struct evhttp_request *req, int rc, struct bw_err *err,
		     int ok_code)
{
	if (!rc)
		bw_srv_http_json(req, ok_code,
				 json_pack("{s:s}", "status", "ok"));
	else
		bw_srv_http_json(req, bw_srv_http_code(rc),
				 json_pack("{s:s,s:s}", "error",
					   bw_strerror(rc), "reason",
					   err->msg));
}

static int uuid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BW_STORE_UUID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
			return 0;
	return 1;
}

/* PUT /repo/<flavour>/root, PUT /repo/ci/targets,
 * PUT /repo/production/targets/<tag> */
/*
 * "<flavour>/root", "ci/<role>", "production/<role>/<tag>" (role below
 * root) into its parts. 0 or BW_ENOTFOUND.
 */
static int repo_path(const char *rest, const char **flavour, const char **role,
		     char *tag, size_t taglen)
{
	static const char *const roles[] = {"root", "targets", "snapshot",
					    "timestamp"};
	const char *p = NULL;

	tag[0] = '\0';
	if (!strncmp(rest, "ci/", 3))
		*flavour = "ci", p = rest + 3;
	else if (!strncmp(rest, "production/", 11))
		*flavour = "production", p = rest + 11;
	else
		return BW_ENOTFOUND;
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(roles[i]);

		if (strncmp(p, roles[i], n))
			continue;
		*role = roles[i];
		if (i == 0 || **flavour == 'c')
			return p[n] ? BW_ENOTFOUND : 0;
		/* production roles below root are per tag */
		if (p[n] != '/' || bw_srv_tag_parse(p + n + 1, tag, taglen) ||
		    !tag[0] || strcmp(tag, p + n + 1))
			return BW_ENOTFOUND;
		return 0;
	}
	return BW_ENOTFOUND;
}

/* PUT /repo/<flavour>/root, PUT /repo/ci/targets,
 * PUT /repo/production/targets/<tag> */
static void repo_upload(struct bw_srv *srv, struct evhttp_request *req,
			const char *rest)
{
	struct bw_err err = {0};
	size_t len = 0;
	const uint8_t *md = bw_srv_http_body(req, &len);
	const char *flavour = NULL, *role = NULL;
	char tag[BW_STORE_TAG_MAX + 1];
	int rc = 0;

	if (!md) {
		bw_srv_http_status(req, 500);
		return;
	}
	if (repo_path(rest, &flavour, &role, tag, sizeof(tag)) ||
	    (strcmp(role, "root") && strcmp(role, "targets")))
		rc = bw_err_set(&err, BW_ENOTFOUND, "no such repository role");
	else if (!strcmp(role, "root"))
		rc = bw_srv_repo_root_upload(srv->repo, flavour, md, len,
					     time(NULL), &err);
	else
		rc = bw_srv_repo_targets_upload(srv->repo, flavour, tag, md,
						len, time(NULL), &err);
	if (rc)
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: upload %.64s refused: %s",
			   rest, err.msg);
	reply_rc(req, rc, &err, 200);
}

/* GET /repo/<flavour>/<role>[/<tag>]: the newest metadata as served (what
 * an offline ceremony signs the next version against). */
static void repo_get(struct bw_srv *srv, struct evhttp_request *req,
		     const char *rest)
{
	struct bw_err err = {0};
	struct bw_meta_rec m;
	const char *flavour = NULL, *role = NULL;
	char tag[BW_STORE_TAG_MAX + 1];
	int rc = repo_path(rest, &flavour, &role, tag, sizeof(tag));

	memset(&m, 0, sizeof(m));
	if (rc)
		rc = bw_err_set(&err, rc, "no such repository role");
	else
		rc = srv->store->ops->meta_get(srv->store, flavour, tag, role,
					       0, &m, &err);
	if (rc) {
		reply_rc(req, rc, &err, 200);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), m.data, m.len);
	evhttp_send_reply(req, 200, "OK", NULL);
	free(m.data);
}

/* {"name", "length", "hashes": {"sha256", ...}, "custom"?} */
/* n lowercase hex digits. (Not bw_hex_decode: it shifts a negative value
 * on non-hex input, which UBSan reports.) */
static int hex_ok(json_t *v, size_t n)
{
	const char *s = json_string_value(v);

	if (!s || json_string_length(v) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* {"sha256": hex, "sha512"?: hex} and nothing else. */
static int hashes_ok(json_t *hashes)
{
	const char *k = NULL;
	json_t *v = NULL;

	if (!json_is_object(hashes) || !json_object_get(hashes, "sha256"))
		return 0;
	json_object_foreach(hashes, k, v)
	{
		if (!strcmp(k, "sha256")   ? !hex_ok(v, 64)
		    : !strcmp(k, "sha512") ? !hex_ok(v, 128)
					   : 1)
			return 0;
	}
	return 1;
}

int bw_srv_admin_fileinfo_parse(json_t *b, json_t **fileinfo,
				struct bw_err *err)
{
	json_t *name = json_object_get(b, "name");
	json_t *len = json_object_get(b, "length");
	json_t *hashes = json_object_get(b, "hashes");
	json_t *custom = json_object_get(b, "custom");

	*fileinfo = NULL;
	if (!json_is_string(name) ||
	    !bw_srv_target_path_ok(json_string_value(name),
				   json_string_length(name)) ||
	    !json_is_integer(len) || json_integer_value(len) < 0 ||
	    !hashes_ok(hashes) || (custom && !json_is_object(custom)))
		return bw_err_set(err, BW_EFORMAT,
				  "need name (target path), length, "
				  "hashes {sha256[, sha512]} (lowercase hex), "
				  "optional custom object");
	*fileinfo = json_pack("{s:O,s:O}", "length", len, "hashes", hashes);
	if (*fileinfo && custom)
		json_object_set(*fileinfo, "custom", custom);
	return *fileinfo ? 0 : BW_ENOMEM;
}

static void ci_target_add(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	json_t *b = body_json(req, &err), *fi = NULL;
	int rc = b ? bw_srv_admin_fileinfo_parse(b, &fi, &err) : BW_EFORMAT;

	if (!rc)
		rc = bw_srv_repo_ci_target_add(
		    srv->repo, json_string_value(json_object_get(b, "name")),
		    fi, time(NULL), &err);
	reply_rc(req, rc, &err, 200);
	json_decref(fi);
	json_decref(b);
}

static int64_t query_int(struct evkeyvalq *q, const char *k, int64_t def,
			 int64_t max)
{
	const char *v = evhttp_find_header(q, k);
	char *end = NULL;
	long long n = 0;

	if (!v)
		return def;
	n = strtoll(v, &end, 10);
	if (end == v || *end || n < 1)
		return def;
	return n > max ? max : n;
}

static json_t *device_json(struct bw_store *st, const struct bw_device_rec *d)
{
	return json_pack("{s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b}",
			 "uuid", d->uuid, "production", d->production, "name",
			 d->name, "hardware-id", d->hwid, "tag", d->tag,
			 "target", d->target, "fingerprint", d->fingerprint,
			 "first-seen", (json_int_t)d->first_seen, "last-seen",
			 (json_int_t)d->last_seen, "registered",
			 (json_int_t)d->registered, "denied",
			 st->ops->deny_has(st, d->uuid, NULL) == 1);
}

/* POST (with optional {"reason"}) or DELETE /devices/<uuid>/deny */
static void device_deny(struct bw_srv *srv, struct evhttp_request *req,
			const char *uuid, int deny)
{
	struct bw_store *st = srv->store;
	struct bw_err err = {0};
	const char *reason = "";
	json_t *b = NULL;
	int rc = 0;

	if (deny && evbuffer_get_length(evhttp_request_get_input_buffer(req))) {
		b = body_json(req, &err);
		reason = json_string_value(json_object_get(b, "reason"));
		if (!b || (reason && strlen(reason) > 256))
			rc = bw_err_set(&err, BW_EFORMAT, "bad body");
		if (!reason)
			reason = "";
	}
	if (!rc)
		rc =
		    st->ops->deny_set(st, uuid, deny, reason, time(NULL), &err);
	if (!rc) {
		srv->generation++; /* open connections re-check */
		srv->id_epoch++;   /* and cached decisions are dropped */
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: device %s %s", uuid,
			   deny ? "deny-listed" : "allowed");
	}
	reply_rc(req, rc, &err, 200);
	json_decref(b);
}

/* GET /devices, GET /devices/<uuid>, POST|DELETE /devices/<uuid>/deny */
static void devices(struct bw_srv *srv, struct evhttp_request *req,
		    const char *rest, struct evkeyvalq *q)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_store *st = srv->store;
	struct bw_err err = {0};
	struct bw_device_rec d;
	char uuid[BW_STORE_UUID_MAX + 1];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	json_t *out = NULL;
	int rc = 0;

	if (!*rest && cmd == EVHTTP_REQ_GET) {
		const char *after = evhttp_find_header(q, "after");

		rc = st->ops->device_list(
		    st, after && uuid_ok(after) ? after : "",
		    query_int(q, "limit", 100, LIST_MAX), &out, &err);
	} else if (n == 0 || n >= sizeof(uuid)) {
		rc = bw_err_set(&err, BW_ENOTFOUND, "no such device");
	} else {
		memcpy(uuid, rest, n);
		uuid[n] = '\0';
		if (!uuid_ok(uuid)) {
			rc = bw_err_set(&err, BW_ENOTFOUND, "no such device");
		} else if (slash && !strcmp(slash, "/deny") &&
			   (cmd == EVHTTP_REQ_POST ||
			    cmd == EVHTTP_REQ_DELETE)) {
			device_deny(srv, req, uuid, cmd == EVHTTP_REQ_POST);
			return;
		} else if (slash || cmd != EVHTTP_REQ_GET) {
			rc = bw_err_set(&err, BW_ENOTFOUND, "no such resource");
		} else if (!(rc = st->ops->device_get(st, uuid, &d, &err))) {
			out = device_json(st, &d);
		}
	}
	if (rc)
		reply_rc(req, rc, &err, 200);
	else
		bw_srv_http_json(req, 200, out);
}

static void token_create(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	json_t *b = body_json(req, &err);
	const char *scope = json_string_value(json_object_get(b, "scope"));
	const char *comment = json_string_value(json_object_get(b, "comment"));
	json_t *jexp = json_object_get(b, "expires-in");
	json_t *juses = json_object_get(b, "uses");
	uint8_t raw[TOKEN_BYTES];
	char tok[2 * TOKEN_BYTES + 1], hash[65];
	int64_t id = 0, now = time(NULL);
	int rc = 0;

	if (!scope || (strcmp(scope, "ci") && strcmp(scope, "production")) ||
	    !json_is_integer(jexp) || json_integer_value(jexp) <= 0 ||
	    json_integer_value(jexp) > 10LL * 365 * 86400 ||
	    (juses &&
	     (!json_is_integer(juses) || json_integer_value(juses) < 1)) ||
	    (comment && strlen(comment) > 256)) {
		rc = bw_err_set(&err, BW_EFORMAT,
				"need scope (ci|production), "
				"expires-in (seconds), optional uses, comment");
		goto out;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		rc = bw_err_set(&err, BW_ECRYPTO, "random");
		goto out;
	}
	bw_hex_encode(raw, sizeof(raw), tok);
	bw_hash_buf_hex(BW_HASH_SHA256, tok, strlen(tok), hash);
	rc = srv->store->ops->token_add(
	    srv->store, hash, scope, now + json_integer_value(jexp),
	    juses ? json_integer_value(juses) : -1, comment, now, &id, &err);
out:
	if (rc)
		reply_rc(req, rc, &err, 201);
	else
		bw_srv_http_json(req, 201,
				 json_pack("{s:I,s:s,s:s}", "id",
					   (json_int_t)id, "token", tok,
					   "scope", scope));
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(tok, sizeof(tok));
	json_decref(b);
}

static void tokens(struct bw_srv *srv, struct evhttp_request *req,
		   const char *rest)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_err err = {0};
	json_t *out = NULL;
	char *end = NULL;
	long long id = 0;
	int rc = 0;

	if (!*rest && cmd == EVHTTP_REQ_POST) {
		token_create(srv, req);
		return;
	}
	if (!*rest && cmd == EVHTTP_REQ_GET) {
		if ((rc = srv->store->ops->token_list(srv->store, &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
		return;
	}
	id = strtoll(rest, &end, 10);
	if (cmd != EVHTTP_REQ_DELETE || end == rest || *end || id < 1)
		rc = bw_err_set(&err, BW_ENOTFOUND, "no such resource");
	else
		rc = srv->store->ops->token_revoke(srv->store, id, &err);
	reply_rc(req, rc, &err, 200);
}

/* PUT /pki/crl/<issuer>: a newer CRL of the factory CA ("factory_ca") or
 * of a device CA; takes effect at once, also on open connections. */
static void crl_upload(struct bw_srv *srv, struct evhttp_request *req,
		       const char *issuer)
{
	struct bw_err err = {0};
	size_t len = 0;
	const uint8_t *pem = bw_srv_http_body(req, &len);
	int64_t number = 0;
	int rc = 0;

	if (!pem)
		rc = bw_err_set(&err, BW_ENOMEM, "body");
	else if (!(rc = bw_srv_policy_crl_check(srv->policy, issuer, pem, len,
						&number, &err)) &&
		 !(rc = srv->store->ops->crl_put(srv->store, issuer, number,
						 pem, len, time(NULL), &err)))
		rc = bw_srv_policy_reload(srv, &err);
	if (!rc)
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: CRL %lld of %s installed",
			   (long long)number, issuer);
	reply_rc(req, rc, &err, 200);
}

/* PUT /pki/ca/<name>: a device CA certificate signed by the factory CA
 * (e.g. a manufacturing site's local CA); its devices are accepted at once. */
static void ca_upload(struct bw_srv *srv, struct evhttp_request *req,
		      const char *name)
{
	struct bw_err err = {0};
	size_t len = 0;
	const uint8_t *pem = bw_srv_http_body(req, &len);
	int rc = 0;

	if (!pem)
		rc = bw_err_set(&err, BW_ENOMEM, "body");
	else if (!(rc = bw_srv_policy_ca_check(srv->policy, name, pem, len,
					       &err)) &&
		 !(rc = srv->store->ops->ca_put(srv->store, name, pem, len,
						time(NULL), &err)))
		rc = bw_srv_policy_reload(srv, &err);
	if (!rc)
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: device CA %s installed",
			   name);
	reply_rc(req, rc, &err, 200);
}

/* POST /rotate-cert {"uuid": U} or {"ca": device CA file base}: devices
 * whose certificate was issued before now are told to rotate (GET
 * /device "est.rotate"). */
static void rotate_cert(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	json_t *b = body_json(req, &err);
	const char *uuid = json_string_value(json_object_get(b, "uuid"));
	const char *ca = json_string_value(json_object_get(b, "ca"));
	int rc = 0;

	if (!b || json_object_size(b) != 1 || (!uuid && !ca) ||
	    (uuid && !uuid_ok(uuid)) ||
	    (ca && (!ca[0] || strlen(ca) >= 64 ||
		    strspn(ca, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
			       "vwxyz0123456789_-") != strlen(ca))))
		rc = bw_err_set(&err, BW_EFORMAT,
				"need {\"uuid\": U} or {\"ca\": NAME}");
	else if (ca && !bw_srv_policy_ca_cert(srv->policy, ca))
		rc = bw_err_set(&err, BW_ENOTFOUND, "no such device CA");
	if (!rc)
		rc = srv->store->ops->rotate_request_set(
		    srv->store, uuid ? "device" : "ca", uuid ? uuid : ca,
		    time(NULL), &err);
	if (!rc)
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: rotation asked of %s %s",
			   uuid ? "device" : "every device of CA",
			   uuid ? uuid : ca);
	reply_rc(req, rc, &err, 200);
	json_decref(b);
}

/* GET /rotations?state=pending|completed|superseded&limit=N */
static void rotations(struct bw_srv *srv, struct evhttp_request *req,
		      struct evkeyvalq *q)
{
	static const char *const names[] = {"", "pending", "completed",
					    "superseded"};
	const char *want = evhttp_find_header(q, "state");
	struct bw_err err = {0};
	json_t *out = NULL;
	int state = 0, rc = 0;

	for (int i = 1; want && i < 4; i++)
		if (!strcmp(want, names[i]))
			state = i;
	if (want && !state)
		rc = bw_err_set(&err, BW_EFORMAT, "bad state");
	if (!rc)
		rc = srv->store->ops->rotation_list(
		    srv->store, state, query_int(q, "limit", 100, LIST_MAX),
		    &out, &err);
	if (rc)
		reply_rc(req, rc, &err, 200);
	else
		bw_srv_http_json(req, 200, out);
}

static void dispatch(struct bw_srv *srv, struct evhttp_request *req,
		     const char *path, struct evkeyvalq *q)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_err err = {0};
	json_t *out = NULL;
	int rc = 0;

	if (!strncmp(path, "/repo/", 6) && cmd == EVHTTP_REQ_PUT) {
		repo_upload(srv, req, path + 6);
	} else if (!strncmp(path, "/repo/", 6) && cmd == EVHTTP_REQ_GET) {
		repo_get(srv, req, path + 6);
	} else if (!strcmp(path, "/repo/ci/targets/add") &&
		   cmd == EVHTTP_REQ_POST) {
		ci_target_add(srv, req);
	} else if (!strncmp(path, "/pki/crl/", 9) && cmd == EVHTTP_REQ_PUT &&
		   strlen(path + 9) < 64) {
		crl_upload(srv, req, path + 9);
	} else if (!strncmp(path, "/pki/ca/", 8) && cmd == EVHTTP_REQ_PUT &&
		   strlen(path + 8) < 64) {
		ca_upload(srv, req, path + 8);
	} else if (!strcmp(path, "/pki") && cmd == EVHTTP_REQ_GET) {
		bw_srv_http_json(
		    req, 200,
		    json_pack("{s:s,s:o}", "factory",
			      bw_srv_policy_factory(srv->policy), "device-cas",
			      bw_srv_policy_describe(srv->policy)));
	} else if (!strcmp(path, "/status") && cmd == EVHTTP_REQ_GET) {
		if ((rc =
			 bw_srv_repo_status(srv->repo, time(NULL), &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200,
					 json_pack("{s:o}", "repository", out));
	} else if (!strcmp(path, "/devices") ||
		   !strncmp(path, "/devices/", 9)) {
		devices(srv, req, path[8] ? path + 9 : "", q);
	} else if (!strcmp(path, "/deny") && cmd == EVHTTP_REQ_GET) {
		if ((rc = srv->store->ops->deny_list(srv->store, &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
	} else if (!strcmp(path, "/events") && cmd == EVHTTP_REQ_GET) {
		const char *dev = evhttp_find_header(q, "device");

		if ((rc = srv->store->ops->event_list(
			 srv->store, dev && uuid_ok(dev) ? dev : NULL,
			 query_int(q, "limit", 100, LIST_MAX), &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
	} else if (!strcmp(path, "/rotate-cert") && cmd == EVHTTP_REQ_POST) {
		rotate_cert(srv, req);
	} else if (!strcmp(path, "/rotations") && cmd == EVHTTP_REQ_GET) {
		rotations(srv, req, q);
	} else if (!strcmp(path, "/tokens") || !strncmp(path, "/tokens/", 8)) {
		tokens(srv, req, path[7] ? path + 8 : "");
	} else {
		bw_srv_http_error(req, 404, "no such resource");
	}
}

void bw_srv_admin_handle(struct evhttp_request *req, void *arg)
{
	struct bw_srv *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq q;

	if (!bw_srv_tls_ssl(req) || !path) {
		evhttp_send_error(req, 400, NULL);
		return;
	}
	bw_srv_tls_track(req);
	bw_srv_request_track(srv, req);
	if (!token_ok(srv, req)) {
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: bad token from %s",
			   bw_srv_peer_addr(req));
		bw_srv_http_error(req, 401, "unauthorized");
		return;
	}
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q)) {
		bw_srv_http_error(req, 400, "bad query");
		return;
	}
	dispatch(srv, req, path, &q);
	evhttp_clear_headers(&q);
}
