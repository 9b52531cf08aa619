/*
 * Device trust policy for the gateway (policy.h): which device CAs exist
 * and in which state, which device serials are revoked, and the checks a
 * device certificate must pass. Pure: no database, no TLS.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/identity.h"
#include "bulwark/pki.h"
#include "log.h"
#include "policy.h"

#define CRL_MAX (16u * 1024u * 1024u)

struct ca {
	char base[64];
	X509 *cert;
	enum bw_srv_ca_status status;
	int production; /* may issue production certificates */
	int uploaded;	/* on the admin API (else the PKI directory) */
	char **revoked; /* sorted uppercase hex serials */
	size_t nrevoked;
	int64_t crl_number; /* of the CRL in use; -1: none */
	int64_t crl_next;   /* its nextUpdate (unix time); 0: none */
};

struct bw_srv_policy {
	char factory[BW_PKI_FACTORY_MAX + 1];
	X509 *factory_ca;
	int64_t factory_crl_number;
	int64_t factory_crl_next; /* nextUpdate of its CRL; 0: none */
	struct ca *cas;
	size_t ncas;
};

void bw_srv_policy_free(struct bw_srv_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ncas; i++) {
		X509_free(p->cas[i].cert);
		for (size_t j = 0; j < p->cas[i].nrevoked; j++)
			free(p->cas[i].revoked[j]);
		free(p->cas[i].revoked);
	}
	free(p->cas);
	X509_free(p->factory_ca);
	free(p);
}

const char *bw_srv_policy_factory(const struct bw_srv_policy *p)
{
	return p->factory;
}

X509 *bw_srv_policy_factory_cert(const struct bw_srv_policy *p)
{
	return p->factory_ca;
}

X509 *bw_srv_policy_ca_cert(const struct bw_srv_policy *p, const char *base)
{
	for (size_t i = 0; i < p->ncas; i++)
		if (!strcmp(p->cas[i].base, base))
			return p->cas[i].cert;
	return NULL;
}

int bw_srv_policy_ca_production(const struct bw_srv_policy *p, X509 *ca)
{
	for (size_t i = 0; ca && i < p->ncas; i++)
		if (!X509_cmp(p->cas[i].cert, ca))
			return p->cas[i].production;
	return -1;
}

