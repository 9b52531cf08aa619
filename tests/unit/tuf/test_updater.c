/*
 * TUF client updater: each defence of the client workflow, driven through
 * the public API against an in-memory repository (injected transport and
 * injected clock).
 */
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "helper_repo.h"
#include "tuf/tuf_priv.h"

#define T0 2000000000LL /* "now" for most tests: 2033-05-18 */

static int64_t fixed_now(void *ctx)
{
	return *(int64_t *)ctx;
}

struct client {
	struct bw_tuf_updater *u;
	struct bw_tuf_config cfg;
	int64_t now;
	char tdir[600];
};

static int client_open(struct client *c, struct repo *r, const char *dir,
		       struct bw_err *err)
{
	if (c->cfg.max_root_bytes == 0)
		bw_tuf_config_init(&c->cfg);
	if (c->now == 0)
		c->now = T0;
	c->cfg.now = fixed_now;
	c->cfg.now_ctx = &c->now;
	snprintf(c->tdir, sizeof(c->tdir), "%s/targets", dir);
	mkdir(c->tdir, 0755);
	return bw_tuf_updater_new(dir, "mem://repo/metadata/", c->tdir,
				  "mem://repo/targets/", &r->fetcher, &c->cfg,
				  &c->u, err);
}

/* One updater, one refresh; returns the refresh result. */
static int refresh_once(struct repo *r, const char *dir, int64_t now,
			struct bw_tuf_config *cfg, struct bw_err *err)
{
	struct client c = {0};
	int rc;

	if (cfg != NULL)
		c.cfg = *cfg;
	c.now = now;
	rc = client_open(&c, r, dir, err);
	assert_int_equal(rc, 0);
	rc = bw_tuf_updater_refresh(c.u, err);
	bw_tuf_updater_free(c.u);
	return rc;
}

/* Version of a cached metadata file, 0 if absent. */
static int64_t cached_version(const char *dir, const char *name)
{
	char path[700];
	struct bw_buf b;
	json_t *doc = NULL;
	int64_t v = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	bw_buf_init(&b, 1 << 20);
	if (bw_io_read_file(path, 1 << 20, &b, NULL) == 0 &&
	    bw_json_parse(b.data, b.len, NULL, &doc, NULL) == 0)
		v = json_integer_value(json_object_get(
			json_object_get(doc, "signed"), "version"));
	json_decref(doc);
	bw_buf_dispose(&b);
	return v;
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_updater_refresh__ok_then_download(void **state)
{
	struct repo r;
	struct client c = {0};
	const struct bw_tuf_target *t = NULL;
	struct bw_err err = {0};
	char *dir, *path = NULL;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	dir = repo_client_dir(&r);
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_refresh(c.u, &err), 0);
	assert_int_equal(bw_tuf_updater_role_version(c.u, "targets"), 1);
	assert_int_equal(bw_tuf_updater_targets_count(c.u), 1);
	assert_string_equal(bw_tuf_updater_target_at(c.u, 0)->path, "hello.txt");
	assert_int_equal(bw_tuf_updater_get_target(c.u, "hello.txt", &t, &err), 0);
	assert_int_equal(t->length, 13);
	assert_int_equal(bw_tuf_updater_find_cached(c.u, t, NULL, &path, NULL),
			 BW_ENOTFOUND);
	assert_int_equal(bw_tuf_updater_download(c.u, t, NULL, &path, &err), 0);
	free(path);
	assert_int_equal(bw_tuf_updater_find_cached(c.u, t, NULL, &path, NULL), 0);
	assert_non_null(strstr(path, "hello.txt"));
	free(path);
	assert_int_equal(bw_tuf_updater_get_target(c.u, "nope.txt", &t, &err),
			 BW_ENOTFOUND);
	/* Only verified metadata, under the non-versioned names. */
	assert_int_equal(cached_version(dir, "timestamp.json"), 1);
	assert_int_equal(cached_version(dir, "snapshot.json"), 1);
	assert_int_equal(cached_version(dir, "targets.json"), 1);
	bw_tuf_updater_free(c.u);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Indefinite freeze: expiry judged against the injected start time. */
static void test_updater_expiry__boundary(void **state)
{
	struct repo r;
	struct bw_err err;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 1, 1, T0 + 10), &r.timestamp, 1);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0 + 9, NULL, &err), 0);
	repo_rmrf(dir);
	free(dir);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0 + 10, NULL, &err), BW_EEXPIRED);
	assert_int_equal(cached_version(dir, "timestamp.json"), 0);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Endless data: each role has its own size cap. */
static void test_updater_timestamp__size_cap(void **state)
{
	struct repo r;
	struct bw_tuf_config cfg;
	struct bw_err err;
	json_t *ts;
	char *pad, *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	ts = repo_timestamp_signed(&r, 1, 1, REPO_EXPIRES);
	pad = calloc(1, 20000);
	memset(pad, 'x', 19999);
	json_object_set_new(ts, "padding", json_string(pad));
	free(pad);
	repo_put_signed(&r, "metadata/timestamp.json", ts, &r.timestamp, 1);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_ETOOBIG);
	bw_tuf_config_init(&cfg);
	cfg.max_timestamp_bytes = 64 * 1024;
	assert_int_equal(refresh_once(&r, dir, T0, &cfg, &err), 0);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Rollback: a validly signed older timestamp is refused, state kept. */
