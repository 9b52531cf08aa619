/*
 * Proofs on the wire: arrays of base64 hashes, in RFC 9162 order.
 */
#include <string.h>

#include "bulwark/tlog.h"

int bw_tlog_proof_from_json(const json_t *obj, struct bw_tlog_proof *out,
			    struct bw_err *err)
{
	const json_t *a = json_is_object(obj) ? json_object_get(obj, "hashes")
					       : NULL;
	size_t i;

	out->n = 0;
	if (!json_is_array(a))
		return bw_err_set(err, BW_EFORMAT, "tlog: proof needs a "
				  "\"hashes\" array");
	if (json_array_size(a) > BW_TLOG_PROOF_MAX)
		return bw_err_set(err, BW_ETOOBIG, "tlog: proof of more than "
				  "%d hashes", BW_TLOG_PROOF_MAX);
	for (i = 0; i < json_array_size(a); i++) {
		const json_t *h = json_array_get(a, i);

		if (!json_is_string(h) ||
		    bw_tlog_hash_from_b64(json_string_value(h),
					  json_string_length(h),
					  &out->h[i]) != 0) {
			out->n = 0;
			return bw_err_set(err, BW_EFORMAT, "tlog: proof hash "
					  "%zu is not base64 of 32 bytes", i);
		}
	}
	out->n = json_array_size(a);
	return 0;
}

json_t *bw_tlog_proof_to_json(const struct bw_tlog_proof *p)
{
	json_t *a = json_array();
	char b64[BW_TLOG_HASH_B64];
	size_t i;

	for (i = 0; a && i < p->n; i++) {
		bw_tlog_hash_b64(&p->h[i], b64);
		if (json_array_append_new(a, json_string(b64)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
