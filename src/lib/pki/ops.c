/*
 * Operations on an opened PKI directory (include/bulwark/pki.h): add a
 * device CA, disable / enable / revoke it, revoke a device, sign a CSR,
 * rotate a server certificate, re-sign the CRLs. Each one stages every file
 * it changes and commits them together at the end.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "bulwark/identity.h"
#include "pki/pki_priv.h"

#define DEVICE_CERT_MAX (64u * 1024u)

static int commit(struct bw_pki *pki, struct bw_pki__txn *t, int rc,
		  struct bw_err *err)
{
	if (rc == 0)
		rc = bw_pki__txn_commit(t, pki->dir, err);
	bw_pki__txn_dispose(t);
	return rc;
}

/* Stage a copy of the directory file src as dst. */
static int stage_file_copy(struct bw_pki *pki, const char *src,
			   const char *dst, mode_t mode, struct bw_pki__txn *t,
			   struct bw_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	rc = bw_pki__read(pki, src, 64u * 1024u, &data, &len, err);
	if (rc == 0)
		rc = bw_pki__txn_add(t, dst, data, len, mode, err);
	if (data != NULL)
		OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

/* Stage a copy of <from>.pem (and <from>.key) as <to>.pem (<to>.key). */
static int stage_copy(struct bw_pki *pki, const char *from, const char *to,
		      int with_key, struct bw_pki__txn *t, struct bw_err *err)
{
	char src[BW_PKI_CA_NAME_MAX + 40], dst[BW_PKI_CA_NAME_MAX + 40];
	int rc;

	snprintf(src, sizeof(src), "%s.pem", from);
	snprintf(dst, sizeof(dst), "%s.pem", to);
	rc = stage_file_copy(pki, src, dst, 0644, t, err);
	if (rc != 0 || !with_key)
		return rc;
	snprintf(src, sizeof(src), "%s.key", from);
	snprintf(dst, sizeof(dst), "%s.key", to);
	return stage_file_copy(pki, src, dst, 0600, t, err);
}

/* Rename device CA `from` to `to` in the state (and device records). */
static int rename_ca(struct bw_pki *pki, struct bw_pki__ca *c, const char *to,
		     struct bw_err *err)
{
	char *nb = strdup(to);

	if (nb == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < pki->st.nrevoked; i++) {
		if (strcmp(pki->st.revoked[i].issuer, c->base) == 0) {
			char *d = strdup(to);

			if (d == NULL) {
				free(nb);
				return bw_err_set(err, BW_ENOMEM,
						  "out of memory");
			}
			free(pki->st.revoked[i].issuer);
			pki->st.revoked[i].issuer = d;
		}
	}
	for (size_t i = 0; i < pki->st.nissued; i++) {
		if (strcmp(pki->st.issued[i].issuer, c->base) == 0) {
			char *d = strdup(to);

			if (d == NULL) {
				free(nb);
				return bw_err_set(err, BW_ENOMEM,
						  "out of memory");
			}
			free(pki->st.issued[i].issuer);
			pki->st.issued[i].issuer = d;
		}
	}
	free(c->base);
	c->base = nb;
	return 0;
}

/* The current online CA is kept as online-ca-<first 8 hex of serial>. */
static int archive_online(struct bw_pki *pki, struct bw_pki__txn *t,
			  struct bw_err *err)
{
	struct bw_pki__ca *c = bw_pki__find_ca(pki, "online-ca");
	char to[BW_PKI_CA_NAME_MAX];
	int rc;

	if (c == NULL)
		return 0;
	snprintf(to, sizeof(to), "online-ca-%.8s", c->serial);
	for (int i = 2; bw_pki__find_ca(pki, to) != NULL && i < 100; i++)
		snprintf(to, sizeof(to), "online-ca-%.8s-%d", c->serial, i);
	if (bw_pki__find_ca(pki, to) != NULL)
		return bw_err_set(err, BW_EEXIST, "too many online CAs");
	/* Load its key now: after the rename it is only staged. */
	rc = c->has_key ? bw_pki__ca_key(pki, c, err) : 0;
	if (rc == 0)
		rc = stage_copy(pki, "online-ca", to, c->has_key, t, err);
	if (rc == 0)
		rc = rename_ca(pki, c, to, err);
	return rc;
}

static int check_ca_name(const char *name, struct bw_err *err)
{
	size_t n = name != NULL ? strlen(name) : 0;
	char base[BW_PKI_CA_NAME_MAX + 16];

	if (n == 0 || n > BW_PKI_CA_NAME_MAX)
		return bw_err_set(err, BW_EINVAL, "device CA name must have "
				  "1 to %u characters", BW_PKI_CA_NAME_MAX);
	snprintf(base, sizeof(base), "local-ca-%s", name);
	if (!bw_pki__base_ok(base))
		return bw_err_set(err, BW_EINVAL,
				  "device CA name may only hold letters, digits, "
				  "'-' and '_'");
	return 0;
}

int bw_pki_add_device_ca(struct bw_pki *pki, int online, const char *name,
			 int production, time_t now, char **base_out,
			 struct bw_err *err)
{
	struct bw_pki__txn t = {0};
	char base[BW_PKI_CA_NAME_MAX + 16];
	int rc;

	if (base_out != NULL)
		*base_out = NULL;
	rc = bw_pki__need_factory_key(pki, err);
	if (rc != 0)
		return rc;
	if (online && name != NULL)
		return bw_err_set(err, BW_EINVAL,
				  "an online CA has no name (it is online-ca)");
	if (name != NULL) {
		rc = check_ca_name(name, err);
		if (rc != 0)
			return rc;
	}
	if (online)
		snprintf(base, sizeof(base), "online-ca");
	else if (name == NULL)
		snprintf(base, sizeof(base), "local-ca");
	else
		snprintf(base, sizeof(base), "local-ca-%s", name);
	if (!online && bw_pki__find_ca(pki, base) != NULL)
		return bw_err_set(err, BW_EEXIST,
				  "%s exists; give another --name", base);
	rc = bw_pki__check_issuer(pki->factory_ca, now, "factory CA", err);
	if (rc == 0 && online)
		rc = archive_online(pki, &t, err);
	if (rc == 0)
		rc = bw_pki__new_device_ca(pki, base, online ? "online" : "local",
					   now, &t, err);
	if (rc == 0) /* staged with state.json by bw_pki__stage_derived */
		pki->st.cas[pki->st.ncas - 1].production = production != 0;
	if (rc == 0)
		rc = bw_pki__stage_derived(pki, now, &t, err);
	rc = commit(pki, &t, rc, err);
	if (rc == 0 && base_out != NULL && (*base_out = strdup(base)) == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	return rc;
}

int bw_pki_cert_parse(const uint8_t *data, size_t len, X509 **out,
		      struct bw_err *err)
{
	const unsigned char *p = data;
	BIO *bio;

	*out = NULL;
	if (len == 0 || len > DEVICE_CERT_MAX)
		return bw_err_set(err, BW_EFORMAT, "certificate empty or "
				  "larger than %u bytes", DEVICE_CERT_MAX);
	if (len > 10 && memmem(data, len, "-----BEGIN", 10) != NULL) {
		bio = BIO_new_mem_buf(data, (int)len);
		if (bio == NULL)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		*out = d2i_X509(NULL, &p, (long)len);
	}
	ERR_clear_error();
	if (*out == NULL)
		return bw_err_set(err, BW_EFORMAT, "not a certificate");
	return 0;
}

int bw_pki_find_device_ca(struct bw_pki *pki, const char *cert_file,
			  const char *serial, const char **base,
			  struct bw_err *err)
{
	X509 *cert = NULL;
	char *want = NULL;
	int rc;

	*base = NULL;
	if ((cert_file == NULL) == (serial == NULL))
		return bw_err_set(err, BW_EINVAL,
				  "give a CA certificate file or a serial");
	if (cert_file != NULL) {
		rc = bw_pki_cert_load(cert_file, &cert, err);
		if (rc != 0)
			return rc;
		rc = bw_pki_serial_hex(cert, &want, err);
		X509_free(cert);
	} else {
		rc = bw_pki_serial_normalize(serial, &want, err);
	}
	if (rc != 0)
		return rc;
	rc = bw_err_set(err, BW_ENOTFOUND, "no device CA with serial %s here",
			want);
	for (size_t i = 0; i < pki->st.ncas; i++) {
		if (strcmp(pki->st.cas[i].serial, want) == 0) {
			*base = pki->st.cas[i].base;
			bw_err_clear(err);
			rc = 0;
			break;
		}
	}
	free(want);
	return rc;
}

int bw_pki_set_device_ca_status(struct bw_pki *pki, const char *base,
				enum bw_pki_ca_status status,
				enum bw_pki_reason reason, time_t now,
				struct bw_err *err)
{
	struct bw_pki__ca *c = bw_pki__find_ca(pki, base);
	struct bw_pki__txn t = {0};
	int rc;

	if (c == NULL)
		return bw_err_set(err, BW_ENOTFOUND, "no device CA %s", base);
	rc = bw_pki__need_factory_key(pki, err);
	if (rc != 0)
		return rc;
	if (c->status == BW_PKI_CA_REVOKED)
		return bw_err_set(err, BW_ESTATE,
				  "%s is revoked; revocation is final", base);
	if (status == BW_PKI_CA_REVOKED &&
	    reason != BW_PKI_REASON_KEY_COMPROMISE &&
	    reason != BW_PKI_REASON_PRIVILEGE_WITHDRAWN &&
	    reason != BW_PKI_REASON_SUPERSEDED &&
	    reason != BW_PKI_REASON_CESSATION)
		return bw_err_set(err, BW_EINVAL, "bad revocation reason");
	if (c->status == status)
		return 0; /* idempotent: nothing to publish */
	c->status = status;
	c->reason = status == BW_PKI_CA_DISABLED ? BW_PKI_REASON_HOLD
		    : status == BW_PKI_CA_REVOKED ? reason
						  : 0;
	c->since = now;
	rc = bw_pki__stage_derived(pki, now, &t, err);
	return commit(pki, &t, rc, err);
}

/* The device CA that signed cert, or NULL. */
static struct bw_pki__ca *issuer_of(struct bw_pki *pki, X509 *cert)
{
	for (size_t i = 0; i < pki->st.ncas; i++) {
		struct bw_pki__ca *c = &pki->st.cas[i];
		EVP_PKEY *pub = X509_get0_pubkey(c->cert);

		if (X509_check_issued(c->cert, cert) == X509_V_OK &&
		    pub != NULL && X509_verify(cert, pub) == 1)
			return c;
	}
	ERR_clear_error();
	return NULL;
}

static int is_revoked(struct bw_pki *pki, const char *issuer,
		      const char *serial)
{
	for (size_t i = 0; i < pki->st.nrevoked; i++)
		if (strcmp(pki->st.revoked[i].serial, serial) == 0 &&
		    strcmp(pki->st.revoked[i].issuer, issuer) == 0)
			return 1;
	return 0;
}

/* Add one revocation after checking the issuer can publish it. */
static int revoke_one(struct bw_pki *pki, const char *issuer,
		      const char *serial, const char *uuid,
		      enum bw_pki_reason reason, time_t now, int *added,
		      struct bw_err *err)
{
	struct bw_pki__ca *c = bw_pki__find_ca(pki, issuer);
	int rc;

	if (c == NULL)
		return bw_err_set(err, BW_ENOTFOUND, "no device CA %s", issuer);
	if (!c->has_key)
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "the key of %s is not in this directory: its "
				  "site must publish the CRL", issuer);
	if (is_revoked(pki, issuer, serial))
		return 0;
	rc = bw_pki__dev_append(&pki->st.revoked, &pki->st.nrevoked, serial,
				issuer, uuid, reason, now, err);
	if (rc == 0)
		(*added)++;
	return rc;
}

static int revoke_by_cert(struct bw_pki *pki, const struct bw_pki_device_sel *s,
			  enum bw_pki_reason reason, time_t now, int *added,
			  struct bw_err *err)
{
	X509 *cert = NULL;
	struct bw_pki__ca *c;
	struct bw_identity_subject subj;
	char *serial = NULL, uuid[BW_UUID_BUF];
	int rc;

	rc = bw_pki_cert_parse(s->cert, s->cert_len, &cert, err);
	if (rc != 0)
		return rc;
	c = issuer_of(pki, cert);
	if (c == NULL) {
		rc = bw_err_set(err, BW_ENOTFOUND,
				"the certificate was not issued by a device CA "
				"of this directory");
		goto out;
	}
	rc = bw_pki_serial_hex(cert, &serial, err);
	if (rc != 0)
		goto out;
	/* a certificate whose subject is no device subject is still
	 * revoked by serial, without a uuid */
	if (bw_identity_subject_read(X509_get_subject_name(cert), &subj,
				     NULL) == 0)
		memcpy(uuid, subj.uuid, sizeof(subj.uuid));
	else
		uuid[0] = '\0';
	rc = revoke_one(pki, c->base, serial, uuid[0] != '\0' ? uuid : NULL,
			reason, now, added, err);
out:
	free(serial);
	X509_free(cert);
	return rc;
}

static int revoke_by_serial(struct bw_pki *pki,
			    const struct bw_pki_device_sel *s,
			    enum bw_pki_reason reason, time_t now, int *added,
			    struct bw_err *err)
{
	const char *issuer = s->issuer, *uuid = NULL;
	char *serial = NULL;
	int rc;

	rc = bw_pki_serial_normalize(s->serial, &serial, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < pki->st.nissued; i++) {
		const struct bw_pki__dev *d = &pki->st.issued[i];

		if (strcmp(d->serial, serial) == 0 &&
		    (issuer == NULL || strcmp(issuer, d->issuer) == 0)) {
			issuer = d->issuer;
			uuid = d->uuid;
			break;
		}
	}
	if (issuer == NULL)
		rc = bw_err_set(err, BW_ENOTFOUND,
				"serial %s was not issued from this directory: "
				"name its device CA with --issuer", serial);
	else
		rc = revoke_one(pki, issuer, serial, uuid, reason, now, added,
				err);
	free(serial);
	return rc;
}

static int revoke_by_uuid(struct bw_pki *pki, const char *uuid,
			  enum bw_pki_reason reason, time_t now, int *added,
			  struct bw_err *err)
{
	int found = 0, rc = 0;
	size_t n = pki->st.nissued;

	char norm[BW_UUID_BUF];

	if (bw_identity_uuid_normalize(uuid, strlen(uuid), norm, NULL))
		return bw_err_set(err, BW_EINVAL, "'%.40s' is not a UUID", uuid);
	uuid = norm;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct bw_pki__dev *d = &pki->st.issued[i];

		if (d->uuid == NULL || strcmp(d->uuid, uuid) != 0)
			continue;
		found = 1;
		rc = revoke_one(pki, d->issuer, d->serial, d->uuid, reason, now,
				added, err);
	}
	if (rc == 0 && !found)
		rc = bw_err_set(err, BW_ENOTFOUND,
				"no certificate for %s was issued from this "
				"directory: use --cert or --serial", uuid);
	return rc;
}

