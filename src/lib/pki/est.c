/*
 * EST wire pieces (include/bulwark/est.h): base64 bodies, certs-only
 * PKCS#7, the re-enrolment CSR rule, csrattrs and request paths.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "bulwark/est.h"
#include "bulwark/pki.h"

static int b64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int b64_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Strip white space and check the alphabet and the padding by hand: the
 * OpenSSL decoders either refuse inner white space (EVP_DecodeBlock) or
 * skip characters silently (EVP_DecodeUpdate). The decoding itself is
 * OpenSSL's.
 */
static int b64_compact(const uint8_t *in, size_t len, uint8_t *out,
		       size_t *n, size_t *pad, struct bw_err *err)
{
	*n = 0;
	*pad = 0;
	for (size_t i = 0; i < len; i++) {
		if (b64_space(in[i]))
			continue;
		if (in[i] == '=') {
			(*pad)++;
		} else if (!b64_char(in[i]) || *pad > 0) {
			return bw_err_set(err, BW_EFORMAT,
					  "body: not base64 (character %zu)",
					  i);
		}
		out[(*n)++] = in[i];
	}
	if (*n == 0)
		return bw_err_set(err, BW_EFORMAT, "body is empty");
	if (*n % 4 != 0 || *pad > 2)
		return bw_err_set(err, BW_EFORMAT, "body: base64 length");
	return 0;
}

