/*
 * Unit tests of the pki module: CSR parsing and profile checks, certificate
 * profiles, expiry, CRLs, state.json parsing, serials, and the PKI
 * directory (all-or-nothing commits).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "bulwark/buf.h"
#include "bulwark/pki.h"
#include "pki/pki_priv.h"
#include "util/journal.h"

#define UUID "0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#define FACTORY "acme"
#define NOW ((time_t)1800000000) /* 2027-01-15 */

/* ---- helpers ------------------------------------------------------------ */

static EVP_PKEY *key_p256(void)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(bw_pki_key_generate(&k, NULL), 0);
	return k;
}

/* A CSR signed by key with subject entries (nid, value) and an optional
 * extension (nid, value). DER in *der (OPENSSL_free). */
static void csr_make(EVP_PKEY *key, const char *cn, const char *ou,
		     const char *bc, int ext_nid, const char *ext_val,
		     uint8_t **der, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	unsigned char *p = NULL;
	int l;

	assert_non_null(req);
	if (cn != NULL)
		assert_true(X509_NAME_add_entry_by_NID(
			n, NID_commonName, MBSTRING_UTF8,
			(const unsigned char *)cn, -1, -1, 0));
	if (ou != NULL)
		assert_true(X509_NAME_add_entry_by_NID(
			n, NID_organizationalUnitName, MBSTRING_UTF8,
			(const unsigned char *)ou, -1, -1, 0));
	if (bc != NULL)
		assert_true(X509_NAME_add_entry_by_NID(
			n, NID_businessCategory, MBSTRING_UTF8,
			(const unsigned char *)bc, -1, -1, 0));
	assert_true(X509_REQ_set_subject_name(req, n));
	assert_true(X509_REQ_set_pubkey(req, key));
	if (ext_nid != 0) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *e =
			X509V3_EXT_conf_nid(NULL, NULL, ext_nid, ext_val);

		assert_non_null(e);
		sk_X509_EXTENSION_push(exts, e);
		assert_true(X509_REQ_add_extensions(req, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	l = i2d_X509_REQ(req, &p);
	assert_true(l > 0);
	*der = p;
	*len = (size_t)l;
	X509_NAME_free(n);
	X509_REQ_free(req);
}

static int check_der(const uint8_t *der, size_t len, enum bw_pki_profile prof,
		     int production, struct bw_err *err)
{
	struct bw_pki_csr_policy pol = {prof, FACTORY, production};
	X509_REQ *req = NULL;
	int rc = bw_pki_csr_parse(der, len, &req, err);

	if (rc == 0)
		rc = bw_pki_csr_check(req, &pol, err);
	X509_REQ_free(req);
	return rc;
}

/* ---- CSR ------------------------------------------------------------------ */

static void test_pki_csr__good_device_der_and_pem(void **state)
{
	EVP_PKEY *k = key_p256();
	uint8_t *der = NULL;
	size_t len = 0;
	struct bw_err err = {0};
	X509_REQ *req = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long pl;
	char uuid[37];

	(void)state;
	csr_make(k, UUID, FACTORY, NULL, 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err), 0);
	/* the same as PEM */
	assert_int_equal(bw_pki_csr_parse(der, len, &req, &err), 0);
	assert_true(PEM_write_bio_X509_REQ(b, req));
	pl = BIO_get_mem_data(b, &pem);
	X509_REQ_free(req);
	req = NULL;
	assert_int_equal(bw_pki_csr_parse((uint8_t *)pem, (size_t)pl, &req,
					  &err),
			 0);
	assert_int_equal(bw_pki_csr_uuid(req, uuid, &err), 0);
	assert_string_equal(uuid, UUID);
	X509_REQ_free(req);
	OPENSSL_free(der);
	BIO_free(b);
	EVP_PKEY_free(k);
}

static void test_pki_csr__garbage_trailing_and_size(void **state)
{
	EVP_PKEY *k = key_p256();
	uint8_t *der = NULL, *big;
	size_t len = 0;
	struct bw_err err = {0};
	X509_REQ *req = NULL;

	(void)state;
	assert_int_equal(bw_pki_csr_parse((const uint8_t *)"hello", 5, &req,
					  &err),
			 BW_EFORMAT);
	assert_int_equal(bw_pki_csr_parse((const uint8_t *)"", 0, &req, &err),
			 BW_EFORMAT);
	assert_int_equal(bw_pki_csr_parse((const uint8_t *)"-----BEGIN x", 12,
					  &req, &err),
			 BW_EFORMAT);
	csr_make(k, UUID, FACTORY, NULL, 0, NULL, &der, &len);
	big = calloc(1, BW_PKI_CSR_MAX + 1);
	assert_non_null(big);
	memcpy(big, der, len);
	/* trailing byte after the DER */
	assert_int_equal(bw_pki_csr_parse(big, len + 1, &req, &err),
			 BW_EFORMAT);
	assert_non_null(strstr(err.msg, "trailing"));
	assert_int_equal(bw_pki_csr_parse(big, BW_PKI_CSR_MAX + 1, &req, &err),
			 BW_ETOOBIG);
	/* truncated */
	for (size_t cut = 0; cut < len; cut += 7)
		assert_int_not_equal(bw_pki_csr_parse(der, cut, &req, &err), 0);
	assert_null(req);
	free(big);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* Every single-bit flip of a signed CSR must be refused. */
static void test_pki_csr__bit_flips_refused(void **state)
{
	EVP_PKEY *k = key_p256();
	uint8_t *der = NULL;
	size_t len = 0;
	struct bw_err err = {0};

	(void)state;
	csr_make(k, UUID, FACTORY, NULL, 0, NULL, &der, &len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			der[i] ^= (uint8_t)(1u << bit);
			if (check_der(der, len, BW_PKI_PROFILE_DEVICE, 0,
				      &err) == 0)
				fail_msg("bit %d of byte %zu accepted", bit, i);
			der[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err), 0);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

static void test_pki_csr__profile_refusals(void **state)
{
	EVP_PKEY *k = key_p256();
	EVP_PKEY *k384 = EVP_EC_gen("P-384");
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	uint8_t *der = NULL;
	size_t len = 0;
	struct bw_err err = {0};

	(void)state;
	csr_make(k384, UUID, FACTORY, NULL, 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EUNSUPPORTED);
	OPENSSL_free(der);
	csr_make(rsa, UUID, FACTORY, NULL, 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EUNSUPPORTED);
	OPENSSL_free(der);
	/* forged production */
	csr_make(k, UUID, FACTORY, "production", 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EFORMAT);
	assert_non_null(strstr(err.msg, "production"));
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 1, &err), 0);
	OPENSSL_free(der);
	csr_make(k, UUID, FACTORY, "staging", 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 1, &err),
			 BW_EFORMAT);
	OPENSSL_free(der);
	/* CA:TRUE on a device / server CSR; CA:FALSE on a CA CSR */
	csr_make(k, UUID, FACTORY, NULL, NID_basic_constraints,
		 "critical,CA:TRUE", &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EFORMAT);
	assert_non_null(strstr(err.msg, "CA:TRUE"));
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_SERVER, 0, &err),
			 BW_EFORMAT);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE_CA, 0, &err),
			 0);
	OPENSSL_free(der);
	csr_make(k, "site", NULL, NULL, NID_basic_constraints, "CA:FALSE", &der,
		 &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE_CA, 0, &err),
			 BW_EFORMAT);
	OPENSSL_free(der);
	csr_make(k, UUID, FACTORY, NULL, NID_key_usage, "cRLSign", &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EFORMAT);
	OPENSSL_free(der);
	csr_make(k, UUID, FACTORY, NULL, NID_ext_key_usage, "serverAuth", &der,
		 &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EFORMAT);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_SERVER, 0, &err), 0);
	OPENSSL_free(der);
	/* subject: not a UUID, wrong OU, no CN, two CNs */
	csr_make(k, "device-1", FACTORY, NULL, 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EFORMAT);
	OPENSSL_free(der);
	csr_make(k, UUID, "other", NULL, 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EFORMAT);
	OPENSSL_free(der);
	csr_make(k, NULL, FACTORY, NULL, 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err),
			 BW_EFORMAT);
	OPENSSL_free(der);
	csr_make(k, UUID, NULL, NULL, 0, NULL, &der, &len);
	assert_int_equal(check_der(der, len, BW_PKI_PROFILE_DEVICE, 0, &err), 0);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k384);
	EVP_PKEY_free(rsa);
}

