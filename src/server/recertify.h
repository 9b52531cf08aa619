/*
 * An operator's re-certify (recertify.c): bind a new certificate to an
 * existing device through the admin API.
 */
#ifndef BW_SRV_RECERTIFY_H
#define BW_SRV_RECERTIFY_H

#include <stddef.h>

#include <openssl/x509.h>

#include "bulwark/error.h"

struct bw_srv;

/*
 * POST /devices/<uuid>/recertify {"csr": PEM}: check the CSR for the
 * device uuid (any case) as registration does (CN = uuid, OU = factory,
 * EC P-256, self-signature; a production claim only for a production
 * device), issue with the registration CA with the record's production
 * flag, supersede a pending EST rotation, bind the certificate
 * (bw_srv_binding_set, how "operator") and log device.cert.issue by `by`
 * (a transparency log actor), in one transaction. On success *cert
 * (caller frees) and *status 200; otherwise nothing is stored and
 * *status is 400 (bad uuid or CSR), 403 (deny-listed, production
 * claim, registration CA not production capable), 404 (no such device),
 * 409 (no registration CA in this process) or 500.
 */
int bw_srv_recertify(struct bw_srv *srv, const char *uuid,
		     const char *csr_pem, size_t csr_len, const char *by,
		     X509 **cert, int *status, struct bw_err *err);

#endif
