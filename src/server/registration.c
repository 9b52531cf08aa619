/*
 * Registration: POST /sign (TLS with server authentication, no client
 * certificate). A factory token decides the scope (ci / production); the
 * CSR must name the uuid (CN), this factory (OU, if present), an EC P-256
 * key and a valid self-signature (bw_pki_csr_check). The device record,
 * the token use and the issuance commit together, so a refused request
 * stores nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <openssl/crypto.h>

#include "bulwark/hash.h"
#include "bulwark/identity.h"
#include "bulwark/json.h"
#include "bulwark/pki.h"
#include "http.h"
#include "binding.h"
#include "log.h"
#include "policy.h"
#include "registration.h"
#include "server.h"
#include "tls.h"
#include "translog.h"

const char *bw_srv_registration_token(struct evhttp_request *req)
{
	const char *t = bw_srv_http_header(req, "OSF-TOKEN", 512);
	const char *a = NULL;

	if (t && *t)
		return t;
	a = bw_srv_http_header(req, "Authorization", 512);
	if (a && !strncmp(a, "Bearer ", 7) && a[7])
		return a + 7;
	return NULL;
}

/* A string field (JSON string, or number as lmp-device-register may send
 * for scalars) that is printable, without quotes or backslashes. */
static int str_field(json_t *b, const char *k, int required, char *out,
		     size_t outlen)
{
	json_t *v = json_object_get(b, k);
	const char *s = NULL;
	size_t n = 0;

	out[0] = '\0';
	if (!v)
		return !required;
	if (json_is_integer(v)) {
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
		return 1;
	}
	if (!json_is_string(v) || (n = json_string_length(v)) >= outlen)
		return 0;
	s = json_string_value(v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			return 0;
	memcpy(out, s, n + 1);
	return 1;
}

int bw_srv_registration_parse(json_t *b, struct bw_srv_reg_req *r,
			      struct bw_err *err)
{
	const char *k = NULL;
	json_t *v = NULL, *csr = json_object_get(b, "csr");
	char tmp[BW_SRV_REG_STR_MAX + 1], norm[BW_UUID_BUF];

	if (!json_is_object(b))
		return bw_err_set(err, BW_EFORMAT, "body is not an object");
	json_object_foreach(b, k, v)
	{
		if (strcmp(k, "uuid") && strcmp(k, "name") &&
		    strcmp(k, "hardware-id") && strcmp(k, "csr") &&
		    strcmp(k, "group") && strcmp(k, "overrides"))
			return bw_err_set(err, BW_EFORMAT, "unknown field");
	}
	if (!str_field(b, "uuid", 1, r->uuid, sizeof(r->uuid)) ||
	    !str_field(b, "name", 0, r->name, sizeof(r->name)) ||
	    !str_field(b, "hardware-id", 1, r->hwid, sizeof(r->hwid)) ||
	    !str_field(b, "group", 0, tmp, sizeof(tmp)) ||
	    !json_is_string(csr) || json_string_length(csr) > BW_PKI_CSR_MAX)
		return bw_err_set(err, BW_EFORMAT,
				  "need uuid, hardware-id, csr (strings)");
	if (bw_identity_uuid_normalize(r->uuid, strlen(r->uuid), norm, err))
		return BW_EFORMAT;
	memcpy(r->uuid, norm, sizeof(norm)); /* one device, whatever case */
	if (bw_srv_tag_parse(r->hwid, tmp, sizeof(tmp)) ||
	    strcmp(tmp, r->hwid) || !r->hwid[0])
		return bw_err_set(err, BW_EFORMAT, "bad hardware-id");
	if (json_object_get(b, "overrides") &&
	    !json_is_object(json_object_get(b, "overrides")))
		return bw_err_set(err, BW_EFORMAT,
				  "overrides is not an object");
	r->csr = json_string_value(csr);
	r->csr_len = json_string_length(csr);
	return 0;
}

static int csr_asks_production(X509_REQ *req)
{
	struct bw_identity_subject subj;

	/* an unreadable subject is refused by bw_pki_csr_check */
	return bw_identity_subject_read(X509_REQ_get_subject_name(req), &subj,
					NULL) == 0 &&
	       subj.production;
}

/* The answer: root.crt, client.pem, client.chained, sota.toml. */
static json_t *answer(struct bw_srv *srv, const struct bw_srv_reg_req *r,
		      X509 *cert)
{
	char *root = NULL, *leaf = NULL, *ca = NULL, *chained = NULL;
	char toml[2048];
	size_t n1 = 0, n2 = 0, n3 = 0;
	const char *url = srv->cfg->reg_gateway_url;
	json_t *o = NULL;

	if (bw_pki_cert_pem(bw_srv_policy_factory_cert(srv->policy), &root, &n1,
			    NULL) ||
	    bw_pki_cert_pem(cert, &leaf, &n2, NULL) ||
	    bw_pki_cert_pem(srv->reg_ca, &ca, &n3, NULL) ||
	    !(chained = malloc(n2 + n3 + 1)))
		goto out;
	memcpy(chained, leaf, n2);
	memcpy(chained + n2, ca, n3 + 1);
	snprintf(
	    toml, sizeof(toml),
	    "[tls]\nserver = \"%s\"\nca_source = \"file\"\n"
	    "pkey_source = \"pkcs11\"\ncert_source = \"file\"\n\n"
	    "[provision]\nserver = \"%s\"\nprimary_ecu_hardware_id = \"%s\"\n\n"
	    "[uptane]\nrepo_server = \"%s/repo\"\n\n"
	    "[pacman]\nostree_server = \"%s/treehub\"\n\n"
	    "[import]\ntls_cacert_path = \"/var/sota/root.crt\"\n"
	    "tls_clientcert_path = \"/var/sota/client.pem\"\n",
	    url, url, r->hwid, url, url);
	o = json_pack("{s:s,s:s,s:s,s:s}", "root.crt", root, "client.pem", leaf,
		      "client.chained", chained, "sota.toml", toml);
out:
	free(root);
	free(leaf);
	free(ca);
	free(chained);
	return o;
}

/* The CSR against the token's scope and the body's uuid (400 / 403). */
static int csr_verify(struct bw_srv *srv, const struct bw_srv_reg_req *r,
		      int production, X509_REQ **req, int *status,
		      struct bw_err *err)
{
	struct bw_pki_csr_policy pol = {BW_PKI_PROFILE_DEVICE,
					bw_srv_policy_factory(srv->policy),
					production};
	char uuid[37];
	int rc = 0;

	*status = 400;
	if ((rc = bw_pki_csr_parse((const uint8_t *)r->csr, r->csr_len, req,
				   err)))
		return rc;
	/* the server decides production, never the CSR */
	if (!production && csr_asks_production(*req)) {
		*status = 403;
		return bw_err_set(err, BW_ESTATE, "CI token, production CSR");
	}
	if ((rc = bw_pki_csr_check(*req, &pol, err)) ||
	    (rc = bw_pki_csr_uuid(*req, uuid, err)))
		return rc;
	if (strcmp(uuid, r->uuid))
		return bw_err_set(err, BW_EFORMAT, "CSR CN is not the uuid");
	return 0;
}

/* Not deny-listed (403) and not registered yet (409). */
static int uuid_free(struct bw_store *st, const char *uuid, int *status,
		     struct bw_err *err)
{
	struct bw_device_rec d;
	int rc = st->ops->deny_has(st, uuid, err);

	if (rc) {
		*status = rc == 1 ? 403 : 500;
		return rc == 1 ? bw_err_set(err, BW_ESTATE, "deny-listed") : rc;
	}
	rc = st->ops->device_get(st, uuid, &d, err);
	if (rc == BW_ENOTFOUND)
		return 0;
	*status = rc ? 500 : 409;
	return rc ? rc : bw_err_set(err, BW_EEXIST, "uuid already registered");
}

/* The issued certificate, in the registration's transaction: which
 * device, which certificate (serial, sha256 of its DER), production or
 * not, and which registration token allowed it (by id). */
static int log_issue(struct bw_store *st, const struct bw_srv_reg_req *r,
		     const struct bw_token_use *tok, X509 *cert,
		     int production, int64_t now, struct bw_err *err)
{
	char by[BW_SRV_TLOG_BY_MAX], hex[BW_HASH_MAX_HEX], *serial = NULL;
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der), rc;
	json_t *o = NULL;

	if (len <= 0)
		return bw_err_set(err, BW_ECRYPTO, "certificate encoding");
	rc = bw_hash_buf_hex(BW_HASH_SHA256, der, (size_t)len, hex);
	OPENSSL_free(der);
	if (rc == 0)
		rc = bw_pki_serial_hex(cert, &serial, err);
	if (rc != 0)
		return rc;
	snprintf(by, sizeof(by), "registration-token:%lld", (long long)tok->id);
	o = json_pack("{s:s, s:s, s:s, s:b}", "uuid", r->uuid, "serial",
		      serial, "sha256", hex, "production", production);
	rc = o ? bw_srv_tlog_append(st, "device.cert.issue", by, o, now, NULL,
				    err)
	       : bw_err_set(err, BW_ENOMEM, "out of memory");
	json_decref(o);
	free(serial);
	return rc;
}

