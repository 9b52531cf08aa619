/*
 * An operator's re-certify: the documented path for binding a new
 * certificate to an existing device without the device's old key (a lost
 * or compromised key, a board whose key store was replaced). The operator
 * submits a CSR for the device's UUID; the server checks it as
 * registration does, issues with the registration CA (production = the
 * record's, never the CSR's), supersedes a pending EST rotation, binds the
 * certificate (bw_srv_binding_set, how "operator": the old certificate is
 * refused from then on) and logs the issuance, all in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "bulwark/hash.h"
#include "bulwark/identity.h"
#include "bulwark/pki.h"
#include "binding.h"
#include "log.h"
#include "policy.h"
#include "recertify.h"
#include "server.h"
#include "translog.h"

/* The CSR for this device: EC P-256, valid self-signature, CN = uuid,
 * OU = this factory, no production claim unless the device is one. */
static int csr_for(struct bw_srv *srv, const char *uuid, X509_REQ *req,
		   int production, int *status, struct bw_err *err)
{
	struct bw_pki_csr_policy pol = {BW_PKI_PROFILE_DEVICE,
					bw_srv_policy_factory(srv->policy),
					production};
	struct bw_identity_subject subj;
	char cn[BW_UUID_BUF];
	int rc = 0;

	*status = 400;
	if ((rc = bw_identity_subject_read(X509_REQ_get_subject_name(req),
					   &subj, err)))
		return rc;
	if (subj.production && !production) {
		*status = 403;
		return bw_err_set(err, BW_ESTATE,
				  "production CSR for a CI device");
	}
	if ((rc = bw_pki_csr_check(req, &pol, err)) ||
	    (rc = bw_pki_csr_uuid(req, cn, err)))
		return rc;
	if (strcmp(cn, uuid))
		return bw_err_set(err, BW_EFORMAT, "CSR CN is not the device");
	return 0;
}

/* A rotation still pending would let its certificate take the binding
 * back at first use: refuse that certificate from now on. */
static int rotation_supersede(struct bw_store *st, const char *uuid,
			      int64_t now, struct bw_err *err)
{
	struct bw_rotation_rec rot;
	char *pem = NULL;
	int rc = st->ops->rotation_pending(st, uuid, &rot, &pem, err);

	free(pem);
	if (rc == BW_ENOTFOUND)
		return 0;
	if (rc == 0)
		rc = st->ops->rotation_finish(st, rot.new_fp, BW_ROT_SUPERSEDED,
					      now, err);
	if (rc == 0)
		rc = st->ops->cert_deny_add(st, rot.new_fp, uuid,
					    "superseded by an operator's "
					    "re-certify",
					    now, err);
	return rc;
}

/* device.cert.issue, as registration logs it, by the operator. */
static int log_issue(struct bw_store *st, const char *uuid, const char *by,
		     const struct bw_srv_binding *b, const char *previous,
		     int64_t now, struct bw_err *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "uuid", uuid,
			      "serial", b->serial, "sha256", b->fingerprint,
			      "production", b->production, "how", "operator",
			      "replaces-sha256", previous);
	int rc = o ? bw_srv_tlog_append(st, "device.cert.issue", by, o, now,
					NULL, err)
		   : bw_err_set(err, BW_ENOMEM, "out of memory");

	json_decref(o);
	return rc;
}

/* Inside the transaction: the record, the checks, issue, bind, log. */
static int recertify_txn(struct bw_srv *srv, const char *uuid, X509_REQ *req,
			 const char *by, X509 **cert, int *status,
			 struct bw_err *err)
{
	struct bw_store *st = srv->store;
	struct bw_device_rec d;
	struct bw_srv_binding b;
	char previous[sizeof(d.fingerprint)];
	int64_t now = time(NULL);
	int rc = st->ops->device_get(st, uuid, &d, err);

	*status = rc == BW_ENOTFOUND ? 404 : 500;
	if (rc)
		return rc;
	if ((rc = st->ops->deny_has(st, uuid, err))) {
		*status = rc == 1 ? 403 : 500;
		return rc == 1 ? bw_err_set(err, BW_ESTATE, "deny-listed") : rc;
	}
	if (d.production &&
	    bw_srv_policy_ca_production(srv->policy, srv->reg_ca) == 0) {
		*status = 403;
		return bw_err_set(err, BW_ESTATE,
				  "production device, but the registration "
				  "CA may not issue production certificates");
	}
	if ((rc = csr_for(srv, uuid, req, d.production, status, err)))
		return rc;
	*status = 500;
	snprintf(previous, sizeof(previous), "%s", d.fingerprint);
	if ((rc = bw_pki_device_cert_issue(
		 srv->reg_ca, srv->reg_ca_key, req,
		 bw_srv_policy_factory(srv->policy), d.production,
		 (long)srv->cfg->reg_cert_days, now, cert, err)) ||
	    (rc = bw_srv_binding_of(*cert, srv->reg_ca,
				    bw_srv_policy_ca_name(srv->policy,
							  srv->reg_ca),
				    d.production, &b, err)) ||
	    (rc = rotation_supersede(st, uuid, now, err)) ||
	    (rc = bw_srv_binding_set(srv, &d, &b, "operator", now, err)))
		return rc;
	return log_issue(st, uuid, by, &b, previous, now, err);
}

int bw_srv_recertify(struct bw_srv *srv, const char *uuid_in,
		     const char *csr_pem, size_t csr_len, const char *by,
		     X509 **cert, int *status, struct bw_err *err)
{
	char uuid[BW_UUID_BUF];
	X509_REQ *req = NULL;
	int rc = 0;

	*cert = NULL;
	*status = 400;
	if ((rc = bw_identity_uuid_normalize(uuid_in, strlen(uuid_in), uuid,
					     err)))
		return rc;
	if (!srv->reg_ca || !srv->reg_ca_key) {
		*status = 409;
		return bw_err_set(err, BW_ESTATE,
				  "no registration CA in this process "
				  "(role registration)");
	}
	if (csr_len > BW_PKI_CSR_MAX ||
	    (rc = bw_pki_csr_parse((const uint8_t *)csr_pem, csr_len, &req,
				   err)))
		return rc ? rc : bw_err_set(err, BW_ETOOBIG, "CSR too large");
	if ((rc = srv->store->ops->begin(srv->store, err))) {
		*status = 500;
		goto out;
	}
	rc = recertify_txn(srv, uuid, req, by, cert, status, err);
	if (rc == 0)
		rc = srv->store->ops->commit(srv->store, err);
	if (rc) {
		srv->store->ops->rollback(srv->store);
		X509_free(*cert);
		*cert = NULL;
	} else {
		*status = 200;
		bw_srv_log(BW_SRV_LOG_NOTICE,
			   "admin: device %s re-certified by %s", uuid, by);
	}
out:
	X509_REQ_free(req);
	return rc;
}
