/*
 * Untrusted CSRs: bounded parsing and profile checks
 * (include/bulwark/pki.h: bw_pki_csr_parse, bw_pki_csr_check).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "bulwark/identity.h"
#include "pki/pki_priv.h"

static int only_space(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace(p[i]) && p[i] != '\0')
			return 0;
	return 1;
}

static int csr_parse_pem(const uint8_t *data, size_t len, X509_REQ **out,
			 struct bw_err *err)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	int rc = BW_EFORMAT;
	char *rest = NULL;
	long restlen;

	if (bio == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	*out = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	if (*out == NULL) {
		rc = bw_err_set(err, BW_EFORMAT,
				"CSR: not a PEM certificate request");
		goto out;
	}
	restlen = BIO_get_mem_data(bio, &rest);
	if (restlen > 0 && !only_space((const uint8_t *)rest, (size_t)restlen)) {
		X509_REQ_free(*out);
		*out = NULL;
		rc = bw_err_set(err, BW_EFORMAT, "CSR: trailing data after PEM");
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

int bw_pki_csr_parse(const uint8_t *data, size_t len, X509_REQ **out,
		     struct bw_err *err)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	const unsigned char *p = data;
	size_t skip = 0;
	int rc;

	*out = NULL;
	if (len > BW_PKI_CSR_MAX)
		return bw_err_set(err, BW_ETOOBIG, "CSR larger than %u bytes",
				  BW_PKI_CSR_MAX);
	if (len == 0)
		return bw_err_set(err, BW_EFORMAT, "CSR is empty");
	while (skip < len && isspace(data[skip]))
		skip++;
	if (len - skip >= 10 && memcmp(data + skip, "-----BEGIN", 10) == 0) {
		rc = csr_parse_pem(data, len, &req, err);
		if (rc != 0)
			goto out;
	} else {
		req = d2i_X509_REQ(NULL, &p, (long)len);
		if (req == NULL) {
			rc = bw_err_set(err, BW_EFORMAT,
					"CSR: not a PEM or DER certificate "
					"request");
			goto out;
		}
		if (p != data + len) {
			rc = bw_err_set(err, BW_EFORMAT,
					"CSR: trailing data after DER");
			goto out;
		}
	}
	if (X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
		rc = bw_err_set(err, BW_EFORMAT, "CSR: unknown version");
		goto out;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (pub == NULL) {
		rc = bw_err_set(err, BW_EFORMAT, "CSR: unreadable public key");
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		rc = bw_err_set(err, BW_ESIG, "CSR: self-signature is invalid");
		goto out;
	}
	*out = req;
	req = NULL; /* transferred */
	rc = 0;
out:
	ERR_clear_error();
	X509_REQ_free(req);
	return rc;
}

/* Device subject (bw_identity_subject_read) against the issuer's policy:
 * OU, if present, is the factory; production only when asked for. */
static int check_device_subject(X509_REQ *req,
				const struct bw_pki_csr_policy *pol,
				struct bw_err *err)
{
	struct bw_identity_subject subj;
	int rc = bw_identity_subject_read(X509_REQ_get_subject_name(req),
					  &subj, err);

	if (rc != 0) {
		if (err != NULL) {
			char msg[BW_ERR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			bw_err_set(err, rc, "CSR: %s", msg);
		}
		return rc;
	}
	if (subj.factory[0] != '\0' && strcmp(subj.factory, pol->factory) != 0)
		return bw_err_set(err, BW_EFORMAT,
				  "CSR: OU '%.64s' is not the factory '%s'",
				  subj.factory, pol->factory);
	if (subj.production && !pol->production)
		return bw_err_set(err, BW_EFORMAT,
				  "CSR: asks for businessCategory=production "
				  "but a production certificate was not "
				  "requested");
	return 0;
}

/* A requested extension must not ask for more than the profile gives. */
static int check_ext(X509_EXTENSION *ext, enum bw_pki_profile prof,
		     struct bw_err *err)
{
	int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
	void *v = NULL;
	int rc = 0;