const char *bw_srv_policy_ca_name(const struct bw_srv_policy *p, X509 *ca)
{
	for (size_t i = 0; ca && i < p->ncas; i++)
		if (!X509_cmp(p->cas[i].cert, ca))
			return p->cas[i].base;
	return "registration-ca";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parse and signature-check a PEM CRL issued by issuer. */
static int crl_parse(const void *pem, size_t len, X509 *issuer, X509_CRL **out,
		     int64_t *number, struct bw_err *err)
{
	BIO *bio = NULL;
	X509_CRL *crl = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(issuer);
	ASN1_INTEGER *num = NULL;
	int rc = BW_EFORMAT;

	*out = NULL;
	*number = 0;
	if (len > CRL_MAX || !(bio = BIO_new_mem_buf(pem, (int)len)) ||
	    !(crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) ||
	    X509_NAME_cmp(X509_CRL_get_issuer(crl),
			  X509_get_subject_name(issuer)) != 0 ||
	    !pub || X509_CRL_verify(crl, pub) != 1) {
		bw_err_set(err, rc, "not a CRL signed by its CA");
		goto out;
	}
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (num)
		*number = ASN1_INTEGER_get(num);
	rc = 0;
	*out = crl;
	crl = NULL; /* transferred */
out:
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	BIO_free(bio);
	return rc;
}

/*
 * The CRL of issuer: the one in the PKI directory (path) or the one
 * uploaded on the admin API (base in `uploaded`), whichever has the
 * higher crlNumber. BW_ENOTFOUND if neither exists.
 */
static int crl_load(const char *path, const char *base, json_t *uploaded,
		    X509 *issuer, X509_CRL **out, int64_t *number,
		    struct bw_err *err)
{
	struct bw_buf b;
	X509_CRL *up = NULL;
	json_t *e = NULL;
	int64_t upn = -1;
	size_t i = 0;
	int rc = 0;

	*out = NULL;
	*number = -1;
	bw_buf_init(&b, CRL_MAX);
	rc = bw_io_read_file(path, CRL_MAX, &b, err);
	if (!rc)
		rc = crl_parse(b.data, b.len, issuer, out, number, err);
	bw_buf_dispose(&b);
	if (rc && rc != BW_ENOTFOUND)
		return rc;
	json_array_foreach(uploaded, i, e)
	{
		const char *pem = json_string_value(json_object_get(e, "pem"));

		if (strcmp(json_string_value(json_object_get(e, "issuer")),
			   base) ||
		    !pem ||
		    crl_parse(pem, strlen(pem), issuer, &up, &upn, NULL))
			continue;
		if (!*out || upn > *number) {
			X509_CRL_free(*out);
			*out = up;
			*number = upn;
		} else {
			X509_CRL_free(up);
		}
		up = NULL;
		rc = 0;
	}
	return *out ? 0 : rc;
}

/* certificateHold disables a CA; any other reason revokes it. */
static void apply_factory_crl(struct bw_srv_policy *p, X509_CRL *crl)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);

	for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
		ASN1_ENUMERATED *reason =
		    X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
		long code = reason ? ASN1_ENUMERATED_get(reason) : 0;

		ASN1_ENUMERATED_free(reason);
		for (size_t j = 0; j < p->ncas; j++) {
			struct ca *c = &p->cas[j];

			if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(r),
					     X509_get0_serialNumber(c->cert)))
				continue;
			if (code == BW_PKI_REASON_HOLD) {
				if (c->status == BW_SRV_CA_ENABLED)
					c->status = BW_SRV_CA_DISABLED;
			} else {
				c->status = BW_SRV_CA_REVOKED;
			}
		}
	}
}

static int ca_revoked_load(struct ca *c, X509_CRL *crl)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	int n = sk_X509_REVOKED_num(revs);

	if (n <= 0)
		return 0;
	c->revoked = calloc((size_t)n, sizeof(char *));
	if (!c->revoked)
		return BW_ENOMEM;
	for (int i = 0; i < n; i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);

		if (bw_pki_serial_hex_of(X509_REVOKED_get0_serialNumber(r),
					 &c->revoked[c->nrevoked], NULL))
			return BW_ENOMEM;
		c->nrevoked++;
	}
	qsort(c->revoked, c->nrevoked, sizeof(char *), cmp_str);
	return 0;
}

static int load_file_in(const char *dir, const char *name, char **path)
{
	return bw_path_join(dir, name, path);
}

/* An ASN.1 time as unix time; 0 if absent or unreadable. */
static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* The revoked serials of CA c: crl/<base>.crl or an uploaded CRL. */
static int ca_crl_load(struct ca *c, const char *dir, json_t *uploaded,
		       struct bw_err *err)
{
	char *path = NULL, crlname[128];
	X509_CRL *crl = NULL;
	int rc = 0;

	snprintf(crlname, sizeof(crlname), "crl/%s.crl", c->base);
	if ((rc = load_file_in(dir, crlname, &path)))
		return rc;
	rc = crl_load(path, c->base, uploaded, c->cert, &crl, &c->crl_number,
		      err);
	free(path);
	if (rc == BW_ENOTFOUND)
		return 0; /* a local CA whose key lives at its site: no CRL */
	if (!rc) {
		c->crl_next = asn1_unix(X509_CRL_get0_nextUpdate(crl));
		rc = ca_revoked_load(c, crl);
	}
	X509_CRL_free(crl);
	return rc;
}

