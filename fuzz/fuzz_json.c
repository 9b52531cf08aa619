/*
 * Fuzz target for the json module (include/bulwark/json.h).
 *
 * For every input:
 *   - a failed parse leaves *out NULL and reports BW_EFORMAT or BW_ETOOBIG
 *     (or BW_ENOMEM) with a message;
 *   - the strict parse accepts exactly what the reals-allowed parse
 *     accepts, minus documents holding a real, which canonical refuses;
 *   - canonical form is a fixed point: canonical(parse(canonical(x))) ==
 *     canonical(x), with the same value (json_equal) on the way.
 * Canonical JSON writes control characters raw, which JSON forbids, so
 * before parsing it again every byte below 0x20 (canonical output has them
 * only inside strings) is escaped as \u00XX.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BYTES (1u << 20)
#define FUZZ_MAX_DEPTH 64u

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_json: %s (%s)\n", what,
		err != NULL ? err->msg : "");
	abort();
}

static int parse(const void *buf, size_t len, size_t max_bytes, int allow_reals,
		 json_t **out)
{
	struct bw_json_limits lim = {.max_bytes = max_bytes,
				     .max_depth = FUZZ_MAX_DEPTH,
				     .allow_reals = allow_reals};
	struct bw_err err = {0};
	int rc;

	*out = (json_t *)&err; /* must come back NULL on failure */
	rc = bw_json_parse(buf, len, &lim, out, &err);
	if (rc == 0) {
		if (*out == NULL)
			violation("parse succeeded without a value", NULL);
		return 0;
	}
	if (*out != NULL)
		violation("failed parse left a value", &err);
	if (rc != BW_EFORMAT && rc != BW_ETOOBIG && rc != BW_ENOMEM)
		violation("unexpected parse error code", &err);
	if (err.code != rc || err.msg[0] == '\0')
		violation("parse error without detail", &err);
	return rc;
}

static uint8_t *escape_controls(const uint8_t *c, size_t n, size_t *outlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t *out, *p;

	if (n > SIZE_MAX / 6)
		abort();
	out = malloc(6 * n + 1);
	if (out == NULL)
		abort();
	p = out;
	for (size_t i = 0; i < n; i++) {
		if (c[i] >= 0x20) {
			*p++ = c[i];
			continue;
		}
		memcpy(p, "\\u00", 4);
		p[4] = (uint8_t)hex[c[i] >> 4];
		p[5] = (uint8_t)hex[c[i] & 0xf];
		p += 6;
	}
	*outlen = (size_t)(p - out);
	return out;
}

static void check_fixed_point(const json_t *v)
{
	struct bw_err err = {0};
	uint8_t *c1 = NULL, *c2 = NULL, *j;
	size_t n1 = 0, n2 = 0, nj;
	json_t *again = NULL;

	if (bw_json_canonical_alloc(v, &c1, &n1, &err) != 0)
		violation("canonical of a strictly parsed value failed", &err);
	j = escape_controls(c1, n1, &nj);
	if (parse(j, nj, SIZE_MAX, 0, &again) != 0)
		violation("canonical bytes do not parse again", NULL);
	if (!json_equal((json_t *)v, again))
		violation("canonical bytes parse to another value", NULL);
	if (bw_json_canonical_alloc(again, &c2, &n2, &err) != 0)
		violation("second canonical failed", &err);
	if (n1 != n2 || memcmp(c1, c2, n1) != 0)
		violation("canonical form is not a fixed point", NULL);
	json_decref(again);
	free(j);
	free(c1);
	free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *strict = NULL, *lenient = NULL;
	int rs, rl;

	rs = parse(data, size, FUZZ_MAX_BYTES, 0, &strict);
	rl = parse(data, size, FUZZ_MAX_BYTES, 1, &lenient);
	if (rs == 0 && rl != 0)
		violation("allowing reals rejected a document", NULL);
	if (rs == BW_EFORMAT && rl == 0) {
		struct bw_err err = {0};
		uint8_t *c = NULL;
		size_t n = 0;

		/* Only a real can tell the two apart; canonical refuses it. */
		if (bw_json_canonical_alloc(lenient, &c, &n, &err) !=
			BW_EFORMAT ||
		    c != NULL)
			violation("document with a real was canonicalised",
				  NULL);
	}
	if (rs == 0)
		check_fixed_point(strict);
	json_decref(strict);
	json_decref(lenient);
	return 0;
}