	if (nid != NID_basic_constraints && nid != NID_key_usage &&
	    nid != NID_ext_key_usage)
		return 0; /* never copied into the certificate */
	v = X509V3_EXT_d2i(ext);
	if (v == NULL)
		return bw_err_set(err, BW_EFORMAT,
				  "CSR: undecodable %s extension",
				  OBJ_nid2sn(nid));
	if (nid == NID_basic_constraints) {
		int ca = ((BASIC_CONSTRAINTS *)v)->ca != 0;

		if (ca && prof != BW_PKI_PROFILE_DEVICE_CA)
			rc = bw_err_set(err, BW_EFORMAT,
					"CSR asks for CA:TRUE but a %s "
					"certificate was requested",
					prof == BW_PKI_PROFILE_DEVICE ? "device"
								      : "server");
		else if (!ca && prof == BW_PKI_PROFILE_DEVICE_CA)
			rc = bw_err_set(err, BW_EFORMAT,
					"CSR asks for CA:FALSE but a CA "
					"certificate was requested");
	} else if (nid == NID_key_usage) {
		ASN1_BIT_STRING *ku = v;

		if (prof != BW_PKI_PROFILE_DEVICE_CA &&
		    (ASN1_BIT_STRING_get_bit(ku, 5) ||
		     ASN1_BIT_STRING_get_bit(ku, 6)))
			rc = bw_err_set(err, BW_EFORMAT,
					"CSR asks for keyCertSign/cRLSign in a "
					"non-CA certificate");
	} else if (prof != BW_PKI_PROFILE_DEVICE_CA) {
		EXTENDED_KEY_USAGE *eku = v;
		int want = prof == BW_PKI_PROFILE_DEVICE ? NID_client_auth
							 : NID_server_auth;

		for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
			int u = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));

			if (u != want && u != NID_client_auth) {
				rc = bw_err_set(err, BW_EFORMAT,
						"CSR asks for an extended key "
						"usage the profile does not "
						"give");
				break;
			}
		}
	}
	if (nid == NID_basic_constraints)
		BASIC_CONSTRAINTS_free(v);
	else if (nid == NID_key_usage)
		ASN1_BIT_STRING_free(v);
	else
		EXTENDED_KEY_USAGE_free(v);
	return rc;
}

int bw_pki_csr_check(X509_REQ *req, const struct bw_pki_csr_policy *pol,
		     struct bw_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	int rc = BW_EFORMAT;

	if (pol == NULL || pol->factory == NULL)
		return bw_err_set(err, BW_EINVAL, "no CSR policy");
	if (pub == NULL)
		return bw_err_set(err, BW_EFORMAT, "CSR: no public key");
	if (!bw_pki__is_p256(pub))
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "CSR key is %s, not ECDSA P-256",
				  EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC
					  ? "EC on another curve"
					  : OBJ_nid2sn(EVP_PKEY_get_base_id(pub)));
	if (pol->profile == BW_PKI_PROFILE_DEVICE) {
		rc = check_device_subject(req, pol, err);
		if (rc != 0)
			return rc;
	}
	exts = X509_REQ_get_extensions(req);
	if (exts == NULL && X509_REQ_get_attr_count(req) > 0 &&
	    X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0) {
		ERR_clear_error();
		return bw_err_set(err, BW_EFORMAT,
				  "CSR: undecodable extension request");
	}
	rc = 0;
	for (int i = 0; rc == 0 && i < sk_X509_EXTENSION_num(exts); i++)
		rc = check_ext(sk_X509_EXTENSION_value(exts, i), pol->profile,
			       err);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return rc;
}

int bw_pki_csr_uuid(X509_REQ *req, char out[37], struct bw_err *err)
{
	struct bw_identity_subject subj;
	int rc = bw_identity_subject_read(X509_REQ_get_subject_name(req),
					  &subj, err);

	out[0] = '\0';
	if (rc != 0)
		return rc;
	memcpy(out, subj.uuid, BW_UUID_BUF);
	return 0;
}
