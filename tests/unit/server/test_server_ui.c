/*
 * The fleet page's input parsers and escaping (src/server/ui.h): what a
 * browser sends before any session check, and what every untrusted value
 * goes through before it is written into a page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "ui.h"

static const char HEX[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_server_ui__cookie_value(void **state)
{
	char out[65], h[200];

	(void)state;
	snprintf(h, sizeof(h), "a=1; bw_session=%s; b=2", HEX);
	assert_int_equal(bw_ui_cookie_value(h, "bw_session", out), 1);
	assert_string_equal(out, HEX);
	snprintf(h, sizeof(h), "bw_session=%s", HEX);
	assert_int_equal(bw_ui_cookie_value(h, "bw_session", out), 1);
	/* not 64 lowercase hex digits: no session */
	snprintf(h, sizeof(h), "bw_session=%.63s", HEX);
	assert_int_equal(bw_ui_cookie_value(h, "bw_session", out), 0);
	snprintf(h, sizeof(h), "bw_session=%sa", HEX);
	assert_int_equal(bw_ui_cookie_value(h, "bw_session", out), 0);
	snprintf(h, sizeof(h), "bw_session=%.63sA", HEX);
	assert_int_equal(bw_ui_cookie_value(h, "bw_session", out), 0);
	/* a name that only ends like ours is not ours */
	snprintf(h, sizeof(h), "xbw_session=%s", HEX);
	assert_int_equal(bw_ui_cookie_value(h, "bw_session", out), 0);
	assert_int_equal(bw_ui_cookie_value(NULL, "bw_session", out), 0);
	assert_int_equal(bw_ui_cookie_value("", "bw_session", out), 0);
}

static void test_server_ui__action_path(void **state)
{
	char kind[16], name[65];
	const char *action = NULL;

	(void)state;
	assert_int_equal(bw_ui_action_path("/ui/devices/ab-12/deny", kind,
					   sizeof(kind), name, sizeof(name),
					   &action),
			 0);
	assert_string_equal(kind, "devices");
	assert_string_equal(name, "ab-12");
	assert_string_equal(action, "deny");
	assert_int_equal(bw_ui_action_path("/ui/waves//halt", kind,
					   sizeof(kind), name, sizeof(name),
					   &action),
			 -1);
	assert_int_equal(bw_ui_action_path("/ui/devices/x/deny/more", kind,
					   sizeof(kind), name, sizeof(name),
					   &action),
			 -1);
	assert_int_equal(bw_ui_action_path("/ui/devices/x/", kind,
					   sizeof(kind), name, sizeof(name),
					   &action),
			 -1);
	assert_int_equal(bw_ui_action_path("/ui/averyveryverylongkind/x/a",
					   kind, sizeof(kind), name,
					   sizeof(name), &action),
			 -1);
	assert_int_equal(bw_ui_action_path("/admin/devices/x/deny", kind,
					   sizeof(kind), name, sizeof(name),
					   &action),
			 -1);
}

static void test_server_ui__escape(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char out[256];
	size_t n;

	(void)state;
	bw_ui_esc(b, "<img src=x onerror=\"a('1')\">&\x01\n");
	n = evbuffer_remove(b, out, sizeof(out) - 1);
	out[n] = '\0';
	assert_string_equal(out, "&lt;img src=x onerror=&quot;a(&#39;1&#39;)"
				 "&quot;&gt;&amp;\n");
	bw_ui_urlenc(b, "a b/&=?\xc3\xa9");
	n = evbuffer_remove(b, out, sizeof(out) - 1);
	out[n] = '\0';
	assert_string_equal(out, "a%20b%2F%26%3D%3F%C3%A9");
	assert_string_equal(bw_ui_expiry_class(0, 100, 50), "none");
	assert_string_equal(bw_ui_expiry_class(90, 100, 50), "bad");
	assert_string_equal(bw_ui_expiry_class(110, 100, 50), "bad");
	assert_string_equal(bw_ui_expiry_class(130, 100, 50), "warn");
	assert_string_equal(bw_ui_expiry_class(200, 100, 50), "ok");
	evbuffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_ui__cookie_value),
	    cmocka_unit_test(test_server_ui__action_path),
	    cmocka_unit_test(test_server_ui__escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
