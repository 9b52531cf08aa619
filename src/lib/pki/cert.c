/*
 * Certificate profiles of the factory PKI (include/bulwark/pki.h): keys,
 * subjects, serials, extensions, validity, PEM encodings.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/identity.h"
#include "pki/pki_priv.h"

#define PKI_PEM_MAX (64u * 1024u)

int bw_pki__is_p256(EVP_PKEY *pkey)
{
	char group[64];
	size_t glen = 0;

	if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
		return 0;
	if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
					    group, sizeof(group), &glen))
		return 0;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* Strict UTF-8 without C0/C1 controls or DEL. */
static int utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n >= len)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += n + 1;
	}
	return 1;
}

int bw_pki__check_label(const char *what, const char *s, size_t max,
			struct bw_err *err)
{
	size_t len;

	if (s == NULL || s[0] == '\0')
		return bw_err_set(err, BW_EINVAL, "%s is empty", what);
	len = strlen(s);
	if (len > max)
		return bw_err_set(err, BW_EINVAL, "%s longer than %zu bytes",
				  what, max);
	if (!utf8_ok((const unsigned char *)s, len))
		return bw_err_set(err, BW_EINVAL,
				  "%s is not printable UTF-8", what);
	return 0;
}

int bw_pki__time_to_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return BW_EFORMAT;
	*out = timegm(&tm);
	return 0;
}

int bw_pki__check_issuer(X509 *ca, time_t now, const char *what,
			 struct bw_err *err)
{
	time_t nb, na;

	if (X509_check_ca(ca) == 0)
		return bw_err_set(err, BW_EINVAL, "%s is not a CA certificate",
				  what);
	if (bw_pki__time_to_t(X509_get0_notBefore(ca), &nb) != 0 ||
	    bw_pki__time_to_t(X509_get0_notAfter(ca), &na) != 0)
		return bw_err_set(err, BW_EFORMAT, "%s: unreadable validity",
				  what);
	if (now < nb)
		return bw_err_set(err, BW_EEXPIRED, "%s is not valid yet", what);
	if (now > na)
		return bw_err_set(err, BW_EEXPIRED, "%s has expired", what);
	return 0;
}

int bw_pki_key_generate(EVP_PKEY **out, struct bw_err *err)
{
	*out = EVP_EC_gen("P-256");
	if (*out == NULL)
		return bw_err_set(err, BW_ECRYPTO, "P-256 key generation failed");
	return 0;
}

/* CN, OU as UTF8Strings, in that order (device subjects add
 * businessCategory through bw_identity_subject_build). */
int bw_pki__name_build(const char *cn, const char *ou, X509_NAME **out,
		       struct bw_err *err)
{
	X509_NAME *n = X509_NAME_new();

	*out = NULL;
	if (n == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName,
					MBSTRING_UTF8,
					(const unsigned char *)ou, -1, -1, 0)) {
		X509_NAME_free(n);
		return bw_err_set(err, BW_EINVAL, "cannot encode subject name");
	}
	*out = n;
	return 0;
}

/* Random positive 128-bit serial (top bit set: always 16 bytes of value). */
static int serial_set(X509 *x, struct bw_err *err)
{
	BIGNUM *bn = BN_new();
	int rc = BW_ECRYPTO;

	if (bn == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		rc = bw_err_set(err, BW_ECRYPTO, "serial generation failed");
		goto out;
	}
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value,
		   struct bw_err *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return bw_err_set(err, BW_ECRYPTO, "cannot build extension %s",
				  OBJ_nid2sn(nid));
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok)
		return bw_err_set(err, BW_ECRYPTO, "cannot add extension %s",
				  OBJ_nid2sn(nid));
	return 0;
}

