/*
 * Unit tests for the json module: strict parsing and canonical encoding
 * (include/bulwark/json.h).
 *
 * The canonical vectors are what securesystemslib's encode_canonical
 * writes for the same value. test_json_vectors.c checks the encoder
 * against bytes securesystemslib really hashed and signed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"

/* ---- helpers ---------------------------------------------------------- */

static json_t *parse_ok(const char *in, size_t len)
{
	struct bw_err err = {0};
	json_t *v = NULL;
	int rc = bw_json_parse(in, len, NULL, &v, &err);

	if (rc != 0)
		fail_msg("parse of '%.*s' failed: %s", (int)len, in, err.msg);
	assert_non_null(v);
	return v;
}

/* Canonical bytes of v as a NUL-terminated malloc'd string. */
static char *canon(const json_t *v, size_t *len)
{
	struct bw_err err = {0};
	uint8_t *out = NULL;
	size_t n = 0;
	int rc = bw_json_canonical_alloc(v, &out, &n, &err);

	if (rc != 0)
		fail_msg("canonical failed: %d %s", rc, err.msg);
	assert_non_null(out);
	assert_int_equal(out[n], '\0');
	if (len != NULL)
		*len = n;
	return (char *)out;
}

/* Parse in[0..inlen), canonicalise, compare with want[0..wantlen). */
static void check_canon_n(const char *in, size_t inlen, const char *want,
			  size_t wantlen)
{
	json_t *v = parse_ok(in, inlen);
	size_t n;
	char *got = canon(v, &n);

	if (n != wantlen || memcmp(got, want, n) != 0)
		fail_msg("canonical of '%.*s': got '%.*s', want '%.*s'",
			 (int)inlen, in, (int)n, got, (int)wantlen, want);
	free(got);
	json_decref(v);
}