/* ---- certificates ------------------------------------------------------------ */

static void test_pki_cert__profiles_and_expiry(void **state)
{
	EVP_PKEY *rk = key_p256(), *ck = key_p256(), *dk = key_p256();
	X509 *root = NULL, *ca = NULL, *dev = NULL, *old = NULL, *x = NULL;
	X509_REQ *req = NULL;
	uint8_t *der = NULL;
	size_t len = 0;
	struct bw_err err = {0};
	time_t na = 0;
	char *serial = NULL;
	static const char *const dns[] = {"gw.example.com"};
	struct bw_pki_sans sans = {dns, 1, NULL, 0};

	(void)state;
	assert_int_equal(bw_pki_factory_ca_create(rk, FACTORY, NOW, &root, &err),
			 0);
	assert_int_equal(X509_check_ca(root), 1);
	assert_int_equal(X509_verify(root, rk), 1);
	assert_int_equal(bw_pki_device_ca_issue(root, rk, ck, FACTORY,
						"online-ca", NOW, &ca, &err),
			 0);
	assert_int_equal(X509_verify(ca, rk), 1);
	assert_int_equal(X509_get_pathlen(ca), 0);
	csr_make(dk, UUID, FACTORY, NULL, 0, NULL, &der, &len);
	assert_int_equal(bw_pki_csr_parse(der, len, &req, &err), 0);
	assert_int_equal(bw_pki_device_cert_issue(ca, ck, req, FACTORY, 1, 0,
						  NOW, &dev, &err),
			 0);
	assert_int_equal(X509_verify(dev, ck), 1);
	/* the returned certificate is fully usable in memory, key included */
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(dev), dk), 1);
	X509_free(dev);
	dev = NULL;
	/* the server's variant: the key is the CSR's SubjectPublicKeyInfo,
	 * byte for byte, the SKI is the SHA-1 of its key bits, and the DER
	 * holds the key */
	assert_int_equal(bw_pki_device_cert_sign(ca, ck, req, FACTORY, 1, 0,
						 NOW, &dev, &err),
			 0);
	assert_int_equal(X509_verify(dev, ck), 1);
	{
		unsigned char *a = NULL, *b = NULL, md[20], *d = NULL;
		const unsigned char *dp = NULL;
		int dlen = i2d_X509(dev, &d);
		X509 *back = NULL;
		unsigned int mdlen = 0;
		int alen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(dev), &a);
		int blen = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &b);
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(dev);

		assert_true(alen > 0 && alen == blen);
		assert_memory_equal(a, b, (size_t)alen);
		OPENSSL_free(a);
		OPENSSL_free(b);
		assert_int_equal(
		    X509_pubkey_digest(dev, EVP_sha1(), md, &mdlen), 1);
		assert_non_null(ski);
		assert_int_equal(ASN1_STRING_length(ski), (int)mdlen);
		assert_memory_equal(ASN1_STRING_get0_data(ski), md, mdlen);
		dp = d;
		assert_non_null(back = d2i_X509(NULL, &dp, dlen));
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(back), dk), 1);
		X509_free(back);
		OPENSSL_free(d);
	}
	assert_int_equal(X509_check_purpose(dev, X509_PURPOSE_SSL_CLIENT, 0), 1);
	assert_int_equal(X509_check_purpose(dev, X509_PURPOSE_SSL_SERVER, 0), 0);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(dev)), 3);
	assert_int_equal(bw_pki_serial_hex(dev, &serial, &err), 0);
	assert_int_equal(strlen(serial), 32);
	free(serial);
	/* validity clamped to the device CA's */
	assert_int_equal(bw_pki_device_cert_issue(ca, ck, req, FACTORY, 0,
						  100L * 365, NOW, &x, &err),
			 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
					   X509_get0_notAfter(ca)),
			 0);
	X509_free(x);
	x = NULL;
	/* server: needs a SAN; CN is the first one */
	assert_int_equal(bw_pki_server_cert_issue(root, rk, dk, FACTORY, NULL,
						  NOW, &x, &err),
			 BW_EINVAL);
	assert_int_equal(bw_pki_server_cert_issue(root, rk, dk, FACTORY, &sans,
						  NOW, &x, &err),
			 0);
	assert_int_equal(X509_check_host(x, "gw.example.com", 0, 0, NULL), 1);
	X509_free(x);
	x = NULL;
	/* a device certificate is no issuer */
	assert_int_equal(bw_pki_device_cert_issue(dev, dk, req, FACTORY, 0, 0,
						  NOW, &x, &err),
			 BW_EINVAL);
	/* expired CA: made 21 years ago, the root expired after 20 */
	assert_int_equal(bw_pki_factory_ca_create(rk, FACTORY,
						  NOW - 21L * 366 * BW_PKI_DAY,
						  &old, &err),
			 0);
	assert_int_equal(bw_pki_device_ca_issue(old, rk, ck, FACTORY, "local-ca",
						NOW, &x, &err),
			 BW_EEXPIRED);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(bw_pki__time_to_t(X509_get0_notAfter(ca), &na), 0);
	assert_int_equal(bw_pki_device_cert_issue(ca, ck, req, FACTORY, 0, 0,
						  na + 1, &x, &err),
			 BW_EEXPIRED);
	/* bad factory names */
	assert_int_equal(bw_pki_factory_ca_create(rk, "", NOW, &x, &err),
			 BW_EINVAL);
	assert_int_equal(bw_pki_factory_ca_create(rk, "a\nb", NOW, &x, &err),
			 BW_EINVAL);
	assert_int_equal(bw_pki_factory_ca_create(rk, "\xc3\x28", NOW, &x, &err),
			 BW_EINVAL);
	assert_int_equal(bw_pki_factory_ca_create(rk, "f\xc3\xa4\x62rik", NOW,
						  &x, &err),
			 0);
	X509_free(x);
	OPENSSL_free(der);
	X509_REQ_free(req);
	X509_free(root);
	X509_free(ca);
	X509_free(dev);
	X509_free(old);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(dk);
}