int bw_pki_revoke_device(struct bw_pki *pki, const struct bw_pki_device_sel *s,
			 enum bw_pki_reason reason, time_t now,
			 struct bw_err *err)
{
	struct bw_pki__txn t = {0};
	int rc, added = 0;
	int nsel = (s->cert != NULL) + (s->serial != NULL) + (s->uuid != NULL);

	if (nsel != 1)
		return bw_err_set(err, BW_EINVAL,
				  "give exactly one of a certificate, a serial "
				  "or a UUID");
	if (reason == BW_PKI_REASON_HOLD)
		return bw_err_set(err, BW_EINVAL,
				  "devices are revoked, not held");
	rc = bw_pki__need_factory_key(pki, err);
	if (rc != 0)
		return rc;
	if (s->cert != NULL)
		rc = revoke_by_cert(pki, s, reason, now, &added, err);
	else if (s->serial != NULL)
		rc = revoke_by_serial(pki, s, reason, now, &added, err);
	else
		rc = revoke_by_uuid(pki, s->uuid, reason, now, &added, err);
	if (rc != 0 || added == 0)
		return rc; /* already revoked: nothing to publish */
	rc = bw_pki__stage_derived(pki, now, &t, err);
	return commit(pki, &t, rc, err);
}

/* ---- offline signing ---------------------------------------------------- */

