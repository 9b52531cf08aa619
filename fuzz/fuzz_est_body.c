/*
 * Fuzz target for EST bodies (include/bulwark/est.h): the base64 decoder
 * (with and without a Content-Transfer-Encoding header), the base64 DER
 * PKCS#10 parser and the certs-only PKCS#7 reader.
 *
 * Properties checked for every input:
 *   - every call returns 0 or one of its documented codes, with a message
 *     on failure and no output left set;
 *   - decoding never yields more than 3/4 of the input;
 *   - a body that decodes decodes alike with "base64" as the header;
 *   - certificates read from a PKCS#7 build again into a PKCS#7 that
 *     reads back to the same number of certificates.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bulwark/est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_est_body: %s (%s)\n", what, err->msg);
	abort();
}

static void decode(const uint8_t *data, size_t size)
{
	struct bw_err err = {0};
	uint8_t *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	int ra = bw_est_body_decode(data, size, NULL, &a, &na, &err);
	int rb = bw_est_body_decode(data, size, "Base64", &b, &nb, &err);

	if (ra != rb || (ra == 0 && (na != nb || memcmp(a, b, na) != 0)))
		violation("header changed the decoding", &err);
	if (ra != 0 && (a != NULL || na != 0 || err.msg[0] == '\0'))
		violation("failed decode left output or no message", &err);
	if (ra != 0 && ra != BW_EFORMAT && ra != BW_ETOOBIG &&
	    ra != BW_ENOMEM)
		violation("unexpected decode code", &err);
	if (ra == 0 && na > size / 4 * 3)
		violation("decoded more than the input holds", &err);
	free(a);
	free(b);
	if (bw_est_body_decode(data, size, "binary", &b, &nb, &err) !=
		BW_EUNSUPPORTED ||
	    b != NULL)
		violation("a binary transfer encoding was accepted", &err);
}

static void csr(const uint8_t *data, size_t size)
{
	struct bw_err err = {0};
	X509_REQ *req = (X509_REQ *)1;
	int rc = bw_est_csr_parse(data, size, NULL, &req, &err);

	if (rc != 0 && req != NULL)
		violation("failed CSR parse left *out set", &err);
	if (rc != 0 && rc != BW_EFORMAT && rc != BW_ETOOBIG && rc != BW_ESIG &&
	    rc != BW_ENOMEM)
		violation("unexpected CSR code", &err);
	if (rc == 0)
		X509_REQ_free(req);
}

static void certs(const uint8_t *data, size_t size)
{
	struct bw_err err = {0};
	STACK_OF(X509) *sk = NULL, *again = NULL;
	char *b = NULL;
	size_t n = 0;
	int rc = bw_est_certs_parse(data, size, &sk, &err);

	if (rc != 0) {
		if (sk != NULL || err.msg[0] == '\0')
			violation("failed PKCS#7 read left output", &err);
		return;
	}
	if (sk_X509_num(sk) < 1)
		violation("PKCS#7 read with no certificate", &err);
	if (sk_X509_num(sk) <= 64) {
		X509 *list[64];

		for (int i = 0; i < sk_X509_num(sk); i++)
			list[i] = sk_X509_value(sk, i);
		if (bw_est_certs_build(list, (size_t)sk_X509_num(sk), &b, &n,
				       &err) == 0) {
			if (bw_est_certs_parse((uint8_t *)b, n, &again, &err) !=
				0 ||
			    sk_X509_num(again) != sk_X509_num(sk))
				violation("rebuilt PKCS#7 does not read back",
					  &err);
		}
	}
	free(b);
	sk_X509_pop_free(again, X509_free);
	sk_X509_pop_free(sk, X509_free);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode(data, size);
	csr(data, size);
	certs(data, size);
	ERR_clear_error();
	return 0;
}