static void test_updater_timestamp__rollback(void **state)
{
	struct repo r;
	struct bw_err err;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 2, 1, REPO_EXPIRES),
			&r.timestamp, 1);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	assert_int_equal(cached_version(dir, "timestamp.json"), 2);
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 1, 1, REPO_EXPIRES),
			&r.timestamp, 1);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_EROLLBACK);
	assert_int_equal(cached_version(dir, "timestamp.json"), 2);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Mix-and-match: timestamp names snapshot v2, the server sends v1. */
static void test_updater_snapshot__mix_and_match(void **state)
{
	struct repo r;
	struct bw_err err;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 2, 2, REPO_EXPIRES),
			&r.timestamp, 1);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_EBADVERSION);
	assert_int_equal(cached_version(dir, "snapshot.json"), 0);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Snapshot rollback: a role listed before may not go back or vanish. */
static void test_updater_snapshot__targets_rollback(void **state)
{
	struct repo r;
	struct bw_err err;
	json_t *t;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	t = repo_targets_signed(2, REPO_EXPIRES);
	repo_put_signed(&r, "metadata/targets.json", t, &r.targets, 1);
	repo_put_signed(&r, "metadata/snapshot.json",
			repo_snapshot_signed(&r, 1, 2, REPO_EXPIRES),
			&r.snapshot, 1);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	/* Next snapshot lists targets v1 again. */
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 2, 2, REPO_EXPIRES),
			&r.timestamp, 1);
	repo_put_signed(&r, "metadata/snapshot.json",
			repo_snapshot_signed(&r, 2, 1, REPO_EXPIRES),
			&r.snapshot, 1);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_EROLLBACK);
	assert_int_equal(cached_version(dir, "snapshot.json"), 1);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Key compromise below threshold; one key's signature counts once. */
static void test_updater_targets__threshold(void **state)
{
	struct repo r;
	struct bw_err err;
	struct bw_signer *two[2], *dup[2];
	json_t *root;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	two[0] = r.targets;
	two[1] = r.deleg;
	dup[0] = r.targets;
	dup[1] = r.targets;
	root = repo_root_signed(&r, 1, REPO_EXPIRES);
	json_object_set_new(json_object_get(root, "keys"),
			    bw_signer_key(r.deleg)->keyid, repo_key_json(r.deleg));
	json_object_set_new(json_object_get(root, "roles"), "targets",
			    repo_role(two, 2, 2));
	repo_put_signed(&r, "metadata/1.root.json", root, &r.root, 1);
	repo_put_signed(&r, "metadata/targets.json",
			repo_targets_signed(1, REPO_EXPIRES), dup, 2);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_ESIG);
	assert_non_null(strstr(err.msg, "1/2"));
	assert_int_equal(cached_version(dir, "targets.json"), 0);
	repo_put_signed(&r, "metadata/targets.json",
			repo_targets_signed(1, REPO_EXPIRES), two, 2);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/*
 * TUF 4.2: a key id appears at most once in "signatures". A snapshot whose
 * one valid signature is listed twice meets its threshold of 1 either way,
 * and must still be refused.
 */
static void test_updater_signatures__duplicate_keyid(void **state)
{
	struct repo r;
	struct bw_err err;
	json_t *sn, *env = NULL, *sigs;
	uint8_t *bytes = NULL;
	size_t len = 0;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	sn = repo_snapshot_signed(&r, 1, 1, REPO_EXPIRES);
	assert_int_equal(bw_tuf_envelope_sign(sn, &r.snapshot, 1, &env, NULL),
			 0);
	json_decref(sn);
	sigs = json_object_get(env, "signatures");
	json_array_append_new(sigs, json_deep_copy(json_array_get(sigs, 0)));
	assert_int_equal(bw_json_canonical_alloc(env, &bytes, &len, NULL), 0);
	repo_put(&r, "metadata/snapshot.json", bytes, len);
	free(bytes);
	json_decref(env);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_EFORMAT);
	assert_non_null(strstr(err.msg, "appears twice"));
	assert_int_equal(cached_version(dir, "snapshot.json"), 0);
	/* The same snapshot with the signature once is accepted. */
	repo_put_signed(&r, "metadata/snapshot.json",
			repo_snapshot_signed(&r, 1, 1, REPO_EXPIRES), &r.snapshot,
			1);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/*
 * Every target entry is validated while targets.json is streamed: one
 * malformed entry refuses the whole role, however many good ones it has.
 */
static void test_updater_targets__malformed_entry(void **state)
{
	static const char *const bad[] = {
		"{\"hashes\":{\"x\":\"00\"}}",             /* no length */
		"{\"length\":-1,\"hashes\":{\"x\":\"00\"}}", /* negative */
		"{\"length\":1,\"hashes\":{}}",                  /* no hash */
		"{\"length\":1}",                                /* no hashes */
		"{\"length\":1,\"hashes\":{\"sha256\":\"zz\"}}", /* not hex */
		"{\"length\":1,\"hashes\":{\"sha256\":7}}",      /* not a string */
		"{\"length\":1,\"hashes\":{\"x\":\"00\"},\"custom\":[]}",
		"[]",
	};
	struct bw_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct repo r;
		json_t *t;
		char *dir;

		repo_init(&r);
		repo_build_basic(&r);
		t = repo_targets_signed(1, REPO_EXPIRES);
		repo_add_target(&r, t, "good.txt", "good\n");
		json_object_set_new(json_object_get(t, "targets"), "bad.bin",
				    json_loads(bad[i], 0, NULL));
		repo_put_signed(&r, "metadata/targets.json", t, &r.targets, 1);
		dir = repo_client_dir(&r);
		assert_int_equal(refresh_once(&r, dir, T0, NULL, &err),
				 BW_EFORMAT);
		assert_non_null(strstr(err.msg, "bad.bin"));
		assert_int_equal(cached_version(dir, "targets.json"), 0);
		repo_rmrf(dir);
		free(dir);
		repo_dispose(&r);
	}
}