/* Default issuer for device CSRs: local-ca, else online-ca, else the only. */
static int pick_issuer(struct bw_pki *pki, const char *want,
		       struct bw_pki__ca **out, struct bw_err *err)
{
	struct bw_pki__ca *c = NULL;

	if (want != NULL) {
		c = bw_pki__find_ca(pki, want);
		if (c == NULL)
			return bw_err_set(err, BW_ENOTFOUND, "no device CA %s",
					  want);
	} else {
		c = bw_pki__find_ca(pki, "local-ca");
		if (c == NULL || !c->has_key)
			c = bw_pki__find_ca(pki, "online-ca");
		if (c == NULL || !c->has_key)
			return bw_err_set(err, BW_ENOTFOUND,
					  "no local-ca or online-ca with its key "
					  "here: name one with --issuer");
	}
	if (c->status != BW_PKI_CA_ENABLED)
		return bw_err_set(err, BW_ESTATE,
				  "device CA %s is %s: it may not issue new "
				  "device certificates", c->base,
				  c->status == BW_PKI_CA_DISABLED ? "disabled"
								  : "revoked");
	*out = c;
	return 0;
}

static int sign_device(struct bw_pki *pki, X509_REQ *req,
		       const struct bw_pki_sign_opts *o, time_t now,
		       X509 **cert, struct bw_pki__txn *t, struct bw_err *err)
{
	struct bw_pki__ca *c = NULL;
	char uuid[37], *serial = NULL;
	int rc;

	rc = pick_issuer(pki, o->issuer, &c, err);
	if (rc == 0 && o->production && !c->production)
		rc = bw_err_set(err, BW_ESTATE,
				"device CA %s may not issue production "
				"certificates (set when it was created)",
				c->base);
	if (rc == 0)
		rc = bw_pki__ca_key(pki, c, err);
	if (rc == 0)
		rc = bw_pki_csr_uuid(req, uuid, err);
	if (rc == 0)
		rc = bw_pki_device_cert_issue(c->cert, c->key, req,
					      pki->st.factory, o->production,
					      o->days, now, cert, err);
	if (rc == 0)
		rc = bw_pki_serial_hex(*cert, &serial, err);
	if (rc == 0)
		rc = bw_pki__dev_append(&pki->st.issued, &pki->st.nissued,
					serial, c->base, uuid, 0, now, err);
	if (rc == 0)
		rc = bw_pki__stage_state(pki, t, err);
	free(serial);
	return rc;
}

