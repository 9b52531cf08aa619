/*
 * Device events (events.c): the check and storage of a POST /events body.
 */
#ifndef BW_SRV_EVENTS_H
#define BW_SRV_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/error.h"
#include "storage.h"

/* Validate and store a POST /events body for uuid (at most max_events;
 * keep > 0: only the device's newest keep events stay), in a light
 * transaction of its own. 0 or BW_EFORMAT/ETOOBIG. */
int bw_srv_events_store(struct bw_store *store, const char *uuid,
			const uint8_t *body, size_t len, size_t max_events,
			int64_t keep, int64_t now, char *target,
			size_t target_len, struct bw_err *err);

/* The two halves of bw_srv_events_store: check a body (*arr: a new
 * reference to the events), then write them inside the caller's
 * transaction (target: the newest target an event names, if any). */
#include <jansson.h>
int bw_srv_events_parse(const uint8_t *body, size_t len, size_t max_events,
			json_t **arr, struct bw_err *err);
int bw_srv_events_write(struct bw_store *store, const char *uuid, json_t *arr,
			int64_t keep, int64_t now, char *target,
			size_t target_len, struct bw_err *err);

#endif
