/*
 * Unit tests for the default fetcher (include/bulwark/fetch.h): file://
 * URLs read from the file system with the fetch contract (offset, size
 * cap, errors), and libcurl loaded only when an http:// URL is fetched.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/fetch.h"

#define BODY "0123456789abcdefghij" /* 20 bytes */

struct fx {
	char dir[64];
	char url[256];
	struct bw_fetcher *f;
};

struct sink {
	struct bw_buf b;
	int calls;
	int fail; /* non-zero: returned on the first call */
};

static int to_buf(void *ctx, const uint8_t *data, size_t len)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->fail != 0)
		return s->fail;
	return bw_buf_append(&s->b, data, len);
}

static void put(const struct fx *fx, const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	assert_int_equal(bw_io_write_atomic(path, text, strlen(text), 0644,
					    NULL), 0);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/bw_test_http.XXXXXX");
	if (mkdtemp(fx->dir) == NULL ||
	    bw_http_fetcher_new(NULL, &fx->f, NULL) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	bw_fetcher_free(fx->f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

/* Fetch fx->dir + rel; the body lands in s (initialised here). */
static int fetch(struct fx *fx, const char *rel, uint64_t offset,
		 uint64_t max, struct sink *s, struct bw_err *err)
{
	snprintf(fx->url, sizeof(fx->url), "file://%s/%s", fx->dir, rel);
	bw_buf_init(&s->b, 1 << 20);
	s->calls = 0;
	return fx->f->fetch(fx->f, fx->url, offset, max, to_buf, s, err);
}

static void expect_body(struct sink *s, const char *text)
{
	assert_int_equal(s->b.len, strlen(text));
	assert_memory_equal(s->b.data, text, strlen(text));
	bw_buf_dispose(&s->b);
}

static void test_http_file__whole_and_ranges(void **state)
{
	struct fx *fx = *state;
	struct sink s = {0};
	struct bw_err err;

	put(fx, "t.json", BODY);
	assert_int_equal(fetch(fx, "t.json", 0, 1000, &s, &err), 0);
	expect_body(&s, BODY);
	/* Exactly max_len bytes is allowed. */
	assert_int_equal(fetch(fx, "t.json", 0, 20, &s, &err), 0);
	expect_body(&s, BODY);
	/* An offset reads from that byte on (a resumed download). */
	assert_int_equal(fetch(fx, "t.json", 5, 15, &s, &err), 0);
	expect_body(&s, "56789abcdefghij");
	/* At the end: nothing more to read. */
	assert_int_equal(fetch(fx, "t.json", 20, 0, &s, &err), 0);
	expect_body(&s, "");
	/* Beyond the end: the file changed; the caller starts again. */
	assert_int_equal(fetch(fx, "t.json", 21, 100, &s, &err), BW_ENORANGE);
	assert_int_equal(s.calls, 0);
	bw_buf_dispose(&s.b);
	/* localhost is this machine. */
	snprintf(fx->url, sizeof(fx->url), "file://localhost%s/t.json", fx->dir);
	bw_buf_init(&s.b, 1 << 20);
	assert_int_equal(fx->f->fetch(fx->f, fx->url, 0, 100, to_buf, &s, &err),
			 0);
	expect_body(&s, BODY);
}

static void test_http_file__size_cap(void **state)
{
	struct fx *fx = *state;
	struct sink s = {0};
	struct bw_err err;

	put(fx, "t.json", BODY);
	assert_int_equal(fetch(fx, "t.json", 0, 19, &s, &err), BW_ETOOBIG);
	/* Not one byte beyond the cap reached the sink. */
	assert_true(s.b.len <= 19);
	assert_non_null(strstr(err.msg, "more than 19 bytes"));
	bw_buf_dispose(&s.b);
	assert_int_equal(fetch(fx, "t.json", 10, 9, &s, &err), BW_ETOOBIG);
	assert_true(s.b.len <= 9);
	bw_buf_dispose(&s.b);
}

static void test_http_file__not_found(void **state)
{
	struct fx *fx = *state;
	struct sink s = {0};
	struct bw_err err;
	char path[128];

	assert_int_equal(fetch(fx, "missing.json", 0, 100, &s, &err),
			 BW_ENOTFOUND);
	bw_buf_dispose(&s.b);
	/* A directory is not a file (nor is anything but a regular file). */
	snprintf(path, sizeof(path), "%s/dir.json", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(fetch(fx, "dir.json", 0, 100, &s, &err),
			 BW_ENOTFOUND);
	assert_int_equal(s.calls, 0);
	bw_buf_dispose(&s.b);
}

static void test_http_file__percent_escapes(void **state)
{
	struct fx *fx = *state;
	struct sink s = {0};
	struct bw_err err;

	/* A role or target name is percent-encoded into the URL (as a web
	 * server decodes it, so does the file reader). */
	put(fx, "a b%.json", BODY);
	assert_int_equal(fetch(fx, "a%20b%25.json", 0, 100, &s, &err), 0);
	expect_body(&s, BODY);
	assert_int_equal(fetch(fx, "a%20b%2.json", 0, 100, &s, &err),
			 BW_EINVAL);
	bw_buf_dispose(&s.b);
	assert_int_equal(fetch(fx, "a%2", 0, 100, &s, &err), BW_EINVAL);
	bw_buf_dispose(&s.b);
	assert_int_equal(fetch(fx, "a%", 0, 100, &s, &err), BW_EINVAL);
	bw_buf_dispose(&s.b);
	assert_int_equal(fetch(fx, "a%zz", 0, 100, &s, &err), BW_EINVAL);
	bw_buf_dispose(&s.b);
	/* An encoded NUL would cut the path short: refused. */
	put(fx, "a", BODY);
	assert_int_equal(fetch(fx, "a%00.json", 0, 100, &s, &err), BW_EINVAL);
	assert_int_equal(s.calls, 0);
	bw_buf_dispose(&s.b);
}

static void test_http_file__url_shapes(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
	    "file://example.org/etc/hostname", /* a host */
	    "file:relative/path",
	    "file:/tmp/one-slash",
	};
	struct sink s = {0};
	struct bw_err err;

	put(fx, "t.json", BODY);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bw_buf_init(&s.b, 1 << 20);
		assert_int_equal(fx->f->fetch(fx->f, bad[i], 0, 100, to_buf, &s,
					      &err),
				 BW_EINVAL);
		bw_buf_dispose(&s.b);
	}
	/* No query or fragment names a file. */
	assert_int_equal(fetch(fx, "t.json?x=1", 0, 100, &s, &err), BW_EINVAL);
	bw_buf_dispose(&s.b);
	assert_int_equal(fetch(fx, "t.json#f", 0, 100, &s, &err), BW_EINVAL);
	assert_int_equal(s.calls, 0);
	bw_buf_dispose(&s.b);
}

static void test_http_file__sink_abort(void **state)
{
	struct fx *fx = *state;
	struct sink s = {.fail = BW_EIO};
	struct bw_err err;

	put(fx, "t.json", BODY);
	assert_int_equal(fetch(fx, "t.json", 0, 100, &s, &err), BW_EIO);
	assert_int_equal(s.calls, 1);
	bw_buf_dispose(&s.b);
}

/*
 * libcurl is loaded at the first http:// request, not before: a program
 * that reads file:// repositories never maps it. (This test program
 * links libbulwark only; libcurl is not among its link dependencies.)
 */
static void test_http_fetch__libcurl_loaded_on_demand(void **state)
{
	struct fx *fx = *state;
	struct sink s = {0};
	struct bw_err err;
	int rc;

	put(fx, "t.json", BODY);
	assert_int_equal(fetch(fx, "t.json", 0, 100, &s, &err), 0);
	expect_body(&s, BODY);
	assert_null(dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD));
	/* Port 1 on 127.0.0.1: nothing listens; the request fails cleanly. */
	bw_buf_init(&s.b, 1 << 20);
	s.calls = 0;
	rc = fx->f->fetch(fx->f, "http://127.0.0.1:1/t.json", 0, 100, to_buf,
			  &s, &err);
	assert_int_equal(rc, BW_ENET);
	assert_int_equal(s.calls, 0);
	bw_buf_dispose(&s.b);
	{
		void *h = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD);

		assert_non_null(h);
		dlclose(h);
	}
	/* The same fetcher still reads files afterwards. */
	assert_int_equal(fetch(fx, "t.json", 0, 100, &s, &err), 0);
	expect_body(&s, BODY);
}

static void test_http_fetcher__options_checked(void **state)
{
	struct bw_http_opts o = {.client_pkey = (void *)1};
	struct bw_fetcher *f = NULL;
	struct bw_err err;

	(void)state;
	/* A token key without its certificate chain is refused at once. */
	assert_int_equal(bw_http_fetcher_new(&o, &f, &err), BW_EINVAL);
	assert_null(f);
	o.cert_file = "chain.pem";
	o.key_file = "key.pem";
	assert_int_equal(bw_http_fetcher_new(&o, &f, &err), BW_EINVAL);
	assert_null(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_http_file__whole_and_ranges,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http_file__size_cap, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_file__not_found, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_file__percent_escapes,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http_file__url_shapes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_file__sink_abort, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_http_fetch__libcurl_loaded_on_demand, setup, teardown),
	    cmocka_unit_test(test_http_fetcher__options_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
