/*
 * Authenticode signatures on PE/COFF images, as UEFI firmware verifies
 * them against db/dbx and as sbsign makes them.
 *
 * OpenSSL builds and signs the PKCS#7 SignedData. What no library on
 * Debian offers is the Authenticode part around it: the PE image digest
 * (which skips the checksum and the certificate table entry) and the
 * SpcIndirectDataContent that carries it. sbsigntool has both but only as
 * programs, not a library; reading through a program would put the private
 * key in a file, which a PKCS#11 token key can not be. So the PE parsing
 * here is the least the digest needs: the headers' offsets, the section
 * table, the certificate table entry. Everything is bounds-checked: the
 * image is untrusted input.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "bulwark/boot.h"
#include "bulwark/hash.h"

#define SPC_INDIRECT_DATA_OBJID "1.3.6.1.4.1.311.2.1.4"
#define MAX_SECTIONS 96 /* the PE format's limit */
#define WIN_CERT_REVISION_2_0 0x0200
#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002

struct pe {
	size_t checksum;   /* offset of OptionalHeader.CheckSum */
	size_t certdir;    /* offset of the certificate table directory entry */
	size_t headers;    /* SizeOfHeaders */
	size_t sections;   /* offset of the section table */
	size_t nsections;
	uint32_t cert_off, cert_size;
};

static uint32_t le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | le16(p + 2) << 16;
}

static void put_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v);
	put_le16(p + 2, v >> 16);
}

/* Microsoft PE/COFF specification: MS-DOS stub, signature, COFF file
 * header, optional header (PE32 or PE32+), section table. */
static int pe_parse(const uint8_t *d, size_t len, struct pe *pe,
		    struct bw_err *err)
{
	size_t off, opt, optsize, dd, nrva;
	uint32_t magic;

	if (len < 0x40 || d[0] != 'M' || d[1] != 'Z')
		return bw_err_set(err, BW_EFORMAT, "not a PE image (no MZ header)");
	off = le32(d + 0x3c);
	if (off > len - 24 || memcmp(d + off, "PE\0\0", 4) != 0)
		return bw_err_set(err, BW_EFORMAT, "not a PE image (no PE "
				  "signature)");
	pe->nsections = le16(d + off + 6);
	optsize = le16(d + off + 20);
	opt = off + 24;
	if (optsize < 2 || optsize > len - opt || pe->nsections > MAX_SECTIONS)
		return bw_err_set(err, BW_EFORMAT, "PE optional header truncated");
	magic = le16(d + opt);
	if (magic == 0x10b) { /* PE32 */
		nrva = opt + 92;
		dd = opt + 96;
	} else if (magic == 0x20b) { /* PE32+ */
		nrva = opt + 108;
		dd = opt + 112;
	} else {
		return bw_err_set(err, BW_EFORMAT, "PE optional header magic "
				  "0x%x unknown", (unsigned)magic);
	}
	if (dd + 5 * 8 > opt + optsize || le32(d + nrva) < 5)
		return bw_err_set(err, BW_EFORMAT, "PE image has no certificate "
				  "table entry");
	pe->checksum = opt + 64;
	pe->certdir = dd + 4 * 8;
	pe->headers = le32(d + opt + 60);
	pe->sections = opt + optsize;
	pe->cert_off = le32(d + pe->certdir);
	pe->cert_size = le32(d + pe->certdir + 4);
	if (pe->headers < pe->certdir + 8 || pe->headers > len ||
	    pe->nsections * 40 > len - pe->sections ||
	    pe->sections + pe->nsections * 40 > pe->headers)
		return bw_err_set(err, BW_EFORMAT, "PE headers out of bounds");
	if (pe->cert_size != 0 &&
	    ((size_t)pe->cert_off > len || pe->cert_size != len - pe->cert_off))
		return bw_err_set(err, BW_EFORMAT, "PE certificate table is not "
				  "at the end of the image");
	return 0;
}

static int cmp_raw_ptr(const void *a, const void *b)
{
	uint32_t x = le32((const uint8_t *)a + 20), y = le32((const uint8_t *)b + 20);

	return x < y ? -1 : x > y;
}

