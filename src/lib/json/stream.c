/*
 * Streaming strict JSON to canonical JSON (include/bulwark/json.h,
 * bw_json_canonical_stream).
 *
 * Why a tokenizer of our own and not a library: a TUF client must verify a
 * signature over the canonical form of "signed" and keep an index of the
 * targets, and a large targets role (100,000 targets, 33 MB) must not cost
 * a tree. Every strict JSON library Debian ships (jansson, json-c, cJSON)
 * builds a tree: measured on a 100,000-target targets.json they need
 * 180-400 MB and 0.3-3.9 s to parse it (docs/benchmarks/tuf_refresh.md),
 * against the 56 MB a whole refresh may take. The streaming (SAX) C parser
 * in Debian, yajl, is unmaintained upstream and replaces an unpaired
 * "\uD800" escape with '?' instead of refusing it, which would make the
 * canonical bytes differ from what a signer meant. So this file reads the
 * input once, in chunks, and writes the canonical form as it goes; it is
 * as strict as bw_json_parse (duplicate keys, trailing data, depth, reals,
 * integers outside int64, NUL, invalid UTF-8, size caps) and
 * fuzz/fuzz_json_stream.c checks it against jansson byte for byte.
 *
 * Objects are written in the order their members arrive; an object whose
 * keys arrive unsorted is rewritten in sorted order when it closes (one
 * copy of its text). Keys are compared as decoded UTF-8 bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"
#include "json_priv.h"

#define CHUNK 65536u

struct frame {
	int is_object;
	size_t open_off;  /* offset of '{' or '[' in out */
	size_t mem_start; /* first member of this object in the member stack */
	size_t key_start; /* arena length when the object opened */
	int unsorted;
};

struct parser {
	bw_json_read_fn read;
	void *rctx;
	uint8_t *buf;
	const uint8_t *p, *end;
	size_t consumed; /* bytes before buf */
	size_t max_bytes;
	int eof;
	int rc;

	struct bw_buf *out;
	struct bw_buf keys; /* decoded keys of open objects */
	struct bw_json_member *mem;
	size_t nmem, capmem;
	struct frame *stack;
	size_t depth, max_depth;
	bw_json_event_fn on;
	void *ectx;
	struct bw_err *err;
};

static int fail(struct parser *ps, int code, const char *what)
{
	if (ps->rc == 0) {
		size_t at = ps->consumed + (size_t)(ps->p - ps->buf);

		ps->rc = bw_err_set(ps->err, code, "%s at byte %zu", what,
				    at > 0 ? at - 1 : 0);
	}
	return ps->rc;
}

/* ---- input ------------------------------------------------------------- */

static int refill(struct parser *ps)
{
	size_t got = 0;
	int rc;

	if (ps->eof || ps->rc != 0)
		return 0;
	ps->consumed += (size_t)(ps->end - ps->buf);
	rc = ps->read(ps->rctx, ps->buf, CHUNK, &got);
	if (rc != 0) {
		ps->p = ps->end = ps->buf;
		fail(ps, rc, "cannot read the JSON input");
		return 0;
	}
	if (got > CHUNK)
		got = CHUNK;
	ps->p = ps->buf;
	ps->end = ps->buf + got;
	if (got == 0)
		ps->eof = 1;
	if (ps->consumed + got > ps->max_bytes) {
		ps->p = ps->end;
		fail(ps, BW_ETOOBIG, "JSON document exceeds its size limit");
		return 0;
	}
	return got > 0;
}

/* Next byte, or -1 at the end of the input (or on a read error). */
static inline int next(struct parser *ps)
{
	if (ps->p == ps->end && !refill(ps))
		return -1;
	return *ps->p++;
}

static inline int peek(struct parser *ps)
{
	if (ps->p == ps->end && !refill(ps))
		return -1;
	return *ps->p;
}

