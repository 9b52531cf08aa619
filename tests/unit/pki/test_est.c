/*
 * Unit tests of the EST wire pieces (include/bulwark/est.h): base64 bodies
 * (RFC 8951 white space, Content-Transfer-Encoding), certs-only PKCS#7
 * round trips and refusals, the re-enrolment CSR rule, csrattrs, paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "bulwark/est.h"
#include "bulwark/pki.h"

#define UUID "0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#define FACTORY "acme"
#define NOW ((time_t)1800000000)

static EVP_PKEY *key_p256(void)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(bw_pki_key_generate(&k, NULL), 0);
	return k;
}

static X509_REQ *csr_new(EVP_PKEY *key, const char *cn, const char *ou,
			 const char *san)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_REQ_get_subject_name(req);

	assert_true(X509_NAME_add_entry_by_NID(n, NID_commonName,
					       MBSTRING_UTF8,
					       (const unsigned char *)cn, -1,
					       -1, 0));
	if (ou != NULL)
		assert_true(X509_NAME_add_entry_by_NID(
		    n, NID_organizationalUnitName, MBSTRING_UTF8,
		    (const unsigned char *)ou, -1, -1, 0));
	if (san != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *e =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);

		assert_non_null(e);
		sk_X509_EXTENSION_push(exts, e);
		assert_true(X509_REQ_add_extensions(req, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_set_pubkey(req, key));
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	return req;
}

/* base64 of the DER of req, every `every` characters a line break "sep" */
static char *csr_b64(X509_REQ *req, size_t every, const char *sep)
{
	unsigned char *der = NULL;
	int n = i2d_X509_REQ(req, &der);
	char *flat = malloc((size_t)n * 2 + 4);
	char *out = malloc((size_t)n * 4 + 64);
	size_t len = 0, o = 0;

	assert_true(n > 0 && flat && out);
	len = (size_t)EVP_EncodeBlock((unsigned char *)flat, der, n);
	for (size_t i = 0; i < len; i++) {
		if (every && i && i % every == 0) {
			memcpy(out + o, sep, strlen(sep));
			o += strlen(sep);
		}
		out[o++] = flat[i];
	}
	out[o] = '\0';
	OPENSSL_free(der);
	free(flat);
	return out;
}

/* A device CA and a device certificate for key (CN=UUID, OU=acme). */
static void issue(EVP_PKEY *dev_key, X509 **ca_out, X509 **cert_out,
		  EVP_PKEY **ca_key_out)
{
	EVP_PKEY *fk = key_p256(), *ck = key_p256();
	X509 *fca = NULL, *ca = NULL, *cert = NULL;
	X509_REQ *req = csr_new(dev_key, UUID, NULL, NULL);

	assert_int_equal(bw_pki_factory_ca_create(fk, FACTORY, NOW, &fca, NULL),
			 0);
	assert_int_equal(
	    bw_pki_device_ca_issue(fca, fk, ck, FACTORY, "online-ca", NOW, &ca,
				   NULL),
	    0);
	assert_int_equal(bw_pki_device_cert_issue(ca, ck, req, FACTORY, 0, 30,
						  NOW, &cert, NULL),
			 0);
	*ca_out = ca;
	*cert_out = cert;
	*ca_key_out = ck;
	X509_free(fca);
	EVP_PKEY_free(fk);
	X509_REQ_free(req);
}

static void test_est_body__whitespace_and_cte(void **state)
{
	EVP_PKEY *k = key_p256();
	X509_REQ *req = csr_new(k, UUID, FACTORY, NULL), *got = NULL;
	const char *seps[] = {"\n", "\r\n", " ", "\t", "\r\n  "};
	struct bw_err err = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(seps) / sizeof(seps[0]); i++) {
		char *b = csr_b64(req, 1 + i * 17, seps[i]);

		assert_int_equal(bw_est_csr_parse((uint8_t *)b, strlen(b),
						  i % 2 ? "BASE64" : NULL, &got,
						  &err),
				 0);
		assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(got),
					       X509_REQ_get_subject_name(req)),
				 0);
		X509_REQ_free(got);
		got = NULL;
		free(b);
	}
	{
		char *b = csr_b64(req, 0, "");

		/* RFC 8951: only base64 is a valid transfer encoding */
		assert_int_equal(bw_est_csr_parse((uint8_t *)b, strlen(b),
						  "binary", &got, &err),
				 BW_EUNSUPPORTED);
		assert_null(got);
		free(b);
	}
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