static void test_pki_crl__entries_and_signature(void **state)
{
	EVP_PKEY *rk = key_p256();
	X509 *root = NULL;
	X509_CRL *crl = NULL;
	X509_REVOKED *r = NULL;
	ASN1_ENUMERATED *reason;
	ASN1_INTEGER *num;
	struct bw_err err = {0};
	struct bw_pki_crl_entry e[2] = {
		{"1F", NOW - 10, BW_PKI_REASON_HOLD},
		{"ABCDEF0123456789ABCDEF0123456789", NOW - 5,
		 BW_PKI_REASON_KEY_COMPROMISE},
	};
	ASN1_INTEGER *want = ASN1_INTEGER_new();

	(void)state;
	assert_int_equal(bw_pki_factory_ca_create(rk, FACTORY, NOW, &root, &err),
			 0);
	assert_int_equal(bw_pki_crl_build(root, rk, e, 2, 7, NOW, 30, &crl,
					  &err),
			 0);
	assert_int_equal(X509_CRL_verify(crl, rk), 1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	ASN1_INTEGER_set(want, 0x1f);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &r, want), 1);
	reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 6);
	ASN1_ENUMERATED_free(reason);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_int_equal(ASN1_INTEGER_get(num), 7);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	crl = NULL;
	e[0].serial_hex = "xyz";
	assert_int_equal(bw_pki_crl_build(root, rk, e, 2, 8, NOW, 30, &crl,
					  &err),
			 BW_EFORMAT);
	assert_int_equal(bw_pki_crl_build(root, rk, e, 0, 8, NOW, 0, &crl, &err),
			 BW_EINVAL);
	ASN1_INTEGER_free(want);
	X509_free(root);
	EVP_PKEY_free(rk);
}