static int skip_ws(struct parser *ps)
{
	for (;;) {
		while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' ||
					   *ps->p == '\r' || *ps->p == '\t'))
			ps->p++;
		if (ps->p < ps->end)
			return *ps->p;
		if (!refill(ps))
			return -1;
	}
}

/* ---- output ------------------------------------------------------------ */

static int put(struct parser *ps, struct bw_buf *b, const void *d, size_t n)
{
	if (bw_buf_append(b, d, n) != 0)
		return fail(ps, BW_ETOOBIG,
			    "canonical JSON exceeds its size limit");
	return 0;
}

static int put1(struct parser *ps, struct bw_buf *b, uint8_t c)
{
	if (b->data != NULL && b->len + 2 <= b->cap && b->len < b->max) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return put(ps, b, &c, 1);
}

/* ---- strings ----------------------------------------------------------- */

/* 1 for bytes copied through unchanged inside a string. */
static const uint8_t plain[256] = {
#define P16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* '"' */
	P16, P16,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* '\\' */
	P16, P16,
#undef P16
};

static int hex4(struct parser *ps, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		int c = next(ps);

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return fail(ps, BW_EFORMAT, "invalid \\u escape in JSON");
	}
	*out = v;
	return 0;
}

/* Append code point cp as UTF-8; '"' and '\\' escaped when canon. */
static int put_cp(struct parser *ps, struct bw_buf *b, uint32_t cp, int canon)
{
	uint8_t u[4];
	size_t n;

	if (cp == 0)
		return fail(ps, BW_EFORMAT, "NUL character in JSON string");
	if (canon && (cp == '"' || cp == '\\')) {
		u[0] = '\\';
		u[1] = (uint8_t)cp;
		return put(ps, b, u, 2);
	}
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | (cp >> 6));
		u[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | (cp >> 12));
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | (cp >> 18));
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return put(ps, b, u, n);
}

static int escape(struct parser *ps, struct bw_buf *b, int canon)
{
	uint32_t cp, lo;
	int c = next(ps);

	switch (c) {
	case '"': case '\\':
		return put_cp(ps, b, (uint32_t)c, canon);
	case '/': return put1(ps, b, '/');
	case 'b': return put1(ps, b, '\b');
	case 'f': return put1(ps, b, '\f');
	case 'n': return put1(ps, b, '\n');
	case 'r': return put1(ps, b, '\r');
	case 't': return put1(ps, b, '\t');
	case 'u':
		break;
	default:
		return fail(ps, BW_EFORMAT, "invalid escape in JSON string");
	}
	if (hex4(ps, &cp) != 0)
		return ps->rc;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail(ps, BW_EFORMAT, "unpaired UTF-16 surrogate in JSON");
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (next(ps) != '\\' || next(ps) != 'u' || hex4(ps, &lo) != 0 ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return fail(ps, BW_EFORMAT,
				    "unpaired UTF-16 surrogate in JSON");
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	return put_cp(ps, b, cp, canon);
}

/* One multi-byte UTF-8 sequence starting with c (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static int utf8_seq(struct parser *ps, struct bw_buf *b, int c)
{
	uint8_t u[4];
	int n, lo = 0x80, hi = 0xBF;

	u[0] = (uint8_t)c;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return fail(ps, BW_EFORMAT, "invalid UTF-8 in JSON");
	}
	for (int i = 1; i < n; i++) {
		int d = next(ps);

		if (d < lo || d > hi)
			return fail(ps, BW_EFORMAT, "invalid UTF-8 in JSON");
		u[i] = (uint8_t)d;
		lo = 0x80;
		hi = 0xBF;
	}
	return put(ps, b, u, (size_t)n);
}

/*
 * The rest of a string whose opening quote was read, decoded into b. With
 * canon, '"' and '\\' are escaped as canonical JSON writes them (a value);
 * without, the bytes are the decoded text (a key).
 */
static int string_body(struct parser *ps, struct bw_buf *b, int canon)
{
	for (;;) {
		const uint8_t *s = ps->p;
		int c;

		while (ps->p < ps->end && plain[*ps->p])
			ps->p++;
		if (ps->p > s && put(ps, b, s, (size_t)(ps->p - s)) != 0)
			return ps->rc;
		c = next(ps);
		if (c == '"')
			return 0;
		if (c == '\\') {
			if (escape(ps, b, canon) != 0)
				return ps->rc;
		} else if (c >= 0x80) {
			if (utf8_seq(ps, b, c) != 0)
				return ps->rc;
		} else if (c < 0) {
			return fail(ps, BW_EFORMAT, "unterminated JSON string");
		} else if (c >= 0x20) {
			/* a plain byte just past a chunk boundary */
			if (put1(ps, b, (uint8_t)c) != 0)
				return ps->rc;
		} else {
			return fail(ps, BW_EFORMAT,
				    "control character in JSON string");
		}
	}
}

/* Canonical form of decoded key bytes: '"' and '\\' escaped. */
static int put_key(struct parser *ps, const uint8_t *k, size_t n)
{
	if (put1(ps, ps->out, '"') != 0)
		return ps->rc;
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && k[j] != '"' && k[j] != '\\')
			j++;
		if (j > i && put(ps, ps->out, k + i, j - i) != 0)
			return ps->rc;
		if (j < n) {
			uint8_t e[2] = {'\\', k[j]};

			if (put(ps, ps->out, e, 2) != 0)
				return ps->rc;
			j++;
		}
		i = j;
	}
	return put1(ps, ps->out, '"');
}