/* Everything after the token check, inside one transaction. */
static int do_sign(struct bw_srv *srv, const struct bw_srv_reg_req *r,
		   const struct bw_token_use *tok, X509 **cert, int *status,
		   struct bw_err *err)
{
	struct bw_store *st = srv->store;
	struct bw_device_rec d;
	struct bw_srv_binding b;
	X509_REQ *req = NULL;
	int production = !strcmp(tok->scope, "production"), rc = 0;
	int64_t now = time(NULL);

	/* production is policy: the registration CA must be allowed to
	 * issue it (a site whose directory lists no CAs cannot tell: the
	 * gateway checks at first contact) */
	if (production &&
	    bw_srv_policy_ca_production(srv->policy, srv->reg_ca) == 0) {
		*status = 403;
		rc = bw_err_set(err, BW_ESTATE,
				"production token, but the registration CA "
				"may not issue production certificates");
		goto out;
	}
	if ((rc = csr_verify(srv, r, production, &req, status, err)) ||
	    (rc = uuid_free(st, r->uuid, status, err)))
		goto out;
	*status = 500;
	if ((rc = bw_pki_device_cert_sign(
		 srv->reg_ca, srv->reg_ca_key, req,
		 bw_srv_policy_factory(srv->policy), production,
		 (long)srv->cfg->reg_cert_days, now, cert, err)))
		goto out;
	memset(&d, 0, sizeof(d));
	snprintf(d.uuid, sizeof(d.uuid), "%s", r->uuid);
	snprintf(d.name, sizeof(d.name), "%s", r->name);
	snprintf(d.hwid, sizeof(d.hwid), "%s", r->hwid);
	d.registered = now;
	d.first_seen = now;
	if (!(rc = bw_srv_binding_of(*cert, srv->reg_ca,
				     bw_srv_policy_ca_name(srv->policy,
							   srv->reg_ca),
				     production, &b, err)))
		rc = bw_srv_binding_set(srv, &d, &b, "registration", now, err);
	if (!rc)
		rc = log_issue(st, r, tok, *cert, production, now, err);
out:
	X509_REQ_free(req);
	return rc;
}