static void test_est_body__refusals(void **state)
{
	struct bw_err err = {0};
	uint8_t *out = (uint8_t *)1;
	size_t n = 7;
	char *big = malloc(BW_EST_BODY_MAX + 8);
	const char *bad[] = {"", "   \n", "QUJD=A==", "QUJ", "QU*D",
			     "QUJDRA===", "-----BEGIN"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bw_est_body_decode((const uint8_t *)bad[i],
						    strlen(bad[i]), NULL, &out,
						    &n, &err),
				 BW_EFORMAT);
		assert_null(out);
		assert_int_equal(n, 0);
	}
	assert_int_equal(bw_est_body_decode((const uint8_t *)"QUJD RA==",
					    9, NULL, &out, &n, &err),
			 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "ABCD", 4);
	free(out);
	memset(big, 'A', BW_EST_BODY_MAX + 4);
	assert_int_equal(bw_est_body_decode((uint8_t *)big, BW_EST_BODY_MAX + 4,
					    NULL, &out, &n, &err),
			 BW_ETOOBIG);
	free(big);
	/* a PEM CSR wrapped in base64 is not DER */
	assert_int_equal(bw_est_csr_parse((const uint8_t *)"LS0tLS1C", 8, NULL,
					  (X509_REQ **)&out, &err),
			 BW_EFORMAT);
}

static void test_est_certs__roundtrip_and_refusals(void **state)
{
	EVP_PKEY *dk = key_p256(), *ck = NULL;
	X509 *ca = NULL, *cert = NULL;
	X509 *pair[2];
	STACK_OF(X509) *got = NULL;
	struct bw_err err = {0};
	char *b = NULL;
	size_t n = 0;

	(void)state;
	issue(dk, &ca, &cert, &ck);
	pair[0] = cert;
	pair[1] = ca;
	assert_int_equal(bw_est_certs_build(pair, 2, &b, &n, &err), 0);
	assert_int_equal(strlen(b), n);
	for (char *l = b; *l; l = strchr(l, '\n') + 1)
		assert_true(strchr(l, '\n') - l <= 64);
	assert_int_equal(bw_est_certs_parse((uint8_t *)b, n, &got, &err), 0);
	assert_int_equal(sk_X509_num(got), 2);
	assert_int_equal(X509_cmp(sk_X509_value(got, 0), cert), 0);
	assert_int_equal(X509_cmp(sk_X509_value(got, 1), ca), 0);
	sk_X509_pop_free(got, X509_free);
	got = NULL;
	/* every truncation is refused */
	for (size_t cut = 4; cut < n; cut += 4 + cut / 3) {
		int rc = bw_est_certs_parse((uint8_t *)b, cut, &got, &err);

		if (rc == 0) /* a cut at a line end may still be base64 */
			assert_true(sk_X509_num(got) >= 1);
		else
			assert_null(got);
		sk_X509_pop_free(got, X509_free);
		got = NULL;
	}
	free(b);
	assert_int_equal(bw_est_certs_build(pair, 0, &b, &n, &err), BW_EINVAL);
	assert_null(b);
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(dk);
	EVP_PKEY_free(ck);
}

static void test_est_certs__signed_data_with_signer_refused(void **state)
{
	EVP_PKEY *dk = key_p256(), *ck = NULL;
	X509 *ca = NULL, *cert = NULL;
	BIO *in = BIO_new_mem_buf("hello", 5);
	PKCS7 *p7 = NULL;
	unsigned char *der = NULL;
	char *b64 = NULL;
	STACK_OF(X509) *got = NULL;
	struct bw_err err = {0};
	int n;

	(void)state;
	issue(dk, &ca, &cert, &ck);
	p7 = PKCS7_sign(cert, dk, NULL, in, PKCS7_BINARY);
	assert_non_null(p7);
	n = i2d_PKCS7(p7, &der);
	b64 = malloc((size_t)n * 2 + 4);
	EVP_EncodeBlock((unsigned char *)b64, der, n);
	assert_int_equal(bw_est_certs_parse((uint8_t *)b64, strlen(b64), &got,
					    &err),
			 BW_EFORMAT);
	assert_null(got);
	free(b64);
	OPENSSL_free(der);
	PKCS7_free(p7);
	BIO_free(in);
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(dk);
	EVP_PKEY_free(ck);
}