static int hash_range(struct bw_hash *h, const uint8_t *d, size_t from,
		      size_t to)
{
	return to > from ? bw_hash_update(h, d + from, to - from) : 0;
}

/* Authenticode PE format, "Calculating the PE Image Hash", steps 1-15. */
static int pe_digest(const uint8_t *d, size_t len, const struct pe *pe,
		     uint8_t digest[32], struct bw_err *err)
{
	uint8_t *sec = NULL;
	struct bw_hash *h = NULL;
	size_t sum = pe->headers, end = len - pe->cert_size;
	int rc = bw_hash_new(BW_HASH_SHA256, &h);

	if (rc == 0 && (sec = malloc(pe->nsections * 40 + 1)) == NULL)
		rc = BW_ENOMEM;
	if (rc == 0)
		rc = hash_range(h, d, 0, pe->checksum) ||
		     hash_range(h, d, pe->checksum + 4, pe->certdir) ||
		     hash_range(h, d, pe->certdir + 8, pe->headers);
	if (rc == 0) {
		memcpy(sec, d + pe->sections, pe->nsections * 40);
		qsort(sec, pe->nsections, 40, cmp_raw_ptr);
	}
	for (size_t i = 0; rc == 0 && i < pe->nsections; i++) {
		size_t ptr = le32(sec + i * 40 + 20), size = le32(sec + i * 40 + 16);

		if (size == 0)
			continue;
		if (ptr > end || size > end - ptr || ptr < pe->headers)
			rc = bw_err_set(err, BW_EFORMAT, "PE section %zu out of "
					"bounds", i);
		else
			rc = hash_range(h, d, ptr, ptr + size);
		sum += size;
	}
	/* Data after the sections, up to the certificate table. */
	if (rc == 0 && sum < end)
		rc = hash_range(h, d, sum, end);
	if (rc == 0)
		rc = bw_hash_final(h, digest);
	if (rc != 0 && err != NULL && err->msg[0] == '\0')
		bw_err_set(err, rc, "PE digest failed");
	bw_hash_free(h);
	free(sec);
	return rc;
}

int bw_boot_pe_digest(const uint8_t *pe_bytes, size_t len, uint8_t digest[32],
		      struct bw_err *err)
{
	struct pe pe;
	int rc = pe_parse(pe_bytes, len, &pe, err);

	return rc != 0 ? rc : pe_digest(pe_bytes, len, &pe, digest, err);
}

/*
 * SpcIndirectDataContent for a SHA-256 image digest, DER:
 *   SEQUENCE {
 *     SEQUENCE { OID 1.3.6.1.4.1.311.2.1.15 (SPC_PE_IMAGE_DATA),
 *       SpcPeImageData SEQUENCE { flags BIT STRING {},
 *         file [0] { SpcLink [2] { SpcString [0] "<<<Obsolete>>>" } } } }
 *     DigestInfo SEQUENCE { SEQUENCE { OID sha256, NULL }, OCTET STRING } }
 * The lengths are fixed for SHA-256, so a template is clearer than code.
 */
static const uint8_t idc_head[] = {
	0x30, 0x68,
	0x30, 0x33, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02,
	0x01, 0x0f, 0x30, 0x25, 0x03, 0x01, 0x00, 0xa0, 0x20, 0xa2, 0x1e, 0x80,
	0x1c, 0x00, '<', 0x00, '<', 0x00, '<', 0x00, 'O', 0x00, 'b', 0x00, 's',
	0x00, 'o', 0x00, 'l', 0x00, 'e', 0x00, 't', 0x00, 'e', 0x00, '>', 0x00,
	'>', 0x00, '>',
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
	0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};
#define IDC_LEN (sizeof(idc_head) + 32)

