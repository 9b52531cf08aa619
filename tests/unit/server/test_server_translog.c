/*
 * bulwarkd's transparency log on a real SQLite file: entries appended in
 * the action's transaction (a rollback takes the entry back), proofs from
 * the stored tree checked against signed checkpoints, the append-only
 * triggers, and a database whose tree no longer matches its checkpoint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_tmpdir.h"

#include "bulwark/tlog.h"
#include "storage.h"
#include "translog.h"

#define NOW ((int64_t)1800000000)
#define ORIGIN "bulwark.test/log"

static char g_tmp[] = "/tmp/bw-translog-XXXXXX";
static char g_db[300];

static struct bw_signer *log_key(void)
{
	uint8_t seed[32];
	struct bw_signer *s = NULL;

	memset(seed, 7, sizeof(seed));
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, &s, NULL), 0);
	return s;
}

static void append_n(struct bw_store *st, int n, int first)
{
	struct bw_err err;
	int i;

	assert_int_equal(st->ops->begin(st, &err), 0);
	for (i = 0; i < n; i++) {
		json_t *o = json_pack("{s:i}", "n", first + i);

		assert_int_equal(bw_srv_tlog_append(st, "test.action", "server",
						    o, NOW + i, NULL, &err),
				 0);
		json_decref(o);
	}
	assert_int_equal(st->ops->commit(st, &err), 0);
}

static void open_cp(const char *note, size_t len, struct bw_signer *key,
		    struct bw_tlog_checkpoint *c)
{
	struct bw_tlog_vkey vk;
	struct bw_err err;

	assert_int_equal(bw_tlog_vkey_from_key(ORIGIN, bw_signer_key(key), &vk,
					       NULL, NULL),
			 0);
	assert_int_equal(bw_tlog_checkpoint_open((const uint8_t *)note, len,
						 &vk, ORIGIN, NULL, 0, 0, c,
						 &err),
			 0);
}

static void test_server_translog__append_prove_checkpoint(void **state)
{
	struct bw_store *st = NULL;
	struct bw_signer *key = log_key();
	struct bw_tlog_checkpoint c1, c2;
	struct bw_tlog_reader r;
	struct bw_tlog_proof p;
	struct bw_tlog_hash leaf;
	char *n1 = NULL, *n2 = NULL, *again = NULL;
	size_t l1 = 0, l2 = 0, la = 0;
	uint64_t i, size = 0;
	uint8_t *entry = NULL;
	size_t elen = 0;

	(void)state;
	snprintf(g_db, sizeof(g_db), "%s/a.db", g_tmp);
	assert_int_equal(bw_store_sqlite_open(g_db, &st, NULL), 0);
	/* the empty log has a checkpoint too */
	assert_int_equal(bw_srv_tlog_checkpoint(st, key, ORIGIN, NOW, &n1, &l1,
						NULL),
			 0);
	open_cp(n1, l1, key, &c1);
	assert_int_equal(c1.size, 0);
	free(n1);

	append_n(st, 37, 0);
	assert_int_equal(bw_srv_tlog_checkpoint(st, key, ORIGIN, NOW, &n1, &l1,
						NULL),
			 0);
	open_cp(n1, l1, key, &c1);
	assert_int_equal(c1.size, 37);
	/* no growth: the same checkpoint comes back */
	assert_int_equal(bw_srv_tlog_checkpoint(st, key, ORIGIN, NOW + 5,
						&again, &la, NULL),
			 0);
	assert_int_equal(la, l1);
	assert_memory_equal(again, n1, l1);
	free(again);

	/* an action that fails takes its entry back */
	assert_int_equal(st->ops->begin(st, NULL), 0);
	assert_int_equal(bw_srv_tlog_append(st, "test.action", "server", NULL,
					    NOW, NULL, NULL),
			 0);
	st->ops->rollback(st);
	assert_int_equal(st->ops->tlog_size(st, &size, NULL), 0);
	assert_int_equal(size, 37);

	append_n(st, 100, 37);
	assert_int_equal(bw_srv_tlog_checkpoint(st, key, ORIGIN, NOW, &n2, &l2,
						NULL),
			 0);
	open_cp(n2, l2, key, &c2);
	assert_int_equal(c2.size, 137);

	bw_srv_tlog_reader(st, &r);
	for (i = 0; i < c2.size; i++) {
		assert_int_equal(st->ops->tlog_leaf_get(st, i, BW_TLOG_ENTRY_MAX,
							&entry, &elen, NULL),
				 0);
		bw_tlog_leaf_hash(entry, elen, &leaf);
		free(entry);
		assert_int_equal(bw_tlog_prove_inclusion(c2.size, i, &r, &p,
							 NULL),
				 0);
		assert_int_equal(bw_tlog_verify_inclusion(c2.size, i, &leaf, &p,
							  &c2.root, NULL),
				 0);
	}
	assert_int_equal(bw_tlog_prove_consistency(c1.size, c2.size, &r, &p,
						   NULL),
			 0);
	assert_int_equal(bw_tlog_verify_consistency(c1.size, c2.size, &c1.root,
						    &c2.root, &p, NULL),
			 0);
	/* checkpoints are kept per size */
	free(n1);
	assert_int_equal(st->ops->tlog_checkpoint_get(st, 37, &size, &n1, &l1,
						      NULL),
			 0);
	assert_int_equal(size, 37);
	free(n1);
	free(n2);
	bw_store_close(st);
	bw_signer_free(key);
}

