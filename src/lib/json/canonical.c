/*
 * Canonical JSON encoding (include/bulwark/json.h), byte-for-byte what
 * securesystemslib's encode_canonical produces:
 *
 *   - objects with their keys sorted, arrays in order, no whitespace,
 *     separators "," and ":";
 *   - strings as '"' + s + '"' with only '\' -> "\\" and '"' -> "\""
 *     escaped; every other byte (control characters, NUL, non-ASCII UTF-8)
 *     is written raw;
 *   - integers in decimal; true, false, null; reals are refused.
 *
 * Python sorts str keys by code point, which for UTF-8 is the order of the
 * bytes, so keys are compared with memcmp, a prefix first.
 *
 * Strings must be valid UTF-8 (jansson guarantees it unless a caller used
 * a *_nocheck constructor): Python cannot encode anything else either, and
 * signed bytes no other client can read are worse than an error.
 *
 * The walk is iterative (an explicit stack) and bounded by
 * BW_JSON__MAX_DEPTH, which also stops a cyclic tree. Each object's
 * members are sorted once, as (key, length, value) entries on one shared
 * stack of entries. Output goes through a staging buffer so the bw_buf
 * sees few, large appends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"
#include "json_priv.h"

#define STAGE_SIZE 8192u

struct entry {
	const char *key;
	size_t klen;
	json_t *value;
};

/* One open array or object. */
struct frame {
	json_t *v;
	size_t next;  /* next member or element */
	size_t count; /* members or elements */
	size_t base;  /* object: index of its first entry in enc.ents */
};

struct enc {
	struct bw_buf *out;
	struct bw_err *err;
	struct frame *frames;
	size_t depth, frames_cap;
	struct entry *ents;
	size_t nents, ents_cap;
	size_t staged;
	uint8_t stage[STAGE_SIZE];
};

static int append_failed(struct enc *e, int rc)
{
	if (rc == BW_ETOOBIG)
		return bw_err_set(e->err, rc,
				  "canonical JSON exceeds the output limit "
				  "of %zu bytes",
				  e->out->max);
	return bw_err_set(e->err, rc, "appending canonical JSON failed: %s",
			  bw_strerror(rc));
}

static int flush(struct enc *e)
{
	int rc;

	if (e->staged == 0)
		return 0;
	rc = bw_buf_append(e->out, e->stage, e->staged);
	e->staged = 0;
	return rc != 0 ? append_failed(e, rc) : 0;
}

static int put(struct enc *e, const void *data, size_t len)
{
	int rc;

	if (len <= STAGE_SIZE - e->staged) {
		memcpy(e->stage + e->staged, data, len);
		e->staged += len;
		return 0;
	}
	rc = flush(e);
	if (rc != 0)
		return rc;
	if (len < STAGE_SIZE) {
		memcpy(e->stage, data, len);
		e->staged = len;
		return 0;
	}
	rc = bw_buf_append(e->out, data, len);
	return rc != 0 ? append_failed(e, rc) : 0;
}