/* ---- selection in the pass that reads targets.json ---------------------- */

/* Keeps a target whose custom.pick is 1; values count the kept ones in
 * the order the file lists them. */
struct picker {
	int pick, ends, begins;
	int64_t next;
};

static void pick_begin(void *ctx)
{
	struct picker *p = ctx;

	p->begins++;
	p->next = 0;
}

static int pick_custom(void *ctx, const struct bw_json_event *ev, size_t depth)
{
	struct picker *p = ctx;

	if (depth == 1 && ev->key_len == 4 && memcmp(ev->key, "pick", 4) == 0)
		p->pick = ev->type == BW_JSON_EV_INTEGER && ev->integer == 1;
	return 0;
}

static int64_t pick_end(void *ctx, const uint8_t *name, size_t len)
{
	struct picker *p = ctx;
	int keep = p->pick;

	(void)name;
	(void)len;
	p->ends++;
	p->pick = 0;
	return keep ? ++p->next : 0;
}

struct picked {
	char names[256];
	int64_t values[8];
	size_t n;
};

static int collect_picked(void *ctx, const struct bw_tuf_selected *t)
{
	struct picked *p = ctx;
	size_t len = strlen(p->names);

	snprintf(p->names + len, sizeof(p->names) - len, "%s=%llu;", t->path,
		 (unsigned long long)t->length);
	assert_true(t->has_sha256);
	p->values[p->n++] = t->value;
	return 0;
}

/* targets.json written with its targets in reverse name order (the
 * parser sorts them), signed by signer. */
static void put_unsorted_targets(struct repo *r, struct bw_signer *signer)
{
	static const char *const names[] = {"e.bin", "d.bin", "c.bin", "b.bin",
					    "a.bin"};
	static const char *const custom[] = {
		"{\"pick\":1,\"z\":[{\"pick\":0}]}", "{\"pick\":0}", NULL,
		"{\"other\":{\"pick\":1}}", "{\"z\":2,\"pick\":1}"};
	json_t *t = repo_targets_signed(1, REPO_EXPIRES), *env = NULL;
	char *text;

	for (size_t i = 0; i < 5; i++) {
		char hex[BW_HASH_MAX_HEX], file[64];
		json_t *e;

		bw_hash_buf_hex(BW_HASH_SHA256, names[i], strlen(names[i]), hex);
		e = json_pack("{s:I,s:{s:s}}", "length",
			      (json_int_t)(100 + i), "hashes", "sha256", hex);
		if (custom[i] != NULL)
			json_object_set_new(e, "custom",
					    json_loads(custom[i], 0, NULL));
		json_object_set_new(json_object_get(t, "targets"), names[i], e);
		snprintf(file, sizeof(file), "targets/%s", names[i]);
		repo_put(r, file, names[i], strlen(names[i]));
	}
	assert_int_equal(bw_tuf_envelope_sign(t, &signer, 1, &env, NULL), 0);
	text = json_dumps(env, JSON_COMPACT); /* insertion order */
	assert_non_null(text);
	assert_non_null(strstr(text, "\"e.bin\""));
	assert_true(strstr(text, "\"e.bin\"") < strstr(text, "\"a.bin\""));
	repo_put(r, "metadata/targets.json", text, strlen(text));
	free(text);
	json_decref(env);
	json_decref(t);
}

static void test_updater_targets__selector(void **state)
{
	struct picker pk = {0};
	struct bw_tuf_selector sel = {&pk, pick_begin, pick_custom, pick_end};
	struct picked got = {0};
	struct client c = {0};
	struct repo r;
	struct bw_err err;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	put_unsorted_targets(&r, r.targets);
	dir = repo_client_dir(&r);
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	bw_tuf_updater_set_selector(c.u, &sel);
	/* nothing before a refresh */
	assert_int_equal(bw_tuf_updater_selected_foreach(c.u, collect_picked,
							 &got, &err),
			 BW_ESTATE);
	assert_int_equal(bw_tuf_updater_refresh(c.u, &err), 0);
	assert_int_equal(pk.begins, 1);
	assert_int_equal(pk.ends, 5); /* every entry, in the file's order */
	assert_int_equal(bw_tuf_updater_selected_foreach(c.u, collect_picked,
							 &got, &err), 0);
	/* in name order, each with its own length, digest and value: e.bin
	 * came first in the file (value 1), a.bin last (value 2) */
	assert_string_equal(got.names, "a.bin=104;e.bin=100;");
	assert_int_equal(got.values[0], 2);
	assert_int_equal(got.values[1], 1);
	bw_tuf_updater_free(c.u);

	/* Without a selector, there is no selection to walk. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_refresh(c.u, &err), 0);
	assert_int_equal(bw_tuf_updater_selected_foreach(c.u, collect_picked,
							 &got, &err),
			 BW_ESTATE);
	bw_tuf_updater_free(c.u);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* The selector sees a role before its signature is checked; nothing of
 * a role that does not verify is ever handed out. */
static void test_updater_targets__selector_unverified(void **state)
{
	struct picker pk = {0};
	struct bw_tuf_selector sel = {&pk, pick_begin, pick_custom, pick_end};
	struct picked got = {0};
	struct client c = {0};
	struct repo r;
	struct bw_err err;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	put_unsorted_targets(&r, r.snapshot); /* not a targets key */
	dir = repo_client_dir(&r);
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	bw_tuf_updater_set_selector(c.u, &sel);
	assert_int_equal(bw_tuf_updater_refresh(c.u, &err), BW_ESIG);
	assert_int_equal(pk.ends, 5); /* it was read... */
	assert_int_equal(bw_tuf_updater_selected_foreach(c.u, collect_picked,
							 &got, &err),
			 BW_ESTATE);
	assert_int_equal(got.n, 0); /* ...and nothing of it is handed out */
	bw_tuf_updater_free(c.u);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Root chain: version must be exactly N+1, signed by old and new keys. */
static void test_updater_root__chain(void **state)
{
	struct repo r;
	struct bw_err err;
	struct bw_signer *both[2];
	struct bw_signer *old_root;
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	dir = repo_client_dir(&r);
	/* 2.root.json that says version 3. */
	repo_put_signed(&r, "metadata/2.root.json",
			repo_root_signed(&r, 3, REPO_EXPIRES), &r.root, 1);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_EBADVERSION);
	assert_int_equal(cached_version(dir, "root.json"), 1);
	/* Rotate the root key to r.deleg, signed by the new key only. */
	old_root = r.root;
	r.root = r.deleg;
	repo_put_signed(&r, "metadata/2.root.json",
			repo_root_signed(&r, 2, REPO_EXPIRES), &r.root, 1);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_ESIG);
	assert_int_equal(cached_version(dir, "root.json"), 1);
	/* Signed by old and new: accepted and persisted. */
	both[0] = old_root;
	both[1] = r.root;
	repo_put_signed(&r, "metadata/2.root.json",
			repo_root_signed(&r, 2, REPO_EXPIRES), both, 2);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	assert_int_equal(cached_version(dir, "root.json"), 2);
	r.root = old_root;
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}


