/*
 * Unit tests for the device agent's modules (src/device/): state database
 * (schema, round trip, damaged rows, newer schema), event queue (bound,
 * batch wire format), config parsing, target matching and version order,
 * recovery of an interrupted install, and the power-loss hook (in a
 * forked child, which must die by SIGKILL at exactly the N-th write).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent.h"
#include "bulwark/buf.h"
#include "crash.h"
#include "events.h"
#include "select.h"
#include "bootenv.h"

/* ---- fixtures -------------------------------------------------------------- */

struct fx {
	char dir[64];
	char db[128];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/bw_test_device.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/sota.db", f->dir);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static sqlite3 *open_db(struct fx *f)
{
	sqlite3 *db = NULL;
	struct bw_err err = {0};

	assert_int_equal(bw_dev_state_open(f->db, &db, &err), 0);
	return db;
}

static struct bw_dev_target target(const char *name, const char *version)
{
	struct bw_dev_target t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.version, sizeof(t.version), "%s", version);
	t.length = 1234;
	memset(t.sha256, 'a', 64);
	t.bootfw = -1;
	return t;
}

/* ---- state --------------------------------------------------------------- */

static void test_device_state__fresh_database(void **state)
{
	sqlite3 *db = open_db(*state);
	struct bw_dev_state st;

	assert_int_equal(bw_dev_state_load(db, &st, NULL), 0);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.pending, -1);
	assert_int_equal(st.booted, -1);
	assert_int_equal(st.slot_state[0], BW_DEV_SLOT_GOOD);
	assert_string_equal(st.slot[0].name, "factory");
	assert_int_equal(st.slot_state[1], BW_DEV_SLOT_EMPTY);
	assert_int_equal(st.dl_state, BW_DEV_DL_NONE);
	assert_int_equal(st.bootfw, -1);
	sqlite3_close(db);
}

static void test_device_state__round_trip_and_reopen(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = open_db(f);
	struct bw_dev_state st, st2;

	assert_int_equal(bw_dev_state_load(db, &st, NULL), 0);
	st.pending = 1;
	st.attempts_left = 2;
	st.slot_state[1] = BW_DEV_SLOT_PENDING;
	st.slot[1] = target("fw-2", "2");
	st.slot[1].bootfw = 7;
	snprintf(st.correlation, sizeof(st.correlation), "corr-1");
	assert_int_equal(bw_dev_state_save(db, &st, NULL, 0, 10, NULL), 0);
	sqlite3_close(db);
	db = open_db(f); /* migrations are not re-applied */
	assert_int_equal(bw_dev_state_load(db, &st2, NULL), 0);
	assert_int_equal(st2.pending, 1);
	assert_int_equal(st2.attempts_left, 2);
	assert_int_equal(st2.slot_state[1], BW_DEV_SLOT_PENDING);
	assert_string_equal(st2.slot[1].name, "fw-2");
	assert_int_equal(st2.slot[1].bootfw, 7);
	assert_int_equal(st2.slot[1].length, 1234);
	assert_string_equal(st2.correlation, "corr-1");
	sqlite3_close(db);
}