/* SignedData over the SpcIndirectDataContent; DER in *der. */
static int make_pkcs7(const uint8_t idc[IDC_LEN], EVP_PKEY *key, X509 *cert,
		      uint8_t **der, int *derlen, struct bw_err *err)
{
	PKCS7 *p7 = PKCS7_new(), *td = PKCS7_new();
	PKCS7_SIGNER_INFO *si = NULL;
	ASN1_STRING *seq = ASN1_STRING_new();
	BIO *bio = NULL;
	int rc = BW_ECRYPTO;

	*der = NULL;
	if (p7 == NULL || td == NULL || seq == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) ||
	    (si = PKCS7_add_signature(p7, cert, key, EVP_sha256())) == NULL ||
	    !PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
					OBJ_txt2obj(SPC_INDIRECT_DATA_OBJID, 1)) ||
	    !PKCS7_add_certificate(p7, cert) ||
	    (bio = PKCS7_dataInit(p7, NULL)) == NULL)
		goto out;
	/* The messageDigest covers the content octets, not the SEQUENCE
	 * header (Authenticode PE format, "signedData"). */
	if (BIO_write(bio, idc + 2, (int)IDC_LEN - 2) != (int)IDC_LEN - 2 ||
	    !PKCS7_dataFinal(p7, bio))
		goto out;
	/* Now carry the SpcIndirectDataContent itself as the content. */
	td->type = OBJ_txt2obj(SPC_INDIRECT_DATA_OBJID, 1);
	td->d.other = ASN1_TYPE_new();
	if (td->type == NULL || td->d.other == NULL ||
	    !ASN1_STRING_set(seq, idc, (int)IDC_LEN))
		goto out;
	ASN1_TYPE_set(td->d.other, V_ASN1_SEQUENCE, seq);
	seq = NULL; /* transferred */
	if (!PKCS7_set_content(p7, td))
		goto out;
	td = NULL; /* transferred */
	if ((*derlen = i2d_PKCS7(p7, der)) > 0)
		rc = 0;
out:
	if (rc != 0)
		bw_err_set(err, rc, "PKCS#7 signing failed (key and certificate "
			   "do not match?)");
	BIO_free_all(bio);
	ASN1_STRING_free(seq);
	PKCS7_free(td);
	PKCS7_free(p7);
	return rc;
}