static void swap_signers(struct bw_signer **a, struct bw_signer **b)
{
	struct bw_signer *t = *a;

	*a = *b;
	*b = t;
}

/*
 * TUF 5.3.11: after a root rotation that changes the timestamp or the
 * snapshot keys, the cached timestamp and snapshot are deleted, so a
 * repository that restarts them at lower versions (recovery from a
 * fast-forward attack) is accepted. Without the rotation the same lower
 * versions are a rollback. rotate_snapshot: the snapshot key changes (the
 * timestamp key stays, so only the deletion un-trusts the cached
 * timestamp v5); else the timestamp key changes (the snapshot key stays,
 * so only the deletion un-trusts the cached snapshot listing targets v3).
 */
static void rotation_restarts_lower(int rotate_snapshot)
{
	struct repo r;
	struct bw_err err;
	json_t *t;
	char *dir;

	repo_init(&r);
	repo_build_basic(&r);
	t = repo_targets_signed(3, REPO_EXPIRES);
	repo_add_target(&r, t, "hello.txt", "hello, world\n");
	repo_put_signed(&r, "metadata/targets.json", t, &r.targets, 1);
	repo_put_signed(&r, "metadata/snapshot.json",
			repo_snapshot_signed(&r, 5, 3, REPO_EXPIRES),
			&r.snapshot, 1);
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 5, 5, REPO_EXPIRES),
			&r.timestamp, 1);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	assert_int_equal(cached_version(dir, "timestamp.json"), 5);
	assert_int_equal(cached_version(dir, "snapshot.json"), 5);

	/* The repository restarts at version 1 with one key rotated... */
	if (rotate_snapshot)
		swap_signers(&r.snapshot, &r.deleg);
	else
		swap_signers(&r.timestamp, &r.deleg);
	t = repo_targets_signed(1, REPO_EXPIRES);
	repo_add_target(&r, t, "hello.txt", "hello, world\n");
	repo_put_signed(&r, "metadata/targets.json", t, &r.targets, 1);
	repo_put_signed(&r, "metadata/snapshot.json",
			repo_snapshot_signed(&r, 1, 1, REPO_EXPIRES),
			&r.snapshot, 1);
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 1, 1, REPO_EXPIRES),
			&r.timestamp, 1);
	/* ...but the root does not say so yet: refused. */
	assert_int_not_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	assert_int_equal(cached_version(dir, "root.json"), 1);

	/* Root v2 names the new key: the stale cache is dropped. */
	repo_put_signed(&r, "metadata/2.root.json",
			repo_root_signed(&r, 2, REPO_EXPIRES), &r.root, 1);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	assert_int_equal(cached_version(dir, "root.json"), 2);
	assert_int_equal(cached_version(dir, "timestamp.json"), 1);
	assert_int_equal(cached_version(dir, "snapshot.json"), 1);
	assert_int_equal(cached_version(dir, "targets.json"), 1);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

static void test_updater_root__rotation_drops_cached_timestamp(void **state)
{
	(void)state;
	rotation_restarts_lower(1);
}

static void test_updater_root__rotation_drops_cached_snapshot(void **state)
{
	(void)state;
	rotation_restarts_lower(0);
}

/*
 * Sign signed_obj with signer, then claim the signature under keyid (the
 * signature bytes stay valid: they cover "signed" only).
 */
static void put_signed_as(struct repo *r, const char *name, json_t *signed_obj,
			  struct bw_signer *signer, const char *keyid)
{
	json_t *env = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;

	assert_int_equal(bw_tuf_envelope_sign(signed_obj, &signer, 1, &env,
					      NULL), 0);
	json_object_set_new(json_array_get(json_object_get(env, "signatures"),
					   0),
			    "keyid", json_string(keyid));
	assert_int_equal(bw_json_canonical_alloc(env, &bytes, &len, NULL), 0);
	repo_put(r, name, bytes, len);
	free(bytes);
	json_decref(env);
	json_decref(signed_obj);
}

