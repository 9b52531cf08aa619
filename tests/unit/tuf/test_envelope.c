/*
 * Unit tests: metadata signing helpers and TUF time strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/crypto.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"

static struct bw_signer *seeded_signer(uint8_t fill)
{
	uint8_t seed[32];
	struct bw_signer *s = NULL;

	memset(seed, fill, sizeof(seed));
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, &s, NULL),
			 0);
	assert_non_null(s);
	return s;
}

static json_t *sample_signed(void)
{
	json_t *v = json_pack("{s:s, s:i, s:s, s:s}", "_type", "timestamp",
			      "version", 7, "expires", "2099-01-01T00:00:00Z",
			      "spec_version", "1.0.31");
	assert_non_null(v);
	return v;
}

/* Verify signature entry i of env against signer's key. */
static int verify_entry(const json_t *env, size_t i, struct bw_signer *s)
{
	const json_t *sig =
	    json_array_get(json_object_get(env, "signatures"), i);
	const char *hex = json_string_value(json_object_get(sig, "sig"));
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc;

	assert_non_null(hex);
	assert_string_equal(json_string_value(json_object_get(sig, "keyid")),
			    bw_signer_key(s)->keyid);
	assert_int_equal(bw_json_canonical_alloc(json_object_get(env, "signed"),
						 &msg, &len, NULL),
			 0);
	rc = bw_key_verify(bw_signer_key(s), msg, len, hex, strlen(hex), NULL);
	free(msg);
	return rc;
}

static void test_tuf_envelope__sign_verifies(void **state)
{
	struct bw_signer *a = seeded_signer(1), *b = seeded_signer(2);
	struct bw_signer *signers[2] = {a, b};
	json_t *sobj = sample_signed(), *env = NULL;
	struct bw_err err;

	(void)state;
	assert_int_equal(bw_tuf_envelope_sign(sobj, signers, 2, &env, &err), 0);
	assert_int_equal(json_array_size(json_object_get(env, "signatures")),
			 2);
	assert_int_equal(verify_entry(env, 0, a), 0);
	assert_int_equal(verify_entry(env, 1, b), 0);
	assert_true(json_object_get(env, "signed") == sobj);

	/* Any change to "signed" breaks the signature. */
	json_object_set_new(sobj, "version", json_integer(8));
	assert_int_equal(verify_entry(env, 0, a), BW_ESIG);
	json_decref(env);
	json_decref(sobj);
	bw_signer_free(a);
	bw_signer_free(b);
}

static void test_tuf_envelope__same_key_once(void **state)
{
	struct bw_signer *a = seeded_signer(3);
	struct bw_signer *signers[2] = {a, a};
	json_t *sobj = sample_signed(), *env = NULL;

	(void)state;
	assert_int_equal(bw_tuf_envelope_sign(sobj, signers, 2, &env, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(env, "signatures")),
			 1);
	assert_int_equal(verify_entry(env, 0, a), 0);
	json_decref(env);
	json_decref(sobj);
	bw_signer_free(a);
}

static void test_tuf_envelope__add_replaces(void **state)
{
	struct bw_signer *a = seeded_signer(4), *b = seeded_signer(5);
	json_t *sobj = sample_signed(), *env = NULL, *sigs;

	(void)state;
	assert_int_equal(bw_tuf_envelope_sign(sobj, NULL, 0, &env, NULL), 0);
	sigs = json_object_get(env, "signatures");
	assert_int_equal(json_array_size(sigs), 0);

	assert_int_equal(bw_tuf_envelope_add_signature(env, a, NULL), 0);
	assert_int_equal(json_array_size(sigs), 1);
	/* Re-sign after a change: a's entry is replaced, not duplicated. */
	json_object_set_new(sobj, "version", json_integer(9));
	assert_int_equal(verify_entry(env, 0, a), BW_ESIG);
	assert_int_equal(bw_tuf_envelope_add_signature(env, a, NULL), 0);
	assert_int_equal(json_array_size(sigs), 1);
	assert_int_equal(verify_entry(env, 0, a), 0);

	assert_int_equal(bw_tuf_envelope_add_signature(env, b, NULL), 0);
	assert_int_equal(json_array_size(sigs), 2);
	assert_int_equal(verify_entry(env, 1, b), 0);
	json_decref(env);
	json_decref(sobj);
	bw_signer_free(a);
	bw_signer_free(b);
}