int bw_boot_pe_sign(const uint8_t *in, size_t len, EVP_PKEY *key, X509 *cert,
		    uint8_t **out, size_t *outlen, struct bw_err *err)
{
	uint8_t idc[IDC_LEN], *img = NULL, *der = NULL;
	size_t padded = (len + 7) & ~(size_t)7, total, wlen;
	struct pe pe;
	int derlen = 0, rc;

	*out = NULL;
	if (len > BW_BOOT_PE_MAX)
		return bw_err_set(err, BW_ETOOBIG, "PE image larger than %u bytes",
				  BW_BOOT_PE_MAX);
	if ((rc = pe_parse(in, len, &pe, err)) != 0)
		return rc;
	if (pe.cert_size != 0)
		return bw_err_set(err, BW_EEXIST, "the image is already signed");
	/* The certificate table starts 8-byte aligned; the padding is part
	 * of the signed data, as sbsign and the firmware count it. */
	if ((img = calloc(1, padded)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	memcpy(img, in, len);
	memcpy(idc, idc_head, sizeof(idc_head));
	rc = pe_digest(img, padded, &pe, idc + sizeof(idc_head), err);
	if (rc == 0)
		rc = make_pkcs7(idc, key, cert, &der, &derlen, err);
	if (rc != 0)
		goto out;
	wlen = (8 + (size_t)derlen + 7) & ~(size_t)7;
	total = padded + wlen;
	if (total > UINT32_MAX || (*out = calloc(1, total)) == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, img, padded);
	put_le32(*out + padded, (uint32_t)wlen);        /* dwLength */
	put_le16(*out + padded + 4, WIN_CERT_REVISION_2_0);
	put_le16(*out + padded + 6, WIN_CERT_TYPE_PKCS_SIGNED_DATA);
	memcpy(*out + padded + 8, der, (size_t)derlen);
	put_le32(*out + pe.certdir, (uint32_t)padded);
	put_le32(*out + pe.certdir + 4, (uint32_t)wlen);
	*outlen = total;
out:
	OPENSSL_free(der);
	free(img);
	return rc;
}

/* The SHA-256 DigestInfo at the end of an SpcIndirectDataContent. */
static const uint8_t digest_info_sha256[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
	0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

/* The SpcIndirectDataContent DER of a parsed SignedData, or NULL. */
static const ASN1_STRING *indirect_data(PKCS7 *p7)
{
	PKCS7 *c;

	if (!PKCS7_type_is_signed(p7) || (c = p7->d.sign->contents) == NULL ||
	    c->type == NULL || c->d.other == NULL ||
	    c->d.other->type != V_ASN1_SEQUENCE)
		return NULL;
	return c->d.other->value.sequence;
}

static int spc_oid_ok(PKCS7 *p7)
{
	char oid[64];

	return OBJ_obj2txt(oid, sizeof(oid), p7->d.sign->contents->type, 1) > 0 &&
	       strcmp(oid, SPC_INDIRECT_DATA_OBJID) == 0;
}

/* PKCS#7 signature over the content octets, signer certificate one of db. */
static int check_signer(PKCS7 *p7, const uint8_t *idc, size_t idc_len,
			X509 *const *db, size_t ndb)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	size_t hdr = idc[1] & 0x80 ? 2 + (size_t)(idc[1] & 0x7f) : 2;
	BIO *in = NULL;
	int ok = 0;

	if (store == NULL || certs == NULL || hdr >= idc_len)
		goto out;
	for (size_t i = 0; i < ndb; i++)
		if (!X509_STORE_add_cert(store, db[i]) ||
		    !sk_X509_push(certs, db[i]))
			goto out;
	/* db entries are trust anchors, whatever their key usage says. */
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN |
				    X509_V_FLAG_NO_CHECK_TIME);
	/* The messageDigest covers the content octets (see make_pkcs7);
	 * NOINTERN: the signer must be one of db, not a certificate the
	 * signature carries. */
	in = BIO_new_mem_buf(idc + hdr, (int)(idc_len - hdr));
	ok = in != NULL &&
	     PKCS7_verify(p7, certs, store, in, NULL,
			  PKCS7_BINARY | PKCS7_NOINTERN) == 1;
out:
	BIO_free(in);
	sk_X509_free(certs);
	X509_STORE_free(store);
	return ok;
}

int bw_boot_pe_verify(const uint8_t *pe_bytes, size_t len, X509 *const *db,
		      size_t ndb, struct bw_err *err)
{
	const uint8_t *p;
	const ASN1_STRING *idc;
	uint8_t digest[32];
	PKCS7 *p7 = NULL;
	struct pe pe;
	uint32_t wlen;
	int rc = pe_parse(pe_bytes, len, &pe, err);

	if (rc != 0)
		return rc;
	if (pe.cert_size == 0)
		return bw_err_set(err, BW_ESIG, "the image is not signed");
	wlen = le32(pe_bytes + pe.cert_off);
	if (pe.cert_size < 8 || wlen < 8 || wlen > pe.cert_size ||
	    le16(pe_bytes + pe.cert_off + 4) != WIN_CERT_REVISION_2_0 ||
	    le16(pe_bytes + pe.cert_off + 6) != WIN_CERT_TYPE_PKCS_SIGNED_DATA)
		return bw_err_set(err, BW_EFORMAT, "unknown attribute "
				  "certificate in the image");
	rc = pe_digest(pe_bytes, len, &pe, digest, err);
	if (rc != 0)
		return rc;
	p = pe_bytes + pe.cert_off + 8;
	rc = BW_ESIG;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)wlen - 8)) == NULL ||
	    (idc = indirect_data(p7)) == NULL || !spc_oid_ok(p7) ||
	    idc->length < (int)sizeof(digest_info_sha256) + 32 ||
	    memcmp(idc->data + idc->length - 32 - sizeof(digest_info_sha256),
		   digest_info_sha256, sizeof(digest_info_sha256)) != 0)
		bw_err_set(err, rc, "the image's signature is not a SHA-256 "
			   "Authenticode signature");
	else if (CRYPTO_memcmp(idc->data + idc->length - 32, digest, 32) != 0)
		bw_err_set(err, rc, "the image was altered after signing");
	else if (!check_signer(p7, idc->data, (size_t)idc->length, db, ndb))
		bw_err_set(err, rc, "the image is signed by a key that is not "
			   "in db");
	else
		rc = 0;
	PKCS7_free(p7);
	return rc;
}