static int add_sans(X509 *x, const struct bw_pki_sans *sans,
		    struct bw_err *err)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gen = NULL;
	int rc = BW_ECRYPTO;

	if (gens == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < sans->ndns; i++) {
		ASN1_IA5STRING *ia5 = NULL;
		const char *d = sans->dns[i];

		for (const char *p = d; *p != '\0'; p++) {
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '.' && *p != '*') {
				rc = bw_err_set(err, BW_EINVAL,
						"bad DNS name '%.64s'", d);
				goto out;
			}
		}
		if (d[0] == '\0' || strlen(d) > 253) {
			rc = bw_err_set(err, BW_EINVAL, "bad DNS name length");
			goto out;
		}
		ia5 = ASN1_IA5STRING_new();
		if (ia5 == NULL || !ASN1_STRING_set(ia5, d, -1)) {
			ASN1_IA5STRING_free(ia5);
			goto out;
		}
		gen = GENERAL_NAME_new();
		if (gen == NULL) {
			ASN1_IA5STRING_free(ia5);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
		if (!sk_GENERAL_NAME_push(gens, gen))
			goto out;
		gen = NULL; /* transferred */
	}
	for (size_t i = 0; i < sans->nip; i++) {
		unsigned char addr[16];
		int is6 = strchr(sans->ip[i], ':') != NULL;

		if (inet_pton(is6 ? AF_INET6 : AF_INET, sans->ip[i], addr) != 1) {
			rc = bw_err_set(err, BW_EINVAL, "bad IP address '%.64s'",
					sans->ip[i]);
			goto out;
		}
		gen = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD,
				       sans->ip[i], 0);
		if (gen == NULL)
			goto out;
		if (!sk_GENERAL_NAME_push(gens, gen))
			goto out;
		gen = NULL; /* transferred */
	}
	if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
			   X509V3_ADD_REPLACE)) {
		rc = bw_err_set(err, BW_ECRYPTO, "cannot add subjectAltName");
		goto out;
	}
	rc = 0;
out:
	if (rc == BW_ECRYPTO && err != NULL && err->msg[0] == '\0')
		bw_err_set(err, rc, "cannot build subjectAltName");
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* One extension spec: nid and its v3 config value. */
struct ext_spec {
	int nid;
	const char *value;
};

/*
 * The subject key: the request's SubjectPublicKeyInfo copied as it is
 * (spki, a named-curve EC key), or encoded from pub. OpenSSL 3.0 encodes
 * an EVP_PKEY through its encoder and decoder framework, a quarter of a
 * registration's CPU time; the copy is the same DER without that.
 */
static int pubkey_set(X509 *x, EVP_PKEY *pub, const X509_PUBKEY *spki)
{
	ASN1_OBJECT *alg = NULL, *curve = NULL;
	const unsigned char *pk = NULL;
	const void *pval = NULL;
	X509_ALGOR *a = NULL;
	unsigned char *penc = NULL;
	int pklen = 0, ptype = 0;

	if (spki == NULL ||
	    !X509_PUBKEY_get0_param(&alg, &pk, &pklen, &a, spki) || pklen <= 0)
		return X509_set_pubkey(x, pub);
	X509_ALGOR_get0((const ASN1_OBJECT **)&alg, &ptype, &pval, a);
	if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey ||
	    ptype != V_ASN1_OBJECT)
		return X509_set_pubkey(x, pub);
	if ((curve = OBJ_dup(pval)) == NULL ||
	    (penc = OPENSSL_memdup(pk, (size_t)pklen)) == NULL ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),
				    OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
				    V_ASN1_OBJECT, curve, penc, pklen)) {
		ASN1_OBJECT_free(curve);
		OPENSSL_free(penc);
		return 0;
	}
	return 1;
}

/*
 * Common skeleton: v3, serial, subject, issuer, validity [nb, na], key
 * (spki, if not NULL, is pub's encoding), SKI / AKI, profile extensions,
 * optional SANs, signature.
 */
static int cert_build(X509_NAME *subject, EVP_PKEY *pub,
		      const X509_PUBKEY *spki, X509 *issuer,
		      EVP_PKEY *issuer_key, time_t nb, time_t na,
		      const struct ext_spec *exts, size_t nexts,
		      const struct bw_pki_sans *sans, X509 **out,
		      struct bw_err *err)
{
	X509 *x = X509_new();
	int rc = BW_ECRYPTO;