/* A key id that is a well-formed sha256 but not that of the key. */
static void other_keyid(struct bw_signer *s, char out[65])
{
	snprintf(out, 65, "%s", bw_signer_key(s)->keyid);
	out[0] = out[0] == '0' ? '1' : '0';
}

/*
 * TUF 4.3: a KEYID is the hexdigest of the SHA-256 of the key's canonical
 * form. A root listing a key under any other id is refused as a whole,
 * even when every signature it needs verifies under the ids it lists:
 * a trusted root (bw_tuf_trust_root) and a rotated root alike.
 */
static void test_updater_root__keyid_not_hash_of_key(void **state)
{
	struct repo r;
	struct bw_err err;
	json_t *root, *keys, *roles;
	char fake[65];
	char *dir;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	dir = repo_client_dir(&r);

	/* 2.root.json lists the timestamp key under another id, and the
	 * timestamp is signed under that id. */
	other_keyid(r.timestamp, fake);
	root = repo_root_signed(&r, 2, REPO_EXPIRES);
	keys = json_object_get(root, "keys");
	json_object_del(keys, bw_signer_key(r.timestamp)->keyid);
	json_object_set_new(keys, fake, repo_key_json(r.timestamp));
	roles = json_object_get(root, "roles");
	json_object_set_new(json_object_get(roles, "timestamp"), "keyids",
			    json_pack("[s]", fake));
	repo_put_signed(&r, "metadata/2.root.json", root, &r.root, 1);
	put_signed_as(&r, "metadata/timestamp.json",
		      repo_timestamp_signed(&r, 2, 1, REPO_EXPIRES),
		      r.timestamp, fake);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), BW_EFORMAT);
	assert_non_null(strstr(err.msg, "is not the hash of its key"));
	assert_int_equal(cached_version(dir, "root.json"), 1);

	/* The same for a root to be trusted at provisioning: its own root
	 * key listed, and signing, under another id. */
	other_keyid(r.root, fake);
	root = repo_root_signed(&r, 1, REPO_EXPIRES);
	keys = json_object_get(root, "keys");
	json_object_del(keys, bw_signer_key(r.root)->keyid);
	json_object_set_new(keys, fake, repo_key_json(r.root));
	roles = json_object_get(root, "roles");
	json_object_set_new(json_object_get(roles, "root"), "keyids",
			    json_pack("[s]", fake));
	put_signed_as(&r, "fake-root.json", root, r.root, fake);
	assert_int_equal(bw_tuf_trust_root(dir, repo_get(&r, "fake-root.json")->data,
					   repo_get(&r, "fake-root.json")->len,
					   &err), BW_EFORMAT);
	assert_int_equal(cached_version(dir, "root.json"), 1);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* A warm refresh defers targets.json; first use verifies it fully. */
static void test_updater_targets__verified_record(void **state)
{
	struct repo r;
	struct client c = {0};
	const struct bw_tuf_target *t = NULL;
	struct bw_err err;
	struct timespec times[2];
	struct stat st;
	char *dir, path[700];
	FILE *f;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	dir = repo_client_dir(&r);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	snprintf(path, sizeof(path), "%s/targets.json.verified", dir);
	assert_int_equal(stat(path, &st), 0);
	/* Warm: targets.json is not fetched again. */
	r.fetches = 0;
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_refresh(c.u, &err), 0);
	assert_int_equal(bw_tuf_updater_role_version(c.u, "targets"), 1);
	assert_int_equal(r.fetches, 2); /* 2.root.json (404), timestamp.json */
	assert_int_equal(bw_tuf_updater_get_target(c.u, "hello.txt", &t, &err), 0);
	bw_tuf_updater_free(c.u);
	/* Corrupt targets.json in place, keeping inode, size and mtime: the
	 * record still matches, but first use verifies, rejects the copy and
	 * fetches the genuine one. */
	snprintf(path, sizeof(path), "%s/targets.json", dir);
	assert_int_equal(stat(path, &st), 0);
	f = fopen(path, "r+");
	assert_non_null(f);
	fseek(f, 40, SEEK_SET);
	fputc('#', f);
	fclose(f);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	memset(&c, 0, sizeof(c));
	r.fetches = 0;
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_refresh(c.u, &err), 0);
	assert_int_equal(r.fetches, 2);
	assert_int_equal(bw_tuf_updater_get_target(c.u, "hello.txt", &t, &err), 0);
	assert_int_equal(r.fetches, 3); /* the genuine targets.json */
	bw_tuf_updater_free(c.u);
	/* A new targets version in snapshot invalidates the record. */
	repo_put_signed(&r, "metadata/targets.json",
			repo_targets_signed(2, REPO_EXPIRES), &r.targets, 1);
	repo_put_signed(&r, "metadata/snapshot.json",
			repo_snapshot_signed(&r, 2, 2, REPO_EXPIRES), &r.snapshot, 1);
	repo_put_signed(&r, "metadata/timestamp.json",
			repo_timestamp_signed(&r, 2, 2, REPO_EXPIRES),
			&r.timestamp, 1);
	assert_int_equal(refresh_once(&r, dir, T0, NULL, &err), 0);
	assert_int_equal(cached_version(dir, "targets.json"), 2);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* ---- delegations ----------------------------------------------------- */

static json_t *deleg_role(struct repo *r, const char *name, const char *path,
			  int terminating)
{
	json_t *role = repo_role(&r->deleg, 1, 1);

	json_object_set_new(role, "name", json_string(name));
	json_object_set_new(role, "terminating", json_boolean(terminating));
	json_object_set_new(role, "paths", json_pack("[s]", path));
	return role;
}