int bw_est_body_decode(const uint8_t *body, size_t len, const char *cte,
		       uint8_t **out, size_t *out_len, struct bw_err *err)
{
	uint8_t *txt = NULL, *bin = NULL;
	size_t n = 0, pad = 0;
	int rc = 0, got = 0;

	*out = NULL;
	*out_len = 0;
	/* RFC 7030 errata 5107 / RFC 8951 3.2.2: the header is not needed;
	 * when present it can only describe base64 */
	if (cte != NULL && strcasecmp(cte, "base64") != 0)
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "Content-Transfer-Encoding is not base64");
	if (len > BW_EST_BODY_MAX)
		return bw_err_set(err, BW_ETOOBIG, "body larger than %u bytes",
				  BW_EST_BODY_MAX);
	if (body == NULL || len == 0)
		return bw_err_set(err, BW_EFORMAT, "body is empty");
	if ((txt = malloc(len + 1)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if ((rc = b64_compact(body, len, txt, &n, &pad, err)) != 0)
		goto out;
	if ((bin = malloc(n / 4 * 3 + 1)) == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	got = EVP_DecodeBlock(bin, txt, (int)n);
	if (got < 0 || (size_t)got < pad) {
		rc = bw_err_set(err, BW_EFORMAT, "body: bad base64");
		goto out;
	}
	*out_len = (size_t)got - pad; /* DecodeBlock counts padding as 0s */
	*out = bin;
	bin = NULL; /* transferred */
out:
	free(txt);
	free(bin);
	return rc;
}

int bw_est_csr_parse(const uint8_t *body, size_t len, const char *cte,
		     X509_REQ **out, struct bw_err *err)
{
	uint8_t *der = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((rc = bw_est_body_decode(body, len, cte, &der, &n, err)) != 0)
		return rc;
	/* DER inside the base64, never PEM (RFC 7030 4.2.1) */
	if (n > 0 && der[0] != 0x30)
		rc = bw_err_set(err, BW_EFORMAT, "CSR: not DER");
	else
		rc = bw_pki_csr_parse(der, n, out, err);
	free(der);
	return rc;
}

static int san_der(const void *obj, int is_req, uint8_t **der, int *len)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	int i = -1, rc = 0;

	*der = NULL;
	*len = 0;
	if (is_req) {
		exts = X509_REQ_get_extensions((X509_REQ *)obj);
		i = exts ? X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1)
			 : -1;
		ext = i >= 0 ? X509v3_get_ext(exts, i) : NULL;
	} else {
		i = X509_get_ext_by_NID((const X509 *)obj, NID_subject_alt_name,
					-1);
		ext = i >= 0 ? X509_get_ext((const X509 *)obj, i) : NULL;
	}
	if (ext != NULL) {
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);

		*len = ASN1_STRING_length(v);
		*der = OPENSSL_memdup(ASN1_STRING_get0_data(v), (size_t)*len);
		rc = *der ? 0 : -1;
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

int bw_est_reenroll_check(X509_REQ *req, X509 *current, struct bw_err *err)
{
	uint8_t *a = NULL, *b = NULL;
	int alen = 0, blen = 0, rc = BW_EFORMAT;
	EVP_PKEY *newkey = X509_REQ_get0_pubkey(req);

	if (newkey == NULL) {
		bw_err_set(err, rc, "CSR without a public key");
		goto out;
	}
	/* RFC 7030 4.2.2: Subject and SubjectAltName identical */
	if (X509_NAME_cmp(X509_REQ_get_subject_name(req),
			  X509_get_subject_name(current)) != 0) {
		bw_err_set(err, rc, "CSR subject is not the certificate's");
		goto out;
	}
	if (san_der(req, 1, &a, &alen) != 0 ||
	    san_der(current, 0, &b, &blen) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (alen != blen || (alen > 0 && memcmp(a, b, (size_t)alen) != 0)) {
		bw_err_set(err, rc, "CSR subjectAltName is not the "
				    "certificate's");
		goto out;
	}
	/* rekey, never renew with the same key: a key that may have leaked
	 * must not live on under a new certificate */
	if (EVP_PKEY_eq(newkey, X509_get0_pubkey(current)) == 1) {
		rc = bw_err_set(err, BW_EEXIST, "CSR reuses the current key");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_free(a);
	OPENSSL_free(b);
	ERR_clear_error();
	return rc;
}

/* base64 with 64-character lines, as PEM bodies: line-oriented decoders
 * (BIO_f_base64) read it, and so does everything that skips white space */
static int b64_lines(const uint8_t *der, size_t n, char **out,
		     size_t *out_len, struct bw_err *err)
{
	size_t chunks = (n + 47) / 48, cap = chunks * 65 + 1, pos = 0;
	char *s = NULL;

	if (n > BW_EST_BODY_MAX * 64u || (s = malloc(cap)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t off = 0; off < n; off += 48) {
		size_t k = n - off < 48 ? n - off : 48;

		pos += (size_t)EVP_EncodeBlock((unsigned char *)s + pos,
					       der + off, (int)k);
		s[pos++] = '\n';
	}
	s[pos] = '\0';
	*out = s;
	*out_len = pos;
	return 0;
}

int bw_est_certs_build(X509 *const *certs, size_t n, char **out,
		       size_t *out_len, struct bw_err *err)
{
	PKCS7 *p7 = NULL;
	uint8_t *der = NULL;
	int len = 0, rc = BW_ECRYPTO;

	*out = NULL;
	*out_len = 0;
	if (n == 0)
		return bw_err_set(err, BW_EINVAL, "no certificate");
	p7 = PKCS7_new();
	/* RFC 5652 5.1 degenerate SignedData: version 1, data content
	 * without eContent, no signers */
	if (p7 == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    PKCS7_content_new(p7, NID_pkcs7_data) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (PKCS7_add_certificate(p7, certs[i]) != 1)
			goto out;
	if ((len = i2d_PKCS7(p7, &der)) <= 0)
		goto out;
	rc = b64_lines(der, (size_t)len, out, out_len, err);
out:
	if (rc == BW_ECRYPTO)
		bw_err_set(err, rc, "building the PKCS#7 failed");
	OPENSSL_free(der);
	PKCS7_free(p7);
	ERR_clear_error();
	return rc;
}

int bw_est_certs_parse(const uint8_t *body, size_t len, STACK_OF(X509) **out,
		       struct bw_err *err)
{
	uint8_t *der = NULL;
	const unsigned char *p = NULL;
	size_t n = 0;
	PKCS7 *p7 = NULL;
	STACK_OF(X509) *certs = NULL;
	int rc;

	*out = NULL;
	if ((rc = bw_est_body_decode(body, len, NULL, &der, &n, err)) != 0)
		return rc;
	rc = BW_EFORMAT;
	p = der;
	p7 = d2i_PKCS7(NULL, &p, (long)n);
	if (p7 == NULL || p != der + n) {
		bw_err_set(err, rc, "not one DER PKCS#7");
		goto out;
	}
	if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
	    sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info) != 0) {
		bw_err_set(err, rc, "PKCS#7 is not certs-only");
		goto out;
	}
	certs = p7->d.sign->cert;
	if (certs == NULL || sk_X509_num(certs) < 1) {
		bw_err_set(err, rc, "PKCS#7 holds no certificate");
		goto out;
	}
	if ((*out = X509_chain_up_ref(certs)) == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	PKCS7_free(p7);
	free(der);
	ERR_clear_error();
	return rc;
}

/*
 * CsrAttrs ::= SEQUENCE OF AttrOrOID (RFC 7030 4.5.2):
 *   SEQUENCE {
 *     OID ecdsa-with-SHA256 (1.2.840.10045.4.3.2)
 *     SEQUENCE { OID id-ecPublicKey (1.2.840.10045.2.1)
 *                SET { OID prime256v1 (1.2.840.10045.3.1.7) } } }
 * A constant: what we ask of a CSR never changes at run time. The
 * integration test reads it back with `openssl asn1parse`.
 */
static const uint8_t csrattrs_der[] = {
    0x30, 0x21, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    0x30, 0x15, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x31,
    0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
};

int bw_est_csrattrs(char **out, size_t *out_len, struct bw_err *err)
{
	return b64_lines(csrattrs_der, sizeof(csrattrs_der), out, out_len,
			 err);
}

static const struct {
	const char *name;
	enum bw_est_op op;
} est_ops[] = {
    {"cacerts", BW_EST_CACERTS},
    {"simpleenroll", BW_EST_SIMPLEENROLL},
    {"simplereenroll", BW_EST_SIMPLEREENROLL},
    {"fullcmc", BW_EST_FULLCMC},
    {"serverkeygen", BW_EST_SERVERKEYGEN},
    {"csrattrs", BW_EST_CSRATTRS},
};

static int op_lookup(const char *s, size_t n, enum bw_est_op *op)
{
	for (size_t i = 0; i < sizeof(est_ops) / sizeof(est_ops[0]); i++)
		if (strlen(est_ops[i].name) == n &&
		    memcmp(est_ops[i].name, s, n) == 0) {
			*op = est_ops[i].op;
			return 0;
		}
	return BW_ENOTFOUND;
}

/* RFC 3986 unreserved characters: a label is one plain path segment */
static int label_ok(const char *s, size_t n)
{
	if (n == 0 || n > BW_EST_LABEL_MAX || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '~'))
			return 0;
	}
	return 1;
}

int bw_est_path_parse(const char *path, enum bw_est_op *op,
		      char label[BW_EST_LABEL_MAX + 1])
{
	static const char prefix[] = "/.well-known/est/";
	const char *rest = NULL, *slash = NULL;
	size_t n = 0;

	label[0] = '\0';
	if (path == NULL || strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return BW_ENOTFOUND;
	rest = path + sizeof(prefix) - 1;
	n = strnlen(rest, 2 * BW_EST_LABEL_MAX + 2);
	if (n > 2 * BW_EST_LABEL_MAX)
		return BW_EFORMAT;
	slash = memchr(rest, '/', n);
	if (slash == NULL)
		return op_lookup(rest, n, op);
	/* RFC 7030 3.2.2: /.well-known/est/<label>/<operation> */
	if (!label_ok(rest, (size_t)(slash - rest)))
		return BW_EFORMAT;
	if (memchr(slash + 1, '/', n - (size_t)(slash - rest) - 1) != NULL)
		return BW_ENOTFOUND;
	if (op_lookup(slash + 1, n - (size_t)(slash - rest) - 1, op) != 0)
		return BW_ENOTFOUND;
	memcpy(label, rest, (size_t)(slash - rest));
	label[slash - rest] = '\0';
	return 0;
}