/* One device CA from the `show` listing of the PKI directory. */
static int ca_add(struct bw_srv_policy *p, const char *dir, json_t *o,
		  json_t *uploaded, struct bw_err *err)
{
	const char *file = json_string_value(json_object_get(o, "file"));
	const char *status = json_string_value(json_object_get(o, "status"));
	char *path = NULL;
	struct ca *c = &p->cas[p->ncas];
	size_t n = file ? strlen(file) : 0;
	int rc = 0;

	if (n < 5 || n - 4 >= sizeof(c->base) || strcmp(file + n - 4, ".pem") ||
	    !status)
		return bw_err_set(err, BW_EFORMAT, "bad device CA entry");
	memcpy(c->base, file, n - 4);
	c->base[n - 4] = '\0';
	c->production = json_is_true(json_object_get(o, "production"));
	c->status = !strcmp(status, "enabled")	  ? BW_SRV_CA_ENABLED
		    : !strcmp(status, "disabled") ? BW_SRV_CA_DISABLED
						  : BW_SRV_CA_REVOKED;
	if ((rc = load_file_in(dir, file, &path)) ||
	    (rc = bw_pki_cert_load(path, &c->cert, err)))
		goto out;
	p->ncas++;
	rc = ca_crl_load(c, dir, uploaded, err);
out:
	free(path);
	return rc;
}

static int subject_get(X509_NAME *name, int nid, char *out, size_t outlen);

/* A device CA certificate: signed by the factory CA, CA:TRUE with
 * pathlen 0, OU = this factory, valid now. */
static int ca_parse_check(const struct bw_srv_policy *p, const char *name,
			  const uint8_t *pem, size_t len, X509 **out,
			  struct bw_err *err)
{
	X509 *x = NULL;
	char ou[BW_PKI_FACTORY_MAX + 1];
	time_t now = time(NULL);
	int rc = BW_EFORMAT;

	*out = NULL;
	if (!bw_pki_device_ca_name_ok(name)) {
		bw_err_set(err, rc, "bad CA name");
		goto out;
	}
	if ((rc = bw_pki_cert_parse(pem, len, &x, err)))
		goto out;
	rc = BW_EFORMAT;
	if (X509_check_issued(p->factory_ca, x) != X509_V_OK ||
	    X509_verify(x, X509_get0_pubkey(p->factory_ca)) != 1) {
		rc = bw_err_set(err, BW_ESIG, "not signed by the factory CA");
		goto out;
	}
	if (X509_check_ca(x) < 1 || X509_get_pathlen(x) != 0 ||
	    subject_get(X509_get_subject_name(x), NID_organizationalUnitName,
			ou, sizeof(ou)) != 1 ||
	    strcmp(ou, p->factory)) {
		bw_err_set(err, rc, "not a device CA of this factory");
		goto out;
	}
	if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0 ||
	    X509_cmp_time(X509_get0_notAfter(x), &now) <= 0) {
		rc = bw_err_set(err, BW_EEXPIRED,
				"CA certificate not valid now");
		goto out;
	}
	rc = 0;
	*out = x;
	x = NULL; /* transferred */
out:
	X509_free(x);
	return rc;
}

int bw_srv_policy_ca_check(const struct bw_srv_policy *p, const char *name,
			   const uint8_t *pem, size_t len, struct bw_err *err)
{
	X509 *x = NULL, *cur = NULL;
	int rc = ca_parse_check(p, name, pem, len, &x, err);

	if (!rc && (cur = bw_srv_policy_ca_cert(p, name)) && X509_cmp(cur, x))
		rc = bw_err_set(err, BW_EEXIST,
				"a different device CA is named %s", name);
	X509_free(x);
	return rc;
}