static void test_pki_serial__normalize(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(bw_pki_serial_normalize("0x00ab:cd", &s, NULL), 0);
	assert_string_equal(s, "ABCD");
	free(s);
	assert_int_equal(bw_pki_serial_normalize("000", &s, NULL), 0);
	assert_string_equal(s, "0");
	free(s);
	assert_int_equal(bw_pki_serial_normalize("12g", &s, NULL), BW_EFORMAT);
	assert_int_equal(bw_pki_serial_normalize("", &s, NULL), BW_EFORMAT);
}

/* A certificate serial whose first byte is below 0x10 reads back in the
 * normalized form that state.json and CRL lookups use (1 in 16 random
 * serials; "0F12" once broke every command after revoke-device). */
static void test_pki_serial__leading_zero_nibble(void **state)
{
	X509 *cert = X509_new();
	BIGNUM *bn = NULL;
	char *hex = NULL, *norm = NULL;

	(void)state;
	assert_non_null(cert);
	assert_true(BN_hex2bn(&bn, "0F12AB") > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)));
	assert_int_equal(bw_pki_serial_hex(cert, &hex, NULL), 0);
	assert_string_equal(hex, "F12AB");
	assert_int_equal(bw_pki_serial_normalize("0F:12:AB", &norm, NULL), 0);
	assert_string_equal(hex, norm);
	free(hex);
	free(norm);
	BN_free(bn);
	X509_free(cert);
}

/* ---- state.json ------------------------------------------------------------ */

#define CA_JSON                                                                \
	"{\"base\":\"online-ca\",\"kind\":\"online\",\"serial\":\"AB\","      \
	"\"status\":\"enabled\",\"since\":1,\"has_key\":true}"
#define STATE(cas, rev, iss)                                                   \
	"{\"version\":1,\"factory\":\"acme\",\"crl_number\":3,"               \
	"\"device_cas\":[" cas "],\"revoked_devices\":[" rev "],"             \
	"\"issued_devices\":[" iss "]}"

static int parse_str(const char *s, struct bw_pki__state *st)
{
	struct bw_err err = {0};
	int rc = bw_pki__state_parse((const uint8_t *)s, strlen(s), st, &err);

	bw_pki__state_dispose(st);
	return rc;
}

