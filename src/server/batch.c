/*
 * Group commit (batch.h). The queue runs from an event made active when
 * its first job arrives: libevent runs it after the callbacks already due
 * in this turn, so every request that arrived with the first joins it.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "batch.h"
#include "server.h"
#include "storage.h"

#define BATCH_MAX 64

struct bw_srv_batch {
	struct bw_srv *srv;
	int light;
	struct event *ev;
	struct bw_srv_batch_job *jobs[BATCH_MAX];
	size_t n;
};

/* One job in the begun transaction: its code (0: its writes kept); *kept
 * set when something of it stays (its writes, or what first wrote). */
static int job_run(struct bw_srv *srv, struct bw_srv_batch_job *j, int *kept)
{
	const struct bw_store_ops *ops = srv->store->ops;
	struct bw_err err = {0};
	int rc = 0, go = 1;

	*kept = 0;
	if (j->first) {
		/* no savepoint of its own: a failed statement here fails
		 * the whole transaction on PostgreSQL, and every job with it
		 * (the commit fails), which is the honest answer */
		if ((rc = j->first(srv, j, &go)))
			return rc;
		*kept = 1;
		if (!go)
			return BW_ESTATE;
	}
	if ((rc = ops->savepoint(srv->store, &err)))
		return rc;
	if (!(rc = j->run(srv, j)) &&
	    !(rc = ops->savepoint_release(srv->store, &err))) {
		*kept = 1;
		return 0;
	}
	ops->savepoint_undo(srv->store);
	return rc;
}

void bw_srv_batch_run(struct bw_srv_batch *b)
{
	struct bw_srv *srv = b->srv;
	const struct bw_store_ops *ops = srv->store->ops;
	struct bw_srv_batch_job *jobs[BATCH_MAX];
	int rcs[BATCH_MAX];
	struct bw_err err = {0};
	size_t n = b->n, ok = 0;
	int rc = 0;

	memcpy(jobs, b->jobs, n * sizeof(jobs[0]));
	b->n = 0;
	if (n == 0)
		return;
	rc = b->light ? ops->begin_light(srv->store, &err)
		      : ops->begin(srv->store, &err);
	for (size_t i = 0; i < n; i++) {
		int kept = 0;

		rcs[i] = rc ? rc : job_run(srv, jobs[i], &kept);
		ok += kept;
	}
	if (!rc && ok)
		rc = ops->commit(srv->store, &err);
	if (rc || !ok)
		ops->rollback(srv->store);
	for (size_t i = 0; i < n; i++)
		jobs[i]->done(srv, jobs[i], rc ? rc : rcs[i], rc ? &err : NULL);
}

static void batch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	bw_srv_batch_run(arg);
}

int bw_srv_batch_new(struct bw_srv *srv, int light, struct bw_srv_batch **out)
{
	struct bw_srv_batch *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return BW_ENOMEM;
	b->srv = srv;
	b->light = light;
	if (!(b->ev = event_new(srv->base, -1, 0, batch_cb, b))) {
		free(b);
		return BW_ENOMEM;
	}
	*out = b;
	return 0;
}

int bw_srv_batch_add(struct bw_srv_batch *b, struct bw_srv_batch_job *j)
{
	if (b->n == BATCH_MAX)
		bw_srv_batch_run(b);
	b->jobs[b->n++] = j;
	if (b->n == 1)
		event_active(b->ev, EV_TIMEOUT, 0);
	return 0;
}

void bw_srv_batch_free(struct bw_srv_batch *b)
{
	if (!b)
		return;
	event_free(b->ev);
	free(b);
}