int bw_srv_policy_same(const struct bw_srv_policy *a,
		       const struct bw_srv_policy *b)
{
	if (a == NULL || b == NULL || strcmp(a->factory, b->factory) != 0 ||
	    a->factory_crl_number != b->factory_crl_number ||
	    a->ncas != b->ncas || (a->factory_ca == NULL) != (b->factory_ca == NULL) ||
	    (a->factory_ca != NULL && X509_cmp(a->factory_ca, b->factory_ca) != 0))
		return 0;
	for (size_t i = 0; i < a->ncas; i++) {
		const struct ca *x = &a->cas[i], *y = &b->cas[i];

		if (strcmp(x->base, y->base) != 0 || x->status != y->status ||
		    x->production != y->production ||
		    x->crl_number != y->crl_number ||
		    x->nrevoked != y->nrevoked || X509_cmp(x->cert, y->cert) != 0)
			return 0;
		for (size_t j = 0; j < x->nrevoked; j++)
			if (strcmp(x->revoked[j], y->revoked[j]) != 0)
				return 0;
	}
	return 1;
}

/* One field into the digest: its length, then its bytes, so that no two
 * sequences of fields hash alike. */
static int digest_field(struct bw_hash *h, const void *data, size_t len)
{
	uint64_t n = len;

	return bw_hash_update(h, &n, sizeof(n)) ||
	       (len && bw_hash_update(h, data, len));
}

static int digest_i64(struct bw_hash *h, int64_t v)
{
	return digest_field(h, &v, sizeof(v));
}

static int digest_cert(struct bw_hash *h, X509 *cert)
{
	unsigned char *der = NULL;
	int len = cert ? i2d_X509(cert, &der) : 0;
	int rc = len < 0 ? BW_ECRYPTO : digest_field(h, der, (size_t)len);

	OPENSSL_free(der);
	return rc;
}

int bw_srv_policy_digest(const struct bw_srv_policy *p,
			 char hex[BW_HASH_MAX_HEX], struct bw_err *err)
{
	struct bw_hash *h = NULL;
	uint8_t md[32];
	int rc = bw_hash_new(BW_HASH_SHA256, &h);

	hex[0] = '\0';
	if (!rc)
		rc = digest_field(h, p->factory, strlen(p->factory)) ||
		     digest_i64(h, p->factory_crl_number) ||
		     digest_cert(h, p->factory_ca) ||
		     digest_i64(h, (int64_t)p->ncas);
	for (size_t i = 0; !rc && i < p->ncas; i++) {
		const struct ca *c = &p->cas[i];

		rc = digest_field(h, c->base, strlen(c->base)) ||
		     digest_i64(h, c->status) || digest_i64(h, c->production) ||
		     digest_i64(h, c->crl_number) ||
		     digest_i64(h, (int64_t)c->nrevoked) ||
		     digest_cert(h, c->cert);
		for (size_t j = 0; !rc && j < c->nrevoked; j++)
			rc = digest_field(h, c->revoked[j],
					  strlen(c->revoked[j]));
	}
	if (!rc)
		rc = bw_hash_final(h, md);
	bw_hash_free(h);
	if (rc)
		return bw_err_set(err, BW_ECRYPTO, "policy digest");
	bw_hex_encode(md, sizeof(md), hex);
	return 0;
}

json_t *bw_srv_policy_describe(const struct bw_srv_policy *p)
{
	static const char *const st[] = {"", "enabled", "disabled", "revoked"};
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < p->ncas; i++) {
		char cn[128];

		if (subject_get(X509_get_subject_name(p->cas[i].cert),
				NID_commonName, cn, sizeof(cn)) != 1)
			cn[0] = '\0';
		json_array_append_new(
		    arr,
		    json_pack("{s:s,s:s,s:s,s:b,s:s,s:I,s:I,s:I,s:I}", "name",
			      p->cas[i].base, "cn", cn, "status",
			      st[p->cas[i].status], "production",
			      p->cas[i].production, "source",
			      p->cas[i].uploaded ? "uploaded" : "pki-dir",
			      "crl-number",
			      (json_int_t)p->cas[i].crl_number,
			      "revoked-serials", (json_int_t)p->cas[i].nrevoked,
			      "not-after",
			      (json_int_t)asn1_unix(
				  X509_get0_notAfter(p->cas[i].cert)),
			      "crl-next-update",
			      (json_int_t)p->cas[i].crl_next));
	}
	return arr;
}

