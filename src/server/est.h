/*
 * The EST listener (RFC 7030 with RFC 8951): cacerts, csrattrs,
 * simpleenroll (factory token, the checks of POST /sign) and
 * simplereenroll (mutual TLS with the device's current certificate), the
 * completion of a rotation when its certificate is first used, and what
 * devices are told about renewal (GET /device). docs/server.md.
 */
#ifndef BW_SRV_EST_H
#define BW_SRV_EST_H

#include <jansson.h>
#include <openssl/x509.h>

#include "bulwark/error.h"
#include "policy.h"

struct bw_srv;
struct evhttp_request;

void bw_srv_est_handle(struct evhttp_request *req, void *arg);

/*
 * Called for every accepted device certificate (a full identity decision,
 * any listener): if id's certificate was issued by a pending rotation,
 * complete it in one durable transaction: the rotation is marked
 * completed, the certificate it replaced is refused by fingerprint from
 * now on, the device record takes the new fingerprint. Cached identity
 * decisions are dropped. 0, or a storage error (the connection is then
 * refused and the rotation stays pending: the next use tries again).
 */
int bw_srv_est_first_use(struct bw_srv *srv, const struct bw_srv_identity *id,
			 struct bw_err *err);

/*
 * What GET /device tells a device about renewal (new reference):
 * {"renew-before-days": N, "rotate": true if an operator asked this
 * device, or every device of its issuing CA, to rotate after its
 * certificate was issued, "url": the EST base URL if configured}.
 */
json_t *bw_srv_est_device_info(struct bw_srv *srv,
			       const struct bw_srv_identity *id, X509 *cert);

#endif