/* ---- scalars ----------------------------------------------------------- */

static int literal(struct parser *ps, const char *rest)
{
	for (; *rest; rest++)
		if (next(ps) != *rest)
			return fail(ps, BW_EFORMAT, "invalid JSON literal");
	return 0;
}

/* An integer (the first character c already read); reals are refused. */
static int number(struct parser *ps, int c, int64_t *out)
{
	uint64_t mag = 0, lim = (uint64_t)INT64_MAX;
	int neg = c == '-', d;

	if (neg) {
		lim++;
		c = next(ps);
	}
	if (c < '0' || c > '9')
		return fail(ps, BW_EFORMAT, "invalid JSON number");
	if (c != '0') {
		for (;;) {
			if (mag > (lim - (uint64_t)(c - '0')) / 10)
				return fail(ps, BW_EFORMAT,
					    "JSON integer outside the int64 range");
			mag = mag * 10 + (uint64_t)(c - '0');
			d = peek(ps);
			if (d < '0' || d > '9')
				break;
			c = next(ps);
		}
	}
	d = peek(ps);
	if (d >= '0' && d <= '9')
		return fail(ps, BW_EFORMAT, "invalid JSON number (leading zero)");
	if (d == '.' || d == 'e' || d == 'E')
		return fail(ps, BW_EFORMAT, "JSON real number not allowed");
	if (neg)
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*out = (int64_t)mag;
	return 0;
}

/* ---- containers -------------------------------------------------------- */

static int cmp_keys(const uint8_t *arena, const struct bw_json_member *a,
		    const struct bw_json_member *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(arena + a->key_off, arena + b->key_off, n);

	if (c != 0)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/* qsort has no context argument: the arena of the object being sorted. */
static _Thread_local const uint8_t *sort_arena;

static int cmp_members(const void *a, const void *b)
{
	return cmp_keys(sort_arena, a, b);
}

/* Rewrite the members of the closing object in key order. */
static int reorder(struct parser *ps, struct frame *f)
{
	struct bw_json_member *m = ps->mem + f->mem_start;
	size_t n = ps->nmem - f->mem_start, start = f->open_off + 1, w;
	size_t len = ps->out->len - start;
	uint8_t *copy = malloc(len ? len : 1);

	if (copy == NULL)
		return fail(ps, BW_ENOMEM, "out of memory");
	memcpy(copy, ps->out->data + start, len);
	sort_arena = ps->keys.data;
	qsort(m, n, sizeof(*m), cmp_members);
	w = start;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && cmp_keys(ps->keys.data, &m[i - 1], &m[i]) == 0) {
			free(copy);
			return fail(ps, BW_EFORMAT, "duplicate JSON object key");
		}
		if (i > 0)
			ps->out->data[w++] = ',';
		memcpy(ps->out->data + w, copy + (m[i].off - start), m[i].len);
		m[i].val_off = m[i].val_off - m[i].off + w;
		m[i].off = w;
		w += m[i].len;
	}
	free(copy);
	return 0;
}