static void test_pki_state__parse_and_roundtrip(void **state)
{
	const char *good = STATE(
		CA_JSON, "{\"serial\":\"1F\",\"issuer\":\"online-ca\","
			 "\"reason\":\"keyCompromise\",\"at\":5}",
		"{\"serial\":\"1F\",\"issuer\":\"online-ca\",\"uuid\":\"" UUID
		"\",\"at\":4}");
	struct bw_pki__state st, st2;
	struct bw_err err = {0};
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(bw_pki__state_parse((const uint8_t *)good,
					     strlen(good), &st, &err),
			 0);
	assert_int_equal(st.ncas, 1);
	assert_int_equal(st.nrevoked, 1);
	assert_int_equal(st.revoked[0].reason, BW_PKI_REASON_KEY_COMPROMISE);
	assert_int_equal(st.crl_number, 3);
	assert_int_equal(bw_pki__state_serialize(&st, &out, &len, &err), 0);
	assert_int_equal(bw_pki__state_parse((const uint8_t *)out, len, &st2,
					     &err),
			 0);
	assert_string_equal(st2.issued[0].uuid, UUID);
	free(out);
	bw_pki__state_dispose(&st);
	bw_pki__state_dispose(&st2);
}

static void test_pki_state__refusals(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{}", "nul",
		STATE(CA_JSON, "", "") " x",
		"{\"version\":1,\"version\":1,\"factory\":\"acme\","
		"\"crl_number\":3,\"device_cas\":[],\"revoked_devices\":[],"
		"\"issued_devices\":[]}",
		"{\"version\":2,\"factory\":\"acme\",\"crl_number\":3,"
		"\"device_cas\":[],\"revoked_devices\":[],\"issued_devices\":[]}",
		"{\"version\":1,\"factory\":\"acme\",\"crl_number\":-1,"
		"\"device_cas\":[],\"revoked_devices\":[],\"issued_devices\":[]}",
		"{\"version\":1,\"factory\":\"\",\"crl_number\":1,"
		"\"device_cas\":[],\"revoked_devices\":[],\"issued_devices\":[]}",
		"{\"version\":1,\"factory\":\"a\",\"crl_number\":1,\"x\":1,"
		"\"device_cas\":[],\"revoked_devices\":[],\"issued_devices\":[]}",
		STATE(CA_JSON "," CA_JSON, "", ""), /* duplicate CA */
		STATE("{\"base\":\"../etc\",\"kind\":\"online\",\"serial\":\"AB\","
		      "\"status\":\"enabled\",\"since\":1,\"has_key\":true}",
		      "", ""),
		STATE("{\"base\":\"online-ca\",\"kind\":\"x\",\"serial\":\"AB\","
		      "\"status\":\"enabled\",\"since\":1,\"has_key\":true}",
		      "", ""),
		STATE("{\"base\":\"online-ca\",\"kind\":\"online\",\"serial\":"
		      "\"ab\",\"status\":\"enabled\",\"since\":1,\"has_key\":true}",
		      "", ""),
		STATE("{\"base\":\"online-ca\",\"kind\":\"online\",\"serial\":"
		      "\"AB\",\"status\":\"disabled\",\"since\":1,"
		      "\"has_key\":true}",
		      "", ""), /* disabled without a reason */
		STATE("{\"base\":\"online-ca\",\"kind\":\"online\",\"serial\":"
		      "\"AB\",\"status\":\"disabled\",\"reason\":\"keyCompromise\","
		      "\"since\":1,\"has_key\":true}",
		      "", ""), /* disabled must be a hold */
		STATE(CA_JSON, "{\"serial\":\"1F\",\"issuer\":\"local-ca\","
			       "\"reason\":\"keyCompromise\",\"at\":5}",
		      ""), /* unknown issuer */
		STATE(CA_JSON, "{\"serial\":\"1F\",\"issuer\":\"online-ca\","
			       "\"reason\":\"certificateHold\",\"at\":5}",
		      ""),
		STATE(CA_JSON, "", "{\"serial\":\"1F\",\"issuer\":\"online-ca\","
				   "\"uuid\":\"nope\",\"at\":4}"),
		STATE(CA_JSON, "", "{\"serial\":\"1F\",\"issuer\":\"online-ca\","
				   "\"at\":4.5}"),
	};
	struct bw_pki__state st;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_str(bad[i], &st) == 0)
			fail_msg("accepted bad state %zu: %s", i, bad[i]);
	assert_int_equal(parse_str(STATE(CA_JSON, "", ""), &st), 0);
}

/* ---- directory ------------------------------------------------------------- */

static char *tmpdir_make(void)
{
	char tmpl[] = "/tmp/bw-pki-unit-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void rm_rf(const char *d)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

/* Listing + content digest of a directory tree (via sha256sum). */
static char *digest_dir(const char *d)
{
	char cmd[512], *out = calloc(1, 65536);
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && find . -printf '%%p %%m\\n' | sort && find . "
		 "-type f -exec sha256sum {} + | sort",
		 d);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 65535, p);
	pclose(p);
	out[n] = '\0';
	return out;
}

