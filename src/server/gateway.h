/*
 * bulwarkd's device gateway listener (gateway.c): TUF metadata, target
 * files and events for devices with a client certificate.
 */
#ifndef BW_SRV_GATEWAY_H
#define BW_SRV_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

struct evhttp_request;
struct bw_srv_metacache;

/* The gateway's cache of the newest metadata (gateway.c). */
int bw_srv_metacache_new(struct bw_srv_metacache **out);
void bw_srv_metacache_free(struct bw_srv_metacache *c);

void bw_srv_gateway_handle(struct evhttp_request *req, void *arg);

/* Metadata file names a device may ask for: "timestamp.json",
 * "[N.]snapshot.json", "[N.]targets.json", "[N.]root.json". */
int bw_srv_meta_name_parse(const char *name, char *role, size_t rolelen,
			   int64_t *version);

#endif