static void add_delegations(struct repo *r, json_t *targets_signed,
			    json_t *roles)
{
	json_t *keys = json_object();

	json_object_set_new(keys, bw_signer_key(r->deleg)->keyid,
			    repo_key_json(r->deleg));
	json_object_set_new(targets_signed, "delegations",
			    json_pack("{s:o,s:o}", "keys", keys, "roles", roles));
}

/* Publish targets + roles named in meta (each version 1) in snapshot. */
static void publish_snapshot(struct repo *r, const char *const *roles,
			     size_t n)
{
	json_t *snap = repo_snapshot_signed(r, 1, 1, REPO_EXPIRES);
	json_t *meta = json_object_get(snap, "meta");
	char name[128];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s.json", roles[i]);
		json_object_set_new(meta, name, json_pack("{s:i}", "version", 1));
	}
	repo_put_signed(r, "metadata/snapshot.json", snap, &r->snapshot, 1);
}

static int lookup(struct repo *r, unsigned max_deleg, const char *path)
{
	struct client c = {0};
	const struct bw_tuf_target *t = NULL;
	struct bw_err err;
	char *dir = repo_client_dir(r);
	int rc;

	bw_tuf_config_init(&c.cfg);
	c.cfg.max_delegations = max_deleg;
	assert_int_equal(client_open(&c, r, dir, &err), 0);
	rc = bw_tuf_updater_get_target(c.u, path, &t, &err);
	bw_tuf_updater_free(c.u);
	repo_rmrf(dir);
	free(dir);
	return rc;
}

/* A cycle a -> b -> a ends; a chain longer than the bound is cut. */
static void test_updater_delegation__cycle_and_bound(void **state)
{
	const char *names[40];
	char buf[40][16], path[64];
	struct repo r;
	json_t *t;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	t = repo_targets_signed(1, REPO_EXPIRES);
	add_delegations(&r, t, json_pack("[o]", deleg_role(&r, "r0", "*", 0)));
	repo_put_signed(&r, "metadata/targets.json", t, &r.targets, 1);
	for (int i = 0; i < 40; i++) {
		snprintf(buf[i], sizeof(buf[i]), "r%d", i);
		names[i] = buf[i];
	}
	/* r0 -> r1 -> ... -> r39; r39 holds the target and points to r0. */
	for (int i = 0; i < 40; i++) {
		json_t *d = repo_targets_signed(1, REPO_EXPIRES);

		snprintf(path, sizeof(path), "metadata/%s.json", names[i]);
		add_delegations(&r, d,
				json_pack("[o]", deleg_role(&r, names[(i + 1) % 40],
							    "*", 0)));
		if (i == 39)
			repo_add_target(&r, d, "deep.txt", "deep\n");
		repo_put_signed(&r, path, d, &r.deleg, 1);
	}
	publish_snapshot(&r, names, 40);
	assert_int_equal(lookup(&r, 32, "deep.txt"), BW_ENOTFOUND);
	assert_int_equal(lookup(&r, 64, "deep.txt"), 0);
	/* The cycle back to r0 is not followed forever. */
	assert_int_equal(lookup(&r, 1000, "missing.txt"), BW_ENOTFOUND);
	repo_dispose(&r);
}

/* A terminating role that does not list the path hides later roles. */
static void test_updater_delegation__terminating(void **state)
{
	const char *names[] = {"a1", "a2"};
	struct repo r;

	(void)state;
	for (int term = 0; term <= 1; term++) {
		json_t *t, *a1, *a2;

		repo_init(&r);
		repo_build_basic(&r);
		t = repo_targets_signed(1, REPO_EXPIRES);
		add_delegations(&r, t,
				json_pack("[o,o]", deleg_role(&r, "a1", "x/*", term),
					  deleg_role(&r, "a2", "x/*", 0)));
		repo_put_signed(&r, "metadata/targets.json", t, &r.targets, 1);
		a1 = repo_targets_signed(1, REPO_EXPIRES);
		a2 = repo_targets_signed(1, REPO_EXPIRES);
		repo_add_target(&r, a2, "x/f.txt", "f\n");
		/* '*' does not match '/'. */
		repo_add_target(&r, a2, "x/y/g.txt", "g\n");
		repo_put_signed(&r, "metadata/a1.json", a1, &r.deleg, 1);
		repo_put_signed(&r, "metadata/a2.json", a2, &r.deleg, 1);
		publish_snapshot(&r, names, 2);
		assert_int_equal(lookup(&r, 32, "x/f.txt"),
				 term ? BW_ENOTFOUND : 0);
		assert_int_equal(lookup(&r, 32, "x/y/g.txt"), BW_ENOTFOUND);
		repo_dispose(&r);
	}
}

/* {"keys":{k},"roles":[{name,keyids:[k],threshold 1,paths:[path]}]} */
static json_t *deleg_one(struct bw_signer *key, const char *name,
			 const char *path)
{
	json_t *keys = json_object(), *role = repo_role(&key, 1, 1);

	json_object_set_new(keys, bw_signer_key(key)->keyid, repo_key_json(key));
	json_object_set_new(role, "name", json_string(name));
	json_object_set_new(role, "terminating", json_false());
	json_object_set_new(role, "paths", json_pack("[s]", path));
	return json_pack("{s:o,s:[o]}", "keys", keys, "roles", role);
}

/*
 * A diamond: targets delegates to a and b, both delegate to r, a with key
 * ka for "r/a-*", b with key kb for "r/b-*". r is signed by ka only
 * (signer_is_b 0) or by kb only (1). One updater looks up first the path
 * r's signer is trusted for, then the other one: the second must fail,
 * though r was verified (for the other delegator) by the first lookup.
 */