static int open_container(struct parser *ps, int is_object)
{
	struct frame *f;

	if (ps->depth >= ps->max_depth)
		return fail(ps, BW_EFORMAT, "JSON nested too deeply");
	f = &ps->stack[ps->depth++];
	f->is_object = is_object;
	f->open_off = ps->out->len;
	f->mem_start = ps->nmem;
	f->key_start = ps->keys.len;
	f->unsorted = 0;
	return put1(ps, ps->out, is_object ? '{' : '[');
}

static int emit(struct parser *ps, struct bw_json_event *ev)
{
	const struct frame *parent;
	const struct bw_json_member *m;

	ev->depth = ps->depth;
	ev->key = NULL;
	ev->key_len = 0;
	if (ps->depth > 0) {
		parent = &ps->stack[ps->depth - 1];
		if (parent->is_object && ps->nmem > parent->mem_start) {
			m = &ps->mem[ps->nmem - 1];
			ev->key = ps->keys.data + m->key_off;
			ev->key_len = m->key_len;
		}
	}
	ev->text = ps->out->data != NULL ? ps->out->data + ev->off : NULL;
	if (ps->on != NULL && ps->rc == 0) {
		int rc = ps->on(ps->ectx, ev);

		if (rc != 0)
			ps->rc = rc;
	}
	return ps->rc;
}

static int close_container(struct parser *ps)
{
	struct frame *f = &ps->stack[ps->depth - 1];
	struct bw_json_event ev = {0};

	if (f->is_object && f->unsorted && reorder(ps, f) != 0)
		return ps->rc;
	if (put1(ps, ps->out, f->is_object ? '}' : ']') != 0)
		return ps->rc;
	ps->depth--;
	ev.type = f->is_object ? BW_JSON_EV_OBJECT : BW_JSON_EV_ARRAY;
	ev.off = f->open_off;
	ev.len = ps->out->len - f->open_off;
	if (f->is_object) {
		ev.members = ps->mem != NULL ? ps->mem + f->mem_start : NULL;
		ev.nmembers = ps->nmem - f->mem_start;
		ev.keys = ps->keys.data;
	}
	/* Popped before the event, so its key is the parent's member; the
	 * popped members and keys stay in place until the next append. */
	ps->nmem = f->mem_start;
	ps->keys.len = f->key_start;
	return emit(ps, &ev);
}

/* A member name, its ':' and the member record. */
static int member_key(struct parser *ps)
{
	struct frame *f = &ps->stack[ps->depth - 1];
	struct bw_json_member *m;
	size_t key_off = ps->keys.len, off = ps->out->len;

	if (skip_ws(ps) != '"')
		return fail(ps, BW_EFORMAT, "JSON object key expected");
	ps->p++;
	if (string_body(ps, &ps->keys, 0) != 0)
		return ps->rc;
	if (ps->nmem == ps->capmem) {
		size_t cap = ps->capmem ? ps->capmem * 2 : 64;
		struct bw_json_member *n = realloc(ps->mem, cap * sizeof(*n));

		if (n == NULL)
			return fail(ps, BW_ENOMEM, "out of memory");
		ps->mem = n;
		ps->capmem = cap;
	}
	m = &ps->mem[ps->nmem];
	m->key_off = key_off;
	m->key_len = ps->keys.len - key_off;
	m->off = off;
	if (ps->nmem > f->mem_start) {
		int c = cmp_keys(ps->keys.data, &ps->mem[ps->nmem - 1], m);

		if (c == 0)
			return fail(ps, BW_EFORMAT, "duplicate JSON object key");
		if (c > 0)
			f->unsorted = 1;
	}
	ps->nmem++;
	if (put_key(ps, ps->keys.data + key_off, m->key_len) != 0)
		return ps->rc;
	if (skip_ws(ps) != ':')
		return fail(ps, BW_EFORMAT, "':' expected in JSON object");
	ps->p++;
	m->val_off = ps->out->len + 1;
	return put1(ps, ps->out, ':');
}