static void test_device_state__damaged_row_refused(void **state)
{
	sqlite3 *db = open_db(*state);
	struct bw_dev_state st;
	struct bw_err err = {0};

	/* A slot index out of range must never reach the slot array. */
	assert_int_equal(sqlite3_exec(db, "UPDATE agent SET pending = 7", NULL,
				      NULL, NULL), SQLITE_OK);
	assert_int_equal(bw_dev_state_load(db, &st, &err), BW_EFORMAT);
	assert_non_null(strstr(err.msg, "agent row"));
	assert_int_equal(sqlite3_exec(db, "UPDATE agent SET pending = -1;"
				      "UPDATE target_rec SET state = 99 WHERE "
				      "role = 'slot1'", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(bw_dev_state_load(db, &st, &err), BW_EFORMAT);
	sqlite3_close(db);
}

static void test_device_state__newer_schema_refused(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = open_db(f);
	struct bw_err err = {0};

	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	db = NULL;
	assert_int_equal(bw_dev_state_open(f->db, &db, &err), BW_EUNSUPPORTED);
	assert_null(db);
}

static void test_device_state__migrates_v1(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = open_db(f);
	struct bw_dev_state st;
	char key[16];

	/* Make it a schema-1 database holding a pending install. */
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE agent DROP COLUMN "
				      "best_name; ALTER TABLE agent DROP COLUMN"
				      " best_for; ALTER TABLE agent DROP COLUMN "
				      "listing_key; UPDATE agent SET pending ="
				      " 1; UPDATE target_rec SET state = 2 WHERE"
				      " role = 'slot1'; PRAGMA user_version = 1",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	db = open_db(f);
	assert_int_equal(bw_dev_state_load(db, &st, NULL), 0);
	assert_int_equal(st.pending, 1); /* kept across the migration */
	assert_int_equal(bw_dev_state_listing_key(db, key, sizeof(key)), 0);
	assert_string_equal(key, "");
	sqlite3_close(db);
}

static int save_listing(sqlite3 *db, const struct bw_dev_target *ts, size_t n,
			const char *key, const struct bw_dev_target *best)
{
	struct bw_dev_listing_tx *tx = NULL;
	int rc = bw_dev_state_listing_begin(db, &tx, NULL);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = bw_dev_state_listing_add(tx, &ts[i], NULL);
	if (rc != 0) {
		bw_dev_state_listing_abort(tx);
		return rc;
	}
	return bw_dev_state_listing_commit(tx, 42, key, "", best, NULL);
}

static int collect_names(void *ctx, const struct bw_dev_target *t, int failed)
{
	char *out = ctx;
	size_t len = strlen(out);

	snprintf(out + len, 64 - len, "%s%s;", t->name, failed ? "!" : "");
	return 0;
}

static void test_device_state__failed_and_listing(void **state)
{
	sqlite3 *db = open_db(*state);
	struct bw_dev_target ts[3] = {target("a", "1"), target("b", "2"),
				      target("c", "3")};
	struct bw_dev_listing_tx *tx = NULL;
	struct bw_dev_target t;
	char key[64], names[64] = "";
	int failed = 1, found = 0, any = 1;

	assert_int_equal(bw_dev_state_is_failed(db, "a", &failed, NULL), 0);
	assert_int_equal(failed, 0);
	assert_int_equal(bw_dev_state_mark_failed(db, &ts[0], NULL), 0);
	assert_int_equal(bw_dev_state_is_failed(db, "a", &failed, NULL), 0);
	assert_int_equal(failed, 1);
	assert_int_equal(save_listing(db, ts, 2, "1|hw|", NULL), 0);
	assert_int_equal(save_listing(db, ts + 1, 2, "2|hw|", NULL), 0);
	assert_int_equal(bw_dev_state_listing_foreach(db, 0, collect_names,
						      names, NULL), 0);
	assert_string_equal(names, "b;c;"); /* replaced, not appended */
	assert_int_equal(bw_dev_state_listing_key(db, key, sizeof(key)), 0);
	assert_string_equal(key, "2|hw|");
	assert_int_equal(bw_dev_state_listing_find_version(db, "3", &t, &found,
							   NULL), 0);
	assert_int_equal(found, 1);
	assert_string_equal(t.name, "c");
	/* no digest stored: pull records the one TUF verifies then */
	assert_string_equal(t.sha256, "");
	assert_int_equal(t.length, 1234);
	assert_int_equal(bw_dev_state_listing_find_version(db, "9", &t, &found,
							   NULL), 0);
	assert_int_equal(found, 0);

	/* Failed targets are told apart, in the transaction too. */
	assert_int_equal(save_listing(db, ts, 3, "3|hw|", NULL), 0);
	names[0] = '\0';
	assert_int_equal(bw_dev_state_listing_foreach(db, 0, collect_names,
						      names, NULL), 0);
	assert_string_equal(names, "a!;b;c;");
	names[0] = '\0';
	assert_int_equal(bw_dev_state_listing_foreach(db, 1, collect_names,
						      names, NULL), 0);
	assert_string_equal(names, "a!;");
	assert_int_equal(bw_dev_state_listing_begin(db, &tx, NULL), 0);
	assert_int_equal(bw_dev_state_listing_is_failed(tx, "a", &failed, NULL),
			 0);
	assert_int_equal(failed, 1);
	assert_int_equal(bw_dev_state_listing_is_failed(tx, "b", &failed, NULL),
			 0);
	assert_int_equal(failed, 0);
	/* An aborted rebuild leaves the listing as it was. */
	bw_dev_state_listing_abort(tx);
	assert_int_equal(bw_dev_state_listing_any(db, &any, NULL), 0);
	assert_int_equal(any, 1);
	/* Names come in order (a chunk is found by its first name). */
	assert_int_equal(bw_dev_state_listing_begin(db, &tx, NULL), 0);
	assert_int_equal(bw_dev_state_listing_add(tx, &ts[1], NULL), 0);
	assert_int_equal(bw_dev_state_listing_add(tx, &ts[0], NULL), BW_EINVAL);
	assert_int_equal(bw_dev_state_listing_add(tx, &ts[1], NULL), BW_EINVAL);
	bw_dev_state_listing_abort(tx);
	/* A damaged chunk is an error, never a short digest. */
	assert_int_equal(sqlite3_exec(db, "UPDATE listing SET data = "
				      "substr(data, 1, length(data) - 5)",
				      NULL, NULL, NULL), SQLITE_OK);
	names[0] = '\0';
	assert_int_equal(bw_dev_state_listing_foreach(db, 0, collect_names,
						      names, NULL), BW_EIO);
	assert_int_equal(save_listing(db, NULL, 0, "4|hw|", NULL), 0);
	assert_int_equal(bw_dev_state_listing_any(db, &any, NULL), 0);
	assert_int_equal(any, 0);
	sqlite3_close(db);
}

static int count_rows(void *ctx, int n, char **v, char **c)
{
	(void)n;
	(void)v;
	(void)c;
	(*(int *)ctx)++;
	return 0;
}

/* 20,000 targets span many chunks: every one is found by name (the seek
 * lands on the right chunk), failed ones anywhere are reported. */
static void test_device_state__listing_chunks(void **state)
{
	sqlite3 *db = open_db(*state);
	struct bw_dev_listing_tx *tx = NULL;
	struct bw_dev_target t, best;
	char name[64], names[64] = "";
	int have, stored, n = 0;

	assert_int_equal(bw_dev_state_listing_begin(db, &tx, NULL), 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "fw-%05d-%s.img", i,
			 i % 2 ? "long-name-to-fill-chunks" : "x");
		t = target(name, "1");
		t.bootfw = i;
		assert_int_equal(bw_dev_state_listing_add(tx, &t, NULL), 0);
	}
	assert_int_equal(bw_dev_state_listing_commit(tx, 1, "1|hw|", "", NULL,
						     NULL), 0);
	assert_int_equal(sqlite3_exec(db, "SELECT 1 FROM listing", count_rows,
				      &n, NULL), SQLITE_OK);
	assert_true(n > 3);
	for (int i = 0; i < 20000; i += 29) {
		snprintf(name, sizeof(name), "fw-%05d-%s.img", i,
			 i % 2 ? "long-name-to-fill-chunks" : "x");
		t = target(name, "1");
		assert_int_equal(bw_dev_state_best_save(db, "0", &t, NULL), 0);
		assert_int_equal(bw_dev_state_best_load(db, "0", &best, &have,
							&stored, NULL), 0);
		assert_int_equal(have, 1);
		assert_string_equal(best.name, name);
		assert_int_equal(best.bootfw, i);
	}
	/* a name between two stored ones is not found */
	t = target("fw-00002-y.img", "1");
	assert_int_equal(bw_dev_state_best_save(db, "0", &t, NULL), 0);
	assert_int_equal(bw_dev_state_best_load(db, "0", &best, &have, &stored,
						NULL), 0);
	assert_int_equal(have, 0);
	t = target("fw-19999-long-name-to-fill-chunks.img", "1");
	assert_int_equal(bw_dev_state_mark_failed(db, &t, NULL), 0);
	t = target("fw-00000-x.img", "1");
	assert_int_equal(bw_dev_state_mark_failed(db, &t, NULL), 0);
	t = target("zz-not-listed", "1");
	assert_int_equal(bw_dev_state_mark_failed(db, &t, NULL), 0);
	assert_int_equal(bw_dev_state_listing_foreach(db, 1, collect_names,
						      names, NULL), 0);
	assert_string_equal(names, "fw-00000-x.img!;"
			    "fw-19999-long-name-to-fill-chunks.img!;");
	sqlite3_close(db);
}

static void test_device_state__stored_answer(void **state)
{
	sqlite3 *db = open_db(*state);
	struct bw_dev_target ts[2] = {target("a", "1"), target("b", "2")};
	struct bw_dev_target best;
	int have = 1, stored = 1;

	/* Nothing stored yet. */
	assert_int_equal(bw_dev_state_best_load(db, "", &best, &have, &stored,
						NULL), 0);
	assert_int_equal(stored, 0);
	/* Stored with the listing, for the running version it was decided
	 * for only. */
	assert_int_equal(save_listing(db, ts, 2, "1|hw|", &ts[1]), 0);
	assert_int_equal(bw_dev_state_best_load(db, "", &best, &have, &stored,
						NULL), 0);
	assert_int_equal(stored, 1);
	assert_int_equal(have, 1);
	assert_string_equal(best.name, "b");
	assert_string_equal(best.version, "2");
	assert_int_equal(bw_dev_state_best_load(db, "2", &best, &have, &stored,
						NULL), 0);
	assert_int_equal(stored, 0);
	/* "Nothing newer" is an answer too. */
	assert_int_equal(bw_dev_state_best_save(db, "2", NULL, NULL), 0);
	assert_int_equal(bw_dev_state_best_load(db, "2", &best, &have, &stored,
						NULL), 0);
	assert_int_equal(stored, 1);
	assert_int_equal(have, 0);
	/* A target failing drops the answer. */
	assert_int_equal(bw_dev_state_best_save(db, "", &ts[1], NULL), 0);
	assert_int_equal(bw_dev_state_mark_failed(db, &ts[1], NULL), 0);
	assert_int_equal(bw_dev_state_best_load(db, "", &best, &have, &stored,
						NULL), 0);
	assert_int_equal(stored, 0);
	/* So does a new listing without the stored target. */
	assert_int_equal(bw_dev_state_best_save(db, "", &ts[1], NULL), 0);
	assert_int_equal(save_listing(db, ts, 1, "2|hw|", &ts[1]), 0);
	assert_int_equal(bw_dev_state_best_load(db, "", &best, &have, &stored,
						NULL), 0);
	assert_int_equal(stored, 0);
	sqlite3_close(db);
}

/* ---- events -------------------------------------------------------------- */

static void test_device_events__bounded_and_wire_format(void **state)
{
	sqlite3 *db = open_db(*state);
	struct bw_dev_target t = target("fw-2", "2");
	struct bw_dev_event ev = {"EcuDownloadStarted", -1, NULL, &t};
	struct bw_dev_event done = {"EcuInstallationCompleted", 0, "boom", &t};
	char *json = NULL;
	size_t len = 0, cnt = 0, i;
	int64_t last = 0;
	long n = 0;
	json_t *arr, *e;

	for (int k = 0; k < 10; k++)
		assert_int_equal(bw_dev_event_queue(db, &ev, "c1", 3, NULL), 0);
	assert_int_equal(bw_dev_event_queue(db, &done, "c1", 3, NULL), 0);
	assert_int_equal(bw_dev_events_count(db, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_int_equal(bw_dev_events_batch(db, 2, &json, &len, &last, &cnt,
					     NULL), 0);
	assert_int_equal(cnt, 2);
	arr = json_loadb(json, len, 0, NULL);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 2);
	json_array_foreach(arr, i, e) {
		assert_int_equal(json_object_size(e), 4);
		assert_int_equal(json_string_length(json_object_get(e, "id")), 36);
		assert_non_null(json_object_get(e, "deviceTime"));
		assert_string_equal(json_string_value(json_object_get(
			json_object_get(e, "event"), "correlationId")), "c1");
	}
	json_decref(arr);
	free(json);
	assert_int_equal(bw_dev_events_drop(db, last, NULL), 0);
	assert_int_equal(bw_dev_events_batch(db, 10, &json, &len, &last, &cnt,
					     NULL), 0);
	assert_int_equal(cnt, 1); /* the newest survived the bound */
	arr = json_loadb(json, len, 0, NULL);
	e = json_object_get(json_array_get(arr, 0), "event");
	assert_true(json_is_false(json_object_get(e, "success")));
	assert_string_equal(json_string_value(json_object_get(e, "details")),
			    "boom");
	json_decref(arr);
	free(json);
	sqlite3_close(db);
}

/* ---- config -------------------------------------------------------------- */

static void test_device_config__parse(void **state)
{
	struct bw_dev_config c;
	struct bw_err err = {0};

	(void)state;
	bw_dev_config_init(&c);
	assert_int_equal(bw_dev_config_parse(&c, "[device]\nhardware_id = hw\n"
					     "[update]\nboot_attempts = 5\n"
					     "rollback_protection = off\n", 0,
					     &err), 0);
	assert_string_equal(c.hardware_id, "hw");
	assert_int_equal(c.boot_attempts, 5);
	assert_int_equal(c.rollback_protection, 0);
	/* A second file only fills gaps. */
	assert_int_equal(bw_dev_config_parse(&c, "[device]\nhardware_id = x\n"
					     "tag = t\n", 1, &err), 0);
	assert_string_equal(c.hardware_id, "hw");
	assert_string_equal(c.tag, "t");
	assert_int_equal(bw_dev_config_parse(&c, "[device]\nhwid = x\n", 0,
					     &err), BW_EFORMAT);
	assert_non_null(strstr(err.msg, "unknown key"));
	assert_int_equal(bw_dev_config_parse(&c, "[update]\nboot_attempts = 0\n",
					     0, &err), BW_EFORMAT);
	assert_int_equal(bw_dev_config_parse(&c, "[update]\ninterval = 5x\n",
					     0, &err), BW_EFORMAT);
	assert_int_equal(bw_dev_config_parse(&c, "[update]\nrollback_protection"
					     " = maybe\n", 0, &err), BW_EFORMAT);
	bw_dev_config_dispose(&c);
}

/* ---- matching and versions ---------------------------------------------- */

static void test_device_match__versions(void **state)
{
	(void)state;
	assert_int_equal(bw_dev_version_cmp("1.10", "1.9"), 1);
	assert_int_equal(bw_dev_version_cmp("10", "9"), 1);
	assert_int_equal(bw_dev_version_cmp("2", "2"), 0);
	assert_int_equal(bw_dev_version_cmp("", "1"), -1);
	assert_int_equal(bw_dev_version_cmp("1.2.3", "1.2.10"), -1);
}

static int match(const char *custom, struct bw_dev_target *t)
{
	struct bw_dev_config c;
	json_t *j = json_loads(custom, 0, NULL);
	int r;

	bw_dev_config_init(&c);
	c.hardware_id = "hw";
	c.tag = "main";
	r = bw_dev_target_matches(&c, "fw", 10, j, t);
	json_decref(j);
	return r;
}

static void test_device_match__custom(void **state)
{
	struct bw_dev_target t;

	(void)state;
	assert_int_equal(match("{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			       "\"tags\":[\"main\"]}", &t), 1);
	assert_string_equal(t.version, "3");
	assert_int_equal(t.bootfw, -1);
	assert_int_equal(match("{\"version\":4,\"hardwareIds\":[\"hw\"],"
			       "\"tags\":[\"main\"],\"bootfirmware_version\":"
			       "\"12\"}", &t), 1);
	assert_string_equal(t.version, "4");
	assert_int_equal(t.bootfw, 12);
	/* Other hardware, other tag, no version, unreadable bootfw: no. */
	assert_int_equal(match("{\"version\":\"3\",\"hardwareIds\":[\"hx\"],"
			       "\"tags\":[\"main\"]}", &t), 0);
	assert_int_equal(match("{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			       "\"tags\":[\"beta\"]}", &t), 0);
	assert_int_equal(match("{\"hardwareIds\":[\"hw\"],\"tags\":[\"main\"]}",
			       &t), 0);
	assert_int_equal(match("{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			       "\"tags\":[\"main\"],\"bootfirmware_version\":"
			       "\"-1\"}", &t), 0);
	assert_int_equal(match("[1]", &t), 0);
	/* Terminal escapes in a version: not installable here. */
	assert_int_equal(match("{\"version\":\"3\\u001b[2J\",\"hardwareIds\":"
			       "[\"hw\"],\"tags\":[\"main\"]}", &t), 0);
}

static int feed(void *ctx, const struct bw_json_event *ev)
{
	if (ev->depth > 0)
		bw_dev_match_event(ctx, ev, ev->depth);
	return 0;
}

/* The selection as check makes it: custom's events from the streaming
 * parser, then the entry's end. */
static int select_custom(const char *tag, const char *custom,
			 struct bw_dev_target *t, const char **why)
{
	struct bw_dev_config c;
	struct bw_dev_match m;
	struct bw_buf out;
	int r;

	bw_dev_config_init(&c);
	c.hardware_id = "hw";
	c.tag = (char *)tag;
	bw_dev_match_init(&m, &c);
	bw_buf_init(&out, 1 << 20);
	assert_int_equal(bw_json_canonical_stream_buf(custom, strlen(custom),
						      NULL, &out, feed, &m,
						      NULL), 0);
	bw_buf_dispose(&out);
	r = bw_dev_match_end(&m, (const uint8_t *)"fw-1", 4, t, why);
	/* the match is ready for the next target */
	assert_int_equal(m.hw + m.tag + m.version_ok + m.fw_bad, 0);
	return r;
}

static void test_device_select__one_pass(void **state)
{
	static const struct {
		const char *tag, *custom;
		int want;
		const char *why; /* part of the message, for -1 */
	} cases[] = {
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"]}", 1, NULL},
		/* another hardware id, another tag: never selected */
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw2\",\"h\"],"
			 "\"tags\":[\"main\"]}", 0, NULL},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[[\"hw\"]],"
			 "\"tags\":[\"main\"]}", 0, NULL},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"beta\",\"mai\"]}", 0, NULL},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"]}", 0,
		 NULL},
		{"main", "{\"version\":\"3\",\"other\":{\"hardwareIds\":"
			 "[\"hw\"],\"tags\":[\"main\"]}}", 0, NULL},
		/* an untagged device takes any tag */
		{NULL, "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
		       "\"tags\":[\"beta\"]}", 1, NULL},
		/* malformed fields: skipped, and why */
		{"main", "{\"version\":\"3\",\"hardwareIds\":\"hw\"}", -1,
		 "custom.hardwareIds is not an array"},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":\"main\"}", -1, "custom.tags is not an array"},
		{"main", "{\"version\":{\"v\":3},\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"]}", -1, "custom.version"},
		{"main", "{\"version\":\"\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"]}", -1, "custom.version"},
		{"main", "{\"hardwareIds\":[\"hw\"],\"tags\":[\"main\"]}", -1,
		 "custom.version"},
		{"main", "{\"version\":-2,\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"]}", -1, "custom.version"},
		{"main", "{\"version\":\"3\\u0007\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"]}", -1, "control characters"},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"],\"bootfirmware_version\":\"x\"}",
		 -1, "custom.bootfirmware_version"},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"],\"bootfirmware_version\":null}",
		 -1, "custom.bootfirmware_version"},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"],\"boot\":{\"secure_version\":2}}",
		 -1, "custom.boot must be"},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"],\"boot\":[]}", -1,
		 "custom.boot must be"},
		{"main", "{\"version\":\"3\",\"hardwareIds\":[\"hw\"],"
			 "\"tags\":[\"main\"],\"bootfirmware_version\":1,"
			 "\"boot\":{\"secure_version\":2,\"artifacts\":[]}}", -1,
		 "differ"},
	};
	struct bw_dev_target t;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = select_custom(cases[i].tag, cases[i].custom, &t, &why);

		if (r != cases[i].want)
			fail_msg("case %zu: %d, want %d", i, r, cases[i].want);
		if (r < 0)
			assert_non_null(strstr(why, cases[i].why));
		if (r == 1) {
			assert_string_equal(t.name, "fw-1");
			assert_string_equal(t.version, "3");
		}
	}
	/* values: integer version, boot firmware from either field */
	assert_int_equal(select_custom("main", "{\"version\":12,\"hardwareIds"
				       "\":[\"hw\"],\"tags\":[\"main\"],"
				       "\"boot\":{\"secure_version\":7,"
				       "\"artifacts\":[]}}", &t, &why), 1);
	assert_string_equal(t.version, "12");
	assert_int_equal(t.bootfw, 7);
	assert_int_equal(select_custom("main", "{\"version\":\"1.\\\"2\","
				       "\"hardwareIds\":[\"x\",\"hw\"],"
				       "\"tags\":[\"main\"],"
				       "\"bootfirmware_version\":\"9\"}", &t,
				       &why), 1);
	assert_string_equal(t.version, "1.\"2"); /* escapes undone */
	assert_int_equal(t.bootfw, 9);
}

