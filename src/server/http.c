/*
 * HTTP helpers shared by the listeners (http.h) and the small parsers
 * for untrusted request parts: Range, target paths, device tags.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <stdio.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "http.h"

void bw_srv_http_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	uint8_t *bytes = NULL;
	size_t len = 0;

	if (!body || bw_json_serialize(body, &bytes, &len, NULL)) {
		json_decref(body);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	json_decref(body);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evbuffer_add(out, bytes, len);
	evbuffer_add(out, "\n", 1);
	free(bytes);
	evhttp_send_reply(req, code, NULL, NULL);
}

void bw_srv_http_error(struct evhttp_request *req, int code, const char *msg)
{
	bw_srv_http_json(req, code, json_pack("{s:s}", "error", msg));
}

void bw_srv_http_status(struct evhttp_request *req, int code)
{
	evhttp_send_reply(req, code, NULL, NULL);
}

const uint8_t *bw_srv_http_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	uint8_t *p = NULL;

	/* one spare byte so parsers get NUL-terminated text */
	if (evbuffer_expand(in, 1))
		return NULL;
	evbuffer_add(in, "", 1);
	p = evbuffer_pullup(in, -1);
	*len = n;
	return p;
}

const char *bw_srv_http_header(struct evhttp_request *req, const char *name,
			       size_t max)
{
	const char *v =
	    evhttp_find_header(evhttp_request_get_input_headers(req), name);

	if (v && strnlen(v, max + 1) > max)
		return NULL;
	return v;
}

int bw_srv_http_code(int rc)
{
	switch (rc) {
	case 0:
		return 200;
	case BW_ENOTFOUND:
		return 404;
	case BW_EEXIST:
		return 409;
	case BW_ETOOBIG:
		return 413;
	case BW_EIO:
	case BW_ENOMEM:
	case BW_ECRYPTO:
		return 500;
	default:
		return 400;
	}
}

static int parse_u64(const char *s, const char **end, uint64_t *out)
{
	*end = s;
	return bw_num_read(end, UINT64_MAX, out);
}

int bw_srv_range_parse(const char *h, uint64_t size, uint64_t *first,
		       uint64_t *last)
{
	const char *p = NULL;
	uint64_t a = 0, b = 0;

	if (!h || strncmp(h, "bytes=", 6) || strlen(h) > 64)
		return BW_ENOTFOUND;
	p = h + 6;
	if (*p == '-') { /* suffix: the last n bytes */
		if (parse_u64(p + 1, &p, &b) || *p || b == 0)
			return BW_ENOTFOUND;
		if (size == 0)
			return BW_EFORMAT;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 0;
	}
	if (parse_u64(p, &p, &a) || *p++ != '-')
		return BW_ENOTFOUND; /* malformed or multi-range: whole file */
	if (*p == '\0') {
		b = size ? size - 1 : 0;
	} else if (parse_u64(p, &p, &b) || *p || b < a) {
		return BW_ENOTFOUND;
	}
	if (a >= size)
		return BW_EFORMAT;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 0;
}

int bw_srv_tag_parse(const char *h, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	if (!h)
		return 0;
	while (*h == ' ')
		h++;
	for (; h[n] && h[n] != ',' && h[n] != ' '; n++) {
		char ch = h[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return BW_EFORMAT;
		if (n + 1 >= outlen || n >= BW_STORE_TAG_MAX)
			return BW_EFORMAT;
	}
	memcpy(out, h, n);
	out[n] = '\0';
	return 0;
}
