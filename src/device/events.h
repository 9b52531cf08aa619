/*
 * The device's bounded event queue and its upload (events.c).
 */
#ifndef BW_DEV_EVENTS_H
#define BW_DEV_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "bulwark/error.h"
#include "bulwark/fetch.h"
#include "state.h"

/* Server text for a message: printable ASCII only, at most cap - 1. */
void bw_dev_printable(const uint8_t *in, size_t len, char *out, size_t cap);
/* A random RFC 4122 version 4 UUID (event ids, correlation ids). */
int bw_dev_uuid(char out[37]);
/* Queue one event (inside the caller's transaction). */
int bw_dev_event_queue(sqlite3 *db, const struct bw_dev_event *ev,
		       const char *correlation, long max_events,
		       struct bw_err *err);
int bw_dev_events_count(sqlite3 *db, long *n, struct bw_err *err);
/* Build the JSON array of up to batch oldest events; *last_seq is the
 * highest sequence number included (for bw_dev_events_drop). */
int bw_dev_events_batch(sqlite3 *db, long batch, char **json, size_t *len,
			int64_t *last_seq, size_t *count, struct bw_err *err);
int bw_dev_events_drop(sqlite3 *db, int64_t last_seq, struct bw_err *err);
/* POST queued events in batches until the queue is empty or a send fails
 * (events stay queued). *sent receives the number delivered. */
int bw_dev_events_flush(sqlite3 *db, struct bw_fetcher *f, const char *url,
			long batch, size_t *sent, struct bw_err *err);

/* Upload the queued events (exit code: BW_DEV_EXIT_OK, or
 * BW_DEV_EXIT_CHECKIN_FAILED with the events kept). Reporting switched
 * off ([server] events_url empty) is OK. */
struct bw_dev;
int bw_dev_send_events(struct bw_dev *d);

#endif