/* A PKI directory made by bw_pki_create (online CA, SAN "gw"). */
struct dirfx {
	char *top;
	char *dir;
	struct bw_pki_create_opts o;
};

static int dir_setup(void **state)
{
	static const char *const dns[] = {"gw"};
	struct dirfx *f = calloc(1, sizeof(*f));
	struct bw_err err = {0};

	assert_non_null(f);
	f->top = tmpdir_make();
	assert_int_equal(bw_path_join(f->top, "pki", &f->dir), 0);
	f->o.dir = f->dir;
	f->o.factory = FACTORY;
	f->o.sans.dns = dns;
	f->o.sans.ndns = 1;
	f->o.online_ca = 1;
	f->o.now = NOW;
	assert_int_equal(bw_pki_create(&f->o, &err), 0);
	*state = f;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dirfx *f = *state;

	rm_rf(f->top);
	free(f->dir);
	free(f->top);
	free(f);
	return 0;
}

/* A writer's open with the factory key loaded. */
static struct bw_pki *open_writer(const char *dir)
{
	struct bw_pki *pki = NULL;
	struct bw_err err = {0};

	assert_int_equal(bw_pki_open(dir, &pki, &err), 0);
	assert_int_equal(bw_pki_load_factory_key(pki, &err), 0);
	return pki;
}

static void test_pki_dir__create_refuses_existing_root(void **state)
{
	struct dirfx *f = *state;
	struct bw_err err = {0};
	char *before, *after;

	before = digest_dir(f->dir);
	assert_int_equal(bw_pki_create(&f->o, &err), BW_EEXIST);
	after = digest_dir(f->dir);
	assert_string_equal(before, after);
	free(after);
	free(before);
}

/* readers share the directory; a writer waits for them */
static void test_pki_dir__readers_share(void **state)
{
	struct dirfx *f = *state;
	struct bw_pki *r1 = NULL, *r2 = NULL, *w = NULL;
	struct bw_err err = {0};

	assert_int_equal(bw_pki_open_shared(f->dir, &r1, &err), 0);
	assert_int_equal(bw_pki_open_shared(f->dir, &r2, &err), 0);
	assert_int_equal(bw_pki_open(f->dir, &w, &err), BW_ESTATE);
	assert_null(w);
	bw_pki_free(r1);
	bw_pki_free(r2);
}

/* one process at a time per directory */
static void test_pki_dir__one_writer(void **state)
{
	struct dirfx *f = *state;
	struct bw_pki *pki = NULL, *second = NULL;
	struct bw_err err = {0};

	assert_int_equal(bw_pki_open(f->dir, &pki, &err), 0);
	assert_int_equal(bw_pki_open(f->dir, &second, &err), BW_ESTATE);
	assert_null(second);
	assert_non_null(strstr(err.msg, "in use"));
	/* and no reader while a writer holds it */
	assert_int_equal(bw_pki_open_shared(f->dir, &second, &err), BW_ESTATE);
	assert_null(second);
	assert_string_equal(bw_pki_factory(pki), FACTORY);
	assert_true(bw_pki_factory_key_is_file(pki));
	/* nothing that needs the factory key works before it is loaded */
	assert_int_equal(bw_pki_update_crls(pki, NOW, &err), BW_ESTATE);
	bw_pki_free(pki);
}

/* refused operations leave the directory unchanged */
static void test_pki_dir__refusals_leave_dir_unchanged(void **state)
{
	struct dirfx *f = *state;
	struct bw_pki *pki = open_writer(f->dir);
	struct bw_err err = {0};
	struct bw_pki_sign_opts so = {0};
	struct bw_pki_device_sel sel = {0};
	EVP_PKEY *dk = key_p256();
	uint8_t *der = NULL;
	size_t len = 0;
	char *before = digest_dir(f->dir), *after, *pem = NULL;

	assert_int_equal(bw_pki_add_device_ca(pki, 0, "bad/name", 0, NOW, NULL,
					      &err),
			 BW_EINVAL);
	assert_int_equal(bw_pki_set_device_ca_status(pki, "local-ca",
						     BW_PKI_CA_DISABLED, 0, NOW,
						     &err),
			 BW_ENOTFOUND);
	sel.uuid = UUID;
	assert_int_equal(bw_pki_revoke_device(pki, &sel, 9, NOW, &err),
			 BW_ENOTFOUND);
	csr_make(dk, UUID, FACTORY, "production", 0, NULL, &der, &len);
	so.profile = BW_PKI_PROFILE_DEVICE;
	assert_int_equal(bw_pki_sign_csr(pki, der, len, &so, NOW, &pem, &err),
			 BW_EFORMAT);
	/* the factory CA expired: no new device CA */
	assert_int_equal(bw_pki_add_device_ca(pki, 0, NULL, 0,
					      NOW + 21L * 366 * BW_PKI_DAY,
					      NULL, &err),
			 BW_EEXPIRED);
	after = digest_dir(f->dir);
	assert_string_equal(before, after);
	free(after);
	free(before);
	OPENSSL_free(der);
	EVP_PKEY_free(dk);
	bw_pki_free(pki);
}

