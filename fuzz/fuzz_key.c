/*
 * Fuzz target for TUF key objects and signature verification
 * (include/bulwark/crypto.h).
 *
 * Input is JSON: either a key object, or {"key": <key>, "msg": "<text>",
 * "sig": "<hex>"}. For every input:
 *   - bw_key_from_json returns 0, BW_EFORMAT, BW_EUNSUPPORTED, BW_ETOOBIG or
 *     BW_ENOMEM; a failure leaves *out NULL and a message in err;
 *   - a parsed key has a 64-character lowercase hex id, re-encodes
 *     (bw_key_to_json) to a key with the same material, and to the same id
 *     when the input had no extra fields;
 *   - bw_key_verify on any signature text returns 0 or BW_ESIG only.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/crypto.h"
#include "bulwark/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_key: %s (%s)\n", what,
		err != NULL ? err->msg : "");
	abort();
}

static int has_extra_fields(const json_t *obj)
{
	return json_object_size(obj) != 3 ||
	       json_object_size(json_object_get(obj, "keyval")) != 1;
}

static void check_key(const json_t *obj, const struct bw_key *key)
{
	struct bw_key *again = NULL;
	json_t *back = NULL;
	struct bw_err err = {0};

	if (strlen(key->keyid) != BW_KEYID_HEX_LEN ||
	    strspn(key->keyid, "0123456789abcdef") != BW_KEYID_HEX_LEN)
		violation("key id is not 64 lowercase hex characters", NULL);
	if (bw_key_to_json(key, &back, &err) != 0)
		violation("a parsed key does not encode", &err);
	if (bw_key_from_json(back, &again, &err) != 0)
		violation("an encoded key does not parse", &err);
	if (!bw_key_same_material(key, again))
		violation("re-encoded key has other material", NULL);
	if (!has_extra_fields(obj) && strcmp(key->keyid, again->keyid) != 0)
		violation("re-encoded key has another id", NULL);
	bw_key_free(again);
	json_decref(back);
}

static void check_verify(const struct bw_key *key, const json_t *msg,
			 const json_t *sig)
{
	struct bw_err err = {0};
	const char *m = msg != NULL ? json_string_value(msg) : "";
	size_t mlen = msg != NULL ? json_string_length(msg) : 0;
	int rc;

	if (!json_is_string(sig))
		return;
	rc =
	    bw_key_verify(key, (const uint8_t *)m, mlen, json_string_value(sig),
			  json_string_length(sig), &err);
	if (rc != 0 && rc != BW_ESIG)
		violation("verify returned neither 0 nor BW_ESIG", &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL, *obj, *msg;
	struct bw_key *key = NULL;
	struct bw_err err = {0};
	int rc;

	if (bw_json_parse(data, size, NULL, &doc, NULL) != 0)
		return 0;
	obj = json_object_get(doc, "key") ? json_object_get(doc, "key") : doc;
	msg = json_is_string(json_object_get(doc, "msg"))
		  ? json_object_get(doc, "msg")
		  : NULL;
	key = (struct bw_key *)&err; /* must come back NULL on failure */
	rc = bw_key_from_json(obj, &key, &err);
	if (rc != 0) {
		if (key != NULL)
			violation("failed parse left a key", &err);
		if (rc != BW_EFORMAT && rc != BW_EUNSUPPORTED &&
		    rc != BW_ETOOBIG && rc != BW_ENOMEM)
			violation("unexpected error code", &err);
		if (err.code != rc || err.msg[0] == '\0')
			violation("error without detail", &err);
	} else {
		check_key(obj, key);
		check_verify(key, msg, json_object_get(doc, "sig"));
	}
	bw_key_free(key);
	json_decref(doc);
	return 0;
}