json_t *bw_srv_policy_factory_describe(const struct bw_srv_policy *p)
{
	return json_pack("{s:s,s:I,s:I,s:I}", "name", "factory_ca",
			 "not-after",
			 (json_int_t)asn1_unix(X509_get0_notAfter(p->factory_ca)),
			 "crl-number", (json_int_t)p->factory_crl_number,
			 "crl-next-update", (json_int_t)p->factory_crl_next);
}

int64_t bw_srv_cert_not_after(const X509 *cert)
{
	return cert ? asn1_unix(X509_get0_notAfter(cert)) : 0;
}

/* A device CA uploaded on the admin API, unless the directory has one of
 * that name. Checked again on every load (bw_srv_policy_ca_check). */
static int uploaded_ca_add(struct bw_srv_policy *p, const char *dir, json_t *e,
			   json_t *crls, struct bw_err *err)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *pem = json_string_value(json_object_get(e, "pem"));
	struct ca *c = &p->cas[p->ncas];

	if (!name || !pem || bw_srv_policy_ca_cert(p, name))
		return 0;
	if (ca_parse_check(p, name, (const uint8_t *)pem, strlen(pem), &c->cert,
			   err)) {
		bw_srv_log(BW_SRV_LOG_ERR, "uploaded device CA %s ignored: %s",
			   name, err ? err->msg : "");
		return 0;
	}
	snprintf(c->base, sizeof(c->base), "%s", name);
	c->status = BW_SRV_CA_ENABLED;
	/* production only when the upload said so */
	c->production = json_is_true(json_object_get(e, "production"));
	c->uploaded = 1;
	p->ncas++;
	return ca_crl_load(c, dir, crls, err);
}

static int load_cas(struct bw_srv_policy *p, const char *dir, json_t *show,
		    const struct bw_srv_policy_extra *extra, struct bw_err *err)
{
	json_t *certs = json_object_get(show, "certificates"), *o = NULL;
	json_t *uploaded = extra ? extra->crls : NULL;
	json_t *up_cas = extra ? extra->cas : NULL;
	size_t i = 0;
	int rc = 0;

	p->cas = calloc(json_array_size(certs) + json_array_size(up_cas) + 1,
			sizeof(*p->cas));
	if (!p->cas)
		return BW_ENOMEM;
	json_array_foreach(certs, i, o)
	{
		const char *role =
		    json_string_value(json_object_get(o, "role"));
		size_t n = role ? strlen(role) : 0;

		if (n < 9 || strcmp(role + n - 9, "device-ca"))
			continue;
		if ((rc = ca_add(p, dir, o, uploaded, err)))
			return rc;
	}
	json_array_foreach(up_cas, i, o)
	{
		if ((rc = uploaded_ca_add(p, dir, o, uploaded, err)))
			return rc;
	}
	return 0;
}

int bw_srv_policy_load(const char *pki_dir, const char *factory,
		       const struct bw_srv_policy_extra *extra,
		       struct bw_srv_policy **out, struct bw_err *err)
{
	struct bw_srv_policy *p = calloc(1, sizeof(*p));
	struct bw_pki *pki = NULL;
	json_t *show = NULL;
	X509_CRL *fcrl = NULL;
	char *path = NULL;
	int rc = BW_ENOMEM;