	*out = NULL;
	if (x == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!bw_pki__is_p256(pub)) {
		rc = bw_err_set(err, BW_EUNSUPPORTED,
				"subject key is not ECDSA P-256");
		goto out;
	}
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(
		x, issuer != NULL ? X509_get_subject_name(issuer) : subject) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), nb) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), na) == NULL ||
	    !pubkey_set(x, pub, spki)) {
		rc = bw_err_set(err, BW_ECRYPTO, "cannot fill certificate");
		goto out;
	}
	rc = serial_set(x, err);
	if (rc != 0)
		goto out;
	rc = add_ext(x, issuer, NID_subject_key_identifier, "hash", err);
	if (rc == 0)
		rc = add_ext(x, issuer, NID_authority_key_identifier,
			     "keyid:always", err);
	for (size_t i = 0; rc == 0 && i < nexts; i++)
		rc = add_ext(x, issuer, exts[i].nid, exts[i].value, err);
	if (rc == 0 && sans != NULL)
		rc = add_sans(x, sans, err);
	if (rc != 0)
		goto out;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) {
		rc = bw_err_set(err, BW_ECRYPTO, "certificate signing failed");
		goto out;
	}
	*out = x;
	x = NULL; /* transferred */
	rc = 0;
out:
	X509_free(x);
	return rc;
}

/* notAfter = now + days, clamped to the issuer's notAfter. */
static time_t not_after(X509 *issuer, time_t now, long days)
{
	time_t na = now + (time_t)days * BW_PKI_DAY, ca_na;

	if (issuer != NULL &&
	    bw_pki__time_to_t(X509_get0_notAfter(issuer), &ca_na) == 0 &&
	    ca_na < na)
		na = ca_na;
	return na;
}

int bw_pki_factory_ca_create(EVP_PKEY *key, const char *factory, time_t now,
			     X509 **out, struct bw_err *err)
{
	static const struct ext_spec exts[] = {
		{NID_basic_constraints, "critical,CA:TRUE"},
		{NID_key_usage, "critical,keyCertSign,cRLSign"},
	};
	X509_NAME *name = NULL;
	int rc;

	*out = NULL;
	rc = bw_pki__check_label("factory name", factory, BW_PKI_FACTORY_MAX,
				 err);
	if (rc != 0)
		return rc;
	rc = bw_pki__name_build("Factory-CA", factory, &name, err);
	if (rc != 0)
		return rc;
	rc = cert_build(name, key, NULL, NULL, key, now - BW_PKI_BACKDATE,
			now + BW_PKI_FACTORY_CA_DAYS * BW_PKI_DAY, exts,
			sizeof(exts) / sizeof(exts[0]), NULL, out, err);
	X509_NAME_free(name);
	return rc;
}

int bw_pki_server_cert_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub,
			     const char *factory, const struct bw_pki_sans *sans,
			     time_t now, X509 **out, struct bw_err *err)
{
	static const struct ext_spec exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature"},
		{NID_ext_key_usage, "serverAuth"},
	};
	X509_NAME *name = NULL;
	const char *cn;
	int rc;

	*out = NULL;
	if (sans == NULL || sans->ndns + sans->nip == 0)
		return bw_err_set(err, BW_EINVAL,
				  "a server certificate needs at least one "
				  "DNS name or IP address");
	if (sans->ndns + sans->nip > BW_PKI_MAX_SANS)
		return bw_err_set(err, BW_EINVAL, "more than %u SANs",
				  BW_PKI_MAX_SANS);
	rc = bw_pki__check_issuer(ca, now, "factory CA", err);
	if (rc != 0)
		return rc;
	cn = sans->ndns > 0 ? sans->dns[0] : sans->ip[0];
	rc = bw_pki__check_label("server name", cn, 64, err);
	if (rc != 0)
		return rc;
	rc = bw_pki__name_build(cn, factory, &name, err);
	if (rc != 0)
		return rc;
	rc = cert_build(name, pub, NULL, ca, ca_key, now - BW_PKI_BACKDATE,
			not_after(ca, now, BW_PKI_SERVER_DAYS), exts,
			sizeof(exts) / sizeof(exts[0]), sans, out, err);
	X509_NAME_free(name);
	return rc;
}

