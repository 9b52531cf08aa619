/*
 * bw_json_serialize: the served form equals the canonical form when that is
 * valid JSON, and otherwise is valid JSON with the same canonical form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/json.h"

static void roundtrip(const char *text, int expect_identical)
{
	json_t *v = NULL, *back = NULL;
	uint8_t *canon = NULL, *served = NULL, *canon2 = NULL;
	size_t clen = 0, slen = 0, c2len = 0;

	assert_int_equal(bw_json_parse(text, strlen(text), NULL, &v, NULL), 0);
	assert_int_equal(bw_json_canonical_alloc(v, &canon, &clen, NULL), 0);
	assert_int_equal(bw_json_serialize(v, &served, &slen, NULL), 0);
	if (expect_identical) {
		assert_int_equal(slen, clen);
		assert_memory_equal(served, canon, clen);
	} else {
		assert_true(slen != clen || memcmp(served, canon, clen) != 0);
	}
	/* Served bytes always parse strictly, to the same canonical form. */
	assert_int_equal(bw_json_parse(served, slen, NULL, &back, NULL), 0);
	assert_int_equal(bw_json_canonical_alloc(back, &canon2, &c2len, NULL), 0);
	assert_int_equal(c2len, clen);
	assert_memory_equal(canon2, canon, clen);
	free(canon);
	free(canon2);
	free(served);
	json_decref(v);
	json_decref(back);
}

static void test_json_serialize__canonical_when_valid(void **state)
{
	(void)state;
	roundtrip("{\"b\":1,\"a\":{\"z\":[],\"y\":{}},\"ab\":\"x/y\\\"\\\\\"}", 1);
	roundtrip("{\"\\u00fc\":\"\\ud83d\\ude80 \\u65e5\",\"u\":-9223372036854775808}",
		  1);
}

static void test_json_serialize__escapes_pem_newlines(void **state)
{
	(void)state;
	roundtrip("{\"public\":\"-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END "
		  "PUBLIC KEY-----\\n\",\"t\":\"\\u0001\\t\"}",
		  0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_serialize__canonical_when_valid),
		cmocka_unit_test(test_json_serialize__escapes_pem_newlines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