	*out = NULL;
	if (!p)
		goto out;
	if ((rc = bw_pki_open_shared(pki_dir, &pki, err)) ||
	    (rc = bw_pki_show(pki, time(NULL), &show, err)))
		goto out;
	snprintf(p->factory, sizeof(p->factory), "%s",
		 factory && factory[0] ? factory : bw_pki_factory(pki));
	if ((rc = load_file_in(pki_dir, "factory_ca.pem", &path)) ||
	    (rc = bw_pki_cert_load(path, &p->factory_ca, err)) ||
	    (rc = load_cas(p, pki_dir, show, extra, err)))
		goto out;
	free(path);
	if ((rc = load_file_in(pki_dir, "crl/factory_ca.crl", &path)))
		goto out;
	rc = crl_load(path, "factory_ca", extra ? extra->crls : NULL,
		      p->factory_ca, &fcrl, &p->factory_crl_number, err);
	if (rc && rc != BW_ENOTFOUND)
		goto out;
	if (fcrl) {
		p->factory_crl_next =
		    asn1_unix(X509_CRL_get0_nextUpdate(fcrl));
		apply_factory_crl(p, fcrl);
	}
	rc = 0;
	*out = p;
	p = NULL; /* transferred */
out:
	X509_CRL_free(fcrl);
	free(path);
	json_decref(show);
	bw_pki_free(pki);
	bw_srv_policy_free(p);
	return rc;
}

int bw_srv_policy_crl_check(const struct bw_srv_policy *p, const char *issuer,
			    const uint8_t *pem, size_t len, int64_t *number,
			    struct bw_err *err)
{
	X509 *ca = !strcmp(issuer, "factory_ca")
		       ? p->factory_ca
		       : bw_srv_policy_ca_cert(p, issuer);
	int64_t cur = -1;
	X509_CRL *crl = NULL;
	int rc = 0;

	if (!ca)
		return bw_err_set(err, BW_ENOTFOUND, "no CA %.64s", issuer);
	if ((rc = crl_parse(pem, len, ca, &crl, number, err)))
		return rc;
	X509_CRL_free(crl);
	cur = p->factory_crl_number;
	for (size_t i = 0; ca != p->factory_ca && i < p->ncas; i++)
		if (p->cas[i].cert == ca)
			cur = p->cas[i].crl_number;
	if (*number <= cur)
		return bw_err_set(err, BW_EROLLBACK,
				  "crlNumber %lld is not above %lld in use",
				  (long long)*number, (long long)cur);
	return 0;
}

X509_STORE *bw_srv_policy_store(const struct bw_srv_policy *p)
{
	X509_STORE *st = X509_STORE_new();

	if (!st || !X509_STORE_add_cert(st, p->factory_ca))
		goto fail;
	for (size_t i = 0; i < p->ncas; i++)
		if (p->cas[i].status != BW_SRV_CA_REVOKED &&
		    !X509_STORE_add_cert(st, p->cas[i].cert))
			goto fail;
	return st;
fail:
	X509_STORE_free(st);
	return NULL;
}

/* Exactly one subject entry of nid, copied as UTF-8. 0, 1 or error. */
static int subject_get(X509_NAME *name, int nid, char *out, size_t outlen)
{
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	ASN1_STRING *s = NULL;
	unsigned char *u = NULL;
	int n = 0;

	out[0] = '\0';
	if (idx < 0)
		return 0;
	if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0)
		return BW_EFORMAT;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	n = ASN1_STRING_to_UTF8(&u, s);
	if (n < 0 || (size_t)n >= outlen || memchr(u, 0, (size_t)n)) {
		OPENSSL_free(u);
		return BW_EFORMAT;
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(u);
	return 1;
}

static const struct ca *ca_of(const struct bw_srv_policy *p, X509 *cert)
{
	X509_NAME *issuer = X509_get_issuer_name(cert);

	for (size_t i = 0; i < p->ncas; i++)
		if (!X509_NAME_cmp(issuer,
				   X509_get_subject_name(p->cas[i].cert)))
			return &p->cas[i];
	return NULL;
}

/* The device subject (bw_identity_subject_read) of this factory. The
 * production claim is only read here; the binding decides it. */
