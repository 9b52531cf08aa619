/*
 * CRLs of the factory PKI (include/bulwark/pki.h: bw_pki_crl_build).
 * RFC 5280 5.1: v2, issuer, thisUpdate, nextUpdate, revoked entries with a
 * reasonCode (5.3.1), authorityKeyIdentifier and cRLNumber (5.2.1, 5.2.3).
 */
#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "pki/pki_priv.h"

static int serial_from_hex(const char *hex, ASN1_INTEGER **out,
			   struct bw_err *err)
{
	BIGNUM *bn = NULL;

	*out = NULL;
	if (hex == NULL || BN_hex2bn(&bn, hex) == 0 || bn == NULL) {
		BN_free(bn);
		return bw_err_set(err, BW_EFORMAT, "bad serial in state");
	}
	*out = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (*out == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	return 0;
}

static int add_entry(X509_CRL *crl, const struct bw_pki_crl_entry *e,
		     struct bw_err *err)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	int rc = BW_ECRYPTO;

	if (r == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = serial_from_hex(e->serial_hex, &serial, err);
	if (rc != 0)
		goto out;
	rc = BW_ECRYPTO;
	when = ASN1_TIME_set(NULL, e->revoked_at);
	reason = ASN1_ENUMERATED_new();
	if (when == NULL || reason == NULL ||
	    !ASN1_ENUMERATED_set(reason, (long)e->reason) ||
	    !X509_REVOKED_set_serialNumber(r, serial) ||
	    !X509_REVOKED_set_revocationDate(r, when) ||
	    !X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0)) {
		bw_err_set(err, rc, "cannot build CRL entry");
		goto out;
	}
	if (!X509_CRL_add0_revoked(crl, r)) {
		bw_err_set(err, rc, "cannot add CRL entry");
		goto out;
	}
	r = NULL; /* transferred */
	rc = 0;
out:
	X509_REVOKED_free(r);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	ASN1_ENUMERATED_free(reason);
	return rc;
}

static int add_crl_exts(X509_CRL *crl, X509 *ca, uint64_t number,
			struct bw_err *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *aki;
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	int rc = BW_ECRYPTO;

	if (num == NULL || !ASN1_INTEGER_set_uint64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) {
		rc = bw_err_set(err, rc, "cannot add cRLNumber");
		goto out;
	}
	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
				  "keyid:always");
	if (aki == NULL) {
		rc = bw_err_set(err, rc,
				"cannot build authorityKeyIdentifier (issuer "
				"without subjectKeyIdentifier?)");
		goto out;
	}
	if (!X509_CRL_add_ext(crl, aki, -1)) {
		X509_EXTENSION_free(aki);
		rc = bw_err_set(err, rc, "cannot add authorityKeyIdentifier");
		goto out;
	}
	X509_EXTENSION_free(aki);
	rc = 0;
out:
	ASN1_INTEGER_free(num);
	return rc;
}

int bw_pki_crl_build(X509 *ca, EVP_PKEY *ca_key,
		     const struct bw_pki_crl_entry *entries, size_t n,
		     uint64_t crl_number, time_t now, long days,
		     X509_CRL **out, struct bw_err *err)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = NULL, *next = NULL;
	int rc = BW_ECRYPTO;

	*out = NULL;
	if (crl == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (days <= 0 || days > 3650) {
		rc = bw_err_set(err, BW_EINVAL, "bad CRL validity");
		goto out;
	}
	last = ASN1_TIME_set(NULL, now);
	next = ASN1_TIME_set(NULL, now + (time_t)days * BW_PKI_DAY);
	if (last == NULL || next == NULL || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
	    !X509_CRL_set1_lastUpdate(crl, last) ||
	    !X509_CRL_set1_nextUpdate(crl, next)) {
		rc = bw_err_set(err, rc, "cannot fill CRL");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = add_entry(crl, &entries[i], err);
		if (rc != 0)
			goto out;
	}
	rc = add_crl_exts(crl, ca, crl_number, err);
	if (rc != 0)
		goto out;
	if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, ca_key, EVP_sha256()) <= 0) {
		rc = bw_err_set(err, BW_ECRYPTO, "CRL signing failed");
		goto out;
	}
	*out = crl;
	crl = NULL; /* transferred */
	rc = 0;
out:
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return rc;
}
