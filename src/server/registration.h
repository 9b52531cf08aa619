/*
 * bulwarkd's registration listener (registration.c): signs a device
 * certificate for a CSR from a device with a factory certificate.
 */
#ifndef BW_SRV_REGISTRATION_H
#define BW_SRV_REGISTRATION_H

#include <stddef.h>

#include <jansson.h>

#include "bulwark/error.h"
#include "storage.h"

struct evhttp_request;

void bw_srv_registration_handle(struct evhttp_request *req, void *arg);

/* POST /sign body: {uuid, name?, hardware-id, csr, group?, overrides?};
 * integers are accepted for string scalars. r->csr points into b. */
#define BW_SRV_REG_STR_MAX 128
struct bw_srv_reg_req {
	char uuid[BW_STORE_UUID_MAX + 1];
	char name[BW_SRV_REG_STR_MAX + 1];
	char hwid[BW_SRV_REG_STR_MAX + 1];
	const char *csr;
	size_t csr_len;
};
int bw_srv_registration_parse(json_t *b, struct bw_srv_reg_req *r,
			      struct bw_err *err);

#endif
