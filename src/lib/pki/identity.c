/*
 * Device identity rules (include/bulwark/identity.h): the UUID syntax and
 * its canonical form, and the device subject layout and its reader. Every
 * program calls these; nothing else decides what a device UUID is.
 */
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "bulwark/identity.h"
#include "pki/pki_priv.h"

static int hex_lower(char c, char *out)
{
	if (c >= '0' && c <= '9') {
		*out = c;
		return 1;
	}
	if (c >= 'a' && c <= 'f') {
		*out = c;
		return 1;
	}
	if (c >= 'A' && c <= 'F') {
		*out = (char)(c - 'A' + 'a');
		return 1;
	}
	return 0;
}

int bw_identity_uuid_normalize(const char *in, size_t len,
			       char out[BW_UUID_BUF], struct bw_err *err)
{
	char tmp[BW_UUID_BUF];

	out[0] = '\0';
	if (in == NULL || len != BW_UUID_LEN)
		return bw_err_set(err, BW_EFORMAT,
				  "not a UUID (8-4-4-4-12 hex digits)");
	for (size_t i = 0; i < BW_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (in[i] != '-')
				return bw_err_set(err, BW_EFORMAT,
						  "not a UUID (8-4-4-4-12 hex "
						  "digits)");
			tmp[i] = '-';
		} else if (!hex_lower(in[i], &tmp[i])) {
			return bw_err_set(err, BW_EFORMAT,
					  "not a UUID (8-4-4-4-12 hex digits)");
		}
	}
	tmp[BW_UUID_LEN] = '\0';
	memcpy(out, tmp, BW_UUID_BUF);
	return 0;
}

int bw_identity_uuid_is_canonical(const char *s)
{
	char norm[BW_UUID_BUF];

	if (s == NULL || strnlen(s, BW_UUID_BUF) != BW_UUID_LEN ||
	    bw_identity_uuid_normalize(s, BW_UUID_LEN, norm, NULL) != 0)
		return 0;
	return memcmp(s, norm, BW_UUID_LEN) == 0;
}

/* Value of a name entry as UTF-8 (no NUL inside) into buf. */
static int entry_utf8(const X509_NAME_ENTRY *e, char *buf, size_t size,
		      struct bw_err *err)
{
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(
	    &u, X509_NAME_ENTRY_get_data((X509_NAME_ENTRY *)e));

	buf[0] = '\0';
	if (n < 0)
		return bw_err_set(err, BW_EFORMAT,
				  "undecodable subject attribute");
	if ((size_t)n >= size || memchr(u, '\0', (size_t)n) != NULL) {
		OPENSSL_free(u);
		return bw_err_set(err, BW_EFORMAT,
				  "subject attribute too long or with NUL");
	}
	memcpy(buf, u, (size_t)n);
	buf[n] = '\0';
	OPENSSL_free(u);
	return 0;
}

int bw_identity_subject_read(const X509_NAME *name,
			     struct bw_identity_subject *out,
			     struct bw_err *err)
{
	int ncn = 0, nou = 0, nbc = 0, rc = 0;
	char val[256];

	memset(out, 0, sizeof(*out));
	if (name == NULL)
		return bw_err_set(err, BW_EFORMAT, "no subject");
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(
		    X509_NAME_ENTRY_get_object((X509_NAME_ENTRY *)e));

		if ((rc = entry_utf8(e, val, sizeof(val), err)) != 0)
			goto fail;
		if (nid == NID_commonName) {
			if (ncn++ > 0 ||
			    bw_identity_uuid_normalize(val, strlen(val),
						       out->uuid, NULL) != 0) {
				rc = bw_err_set(err, BW_EFORMAT,
						"the subject needs exactly one "
						"CN that is the device UUID");
				goto fail;
			}
		} else if (nid == NID_organizationalUnitName) {
			if (nou++ > 0 ||
			    strlen(val) > BW_IDENTITY_FACTORY_MAX) {
				rc = bw_err_set(err, BW_EFORMAT,
						"the subject needs at most one "
						"OU (the factory)");
				goto fail;
			}
			memcpy(out->factory, val, strlen(val) + 1);
		} else if (nid == NID_businessCategory) {
			if (nbc++ > 0 || strcmp(val, "production") != 0) {
				rc = bw_err_set(err, BW_EFORMAT,
						"unexpected businessCategory");
				goto fail;
			}
			out->production = 1;
		} else {
			rc = bw_err_set(err, BW_EFORMAT,
					"unexpected subject attribute %s in a "
					"device subject",
					nid == NID_undef ? "(unknown)"
							 : OBJ_nid2sn(nid));
			goto fail;
		}
	}
	if (ncn != 1) {
		rc = bw_err_set(err, BW_EFORMAT,
				"the subject needs a CN with the device UUID");
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}

int bw_identity_subject_build(const char *uuid, const char *factory,
			      int production, X509_NAME **out,
			      struct bw_err *err)
{
	char norm[BW_UUID_BUF];
	X509_NAME *n = NULL;
	int rc;

	*out = NULL;
	if (uuid == NULL ||
	    (rc = bw_identity_uuid_normalize(uuid, strlen(uuid), norm, err)))
		return uuid == NULL ? bw_err_set(err, BW_EFORMAT, "no UUID")
				    : rc;
	if ((rc = bw_pki__name_build(norm, factory, &n, err)) != 0)
		return rc;
	if (production && !X509_NAME_add_entry_by_NID(
			      n, NID_businessCategory, MBSTRING_UTF8,
			      (const unsigned char *)"production", -1, -1, 0)) {
		X509_NAME_free(n);
		return bw_err_set(err, BW_ECRYPTO,
				  "cannot encode subject name");
	}
	*out = n;
	return 0;
}
