/*
 * The gateway's device record cache and batched telemetry (devcache.h).
 *
 * Records: direct-mapped by a hash of the UUID (a collision evicts), each
 * tagged with the id_epoch it was read under and used only while that
 * epoch holds; a miss (no record) is never cached, so a first contact or
 * a registration is always read from the store.
 *
 * Notes of last seen queue in arrival order and go to the store in one
 * light transaction per flush: on the gateway's timer, when the queue is
 * full, and at shutdown; rarer notes (tag, target, notAfter) are written
 * at once. They update only those columns (storage op device_note), so a
 * stale copy here never overwrites what another gateway or the admin API
 * wrote to the record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "devcache.h"
#include "log.h"
#include "server.h"
#include "storage.h"

/* Notes queued at most before a flush is forced. */
#define NOTES_MAX 4096

struct slot {
	struct bw_device_rec *rec; /* NULL: empty */
	unsigned long epoch;
};

struct note {
	char uuid[BW_STORE_UUID_MAX + 1];
	char tag[BW_STORE_TAG_MAX + 1];
	char target[BW_STORE_NAME_MAX + 1];
	int64_t last_seen;
	int64_t cert_not_after;
};

struct bw_srv_devcache {
	size_t nslots;
	struct slot *s;
	struct note *notes; /* NOTES_MAX */
	size_t nnotes;
	struct event *timer;
};

int bw_srv_devcache_new(size_t slots, struct bw_srv_devcache **out)
{
	struct bw_srv_devcache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return BW_ENOMEM;
	c->nslots = slots;
	if ((slots && !(c->s = calloc(slots, sizeof(*c->s)))) ||
	    !(c->notes = calloc(NOTES_MAX, sizeof(*c->notes)))) {
		bw_srv_devcache_free(c);
		return BW_ENOMEM;
	}
	*out = c;
	return 0;
}

void bw_srv_devcache_free(struct bw_srv_devcache *c)
{
	if (!c)
		return;
	if (c->timer)
		event_free(c->timer);
	for (size_t i = 0; c->s && i < c->nslots; i++)
		free(c->s[i].rec);
	free(c->s);
	free(c->notes);
	free(c);
}

size_t bw_srv_devcache_pending(const struct bw_srv_devcache *c)
{
	return c ? c->nnotes : 0;
}

/* FNV-1a: spreads UUIDs (hex text) well enough for a direct map. */
static struct slot *slot_of(struct bw_srv_devcache *c, const char *uuid)
{
	uint64_t h = UINT64_C(14695981039346656037);

	if (!c || !c->nslots)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)uuid; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	return &c->s[h % c->nslots];
}

static struct bw_device_rec *lookup(struct bw_srv *srv, const char *uuid)
{
	struct slot *s = slot_of(srv->devcache, uuid);

	if (!s || !s->rec || s->epoch != srv->id_epoch ||
	    strcmp(s->rec->uuid, uuid))
		return NULL;
	return s->rec;
}

void bw_srv_devcache_put(struct bw_srv *srv, const struct bw_device_rec *d)
{
	struct slot *s = slot_of(srv->devcache, d->uuid);

	if (!s)
		return;
	if (!s->rec && !(s->rec = malloc(sizeof(*s->rec))))
		return;
	*s->rec = *d;
	s->epoch = srv->id_epoch;
}

void bw_srv_devcache_drop(struct bw_srv *srv, const char *uuid)
{
	struct slot *s = slot_of(srv->devcache, uuid);

	if (s && s->rec && !strcmp(s->rec->uuid, uuid))
		s->epoch = 0; /* id_epoch starts at 1: never current */
}

int bw_srv_devcache_reread(struct bw_srv *srv, const char *uuid,
			   struct bw_device_rec *out, struct bw_err *err)
{
	int rc = srv->store->ops->device_get(srv->store, uuid, out, err);

	if (rc == 0)
		bw_srv_devcache_put(srv, out);
	else
		bw_srv_devcache_drop(srv, uuid);
	return rc;
}

int bw_srv_devcache_get(struct bw_srv *srv, const char *uuid,
			struct bw_device_rec *out, int *hit,
			struct bw_err *err)
{
	const struct bw_device_rec *d = lookup(srv, uuid);

	if (hit)
		*hit = d != NULL;
	if (d) {
		*out = *d;
		return 0;
	}
	return bw_srv_devcache_reread(srv, uuid, out, err);
}

static int notes_write(struct bw_store *st, const struct note *n, size_t count,
		       struct bw_err *err)
{
	int rc = st->ops->begin_light(st, err);

	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = st->ops->device_note(st, n[i].uuid, n[i].last_seen,
					  n[i].tag, n[i].target,
					  n[i].cert_not_after, err);
	if (rc == 0)
		rc = st->ops->commit(st, err);
	if (rc)
		st->ops->rollback(st);
	return rc;
}

int bw_srv_devcache_flush(struct bw_srv *srv, struct bw_err *err)
{
	struct bw_srv_devcache *c = srv->devcache;
	int rc = 0;

	if (!c || !c->nnotes)
		return 0;
	if ((rc = notes_write(srv->store, c->notes, c->nnotes, err)) == 0)
		c->nnotes = 0;
	return rc;
}

int bw_srv_devcache_note(struct bw_srv *srv, const char *uuid,
			 int64_t last_seen, const char *tag,
			 const char *target, int64_t cert_not_after,
			 struct bw_err *err)
{
	struct bw_srv_devcache *c = srv->devcache;
	struct bw_device_rec *d = lookup(srv, uuid);
	struct note one, *n = &one;
	int rc = 0;

	if (d) {
		if (last_seen > d->last_seen)
			d->last_seen = last_seen;
		if (tag[0])
			snprintf(d->tag, sizeof(d->tag), "%s", tag);
		if (target[0])
			snprintf(d->target, sizeof(d->target), "%s", target);
		if (cert_not_after)
			d->cert_not_after = cert_not_after;
	}
	if (c && c->nslots && !tag[0] && !target[0] && !cert_not_after) {
		if (c->nnotes == NOTES_MAX &&
		    (rc = bw_srv_devcache_flush(srv, err)))
			return rc;
		n = &c->notes[c->nnotes++];
	}
	snprintf(n->uuid, sizeof(n->uuid), "%s", uuid);
	snprintf(n->tag, sizeof(n->tag), "%s", tag);
	snprintf(n->target, sizeof(n->target), "%s", target);
	n->last_seen = last_seen;
	n->cert_not_after = cert_not_after;
	return n == &one ? notes_write(srv->store, n, 1, err) : 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bw_srv *srv = arg;
	struct bw_err err = {0};

	(void)fd, (void)what;
	if (bw_srv_devcache_flush(srv, &err))
		bw_srv_log(BW_SRV_LOG_ERR,
			   "device telemetry (%zu pending, kept): %s",
			   bw_srv_devcache_pending(srv->devcache), err.msg);
}

int bw_srv_devcache_start(struct bw_srv *srv, int64_t interval_ms)
{
	struct bw_srv_devcache *c = srv->devcache;
	struct timeval tv = {(time_t)(interval_ms / 1000),
			     (suseconds_t)(interval_ms % 1000) * 1000};

	if (!c || c->timer)
		return 0;
	c->timer = event_new(srv->base, -1, EV_PERSIST, flush_cb, srv);
	return c->timer && event_add(c->timer, &tv) == 0 ? 0 : BW_ENOMEM;
}