static void diamond(int signer_is_b)
{
	const char *names[] = {"a", "b", "r"};
	const char *good = signer_is_b ? "r/b-1.txt" : "r/a-1.txt";
	const char *bad = signer_is_b ? "r/a-1.txt" : "r/b-1.txt";
	struct bw_signer *ka = NULL, *kb = NULL;
	const struct bw_tuf_target *t = NULL;
	struct client c = {0};
	struct bw_err err;
	uint8_t seed[32];
	struct repo r;
	json_t *top, *a, *b, *rr;
	char *dir;

	repo_init(&r);
	repo_build_basic(&r);
	memset(seed, 0x61, sizeof(seed));
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, &ka, NULL), 0);
	memset(seed, 0x62, sizeof(seed));
	assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, &kb, NULL), 0);
	top = repo_targets_signed(1, REPO_EXPIRES);
	add_delegations(&r, top,
			json_pack("[o,o]", deleg_role(&r, "a", "r/*", 0),
				  deleg_role(&r, "b", "r/*", 0)));
	repo_put_signed(&r, "metadata/targets.json", top, &r.targets, 1);
	a = repo_targets_signed(1, REPO_EXPIRES);
	json_object_set_new(a, "delegations", deleg_one(ka, "r", "r/a-*"));
	repo_put_signed(&r, "metadata/a.json", a, &r.deleg, 1);
	b = repo_targets_signed(1, REPO_EXPIRES);
	json_object_set_new(b, "delegations", deleg_one(kb, "r", "r/b-*"));
	repo_put_signed(&r, "metadata/b.json", b, &r.deleg, 1);
	rr = repo_targets_signed(1, REPO_EXPIRES);
	repo_add_target(&r, rr, "r/a-1.txt", "in r, a's path\n");
	repo_add_target(&r, rr, "r/b-1.txt", "in r, b's path\n");
	repo_put_signed(&r, "metadata/r.json", rr, signer_is_b ? &kb : &ka, 1);
	publish_snapshot(&r, names, 3);

	dir = repo_client_dir(&r);
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_get_target(c.u, good, &t, &err), 0);
	assert_int_equal(bw_tuf_updater_get_target(c.u, bad, &t, &err), BW_ESIG);
	assert_non_null(strstr(err.msg, "0/1"));
	bw_tuf_updater_free(c.u);
	/* A fresh updater (r now in the metadata cache) agrees. */
	c.u = NULL;
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_get_target(c.u, bad, &t, &err), BW_ESIG);
	assert_int_equal(bw_tuf_updater_get_target(c.u, good, &t, &err), 0);
	bw_tuf_updater_free(c.u);
	repo_rmrf(dir);
	free(dir);
	bw_signer_free(ka);
	bw_signer_free(kb);
	repo_dispose(&r);
}

static void test_updater_delegation__diamond_a_then_b(void **state)
{
	(void)state;
	diamond(0);
}

static void test_updater_delegation__diamond_b_then_a(void **state)
{
	(void)state;
	diamond(1);
}

/* A delegated role must be listed in snapshot. */
static void test_updater_delegation__not_in_snapshot(void **state)
{
	struct repo r;
	json_t *t, *a;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	t = repo_targets_signed(1, REPO_EXPIRES);
	add_delegations(&r, t, json_pack("[o]", deleg_role(&r, "a", "*", 0)));
	repo_put_signed(&r, "metadata/targets.json", t, &r.targets, 1);
	a = repo_targets_signed(1, REPO_EXPIRES);
	repo_add_target(&r, a, "f.txt", "f\n");
	repo_put_signed(&r, "metadata/a.json", a, &r.deleg, 1);
	assert_int_equal(lookup(&r, 32, "f.txt"), BW_ENOTFOUND);
	repo_dispose(&r);
}

/* ---- downloads -------------------------------------------------------- */

static void test_updater_download__tampered(void **state)
{
	static const char *const bodies[] = {"HELLO, WORLD\n", "hello, world\nX",
					     "hello"};
	struct repo r;
	struct client c = {0};
	const struct bw_tuf_target *t = NULL;
	struct bw_err err;
	char *dir, *path = NULL;

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	dir = repo_client_dir(&r);
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_get_target(c.u, "hello.txt", &t, &err), 0);
	for (size_t i = 0; i < 3; i++) {
		repo_put(&r, "targets/hello.txt", bodies[i], strlen(bodies[i]));
		assert_int_equal(bw_tuf_updater_download(c.u, t, NULL, &path, &err),
				 BW_EHASH);
		assert_null(path);
		/* Nothing partial is left behind. */
		assert_int_equal(count_files(c.tdir), 0);
	}
	bw_tuf_updater_free(c.u);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

/* Resuming: a server that ignores Range makes the part start over, and a
 * part that is not a prefix of the target never gets its final name. */