int bw_srv_registration_enroll(struct bw_srv *srv, const char *token,
				const struct bw_srv_reg_req *r, X509 **cert,
				struct bw_token_use *tok, int *status,
				struct bw_err *err)
{
	char hash[65];
	int rc = 0;

	*cert = NULL;
	memset(tok, 0, sizeof(*tok));
	bw_hash_buf_hex(BW_HASH_SHA256, token, strlen(token), hash);
	if ((rc = srv->store->ops->begin(srv->store, err))) {
		*status = 500;
		goto out;
	}
	if ((rc = srv->store->ops->token_use(srv->store, hash, time(NULL), tok,
					     err))) {
		*status = rc == BW_EIO ? 500 : 401;
	} else if (!(rc = do_sign(srv, r, tok, cert, status, err))) {
		rc = srv->store->ops->commit(srv->store, err);
		*status = rc ? 500 : 201;
	}
out:
	if (rc) {
		srv->store->ops->rollback(srv->store);
		X509_free(*cert);
		*cert = NULL;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/* The reason goes to the log only; the answer names the status. */
static void refuse(struct evhttp_request *req, int status,
		   const struct bw_srv_reg_req *r, const struct bw_err *err)
{
	char who[40];

	bw_srv_log(BW_SRV_LOG_NOTICE,
		   "registration from %s (uuid %s) refused: %s",
		   bw_srv_peer_addr(req),
		   bw_srv_log_clean(r->uuid, strlen(r->uuid), who, sizeof(who)),
		   err->msg);
	bw_srv_http_error(req, status,
			  status == 401	  ? "unauthorized"
			  : status == 403 ? "forbidden"
			  : status == 409 ? "already registered"
			  : status == 500 ? "internal error"
					  : "bad request");
}

static void sign(struct bw_srv *srv, struct evhttp_request *req)
{
	struct bw_err err = {0};
	struct bw_json_limits lim = {.max_depth = 4};
	struct bw_token_use tok;
	struct bw_srv_reg_req r;
	const char *token = bw_srv_registration_token(req);
	size_t len = 0;
	const uint8_t *body = bw_srv_http_body(req, &len);
	json_t *b = NULL;
	X509 *cert = NULL;
	int rc = 0, status = 400;

	memset(&r, 0, sizeof(r));
	lim.max_bytes = len + 1;
	if (!token) {
		status = 401;
		rc = bw_err_set(&err, BW_EINVAL, "no token");
		goto out;
	}
	if (!body || (rc = bw_json_parse(body, len, &lim, &b, &err)) ||
	    (rc = bw_srv_registration_parse(b, &r, &err)))
		goto out;
	rc = bw_srv_registration_enroll(srv, token, &r, &cert, &tok, &status,
					&err);
out:
	if (rc) {
		refuse(req, status, &r, &err);
	} else {
		bw_srv_log(BW_SRV_LOG_NOTICE, "registered %s (%s, token %lld)",
			   r.uuid, tok.scope, (long long)tok.id);
		bw_srv_http_json(req, 201, answer(srv, &r, cert));
	}
	X509_free(cert);
	json_decref(b);
}

void bw_srv_registration_handle(struct evhttp_request *req, void *arg)
{
	struct bw_srv *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (!bw_srv_tls_ssl(req) || !path) {
		evhttp_send_error(req, 400, NULL);
		return;
	}
	bw_srv_tls_track(req);
	bw_srv_request_track(srv, req);
	if (!bw_srv_rate_ok(srv, "registration", bw_srv_peer_addr(req),
			    srv->cfg->reg_rate_per_minute)) {
		bw_srv_http_error(req, 429, "too many requests");
		return;
	}
	if (strcmp(path, "/sign") ||
	    evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		bw_srv_http_error(req, 404, "no such resource");
		return;
	}
	sign(srv, req);
}
