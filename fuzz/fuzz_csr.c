/*
 * Fuzz target for untrusted CSRs (include/bulwark/pki.h): bw_pki_csr_parse
 * then bw_pki_csr_check under every profile, and bw_pki_csr_uuid.
 *
 * Properties checked for every input:
 *   - parse returns 0, BW_EFORMAT, BW_ETOOBIG, BW_ESIG or BW_ENOMEM; on
 *     failure *out stays NULL and err holds a message;
 *   - check returns 0, BW_EFORMAT, BW_EUNSUPPORTED or BW_ENOMEM;
 *   - a CSR accepted as a device CSR has a UUID CN (csr_uuid succeeds) and
 *     an ECDSA P-256 key;
 *   - a CSR accepted without production is also accepted with it.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bulwark/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_csr: %s (%s)\n", what, err->msg);
	abort();
}

static int check(X509_REQ *req, enum bw_pki_profile prof, int production,
		 struct bw_err *err)
{
	struct bw_pki_csr_policy pol = {prof, "acme", production};
	int rc = bw_pki_csr_check(req, &pol, err);

	if (rc != 0 && rc != BW_EFORMAT && rc != BW_EUNSUPPORTED &&
	    rc != BW_ENOMEM)
		violation("unexpected check code", err);
	if (rc != 0 && err->msg[0] == '\0')
		violation("check failed without a message", err);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_err err = {0};
	X509_REQ *req = (X509_REQ *)1;
	char uuid[37];
	int rc;

	rc = bw_pki_csr_parse(data, size, &req, &err);
	if (rc != 0) {
		if (req != NULL)
			violation("failed parse left *out set", &err);
		if (rc != BW_EFORMAT && rc != BW_ETOOBIG && rc != BW_ESIG &&
		    rc != BW_ENOMEM)
			violation("unexpected parse code", &err);
		if (err.msg[0] == '\0')
			violation("parse failed without a message", &err);
		ERR_clear_error();
		return 0;
	}
	if (check(req, BW_PKI_PROFILE_DEVICE, 0, &err) == 0) {
		if (bw_pki_csr_uuid(req, uuid, &err) != 0)
			violation("device CSR without a UUID", &err);
		if (check(req, BW_PKI_PROFILE_DEVICE, 1, &err) != 0)
			violation("production policy stricter on plain CSR",
				  &err);
	}
	(void)check(req, BW_PKI_PROFILE_DEVICE, 1, &err);
	(void)check(req, BW_PKI_PROFILE_SERVER, 0, &err);
	(void)check(req, BW_PKI_PROFILE_DEVICE_CA, 0, &err);
	X509_REQ_free(req);
	ERR_clear_error();
	return 0;
}