/* ---- recovery and the crash hook ---------------------------------------- */

static void write_config(struct fx *f, char *path, size_t cap)
{
	char text[512];
	struct bw_err err = {0};

	snprintf(path, cap, "%s/device.ini", f->dir);
	snprintf(text, sizeof(text), "[device]\nstate_dir = %s\nhardware_id = "
		 "hw\n[update]\nslot_a = %s/a\nslot_b = %s/b\n", f->dir, f->dir,
		 f->dir);
	assert_int_equal(bw_io_write_atomic(path, text, strlen(text), 0600,
					    &err), 0);
}

static void test_device_recover__torn_install(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = open_db(f);
	struct bw_dev_state st;
	struct bw_dev *d = NULL;
	char cfg[128];

	assert_int_equal(bw_dev_state_load(db, &st, NULL), 0);
	st.slot_state[1] = BW_DEV_SLOT_WRITING;
	st.slot[1] = target("fw-2", "2");
	assert_int_equal(bw_dev_state_save(db, &st, NULL, 0, 10, NULL), 0);
	sqlite3_close(db);
	write_config(f, cfg, sizeof(cfg));
	assert_int_equal(bw_dev_open(cfg, BW_DEV_OPEN_EXCLUSIVE, &d, NULL), 0);
	/* Never bootable: what was being written is unknown. */
	assert_int_equal(d->st.slot_state[1], BW_DEV_SLOT_EMPTY);
	assert_int_equal(d->st.pending, -1);
	bw_dev_free(d);
}

