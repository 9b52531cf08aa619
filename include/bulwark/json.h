/*
 * Strict JSON parsing and canonical JSON encoding (jansson underneath).
 *
 * Canonical JSON here is byte-for-byte the canonical form securesystemslib
 * produces (and TUF signs): object keys sorted by their UTF-8 bytes, no
 * insignificant whitespace, strings written raw as UTF-8 with only '"' and
 * '\' escaped (by a backslash), integers only, true/false/null.
 */
#ifndef BULWARK_JSON_H
#define BULWARK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/buf.h"
#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits applied by bw_json_parse. Zero fields take the default. */
struct bw_json_limits {
	size_t max_bytes;    /* input size; default 16 MiB */
	size_t max_depth;    /* nesting of arrays/objects; default 32 */
	int allow_reals;     /* 0 (default): any JSON real is BW_EFORMAT */
};

#define BW_JSON_DEFAULT_MAX_BYTES (16u * 1024u * 1024u)
#define BW_JSON_DEFAULT_MAX_DEPTH 32u

/*
 * Parse exactly one JSON value from buf[0..len). Rejects: duplicate object
 * keys, trailing data, NUL bytes inside strings, invalid UTF-8, nesting
 * deeper than max_depth, reals unless allowed, integers outside int64,
 * input larger than max_bytes (BW_ETOOBIG). limits may be NULL.
 * On success *out owns a new reference (json_decref it).
 */
int bw_json_parse(const void *buf, size_t len,
		  const struct bw_json_limits *limits, json_t **out,
		  struct bw_err *err);

/*
 * Append the canonical encoding of v to out. BW_EFORMAT for a real (or any
 * value canonical JSON cannot express); BW_ETOOBIG when out's cap is hit.
 */
int bw_json_canonical(const json_t *v, struct bw_buf *out, struct bw_err *err);

/* Convenience: canonical bytes in a fresh malloc'd buffer (*out, *len). */
int bw_json_canonical_alloc(const json_t *v, uint8_t **out, size_t *len,
			    struct bw_err *err);

/*
 * The form in which bulwark writes and serves metadata: compact JSON with
 * object keys sorted, integers only, and the escapes JSON requires. It is
 * byte-identical to the canonical form whenever that is valid JSON; where
 * the canonical form is not (a PEM public key puts raw newlines into a
 * string), the served bytes escape them. Signatures always cover the
 * canonical form; lengths and hashes cover the served bytes. *out is
 * malloc'd (free()).
 */
int bw_json_serialize(const json_t *v, uint8_t **out, size_t *len,
		      struct bw_err *err);

/* ---- streaming: strict JSON in, canonical JSON out, no tree ---------- */

/*
 * Source of input bytes: fill buf with up to cap bytes, *got = 0 at the
 * end. Return 0, or a negative BW_E* code to stop the parse with it.
 */
typedef int (*bw_json_read_fn)(void *ctx, uint8_t *buf, size_t cap,
			       size_t *got);

/* One member of a closed object: offsets into the canonical output. */
struct bw_json_member {
	size_t key_off, key_len; /* decoded name, in bw_json_event.keys */
	size_t off, len;         /* the member's text "name":value */
	size_t val_off;          /* where its value starts (it ends at off+len) */
};

enum bw_json_event_type {
	BW_JSON_EV_STRING,
	BW_JSON_EV_INTEGER,
	BW_JSON_EV_BOOL,
	BW_JSON_EV_NULL,
	BW_JSON_EV_OBJECT_START,
	BW_JSON_EV_ARRAY_START,
	BW_JSON_EV_OBJECT, /* an object closed */
	BW_JSON_EV_ARRAY,  /* an array closed */
};

/*
 * What the streaming parser reports, for every value as it completes
 * (scalars, closed containers) and for every container as it opens. All
 * pointers are valid during the callback only.
 */
struct bw_json_event {
	enum bw_json_event_type type;
	size_t depth;           /* containers around the value; 0 = top */
	const uint8_t *key;     /* its name in the enclosing object, or NULL */
	size_t key_len;
	size_t off, len;        /* its canonical text in the output */
	const uint8_t *text;    /* = output + off */
	int64_t integer;        /* INTEGER; BOOL: 1 for true */
	/* OBJECT: its members in canonical (sorted) order */
	const struct bw_json_member *members;
	size_t nmembers;
	const uint8_t *keys;
};

/* Return 0 to go on, or a negative BW_E* code to stop the parse with it. */
typedef int (*bw_json_event_fn)(void *ctx, const struct bw_json_event *ev);

/*
 * Read one JSON value from read (in chunks) as strictly as bw_json_parse
 * does (reals are always refused) and append its canonical encoding to
 * out, without building a tree. Objects whose keys arrive unsorted are
 * sorted when they close, so an object's offsets are final only from its
 * own close event on (and relative to its enclosing object's, which may
 * still move). on (may be NULL) sees every value. limits may be NULL;
 * max_bytes caps the input, out's own cap the output (BW_ETOOBIG).
 */
int bw_json_canonical_stream(bw_json_read_fn read, void *rctx,
			     const struct bw_json_limits *limits,
			     struct bw_buf *out, bw_json_event_fn on,
			     void *ectx, struct bw_err *err);

/* The same over one buffer in memory. */
int bw_json_canonical_stream_buf(const void *buf, size_t len,
				 const struct bw_json_limits *limits,
				 struct bw_buf *out, bw_json_event_fn on,
				 void *ectx, struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
