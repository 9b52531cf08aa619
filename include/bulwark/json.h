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

#ifdef __cplusplus
}
#endif
#endif
