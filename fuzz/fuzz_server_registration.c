/*
 * Fuzz target: the registration POST /sign body (JSON, field checks, then
 * the CSR parser and device profile check the server runs next).
 */
#include <stdint.h>

#include <openssl/x509.h>

#include "bulwark/json.h"
#include "bulwark/pki.h"
#include "registration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_json_limits lim = {.max_bytes = 32768, .max_depth = 4};
	struct bw_pki_csr_policy pol = {BW_PKI_PROFILE_DEVICE, "acme", 0};
	struct bw_srv_reg_req r;
	struct bw_err err;
	X509_REQ *req = NULL;
	json_t *b = NULL;

	if (bw_json_parse(data, size, &lim, &b, &err))
		return 0;
	if (!bw_srv_registration_parse(b, &r, &err) &&
	    !bw_pki_csr_parse((const uint8_t *)r.csr, r.csr_len, &req, &err))
		(void)bw_pki_csr_check(req, &pol, &err);
	X509_REQ_free(req);
	json_decref(b);
	return 0;
}
