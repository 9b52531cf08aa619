/*
 * bulwarkd's admin API listener (admin.c), authenticated by a bearer
 * token.
 */
#ifndef BW_SRV_ADMIN_H
#define BW_SRV_ADMIN_H

#include <jansson.h>

#include "bulwark/error.h"

struct evhttp_request;

void bw_srv_admin_handle(struct evhttp_request *req, void *arg);

/* Admin "add CI target" body {name, length, hashes.sha256, custom?} into
 * a TUF fileinfo (*fileinfo new reference). */
int bw_srv_admin_fileinfo_parse(json_t *b, json_t **fileinfo,
				struct bw_err *err);

#endif