static void test_tuf_envelope__bad_args(void **state)
{
	struct bw_signer *a = seeded_signer(6);
	json_t *env = json_pack("{s:[], s:s}", "signatures", "signed", "x");
	json_t *arr = json_array(), *out = NULL;
	struct bw_err err;

	(void)state;
	assert_int_equal(bw_tuf_envelope_add_signature(env, a, &err),
			 BW_EFORMAT);
	assert_int_equal(bw_tuf_envelope_sign(arr, &a, 1, &out, NULL),
			 BW_EINVAL);
	assert_null(out);
	json_decref(env);
	json_decref(arr);
	bw_signer_free(a);
}

static void test_tuf_time__parse_valid(void **state)
{
	int64_t t = 0;

	(void)state;
	assert_int_equal(bw_tuf_time_parse("2099-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, INT64_C(4070908800));
	assert_int_equal(bw_tuf_time_parse("2020-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, INT64_C(1577836800));
	assert_int_equal(bw_tuf_time_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(bw_tuf_time_parse("2020-02-29T23:59:59Z", &t), 0);
	assert_int_equal(t, INT64_C(1583020799));
	assert_int_equal(bw_tuf_time_parse("2000-02-29T12:00:00Z", &t), 0);
	assert_int_equal(bw_tuf_time_parse("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
}

static void test_tuf_time__parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "2020-02-30T00:00:00Z",
	    "2021-02-29T00:00:00Z",
	    "2100-02-29T00:00:00Z",
	    "2020-04-31T00:00:00Z",
	    "2020-13-01T00:00:00Z",
	    "2020-00-01T00:00:00Z",
	    "2020-01-00T00:00:00Z",
	    "2020-01-01T24:00:00Z",
	    "2020-01-01T00:60:00Z",
	    "2020-01-01T00:00:60Z",
	    "2020-01-01T00:00:00",
	    "2020-01-01 00:00:00Z",
	    "2020-01-01T00:00:00.5Z",
	    "+2020-01-01T00:00:00Z",
	    "2020-01-01T00:00:00Z ",
	    "2020-01-01T00:00:00ZZ",
	    "2020-01-01T00:00:00z",
	    "2020-1-01T00:00:00Z",
	    "2020-01-01T00:00:00+00:00",
	    "-020-01-01T00:00:00Z",
	    "2020-01-01T0a:00:00Z",
	    " 2020-01-01T00:00:00Z",
	    "",
	};
	int64_t t = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bw_tuf_time_parse(bad[i], &t) != BW_EFORMAT)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 42);
	}
	assert_int_equal(bw_tuf_time_parse(NULL, &t), BW_EINVAL);
}

static void test_tuf_time__format_roundtrip(void **state)
{
	static const char *const good[] = {
	    "2099-01-01T00:00:00Z", "2020-01-01T00:00:00Z",
	    "2020-02-29T23:59:59Z", "1970-01-01T00:00:00Z",
	    "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
	    "0000-01-01T00:00:00Z", "2038-01-19T03:14:08Z",
	};
	char buf[21];
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(bw_tuf_time_parse(good[i], &t), 0);
		assert_int_equal(bw_tuf_time_format(t, buf, sizeof(buf)), 0);
		assert_string_equal(buf, good[i]);
	}
	assert_int_equal(bw_tuf_time_format(0, buf, 20), BW_EINVAL);
	assert_int_equal(bw_tuf_time_format(INT64_MAX, buf, sizeof(buf)),
			 BW_EINVAL);
	/* Every day over a few leap cycles survives the round trip. */
	for (int64_t d = 10950; d < 10950 + 4 * 366 + 30; d++) {
		int64_t back = -1;

		assert_int_equal(
		    bw_tuf_time_format(d * 86400 + 3661, buf, sizeof(buf)), 0);
		assert_int_equal(bw_tuf_time_parse(buf, &back), 0);
		assert_int_equal(back, d * 86400 + 3661);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tuf_envelope__sign_verifies),
	    cmocka_unit_test(test_tuf_envelope__same_key_once),
	    cmocka_unit_test(test_tuf_envelope__add_replaces),
	    cmocka_unit_test(test_tuf_envelope__bad_args),
	    cmocka_unit_test(test_tuf_time__parse_valid),
	    cmocka_unit_test(test_tuf_time__parse_rejects),
	    cmocka_unit_test(test_tuf_time__format_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
