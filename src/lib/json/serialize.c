/*
 * The served form of metadata (bw_json_serialize in include/bulwark/json.h).
 *
 * jansson's compact, key-sorted output already is that form: it sorts keys
 * by their bytes as canonical JSON does, writes non-ASCII raw, escapes only
 * '"', '\' and control characters, and leaves '/' alone.
 */
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"

int bw_json_serialize(const json_t *v, uint8_t **out, size_t *len,
		      struct bw_err *err)
{
	char *text;

	*out = NULL;
	*len = 0;
	if (v == NULL)
		return bw_err_set(err, BW_EINVAL, "nothing to serialize");
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (text == NULL)
		return bw_err_set(err, BW_ENOMEM, "JSON serialization failed");
	*out = (uint8_t *)text;
	*len = strlen(text);
	return 0;
}
