/*
 * Transparency log entries: small canonical JSON records. The leaf hash
 * covers the exact bytes, so an entry is only accepted in its canonical
 * form (one record, one encoding).
 */
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"
#include "bulwark/tlog.h"

#define ACTION_MAX 64
#define BY_MAX 512

/* Actions: lowercase words joined by '.', '-' or '_' ("tuf.upload"). */
static int action_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > ACTION_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

static int by_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > BY_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

int bw_tlog_entry_build(const char *action, const char *by, int64_t time,
			const json_t *objects, uint8_t **out, size_t *len,
			struct bw_err *err)
{
	json_t *e = NULL;
	int rc;

	*out = NULL;
	*len = 0;
	if (!action_ok(action) || !by_ok(by) || time < 0 ||
	    (objects && !json_is_object(objects)))
		return bw_err_set(err, BW_EINVAL, "tlog: entry needs an action "
				  "([a-z0-9._-]), an actor (printable, no "
				  "space), a time and an object");
	e = json_pack("{s:s, s:s, s:O?, s:I, s:i}", "action", action, "by", by,
		      "objects", (json_t *)objects, "time", (json_int_t)time,
		      "v", 1);
	if (!e)
		return bw_err_set(err, BW_ENOMEM, "tlog: out of memory");
	if (!objects && json_object_set_new(e, "objects", json_object()) != 0) {
		json_decref(e);
		return bw_err_set(err, BW_ENOMEM, "tlog: out of memory");
	}
	rc = bw_json_canonical_alloc(e, out, len, err);
	json_decref(e);
	if (rc == 0 && *len > BW_TLOG_ENTRY_MAX) {
		free(*out);
		*out = NULL;
		*len = 0;
		rc = bw_err_set(err, BW_ETOOBIG, "tlog: entry larger than %d "
				"bytes", BW_TLOG_ENTRY_MAX);
	}
	return rc;
}

int bw_tlog_entry_parse(const uint8_t *buf, size_t len, json_t **out,
			struct bw_err *err)
{
	struct bw_json_limits lim = { BW_TLOG_ENTRY_MAX, 16, 0 };
	json_t *e = NULL, *v;
	uint8_t *canon = NULL;
	size_t clen = 0;
	int rc;

	*out = NULL;
	rc = bw_json_parse(buf, len, &lim, &e, err);
	if (rc != 0)
		return rc;
	rc = bw_err_set(err, BW_EFORMAT, "tlog: entry needs exactly action, "
			"by, objects, time and v = 1");
	if (!json_is_object(e) || json_object_size(e) != 5)
		goto out;
	v = json_object_get(e, "action");
	if (!json_is_string(v) || !action_ok(json_string_value(v)))
		goto out;
	v = json_object_get(e, "by");
	if (!json_is_string(v) || !by_ok(json_string_value(v)))
		goto out;
	if (!json_is_object(json_object_get(e, "objects")))
		goto out;
	v = json_object_get(e, "time");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		goto out;
	v = json_object_get(e, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		goto out;
	rc = bw_json_canonical_alloc(e, &canon, &clen, err);
	if (rc != 0)
		goto out;
	if (clen != len || memcmp(canon, buf, len) != 0) {
		rc = bw_err_set(err, BW_EFORMAT, "tlog: entry is not in "
				"canonical JSON form");
		goto out;
	}
	*out = e;
	e = NULL;
	bw_err_clear(err);
	rc = 0;
out:
	free(canon);
	json_decref(e);
	return rc;
}
