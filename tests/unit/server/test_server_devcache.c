/*
 * The gateway's device record cache (src/server/devcache.c) on a real
 * SQLite file: a record is served from memory only under the identity
 * epoch it was read in, a dropped or never-read record comes from the
 * store, last-seen notes wait for the flush while tag notes are written at
 * once, and a note writes nothing but its own columns.
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

#include "devcache.h"
#include "server.h"
#include "storage.h"

#define UUID "3f1c2b9a-1d2e-4f50-8a6b-0c1d2e3f4a5b"

static char g_tmp[] = "/tmp/bw-devcache-XXXXXX";

static struct bw_srv *srv_new(const char *name, size_t slots)
{
	struct bw_srv *srv = calloc(1, sizeof(*srv));
	struct bw_device_rec d;
	struct bw_err err = {0};
	char path[300];

	assert_non_null(srv);
	snprintf(path, sizeof(path), "%s/%s", g_tmp, name);
	unlink(path);
	assert_int_equal(bw_store_sqlite_open(path, &srv->store, &err), 0);
	assert_int_equal(bw_srv_devcache_new(slots, &srv->devcache), 0);
	srv->id_epoch = 1;
	memset(&d, 0, sizeof(d));
	snprintf(d.uuid, sizeof(d.uuid), "%s", UUID);
	snprintf(d.name, sizeof(d.name), "first");
	snprintf(d.tag, sizeof(d.tag), "prod");
	snprintf(d.fingerprint, sizeof(d.fingerprint), "%064d", 1);
	d.last_seen = 100;
	assert_int_equal(srv->store->ops->device_put(srv->store, &d, &err), 0);
	return srv;
}

static void srv_free(struct bw_srv *srv)
{
	bw_srv_devcache_free(srv->devcache);
	bw_store_close(srv->store);
	free(srv);
}

/* Change the stored record behind the cache's back (another process). */
static void store_set_name(struct bw_srv *srv, const char *name)
{
	struct bw_device_rec d;
	struct bw_err err = {0};

	assert_int_equal(
	    srv->store->ops->device_get(srv->store, UUID, &d, &err), 0);
	snprintf(d.name, sizeof(d.name), "%s", name);
	assert_int_equal(srv->store->ops->device_put(srv->store, &d, &err), 0);
}

static void test_server_devcache__epoch_and_drop(void **state)
{
	struct bw_srv *srv = srv_new("epoch.db", 64);
	struct bw_device_rec d;
	struct bw_err err = {0};
	int hit = -1;

	(void)state;
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, &hit, &err), 0);
	assert_int_equal(hit, 0);
	assert_string_equal(d.name, "first");
	store_set_name(srv, "second");
	/* same epoch: the copy read before */
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, &hit, &err), 0);
	assert_int_equal(hit, 1);
	assert_string_equal(d.name, "first");
	/* an identity change anywhere: read again */
	srv->id_epoch++;
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, &hit, &err), 0);
	assert_int_equal(hit, 0);
	assert_string_equal(d.name, "second");
	store_set_name(srv, "third");
	bw_srv_devcache_drop(srv, UUID);
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, &hit, &err), 0);
	assert_int_equal(hit, 0);
	assert_string_equal(d.name, "third");
	store_set_name(srv, "fourth");
	assert_int_equal(bw_srv_devcache_reread(srv, UUID, &d, &err), 0);
	assert_string_equal(d.name, "fourth");
	/* no record: not cached, BW_ENOTFOUND each time */
	assert_int_equal(
	    bw_srv_devcache_get(srv, "00000000-0000-4000-8000-000000000000", &d,
				&hit, &err),
	    BW_ENOTFOUND);
	assert_int_equal(hit, 0);
	srv_free(srv);
}

static void test_server_devcache__notes(void **state)
{
	struct bw_srv *srv = srv_new("notes.db", 64);
	struct bw_device_rec d;
	struct bw_err err = {0};

	(void)state;
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, NULL, &err), 0);
	store_set_name(srv, "renamed elsewhere");
	/* last seen alone: pending, the cached copy already has it */
	assert_int_equal(bw_srv_devcache_note(srv, UUID, 200, "", "", 0, &err),
			 0);
	assert_int_equal(bw_srv_devcache_pending(srv->devcache), 1);
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, NULL, &err), 0);
	assert_int_equal(d.last_seen, 200);
	assert_int_equal(
	    srv->store->ops->device_get(srv->store, UUID, &d, &err), 0);
	assert_int_equal(d.last_seen, 100);
	/* a tag: written now */
	assert_int_equal(
	    bw_srv_devcache_note(srv, UUID, 150, "beta", "", 0, &err), 0);
	assert_int_equal(bw_srv_devcache_pending(srv->devcache), 1);
	assert_int_equal(
	    srv->store->ops->device_get(srv->store, UUID, &d, &err), 0);
	assert_string_equal(d.tag, "beta");
	assert_int_equal(d.last_seen, 150);
	/* the flush: last seen never moves back, nothing else is touched */
	assert_int_equal(bw_srv_devcache_flush(srv, &err), 0);
	assert_int_equal(bw_srv_devcache_pending(srv->devcache), 0);
	assert_int_equal(
	    srv->store->ops->device_get(srv->store, UUID, &d, &err), 0);
	assert_int_equal(d.last_seen, 200);
	assert_string_equal(d.name, "renamed elsewhere");
	assert_string_equal(d.tag, "beta");
	assert_int_equal(bw_srv_devcache_note(srv, UUID, 50, "", "", 0, &err),
			 0);
	assert_int_equal(bw_srv_devcache_flush(srv, &err), 0);
	assert_int_equal(
	    srv->store->ops->device_get(srv->store, UUID, &d, &err), 0);
	assert_int_equal(d.last_seen, 200);
	srv_free(srv);
}

static void test_server_devcache__no_cache(void **state)
{
	struct bw_srv *srv = srv_new("none.db", 0);
	struct bw_device_rec d;
	struct bw_err err = {0};
	int hit = -1;

	(void)state;
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, &hit, &err), 0);
	store_set_name(srv, "second");
	assert_int_equal(bw_srv_devcache_get(srv, UUID, &d, &hit, &err), 0);
	assert_int_equal(hit, 0);
	assert_string_equal(d.name, "second");
	/* nothing batched: written at once */
	assert_int_equal(bw_srv_devcache_note(srv, UUID, 300, "", "", 0, &err),
			 0);
	assert_int_equal(bw_srv_devcache_pending(srv->devcache), 0);
	assert_int_equal(
	    srv->store->ops->device_get(srv->store, UUID, &d, &err), 0);
	assert_int_equal(d.last_seen, 300);
	srv_free(srv);
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
	    cmocka_unit_test(test_server_devcache__epoch_and_drop),
	    cmocka_unit_test(test_server_devcache__notes),
	    cmocka_unit_test(test_server_devcache__no_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