static void test_device_lock__one_writer(void **state)
{
	struct fx *f = *state;
	struct bw_dev *a = NULL, *b = NULL, *r = NULL;
	struct bw_err err = {0};
	char cfg[128];

	write_config(f, cfg, sizeof(cfg));
	assert_int_equal(bw_dev_open(cfg, BW_DEV_OPEN_EXCLUSIVE, &a, NULL), 0);
	assert_int_equal(bw_dev_open(cfg, BW_DEV_OPEN_EXCLUSIVE, &b, &err),
			 BW_ESTATE);
	assert_null(b);
	assert_non_null(strstr(err.msg, "another bulwark-device"));
	/* status and list still work while the daemon runs. */
	assert_int_equal(bw_dev_open(cfg, BW_DEV_OPEN_READONLY, &r, NULL), 0);
	bw_dev_free(r);
	bw_dev_free(a);
	assert_int_equal(bw_dev_open(cfg, BW_DEV_OPEN_EXCLUSIVE, &b, NULL), 0);
	bw_dev_free(b);
}

static void test_device_crash__hook_kills_at_nth_write(void **state)
{
	pid_t pid;
	int status = 0, fds[2];
	char c = 0;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Counting starts in the child, whatever the parent wrote. */
		setenv("BW_DEVICE_CRASH_AFTER_WRITES", "3", 1);
		bw_dev_durable("one");
		bw_dev_durable("two");
		if (write(fds[1], "2", 1) != 1) /* two writes survived */
			_exit(3);
		bw_dev_durable("three");
		_exit(0); /* must not be reached */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(c, '2');
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* Unset: inert. */
	unsetenv("BW_DEVICE_CRASH_AFTER_WRITES");
	for (int i = 0; i < 5; i++)
		bw_dev_durable("inert");
}

