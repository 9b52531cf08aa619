/*
 * Request rate limits (http.h: bw_srv_rate_ok), kept in the database so
 * that every worker process and every gateway on the same database share
 * one budget per key: N workers or N gateways admit per_minute requests a
 * minute per key, not N times that. One atomic upsert per request
 * (storage rate_hit); windows are clock minutes.
 */
#include <stdio.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "server.h"

int bw_srv_rate_ok(struct bw_srv *srv, const char *limiter, const char *key,
		   int64_t per_minute)
{
	struct bw_store *st = srv->store;
	struct bw_err err = {0};
	int64_t count = 0;
	int rc = 0;

	/* a light transaction: a count lost with the machine costs nothing,
	 * so no fsync (SQLite) or standby flush (PostgreSQL) per request */
	if (!(rc = st->ops->begin_light(st, &err)) &&
	    !(rc = st->ops->rate_hit(st, limiter, key, (int64_t)time(NULL) / 60,
				     &count, &err)))
		rc = st->ops->commit(st, &err);
	if (rc) {
		st->ops->rollback(st);
		bw_srv_log(BW_SRV_LOG_ERR, "rate limit %s: %s", limiter,
			   err.msg);
		return 0;
	}
	return count <= per_minute;
}
