/*
 * The gateway's device record cache and its batched telemetry writes
 * (devcache.c): a device that opens a new TLS connection costs no
 * database read, and its last-seen time, tag and target go to the store
 * in one light transaction per flush instead of one per check-in.
 */
#ifndef BW_SRV_DEVCACHE_H
#define BW_SRV_DEVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/error.h"

struct bw_srv;
struct bw_device_rec;
struct bw_srv_devcache;

/*
 * A cache of at most slots device records (0: no cache, every lookup reads
 * the store and every note is written at once). A record is used only
 * while the server's id_epoch is the one it was read under: the epoch
 * moves on every local deny, binding change and policy change, and when
 * the store's identity change counter moves (another process changed a
 * binding, the deny-list, a CRL or a device CA), polled every
 * gateway.identity_poll_interval. So a cached binding is never older than
 * a cached identity decision (tls.c).
 */
int bw_srv_devcache_new(size_t slots, struct bw_srv_devcache **out);
/* Frees without writing the pending notes (call the flush first). */
void bw_srv_devcache_free(struct bw_srv_devcache *c);

/* The record of uuid: the cached one (*hit = 1; hit may be NULL), or
 * read from the store and kept. BW_ENOTFOUND: the store has no record
 * (nothing kept). A caller about to refuse a device because of a cached
 * record reads it again with bw_srv_devcache_reread: a refusal is never
 * decided on a cached copy. */
int bw_srv_devcache_get(struct bw_srv *srv, const char *uuid,
			struct bw_device_rec *out, int *hit,
			struct bw_err *err);
/* The record of uuid read from the store (and kept). */
int bw_srv_devcache_reread(struct bw_srv *srv, const char *uuid,
			   struct bw_device_rec *out, struct bw_err *err);
/* Keep d as its device's record (read, or written in a transaction that
 * committed, under the current id_epoch). */
void bw_srv_devcache_put(struct bw_srv *srv, const struct bw_device_rec *d);
/* Forget uuid's record (it changed, or may have). */
void bw_srv_devcache_drop(struct bw_srv *srv, const char *uuid);

/*
 * A device's telemetry: last seen, and tag, target and certificate
 * notAfter unless "" / 0. The cached record, if any, is updated at once.
 * A note of last seen alone (the check-in of a device whose last-seen
 * throttle expired: nearly all of them) waits for the next flush; any
 * other is written now (light transaction), so that what the admin API
 * shows of tags, targets and certificates is never behind.
 */
int bw_srv_devcache_note(struct bw_srv *srv, const char *uuid,
			 int64_t last_seen, const char *tag,
			 const char *target, int64_t cert_not_after,
			 struct bw_err *err);
/* Write every pending note in one light transaction (a crash loses at
 * most the last-seen times noted since the last flush, never an event,
 * a registration or a binding). On failure the notes stay pending. */
int bw_srv_devcache_flush(struct bw_srv *srv, struct bw_err *err);
/* Flush every interval_ms on srv->base (the gateway's timer). */
int bw_srv_devcache_start(struct bw_srv *srv, int64_t interval_ms);
/* Pending notes (for tests and the shutdown log). */
size_t bw_srv_devcache_pending(const struct bw_srv_devcache *c);

#endif