static int subject_check(const struct bw_srv_policy *p, X509 *cert,
			 struct bw_srv_identity *id, struct bw_err *err)
{
	struct bw_identity_subject subj;
	int rc = bw_identity_subject_read(X509_get_subject_name(cert), &subj,
					  err);

	if (rc)
		return rc;
	if (strcmp(subj.factory, p->factory))
		return bw_err_set(err, BW_EFORMAT, "OU is not this factory");
	memcpy(id->uuid, subj.uuid, sizeof(subj.uuid));
	id->production = subj.production;
	return 0;
}

int bw_srv_policy_check(const struct bw_srv_policy *p, X509 *cert, time_t now,
			struct bw_srv_identity *id, struct bw_err *err)
{
	const struct ca *ca = NULL;
	char *serial = NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int rc = 0;

	memset(id, 0, sizeof(*id));
	if (!(ca = ca_of(p, cert)))
		return bw_err_set(err, BW_ENOTFOUND, "issuer is no device CA");
	if (ca->status == BW_SRV_CA_REVOKED)
		return bw_err_set(err, BW_ESTATE, "device CA %s revoked",
				  ca->base);
	if (X509_verify(cert, X509_get0_pubkey(ca->cert)) != 1)
		return bw_err_set(err, BW_ESIG, "not signed by device CA %s",
				  ca->base);
	if (X509_cmp_time(X509_get0_notBefore(cert), &now) >= 0 ||
	    X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0)
		return bw_err_set(err, BW_EEXPIRED,
				  "certificate not valid now");
	/* an explicit clientAuth EKU: "no EKU = any use" is not enough */
	if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1 ||
	    !(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT))
		return bw_err_set(err, BW_EFORMAT, "no clientAuth usage");
	if ((rc = subject_check(p, cert, id, err)))
		return rc;
	/* the form state.json, CRL lookups and the record use */
	if ((rc = bw_pki_serial_hex(cert, &serial, err)))
		return rc;
	snprintf(id->serial, sizeof(id->serial), "%s", serial);
	if (ca->nrevoked && bsearch(&serial, ca->revoked, ca->nrevoked,
				    sizeof(char *), cmp_str)) {
		free(serial);
		return bw_err_set(err, BW_ESTATE, "certificate revoked");
	}
	free(serial);
	if (!X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return bw_err_set(err, BW_ECRYPTO, "digest");
	bw_hex_encode(md, 32, id->fingerprint);
	id->not_after = bw_srv_cert_not_after(cert);
	snprintf(id->ca, sizeof(id->ca), "%s", ca->base);
	id->ca_production = ca->production;
	if (!X509_digest(ca->cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return bw_err_set(err, BW_ECRYPTO, "digest");
	bw_hex_encode(md, 32, id->ca_fingerprint);
	id->ca_disabled = ca->status == BW_SRV_CA_DISABLED;
	return 0;
}

int bw_srv_policy_load_minimal(const char *pki_dir, const char *factory,
			       struct bw_srv_policy **out, struct bw_err *err)
{
	struct bw_srv_policy *p = calloc(1, sizeof(*p));
	char *path = NULL;
	int rc = BW_ENOMEM;

	*out = NULL;
	if (!p || (rc = load_file_in(pki_dir, "factory_ca.pem", &path)) ||
	    (rc = bw_pki_cert_load(path, &p->factory_ca, err)))
		goto out;
	p->factory_crl_number = -1;
	if (factory && factory[0])
		snprintf(p->factory, sizeof(p->factory), "%s", factory);
	else if (subject_get(X509_get_subject_name(p->factory_ca),
			     NID_organizationalUnitName, p->factory,
			     sizeof(p->factory)) != 1) {
		rc = bw_err_set(err, BW_EFORMAT, "factory CA without OU");
		goto out;
	}
	*out = p;
	p = NULL; /* transferred */
out:
	free(path);
	bw_srv_policy_free(p);
	return rc;
}
