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
#include "bulwark/tuf.h"
#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/identity.h"
#include "bulwark/json.h"
#include "bulwark/pki.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "repo.h"
#include "server.h"
#include "recertify.h"
#include "tls.h"
#include "translog.h"
#include "ui.h"
#include "waves.h"

#define TOKEN_BYTES 32
#define LIST_MAX 1000

const char *bw_srv_access_name(enum bw_srv_access r)
{
	switch (r) {
	case BW_SRV_ACCESS_VIEWER:
		return "viewer";
	case BW_SRV_ACCESS_OPERATOR:
		return "operator";
	case BW_SRV_ACCESS_ADMIN:
		return "admin";
	default:
		return "";
	}
}

enum bw_srv_access bw_srv_access_parse(const char *s)
{
	for (int r = BW_SRV_ACCESS_VIEWER; s && r <= BW_SRV_ACCESS_ADMIN; r++)
		if (!strcmp(s, bw_srv_access_name(r)))
			return r;
	return BW_SRV_ACCESS_NONE;
}

/* Constant time whatever the lengths: compare digests. */
enum bw_srv_access bw_srv_admin_token_role(struct bw_srv *srv, const char *tok,
					 size_t len, int64_t *account)
{
	struct bw_account_rec acc;
	struct bw_err err = {0};
	uint8_t a[32], b[32];
	char hex[65];
	enum bw_srv_access role = BW_SRV_ACCESS_NONE;

	*account = 0;
	if (!tok || len == 0 || len > 512)
		return BW_SRV_ACCESS_NONE;
	bw_hash_buf(BW_HASH_SHA256, tok, len, a);
	if (srv->admin_token) {
		bw_hash_buf(BW_HASH_SHA256, srv->admin_token,
			    srv->admin_token_len, b);
		if (CRYPTO_memcmp(a, b, sizeof(a)) == 0)
			return BW_SRV_ACCESS_ADMIN;
	}
	/* accounts are found by the digest of their token, as registration
	 * tokens are: the database never holds a usable token */
	bw_hex_encode(a, sizeof(a), hex);
	if (!srv->store->ops->account_find(srv->store, hex, time(NULL), &acc,
					   &err)) {
		role = bw_srv_access_parse(acc.role);
		if (role == BW_SRV_ACCESS_ADMIN) /* only the token file is */
			role = BW_SRV_ACCESS_NONE;
		*account = acc.id;
	}
	OPENSSL_cleanse(a, sizeof(a));
	return role;
}

