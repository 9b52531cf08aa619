/*
 * Watching the server and reporting the run (fleetsim.h): the wave's
 * state through the admin API (GET /waves/NAME, polled every 200 ms),
 * bulwarkd's CPU time from /proc/<pid>/stat, and the report: outcomes
 * before the halt and the halt itself from the wave's log, devices
 * exposed (admitted), the time from the deciding outcome to the halt,
 * check-ins per second, their latency and the server's CPU per check-in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"
#include "bulwark/fetch.h"
#include "bulwark/json.h"
#include "fleetsim.h"


struct fs_admin {
	struct bw_fetcher *fetcher;
	const char *base;
	char header[300]; /* "Authorization: Bearer <token>", wiped at free */
};

int fs_admin_new(const struct fs_opts *o, struct fs_admin **out,
		 struct bw_err *err)
{
	struct fs_admin *a = calloc(1, sizeof(*a));
	struct bw_http_opts h = {0};
	const char *hdrs[2] = {NULL, NULL};
	struct bw_buf tok;
	int rc;

	*out = NULL;
	if (!a)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	a->base = o->admin_url;
	bw_buf_init_secret(&tok, 256);
	rc = bw_io_read_file(o->admin_token_file, tok.max - 1, &tok, err);
	while (!rc && tok.len && (tok.data[tok.len - 1] == '\n' ||
				  tok.data[tok.len - 1] == '\r'))
		tok.len--;
	if (!rc && (tok.len == 0 || memchr(tok.data, '\n', tok.len)))
		rc = bw_err_set(err, BW_EFORMAT, "%s: one token line expected",
				o->admin_token_file);
	if (!rc)
		snprintf(a->header, sizeof(a->header),
			 "Authorization: Bearer %.*s", (int)tok.len,
			 (const char *)tok.data);
	bw_buf_dispose_secret(&tok);
	hdrs[0] = a->header;
	h.headers = hdrs;
	h.ca_file = o->ca_file;
	if (!rc)
		rc = bw_http_fetcher_new(&h, &a->fetcher, err);
	if (rc) {
		fs_admin_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void fs_admin_free(struct fs_admin *a)
{
	if (!a)
		return;
	bw_fetcher_free(a->fetcher);
	OPENSSL_cleanse(a->header, sizeof(a->header));
	free(a);
}

static int sink(void *ctx, const uint8_t *data, size_t len)
{
	return bw_buf_append(ctx, data, len);
}

int fs_admin_get(struct fs_admin *a, const char *path, json_t **out,
		 struct bw_err *err)
{
	struct bw_buf b;
	json_error_t je;
	char *url = NULL;
	size_t n = strlen(a->base) + strlen(path) + 1;
	int rc;

	*out = NULL;
	if (!(url = malloc(n)))
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	snprintf(url, n, "%s%s", a->base, path);
	bw_buf_init(&b, 8u << 20);
	rc = a->fetcher->fetch(a->fetcher, url, 0, b.max, sink, &b, err);
	if (!rc && !(*out = json_loadb((const char *)b.data, b.len, 0, &je)))
		rc = bw_err_set(err, BW_EFORMAT, "%s: %s", path, je.text);
	bw_buf_dispose(&b);
	free(url);
	return rc;
}

int fs_admin_post(struct fs_admin *a, const char *path, const void *body,
		  size_t len, long *status, struct bw_err *err)
{
	struct bw_http_request req = {0};
	struct bw_buf resp;
	char *url = NULL;
	size_t n = strlen(a->base) + strlen(path) + 1;
	int rc;

	if (!(url = malloc(n)))
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	snprintf(url, n, "%s%s", a->base, path);
	req.url = url;
	req.body = body;
	req.body_len = len;
	bw_buf_init(&resp, 1u << 20);
	rc = bw_http_request(a->fetcher, &req, status, &resp, err);
	if (!rc && *status >= 300)
		rc = bw_err_set(err, BW_EINVAL, "POST %s: HTTP %ld: %.*s", path,
				*status, (int)(resp.len > 200 ? 200 : resp.len),
				resp.data ? (const char *)resp.data : "");
	bw_buf_dispose(&resp);
	free(url);
	return rc;
}

int fs_proc_cpu(long pid, double *out, struct bw_err *err)
{
	char path[64];
	struct bw_buf b;
	const char *p = NULL;
	uint64_t v[2] = {0, 0};
	int rc;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	bw_buf_init(&b, 4096);
	rc = bw_io_read_file(path, b.max - 1, &b, err);
	if (!rc && bw_buf_append(&b, "", 1) != 0)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	/* after "(comm)": fields 3.. ; utime and stime are fields 14 and 15
	 * (proc(5)). comm may hold spaces and parentheses: the last ')'. */
	if (!rc && !(p = strrchr((const char *)b.data, ')')))
		rc = bw_err_set(err, BW_EFORMAT, "%s: no ')'", path);
	if (!rc)
		p++;
	for (int field = 3; !rc && field <= 15; field++) {
		while (*p == ' ')
			p++;
		if (field < 14) {
			while (*p && *p != ' ')
				p++;
		} else if (bw_num_read(&p, UINT64_MAX / 2, &v[field - 14])) {
			rc = bw_err_set(err, BW_EFORMAT, "%s: field %d", path,
					field);
		}
	}
	bw_buf_dispose(&b);
	if (!rc)
		*out = (double)(v[0] + v[1]) / (double)sysconf(_SC_CLK_TCK);
	return rc;
}