static int put_byte(struct enc *e, uint8_t c)
{
	int rc;

	if (e->staged == STAGE_SIZE) {
		rc = flush(e);
		if (rc != 0)
			return rc;
	}
	e->stage[e->staged++] = c;
	return 0;
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t utf8_seq_len(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static int put_string(struct enc *e, const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + len, *run = p;
	int rc;

	rc = put_byte(e, '"');
	while (rc == 0 && p < end) {
		size_t n;

		if (*p >= 0x80) {
			n = utf8_seq_len(p, (size_t)(end - p));
			if (n == 0)
				return bw_err_set(
				    e->err, BW_EFORMAT,
				    "JSON string is not valid "
				    "UTF-8 (byte %zu)",
				    (size_t)(p - (const uint8_t *)s));
			p += n;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			/* The quote or backslash starts the next run. */
			rc = put(e, run, (size_t)(p - run));
			if (rc == 0)
				rc = put_byte(e, '\\');
			run = p;
		}
		p++;
	}
	if (rc == 0)
		rc = put(e, run, (size_t)(p - run));
	return rc != 0 ? rc : put_byte(e, '"');
}

static int put_integer(struct enc *e, json_int_t x)
{
	char digits[24];
	char *p = digits + sizeof(digits);
	/* Unsigned negation: INT64_MIN has no positive counterpart. */
	unsigned long long u =
	    x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (x < 0)
		*--p = '-';
	return put(e, p, (size_t)(digits + sizeof(digits) - p));
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return (x->klen > y->klen) - (x->klen < y->klen);
}

/* Grow *arr (elements of size sz) to hold at least need; 0 or BW_ENOMEM. */
static int reserve(void **arr, size_t *cap, size_t need, size_t sz)
{
	size_t ncap = *cap != 0 ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return BW_ENOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / sz)
		return BW_ENOMEM;
	p = realloc(*arr, ncap * sz);
	if (p == NULL)
		return BW_ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Open an array or object: write its bracket, push a frame. */
static int open_container(struct enc *e, json_t *v)
{
	struct frame *f;
	size_t count =
	    json_is_object(v) ? json_object_size(v) : json_array_size(v);
	void *it;

	if (reserve((void **)&e->frames, &e->frames_cap, e->depth + 1,
		    sizeof(*e->frames)) != 0)
		return bw_err_set(e->err, BW_ENOMEM, "out of memory");
	f = &e->frames[e->depth];
	f->v = v;
	f->next = 0;
	f->count = count;
	f->base = e->nents;
	if (json_is_array(v)) {
		e->depth++;
		return put_byte(e, '[');
	}
	if (reserve((void **)&e->ents, &e->ents_cap, e->nents + count,
		    sizeof(*e->ents)) != 0)
		return bw_err_set(e->err, BW_ENOMEM, "out of memory");
	for (it = json_object_iter(v); it != NULL;
	     it = json_object_iter_next(v, it)) {
		struct entry *en = &e->ents[e->nents++];

		en->key = json_object_iter_key(it);
		en->klen = json_object_iter_key_len(it);
		en->value = json_object_iter_value(it);
	}
	if (count > 1)
		qsort(e->ents + f->base, count, sizeof(*e->ents), entry_cmp);
	e->depth++;
	return put_byte(e, '{');
}

/* Write one value; containers are only opened (see next_value). */
static int put_value(struct enc *e, json_t *v)
{
	/* v's own level counts, as in jansson's parser. */
	if (e->depth >= BW_JSON__MAX_DEPTH)
		return bw_err_set(e->err, BW_EFORMAT,
				  "JSON nested deeper than %u (or cyclic)",
				  BW_JSON__MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		return open_container(e, v);
	case JSON_STRING:
		return put_string(e, json_string_value(v),
				  json_string_length(v));
	case JSON_INTEGER:
		return put_integer(e, json_integer_value(v));
	case JSON_TRUE:
		return put(e, "true", 4);
	case JSON_FALSE:
		return put(e, "false", 5);
	case JSON_NULL:
		return put(e, "null", 4);
	case JSON_REAL:
		return bw_err_set(
		    e->err, BW_EFORMAT,
		    "canonical JSON cannot express a real number");
	default:
		return bw_err_set(e->err, BW_EFORMAT,
				  "canonical JSON cannot express this value");
	}
}

/*
 * Close finished containers and write the separator (and key) before the
 * next value; *v is that value, or NULL when the document is complete.
 */
static int next_value(struct enc *e, json_t **v)
{
	*v = NULL;
	while (e->depth > 0) {
		struct frame *f = &e->frames[e->depth - 1];
		int rc;

		if (f->next == f->count) {
			int is_obj = json_is_object(f->v);

			if (is_obj)
				e->nents = f->base;
			e->depth--;
			rc = put_byte(e, is_obj ? '}' : ']');
			if (rc != 0)
				return rc;
			continue;
		}
		if (f->next > 0 && (rc = put_byte(e, ',')) != 0)
			return rc;
		if (json_is_object(f->v)) {
			const struct entry *en = &e->ents[f->base + f->next];

			rc = put_string(e, en->key, en->klen);
			if (rc == 0)
				rc = put_byte(e, ':');
			if (rc != 0)
				return rc;
			*v = en->value;
		} else {
			*v = json_array_get(f->v, f->next);
		}
		f->next++;
		return 0;
	}
	return 0;
}

int bw_json_canonical(const json_t *v, struct bw_buf *out, struct bw_err *err)
{
	struct enc *e = NULL;
	size_t start;
	json_t *cur;
	int rc;

	if (v == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "bw_json_canonical: bad arguments");
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	e->out = out;
	e->err = err;
	start = out->len;
	/* jansson's iterators take non-const trees; nothing is modified. */
	cur = (json_t *)v;
	do {
		rc = put_value(e, cur);
		if (rc == 0)
			rc = next_value(e, &cur);
	} while (rc == 0 && cur != NULL);
	if (rc == 0)
		rc = flush(e);
	if (rc != 0 && out->data != NULL) {
		/* Leave out as we found it. */
		out->len = start;
		out->data[start] = '\0';
	}
	free(e->frames);
	free(e->ents);
	free(e);
	return rc;
}

int bw_json_canonical_alloc(const json_t *v, uint8_t **out, size_t *len,
			    struct bw_err *err)
{
	struct bw_buf b;
	int rc;

	if (out == NULL || len == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "bw_json_canonical_alloc: bad arguments");
	*out = NULL;
	*len = 0;
	bw_buf_init(&b, SIZE_MAX - 1);
	rc = bw_json_canonical(v, &b, err);
	if (rc == 0) {
		rc = bw_buf_steal(&b, out, len);
		if (rc != 0)
			bw_err_set(err, rc, "out of memory");
	}
	bw_buf_dispose(&b);
	return rc;
}
