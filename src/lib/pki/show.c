/*
 * Describe a PKI directory as JSON (bw_pki_show): every certificate, its
 * serial, validity and status, the CRLs, and warnings for anything that
 * expires within 90 days.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/pki_priv.h"

#define WARN_DAYS 90
#define CRL_WARN_DAYS 7

static json_t *iso_time(time_t t)
{
	struct tm tm;
	char buf[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

static json_t *subject_json(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;
	json_t *s = NULL;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(b, &data);
		if (n >= 0)
			s = json_stringn_nocheck(data, (size_t)n);
	}
	BIO_free(b);
	return s;
}

/* Warnings on one validity window. */
static int add_validity_warnings(json_t *warnings, const char *what,
				 time_t na, time_t now, long warn_days)
{
	char msg[160];

	if (na < now)
		snprintf(msg, sizeof(msg), "%s has expired", what);
	else if (na - now < warn_days * BW_PKI_DAY)
		snprintf(msg, sizeof(msg), "%s expires in %ld days", what,
			 (long)((na - now) / BW_PKI_DAY));
	else
		return 0;
	return json_array_append_new(warnings, json_string(msg));
}

static json_t *cert_json(X509 *x, const char *file, const char *role,
			 const char *status, time_t now, json_t *warnings)
{
	time_t nb = 0, na = 0;
	char *serial = NULL;
	json_t *o;

	if (bw_pki_serial_hex(x, &serial, NULL) != 0)
		return NULL;
	(void)bw_pki__time_to_t(X509_get0_notBefore(x), &nb);
	(void)bw_pki__time_to_t(X509_get0_notAfter(x), &na);
	if (status == NULL)
		status = na < now ? "expired" : nb > now ? "not-yet-valid" : "valid";
	o = json_pack("{s:s, s:s, s:o*, s:s, s:o, s:o, s:s}", "file", file,
		      "role", role, "subject",
		      subject_json(X509_get_subject_name(x)), "serial", serial,
		      "not_before", iso_time(nb), "not_after", iso_time(na),
		      "status", status);
	free(serial);
	if (o != NULL && strcmp(status, "revoked") != 0)
		(void)add_validity_warnings(warnings, file, na, now, WARN_DAYS);
	return o;
}

static void add_server(struct bw_pki *pki, json_t *certs, const char *file,
		       const char *role, time_t now, json_t *warnings)
{
	char *path = NULL;
	X509 *x = NULL;

	if (bw_path_join(pki->dir, file, &path) != 0)
		return;
	if (bw_pki_cert_load(path, &x, NULL) == 0)
		json_array_append_new(certs, cert_json(x, file, role, NULL, now,
						       warnings));
	else
		json_array_append_new(warnings,
				      json_sprintf("%s is missing or unreadable",
						   file));
	X509_free(x);
	free(path);
}

static json_t *crl_json(struct bw_pki *pki, const char *base, time_t now,
			json_t *warnings)
{
	char name[BW_PKI_CA_NAME_MAX + 40], *pem = NULL;
	size_t len = 0;
	X509_CRL *crl = NULL;
	BIO *b = NULL;
	time_t next = 0;
	json_t *o = NULL;
	ASN1_INTEGER *num = NULL;
	long number = -1;

	snprintf(name, sizeof(name), "crl/%s.crl", base);
	if (bw_pki__read(pki, name, 16u * 1024u * 1024u, &pem, &len, NULL) != 0 ||
	    (b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) == NULL) {
		json_array_append_new(warnings,
				      json_sprintf("%s is missing or unreadable",
						   name));
		goto out;
	}
	(void)bw_pki__time_to_t(X509_CRL_get0_nextUpdate(crl), &next);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (num != NULL)
		number = ASN1_INTEGER_get(num);
	o = json_pack("{s:s, s:I, s:o, s:o, s:i}", "file", name, "crl_number",
		      (json_int_t)number, "last_update",
		      iso_time(now), "next_update", iso_time(next), "entries",
		      X509_CRL_get_REVOKED(crl) != NULL
			      ? sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl))
			      : 0);
	if (o != NULL) {
		time_t last = 0;

		(void)bw_pki__time_to_t(X509_CRL_get0_lastUpdate(crl), &last);
		json_object_set_new(o, "last_update", iso_time(last));
	}
	(void)add_validity_warnings(warnings, name, next, now, CRL_WARN_DAYS);
out:
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	BIO_free(b);
	free(pem);
	ERR_clear_error();
	return o;
}

static const char *ca_status(const struct bw_pki__ca *c)
{
	return c->status == BW_PKI_CA_ENABLED	 ? "enabled"
	       : c->status == BW_PKI_CA_DISABLED ? "disabled"
						 : "revoked";
}

int bw_pki_show(struct bw_pki *pki, time_t now, json_t **out,
		struct bw_err *err)
{
	json_t *root, *certs, *crls, *warnings;
	char file[BW_PKI_CA_NAME_MAX + 24];

	*out = NULL;
	root = json_pack("{s:s, s:s, s:s, s:[], s:[], s:[], s:I, s:I}", "dir",
			 pki->dir, "factory", pki->st.factory, "factory_key",
			 pki->factory_uri != NULL ? pki->factory_uri
						  : "factory_ca.key",
			 "certificates", "crls", "warnings", "revoked_devices",
			 (json_int_t)pki->st.nrevoked, "issued_devices",
			 (json_int_t)pki->st.nissued);
	if (root == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	certs = json_object_get(root, "certificates");
	crls = json_object_get(root, "crls");
	warnings = json_object_get(root, "warnings");
	json_array_append_new(certs, cert_json(pki->factory_ca, "factory_ca.pem",
					       "factory-ca", NULL, now,
					       warnings));
	add_server(pki, certs, "tls.pem", "gateway-tls", now, warnings);
	add_server(pki, certs, "est-tls.pem", "est-tls", now, warnings);
	for (size_t i = 0; i < pki->st.ncas; i++) {
		struct bw_pki__ca *c = &pki->st.cas[i];
		json_t *o;

		snprintf(file, sizeof(file), "%s.pem", c->base);
		o = cert_json(c->cert, file,
			      strcmp(c->kind, "online") == 0 ? "online-device-ca"
							     : "local-device-ca",
			      ca_status(c), now, warnings);
		if (o != NULL && c->status != BW_PKI_CA_ENABLED)
			json_object_set_new(o, "reason",
					    json_string(bw_pki__reason_name(
						    c->reason)));
		if (o != NULL)
			json_object_set_new(o, "key_here",
					    json_boolean(c->has_key));
		if (o != NULL)
			json_object_set_new(o, "production",
					    json_boolean(c->production));
		json_array_append_new(certs, o);
	}
	json_array_append_new(crls, crl_json(pki, "factory_ca", now, warnings));
	for (size_t i = 0; i < pki->st.ncas; i++)
		if (pki->st.cas[i].has_key)
			json_array_append_new(crls, crl_json(pki,
							     pki->st.cas[i].base,
							     now, warnings));
	*out = root;
	return 0;
}
