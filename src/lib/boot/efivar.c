/*
 * Signed UEFI variable updates (UEFI 2.10, 8.2.2 "Using the
 * EFI_VARIABLE_AUTHENTICATION_2 descriptor" and 32.4 "Signature
 * Database"). OpenSSL makes the PKCS#7 SignedData; the surrounding
 * structures are a few fixed little-endian fields and GUIDs, written here.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pkcs7.h>

#include "bulwark/boot.h"
#include "bulwark/buf.h"

#define ATTR_NV_BS_RT_TIME 0x27u /* NON_VOLATILE|BOOTSERVICE|RUNTIME|
				     TIME_BASED_AUTHENTICATED_WRITE_ACCESS */
#define WIN_CERT_TYPE_EFI_GUID 0x0EF1
#define MAX_ENTRIES 4096

/* GUIDs in their in-memory (mixed-endian) byte order. */
static const uint8_t guid_global[16] = { /* 8be4df61-93ca-11d2-aa0d-... */
	0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
	0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
static const uint8_t guid_image_db[16] = { /* d719b2cb-3d3a-4596-a3bc-... */
	0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
	0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};
static const uint8_t guid_cert_pkcs7[16] = { /* 4aafd29d-68df-49ee-... */
	0x9d, 0xd2, 0xaf, 0x4a, 0xdf, 0x68, 0xee, 0x49,
	0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7};
static const uint8_t guid_cert_x509[16] = { /* a5c059a1-94e4-4aa7-... */
	0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
	0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72};
static const uint8_t guid_cert_sha256[16] = { /* c1c41626-504c-4092-... */
	0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
	0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28};
/* SignatureOwner of every entry bulwark writes: "bulwark" in a GUID
 * (b0c7a3c1-0b3a-4e6f-9b1d-62756c776172). */
static const uint8_t guid_owner[16] = {
	0xc1, 0xa3, 0xc7, 0xb0, 0x3a, 0x0b, 0x6f, 0x4e,
	0x9b, 0x1d, 0x62, 0x75, 0x6c, 0x77, 0x61, 0x72};

static int put_le(struct bw_buf *b, uint64_t v, int n)
{
	uint8_t x[8];

	for (int i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	return bw_buf_append(b, x, (size_t)n);
}

/* EFI_SIGNATURE_LIST with n entries of size bytes each (owner GUID +
 * data); data(i) fills entry i. */
static int sig_list_cert(struct bw_buf *b, X509 *cert)
{
	uint8_t *der = NULL;
	int len = i2d_X509(cert, &der), rc;

	if (len <= 0)
		return BW_ECRYPTO;
	rc = bw_buf_append(b, guid_cert_x509, 16) ||
	     put_le(b, 28 + 16 + (uint64_t)len, 4) || put_le(b, 0, 4) ||
	     put_le(b, 16 + (uint64_t)len, 4) ||
	     bw_buf_append(b, guid_owner, 16) ||
	     bw_buf_append(b, der, (size_t)len);
	OPENSSL_free(der);
	return rc ? BW_ENOMEM : 0;
}

static int sig_list_hashes(struct bw_buf *b, const uint8_t (*h)[32], size_t n)
{
	int rc = bw_buf_append(b, guid_cert_sha256, 16) ||
		 put_le(b, 28 + n * 48, 4) || put_le(b, 0, 4) ||
		 put_le(b, 48, 4);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = bw_buf_append(b, guid_owner, 16) ||
		     bw_buf_append(b, h[i], 32);
	return rc ? BW_ENOMEM : 0;
}

static void efi_time(int64_t t, uint8_t out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;

	memset(out, 0, 16);
	gmtime_r(&tt, &tm);
	out[0] = (uint8_t)(tm.tm_year + 1900);
	out[1] = (uint8_t)((tm.tm_year + 1900) >> 8);
	out[2] = (uint8_t)(tm.tm_mon + 1);
	out[3] = (uint8_t)tm.tm_mday;
	out[4] = (uint8_t)tm.tm_hour;
	out[5] = (uint8_t)tm.tm_min;
	out[6] = (uint8_t)tm.tm_sec;
}

/* Detached SignedData (no signed attributes, as the firmware expects)
 * over msg; DER of the SignedData alone, without a ContentInfo. */
static int sign_detached(const uint8_t *msg, size_t len, EVP_PKEY *key,
			 X509 *cert, uint8_t **der, int *derlen)
{
	BIO *in = BIO_new_mem_buf(msg, (int)len);
	PKCS7 *p7 = NULL;
	int rc = BW_ECRYPTO;

	*der = NULL;
	if (in != NULL && len < INT32_MAX) {
		p7 = PKCS7_sign(NULL, NULL, NULL, in,
				PKCS7_BINARY | PKCS7_DETACHED | PKCS7_NOATTR |
				PKCS7_PARTIAL);
		if (p7 != NULL &&
		    PKCS7_sign_add_signer(p7, cert, key, EVP_sha256(),
					  PKCS7_BINARY | PKCS7_NOATTR) != NULL &&
		    PKCS7_final(p7, in, PKCS7_BINARY | PKCS7_DETACHED |
					    PKCS7_NOATTR) == 1 &&
		    (*derlen = i2d_PKCS7_SIGNED(p7->d.sign, der)) > 0)
			rc = 0;
	}
	PKCS7_free(p7);
	BIO_free(in);
	return rc;
}

static const uint8_t *var_guid(const char *var)
{
	if (strcmp(var, "PK") == 0 || strcmp(var, "KEK") == 0)
		return guid_global;
	if (strcmp(var, "db") == 0 || strcmp(var, "dbx") == 0)
		return guid_image_db;
	return NULL;
}

int bw_boot_uefi_auth(const char *var, X509 *const *certs, size_t ncerts,
		      const uint8_t (*hashes)[32], size_t nhashes,
		      int64_t time_utc, EVP_PKEY *key, X509 *cert,
		      uint8_t **out, size_t *outlen, struct bw_err *err)
{
	const uint8_t *guid = var_guid(var);
	struct bw_buf data, msg, res;
	uint8_t ts[16], *der = NULL;
	int derlen = 0, rc = 0;

	*out = NULL;
	if (guid == NULL)
		return bw_err_set(err, BW_EINVAL, "UEFI variable %s: not PK, "
				  "KEK, db or dbx", var);
	if (ncerts + nhashes == 0 || ncerts > MAX_ENTRIES ||
	    nhashes > MAX_ENTRIES)
		return bw_err_set(err, BW_EINVAL, "an update of %s needs 1 to "
				  "%d entries", var, MAX_ENTRIES);
	bw_buf_init(&data, 64u << 20);
	bw_buf_init(&msg, 64u << 20);
	bw_buf_init(&res, 64u << 20);
	for (size_t i = 0; rc == 0 && i < ncerts; i++)
		rc = sig_list_cert(&data, certs[i]);
	if (rc == 0 && nhashes > 0)
		rc = sig_list_hashes(&data, hashes, nhashes);
	efi_time(time_utc, ts);
	/* Signed: VariableName (UCS-2, no NUL) || VendorGuid || Attributes
	 * || TimeStamp || Data. */
	for (const char *c = var; rc == 0 && *c; c++)
		rc = put_le(&msg, (uint8_t)*c, 2);
	if (rc == 0)
		rc = bw_buf_append(&msg, guid, 16) ||
		     put_le(&msg, ATTR_NV_BS_RT_TIME, 4) ||
		     bw_buf_append(&msg, ts, 16) ||
		     bw_buf_append(&msg, data.data, data.len);
	if (rc == 0)
		rc = sign_detached(msg.data, msg.len, key, cert, &der, &derlen);
	/* EFI_VARIABLE_AUTHENTICATION_2: TimeStamp, WIN_CERTIFICATE_UEFI_GUID
	 * (dwLength, wRevision, wCertificateType, CertType, CertData), then
	 * the new content. */
	if (rc == 0)
		rc = bw_buf_append(&res, ts, 16) ||
		     put_le(&res, 24 + (uint64_t)derlen, 4) ||
		     put_le(&res, 0x0200, 2) ||
		     put_le(&res, WIN_CERT_TYPE_EFI_GUID, 2) ||
		     bw_buf_append(&res, guid_cert_pkcs7, 16) ||
		     bw_buf_append(&res, der, (size_t)derlen) ||
		     bw_buf_append(&res, data.data, data.len);
	if (rc == 0) {
		*out = res.data;
		*outlen = res.len;
		res.data = NULL; /* transferred */
	} else {
		bw_err_set(err, rc == BW_ECRYPTO ? BW_ECRYPTO : BW_ENOMEM,
			   "signing the %s update failed", var);
		rc = rc == BW_ECRYPTO ? BW_ECRYPTO : BW_ENOMEM;
	}
	OPENSSL_free(der);
	bw_buf_dispose(&data);
	bw_buf_dispose(&msg);
	bw_buf_dispose(&res);
	return rc;
}
