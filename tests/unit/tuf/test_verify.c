/*
 * Single-file verification for repository tools and servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/json.h"
#include "helper_repo.h"

static void test_verify_role__threshold_type_expiry(void **state)
{
	struct repo r;
	const struct repo_file *root, *ts;
	struct bw_tuf_info info;
	struct bw_err err;
	int64_t v = 0, thr = 0;
	size_t n = 0;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	root = repo_get(&r, "metadata/1.root.json");
	ts = repo_get(&r, "metadata/timestamp.json");
	assert_int_equal(bw_tuf_metadata_info(ts->data, ts->len, &info, &err), 0);
	assert_string_equal(info.type, "timestamp");
	assert_int_equal(info.version, 1);
	assert_int_equal(bw_tuf_verify_role(root->data, root->len, "timestamp",
					    ts->data, ts->len, 1, &v, &err), 0);
	assert_int_equal(v, 1);
	/* Wrong role: not a snapshot, and not signed by the snapshot key. */
	assert_int_equal(bw_tuf_verify_role(root->data, root->len, "snapshot",
					    ts->data, ts->len, 0, NULL, &err),
			 BW_EFORMAT);
	/* Expired at a later clock. */
	assert_int_equal(bw_tuf_verify_role(root->data, root->len, "timestamp",
					    ts->data, ts->len, REPO_EXPIRES, NULL,
					    &err),
			 BW_EEXPIRED);
	/* Signed by the targets key instead: no valid signature counts. */
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 1, 1, REPO_EXPIRES), &r.targets, 1);
	ts = repo_get(&r, "metadata/timestamp.json");
	assert_int_equal(bw_tuf_verify_role(root->data, root->len, "timestamp",
					    ts->data, ts->len, 0, NULL, &err),
			 BW_ESIG);
	assert_int_equal(bw_tuf_count_signatures(root->data, root->len,
						 "timestamp", ts->data, ts->len,
						 &n, &thr, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(thr, 1);
	repo_dispose(&r);
}

/* The same signed metadata verifies whatever its layout; tampering never. */
static void test_verify_role__any_layout(void **state)
{
	static const size_t flags[] = {0, JSON_INDENT(2),
				       JSON_INDENT(1) | JSON_SORT_KEYS,
				       JSON_COMPACT | JSON_PRESERVE_ORDER};
	struct repo r;
	const struct repo_file *root, *ts;
	json_t *doc = NULL, *rev = NULL;
	struct bw_err err;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	root = repo_get(&r, "metadata/1.root.json");
	ts = repo_get(&r, "metadata/timestamp.json");
	assert_int_equal(bw_json_parse(ts->data, ts->len, NULL, &doc, NULL), 0);
	/* "signed" before "signatures": not the canonical envelope. */
	rev = json_pack("{s:O,s:O}", "signed", json_object_get(doc, "signed"),
			"signatures", json_object_get(doc, "signatures"));
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		json_t *v = i == 3 ? rev : doc;
		char *text = json_dumps(v, flags[i]);
		size_t n = strlen(text);

		assert_int_equal(bw_tuf_verify_role(root->data, root->len,
						    "timestamp", text, n, 0, NULL,
						    &err), 0);
		/* Change the version digit: no layout makes that verify. */
		for (char *p = strstr(text, "\"version\""); p && *p; p++) {
			if (*p >= '0' && *p <= '9') {
				*p = *p == '9' ? '8' : (char)(*p + 1);
				break;
			}
		}
		assert_int_equal(bw_tuf_verify_role(root->data, root->len,
						    "timestamp", text, n, 0, NULL,
						    &err), BW_ESIG);
		free(text);
	}
	json_decref(doc);
	json_decref(rev);
	repo_dispose(&r);
}

static void test_verify_root_update__old_and_new(void **state)
{
	struct repo r;
	struct bw_signer *old_root, *both[2];
	const struct repo_file *r1, *r2;
	struct bw_err err;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	old_root = r.root;
	r.root = r.deleg;
	both[0] = old_root;
	both[1] = r.deleg;
	repo_put_signed(&r, "metadata/2.root.json",
			repo_root_signed(&r, 2, REPO_EXPIRES), &r.deleg, 1);
	r1 = repo_get(&r, "metadata/1.root.json");
	r2 = repo_get(&r, "metadata/2.root.json");
	assert_int_equal(bw_tuf_verify_root_update(r1->data, r1->len, r2->data,
						   r2->len, &err), BW_ESIG);
	repo_put_signed(&r, "metadata/2.root.json",
			repo_root_signed(&r, 2, REPO_EXPIRES), both, 2);
	r2 = repo_get(&r, "metadata/2.root.json");
	assert_int_equal(bw_tuf_verify_root_update(r1->data, r1->len, r2->data,
						   r2->len, &err), 0);
	repo_put_signed(&r, "metadata/3.root.json",
			repo_root_signed(&r, 3, REPO_EXPIRES), both, 2);
	r2 = repo_get(&r, "metadata/3.root.json");
	r1 = repo_get(&r, "metadata/1.root.json");
	assert_int_equal(bw_tuf_verify_root_update(r1->data, r1->len, r2->data,
						   r2->len, &err), BW_EBADVERSION);
	r.root = old_root;
	repo_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_role__threshold_type_expiry),
		cmocka_unit_test(test_verify_role__any_layout),
		cmocka_unit_test(test_verify_root_update__old_and_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