/* ---- bootloader environments ------------------------------------------------ */

static void test_device_grubenv__round_trip_and_damage(void **state)
{
	uint8_t block[BW_GRUBENV_SIZE], bad[BW_GRUBENV_SIZE];
	struct bw_grubenv env = {0}, got;
	struct bw_err err = {0};

	(void)state;
	assert_int_equal(bw_grubenv_set(&env, "bulwark_slot", "b"), 0);
	assert_int_equal(bw_grubenv_set(&env, "note", "a\\b\nc"), 0);
	assert_int_equal(bw_grubenv_set(&env, "bulwark_slot", "a"), 0);
	assert_int_equal(bw_grubenv_set(&env, "bad=name", "x"), BW_EINVAL);
	assert_int_equal(bw_grubenv_serialize(&env, block, &err), 0);
	assert_memory_equal(block, "# GRUB Environment Block\nbulwark_slot=a\n"
			    "note=a\\\\b\\\nc\n#", 50);
	assert_int_equal(block[BW_GRUBENV_SIZE - 1], '#');
	assert_int_equal(bw_grubenv_parse(block, sizeof(block), &got, &err), 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(bw_grubenv_get(&got, "note"), "a\\b\nc");
	bw_grubenv_unset(&got, "bulwark_slot");
	assert_null(bw_grubenv_get(&got, "bulwark_slot"));
	bw_grubenv_dispose(&got);
	/* Truncated or grown blocks and a damaged signature are refused. */
	for (size_t n = 0; n < sizeof(block); n += 97)
		assert_int_equal(bw_grubenv_parse(block, n, &got, &err),
				 BW_EFORMAT);
	memcpy(bad, block, sizeof(bad));
	bad[2] ^= 0x01;
	assert_int_equal(bw_grubenv_parse(bad, sizeof(bad), &got, &err),
			 BW_EFORMAT);
	/* A variable without its end of line (padding overwritten). */
	memcpy(bad, block, sizeof(bad));
	memset(bad + 45, 'x', sizeof(bad) - 45);
	assert_int_equal(bw_grubenv_parse(bad, sizeof(bad), &got, &err),
			 BW_EFORMAT);
	/* Too many bytes for one block. */
	for (int i = 0; i < 40; i++) {
		char name[16];

		snprintf(name, sizeof(name), "v%d", i);
		assert_int_equal(bw_grubenv_set(&env, name,
			"0123456789012345678901234567890"), 0);
	}
	assert_int_equal(bw_grubenv_serialize(&env, block, &err), BW_ETOOBIG);
	bw_grubenv_dispose(&env);
}

static void test_device_bootenv__cmdline_slot(void **state)
{
	static const struct {
		const char *cmdline;
		int slot;
	} cases[] = {
		{"root=/dev/sda2 bulwark.slot=a quiet\n", 0},
		{"bulwark.slot=b", 1},
		{"bulwark.slot=a bulwark.slot=b", 1}, /* the last one wins */
		{"bulwark.slot=c", -1},
		{"bulwark.slot=", -1},
		{"bulwark.slot=ab", -1},
		{"xbulwark.slot=a", -1},
		{"", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(bw_dev_cmdline_slot(cases[i].cmdline,
						     strlen(cases[i].cmdline)),
				 cases[i].slot);
}

static void test_device_bootenv__vars_text(void **state)
{
	struct bw_dev_bootvars v;
	char out[24];

	(void)state;
	bw_dev_bootvars_clear(&v);
	bw_dev_bootvar_parse(&v, 0, "b");
	bw_dev_bootvar_parse(&v, 2, "z");       /* not a slot: unset */
	bw_dev_bootvar_parse(&v, 3, "1");
	bw_dev_bootvar_parse(&v, 4, "-3");      /* out of range: 0 */
	bw_dev_bootvar_parse(&v, 5, "3x");      /* trailing bytes: 0 */
	assert_int_equal(v.slot, 1);
	assert_int_equal(v.trial, -1);
	assert_int_equal(v.upgrade_available, 1);
	assert_int_equal(v.bootcount, 0);
	assert_int_equal(v.bootlimit, 0);
	bw_dev_bootvar_format(&v, 0, out);
	assert_string_equal(out, "b");
	bw_dev_bootvar_format(&v, 2, out);
	assert_string_equal(out, "");
	assert_non_null(bw_dev_boot_ops_find("uboot"));
	assert_non_null(bw_dev_boot_ops_find(NULL));
	assert_null(bw_dev_boot_ops_find("lilo"));
}

#define FX(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX(test_device_state__fresh_database),
		FX(test_device_state__round_trip_and_reopen),
		FX(test_device_state__damaged_row_refused),
		FX(test_device_state__newer_schema_refused),
		FX(test_device_state__migrates_v1),
		FX(test_device_state__failed_and_listing),
		FX(test_device_state__listing_chunks),
		FX(test_device_state__stored_answer),
		FX(test_device_events__bounded_and_wire_format),
		cmocka_unit_test(test_device_config__parse),
		cmocka_unit_test(test_device_grubenv__round_trip_and_damage),
		cmocka_unit_test(test_device_bootenv__cmdline_slot),
		cmocka_unit_test(test_device_bootenv__vars_text),
		cmocka_unit_test(test_device_match__versions),
		cmocka_unit_test(test_device_match__custom),
		cmocka_unit_test(test_device_select__one_pass),
		FX(test_device_recover__torn_install),
		FX(test_device_lock__one_writer),
		cmocka_unit_test(test_device_crash__hook_kills_at_nth_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