/* Decimal text of v at the end of buf (24 bytes); its length. */
static int int_text(int64_t v, char buf[24])
{
	uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int n = 0;

	do {
		buf[23 - n++] = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	if (v < 0)
		buf[23 - n++] = '-';
	return n;
}

/* A scalar value whose first character c was read. */
static int scalar(struct parser *ps, int c)
{
	struct bw_json_event ev = {0};
	char num[24];
	int n;

	ev.off = ps->out->len;
	switch (c) {
	case '"':
		ev.type = BW_JSON_EV_STRING;
		if (put1(ps, ps->out, '"') != 0 ||
		    string_body(ps, ps->out, 1) != 0 ||
		    put1(ps, ps->out, '"') != 0)
			return ps->rc;
		break;
	case 't': case 'f': case 'n':
		ev.type = c == 'n' ? BW_JSON_EV_NULL : BW_JSON_EV_BOOL;
		ev.integer = c == 't';
		if (literal(ps, c == 't' ? "rue" : c == 'f' ? "alse" : "ull") ||
		    put(ps, ps->out, c == 't' ? "true" : c == 'f' ? "false" : "null",
			c == 'f' ? 5 : 4) != 0)
			return ps->rc;
		break;
	default:
		if (c != '-' && (c < '0' || c > '9'))
			return fail(ps, BW_EFORMAT, "invalid JSON value");
		ev.type = BW_JSON_EV_INTEGER;
		if (number(ps, c, &ev.integer) != 0)
			return ps->rc;
		n = int_text(ev.integer, num);
		if (put(ps, ps->out, num + sizeof(num) - n, (size_t)n) != 0)
			return ps->rc;
		break;
	}
	ev.len = ps->out->len - ev.off;
	return emit(ps, &ev);
}

/* After a value: ',' or the end of the enclosing container (or input). */
static int after_value(struct parser *ps, int *want_value)
{
	for (;;) {
		struct frame *f;
		int c;

		*want_value = 0;
		if (ps->depth == 0)
			return 0;
		f = &ps->stack[ps->depth - 1];
		if (f->is_object)
			ps->mem[ps->nmem - 1].len =
				ps->out->len - ps->mem[ps->nmem - 1].off;
		c = skip_ws(ps);
		if (c >= 0)
			ps->p++;
		if (c == ',') {
			if (put1(ps, ps->out, ',') != 0)
				return ps->rc;
			if (f->is_object && member_key(ps) != 0)
				return ps->rc;
			*want_value = 1;
			return 0;
		}
		if (c != (f->is_object ? '}' : ']'))
			return fail(ps, BW_EFORMAT,
				    f->is_object ? "',' or '}' expected in JSON"
						 : "',' or ']' expected in JSON");
		if (close_container(ps) != 0)
			return ps->rc;
	}
}

static int parse(struct parser *ps)
{
	int want_value = 1;

	while (want_value) {
		struct bw_json_event ev = {0};
		int c = skip_ws(ps);

		if (c < 0)
			return fail(ps, BW_EFORMAT, "unexpected end of JSON input");
		ps->p++;
		if (c == '{' || c == '[') {
			ev.type = c == '{' ? BW_JSON_EV_OBJECT_START
					   : BW_JSON_EV_ARRAY_START;
			ev.off = ps->out->len;
			if (emit(ps, &ev) != 0 || open_container(ps, c == '{') != 0)
				return ps->rc;
			c = skip_ws(ps);
			if (c == (ev.type == BW_JSON_EV_OBJECT_START ? '}' : ']')) {
				ps->p++;
				if (close_container(ps) != 0 ||
				    after_value(ps, &want_value) != 0)
					return ps->rc;
			} else if (ev.type == BW_JSON_EV_OBJECT_START &&
				   member_key(ps) != 0) {
				return ps->rc;
			}
			continue;
		}
		if (scalar(ps, c) != 0 || after_value(ps, &want_value) != 0)
			return ps->rc;
	}
	if (skip_ws(ps) >= 0) {
		ps->p++;
		return fail(ps, BW_EFORMAT, "trailing data after the JSON value");
	}
	return ps->rc;
}

int bw_json_canonical_stream(bw_json_read_fn read, void *rctx,
			     const struct bw_json_limits *limits,
			     struct bw_buf *out, bw_json_event_fn on,
			     void *ectx, struct bw_err *err)
{
	struct parser ps = {0};
	int rc;

	if (read == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "bw_json_canonical_stream: bad arguments");
	ps.read = read;
	ps.rctx = rctx;
	ps.out = out;
	ps.on = on;
	ps.ectx = ectx;
	ps.err = err;
	ps.max_bytes = BW_JSON_DEFAULT_MAX_BYTES;
	ps.max_depth = BW_JSON_DEFAULT_MAX_DEPTH;
	if (limits != NULL && limits->max_bytes != 0)
		ps.max_bytes = limits->max_bytes;
	if (limits != NULL && limits->max_depth != 0)
		ps.max_depth = limits->max_depth;
	if (ps.max_depth > BW_JSON__MAX_DEPTH)
		ps.max_depth = BW_JSON__MAX_DEPTH;
	bw_buf_init(&ps.keys, ps.max_bytes);
	ps.buf = malloc(CHUNK);
	ps.stack = calloc(ps.max_depth, sizeof(*ps.stack));
	if (ps.buf == NULL || ps.stack == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	ps.p = ps.end = ps.buf;
	/* Allocated output and key buffers: every event has its text, and
	 * an empty first key still points into memory. */
	if (bw_buf_append(&ps.keys, "", 0) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (bw_buf_append(out, "", 0) != 0) {
		rc = bw_err_set(err, BW_ETOOBIG, "no room for canonical JSON");
		goto out;
	}
	rc = parse(&ps);
out:
	free(ps.buf);
	free(ps.stack);
	free(ps.mem);
	bw_buf_dispose(&ps.keys);
	return rc;
}

/* A reader over one buffer in memory. */
struct mem_reader {
	const uint8_t *p;
	size_t left;
};

static int read_mem(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
	struct mem_reader *r = ctx;
	size_t n = r->left < cap ? r->left : cap;

	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	*got = n;
	return 0;
}

int bw_json_canonical_stream_buf(const void *buf, size_t len,
				 const struct bw_json_limits *limits,
				 struct bw_buf *out, bw_json_event_fn on,
				 void *ectx, struct bw_err *err)
{
	struct mem_reader r = {buf, len};

	if (buf == NULL && len > 0)
		return bw_err_set(err, BW_EINVAL,
				  "bw_json_canonical_stream: bad arguments");
	if (limits != NULL && limits->max_bytes != 0 && len > limits->max_bytes)
		return bw_err_set(err, BW_ETOOBIG,
				  "JSON document of %zu bytes exceeds the "
				  "limit of %zu bytes", len, limits->max_bytes);
	return bw_json_canonical_stream(read_mem, &r, limits, out, on, ectx,
					err);
}
