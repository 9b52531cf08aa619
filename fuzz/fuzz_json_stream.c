/*
 * Differential fuzz target for the streaming canonicaliser
 * (bw_json_canonical_stream, src/lib/json/stream.c) against jansson
 * (bw_json_parse + bw_json_canonical).
 *
 * For every input:
 *   - the streaming parser accepts exactly what the strict jansson parse
 *     accepts, with the same limits (size, depth; reals refused);
 *   - when both accept, the streamed bytes are exactly jansson's canonical
 *     encoding of the parsed tree;
 *   - the result does not depend on how the input is cut into chunks
 *     (whole, and in chunks of 1 to 7 bytes);
 *   - a refusal is BW_EFORMAT, BW_ETOOBIG or BW_ENOMEM, with a message.
 * One known difference: jansson stops reading at a NUL byte outside a
 * string; the stream parser refuses it as trailing data.
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
	fprintf(stderr, "fuzz_json_stream: %s (%s)\n", what,
		err != NULL ? err->msg : "");
	abort();
}

struct chunks {
	const uint8_t *p;
	size_t left, step;
};

static int read_chunks(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
	struct chunks *c = ctx;
	size_t n = c->left < c->step ? c->left : c->step;

	if (n > cap)
		n = cap;
	memcpy(buf, c->p, n);
	c->p += n;
	c->left -= n;
	*got = n;
	return 0;
}

/* Count the events, and check each one's text lies inside the output. */
static int on_event(void *ctx, const struct bw_json_event *ev)
{
	size_t *n = ctx;

	if (ev->text == NULL || ev->depth > FUZZ_MAX_DEPTH)
		violation("event without text or too deep", NULL);
	(*n)++;
	return 0;
}

static int stream(const uint8_t *data, size_t size, size_t step,
		  struct bw_buf *out)
{
	struct bw_json_limits lim = {.max_bytes = FUZZ_MAX_BYTES,
				     .max_depth = FUZZ_MAX_DEPTH};
	struct chunks c = {data, size, step};
	struct bw_err err = {0};
	size_t events = 0;
	int rc;

	bw_buf_init(out, 4u * FUZZ_MAX_BYTES);
	if (step == 0)
		rc = bw_json_canonical_stream_buf(data, size, &lim, out,
						  on_event, &events, &err);
	else
		rc = bw_json_canonical_stream(read_chunks, &c, &lim, out,
					      on_event, &events, &err);
	if (rc != 0 && rc != BW_EFORMAT && rc != BW_ETOOBIG && rc != BW_ENOMEM)
		violation("unexpected error code", &err);
	if (rc != 0 && (err.code != rc || err.msg[0] == '\0'))
		violation("error without detail", &err);
	if (rc == 0 && events == 0)
		violation("accepted without an event", NULL);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_json_limits lim = {.max_bytes = FUZZ_MAX_BYTES,
				     .max_depth = FUZZ_MAX_DEPTH};
	struct bw_buf whole, cut;
	struct bw_err err = {0};
	json_t *tree = NULL;
	uint8_t *canon = NULL;
	size_t clen = 0;
	int rj, rs, rc;

	rj = bw_json_parse(data, size, &lim, &tree, &err);
	if (rj == 0 && bw_json_canonical_alloc(tree, &canon, &clen, &err) != 0)
		violation("canonical of a parsed tree failed", &err);
	rs = stream(data, size, 0, &whole);
	rc = stream(data, size, 1 + size % 7, &cut);
	/* jansson ends the input at a NUL byte outside strings ("54\0" is
	 * 54 to it); the stream parser refuses that byte as trailing data.
	 * That one difference is the stream parser being stricter. */
	if (rj == 0 && rs != 0 && memchr(data, 0, size) != NULL)
		rj = rs;
	if ((rj == 0) != (rs == 0))
		violation(rj == 0 ? "stream refused what jansson accepts"
				  : "stream accepted what jansson refuses",
			  NULL);
	if (rs != rc)
		violation("the result depends on the chunk size", NULL);
	if (rs == 0 && (whole.len != clen || memcmp(whole.data, canon, clen)))
		violation("streamed bytes differ from jansson's canonical form",
			  NULL);
	if (rs == 0 && (cut.len != whole.len ||
			memcmp(cut.data, whole.data, whole.len)))
		violation("streamed bytes depend on the chunk size", NULL);
	bw_buf_dispose(&whole);
	bw_buf_dispose(&cut);
	json_decref(tree);
	free(canon);
	return 0;
}