static void test_est_reenroll__rules(void **state)
{
	EVP_PKEY *dk = key_p256(), *nk = key_p256(), *ck = NULL;
	X509 *ca = NULL, *cert = NULL;
	X509_REQ *r = NULL;
	struct bw_err err = {0};

	(void)state;
	issue(dk, &ca, &cert, &ck);
	r = csr_new(nk, UUID, FACTORY, NULL); /* the certificate's subject */
	assert_int_equal(bw_est_reenroll_check(r, cert, &err), 0);
	X509_REQ_free(r);
	r = csr_new(dk, UUID, FACTORY, NULL); /* the old key again */
	assert_int_equal(bw_est_reenroll_check(r, cert, &err), BW_EEXIST);
	X509_REQ_free(r);
	r = csr_new(nk, UUID, NULL, NULL); /* OU missing */
	assert_int_equal(bw_est_reenroll_check(r, cert, &err), BW_EFORMAT);
	X509_REQ_free(r);
	r = csr_new(nk, "1b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", FACTORY, NULL);
	assert_int_equal(bw_est_reenroll_check(r, cert, &err), BW_EFORMAT);
	X509_REQ_free(r);
	r = csr_new(nk, UUID, FACTORY, "DNS:evil.example");
	assert_int_equal(bw_est_reenroll_check(r, cert, &err), BW_EFORMAT);
	X509_REQ_free(r);
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(dk);
	EVP_PKEY_free(nk);
	EVP_PKEY_free(ck);
}

static void test_est_csrattrs__der(void **state)
{
	char *b = NULL;
	uint8_t *der = NULL;
	size_t n = 0, dn = 0;
	const unsigned char *p = NULL;
	ASN1_TYPE *t = NULL;

	(void)state;
	assert_int_equal(bw_est_csrattrs(&b, &n, NULL), 0);
	assert_int_equal(bw_est_body_decode((uint8_t *)b, n, NULL, &der, &dn,
					    NULL),
			 0);
	p = der;
	t = d2i_ASN1_TYPE(NULL, &p, (long)dn);
	assert_non_null(t);
	assert_int_equal(ASN1_TYPE_get(t), V_ASN1_SEQUENCE);
	assert_ptr_equal(p, der + dn);
	ASN1_TYPE_free(t);
	free(der);
	free(b);
}

static void test_est_path__parse(void **state)
{
	char label[BW_EST_LABEL_MAX + 1];
	enum bw_est_op op = 0;
	char longp[300];

	(void)state;
	assert_int_equal(bw_est_path_parse("/.well-known/est/cacerts", &op,
					   label),
			 0);
	assert_int_equal(op, BW_EST_CACERTS);
	assert_string_equal(label, "");
	assert_int_equal(bw_est_path_parse("/.well-known/est/fleet-1/"
					   "simplereenroll",
					   &op, label),
			 0);
	assert_int_equal(op, BW_EST_SIMPLEREENROLL);
	assert_string_equal(label, "fleet-1");
	assert_int_equal(bw_est_path_parse("/.well-known/est/csrattrs", &op,
					   label),
			 0);
	assert_int_equal(op, BW_EST_CSRATTRS);
	assert_int_equal(bw_est_path_parse("/.well-known/est/x", &op, label),
			 BW_ENOTFOUND);
	assert_int_equal(bw_est_path_parse("/.well-known/est/", &op, label),
			 BW_ENOTFOUND);
	assert_int_equal(bw_est_path_parse("/.well-known/est/../cacerts", &op,
					   label),
			 BW_EFORMAT);
	assert_int_equal(bw_est_path_parse("/.well-known/est//cacerts", &op,
					   label),
			 BW_EFORMAT);
	assert_int_equal(bw_est_path_parse("/.well-known/est/a/b/cacerts", &op,
					   label),
			 BW_ENOTFOUND);
	assert_int_equal(bw_est_path_parse("/.well-known/est/a%20b/cacerts",
					   &op, label),
			 BW_EFORMAT);
	assert_int_equal(bw_est_path_parse("/sign", &op, label), BW_ENOTFOUND);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	memcpy(longp, "/.well-known/est/", 17);
	assert_int_equal(bw_est_path_parse(longp, &op, label), BW_EFORMAT);
	assert_string_equal(label, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_est_body__whitespace_and_cte),
	    cmocka_unit_test(test_est_body__refusals),
	    cmocka_unit_test(test_est_certs__roundtrip_and_refusals),
	    cmocka_unit_test(test_est_certs__signed_data_with_signer_refused),
	    cmocka_unit_test(test_est_reenroll__rules),
	    cmocka_unit_test(test_est_csrattrs__der),
	    cmocka_unit_test(test_est_path__parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