static void test_updater_download__resume_without_range(void **state)
{
	static const char *const parts[] = {"hello", "HELLO, WORLD\nXXXXXX"};
	struct repo r;
	struct client c = {0};
	const struct bw_tuf_target *t = NULL;
	struct bw_err err;
	struct bw_buf b;
	char *dir, *path = NULL, part[700];

	(void)state;
	repo_init(&r);
	repo_build_basic(&r);
	r.no_range = 1;
	dir = repo_client_dir(&r);
	assert_int_equal(client_open(&c, &r, dir, &err), 0);
	assert_int_equal(bw_tuf_updater_get_target(c.u, "hello.txt", &t, &err), 0);
	snprintf(part, sizeof(part), "%s/hello.txt.part", c.tdir);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(bw_io_write_atomic(part, parts[i], strlen(parts[i]),
						    0644, NULL), 0);
		assert_int_equal(bw_tuf_updater_download_resumable(
					 c.u, t, NULL, NULL, NULL, &path, &err),
				 0);
		bw_buf_init(&b, 1024);
		assert_int_equal(bw_io_read_file(path, 1024, &b, NULL), 0);
		assert_int_equal(b.len, 13);
		assert_memory_equal(b.data, "hello, world\n", 13);
		bw_buf_dispose(&b);
		free(path);
		path = NULL;
		assert_int_equal(count_files(c.tdir), 1);
		repo_rmrf(c.tdir);
		mkdir(c.tdir, 0755);
	}
	bw_tuf_updater_free(c.u);
	repo_rmrf(dir);
	free(dir);
	repo_dispose(&r);
}

static void test_updater_paths__length_and_nul(void **state)
{
	char p[BW_TUF_TARGET_PATH_MAX + 2];

	(void)state;
	memset(p, 'a', sizeof(p));
	assert_true(bw_tuf_target_path_is_safe(p, BW_TUF_TARGET_PATH_MAX));
	assert_false(bw_tuf_target_path_is_safe(p, BW_TUF_TARGET_PATH_MAX + 1));
	assert_false(bw_tuf_target_path_is_safe("a\0b", 3));
	assert_true(bw_tuf_target_path_is_safe("a/b", 3));
	assert_false(bw_tuf_target_path_is_safe("a/..", 4));
	assert_false(bw_tuf_target_path_is_safe(NULL, 0));
}

static void test_updater_paths__safety_and_quoting(void **state)
{
	static const char *const bad[] = {"", "/abs", "../x", "a/../../x", "a//b",
					  "a/./b", "a\\b", "a/", ".", "..",
					  "a\nb"};
	static const char *const good[] = {"a", "a/b.txt", "files/r ü.txt",
					   "..a", "a..", ".hidden"};
	char *q = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(bw_tuf_target_path_is_safe(bad[i], strlen(bad[i])));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(bw_tuf_target_path_is_safe(good[i], strlen(good[i])));
	assert_int_equal(bw_tuf__quote("a b/ü~-_.", "/", &q), 0);
	assert_string_equal(q, "a%20b/%C3%BC~-_.");
	free(q);
	assert_int_equal(bw_tuf__quote("a/b", "", &q), 0);
	assert_string_equal(q, "a%2Fb");
	free(q);
}

/* TAP 15 bin names: prefix, '-', zero-padded lowercase hex. */
static void test_updater_succinct__bin_names(void **state)
{
	struct bw_tuf_succinct s = {.name_prefix = "bins"};
	char hex[BW_HASH_MAX_HEX], *name = NULL, want[32];
	const char *path = "files/file-00.txt";
	unsigned long first;

	(void)state;
	bw_hash_buf_hex(BW_HASH_SHA256, path, strlen(path), hex);
	hex[8] = '\0';
	first = strtoul(hex, NULL, 16);
	s.bit_length = 4;
	assert_int_equal(bw_tuf__succinct_bin(&s, path, &name), 0);
	snprintf(want, sizeof(want), "bins-%lx", first >> 28);
	assert_string_equal(name, want);
	free(name);
	s.bit_length = 9;
	assert_int_equal(bw_tuf__succinct_bin(&s, path, &name), 0);
	snprintf(want, sizeof(want), "bins-%03lx", first >> 23);
	assert_string_equal(name, want);
	free(name);
	s.bit_length = 32;
	assert_int_equal(bw_tuf__succinct_bin(&s, path, &name), 0);
	snprintf(want, sizeof(want), "bins-%08lx", first);
	assert_string_equal(name, want);
	free(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_updater_refresh__ok_then_download),
		cmocka_unit_test(test_updater_expiry__boundary),
		cmocka_unit_test(test_updater_timestamp__size_cap),
		cmocka_unit_test(test_updater_timestamp__rollback),
		cmocka_unit_test(test_updater_snapshot__mix_and_match),
		cmocka_unit_test(test_updater_snapshot__targets_rollback),
		cmocka_unit_test(test_updater_targets__threshold),
		cmocka_unit_test(test_updater_signatures__duplicate_keyid),
		cmocka_unit_test(test_updater_targets__malformed_entry),
		cmocka_unit_test(test_updater_targets__selector),
		cmocka_unit_test(test_updater_targets__selector_unverified),
		cmocka_unit_test(test_updater_root__chain),
		cmocka_unit_test(test_updater_root__rotation_drops_cached_timestamp),
		cmocka_unit_test(test_updater_root__rotation_drops_cached_snapshot),
		cmocka_unit_test(test_updater_root__keyid_not_hash_of_key),
		cmocka_unit_test(test_updater_targets__verified_record),
		cmocka_unit_test(test_updater_delegation__cycle_and_bound),
		cmocka_unit_test(test_updater_delegation__terminating),
		cmocka_unit_test(test_updater_delegation__not_in_snapshot),
		cmocka_unit_test(test_updater_delegation__diamond_a_then_b),
		cmocka_unit_test(test_updater_delegation__diamond_b_then_a),
		cmocka_unit_test(test_updater_download__tampered),
		cmocka_unit_test(test_updater_download__resume_without_range),
		cmocka_unit_test(test_updater_paths__safety_and_quoting),
		cmocka_unit_test(test_updater_paths__length_and_nul),
		cmocka_unit_test(test_updater_succinct__bin_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