/* path matches pattern, where "*" stands for one non-empty segment. */
static int path_match(const char *pattern, const char *path)
{
	while (*pattern && *path) {
		if (*pattern == '*') {
			size_t n = strcspn(path, "/");

			if (n == 0)
				return 0;
			path += n;
			pattern++;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return !*pattern && !*path;
}

/* What an operator may change beyond reading: the devices and waves the
 * fleet page acts on. Anything else that writes is the admin's. */
static int operator_may(enum evhttp_cmd_type cmd, const char *path)
{
	static const struct {
		const char *pattern;
		int cmds;
	} acts[] = {
	    {"/devices/*/deny", EVHTTP_REQ_POST | EVHTTP_REQ_DELETE},
	    {"/devices/*/recertify", EVHTTP_REQ_POST},
	    {"/rotate-cert", EVHTTP_REQ_POST},
	    {"/waves/*/pause", EVHTTP_REQ_POST},
	    {"/waves/*/resume", EVHTTP_REQ_POST},
	    {"/waves/*/halt", EVHTTP_REQ_POST},
	};

	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if ((acts[i].cmds & cmd) && path_match(acts[i].pattern, path))
			return 1;
	return 0;
}

int bw_srv_admin_allows(enum bw_srv_access role, enum evhttp_cmd_type cmd,
			const char *path)
{
	if (role == BW_SRV_ACCESS_ADMIN)
		return 1;
	if (role < BW_SRV_ACCESS_VIEWER || !strncmp(path, "/accounts", 9))
		return 0;
	if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
		return 1;
	return role == BW_SRV_ACCESS_OPERATOR && operator_may(cmd, path);
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

/*
 * Who an admin API action is logged for: "account:<id>" for an operator
 * account (who = "account N"), else the admin token ("admin:<id>").
 */
static void actor(struct bw_srv *srv, const char *who,
		  char by[BW_SRV_TLOG_BY_MAX])
{
	if (who && !strncmp(who, "account ", 8))
		snprintf(by, BW_SRV_TLOG_BY_MAX, "account:%.*s",
			 (int)strspn(who + 8, "0123456789"), who + 8);
	else
		bw_srv_tlog_admin_by(srv->admin_token, srv->admin_token_len,
				     by);
}

/* Log an admin action (objects stolen) in the open transaction. */
static int admin_log(struct bw_srv *srv, const char *who, const char *action,
		     json_t *objects, struct bw_err *err)
{
	char by[BW_SRV_TLOG_BY_MAX];
	int rc;

	if (!objects)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	actor(srv, who, by);
	rc = bw_srv_tlog_append(srv->store, action, by, objects, time(NULL),
				NULL, err);
	json_decref(objects);
	return rc;
}

/* Commit after a successful step, roll back otherwise. */
static int finish(struct bw_store *st, int rc, struct bw_err *err)
{
	if (!rc)
		rc = st->ops->commit(st, err);
	if (rc)
		st->ops->rollback(st);
	return rc;
}

/* Reload the policy for an upload, its changes logged as the admin's. */
static int reload_as_admin(struct bw_srv *srv, struct bw_err *err)
{
	char by[BW_SRV_TLOG_BY_MAX];
	int rc;

	actor(srv, NULL, by);
	srv->policy_by = by;
	rc = bw_srv_policy_reload(srv, err);
	srv->policy_by = NULL;
	return rc;
}

/* A device uuid from a path or query, in its canonical form (any case
 * names the same device). */
static int uuid_norm(const char *s, size_t n, char out[BW_UUID_BUF])
{
	return bw_identity_uuid_normalize(s, n, out, NULL) == 0;
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
	char tag[BW_STORE_TAG_MAX + 1], by[BW_SRV_TLOG_BY_MAX];
	int rc = 0;

	if (!md) {
		bw_srv_http_status(req, 500);
		return;
	}
	actor(srv, NULL, by);
	bw_srv_repo_set_actor(srv->repo, by);
	if (repo_path(rest, &flavour, &role, tag, sizeof(tag)) ||
	    (strcmp(role, "root") && strcmp(role, "targets")))
		rc = bw_err_set(&err, BW_ENOTFOUND, "no such repository role");
	else if (!strcmp(role, "root"))
		rc = bw_srv_repo_root_upload(srv->repo, flavour, md, len,
					     time(NULL), &err);
	else
		rc = bw_srv_repo_targets_upload(srv->repo, flavour, tag, md,
						len, time(NULL), &err);
	bw_srv_repo_set_actor(srv->repo, NULL);
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
	    !bw_tuf_target_path_is_safe(json_string_value(name),
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
	char by[BW_SRV_TLOG_BY_MAX];

	actor(srv, NULL, by);
	bw_srv_repo_set_actor(srv->repo, by);
	if (!rc)
		rc = bw_srv_repo_ci_target_add(
		    srv->repo, json_string_value(json_object_get(b, "name")),
		    fi, time(NULL), &err);
	bw_srv_repo_set_actor(srv->repo, NULL);
	reply_rc(req, rc, &err, 200);
	json_decref(fi);
	json_decref(b);
}

static int64_t query_int(struct evkeyvalq *q, const char *k, int64_t def,
			 int64_t max)
{
	const char *v = evhttp_find_header(q, k);
	uint64_t n = 0;
	int rc;

	if (!v)
		return def;
	rc = bw_num_parse(v, (uint64_t)max, &n);
	if (rc == BW_ETOOBIG)
		return max;
	if (rc != 0 || n < 1)
		return def;
	return (int64_t)n;
}

/* A search: a uuid prefix when it could be one, else a name prefix. */
static int search_is_uuid(const char *q)
{
	for (; *q; q++)
		if (!strchr("0123456789abcdefABCDEF-", *q))
			return 0;
	return 1;
}

int bw_srv_admin_devices_query(struct bw_srv *srv, struct evkeyvalq *q,
			       json_t **out, struct bw_err *err)
{
	static const char *const statuses[] = {"ok",	 "updating", "failed",
					       "silent", "denied"};
	struct bw_device_query dq = {.production = -1};
	const char *after = evhttp_find_header(q, "after");
	const char *search = evhttp_find_header(q, "q");
	const char *flavour = evhttp_find_header(q, "flavour");
	const char *status = evhttp_find_header(q, "status");
	char prefix[BW_STORE_NAME_MAX + 1], norm[BW_UUID_BUF];
	int ok = 0;

	*out = NULL;
	dq.limit = query_int(q, "limit", 100, LIST_MAX);
	dq.tag = evhttp_find_header(q, "tag");
	/* a cursor, kept as given: records kept from before canonical
	 * uuids sort by their own spelling */
	if (after && *after && !uuid_norm(after, strlen(after), norm))
		return bw_err_set(err, BW_EFORMAT, "after: not a uuid");
	dq.after = after;
	if (dq.tag && *dq.tag && (strlen(dq.tag) > BW_STORE_TAG_MAX))
		return bw_err_set(err, BW_EFORMAT, "tag: too long");
	if (search && strlen(search) >= sizeof(prefix))
		return bw_err_set(err, BW_EFORMAT, "q: too long");
	if (search && *search) {
		snprintf(prefix, sizeof(prefix), "%s", search);
		if (search_is_uuid(prefix)) {
			for (char *c = prefix; *c; c++)
				if (*c >= 'A' && *c <= 'F')
					*c = (char)(*c - 'A' + 'a');
			dq.uuid_prefix = prefix;
		} else {
			dq.name_prefix = prefix;
		}
	}
	if (flavour && *flavour) {
		if (strcmp(flavour, "ci") && strcmp(flavour, "production"))
			return bw_err_set(err, BW_EFORMAT,
					  "flavour: ci or production");
		dq.production = !strcmp(flavour, "production");
	}
	for (size_t i = 0; status && *status && i < 5; i++)
		ok |= !strcmp(status, statuses[i]);
	if (status && *status && !ok)
		return bw_err_set(err, BW_EFORMAT,
				  "status: ok, updating, failed, silent or "
				  "denied");
	dq.status = status;
	dq.silent_before = (int64_t)time(NULL) - srv->cfg->silent_after;
	return srv->store->ops->device_query(srv->store, &dq, out, err);
}

int bw_srv_admin_device_get(struct bw_srv *srv, const char *uuid,
			    json_t **out, struct bw_err *err)
{
	struct bw_device_query dq = {.production = -1, .limit = 1};
	json_t *arr = NULL, *d = NULL;
	char norm[BW_UUID_BUF];
	int rc = 0;

	*out = NULL;
	if (!uuid_norm(uuid, strlen(uuid), norm))
		return bw_err_set(err, BW_ENOTFOUND, "no such device");
	dq.uuid = norm; /* one device, whatever case */
	if ((rc = srv->store->ops->device_query(srv->store, &dq, &arr, err)))
		return rc;
	d = json_array_get(arr, 0);
	if (!d)
		rc = bw_err_set(err, BW_ENOTFOUND, "no such device");
	else
		*out = json_incref(d);
	json_decref(arr);
	return rc;
}

int bw_srv_admin_device_deny(struct bw_srv *srv, const char *uuid, int deny,
			     const char *reason, const char *who,
			     struct bw_err *err)
{
	struct bw_store *st = srv->store;
	char norm[BW_UUID_BUF];
	int rc = 0;

	if (!uuid_norm(uuid, strlen(uuid), norm))
		return bw_err_set(err, BW_ENOTFOUND, "no such device");
	uuid = norm; /* one device, whatever case */
	if (reason && strlen(reason) > 256)
		return bw_err_set(err, BW_EFORMAT, "reason: over 256 bytes");
	if ((rc = st->ops->begin(st, err)))
		return rc;
	rc = st->ops->deny_set(st, uuid, deny, reason ? reason : "", time(NULL),
			       err);
	if (!rc)
		rc = admin_log(srv, who, deny ? "device.deny" : "device.allow",
			       json_pack("{s:s, s:s}", "uuid", uuid, "reason",
					 reason ? reason : ""),
			       err);
	if ((rc = finish(st, rc, err)))
		return rc;
	srv->generation++; /* open connections re-check */
	srv->id_epoch++;   /* and cached decisions are dropped */
	bw_srv_log(BW_SRV_LOG_NOTICE, "admin: device %s %s by %s", uuid,
		   deny ? "deny-listed" : "allowed", who);
	return 0;
}

/* POST (with optional {"reason"}) or DELETE /devices/<uuid>/deny */
static void device_deny(struct bw_srv *srv, struct evhttp_request *req,
			const char *uuid, int deny, const char *who)
{
	struct bw_err err = {0};
	const char *reason = "";
	json_t *b = NULL;
	int rc = 0;

	if (deny && evbuffer_get_length(evhttp_request_get_input_buffer(req))) {
		b = body_json(req, &err);
		reason = json_string_value(json_object_get(b, "reason"));
		if (!b)
			rc = bw_err_set(&err, BW_EFORMAT, "bad body");
		if (!reason)
			reason = "";
	}
	if (!rc)
		rc = bw_srv_admin_device_deny(srv, uuid, deny, reason, who,
					      &err);
	reply_rc(req, rc, &err, 200);
	json_decref(b);
}

/* GET /devices, GET /devices/<uuid>, POST|DELETE /devices/<uuid>/deny */
/* POST /devices/<uuid>/recertify {"csr": PEM}: 200 {"uuid", "serial",
 * "certificate", "chain"} (bw_srv_recertify decides the rest). */
static void recertify(struct bw_srv *srv, struct evhttp_request *req,
		      const char *uuid, const char *who)
{
	struct bw_err err = {0};
	json_t *b = body_json(req, &err), *csr = json_object_get(b, "csr");
	char by[BW_SRV_TLOG_BY_MAX], *leaf = NULL, *ca = NULL, *serial = NULL;
	size_t n1 = 0, n2 = 0;
	X509 *cert = NULL;
	int status = 400, rc = 0;

	actor(srv, who, by);
	if (!json_is_string(csr) || json_object_size(b) != 1)
		rc = bw_err_set(&err, BW_EFORMAT, "need {\"csr\": PEM}");
	else
		rc = bw_srv_recertify(srv, uuid, json_string_value(csr),
				      json_string_length(csr), by, &cert,
				      &status, &err);
	if (!rc && (bw_pki_cert_pem(cert, &leaf, &n1, &err) ||
		    bw_pki_cert_pem(srv->reg_ca, &ca, &n2, &err) ||
		    bw_pki_serial_hex(cert, &serial, &err)))
		status = 500; /* bound and committed: the log has it */
	if (status != 200) {
		bw_srv_log(BW_SRV_LOG_NOTICE,
			   "admin: re-certify of %s by %s refused: %s", uuid,
			   who, err.msg);
		bw_srv_http_json(req, status,
				 json_pack("{s:s,s:s}", "error",
					   bw_strerror(rc ? rc : BW_EIO),
					   "reason", err.msg));
	} else {
		bw_srv_http_json(req, 200,
				 json_pack("{s:s,s:s,s:s,s:s+}", "uuid", uuid,
					   "serial", serial, "certificate",
					   leaf, "chain", leaf, ca));
	}
	X509_free(cert);
	free(leaf);
	free(ca);
	free(serial);
	json_decref(b);
}

static void devices(struct bw_srv *srv, struct evhttp_request *req,
		    const char *rest, struct evkeyvalq *q, const char *who)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_err err = {0};
	char uuid[BW_UUID_BUF];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	json_t *out = NULL;
	int rc = 0;

	if (!*rest && cmd == EVHTTP_REQ_GET) {
		rc = bw_srv_admin_devices_query(srv, q, &out, &err);
	} else {
		if (!uuid_norm(rest, n, uuid)) {
			rc = bw_err_set(&err, BW_ENOTFOUND, "no such device");
		} else if (slash && !strcmp(slash, "/deny") &&
			   (cmd == EVHTTP_REQ_POST ||
			    cmd == EVHTTP_REQ_DELETE)) {
			device_deny(srv, req, uuid, cmd == EVHTTP_REQ_POST,
				    who);
			return;
		} else if (slash && !strcmp(slash, "/recertify") &&
			   cmd == EVHTTP_REQ_POST) {
			recertify(srv, req, uuid, who);
			return;
		} else if (slash || cmd != EVHTTP_REQ_GET) {
			rc = bw_err_set(&err, BW_ENOTFOUND, "no such resource");
		} else {
			rc = bw_srv_admin_device_get(srv, uuid, &out, &err);
		}
	}
	if (rc)
		reply_rc(req, rc, &err, 200);
	else
		bw_srv_http_json(req, 200, out);
}

/* A new bearer token (hex of TOKEN_BYTES random bytes) and the sha256
 * hex the database keeps instead. */
static int secret_token_new(char tok[2 * TOKEN_BYTES + 1], char hash[65],
			    struct bw_err *err)
{
	uint8_t raw[TOKEN_BYTES];
	int rc = 0;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		rc = bw_err_set(err, BW_ECRYPTO, "random");
	} else {
		bw_hex_encode(raw, sizeof(raw), tok);
		bw_hash_buf_hex(BW_HASH_SHA256, tok, strlen(tok), hash);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

static void token_create(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	json_t *b = body_json(req, &err);
	const char *scope = json_string_value(json_object_get(b, "scope"));
	const char *comment = json_string_value(json_object_get(b, "comment"));
	json_t *jexp = json_object_get(b, "expires-in");
	json_t *juses = json_object_get(b, "uses");
	char tok[2 * TOKEN_BYTES + 1] = "", hash[65];
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
	if ((rc = secret_token_new(tok, hash, &err)) ||
	    (rc = srv->store->ops->begin(srv->store, &err)))
		goto out;
	rc = srv->store->ops->token_add(
	    srv->store, hash, scope, now + json_integer_value(jexp),
	    juses ? json_integer_value(juses) : -1, comment, now, &id, &err);
	if (!rc)
		rc = admin_log(
		    srv, NULL, "token.create",
		    json_pack("{s:I, s:s, s:I, s:I, s:s}", "id", (json_int_t)id,
			      "scope", scope, "expires",
			      (json_int_t)(now + json_integer_value(jexp)),
			      "uses",
			      (json_int_t)(juses ? json_integer_value(juses)
						 : -1),
			      "comment", comment ? comment : ""),
		    &err);
	rc = finish(srv->store, rc, &err);
out:
	if (rc)
		reply_rc(req, rc, &err, 201);
	else
		bw_srv_http_json(req, 201,
				 json_pack("{s:I,s:s,s:s}", "id",
					   (json_int_t)id, "token", tok,
					   "scope", scope));
	OPENSSL_cleanse(tok, sizeof(tok));
	json_decref(b);
}

static void tokens(struct bw_srv *srv, struct evhttp_request *req,
		   const char *rest)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_err err = {0};
	json_t *out = NULL;
	uint64_t id = 0;
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
	if (cmd != EVHTTP_REQ_DELETE || bw_num_parse(rest, INT64_MAX, &id) != 0 ||
	    id < 1)
		rc = bw_err_set(&err, BW_ENOTFOUND, "no such resource");
	else if (!(rc = srv->store->ops->begin(srv->store, &err))) {
		rc = srv->store->ops->token_revoke(srv->store, (int64_t)id,
						 &err);
		if (!rc)
			rc = admin_log(srv, NULL, "token.revoke",
				       json_pack("{s:I}", "id",
						 (json_int_t)id),
				       &err);
		rc = finish(srv->store, rc, &err);
	}
	reply_rc(req, rc, &err, 200);
}

/* POST /accounts {"role": "viewer"|"operator", "expires-in", "comment"?}:
 * a bearer token for the admin API and the fleet page, shown once. */
static void account_create(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	json_t *b = body_json(req, &err);
	const char *role = json_string_value(json_object_get(b, "role"));
	const char *comment = json_string_value(json_object_get(b, "comment"));
	json_t *jexp = json_object_get(b, "expires-in");
	char tok[2 * TOKEN_BYTES + 1] = "", hash[65];
	int64_t id = 0, now = time(NULL);
	int rc = 0;

	if (!role || (strcmp(role, "viewer") && strcmp(role, "operator")) ||
	    !json_is_integer(jexp) || json_integer_value(jexp) <= 0 ||
	    json_integer_value(jexp) > 10LL * 365 * 86400 ||
	    (comment && strlen(comment) > 256))
		rc = bw_err_set(&err, BW_EFORMAT,
				"need role (viewer|operator), expires-in "
				"(seconds), optional comment");
	if (!rc)
		rc = secret_token_new(tok, hash, &err);
	if (!rc && !(rc = srv->store->ops->begin(srv->store, &err))) {
		rc = srv->store->ops->account_add(
		    srv->store, hash, role, now + json_integer_value(jexp),
		    comment, now, &id, &err);
		if (!rc)
			rc = admin_log(srv, NULL, "account.create",
				       json_pack("{s:I, s:s, s:I}", "id",
						 (json_int_t)id, "role", role,
						 "expires",
						 (json_int_t)(now +
							      json_integer_value(
								  jexp))),
				       &err);
		rc = finish(srv->store, rc, &err);
	}
	if (rc) {
		reply_rc(req, rc, &err, 201);
	} else {
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: account %lld (%s) created",
			   (long long)id, role);
		bw_srv_http_json(req, 201,
				 json_pack("{s:I,s:s,s:s}", "id",
					   (json_int_t)id, "token", tok,
					   "role", role));
	}
	OPENSSL_cleanse(tok, sizeof(tok));
	json_decref(b);
}

/* GET|POST /accounts, DELETE /accounts/<id> (the admin's only) */
static void accounts(struct bw_srv *srv, struct evhttp_request *req,
		     const char *rest)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct bw_err err = {0};
	json_t *out = NULL;
	uint64_t id = 0;
	int rc = 0;

	if (!*rest && cmd == EVHTTP_REQ_POST) {
		account_create(srv, req);
		return;
	}
	if (!*rest && cmd == EVHTTP_REQ_GET) {
		if ((rc = srv->store->ops->account_list(srv->store, &out,
							&err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
		return;
	}
	if (cmd != EVHTTP_REQ_DELETE || bw_num_parse(rest, INT64_MAX, &id) ||
	    id < 1)
		rc = bw_err_set(&err, BW_ENOTFOUND, "no such resource");
	else if (!(rc = srv->store->ops->begin(srv->store, &err))) {
		rc = srv->store->ops->account_revoke(srv->store,
						   (int64_t)id, &err);
		if (!rc)
			rc = admin_log(srv, NULL, "account.revoke",
				       json_pack("{s:I}", "id",
						 (json_int_t)id),
				       &err);
		if (!(rc = finish(srv->store, rc, &err)))
			bw_srv_log(BW_SRV_LOG_NOTICE,
				   "admin: account %llu revoked",
				   (unsigned long long)id);
	}
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
		 !(rc = srv->store->ops->begin(srv->store, &err))) {
		char hex[BW_HASH_MAX_HEX];

		bw_hash_buf_hex(BW_HASH_SHA256, pem, len, hex);
		rc = srv->store->ops->crl_put(srv->store, issuer, number, pem,
					      len, time(NULL), &err);
		if (!rc)
			rc = admin_log(srv, NULL, "pki.crl.upload",
				       json_pack("{s:s, s:I, s:s}", "issuer",
						 issuer, "crl-number",
						 (json_int_t)number, "sha256",
						 hex),
				       &err);
		if (!(rc = finish(srv->store, rc, &err)))
			rc = reload_as_admin(srv, &err);
	}
	if (!rc)
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: CRL %lld of %s installed",
			   (long long)number, issuer);
	reply_rc(req, rc, &err, 200);
}

/* PUT /pki/ca/<name>[?production=yes|no]: a device CA certificate signed
 * by the factory CA (e.g. a manufacturing site's local CA); its devices
 * are accepted at once. It may issue production certificates only when
 * the upload says production=yes (default no). */
static void ca_upload(struct bw_srv *srv, struct evhttp_request *req,
		      const char *name, struct evkeyvalq *q)
{
	struct bw_err err = {0};
	size_t len = 0;
	const uint8_t *pem = bw_srv_http_body(req, &len);
	const char *prod = evhttp_find_header(q, "production");
	int rc = 0, production = prod && !strcmp(prod, "yes");

	if (prod && !production && strcmp(prod, "no"))
		rc = bw_err_set(&err, BW_EFORMAT, "production: yes or no");
	else if (!pem)
		rc = bw_err_set(&err, BW_ENOMEM, "body");
	else if (!(rc = bw_srv_policy_ca_check(srv->policy, name, pem, len,
					       &err)) &&
		 !(rc = srv->store->ops->begin(srv->store, &err))) {
		char hex[BW_HASH_MAX_HEX];

		bw_hash_buf_hex(BW_HASH_SHA256, pem, len, hex);
		rc = srv->store->ops->ca_put(srv->store, name, pem, len,
					     production, time(NULL), &err);
		if (!rc)
			rc = admin_log(srv, NULL, "pki.ca.add",
				       json_pack("{s:s, s:s, s:b}", "name", name,
						 "pem-sha256", hex,
						 "production", production),
				       &err);
		if (!(rc = finish(srv->store, rc, &err)))
			rc = reload_as_admin(srv, &err);
	}
	if (!rc)
		bw_srv_log(BW_SRV_LOG_NOTICE,
			   "admin: device CA %s installed (%s)", name,
			   production ? "may issue production certificates"
				      : "CI only");
	reply_rc(req, rc, &err, 200);
}

/*
 * POST /pki/issued: a device certificate issued offline by `bulwark keys
 * ca sign` (its PEM as the body), logged as device.cert.issue (how "keys
 * ca sign", by the admin) so an offline issuance is in the transparency
 * log before the device first connects. Only a certificate the gateway
 * would accept now (a trusted device CA's, valid, not revoked, a device
 * subject) is logged, and each one once: 201 {"index","uuid"} when
 * logged, 200 with the index of its entry when it was logged already, 400
 * (with the reason) when the gateway would refuse it.
 */
static void cert_issued(struct bw_srv *srv, struct evhttp_request *req,
			const char *who)
{
	struct bw_store *st = srv->store;
	struct bw_srv_identity id;
	struct bw_err err = {0};
	size_t len = 0;
	const uint8_t *pem = bw_srv_http_body(req, &len);
	X509 *x = NULL;
	uint64_t index = 0;
	char by[BW_SRV_TLOG_BY_MAX];
	int rc = 0, code = 201;

	if (!pem)
		rc = bw_err_set(&err, BW_ENOMEM, "body");
	else if ((rc = bw_pki_cert_parse(pem, len, &x, &err))) {
		/* the reason says what is wrong */
	} else if ((rc = bw_srv_policy_check(srv->policy, x, time(NULL), &id,
					     &err))) {
		rc = BW_EFORMAT; /* 400: the reason says what is wrong */
	} else if (id.production && !id.ca_production) {
		rc = bw_err_set(&err, BW_EFORMAT,
				"production certificate from device CA %s, "
				"which may not issue production certificates",
				id.ca);
	} else if (!(rc = st->ops->begin(st, &err))) {
		rc = st->ops->tlog_find_digest(st, id.fingerprint, &index,
					       &err);
		if (rc == 0) {
			code = 200; /* logged already: once per certificate */
		} else if (rc == BW_ENOTFOUND) {
			json_t *o = json_pack(
			    "{s:s, s:s, s:s, s:s, s:b, s:s}", "uuid", id.uuid,
			    "ca", id.ca, "serial", id.serial, "sha256",
			    id.fingerprint, "production", id.production, "how",
			    "keys ca sign");

			actor(srv, who, by);
			rc = o ? bw_srv_tlog_append(st, "device.cert.issue", by,
						    o, time(NULL), &index,
						    &err)
			       : bw_err_set(&err, BW_ENOMEM, "out of memory");
			json_decref(o);
		}
		rc = finish(st, rc, &err);
	}
	X509_free(x);
	if (rc) {
		reply_rc(req, rc, &err, 0);
		return;
	}
	if (code == 201)
		bw_srv_log(BW_SRV_LOG_NOTICE,
			   "admin: issuance of device %s (CA %s, serial %s) "
			   "logged at %llu",
			   id.uuid, id.ca, id.serial,
			   (unsigned long long)index);
	bw_srv_http_json(req, code,
			 json_pack("{s:I, s:s}", "index", (json_int_t)index,
				   "uuid", id.uuid));
}

int bw_srv_admin_rotate_request(struct bw_srv *srv, const char *uuid,
				const char *ca, const char *who,
				struct bw_err *err)
{
	char norm[BW_UUID_BUF];
	int rc = 0;

	if ((!uuid == !ca) || (uuid && !uuid_norm(uuid, strlen(uuid), norm)))
		return bw_err_set(err, BW_EFORMAT,
				  "need {\"uuid\": U} or {\"ca\": NAME}");
	/* a name that can not be a device CA's names none */
	if (ca && (!bw_pki_device_ca_name_ok(ca) ||
		   !bw_srv_policy_ca_cert(srv->policy, ca)))
		return bw_err_set(err, BW_ENOTFOUND, "no such device CA");
	if (uuid)
		uuid = norm; /* one device, whatever case */
	if ((rc = srv->store->ops->rotate_request_set(
		 srv->store, uuid ? "device" : "ca", uuid ? uuid : ca,
		 time(NULL), err)))
		return rc;
	bw_srv_log(BW_SRV_LOG_NOTICE, "admin: rotation asked of %s %s by %s",
		   uuid ? "device" : "every device of CA", uuid ? uuid : ca,
		   who);
	return 0;
}

/* POST /rotate-cert {"uuid": U} or {"ca": device CA file base}: devices
 * whose certificate was issued before now are told to rotate (GET
 * /device "est.rotate"). */
static void rotate_cert(struct bw_srv *srv, struct evhttp_request *req,
			const char *who)
{
	struct bw_err err = {0};
	json_t *b = body_json(req, &err);
	int rc = 0;

	if (!b || json_object_size(b) != 1)
		rc = bw_err_set(&err, BW_EFORMAT,
				"need {\"uuid\": U} or {\"ca\": NAME}");
	else
		rc = bw_srv_admin_rotate_request(
		    srv, json_string_value(json_object_get(b, "uuid")),
		    json_string_value(json_object_get(b, "ca")), who, &err);
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

json_t *bw_srv_admin_pki_json(struct bw_srv *srv)
{
	return json_pack("{s:s,s:o}", "factory",
			 bw_srv_policy_factory(srv->policy), "device-cas",
			 bw_srv_policy_describe(srv->policy));
}

int bw_srv_admin_events(struct bw_srv *srv, const char *uuid, int64_t limit,
			json_t **out, struct bw_err *err)
{
	char norm[BW_UUID_BUF];

	*out = NULL;
	if (uuid && !uuid_norm(uuid, strlen(uuid), norm))
		return bw_err_set(err, BW_EFORMAT, "device: not a uuid");
	return srv->store->ops->event_list(srv->store, uuid ? norm : NULL,
					   limit, out, err);
}

/* One certificate of the expiry report. */
static int expiry_cert(json_t *arr, const char *what, const char *name,
		       int64_t not_after)
{
	return json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "what",
						    what, "name", name,
						    "not-after",
						    (json_int_t)not_after));
}

/* Devices listed at most by the expiry report (soonest first). */
#define EXPIRY_DEVICES_MAX 200

int bw_srv_admin_expiry(struct bw_srv *srv, int64_t now, json_t **out,
			struct bw_err *err)
{
	json_t *roles = NULL, *devices = NULL;
	json_t *cas = bw_srv_policy_describe(srv->policy);
	json_t *fac = bw_srv_policy_factory_describe(srv->policy);
	json_t *certs = json_array(), *crls = json_array(), *ca = NULL;
	SSL_CTX *ctx = srv->admin.ctx ? srv->admin.ctx : srv->gw.ctx;
	size_t i = 0;
	int rc = bw_srv_repo_status(srv->repo, now, &roles, err);

	*out = NULL;
	if (!rc && (!cas || !fac || !certs || !crls))
		rc = BW_ENOMEM;
	/* device certificates expiring within the warning window (an
	 * index range: cheap with any fleet size) */
	if (!rc)
		rc = srv->store->ops->device_expiring(
		    srv->store, now + srv->cfg->expiry_warn,
		    EXPIRY_DEVICES_MAX, &devices, err);
	if (rc)
		goto out;
	expiry_cert(certs, "factory CA", "factory_ca",
		    json_integer_value(json_object_get(fac, "not-after")));
	if (ctx)
		expiry_cert(certs, "server TLS certificate", "tls",
			    bw_srv_cert_not_after(
				SSL_CTX_get0_certificate(ctx)));
	if (srv->est.ctx)
		expiry_cert(certs, "EST server certificate", "est",
			    bw_srv_cert_not_after(
				SSL_CTX_get0_certificate(srv->est.ctx)));
	json_array_append_new(crls, json_pack("{s:s,s:O}", "issuer",
					      "factory_ca", "next-update",
					      json_object_get(
						  fac, "crl-next-update")));
	json_array_foreach(cas, i, ca)
	{
		const char *name =
		    json_string_value(json_object_get(ca, "name"));

		expiry_cert(
		    certs, "device CA", name,
		    json_integer_value(json_object_get(ca, "not-after")));
		json_array_append_new(
		    crls, json_pack("{s:s,s:O}", "issuer", name,
				    "next-update",
				    json_object_get(ca, "crl-next-update")));
	}
	*out = json_pack("{s:I,s:I,s:o,s:O,s:O,s:o,s:I}", "now",
			 (json_int_t)now, "warn-before",
			 (json_int_t)srv->cfg->expiry_warn, "repository",
			 roles, "certificates", certs, "crls", crls, "devices",
			 devices, "devices-max", (json_int_t)EXPIRY_DEVICES_MAX);
	roles = devices = NULL; /* transferred */
	rc = *out ? 0 : BW_ENOMEM;
out:
	json_decref(roles);
	json_decref(devices);
	json_decref(cas);
	json_decref(fac);
	json_decref(certs);
	json_decref(crls);
	return rc;
}

/* One published targets role as {"flavour","tag","version","expires",
 * "targets": [{"name","length","version","hardware-ids"}]}. */
static json_t *release_json(struct bw_srv *srv, const char *flavour,
			    const char *tag)
{
	struct bw_json_limits lim = {.max_depth = 16};
	struct bw_meta_rec m;
	struct bw_err err = {0};
	json_t *md = NULL, *targets = NULL, *fi = NULL, *out = NULL;
	const char *name = NULL;

	memset(&m, 0, sizeof(m));
	if (srv->store->ops->meta_get(srv->store, flavour, tag, "targets", 0,
				      &m, &err))
		return NULL;
	lim.max_bytes = m.len + 1;
	if (bw_json_parse(m.data, m.len, &lim, &md, &err) ||
	    !(targets = json_array()))
		goto out;
	json_object_foreach(
	    json_object_get(json_object_get(md, "signed"), "targets"), name, fi)
	{
		json_t *custom = json_object_get(fi, "custom");
		json_t *hw = json_object_get(custom, "hardwareIds");
		json_t *ver = json_object_get(custom, "version");
		json_t *h = NULL;
		char hws[512] = "";
		size_t k = 0, used = 0;

		/* "a, b, c", bounded: for people, not for parsing */
		json_array_foreach(hw, k, h) if (json_is_string(h) &&
						   used < sizeof(hws))
		    used += (size_t)snprintf(hws + used, sizeof(hws) - used,
					     "%s%s", k ? ", " : "",
					     json_string_value(h));

		json_array_append_new(
		    targets,
		    json_pack("{s:s,s:O,s:s,s:s}", "name", name, "length",
			      json_object_get(fi, "length"), "version",
			      json_is_string(ver) ? json_string_value(ver) : "",
			      "hardware-ids", hws));
	}
	out = json_pack("{s:s,s:s,s:I,s:I,s:O}", "flavour", flavour, "tag",
			tag, "version", (json_int_t)m.version, "expires",
			(json_int_t)m.expires, "targets", targets);
out:
	json_decref(targets);
	json_decref(md);
	free(m.data);
	return out;
}

int bw_srv_admin_releases(struct bw_srv *srv, json_t **out,
			  struct bw_err *err)
{
	json_t *heads = NULL, *h = NULL, *arr = json_array();
	size_t i = 0;
	int rc = srv->store->ops->meta_heads(srv->store, &heads, err);

	*out = NULL;
	if (!rc && !arr)
		rc = BW_ENOMEM;
	json_array_foreach(heads, i, h)
	{
		json_t *r = NULL;

		if (rc || strcmp(json_string_value(json_object_get(h, "role")),
				 "targets"))
			continue;
		r = release_json(
		    srv, json_string_value(json_object_get(h, "flavour")),
		    json_string_value(json_object_get(h, "tag")));
		if (r)
			json_array_append_new(arr, r);
	}
	if (!rc) {
		*out = arr;
		arr = NULL; /* transferred */
	}
	json_decref(arr);
	json_decref(heads);
	return rc;
}

static void dispatch(struct bw_srv *srv, struct evhttp_request *req,
		     const char *path, struct evkeyvalq *q, const char *who)
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
		ca_upload(srv, req, path + 8, q);
	} else if (!strcmp(path, "/pki/issued") && cmd == EVHTTP_REQ_POST) {
		cert_issued(srv, req, who);
	} else if (!strcmp(path, "/pki") && cmd == EVHTTP_REQ_GET) {
		bw_srv_http_json(req, 200, bw_srv_admin_pki_json(srv));
	} else if (!strcmp(path, "/status") && cmd == EVHTTP_REQ_GET) {
		if ((rc =
			 bw_srv_repo_status(srv->repo, time(NULL), &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(
			    req, 200,
			    json_pack("{s:o, s:{s:s, s:I, s:I}}", "repository",
				      out, "storage", "backend",
				      srv->store->ops->name, "queries",
				      (json_int_t)srv->store->queries,
				      "write-transactions",
				      (json_int_t)srv->store->commits));
	} else if (!strcmp(path, "/releases") && cmd == EVHTTP_REQ_GET) {
		if ((rc = bw_srv_admin_releases(srv, &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
	} else if (!strcmp(path, "/expiry") && cmd == EVHTTP_REQ_GET) {
		if ((rc = bw_srv_admin_expiry(srv, time(NULL), &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
	} else if (!strcmp(path, "/devices") ||
		   !strncmp(path, "/devices/", 9)) {
		devices(srv, req, path[8] ? path + 9 : "", q, who);
	} else if (!strcmp(path, "/deny") && cmd == EVHTTP_REQ_GET) {
		if ((rc = srv->store->ops->deny_list(srv->store, &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
	} else if (!strcmp(path, "/events") && cmd == EVHTTP_REQ_GET) {
		const char *dev = evhttp_find_header(q, "device");
		char dev_uuid[BW_UUID_BUF];

		if (dev && !uuid_norm(dev, strlen(dev), dev_uuid))
			bw_srv_http_error(req, 400, "not a device uuid");
		else if ((rc = bw_srv_admin_events(
			      srv, dev ? dev_uuid : NULL,
			 query_int(q, "limit", 100, LIST_MAX), &out, &err)))
			reply_rc(req, rc, &err, 200);
		else
			bw_srv_http_json(req, 200, out);
	} else if (!strcmp(path, "/rotate-cert") && cmd == EVHTTP_REQ_POST) {
		rotate_cert(srv, req, who);
	} else if (!strcmp(path, "/rotations") && cmd == EVHTTP_REQ_GET) {
		rotations(srv, req, q);
	} else if (!strcmp(path, "/waves") || !strncmp(path, "/waves/", 7)) {
		bw_srv_waves_admin(srv, req, path + 6, who);
	} else if (!strncmp(path, "/log/", 5)) {
		bw_srv_admin_log(srv, req, path + 5, q);
	} else if (!strcmp(path, "/tokens") || !strncmp(path, "/tokens/", 8)) {
		tokens(srv, req, path[7] ? path + 8 : "");
	} else if (!strcmp(path, "/accounts") ||
		   !strncmp(path, "/accounts/", 10)) {
		accounts(srv, req, path[9] ? path + 10 : "");
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
	const char *h = NULL;
	enum bw_srv_access role = BW_SRV_ACCESS_NONE;
	int64_t account = 0;
	char who[48];
	struct evkeyvalq q;

	if (!bw_srv_tls_ssl(req) || !path) {
		evhttp_send_error(req, 400, NULL);
		return;
	}
	bw_srv_tls_track(req);
	bw_srv_request_track(srv, req);
	if (!strcmp(path, "/ui") || !strncmp(path, "/ui/", 4)) {
		bw_srv_ui_handle(srv, req, path, query);
		return;
	}
	h = bw_srv_http_header(req, "Authorization", 600);
	if (h && !strncmp(h, "Bearer ", 7))
		role = bw_srv_admin_token_role(srv, h + 7, strlen(h + 7),
					       &account);
	if (role == BW_SRV_ACCESS_NONE) {
		bw_srv_log(BW_SRV_LOG_NOTICE, "admin: bad token from %s",
			   bw_srv_peer_addr(req));
		bw_srv_http_error(req, 401, "unauthorized");
		return;
	}
	if (!bw_srv_admin_allows(role, evhttp_request_get_command(req),
				 path)) {
		bw_srv_log(BW_SRV_LOG_NOTICE,
			   "admin: account %lld (%s) may not %.128s",
			   (long long)account, bw_srv_access_name(role), path);
		bw_srv_http_error(req, 403, "forbidden for this role");
		return;
	}
	if (account)
		snprintf(who, sizeof(who), "account %lld", (long long)account);
	else
		snprintf(who, sizeof(who), "admin token");
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q)) {
		bw_srv_http_error(req, 400, "bad query");
		return;
	}
	dispatch(srv, req, path, &q, who);
	evhttp_clear_headers(&q);
}
