/*
 * Group commit for bulwarkd's writers (batch.c): the jobs queued in one
 * turn of the event loop run in one transaction, each inside a savepoint
 * of its own (a failed job undoes only its part), and are told the
 * outcome only after the one commit. A job that answers a client in its
 * done callback therefore acknowledges only what is durable, and a batch
 * pays one commit (one fsync) instead of one per job.
 */
#ifndef BW_SRV_BATCH_H
#define BW_SRV_BATCH_H

#include "bulwark/error.h"

struct bw_srv;
struct bw_srv_batch;

struct bw_srv_batch_job {
	/* Optional: writes that stay even when run fails or is skipped (a
	 * request's rate-limit count), in the batch's transaction before the
	 * job's savepoint. Nonzero: failed (the job fails with this code);
	 * 0 with *go cleared: kept, run skipped and done gets BW_ESTATE. */
	int (*first)(struct bw_srv *srv, struct bw_srv_batch_job *j, int *go);
	/* The job's writes, inside the batch's transaction (and a savepoint
	 * of its own). Nonzero: undone, and done gets this code. */
	int (*run)(struct bw_srv *srv, struct bw_srv_batch_job *j);
	/* After the commit: rc 0 if the job's writes are committed; else
	 * its own failure, or the transaction's (commit_err set). Frees the
	 * job. */
	void (*done)(struct bw_srv *srv, struct bw_srv_batch_job *j, int rc,
		     const struct bw_err *commit_err);
};

/* A queue on srv->base; light: telemetry durability (begin_light), else
 * a full commit (begin). */
int bw_srv_batch_new(struct bw_srv *srv, int light, struct bw_srv_batch **out);
/* Queue j for this turn's batch (a full batch runs at once). On failure
 * j is not queued. */
int bw_srv_batch_add(struct bw_srv_batch *b, struct bw_srv_batch_job *j);
/* Run what is queued now (shutdown). */
void bw_srv_batch_run(struct bw_srv_batch *b);
/* Free the queue (run it first: queued jobs are dropped unanswered). */
void bw_srv_batch_free(struct bw_srv_batch *b);

#endif
