/*
 * EST (RFC 7030, RFC 8951 clarifications) on its own listener with the
 * EST server certificate (docs/server.md says why not on the gateway).
 *
 *   GET  /.well-known/est/cacerts         certs-only PKCS#7: factory CA and
 *                                          the issuing device CA
 *   GET  /.well-known/est/csrattrs        what a CSR must carry
 *   POST /.well-known/est/simpleenroll    factory token: the checks of
 *                                          POST /sign
 *   POST /.well-known/est/simplereenroll  mutual TLS with the current
 *                                          certificate: same subject, new
 *                                          key, same production flag
 *
 * A re-enrolment is a pending rotation until the new certificate is first
 * used on any listener (bw_srv_est_first_use): until then the old and the
 * new certificate both work, so a device that lost power mid-rotation is
 * never locked out; a retry with the same key gets the same certificate.
 * Refusals carry the status only; the reason goes to the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "bulwark/buf.h"
#include "bulwark/est.h"
#include "bulwark/pki.h"
#include "binding.h"
#include "est.h"
#include "http.h"
#include "log.h"
#include "registration.h"
#include "server.h"
#include "tls.h"
#include "translog.h"

#define CT_PKCS7 "application/pkcs7-mime; smime-type=certs-only"

/* What one request is, for the log line of a refusal. */
struct est_req {
	struct bw_srv *srv;
	struct evhttp_request *req;
	const char *op;
	char uuid[BW_STORE_UUID_MAX + 1];
};

static void send_body(struct evhttp_request *req, int code, const char *ct,
		      const char *body, size_t len)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", ct);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, code, NULL, NULL);
}

/* RFC 7030 4.2.3: an error status with at most a short human-readable
 * text; ours names the status, never the reason. */
static int refuse(struct est_req *r, int code, const struct bw_err *err)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	const char *text = code == 400	 ? "bad request\n"
			   : code == 401 ? "unauthorized\n"
			   : code == 403 ? "forbidden\n"
			   : code == 404 ? "not found\n"
			   : code == 405 ? "method not allowed\n"
			   : code == 409 ? "a rotation is pending\n"
			   : code == 415 ? "unsupported media type\n"
			   : code == 429 ? "too many requests\n"
			   : code == 501 ? "not implemented\n"
					 : "internal error\n";
	char who[40];

	bw_srv_log(code >= 500 ? BW_SRV_LOG_ERR : BW_SRV_LOG_NOTICE,
		   "est %s from %s (device %s) refused with %d: %s", r->op,
		   bw_srv_peer_addr(r->req),
		   r->uuid[0] ? bw_srv_log_clean(r->uuid, strlen(r->uuid), who,
						 sizeof(who))
			      : "-",
		   code, err && err->msg[0] ? err->msg : "-");
	if (code == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer");
	if (code == 429)
		evhttp_add_header(h, "Retry-After", "60");
	send_body(r->req, code, "text/plain", text, strlen(text));
	return code;
}

/* One certificate, or the CA chain, as a certs-only answer. */
static void answer_certs(struct est_req *r, X509 *const *certs, size_t n)
{
	struct bw_err err = {0};
	char *b64 = NULL;
	size_t len = 0;

	if (bw_est_certs_build(certs, n, &b64, &len, &err) != 0) {
		refuse(r, 500, &err);
		return;
	}
	send_body(r->req, 200, CT_PKCS7, b64, len);
	free(b64);
}

static void cacerts(struct est_req *r)
{
	X509 *certs[2] = {bw_srv_policy_factory_cert(r->srv->policy),
			  r->srv->reg_ca};

	answer_certs(r, certs, certs[1] ? 2 : 1);
}

static void csrattrs(struct est_req *r)
{
	struct bw_err err = {0};
	char *b64 = NULL;
	size_t len = 0;

	if (bw_est_csrattrs(&b64, &len, &err) != 0) {
		refuse(r, 500, &err);
		return;
	}
	send_body(r->req, 200, "application/csrattrs", b64, len);
	free(b64);
}

