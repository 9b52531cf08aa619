/*
 * POST /events body validation and storage (events.h). The body is a JSON
 * array of update events in the shape aktualizr / bulwark-device send:
 *   {"id", "deviceTime", "eventType": {"id", "version"},
 *    "event": {"correlationId", "targetName", "version", "success",
 *              "details", ...}}
 * Scalars may come as strings. Every string is bounded; "event" may carry
 * further scalar fields (e.g. "ecu"), nothing nested.
 */
#include <string.h>

#include "bulwark/json.h"
#include "events.h"

#define EV_STR_MAX 256
#define EV_DETAILS_MAX 4096

/* Optional string (or, if num_ok, integer) field bounded by max. */
static int field_ok(json_t *obj, const char *key, int required, size_t max,
		    int num_ok)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return !required;
	if (json_is_string(v))
		return json_string_length(v) <= max;
	if (num_ok && json_is_integer(v))
		return 1;
	return 0;
}

static int event_obj_ok(json_t *ev)
{
	const char *k = NULL;
	json_t *v = NULL;
	json_t *succ = json_object_get(ev, "success");

	if (!json_is_object(ev) ||
	    !field_ok(ev, "correlationId", 0, EV_STR_MAX, 0) ||
	    !field_ok(ev, "targetName", 0, EV_STR_MAX, 0) ||
	    !field_ok(ev, "version", 0, 64, 1) ||
	    !field_ok(ev, "details", 0, EV_DETAILS_MAX, 0))
		return 0;
	if (succ && !json_is_boolean(succ) &&
	    !(json_is_string(succ) &&
	      (!strcmp(json_string_value(succ), "true") ||
	       !strcmp(json_string_value(succ), "false"))))
		return 0;
	json_object_foreach(ev, k, v)
	{
		if (strlen(k) > 64)
			return 0;
		if (json_is_object(v) || json_is_array(v))
			return 0;
		if (json_is_string(v) && strcmp(k, "details") &&
		    json_string_length(v) > EV_STR_MAX)
			return 0;
	}
	return 1;
}

static int one_event_ok(json_t *e)
{
	json_t *type = json_object_get(e, "eventType");

	if (!json_is_object(e) || json_object_size(e) > 4 ||
	    !field_ok(e, "id", 1, 128, 0) ||
	    json_string_length(json_object_get(e, "id")) == 0 ||
	    !field_ok(e, "deviceTime", 1, 64, 0) || !json_is_object(type) ||
	    json_object_size(type) > 2 || !field_ok(type, "id", 1, 64, 0) ||
	    !field_ok(type, "version", 0, 16, 1))
		return 0;
	return event_obj_ok(json_object_get(e, "event"));
}

static int success_of(json_t *ev)
{
	json_t *s = json_object_get(ev, "success");

	return json_is_true(s) ||
	       (json_is_string(s) && !strcmp(json_string_value(s), "true"));
}

static void note_target(json_t *e, char *target, size_t target_len)
{
	json_t *ev = json_object_get(e, "event");
	const char *type = json_string_value(
	    json_object_get(json_object_get(e, "eventType"), "id"));
	const char *name = json_string_value(json_object_get(ev, "targetName"));

	if (type && name && !strcmp(type, "EcuInstallationCompleted") &&
	    success_of(ev) && strlen(name) < target_len)
		memcpy(target, name, strlen(name) + 1);
}

/* The install status an event reports, or NULL if it reports none:
 * "updating" from the first download to the reboot, then "ok" or
 * "failed" (a failed install, or a boot that fell back). */
static const char *status_of(json_t *e)
{
	static const char *const updating[] = {
	    "EcuDownloadStarted", "EcuDownloadCompleted",
	    "EcuInstallationStarted", "EcuInstallationApplied"};
	const char *type = json_string_value(
	    json_object_get(json_object_get(e, "eventType"), "id"));

	if (!type)
		return NULL;
	for (size_t i = 0; i < sizeof(updating) / sizeof(updating[0]); i++)
		if (!strcmp(type, updating[i]))
			return "updating";
	if (!strcmp(type, "EcuInstallationCompleted"))
		return success_of(json_object_get(e, "event")) ? "ok"
								: "failed";
	if (!strcmp(type, "EcuRollback"))
		return "failed";
	return NULL;
}

int bw_srv_events_parse(const uint8_t *body, size_t len, size_t max_events,
			json_t **arr, struct bw_err *err)
{
	struct bw_json_limits lim = {.max_bytes = len + 1, .max_depth = 4};
	json_t *e = NULL;
	size_t i = 0;
	int rc = 0;

	*arr = NULL;
	if ((rc = bw_json_parse(body, len, &lim, arr, err)))
		return rc;
	rc = bw_err_set(err, BW_EFORMAT, "events: not an array of events");
	if (!json_is_array(*arr))
		goto fail;
	if (json_array_size(*arr) > max_events) {
		rc = bw_err_set(err, BW_ETOOBIG, "events: more than %zu",
				max_events);
		goto fail;
	}
	json_array_foreach(*arr, i, e) if (!one_event_ok(e)) goto fail;
	return 0;
fail:
	json_decref(*arr);
	*arr = NULL;
	return rc;
}

int bw_srv_events_write(struct bw_store *store, const char *uuid, json_t *arr,
			int64_t keep, int64_t now, char *target,
			size_t target_len, struct bw_err *err)
{
	const char *status = NULL;
	uint8_t *bytes = NULL;
	size_t i = 0, n = 0;
	json_t *e = NULL;
	int rc = 0;

	json_array_foreach(arr, i, e)
	{
		free(bytes);
		bytes = NULL;
		if ((rc = bw_json_serialize(e, &bytes, &n, err)) ||
		    (rc = store->ops->event_add(
			 store, uuid,
			 json_string_value(json_object_get(e, "id")),
			 json_string_value(json_object_get(
			     json_object_get(e, "eventType"), "id")),
			 now, bytes, n, err)))
			goto out;
		if (target)
			note_target(e, target, target_len);
		if (status_of(e))
			status = status_of(e);
	}
	if (status &&
	    (rc = store->ops->device_status_set(store, uuid, status, err)))
		goto out;
	/* a device can not fill the disk: only its newest events stay */
	if (keep > 0)
		rc = store->ops->event_trim(store, uuid, keep, err);
out:
	free(bytes);
	return rc;
}

int bw_srv_events_store(struct bw_store *store, const char *uuid,
			const uint8_t *body, size_t len, size_t max_events,
			int64_t keep, int64_t now, char *target,
			size_t target_len, struct bw_err *err)
{
	json_t *arr = NULL;
	int rc = bw_srv_events_parse(body, len, max_events, &arr, err);

	if (rc)
		return rc;
	if (!(rc = store->ops->begin_light(store, err)) &&
	    !(rc = bw_srv_events_write(store, uuid, arr, keep, now, target,
				       target_len, err)))
		rc = store->ops->commit(store, err);
	if (rc)
		store->ops->rollback(store);
	json_decref(arr);
	return rc;
}
