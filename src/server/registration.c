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
#include "batch.h"
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

/* A field bulwarkd does not use: a scalar (strings bounded), so that a
 * newer client's additions pass and nothing large or nested is held. */
static int ignored_ok(json_t *v, int *count)
{
	if (++*count > BW_SRV_REG_IGNORED_FIELDS)
		return 0;
	if (json_is_string(v))
		return json_string_length(v) <= BW_SRV_REG_IGNORED_LEN;
	return json_is_integer(v) || json_is_boolean(v) || json_is_null(v);
}

/* An override value: a string, optionally written as a TOML basic
 * string ("\"pkcs11\"", as lmp-device-register sends it); the quotes are
 * dropped. */
static int override_text(json_t *v, const char **s, size_t *n)
{
	if (!json_is_string(v) ||
	    json_string_length(v) > BW_SRV_REG_IGNORED_LEN)
		return 0;
	*s = json_string_value(v);
	*n = json_string_length(v);
	if (*n >= 2 && (*s)[0] == '"' && (*s)[*n - 1] == '"') {
		(*s)++;
		*n -= 2;
	}
	return 1;
}

/* tls.pkey_source / tls.cert_source: "file" or "pkcs11". */
static int source_parse(json_t *v, int *pkcs11)
{
	const char *s = NULL;
	size_t n = 0;

	if (!override_text(v, &s, &n))
		return 0;
	if (n == 6 && !memcmp(s, "pkcs11", 6))
		*pkcs11 = 1;
	else if (n == 4 && !memcmp(s, "file", 4))
		*pkcs11 = 0;
	else
		return 0;
	return 1;
}

/* pacman.tags: "a,b" (spaces around entries allowed), each entry a tag
 * as the gateway reads it from x-ats-tags (bw_srv_tag_parse); written
 * back as "a,b". */
static int tags_parse(json_t *v, char *out, size_t outlen)
{
	char text[BW_SRV_REG_IGNORED_LEN + 1], tag[BW_STORE_TAG_MAX + 1];
	const char *s = NULL, *p = text;
	size_t n = 0, used = 0, count = 0;

	out[0] = '\0';
	if (!override_text(v, &s, &n) || memchr(s, '\0', n))
		return 0;
	memcpy(text, s, n);
	text[n] = '\0';
	while (*p) {
		while (*p == ' ')
			p++;
		if (bw_srv_tag_parse(p, tag, sizeof(tag)) || !tag[0] ||
		    ++count > BW_SRV_REG_TAGS_MAX)
			return 0;
		p += strlen(tag);
		while (*p == ' ')
			p++;
		if (*p && *p++ != ',')
			return 0;
		if (!*p && p[-1] == ',')
			return 0; /* a trailing comma names no tag */
		used += (size_t)snprintf(out + used, outlen - used, "%s%s",
					 used ? "," : "", tag);
	}
	return 1;
}

/* overrides: {section: {key: value}}. Used: tls.pkey_source,
 * tls.cert_source, pacman.tags (strict); the rest (storage.*, import.*,
 * compose-app settings, ...) ignored within bounds. */
static int overrides_parse(json_t *o, struct bw_srv_reg_req *r, int *ignored,
			   struct bw_err *err)
{
	const char *sec = NULL, *k = NULL;
	json_t *s = NULL, *v = NULL;

	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT,
				  "overrides is not an object");
	json_object_foreach(o, sec, s)
	{
		if (!json_is_object(s))
			return bw_err_set(err, BW_EFORMAT,
					  "an overrides section is not an "
					  "object");
		json_object_foreach(s, k, v)
		{
			int ok = 0;

			if (!strcmp(sec, "tls") && !strcmp(k, "pkey_source"))
				ok = source_parse(v, &r->pkey_pkcs11);
			else if (!strcmp(sec, "tls") &&
				 !strcmp(k, "cert_source"))
				ok = source_parse(v, &r->cert_pkcs11);
			else if (!strcmp(sec, "pacman") && !strcmp(k, "tags"))
				ok = tags_parse(v, r->tags, sizeof(r->tags));
			else
				ok = ignored_ok(v, ignored);
			if (!ok)
				return bw_err_set(err, BW_EFORMAT,
						  "bad overrides value "
						  "(%.32s.%.32s)",
						  sec, k);
		}
	}
	return 0;
}

/* sota-config-dir: an absolute path of [A-Za-z0-9._+-] segments, no
 * "." or ".." segment (it is written into sota.toml as TOML strings and
 * used by the device as a directory). Trailing slashes dropped. */