/* a write that fails half-way (state.json, staged last) leaves the
 * directory as it was: the CRLs written before are not renamed */
static void test_pki_dir__failed_write_leaves_dir_unchanged(void **state)
{
	struct dirfx *f = *state;
	struct bw_pki *pki = open_writer(f->dir);
	struct bw_err err = {0};
	char *trap = NULL, *before, *after;

	assert_int_equal(bw_path_join(f->dir, "state.json.bw-new", &trap), 0);
	assert_int_equal(mkdir(trap, 0700), 0);
	before = digest_dir(f->dir);
	assert_int_not_equal(bw_pki_update_crls(pki, NOW, &err), 0);
	after = digest_dir(f->dir);
	assert_string_equal(before, after);
	free(after);
	free(before);
	assert_int_equal(rmdir(trap), 0);
	free(trap);
	bw_pki_free(pki);
}

/* a successful sign then revoke by uuid; reopened, the state persisted */
static void test_pki_dir__sign_revoke_persist(void **state)
{
	struct dirfx *f = *state;
	struct bw_pki *pki = open_writer(f->dir);
	struct bw_err err = {0};
	struct bw_pki_sign_opts so = {0};
	struct bw_pki_device_sel sel = {0};
	EVP_PKEY *dk = key_p256();
	uint8_t *der = NULL;
	size_t len = 0;
	char *pem = NULL;

	sel.uuid = UUID;
	csr_make(dk, UUID, FACTORY, "production", 0, NULL, &der, &len);
	so.profile = BW_PKI_PROFILE_DEVICE;
	so.production = 1;
	assert_int_equal(bw_pki_sign_csr(pki, der, len, &so, NOW, &pem, &err),
			 0);
	assert_non_null(strstr(pem, "BEGIN CERTIFICATE"));
	free(pem);
	assert_int_equal(bw_pki_revoke_device(pki, &sel, 9, NOW, &err), 0);
	bw_pki_free(pki);
	pki = NULL;
	/* reopen: state persisted */
	assert_int_equal(bw_pki_open(f->dir, &pki, &err), 0);
	assert_int_equal(pki->st.nrevoked, 1);
	assert_int_equal(pki->st.nissued, 1);
	bw_pki_free(pki);
	OPENSSL_free(der);
	EVP_PKEY_free(dk);
}

/*
 * An update_crls interrupted after its journal: dir holds the journal, the
 * new files of copy (where the same update_crls completed) staged as
 * <name>.bw-new, and the first of them already renamed into place.
 */
static void interrupt_update(const char *dir, const char *copy)
{
	static const char *const names[] = {"crl/factory_ca.crl",
					    "crl/online-ca.crl", "crl/all.crl",
					    "device-cas.pem", "state.json"};
	struct bw_journal j;
	char *jp = NULL, *first = NULL, *firstnew = NULL;
	const char *list = "[\"crl/factory_ca.crl\",\"crl/online-ca.crl\","
			   "\"crl/all.crl\",\"device-cas.pem\",\"state.json\"]";

	bw_journal_init(&j, dir);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bw_buf b;
		char *src = NULL;

		bw_buf_init(&b, 1u << 20);
		assert_int_equal(bw_path_join(copy, names[i], &src), 0);
		assert_int_equal(bw_io_read_file(src, 1u << 20, &b, NULL), 0);
		assert_int_equal(bw_journal_put(&j, names[i], b.data, b.len,
						0644, NULL),
				 0);
		bw_buf_dispose(&b);
		free(src);
	}
	/* what the commit writes first, then one of its renames */
	assert_int_equal(bw_path_join(dir, BW_JOURNAL_FILE, &jp), 0);
	assert_int_equal(bw_io_write_atomic(jp, list, strlen(list), 0600,
					    NULL),
			 0);
	assert_int_equal(bw_path_join(dir, names[0], &first), 0);
	assert_int_equal(bw_path_join(dir, "crl/factory_ca.crl.bw-new",
				      &firstnew),
			 0);
	assert_int_equal(rename(firstnew, first), 0);
	j.committed = 1; /* decided: keep the staged files */
	bw_journal_dispose(&j);
	free(jp);
	free(first);
	free(firstnew);
}