static int sign_ca(struct bw_pki *pki, X509_REQ *req,
		   const struct bw_pki_sign_opts *o, time_t now, X509 **cert,
		   struct bw_pki__txn *t, struct bw_err *err)
{
	char base[BW_PKI_CA_NAME_MAX + 16], *serial = NULL, *pem = NULL;
	size_t len = 0;
	int rc;

	rc = check_ca_name(o->name, err);
	if (rc != 0)
		return rc;
	snprintf(base, sizeof(base), "local-ca-%s", o->name);
	if (bw_pki__find_ca(pki, base) != NULL)
		return bw_err_set(err, BW_EEXIST, "%s exists", base);
	rc = bw_pki_device_ca_issue(pki->factory_ca, pki->factory_key,
				    X509_REQ_get0_pubkey(req), pki->st.factory,
				    base, now, cert, err);
	if (rc == 0)
		rc = bw_pki_serial_hex(*cert, &serial, err);
	if (rc == 0)
		rc = bw_pki_cert_pem(*cert, &pem, &len, err);
	if (rc == 0) {
		char name[BW_PKI_CA_NAME_MAX + 24];

		snprintf(name, sizeof(name), "%s.pem", base);
		rc = bw_pki__txn_add(t, name, pem, len, 0644, err);
	}
	if (rc == 0)
		rc = bw_pki__state_add_ca(&pki->st, base, "local", serial, 0,
					  now, err);
	if (rc == 0)
		pki->st.cas[pki->st.ncas - 1].production = o->production != 0;
	if (rc == 0) {
		pki->st.cas[pki->st.ncas - 1].cert = X509_dup(*cert);
		if (pki->st.cas[pki->st.ncas - 1].cert == NULL)
			rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	if (rc == 0)
		rc = bw_pki__stage_derived(pki, now, t, err);
	free(pem);
	free(serial);
	return rc;
}

int bw_pki_sign_csr(struct bw_pki *pki, const uint8_t *csr, size_t csr_len,
		    const struct bw_pki_sign_opts *o, time_t now,
		    char **pem_out, struct bw_err *err)
{
	struct bw_pki_csr_policy pol = {0};
	struct bw_pki__txn t = {0};
	X509_REQ *req = NULL;
	X509 *cert = NULL;
	size_t len = 0;
	int rc;

	*pem_out = NULL;
	if (o == NULL)
		return bw_err_set(err, BW_EINVAL, "no signing options");
	pol.profile = o->profile;
	pol.factory = pki->st.factory;
	pol.production = o->production;
	rc = bw_pki_csr_parse(csr, csr_len, &req, err);
	if (rc == 0)
		rc = bw_pki_csr_check(req, &pol, err);
	if (rc != 0)
		goto out;
	if (o->profile != BW_PKI_PROFILE_DEVICE) {
		rc = bw_pki__need_factory_key(pki, err);
		if (rc != 0)
			goto out;
	}
	switch (o->profile) {
	case BW_PKI_PROFILE_DEVICE:
		rc = sign_device(pki, req, o, now, &cert, &t, err);
		break;
	case BW_PKI_PROFILE_SERVER:
		rc = bw_pki_server_cert_issue(pki->factory_ca, pki->factory_key,
					      X509_REQ_get0_pubkey(req),
					      pki->st.factory, &o->sans, now,
					      &cert, err);
		break;
	case BW_PKI_PROFILE_DEVICE_CA:
		rc = sign_ca(pki, req, o, now, &cert, &t, err);
		break;
	default:
		rc = bw_err_set(err, BW_EINVAL, "unknown profile");
	}
	if (rc == 0)
		rc = bw_pki_cert_pem(cert, pem_out, &len, err);
	rc = commit(pki, &t, rc, err);
	if (rc != 0) {
		free(*pem_out);
		*pem_out = NULL;
	}
out:
	bw_pki__txn_dispose(&t);
	X509_free(cert);
	X509_REQ_free(req);
	return rc;
}

/* ---- server certificate rotation ------------------------------------------ */

/* SANs of an existing server certificate (strings owned by *store). */
static int sans_of(X509 *cert, struct bw_pki_sans *sans, char ***store,
		   size_t *nstore, struct bw_err *err)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name,
					       NULL, NULL);
	int n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	char **s = calloc((size_t)n + 1, sizeof(char *));
	size_t ndns = 0, k = 0;
	int rc = 0;

	if (s == NULL) {
		GENERAL_NAMES_free(gens);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	/* DNS names first, then IPs: both arrays are views into s. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		for (int i = 0; i < n && rc == 0; i++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			char buf[INET6_ADDRSTRLEN];

			if (pass == 0 && g->type == GEN_DNS) {
				s[k] = strndup((const char *)
						       ASN1_STRING_get0_data(
							       g->d.dNSName),
					       (size_t)ASN1_STRING_length(
						       g->d.dNSName));
			} else if (pass == 1 && g->type == GEN_IPADD) {
				int l = ASN1_STRING_length(g->d.iPAddress);

				if (inet_ntop(l == 4 ? AF_INET : AF_INET6,
					      ASN1_STRING_get0_data(
						      g->d.iPAddress),
					      buf, sizeof(buf)) == NULL ||
				    (l != 4 && l != 16))
					continue;
				s[k] = strdup(buf);
			} else {
				continue;
			}
			if (s[k] == NULL)
				rc = bw_err_set(err, BW_ENOMEM, "out of memory");
			else
				k++;
		}
		if (pass == 0)
			ndns = k;
	}
	GENERAL_NAMES_free(gens);
	*store = s;
	*nstore = k;
	sans->dns = (const char *const *)s;
	sans->ndns = ndns;
	sans->ip = (const char *const *)s + ndns;
	sans->nip = k - ndns;
	return rc;
}

int bw_pki_rotate_server(struct bw_pki *pki, int est,
			 const struct bw_pki_sans *want, time_t now,
			 struct bw_err *err)
{
	const char *stem = est ? "est-tls" : "tls";
	struct bw_pki__txn t = {0};
	struct bw_pki_sans sans = {0};
	X509 *old = NULL;
	char **store = NULL, *path = NULL, bak[32];
	size_t nstore = 0;
	int rc;

	rc = bw_pki__need_factory_key(pki, err);
	if (rc != 0)
		return rc;
	snprintf(bak, sizeof(bak), "%s.pem", stem);
	if (bw_path_join(pki->dir, bak, &path) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_pki_cert_load(path, &old, err);
	if (rc == 0 && want != NULL && want->ndns + want->nip > 0)
		sans = *want;
	else if (rc == 0)
		rc = sans_of(old, &sans, &store, &nstore, err);
	if (rc == 0) {
		char src[32];

		snprintf(src, sizeof(src), "%s.pem", stem);
		snprintf(bak, sizeof(bak), "%s.pem.bak", stem);
		rc = stage_file_copy(pki, src, bak, 0644, &t, err);
		snprintf(src, sizeof(src), "%s.key", stem);
		snprintf(bak, sizeof(bak), "%s.key.bak", stem);
		if (rc == 0)
			rc = stage_file_copy(pki, src, bak, 0600, &t, err);
	}
	if (rc == 0)
		rc = bw_pki__stage_server(pki, stem, &sans, now, &t, err);
	rc = commit(pki, &t, rc, err);
	for (size_t i = 0; i < nstore; i++)
		free(store[i]);
	free(store);
	free(path);
	X509_free(old);
	return rc;
}

int bw_pki_update_crls(struct bw_pki *pki, time_t now, struct bw_err *err)
{
	struct bw_pki__txn t = {0};
	int rc = bw_pki__stage_derived(pki, now, &t, err);

	return commit(pki, &t, rc, err);
}