#define check_canon(in, want)                                                  \
	check_canon_n(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void check_parse_fails_n(const char *in, size_t len,
				const struct bw_json_limits *lim, int code)
{
	struct bw_err err = {0};
	json_t *v = (json_t *)&err; /* must be reset to NULL */
	int rc = bw_json_parse(in, len, lim, &v, &err);

	if (rc != code)
		fail_msg("parse of '%.*s': got %d (%s), want %d", (int)len, in,
			 rc, err.msg, code);
	assert_null(v);
	assert_int_equal(err.code, code);
	assert_true(err.msg[0] != '\0');
}

#define check_parse_fails(in, lim, code)                                       \
	check_parse_fails_n(in, sizeof(in) - 1, lim, code)

/* n nested arrays around 1. */
static char *nested_arrays(size_t n, size_t *len)
{
	char *s = malloc(2 * n + 2);

	assert_non_null(s);
	memset(s, '[', n);
	s[n] = '1';
	memset(s + n + 1, ']', n);
	s[2 * n + 1] = '\0';
	*len = 2 * n + 1;
	return s;
}

/* ---- canonical encoding ----------------------------------------------- */

static void test_json_canonical__empty_containers(void **state)
{
	(void)state;
	check_canon("{}", "{}");
	check_canon("[]", "[]");
	check_canon(" { } ", "{}");
	check_canon("[ {}, [ ], {\"a\" : [ ] } ]", "[{},[],{\"a\":[]}]");
	check_canon("\"\"", "\"\"");
}

static void test_json_canonical__scalars(void **state)
{
	(void)state;
	check_canon("true", "true");
	check_canon("false", "false");
	check_canon("null", "null");
	check_canon("[true,false,null]", "[true,false,null]");
	check_canon("\"abc\"", "\"abc\"");
}

static void test_json_canonical__no_whitespace(void **state)
{
	(void)state;
	check_canon("{\n \"b\" : [ 1 ,\t2 ] ,\r\n \"a\" : { \"c\" : null } }\n",
		    "{\"a\":{\"c\":null},\"b\":[1,2]}");
}

static void test_json_canonical__integers(void **state)
{
	(void)state;
	check_canon("0", "0");
	check_canon("-0", "0");
	check_canon("[1,-1,10,-10,1234567890]", "[1,-1,10,-10,1234567890]");
	check_canon("9223372036854775807", "9223372036854775807");
	check_canon("-9223372036854775808", "-9223372036854775808");
	check_canon("{\"n\":-42}", "{\"n\":-42}");
}

static void test_json_canonical__sort_order(void **state)
{
	(void)state;
	check_canon("{\"b\":1,\"c\":2,\"a\":3}", "{\"a\":3,\"b\":1,\"c\":2}");
	/* Upper case sorts before lower case, digits before both. */
	check_canon("{\"a\":1,\"B\":2,\"1\":3,\"_\":4}",
		    "{\"1\":3,\"B\":2,\"_\":4,\"a\":1}");
}

static void test_json_canonical__sort_prefix_keys(void **state)
{
	(void)state;
	check_canon("{\"abc\":1,\"b\":2,\"ab\":3,\"\":4,\"a\":5}",
		    "{\"\":4,\"a\":5,\"ab\":3,\"abc\":1,\"b\":2}");
}

static void test_json_canonical__sort_non_ascii(void **state)
{
	(void)state;
	/*
	 * Code point order: z (7A) < é (E9) < ÿ (FF) < Ā (100) < 日 (65E5)
	 * < ｡ (FF61) < 🚀 (1F680). UTF-16 order would put 🚀 (a surrogate
	 * pair, D83D...) before ｡ (FF61); Python and UTF-8 bytes do not.
	 */
	check_canon("{\"\\ud83d\\ude80\":1,\"\\uff61\":2,\"\\u65e5\":3,"
		    "\"\\u0100\":4,\"\\u00ff\":5,\"\\u00e9\":6,\"z\":7}",
		    "{\"z\":7,\"\xc3\xa9\":6,\"\xc3\xbf\":5,\"\xc4\x80\":4,"
		    "\"\xe6\x97\xa5\":3,\"\xef\xbd\xa1\":2,"
		    "\"\xf0\x9f\x9a\x80\":1}");
	/* A non-ASCII key after its ASCII prefix. */
	check_canon("{\"a\xc3\xa9\":1,\"ab\":2,\"a\":3}",
		    "{\"a\":3,\"ab\":2,\"a\xc3\xa9\":1}");
}

static void test_json_canonical__nested_sort(void **state)
{
	(void)state;
	check_canon(
	    "{\"z\":{\"y\":[{\"b\":1,\"a\":2},{\"d\":{\"f\":1,\"e\":2}}],"
	    "\"x\":0},\"a\":[3,2,1]}",
	    "{\"a\":[3,2,1],\"z\":{\"x\":0,\"y\":[{\"a\":2,\"b\":1},"
	    "{\"d\":{\"e\":2,\"f\":1}}]}}");
}

static void test_json_canonical__quotes_backslashes(void **state)
{
	(void)state;
	/* Only " and \ are escaped; "\/" decodes to a plain '/'. */
	check_canon("\"a\\\"b\\\\c\\/d\"", "\"a\\\"b\\\\c/d\"");
	check_canon("\"\\\"\"", "\"\\\"\"");
	check_canon("\"\\\\\"", "\"\\\\\"");
	check_canon("\"\\\\\\\"\\\\\"", "\"\\\\\\\"\\\\\"");
	check_canon("{\"k\\\"\\\\\":\"v\"}", "{\"k\\\"\\\\\":\"v\"}");
}

static void test_json_canonical__control_chars_raw(void **state)
{
	(void)state;
	check_canon("\"a\\nb\\tc\\u0001d\\r\\b\\f\\u001f\"", "\"a\nb\tc\x01"
							     "d\r\b\f\x1f\"");
	check_canon("{\"\\n\":1}", "{\"\n\":1}");
	check_canon("\"\\u007f\"", "\"\x7f\"");
}

static void test_json_canonical__unicode_raw(void **state)
{
	(void)state;
	/* 2-, 3- and 4-byte UTF-8, raw in the input. */
	check_canon("\"\xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\"",
		    "\"\xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\"");
	/* The same as \u escapes, the emoji as a surrogate pair. */
	check_canon("\"\\u00fc \\u65e5\\u672c \\ud83d\\ude80\"",
		    "\"\xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\"");
	/* Upper-case hex digits, and the edges of each length. */
	check_canon(
	    "\"\\u0080\\u07FF\\u0800\\uFFFF\\uD800\\uDC00\\uDBFF\\uDFFF\"",
	    "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"
	    "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
	/* The python-tuf basic-ed25519 target path. */
	check_canon("\"files/release notes \\u00fc \\u65e5\\u672c "
		    "\\ud83d\\ude80.txt\"",
		    "\"files/release notes \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac "
		    "\xf0\x9f\x9a\x80.txt\"");
}

static void test_json_canonical__reals_rejected(void **state)
{
	struct bw_json_limits lim = {.allow_reals = 1};
	struct bw_err err = {0};
	struct bw_buf b;
	json_t *v = NULL;
	uint8_t *out = (uint8_t *)&err;
	size_t len = 99;

	(void)state;
	assert_int_equal(bw_json_parse("{\"a\":[1,2.5]}", 13, &lim, &v, &err),
			 0);
	bw_buf_init(&b, 1024);
	assert_int_equal(bw_buf_append_str(&b, "keep"), 0);
	assert_int_equal(bw_json_canonical(v, &b, &err), BW_EFORMAT);
	assert_int_equal(err.code, BW_EFORMAT);
	/* Nothing of the partial encoding is left behind. */
	assert_int_equal(b.len, 4);
	assert_string_equal((char *)b.data, "keep");
	assert_int_equal(bw_json_canonical_alloc(v, &out, &len, &err),
			 BW_EFORMAT);
	assert_null(out);
	assert_int_equal(len, 0);
	bw_buf_dispose(&b);
	json_decref(v);
}

static void test_json_canonical__appends(void **state)
{
	struct bw_err err = {0};
	struct bw_buf b;
	json_t *v = parse_ok("{\"b\":[1],\"a\":\"x\"}", 17);

	(void)state;
	bw_buf_init(&b, 1024);
	assert_int_equal(bw_buf_append_str(&b, "pre:"), 0);
	assert_int_equal(bw_json_canonical(v, &b, &err), 0);
	assert_int_equal(bw_json_canonical(v, &b, &err), 0);
	assert_string_equal(
	    (char *)b.data,
	    "pre:{\"a\":\"x\",\"b\":[1]}{\"a\":\"x\",\"b\":[1]}");
	bw_buf_dispose(&b);
	json_decref(v);
}

static void test_json_canonical__buffer_cap(void **state)
{
	struct bw_err err = {0};
	struct bw_buf b;
	json_t *v = parse_ok("{\"key\":\"value\"}", 15); /* 15 bytes out */

	(void)state;
	bw_buf_init(&b, 14);
	assert_int_equal(bw_json_canonical(v, &b, &err), BW_ETOOBIG);
	assert_int_equal(err.code, BW_ETOOBIG);
	assert_int_equal(b.len, 0);
	bw_buf_dispose(&b);

	bw_buf_init(&b, 15);
	assert_int_equal(bw_json_canonical(v, &b, &err), 0);
	assert_string_equal((char *)b.data, "{\"key\":\"value\"}");
	/* Full now: the next one fails and leaves the first intact. */
	assert_int_equal(bw_json_canonical(v, &b, &err), BW_ETOOBIG);
	assert_int_equal(b.len, 15);
	assert_string_equal((char *)b.data, "{\"key\":\"value\"}");
	bw_buf_dispose(&b);
	json_decref(v);
}

static void test_json_canonical__cap_on_large_output(void **state)
{
	struct bw_err err = {0};
	struct bw_buf b;
	json_t *a = json_array();
	size_t full;
	char *c;

	(void)state;
	/* Large enough that the encoder flushes several times. */
	for (int i = 0; i < 20000; i++)
		assert_int_equal(json_array_append_new(a, json_integer(i)), 0);
	c = canon(a, &full);
	bw_buf_init(&b, full - 1);
	assert_int_equal(bw_json_canonical(a, &b, &err), BW_ETOOBIG);
	assert_int_equal(b.len, 0);
	bw_buf_dispose(&b);
	bw_buf_init(&b, full);
	assert_int_equal(bw_json_canonical(a, &b, &err), 0);
	assert_int_equal(b.len, full);
	assert_memory_equal(b.data, c, full);
	bw_buf_dispose(&b);
	free(c);
	json_decref(a);
}

static void test_json_canonical__large_object_sorted(void **state)
{
	enum { N = 30000 };
	json_t *o = json_object();
	struct bw_buf want;
	char key[32];
	size_t len;
	char *got;

	(void)state;
	/* Insert in a scrambled order (7919 is coprime to N). */
	for (size_t i = 0; i < N; i++) {
		size_t k = (i * 7919) % N;

		snprintf(key, sizeof(key), "files/t-%05zu.bin", k);
		assert_int_equal(
		    json_object_set_new(o, key, json_integer((json_int_t)k)),
		    0);
	}
	bw_buf_init(&want, SIZE_MAX - 1);
	assert_int_equal(bw_buf_append_str(&want, "{"), 0);
	for (size_t k = 0; k < N; k++) {
		char item[64];

		snprintf(item, sizeof(item), "%s\"files/t-%05zu.bin\":%zu",
			 k ? "," : "", k, k);
		assert_int_equal(bw_buf_append_str(&want, item), 0);
	}
	assert_int_equal(bw_buf_append_str(&want, "}"), 0);
	got = canon(o, &len);
	assert_int_equal(len, want.len);
	assert_memory_equal(got, want.data, len);
	free(got);
	bw_buf_dispose(&want);
	json_decref(o);
}

/* Values a caller built by hand (not through the parser). */
static void test_json_canonical__built_values(void **state)
{
	json_t *o = json_object();
	size_t len;
	char *got;
	static const char want[] = "{\"a\":\"x\0y\",\"a\0\":1,\"a\0b\":2,"
				   "\"a\x01\":3}";

	(void)state;
	/* jansson lets a caller put NUL in strings and keys; written raw. */
	assert_int_equal(json_object_setn_new(o, "a\x01", 2, json_integer(3)),
			 0);
	assert_int_equal(json_object_setn_new(o, "a\0b", 3, json_integer(2)),
			 0);
	assert_int_equal(json_object_setn_new(o, "a\0", 2, json_integer(1)), 0);
	assert_int_equal(json_object_set_new(o, "a", json_stringn("x\0y", 3)),
			 0);
	got = canon(o, &len);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(got, want, len);
	free(got);
	json_decref(o);
}

static void check_canon_rejects_string(const char *s, size_t len)
{
	struct bw_err err = {0};
	uint8_t *out = NULL;
	size_t n = 0;
	json_t *v = json_stringn_nocheck(s, len);
	json_t *o = json_object();

	assert_non_null(v);
	assert_int_equal(bw_json_canonical_alloc(v, &out, &n, &err),
			 BW_EFORMAT);
	assert_null(out);
	/* The same bytes as an object key. */
	assert_int_equal(json_object_setn_nocheck(o, s, len, json_true()), 0);
	assert_int_equal(bw_json_canonical_alloc(o, &out, &n, &err),
			 BW_EFORMAT);
	json_decref(o);
	json_decref(v);
}

static void test_json_canonical__invalid_utf8_rejected(void **state)
{
	(void)state;
	check_canon_rejects_string("\xff", 1);
	check_canon_rejects_string("a\x80", 2);	       /* lone continuation */
	check_canon_rejects_string("\xc0\xaf", 2);     /* overlong '/' */
	check_canon_rejects_string("\xe0\x80\xaf", 3); /* overlong */
	check_canon_rejects_string("\xed\xa0\x80", 3); /* surrogate */
	check_canon_rejects_string("\xf4\x90\x80\x80", 4); /* > U+10FFFF */
	check_canon_rejects_string("\xe6\x97", 2);	   /* truncated */
	check_canon_rejects_string("\xf0\x9f\x9a", 3);	   /* truncated */
}

static void test_json_canonical__deep_and_cyclic(void **state)
{
	struct bw_err err = {0};
	uint8_t *out = NULL;
	size_t len = 0;
	struct bw_json_limits deep = {.max_depth = 100000};
	json_t *root = json_array(), *cur = root, *again = NULL, *a, *b;

	(void)state;
	/*
	 * The parser's limit: 2048 levels, the innermost value's included.
	 * 2048 nested empty arrays encode (and parse again)...
	 */
	for (int i = 1; i < 2048; i++) {
		json_t *n = json_array();

		assert_int_equal(json_array_append_new(cur, n), 0);
		cur = n;
	}
	assert_int_equal(bw_json_canonical_alloc(root, &out, &len, &err), 0);
	assert_int_equal(len, 4096);
	assert_int_equal(bw_json_parse(out, len, &deep, &again, &err), 0);
	json_decref(again);
	free(out);
	/* ...but not with anything, even a scalar, inside the last one. */
	assert_int_equal(json_array_append_new(cur, json_integer(1)), 0);
	assert_int_equal(bw_json_canonical_alloc(root, &out, &len, &err),
			 BW_EFORMAT);
	json_array_clear(cur);
	assert_int_equal(json_array_append_new(cur, json_array()), 0);
	assert_int_equal(bw_json_canonical_alloc(root, &out, &len, &err),
			 BW_EFORMAT);
	json_decref(root);

	/* A cycle ends at the depth limit instead of running forever. */
	a = json_array();
	b = json_array();
	assert_int_equal(json_array_append(a, b), 0);
	assert_int_equal(json_array_append(b, a), 0);
	assert_int_equal(bw_json_canonical_alloc(a, &out, &len, &err),
			 BW_EFORMAT);
	json_array_clear(b);
	json_decref(a);
	json_decref(b);
}

static void test_json_canonical__bad_arguments(void **state)
{
	struct bw_err err = {0};
	struct bw_buf b;
	uint8_t *out;
	size_t len;
	json_t *v = json_true();

	(void)state;
	bw_buf_init(&b, 16);
	assert_int_equal(bw_json_canonical(NULL, &b, &err), BW_EINVAL);
	assert_int_equal(bw_json_canonical(v, NULL, &err), BW_EINVAL);
	assert_int_equal(bw_json_canonical_alloc(NULL, &out, &len, NULL),
			 BW_EINVAL);
	assert_int_equal(bw_json_canonical_alloc(v, NULL, &len, NULL),
			 BW_EINVAL);
	assert_int_equal(bw_json_canonical_alloc(v, &out, NULL, NULL),
			 BW_EINVAL);
	bw_buf_dispose(&b);
}

/* ---- strict parsing ---------------------------------------------------- */

static void test_json_parse__any_top_level(void **state)
{
	static const char *const ok[] = {"1",	 "-7",	  "\"s\"", "null",
					 "true", "false", "[]",	   "{}",
					 " 1 ",	 "{}\n"};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		json_decref(parse_ok(ok[i], strlen(ok[i])));
}

static void test_json_parse__duplicate_keys(void **state)
{
	(void)state;
	check_parse_fails("{\"a\":1,\"a\":1}", NULL, BW_EFORMAT);
	check_parse_fails("{\"a\":1,\"b\":2,\"a\":3}", NULL, BW_EFORMAT);
	check_parse_fails("{\"x\":{\"a\":1,\"a\":2}}", NULL, BW_EFORMAT);
	check_parse_fails("[{\"ok\":1},{\"y\":[{\"k\":{},\"k\":[]}]}]", NULL,
			  BW_EFORMAT);
	/* The same key after decoding escapes is a duplicate too. */
	check_parse_fails("{\"a\":1,\"\\u0061\":2}", NULL, BW_EFORMAT);
	check_parse_fails("{\"\xc3\xa9\":1,\"\\u00e9\":2}", NULL, BW_EFORMAT);
	/* The same key in sibling objects is fine. */
	json_decref(parse_ok("[{\"a\":1},{\"a\":1}]", 17));
}

static void test_json_parse__trailing_data(void **state)
{
	(void)state;
	check_parse_fails("{} x", NULL, BW_EFORMAT);
	check_parse_fails("{}{}", NULL, BW_EFORMAT);
	check_parse_fails("1 2", NULL, BW_EFORMAT);
	check_parse_fails("[1],", NULL, BW_EFORMAT);
	check_parse_fails("\"a\"\"b\"", NULL, BW_EFORMAT);
	check_parse_fails("{}\0", NULL, BW_EFORMAT);
	check_parse_fails("{}\n\0", NULL, BW_EFORMAT);
}

static void test_json_parse__nul_in_string(void **state)
{
	(void)state;
	check_parse_fails("\"a\\u0000b\"", NULL, BW_EFORMAT);
	check_parse_fails("{\"k\":\"\\u0000\"}", NULL, BW_EFORMAT);
	check_parse_fails("{\"a\\u0000\":1}", NULL, BW_EFORMAT);
	check_parse_fails("\"a\0b\"", NULL, BW_EFORMAT); /* raw NUL */
	check_parse_fails("\"a\x01"
			  "b\"",
			  NULL, BW_EFORMAT); /* raw control */
}

static void test_json_parse__too_deep(void **state)
{
	struct bw_json_limits two = {.max_depth = 2};
	struct bw_json_limits huge = {.max_depth = 100000};
	size_t len;
	char *s;

	(void)state;
	/* Default 32: 32 levels parse, 33 do not. */
	s = nested_arrays(32, &len);
	json_decref(parse_ok(s, len));
	free(s);
	s = nested_arrays(33, &len);
	check_parse_fails_n(s, len, NULL, BW_EFORMAT);
	free(s);

	{
		json_t *v = NULL;

		assert_int_equal(bw_json_parse("[[1]]", 5, &two, &v, NULL), 0);
		json_decref(v);
	}
	check_parse_fails("[[[1]]]", &two, BW_EFORMAT);
	check_parse_fails("{\"a\":{\"b\":{}}}", &two, BW_EFORMAT);
	check_parse_fails("[{\"b\":[]}]", &two, BW_EFORMAT);
	/* A deep branch after a shallow one. */
	check_parse_fails("[1,[2],{\"x\":{\"y\":0}}]", &two, BW_EFORMAT);

	/*
	 * jansson's own limit still holds with a larger max_depth: 2048
	 * levels, the scalar's included.
	 */
	s = nested_arrays(2047, &len);
	{
		json_t *v = NULL;

		assert_int_equal(bw_json_parse(s, len, &huge, &v, NULL), 0);
		json_decref(v);
	}
	free(s);
	s = nested_arrays(2048, &len);
	check_parse_fails_n(s, len, &huge, BW_EFORMAT);
	free(s);
	s = nested_arrays(100000, &len);
	check_parse_fails_n(s, len, &huge, BW_EFORMAT);
	free(s);
}

static void test_json_parse__reals(void **state)
{
	struct bw_json_limits reals = {.allow_reals = 1};
	static const char *const bad[] = {
	    "1.0", "1e2", "-0.0", "[1,2.5]", "{\"a\":{\"b\":1E-3}}", "1e400"};
	json_t *v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_parse_fails_n(bad[i], strlen(bad[i]), NULL, BW_EFORMAT);
		v = NULL;
		if (i + 1 < sizeof(bad) / sizeof(bad[0])) {
			assert_int_equal(bw_json_parse(bad[i], strlen(bad[i]),
						       &reals, &v, NULL),
					 0);
			json_decref(v);
		}
	}
}

static void test_json_parse__too_big(void **state)
{
	struct bw_json_limits lim = {.max_bytes = 10};
	size_t big = BW_JSON_DEFAULT_MAX_BYTES + 1;
	char *s;
	json_t *v = NULL;

	(void)state;
	assert_int_equal(bw_json_parse("[1,2,3,45]", 10, &lim, &v, NULL), 0);
	json_decref(v);
	check_parse_fails("[1,2,3,456]", &lim, BW_ETOOBIG);
	/* Refused on size alone, before looking at the bytes. */
	check_parse_fails("this is not JSON", &lim, BW_ETOOBIG);

	/* The default cap: 16 MiB of valid JSON parses, one byte more not. */
	s = malloc(big);
	assert_non_null(s);
	memset(s, ' ', big);
	s[0] = '1';
	v = NULL;
	assert_int_equal(bw_json_parse(s, big - 1, NULL, &v, NULL), 0);
	json_decref(v);
	check_parse_fails_n(s, big, NULL, BW_ETOOBIG);
	free(s);
}

static void test_json_parse__invalid_utf8(void **state)
{
	(void)state;
	check_parse_fails("\"\xff\"", NULL, BW_EFORMAT);
	check_parse_fails("\"a\x80\"", NULL, BW_EFORMAT);
	check_parse_fails("\"\xc0\xaf\"", NULL, BW_EFORMAT);	 /* overlong */
	check_parse_fails("\"\xed\xa0\x80\"", NULL, BW_EFORMAT); /* surrogate */
	check_parse_fails("\"\xf4\x90\x80\x80\"", NULL, BW_EFORMAT);
	check_parse_fails("\"\xe6\x97\"", NULL, BW_EFORMAT); /* truncated */
	check_parse_fails("{\"\xff\":1}", NULL, BW_EFORMAT);
	/* Lone or reversed surrogates in escapes. */
	check_parse_fails("\"\\ud800\"", NULL, BW_EFORMAT);
	check_parse_fails("\"\\udc00\"", NULL, BW_EFORMAT);
	check_parse_fails("\"\\ude80\\ud83d\"", NULL, BW_EFORMAT);
	check_parse_fails("\"\\ud83dx\"", NULL, BW_EFORMAT);
	/* A byte order mark is not JSON. */
	check_parse_fails("\xef\xbb\xbf{}", NULL, BW_EFORMAT);
}

static void test_json_parse__integer_overflow(void **state)
{
	struct bw_err err = {0};
	json_t *v = NULL;

	(void)state;
	check_parse_fails("9223372036854775808", NULL, BW_EFORMAT);
	check_parse_fails("-9223372036854775809", NULL, BW_EFORMAT);
	check_parse_fails("[1,99999999999999999999999]", NULL, BW_EFORMAT);
	assert_int_equal(bw_json_parse("{\n\"v\":\n 18446744073709551616}", 28,
				       NULL, &v, &err),
			 BW_EFORMAT);
	assert_non_null(strstr(err.msg, "int64"));
	assert_non_null(strstr(err.msg, "line 3"));
}

static void test_json_parse__syntax_errors(void **state)
{
	struct bw_err err = {0};
	json_t *v = NULL;

	(void)state;
	check_parse_fails("", NULL, BW_EFORMAT);
	check_parse_fails("   ", NULL, BW_EFORMAT);
	check_parse_fails("{", NULL, BW_EFORMAT);
	check_parse_fails("[1,]", NULL, BW_EFORMAT);
	check_parse_fails("{\"a\":1,}", NULL, BW_EFORMAT);
	check_parse_fails("{'a':1}", NULL, BW_EFORMAT);
	check_parse_fails("NaN", NULL, BW_EFORMAT);
	check_parse_fails("Infinity", NULL, BW_EFORMAT);
	check_parse_fails("01", NULL, BW_EFORMAT);
	check_parse_fails("+1", NULL, BW_EFORMAT);
	check_parse_fails("\"\\x41\"", NULL, BW_EFORMAT);
	/* The message locates the fault and masks unprintable input. */
	assert_int_equal(
	    bw_json_parse("{\"a\":1,\n\"a\":\x01}", 15, NULL, &v, &err),
	    BW_EFORMAT);
	assert_non_null(strstr(err.msg, "line 2"));
	for (const char *p = err.msg; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_json_parse__bad_arguments(void **state)
{
	json_t *v = NULL;

	(void)state;
	assert_int_equal(bw_json_parse("1", 1, NULL, NULL, NULL), BW_EINVAL);
	assert_int_equal(bw_json_parse(NULL, 1, NULL, &v, NULL), BW_EINVAL);
	/* A NULL, empty buffer is simply empty input. */
	assert_int_equal(bw_json_parse(NULL, 0, NULL, &v, NULL), BW_EFORMAT);
	assert_null(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_canonical__empty_containers),
	    cmocka_unit_test(test_json_canonical__scalars),
	    cmocka_unit_test(test_json_canonical__no_whitespace),
	    cmocka_unit_test(test_json_canonical__integers),
	    cmocka_unit_test(test_json_canonical__sort_order),
	    cmocka_unit_test(test_json_canonical__sort_prefix_keys),
	    cmocka_unit_test(test_json_canonical__sort_non_ascii),
	    cmocka_unit_test(test_json_canonical__nested_sort),
	    cmocka_unit_test(test_json_canonical__quotes_backslashes),
	    cmocka_unit_test(test_json_canonical__control_chars_raw),
	    cmocka_unit_test(test_json_canonical__unicode_raw),
	    cmocka_unit_test(test_json_canonical__reals_rejected),
	    cmocka_unit_test(test_json_canonical__appends),
	    cmocka_unit_test(test_json_canonical__buffer_cap),
	    cmocka_unit_test(test_json_canonical__cap_on_large_output),
	    cmocka_unit_test(test_json_canonical__large_object_sorted),
	    cmocka_unit_test(test_json_canonical__built_values),
	    cmocka_unit_test(test_json_canonical__invalid_utf8_rejected),
	    cmocka_unit_test(test_json_canonical__deep_and_cyclic),
	    cmocka_unit_test(test_json_canonical__bad_arguments),
	    cmocka_unit_test(test_json_parse__any_top_level),
	    cmocka_unit_test(test_json_parse__duplicate_keys),
	    cmocka_unit_test(test_json_parse__trailing_data),
	    cmocka_unit_test(test_json_parse__nul_in_string),
	    cmocka_unit_test(test_json_parse__too_deep),
	    cmocka_unit_test(test_json_parse__reals),
	    cmocka_unit_test(test_json_parse__too_big),
	    cmocka_unit_test(test_json_parse__invalid_utf8),
	    cmocka_unit_test(test_json_parse__integer_overflow),
	    cmocka_unit_test(test_json_parse__syntax_errors),
	    cmocka_unit_test(test_json_parse__bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