/* Two copies of one PKI directory; the copy has had update_crls. */
static void two_dirs(char **top, char **dir, char **copy)
{
	struct bw_pki_create_opts o = {0};
	struct bw_pki *pki = NULL;
	char cmd[1024];

	static const char *const dns[] = {"gw"};

	*top = tmpdir_make();
	assert_int_equal(bw_path_join(*top, "pki", dir), 0);
	assert_int_equal(bw_path_join(*top, "copy", copy), 0);
	o.dir = *dir;
	o.factory = FACTORY;
	o.sans.dns = dns;
	o.sans.ndns = 1;
	o.online_ca = 1;
	o.now = NOW;
	assert_int_equal(bw_pki_create(&o, NULL), 0);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", *dir, *copy);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(bw_pki_open(*copy, &pki, NULL), 0);
	assert_int_equal(bw_pki_load_factory_key(pki, NULL), 0);
	assert_int_equal(bw_pki_update_crls(pki, NOW + 60, NULL), 0);
	bw_pki_free(pki);
}

/* bulwarkd's shared open finds an interrupted commit: it finishes it
 * under the exclusive lock before it reads anything. */
static void test_pki_dir__reader_finishes_interrupted_commit(void **state)
{
	char *top, *dir, *copy, *want, *got;
	struct bw_pki *r = NULL, *r2 = NULL;
	struct bw_err err = {0};

	(void)state;
	two_dirs(&top, &dir, &copy);
	want = digest_dir(copy);
	interrupt_update(dir, copy);
	assert_true(bw_journal_pending(dir));
	assert_int_equal(bw_pki_open_shared(dir, &r, &err), 0);
	assert_false(bw_journal_pending(dir));
	got = digest_dir(dir);
	assert_string_equal(want, got);
	/* and it still shares the directory with other readers */
	assert_int_equal(bw_pki_open_shared(dir, &r2, &err), 0);
	bw_pki_free(r2);
	bw_pki_free(r);
	free(got);
	free(want);
	rm_rf(top);
	free(copy);
	free(dir);
	free(top);
}

/* While another reader holds the directory the exclusive lock cannot be
 * had: the reader that finds the journal refuses (bounded wait) rather
 * than read a half-committed directory, and changes nothing. */
static void test_pki_dir__reader_refuses_interrupted_commit_in_use(
    void **state)
{
	char *top, *dir, *copy, *before, *after;
	struct bw_pki *r = NULL;
	struct bw_err err = {0};
	int fd;

	(void)state;
	two_dirs(&top, &dir, &copy);
	interrupt_update(dir, copy);
	before = digest_dir(dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH | LOCK_NB), 0);
	assert_int_equal(bw_pki_open_shared(dir, &r, &err), BW_ESTATE);
	assert_null(r);
	assert_non_null(strstr(err.msg, "interrupted"));
	after = digest_dir(dir);
	assert_string_equal(before, after);
	close(fd);
	assert_int_equal(bw_pki_open_shared(dir, &r, &err), 0);
	assert_false(bw_journal_pending(dir));
	bw_pki_free(r);
	free(before);
	free(after);
	rm_rf(top);
	free(copy);
	free(dir);
	free(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pki_csr__good_device_der_and_pem),
		cmocka_unit_test(test_pki_csr__garbage_trailing_and_size),
		cmocka_unit_test(test_pki_csr__bit_flips_refused),
		cmocka_unit_test(test_pki_csr__profile_refusals),
		cmocka_unit_test(test_pki_cert__profiles_and_expiry),
		cmocka_unit_test(test_pki_crl__entries_and_signature),
		cmocka_unit_test(test_pki_serial__normalize),
		cmocka_unit_test(test_pki_serial__leading_zero_nibble),
		cmocka_unit_test(test_pki_state__parse_and_roundtrip),
		cmocka_unit_test(test_pki_state__refusals),
		cmocka_unit_test_setup_teardown(
		    test_pki_dir__create_refuses_existing_root, dir_setup,
		    dir_teardown),
		cmocka_unit_test_setup_teardown(test_pki_dir__readers_share,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_pki_dir__one_writer,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(
		    test_pki_dir__refusals_leave_dir_unchanged, dir_setup,
		    dir_teardown),
		cmocka_unit_test_setup_teardown(
		    test_pki_dir__failed_write_leaves_dir_unchanged, dir_setup,
		    dir_teardown),
		cmocka_unit_test_setup_teardown(test_pki_dir__sign_revoke_persist,
						dir_setup, dir_teardown),
		cmocka_unit_test(test_pki_dir__reader_finishes_interrupted_commit),
		cmocka_unit_test(
		    test_pki_dir__reader_refuses_interrupted_commit_in_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