int bw_pki_device_ca_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub,
			   const char *factory, const char *base, time_t now,
			   X509 **out, struct bw_err *err)
{
	static const struct ext_spec exts[] = {
		{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
		{NID_key_usage, "critical,keyCertSign,cRLSign"},
	};
	X509_NAME *name = NULL;
	unsigned char rnd[4];
	char hex[9], cn[BW_PKI_CA_NAME_MAX + 32];
	int rc, n;

	*out = NULL;
	rc = bw_pki__check_issuer(ca, now, "factory CA", err);
	if (rc != 0)
		return rc;
	if (!bw_pki__base_ok(base))
		return bw_err_set(err, BW_EINVAL, "bad device CA name '%.40s'",
				  base);
	/* A distinct subject per device CA keeps CRL lookup unambiguous. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return bw_err_set(err, BW_ECRYPTO, "RAND_bytes failed");
	bw_hex_encode(rnd, sizeof(rnd), hex);
	n = snprintf(cn, sizeof(cn), "%s-%s", base, hex);
	if (n < 0 || (size_t)n >= sizeof(cn))
		return bw_err_set(err, BW_EINVAL, "device CA name too long");
	rc = bw_pki__name_build(cn, factory, &name, err);
	if (rc != 0)
		return rc;
	rc = cert_build(name, pub, NULL, ca, ca_key, now - BW_PKI_BACKDATE,
			not_after(ca, now, BW_PKI_DEVICE_CA_DAYS), exts,
			sizeof(exts) / sizeof(exts[0]), NULL, out, err);
	X509_NAME_free(name);
	return rc;
}

/* copy_spki: the CSR's key bytes go in as they are (see pubkey_set) */
static int device_cert_issue(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req,
			     const char *factory, int production, long days,
			     time_t now, int copy_spki, X509 **out,
			     struct bw_err *err)
{
	static const struct ext_spec exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature"},
		{NID_ext_key_usage, "critical,clientAuth"},
	};
	X509_NAME *name = NULL;
	EVP_PKEY *pub;
	char uuid[37];
	int rc;

	*out = NULL;
	if (days <= 0)
		days = BW_PKI_DEVICE_DAYS;
	if (days > 100L * 365)
		return bw_err_set(err, BW_EINVAL, "validity too long");
	rc = bw_pki__check_issuer(ca, now, "device CA", err);
	if (rc != 0)
		return rc;
	rc = bw_pki_csr_uuid(req, uuid, err);
	if (rc != 0)
		return rc;
	pub = X509_REQ_get0_pubkey(req);
	if (pub == NULL)
		return bw_err_set(err, BW_EFORMAT, "CSR without a public key");
	rc = bw_identity_subject_build(uuid, factory, production, &name, err);
	if (rc != 0)
		return rc;
	rc = cert_build(name, pub,
			copy_spki ? X509_REQ_get_X509_PUBKEY(req) : NULL, ca,
			ca_key, now - BW_PKI_BACKDATE, not_after(ca, now, days),
			exts, sizeof(exts) / sizeof(exts[0]), NULL, out, err);
	X509_NAME_free(name);
	return rc;
}

int bw_pki_device_cert_issue(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req,
			     const char *factory, int production, long days,
			     time_t now, X509 **out, struct bw_err *err)
{
	return device_cert_issue(ca, ca_key, req, factory, production, days,
				 now, 0, out, err);
}

int bw_pki_device_cert_sign(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req,
			    const char *factory, int production, long days,
			    time_t now, X509 **out, struct bw_err *err)
{
	return device_cert_issue(ca, ca_key, req, factory, production, days,
				 now, 1, out, err);
}

int bw_pki_serial_hex(const X509 *cert, char **out, struct bw_err *err)
{
	return bw_pki_serial_hex_of(X509_get0_serialNumber(cert), out, err);
}

int bw_pki_serial_hex_of(const ASN1_INTEGER *serial, char **out,
			 struct bw_err *err)
{
	BIGNUM *bn;
	char *hex, *dup;

	*out = NULL;
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	if (bn == NULL)
		return bw_err_set(err, BW_EFORMAT, "unreadable serial number");
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (hex == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	/* BN_bn2hex writes whole bytes ("0F12..."); state.json, CRL lookups
	 * and bw_pki_serial_normalize use the form without leading zeros. */
	{
		const char *p = hex;

		while (p[0] == '0' && p[1] != '\0')
			p++;
		dup = strdup(p);
	}
	OPENSSL_free(hex);
	if (dup == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	*out = dup;
	return 0;
}

int bw_pki_serial_normalize(const char *in, char **out, struct bw_err *err)
{
	size_t len, j = 0;
	char *s;

	*out = NULL;
	if (in == NULL)
		return bw_err_set(err, BW_EINVAL, "no serial");
	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	len = strlen(in);
	if (len == 0 || len > 128)
		return bw_err_set(err, BW_EFORMAT, "bad serial length");
	s = malloc(len + 1);
	if (s == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		if (in[i] == ':')
			continue;
		if (!isxdigit((unsigned char)in[i])) {
			free(s);
			return bw_err_set(err, BW_EFORMAT,
					  "serial is not hexadecimal");
		}
		if (j == 0 && in[i] == '0')
			continue;
		s[j++] = (char)toupper((unsigned char)in[i]);
	}
	if (j == 0)
		s[j++] = '0';
	s[j] = '\0';
	*out = s;
	return 0;
}

static int bio_take(BIO *b, char **out, size_t *len, struct bw_err *err)
{
	char *data = NULL, *copy;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0 || (size_t)n > PKI_PEM_MAX)
		return bw_err_set(err, BW_ECRYPTO, "PEM encoding failed");
	copy = malloc((size_t)n + 1);
	if (copy == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	OPENSSL_cleanse(data, (size_t)n);
	*out = copy;
	*len = (size_t)n;
	return 0;
}

int bw_pki_cert_pem(const X509 *cert, char **out, size_t *len,
		    struct bw_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rc;

	*out = NULL;
	if (b == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!PEM_write_bio_X509(b, cert))
		rc = bw_err_set(err, BW_ECRYPTO, "PEM encoding failed");
	else
		rc = bio_take(b, out, len, err);
	BIO_free(b);
	return rc;
}

int bw_pki_crl_pem(const X509_CRL *crl, char **out, size_t *len,
		   struct bw_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rc;

	*out = NULL;
	if (b == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!PEM_write_bio_X509_CRL(b, (X509_CRL *)crl))
		rc = bw_err_set(err, BW_ECRYPTO, "PEM encoding failed");
	else
		rc = bio_take(b, out, len, err);
	BIO_free(b);
	return rc;
}

int bw_pki_key_pem(EVP_PKEY *key, char **out, size_t *len, struct bw_err *err)
{
	BIO *b = BIO_new(BIO_s_secmem());
	int rc;

	*out = NULL;
	if (b == NULL)
		b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		rc = bw_err_set(err, BW_ECRYPTO, "cannot encode private key");
	else
		rc = bio_take(b, out, len, err);
	BIO_free(b);
	return rc;
}

int bw_pki_cert_load(const char *path, X509 **out, struct bw_err *err)
{
	struct bw_buf b;
	BIO *bio = NULL;
	int rc;

	*out = NULL;
	bw_buf_init(&b, PKI_PEM_MAX);
	rc = bw_io_read_file(path, PKI_PEM_MAX, &b, err);
	if (rc != 0)
		goto out;
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	if (bio == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (*out == NULL) {
		rc = bw_err_set(err, BW_EFORMAT, "%s: not a PEM certificate",
				path);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	bw_buf_dispose(&b);
	return rc;
}

int bw_pki_key_load(const char *path, EVP_PKEY **out, struct bw_err *err)
{
	struct bw_signer *s = NULL;
	int rc;

	*out = NULL;
	/* The key-file loader checks the mode on the open file and wipes
	 * what it read. */
	rc = bw_signer_keyfile_load(path, 0, &s, err);
	if (rc != 0)
		return rc;
	if (!bw_pki__is_p256(s->pkey)) {
		rc = bw_err_set(err, BW_EUNSUPPORTED,
				"%s: not an ECDSA P-256 key", path);
	} else if (EVP_PKEY_up_ref(s->pkey) != 1) {
		rc = bw_err_set(err, BW_ECRYPTO, "out of memory");
	} else {
		*out = s->pkey;
		rc = 0;
	}
	bw_signer_free(s);
	return rc;
}
