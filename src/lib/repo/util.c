/*
 * Small helpers of the repository workspace: paths, bounded reads, time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

char *bw_repo__path(const char *dir, const char *fmt, ...)
{
	char *rel = NULL, *p = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&rel, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if (bw_path_join(dir, rel, &p) != 0)
		p = NULL;
	free(rel);
	return p;
}

int bw_repo__read(const char *path, size_t max, uint8_t **out, size_t *len,
		  struct bw_err *err)
{
	struct bw_buf b;
	int rc;

	*out = NULL;
	*len = 0;
	bw_buf_init(&b, max);
	rc = bw_io_read_file(path, max, &b, err);
	if (rc == 0)
		rc = bw_buf_steal(&b, out, len);
	bw_buf_dispose(&b);
	return rc;
}

int bw_repo__read_json(const char *path, size_t max, json_t **out,
		       struct bw_err *err)
{
	uint8_t *b = NULL;
	size_t n = 0;
	struct bw_json_limits lim = {.max_bytes = max};
	int rc;

	*out = NULL;
	rc = bw_repo__read(path, max, &b, &n, err);
	if (rc == 0) {
		struct bw_err e = {0};

		rc = bw_json_parse(b, n, &lim, out, &e);
		if (rc != 0)
			bw_err_set(err, rc, "%s: %s", path, e.msg);
	}
	free(b);
	return rc;
}

int64_t bw_repo__now(const struct bw_repo *r)
{
	if (r != NULL && r->now != 0)
		return r->now;
	return (int64_t)time(NULL);
}

/* Tags become directory names: a short, plain charset. */
int bw_repo__tag_ok(const char *tag)
{
	size_t n = tag != NULL ? strlen(tag) : 0;

	if (n == 0 || n > 64 || tag[0] == '.' || tag[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int bw_repo__expires(int64_t t, char out[32])
{
	return bw_tuf_time_format(t, out, 32);
}

void bw_repo_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
