/*
 * Request rate limits (http.h: bw_srv_rate_ok), kept in the database so
 * that every worker process and every gateway on the same database share
 * one budget per key: N workers or N gateways admit per_minute requests a
 * minute per key, not N times that. One atomic upsert per request
 * (storage rate_hit); windows are clock minutes. A registration counts
 * inside its own write transaction (bw_srv_rate_count from the group
 * commit's job), so it is one transaction, not two; every other limited
 * request commits its count on its own.
 */
#include <stdio.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "server.h"

int bw_srv_rate_count(struct bw_srv *srv, const char *limiter,
		      const char *key, int64_t per_minute, int *within,
		      struct bw_err *err)
{
	int64_t count = 0;
	int rc = srv->store->ops->rate_hit(srv->store, limiter, key,
					   (int64_t)time(NULL) / 60, &count,
					   err);

	*within = !rc && count <= per_minute;
	return rc;
}

int bw_srv_rate_ok(struct bw_srv *srv, const char *limiter, const char *key,
		   int64_t per_minute)
{
	struct bw_store *st = srv->store;
	struct bw_err err = {0};
	int rc = 0, within = 0;

	/* a light transaction: a count lost with the machine costs nothing,
	 * so no fsync (SQLite) or standby flush (PostgreSQL) per request */
	if (!(rc = st->ops->begin_light(st, &err)) &&
	    !(rc = bw_srv_rate_count(srv, limiter, key, per_minute, &within,
				     &err)))
		rc = st->ops->commit(st, &err);
	if (rc) {
		st->ops->rollback(st);
		bw_srv_log(BW_SRV_LOG_ERR, "rate limit %s: %s", limiter,
			   err.msg);
		return 0;
	}
	return within;
}