static void test_server_translog__append_only(void **state)
{
	struct bw_store *st = NULL;
	char cmd[600];
	uint64_t size = 0;

	(void)state;
	snprintf(g_db, sizeof(g_db), "%s/b.db", g_tmp);
	assert_int_equal(bw_store_sqlite_open(g_db, &st, NULL), 0);
	append_n(st, 3, 0);
	bw_store_close(st);
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"UPDATE tlog_leaves SET entry = 'x' WHERE idx = 1\""
		 " 2>/dev/null",
		 g_db);
	assert_int_not_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"DELETE FROM tlog_nodes\" 2>/dev/null", g_db);
	assert_int_not_equal(system(cmd), 0);
	assert_int_equal(bw_store_sqlite_open(g_db, &st, NULL), 0);
	assert_int_equal(st->ops->tlog_size(st, &size, NULL), 0);
	assert_int_equal(size, 3);
	bw_store_close(st);
}

static void test_server_translog__no_checkpoint_over_altered_tree(void **state)
{
	struct bw_store *st = NULL;
	struct bw_signer *key = log_key();
	struct bw_err err;
	char cmd[600], *note = NULL;
	size_t len = 0;

	(void)state;
	snprintf(g_db, sizeof(g_db), "%s/c.db", g_tmp);
	assert_int_equal(bw_store_sqlite_open(g_db, &st, NULL), 0);
	append_n(st, 8, 0);
	assert_int_equal(bw_srv_tlog_checkpoint(st, key, ORIGIN, NOW, &note,
						&len, NULL),
			 0);
	free(note);
	bw_store_close(st);
	/* someone with the file rewrites a subtree hash */
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"DROP TRIGGER tlog_nodes_upd; UPDATE tlog_nodes"
		 " SET hash = zeroblob(32) WHERE level = 3 AND idx = 0\"",
		 g_db);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(bw_store_sqlite_open(g_db, &st, NULL), 0);
	append_n(st, 1, 8);
	assert_int_equal(bw_srv_tlog_checkpoint(st, key, ORIGIN, NOW, &note,
						&len, &err),
			 BW_EHASH);
	assert_null(note);
	assert_non_null(strstr(err.msg, "refusing to sign"));
	bw_store_close(st);
	bw_signer_free(key);
}

static void test_server_translog__actor_names(void **state)
{
	char by[BW_SRV_TLOG_BY_MAX];
	const char *md = "{\"signatures\":[{\"keyid\":\"bb" /* 62 more */
			 "00000000000000000000000000000000000000000000000000000"
			 "000000000\",\"sig\":\"00\"},{\"keyid\":\"aa000000000000"
			 "00000000000000000000000000000000000000000000000000\","
			 "\"sig\":\"00\"},{\"keyid\":\"zz\",\"sig\":\"00\"}],"
			 "\"signed\":{}}";

	(void)state;
	bw_srv_tlog_admin_by("secret-token", 12, by);
	assert_int_equal(strncmp(by, "admin:", 6), 0);
	assert_int_equal(strlen(by), 6 + 16);
	assert_null(strstr(by, "secret"));
	bw_srv_tlog_signers_by((const uint8_t *)md, strlen(md), by);
	{
		char want[6 + 2 * 65];

		memset(want, '0', sizeof(want));
		memcpy(want, "keys:aa", 7);
		memcpy(want + 5 + 64, ",bb", 3);
		want[5 + 64 + 1 + 64] = '\0';
		assert_string_equal(by, want);
	}
	bw_srv_tlog_signers_by((const uint8_t *)"{}", 2, by);
	assert_string_equal(by, "keys:none");
}

static int setup(void **state)
{
	(void)state;
	return bw_test_tmpdir_make(g_tmp);
}

static int teardown(void **state)
{
	(void)state;
	return bw_test_tmpdir_remove(g_tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_translog__append_prove_checkpoint),
		cmocka_unit_test(test_server_translog__append_only),
		cmocka_unit_test(test_server_translog__no_checkpoint_over_altered_tree),
		cmocka_unit_test(test_server_translog__actor_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