static int dir_field(json_t *v, char *out, size_t outlen)
{
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;

	if (!s || n == 0 || n >= outlen || s[0] != '/')
		return 0;
	while (n > 1 && s[n - 1] == '/')
		n--;
	if (n == 1)
		return 0; /* "/" itself: not a directory of its own */
	for (size_t i = 0; i < n;) {
		size_t seg = 0;

		if (s[i++] != '/')
			return 0;
		while (i + seg < n && s[i + seg] != '/')
			seg++;
		if ((seg == 0 && n > 1) || (seg == 1 && s[i] == '.') ||
		    (seg == 2 && s[i] == '.' && s[i + 1] == '.') ||
		    strspn(s + i, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789._+-") < seg)
			return 0;
		i += seg;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

/* use-ostree-server: a boolean, or its text as lmp-device-register
 * writes it. Read for its type only: bulwarkd serves no OSTree. */
static int bool_ok(json_t *v)
{
	const char *s = json_string_value(v);

	if (json_is_boolean(v))
		return 1;
	return s && (!strcmp(s, "true") || !strcmp(s, "false") ||
		     !strcmp(s, "1") || !strcmp(s, "0"));
}

int bw_srv_registration_parse(json_t *b, struct bw_srv_reg_req *r,
			      struct bw_err *err)
{
	const char *k = NULL;
	json_t *v = NULL, *csr = json_object_get(b, "csr");
	char tmp[BW_SRV_REG_STR_MAX + 1], norm[BW_UUID_BUF];
	int ignored = 0, rc = 0;

	if (!json_is_object(b))
		return bw_err_set(err, BW_EFORMAT, "body is not an object");
	snprintf(r->sota_dir, sizeof(r->sota_dir), "%s",
		 BW_SRV_REG_DEFAULT_DIR);
	r->tags[0] = '\0';
	r->pkey_pkcs11 = r->cert_pkcs11 = 0;
	json_object_foreach(b, k, v)
	{
		if (!strcmp(k, "uuid") || !strcmp(k, "name") ||
		    !strcmp(k, "hardware-id") || !strcmp(k, "csr") ||
		    !strcmp(k, "group"))
			continue; /* typed below */
		if (!strcmp(k, "overrides"))
			rc = overrides_parse(v, r, &ignored, err);
		else if (!strcmp(k, "sota-config-dir"))
			rc = dir_field(v, r->sota_dir, sizeof(r->sota_dir))
				 ? 0
				 : bw_err_set(err, BW_EFORMAT,
					      "bad sota-config-dir");
		else if (!strcmp(k, "use-ostree-server"))
			rc = bool_ok(v) ? 0
					: bw_err_set(err, BW_EFORMAT,
						     "bad use-ostree-server");
		else if (!ignored_ok(v, &ignored))
			rc = bw_err_set(err, BW_EFORMAT,
					"too many, large or nested fields");
		if (rc)
			return rc;
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

/*
 * The device's sota.toml (aktualizr-lite's configuration): this server's
 * URLs only (the gateway's /repo; bulwarkd serves no OSTree, so no
 * ostree_server), key and certificate where the request said (a file
 * under sota-config-dir, or the PKCS#11 token lmp-device-register
 * describes in the [p11] section it appends), the requested tags, and
 * the storage and import paths under sota-config-dir.
 */
static int sota_toml(struct bw_srv *srv, const struct bw_srv_reg_req *r,
		     char *out, size_t outlen)
{
	const char *url = srv->cfg->reg_gateway_url, *dir = r->sota_dir;
	char tags[sizeof(r->tags) + 32] = "", cert[BW_SRV_REG_DIR_MAX + 64] = "",
	     key[BW_SRV_REG_DIR_MAX + 64] = "";
	int n = 0;

	if (r->tags[0])
		snprintf(tags, sizeof(tags), "tags = \"%s\"\n", r->tags);
	if (!r->cert_pkcs11)
		snprintf(cert, sizeof(cert),
			 "tls_clientcert_path = \"%s/client.pem\"\n", dir);
	if (!r->pkey_pkcs11)
		snprintf(key, sizeof(key), "tls_pkey_path = \"%s/pkey.pem\"\n",
			 dir);
	n = snprintf(
	    out, outlen,
	    "[tls]\nserver = \"%s\"\nca_source = \"file\"\n"
	    "pkey_source = \"%s\"\ncert_source = \"%s\"\n\n"
	    "[provision]\nserver = \"%s\"\nprimary_ecu_hardware_id = \"%s\"\n\n"
	    "[uptane]\nrepo_server = \"%s/repo\"\nkey_source = \"file\"\n\n"
	    "[pacman]\n%s\n"
	    "[storage]\ntype = \"sqlite\"\npath = \"%s/\"\n"
	    "sqldb_path = \"%s/sql.db\"\n\n"
	    "[import]\nbase_path = \"%s\"\n"
	    "tls_cacert_path = \"%s/root.crt\"\n%s%s",
	    url, r->pkey_pkcs11 ? "pkcs11" : "file",
	    r->cert_pkcs11 ? "pkcs11" : "file", url, r->hwid, url, tags, dir,
	    dir, dir, dir, cert, key);
	return n > 0 && (size_t)n < outlen ? 0 : BW_ETOOBIG;
}

/* The answer: root.crt, client.pem, client.chained, sota.toml. */
static json_t *answer(struct bw_srv *srv, const struct bw_srv_reg_req *r,
		      X509 *cert)
{
	char *root = NULL, *leaf = NULL, *ca = NULL, *chained = NULL;
	char toml[4096];
	size_t n1 = 0, n2 = 0, n3 = 0;
	json_t *o = NULL;

	if (sota_toml(srv, r, toml, sizeof(toml)) ||
	    bw_pki_cert_pem(bw_srv_policy_factory_cert(srv->policy), &root, &n1,
			    NULL) ||
	    bw_pki_cert_pem(cert, &leaf, &n2, NULL) ||
	    bw_pki_cert_pem(srv->reg_ca, &ca, &n3, NULL) ||
	    !(chained = malloc(n2 + n3 + 1)))
		goto out;
	memcpy(chained, leaf, n2);
	memcpy(chained + n2, ca, n3 + 1);
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
	/* the first requested tag, until the device names one itself */
	if (bw_srv_tag_parse(r->tags, d.tag, sizeof(d.tag)))
		d.tag[0] = '\0';
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

/* The token's use and the issuance, inside the caller's transaction. */
static int enroll_in_txn(struct bw_srv *srv, const char *token,
			 const struct bw_srv_reg_req *r, X509 **cert,
			 struct bw_token_use *tok, int *status,
			 struct bw_err *err)
{
	char hash[65];
	int rc = 0;

	*cert = NULL;
	memset(tok, 0, sizeof(*tok));
	bw_hash_buf_hex(BW_HASH_SHA256, token, strlen(token), hash);
	if ((rc = srv->store->ops->token_use(srv->store, hash, time(NULL), tok,
					     err)))
		*status = rc == BW_EIO ? 500 : 401;
	else
		rc = do_sign(srv, r, tok, cert, status, err);
	if (rc) {
		X509_free(*cert);
		*cert = NULL;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int bw_srv_registration_enroll(struct bw_srv *srv, const char *token,
				const struct bw_srv_reg_req *r, X509 **cert,
				struct bw_token_use *tok, int *status,
				struct bw_err *err)
{
	int rc = 0;

	*cert = NULL;
	memset(tok, 0, sizeof(*tok));
	if ((rc = srv->store->ops->begin(srv->store, err))) {
		*status = 500;
		return rc;
	}
	if (!(rc = enroll_in_txn(srv, token, r, cert, tok, status, err))) {
		rc = srv->store->ops->commit(srv->store, err);
		*status = rc ? 500 : 201;
	}
	if (rc) {
		srv->store->ops->rollback(srv->store);
		X509_free(*cert);
		*cert = NULL;
	}
	return rc;
}

/* The reason goes to the log only; the answer names the status. */
static void refuse(struct evhttp_request *req, int status,
		   const struct bw_srv_reg_req *r, const struct bw_err *err)
{
	char who[40];

	if (status == 429) { /* not logged: a flood would fill the log */
		bw_srv_http_error(req, status, "too many requests");
		return;
	}
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

/*
 * Group commit (batch.h): the registrations that arrive in one turn of
 * the event loop are enrolled in one transaction, each inside a savepoint
 * of its own (a refused one undoes only its part), and committed
 * together: one fsync for all of them. Each answer is sent only after
 * that commit, so a 201 still means the device, its certificate and the
 * transparency log entry are durable; if the commit fails, every one of
 * them gets a 500 and nothing is stored.
 *
 * The request's rate-limit count is written in the same transaction,
 * before the registration's savepoint (job_count): a refused request,
 * malformed or over the budget, still counts, and a registration is one
 * write transaction, not a count committed on its own and then the
 * registration.
 */
struct reg_job {
	struct bw_srv_batch_job job; /* first: the batch's handle */
	struct evhttp_request *req;
	char addr[64]; /* the client's address: its rate-limit key */
	struct bw_srv_reg_req r; /* r.csr points into body */
	json_t *body;
	char *token;
	struct bw_token_use tok;
	X509 *cert;
	int rc, status;
	struct bw_err err;
};

static void job_answer(struct bw_srv *srv, struct reg_job *j)
{
	if (j->rc) {
		refuse(j->req, j->status, &j->r, &j->err);
	} else {
		bw_srv_log(BW_SRV_LOG_NOTICE, "registered %s (%s, token %lld)",
			   j->r.uuid, j->tok.scope, (long long)j->tok.id);
		bw_srv_http_json(j->req, 201, answer(srv, &j->r, j->cert));
	}
	X509_free(j->cert);
	json_decref(j->body);
	if (j->token) {
		OPENSSL_cleanse(j->token, strlen(j->token));
		free(j->token);
	}
	free(j);
}

static int job_count(struct bw_srv *srv, struct bw_srv_batch_job *bj,
		     int *go)
{
	struct reg_job *j = (struct reg_job *)bj;
	int rc = bw_srv_rate_count(srv, "registration", j->addr,
				   srv->cfg->reg_rate_per_minute, go, &j->err);

	if (rc) {
		j->status = 500;
		return j->rc = rc;
	}
	if (!*go) {
		j->status = 429;
		j->rc = bw_err_set(&j->err, BW_ESTATE, "too many requests");
	}
	return 0;
}

static int job_run(struct bw_srv *srv, struct bw_srv_batch_job *bj)
{
	struct reg_job *j = (struct reg_job *)bj;
	struct bw_json_limits lim = {.max_depth = 4};
	size_t len = 0;
	const uint8_t *body = bw_srv_http_body(j->req, &len);
	int rc = 0;

	j->status = 400;
	lim.max_bytes = len + 1;
	if (!j->token) {
		j->status = 401;
		return j->rc = bw_err_set(&j->err, BW_EINVAL, "no token");
	}
	if (!body)
		return j->rc = bw_err_set(&j->err, BW_EFORMAT, "no body");
	if ((rc = bw_json_parse(body, len, &lim, &j->body, &j->err)) ||
	    (rc = bw_srv_registration_parse(j->body, &j->r, &j->err)))
		return j->rc = rc;
	j->status = 500;
	j->rc = enroll_in_txn(srv, j->token, &j->r, &j->cert, &j->tok,
			      &j->status, &j->err);
	return j->rc;
}

static void job_done(struct bw_srv *srv, struct bw_srv_batch_job *bj, int rc,
		     const struct bw_err *commit_err)
{
	struct reg_job *j = (struct reg_job *)bj;

	if (rc && !j->rc) { /* its savepoint or the transaction failed */
		j->rc = rc;
		j->status = 500;
		if (commit_err)
			j->err = *commit_err;
		else
			bw_err_set(&j->err, rc, "registration not stored");
	}
	if (j->rc) {
		X509_free(j->cert);
		j->cert = NULL;
	}
	job_answer(srv, j);
}

/* Queue the request for this turn's batch; everything about it (its
 * count, its token, its body) is decided there. */
static void sign(struct bw_srv *srv, struct evhttp_request *req)
{
	const char *token = bw_srv_registration_token(req);
	struct reg_job *j = calloc(1, sizeof(*j));
	int rc = BW_ENOMEM;

	if (j && (!token || (j->token = strdup(token)))) {
		j->req = req;
		snprintf(j->addr, sizeof(j->addr), "%s",
			 bw_srv_peer_addr(req));
		j->job.first = job_count;
		j->job.run = job_run;
		j->job.done = job_done;
		if ((srv->reg_batch ||
		     !(rc = bw_srv_batch_new(srv, 0, &srv->reg_batch))) &&
		    !(rc = bw_srv_batch_add(srv->reg_batch, &j->job)))
			return;
	}
	if (!j) {
		bw_srv_http_error(req, 500, "internal error");
		return;
	}
	j->rc = rc;
	j->status = 500;
	bw_err_set(&j->err, rc, "out of memory");
	job_answer(srv, j);
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
	if (!strcmp(path, "/sign") &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		sign(srv, req); /* counted in the registration's transaction */
		return;
	}
	/* every request on this listener counts against the budget */
	if (!bw_srv_rate_ok(srv, "registration", bw_srv_peer_addr(req),
			    srv->cfg->reg_rate_per_minute))
		bw_srv_http_error(req, 429, "too many requests");
	else
		bw_srv_http_error(req, 404, "no such resource");
}