/* RFC 7030 4.2.1: the body is application/pkcs10 (parameters allowed);
 * a missing header is tolerated, another type is not. */
static int pkcs10_type_ok(struct evhttp_request *req)
{
	const char *ct = bw_srv_http_header(req, "Content-Type", 256);
	size_t n = strlen("application/pkcs10");

	if (ct == NULL)
		return 1;
	return strncasecmp(ct, "application/pkcs10", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The request's CSR (400 / 415 on failure; *status set). */
static int read_csr(struct est_req *r, X509_REQ **csr, int *status,
		    struct bw_err *err)
{
	size_t len = 0;
	const uint8_t *body = bw_srv_http_body(r->req, &len);
	const char *cte =
	    bw_srv_http_header(r->req, "Content-Transfer-Encoding", 64);
	int rc = 0;

	*status = 415;
	if (!pkcs10_type_ok(r->req))
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "Content-Type is not application/pkcs10");
	*status = 400;
	if (body == NULL)
		return bw_err_set(err, BW_ENOMEM, "no body");
	rc = bw_est_csr_parse(body, len, cte, csr, err);
	if (rc == BW_EUNSUPPORTED)
		*status = 415;
	return rc;
}

static void simpleenroll(struct est_req *r)
{
	struct bw_srv *srv = r->srv;
	struct bw_pki_csr_policy any = {BW_PKI_PROFILE_DEVICE,
					bw_srv_policy_factory(srv->policy), 1};
	struct bw_srv_reg_req rr;
	struct bw_token_use tok;
	struct bw_err err = {0};
	const char *token = bw_srv_registration_token(r->req);
	X509_REQ *csr = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	int status = 400, len = 0;

	memset(&rr, 0, sizeof(rr));
	if (token == NULL) {
		refuse(r, 401, &(struct bw_err){0, "no factory token"});
		return;
	}
	/* the uuid is the CSR's CN; the registration checks then run on
	 * exactly the POST /sign path (token scope decides production) */
	if (read_csr(r, &csr, &status, &err) ||
	    bw_pki_csr_check(csr, &any, &err) ||
	    bw_pki_csr_uuid(csr, rr.uuid, &err) ||
	    (len = i2d_X509_REQ(csr, &der)) <= 0) {
		refuse(r, status, &err);
		goto out;
	}
	snprintf(r->uuid, sizeof(r->uuid), "%s", rr.uuid);
	snprintf(rr.name, sizeof(rr.name), "%s", rr.uuid);
	rr.csr = (const char *)der;
	rr.csr_len = (size_t)len;
	if (bw_srv_registration_enroll(srv, token, &rr, &cert, &tok, &status,
				       &err)) {
		refuse(r, status, &err);
		goto out;
	}
	bw_srv_log(BW_SRV_LOG_NOTICE, "est simpleenroll: registered %s (%s, "
		   "token %lld)", rr.uuid, tok.scope, (long long)tok.id);
	answer_certs(r, &cert, 1);
out:
	OPENSSL_free(der);
	X509_free(cert);
	X509_REQ_free(csr);
}

static int cert_fp(X509 *cert, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return BW_ECRYPTO;
	bw_hex_encode(md, 32, out);
	return 0;
}

/*
 * A pending rotation of this device. Same key as the pending
 * certificate: *again receives it (the device retries after losing the
 * answer). Another key while it is young: 409. Older than
 * est.pending_expiry: superseded (its certificate, never used, is
 * refused from now on) and a new rotation may start.
 */
static int pending_check(struct est_req *r, X509_REQ *csr, X509 **again,
			 int *status, struct bw_err *err)
{
	struct bw_store *st = r->srv->store;
	struct bw_rotation_rec rot;
	char *pem = NULL;
	BIO *bio = NULL;
	X509 *prev = NULL;
	int64_t now = time(NULL);
	int rc = st->ops->rotation_pending(st, r->uuid, &rot, &pem, err);

	*again = NULL;
	*status = 500;
	if (rc == BW_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	bio = BIO_new_mem_buf(pem, -1);
	prev = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(pem);
	if (prev == NULL)
		return bw_err_set(err, BW_EFORMAT, "stored rotation certificate");
	if (EVP_PKEY_eq(X509_get0_pubkey(prev), X509_REQ_get0_pubkey(csr)) ==
	    1) {
		*again = prev;
		return 0;
	}
	X509_free(prev);
	if (now - rot.requested < r->srv->cfg->est_pending_expiry) {
		*status = 409;
		return bw_err_set(err, BW_EEXIST,
				  "rotation to %.16s... pending since %lld",
				  rot.new_fp, (long long)rot.requested);
	}
	if ((rc = st->ops->rotation_finish(st, rot.new_fp, BW_ROT_SUPERSEDED,
					   now, err)) ||
	    (rc = st->ops->cert_deny_add(st, rot.new_fp, r->uuid,
					 "superseded rotation", now, err)))
		return rc;
	bw_srv_log(BW_SRV_LOG_NOTICE, "est: rotation of %s to %.16s... "
		   "superseded (never used)", r->uuid, rot.new_fp);
	return 0;
}

/* Issue the new certificate and record the pending rotation (inside the
 * caller's transaction). */
static int reenroll_issue(struct est_req *r, const struct bw_srv_identity *id,
			  X509_REQ *csr, X509 **cert, struct bw_err *err)
{
	struct bw_srv *srv = r->srv;
	struct bw_rotation_rec rot;
	char *pem = NULL, *serial = NULL;
	size_t plen = 0;
	int rc = 0;

	memset(&rot, 0, sizeof(rot));
	/* the production flag is the current certificate's, never the CSR's */
	if ((rc = bw_pki_device_cert_issue(
		 srv->reg_ca, srv->reg_ca_key, csr,
		 bw_srv_policy_factory(srv->policy), id->production,
		 (long)srv->cfg->reg_cert_days, time(NULL), cert, err)) ||
	    (rc = bw_pki_cert_pem(*cert, &pem, &plen, err)) ||
	    (rc = bw_pki_serial_hex(*cert, &serial, err)))
		goto out;
	snprintf(rot.uuid, sizeof(rot.uuid), "%s", id->uuid);
	snprintf(rot.old_fp, sizeof(rot.old_fp), "%s", id->fingerprint);
	snprintf(rot.serial, sizeof(rot.serial), "%s", serial);
	X509_NAME_get_text_by_NID(X509_get_subject_name(srv->reg_ca),
				  NID_commonName, rot.issuer,
				  sizeof(rot.issuer));
	rot.requested = time(NULL);
	if ((rc = cert_fp(*cert, rot.new_fp)))
		bw_err_set(err, rc, "certificate digest");
	else
		rc = srv->store->ops->rotation_add(srv->store, &rot, pem, err);
out:
	free(pem);
	free(serial);
	return rc;
}

/* The certificate issued by re-enrolment, in its transaction (who: the
 * device, authenticated by its current certificate). */
static int log_reenroll(struct bw_store *st, const struct bw_srv_identity *id,
			X509 *cert, struct bw_err *err)
{
	char by[BW_SRV_TLOG_BY_MAX], fp[65], *serial = NULL;
	json_t *o = NULL;
	int rc = cert_fp(cert, fp);

	if (rc)
		return bw_err_set(err, rc, "certificate digest");
	if ((rc = bw_pki_serial_hex(cert, &serial, err)))
		return rc;
	snprintf(by, sizeof(by), "device:%s", id->uuid);
	o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "uuid", id->uuid, "serial",
		      serial, "sha256", fp, "replaces-sha256", id->fingerprint,
		      "production", id->production);
	rc = o ? bw_srv_tlog_append(st, "device.cert.reenroll", by, o,
				    time(NULL), NULL, err)
	       : bw_err_set(err, BW_ENOMEM, "out of memory");
	json_decref(o);
	free(serial);
	return rc;
}

static void simplereenroll(struct est_req *r)
{
	struct bw_srv *srv = r->srv;
	struct bw_store *st = srv->store;
	struct bw_err err = {0};
	const struct bw_srv_identity *id = NULL;
	SSL *ssl = bw_srv_tls_ssl(r->req);
	X509 *current = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	X509_REQ *csr = NULL;
	X509 *cert = NULL;
	struct bw_pki_csr_policy pol = {BW_PKI_PROFILE_DEVICE,
					bw_srv_policy_factory(srv->policy), 0};
	int status = 400, rc = 0;

	/* RFC 7030 3.3.2: the client authenticates with its certificate */
	if (current == NULL) {
		refuse(r, 401, &(struct bw_err){0, "no client certificate"});
		return;
	}
	if ((id = bw_srv_tls_identity(srv, r->req)) == NULL) {
		refuse(r, 403, &(struct bw_err){0, "identity refused"});
		return;
	}
	snprintf(r->uuid, sizeof(r->uuid), "%s", id->uuid);
	pol.production = id->production;
	if (!bw_srv_rate_ok(srv, "est-device", id->uuid,
			    srv->cfg->est_rate_per_minute)) {
		refuse(r, 429, &(struct bw_err){0, "device rate limit"});
		return;
	}
	if ((rc = read_csr(r, &csr, &status, &err)) ||
	    (rc = bw_pki_csr_check(csr, &pol, &err)) ||
	    (rc = bw_est_reenroll_check(csr, current, &err))) {
		refuse(r, status, &err);
		goto out;
	}
	if ((rc = st->ops->begin(st, &err))) {
		refuse(r, 500, &err);
		goto out;
	}
	rc = pending_check(r, csr, &cert, &status, &err);
	if (!rc && cert == NULL) {
		status = 500;
		rc = reenroll_issue(r, id, csr, &cert, &err);
		if (!rc)
			rc = log_reenroll(st, id, cert, &err);
	}
	if (!rc)
		rc = st->ops->commit(st, &err);
	if (rc) {
		st->ops->rollback(st);
		refuse(r, status, &err);
		goto out;
	}
	bw_srv_log(BW_SRV_LOG_NOTICE, "est simplereenroll: %s has a new "
		   "certificate (pending until first use)", id->uuid);
	answer_certs(r, &cert, 1);
out:
	X509_free(cert);
	X509_REQ_free(csr);
}

int bw_srv_est_first_use(struct bw_srv *srv, const struct bw_srv_identity *id,
			 struct bw_err *err)
{
	struct bw_store *st = srv->store;
	struct bw_rotation_rec rot;
	struct bw_device_rec dev;
	int64_t now = time(NULL);
	int rc = st->ops->rotation_by_fp(st, id->fingerprint, &rot, err);

	if (rc == BW_ENOTFOUND || (!rc && rot.state != BW_ROT_PENDING))
		return 0;
	if (rc)
		return rc;
	if (strcmp(rot.uuid, id->uuid) != 0) /* cannot happen: same CN */
		return bw_err_set(err, BW_ESTATE, "rotation of another device");
	if ((rc = st->ops->begin(st, err)))
		return rc;
	rc = st->ops->rotation_finish(st, rot.new_fp, BW_ROT_COMPLETED, now,
				      err);
	if (!rc)
		rc = st->ops->cert_deny_add(st, rot.old_fp, rot.uuid,
					    "replaced by rotation", now, err);
	if (!rc && !(rc = st->ops->device_get(st, rot.uuid, &dev, err))) {
		/* the documented path of a binding change; the production
		 * flag stays the device's */
		struct bw_srv_binding b;

		bw_srv_binding_of_identity(id, &b);
		b.production = dev.production;
		rc = bw_srv_binding_set(srv, &dev, &b, "est-reenroll", now,
					err);
	} else if (rc == BW_ENOTFOUND) {
		rc = 0; /* no record yet: the gateway writes it on first use */
	}
	if (!rc) {
		/* the binding moved: logged with the old certificate refused */
		char by[BW_SRV_TLOG_BY_MAX];
		json_t *o = json_pack("{s:s, s:s, s:s}", "uuid", rot.uuid,
				      "sha256", rot.new_fp, "refused-sha256",
				      rot.old_fp);

		snprintf(by, sizeof(by), "device:%s", rot.uuid);
		rc = o ? bw_srv_tlog_append(st, "device.cert.rotate", by, o,
					    now, NULL, err)
		       : bw_err_set(err, BW_ENOMEM, "out of memory");
		json_decref(o);
	}
	if (!rc)
		rc = st->ops->commit(st, err);
	if (rc) {
		st->ops->rollback(st);
		return rc;
	}
	srv->id_epoch++; /* the old certificate's cached acceptance goes */
	bw_srv_log(BW_SRV_LOG_NOTICE, "rotation of %s completed: certificate "
		   "%.16s... in use, %.16s... refused from now on", rot.uuid,
		   rot.new_fp, rot.old_fp);
	return 0;
}

/* Was the certificate issued before the request of this kind/name? */
static int asked_since(struct bw_srv *srv, const char *kind, const char *name,
		       time_t issued)
{
	int64_t when = 0;

	return srv->store->ops->rotate_request_get(srv->store, kind, name,
						   &when, NULL) == 0 &&
	       when > (int64_t)issued;
}

json_t *bw_srv_est_device_info(struct bw_srv *srv,
			       const struct bw_srv_identity *id, X509 *cert)
{
	time_t nb = 0;
	struct tm tm;
	const ASN1_TIME *t = cert ? X509_get0_notBefore(cert) : NULL;
	json_t *o = NULL;
	int rotate = 0;

	/* our certificates start BW_PKI_BACKDATE before their issue */
	if (t && ASN1_TIME_to_tm(t, &tm) == 1)
		nb = timegm(&tm) + BW_PKI_BACKDATE;
	rotate = cert && (asked_since(srv, "device", id->uuid, nb) ||
			  asked_since(srv, "ca", id->ca, nb));
	o = json_pack("{s:I,s:b}", "renew-before-days",
		      (json_int_t)srv->cfg->est_renew_before_days, "rotate",
		      rotate);
	if (o && srv->cfg->est_url[0])
		json_object_set_new(o, "url", json_string(srv->cfg->est_url));
	return o;
}

void bw_srv_est_handle(struct evhttp_request *req, void *arg)
{
	struct bw_srv *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct est_req r = {srv, req, "request", ""};
	char label[BW_EST_LABEL_MAX + 1];
	enum bw_est_op op = 0;
	int get = 0;

	if (!bw_srv_tls_ssl(req) || !path) {
		evhttp_send_error(req, 400, NULL);
		return;
	}
	bw_srv_tls_track(req);
	bw_srv_request_track(srv, req);
	if (bw_est_path_parse(path, &op, label) != 0 || label[0]) {
		/* no CA labels here: one issuing CA per server */
		refuse(&r, 404, &(struct bw_err){0, "no such EST path"});
		return;
	}
	if (!bw_srv_rate_ok(srv, "est-address", bw_srv_peer_addr(req),
			    srv->cfg->est_rate_per_minute)) {
		refuse(&r, 429, &(struct bw_err){0, "address rate limit"});
		return;
	}
	get = op == BW_EST_CACERTS || op == BW_EST_CSRATTRS;
	r.op = op == BW_EST_CACERTS	    ? "cacerts"
	       : op == BW_EST_CSRATTRS	    ? "csrattrs"
	       : op == BW_EST_SIMPLEENROLL   ? "simpleenroll"
	       : op == BW_EST_SIMPLEREENROLL ? "simplereenroll"
					     : "unsupported";
	if (op == BW_EST_FULLCMC || op == BW_EST_SERVERKEYGEN)
		refuse(&r, 501, &(struct bw_err){0, "operation not offered"});
	else if (get ? cmd != EVHTTP_REQ_GET : cmd != EVHTTP_REQ_POST)
		refuse(&r, 405, &(struct bw_err){0, "method"});
	else if (op == BW_EST_CACERTS)
		cacerts(&r);
	else if (op == BW_EST_CSRATTRS)
		csrattrs(&r);
	else if (op == BW_EST_SIMPLEENROLL)
		simpleenroll(&r);
	else
		simplereenroll(&r);
}
