/*
 * Unit tests of the bulwarkd modules (src/server): configuration, SQLite
 * storage (real files), request parsers, events, trust policy (a real PKI
 * made with the pki library), secret files, and the repository signer
 * (real keys; time injected to test timestamp re-signing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_tmpdir.h"

#include <openssl/crypto.h>

#include "bulwark/json.h"
#include "bulwark/pki.h"
#include "bulwark/tuf.h"
#include "config.h"
#include "events.h"
#include "gateway.h"
#include "http.h"
#include "policy.h"
#include "repo.h"
#include "server.h"
#include "storage.h"

#define UUID "0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#define NOW ((int64_t)1800000000)

static char g_tmp[256];

static const char *tmp_path(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", g_tmp, name);
	return buf;
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
	chmod(path, mode);
}

/* ---- config -------------------------------------------------------------- */

static void test_server_config__defaults_and_file(void **state)
{
	struct bw_srv_config cfg;
	struct bw_err err = {0};

	(void)state;
	bw_srv_config_init(&cfg);
	assert_int_equal(cfg.timestamp_expiry, 86400);
	assert_int_equal(cfg.roles, 7);
	assert_int_equal(bw_srv_config_finish(&cfg, &err), 0);
	assert_string_equal(cfg.tls_cert, "/etc/bulwark/pki/tls.pem");
	write_file(tmp_path("a.conf"),
		   "[server]\ndatabase = /x.db\nrole = gateway,admin\n"
		   "idle_timeout = 2m\n[signing]\ntimestamp_expiry = 2d\n"
		   "timestamp_resign_before = 12h\n",
		   0600);
	bw_srv_config_init(&cfg);
	assert_int_equal(bw_srv_config_load(&cfg, tmp_path("a.conf"), &err), 0);
	assert_string_equal(cfg.database, "/x.db");
	assert_int_equal(cfg.roles, BW_SRV_ROLE_GATEWAY | BW_SRV_ROLE_ADMIN);
	assert_int_equal(cfg.idle_timeout, 120);
	assert_int_equal(cfg.timestamp_expiry, 2 * 86400);
	assert_int_equal(
	    bw_srv_config_set(&cfg, "gateway.listen=127.0.0.1:9", &err), 0);
	assert_int_equal(bw_srv_config_finish(&cfg, &err), 0);
}

static void test_server_config__refusals(void **state)
{
	struct bw_srv_config cfg;
	struct bw_err err = {0};

	(void)state;
	bw_srv_config_init(&cfg);
	write_file(tmp_path("b.conf"), "[server]\n\nnosuch = 1\n", 0600);
	assert_int_equal(bw_srv_config_load(&cfg, tmp_path("b.conf"), &err),
			 BW_EFORMAT);
	assert_non_null(strstr(err.msg, ":3:"));
	write_file(tmp_path("c.conf"), "[server]\nmax_connections = 0\n", 0600);
	assert_int_equal(bw_srv_config_load(&cfg, tmp_path("c.conf"), &err),
			 BW_EFORMAT);
	write_file(tmp_path("d.conf"), "[server]\nidle_timeout = 5x\n", 0600);
	assert_int_equal(bw_srv_config_load(&cfg, tmp_path("d.conf"), &err),
			 BW_EFORMAT);
	assert_int_equal(bw_srv_config_load(&cfg, tmp_path("none"), &err),
			 BW_ENOTFOUND);
	assert_int_equal(bw_srv_config_set(&cfg, "server.role=root", &err),
			 BW_EFORMAT);
	assert_int_equal(bw_srv_config_set(&cfg, "noequals", &err), BW_EFORMAT);
	assert_int_equal(
	    bw_srv_config_set(
		&cfg, "server.max_connections=99999999999999999999", &err),
	    BW_EFORMAT);
	bw_srv_config_init(&cfg);
	assert_int_equal(
	    bw_srv_config_set(&cfg, "gateway.listen=localhost:1", &err), 0);
	assert_int_equal(bw_srv_config_finish(&cfg, &err), BW_EFORMAT);
	{
		char host[64];
		uint16_t port = 0;

		assert_int_equal(bw_srv_listen_parse("[::1]:8443", host,
						     sizeof(host), &port),
				 0);
		assert_string_equal(host, "::1");
		assert_int_equal(port, 8443);
		assert_int_equal(bw_srv_listen_parse("10.0.0.1:1", host,
						     sizeof(host), &port),
				 0);
		assert_int_not_equal(
		    bw_srv_listen_parse("::1:80", host, sizeof(host), &port),
		    0);
		assert_int_not_equal(
		    bw_srv_listen_parse("[::1]80", host, sizeof(host), &port),
		    0);
		assert_int_not_equal(
		    bw_srv_listen_parse("1.2.3.4:0", host, sizeof(host), &port),
		    0);
		assert_int_not_equal(
		    bw_srv_listen_parse("[x]:1", host, sizeof(host), &port), 0);
	}
	bw_srv_config_init(&cfg);
	assert_int_equal(
	    bw_srv_config_set(&cfg, "signing.timestamp_resign_before=2d", &err),
	    0);
	assert_int_equal(bw_srv_config_finish(&cfg, &err), BW_EFORMAT);
}

/* ---- secrets --------------------------------------------------------------
 */

static void test_server_secret__modes(void **state)
{
	struct bw_err err = {0};
	char *s = NULL;
	size_t n = 0;

	(void)state;
	write_file(tmp_path("tok"), "sekrit\n", 0644);
	assert_int_equal(bw_srv_secret_read(tmp_path("tok"), 64, &s, &n, &err),
			 BW_EINVAL);
	assert_null(strstr(err.msg, "sekrit"));
	chmod(tmp_path("tok"), 0600);
	assert_int_equal(bw_srv_secret_read(tmp_path("tok"), 64, &s, &n, &err),
			 0);
	assert_string_equal(s, "sekrit");
	assert_int_equal(n, 6);
	free(s);
	assert_int_equal(bw_srv_secret_read(tmp_path("tok"), 3, &s, &n, &err),
			 BW_ETOOBIG);
	write_file(tmp_path("empty"), "\n", 0600);
	assert_int_equal(
	    bw_srv_secret_read(tmp_path("empty"), 64, &s, &n, &err),
	    BW_EFORMAT);
}

/* ---- storage --------------------------------------------------------------
 */

static struct bw_store *store_open(const char *name)
{
	struct bw_store *st = NULL;
	struct bw_err err = {0};

	unlink(tmp_path(name));
	assert_int_equal(bw_store_sqlite_open(tmp_path(name), &st, &err), 0);
	return st;
}

/* A store (file name) holding one production device d, put at first_seen 5. */
static struct bw_store *store_with_device(const char *name,
					  struct bw_device_rec *d)
{
	struct bw_store *st = store_open(name);
	struct bw_err err = {0};

	memset(d, 0, sizeof(*d));
	snprintf(d->uuid, sizeof(d->uuid), "%s", UUID);
	snprintf(d->tag, sizeof(d->tag), "prod");
	d->production = 1;
	d->first_seen = 5;
	assert_int_equal(st->ops->device_put(st, d, &err), 0);
	return st;
}

static void test_server_storage__device_put_get(void **state)
{
	struct bw_store *st = store_open("s1.db");
	struct bw_device_rec d, g;
	struct bw_err err = {0};

	(void)state;
	memset(&d, 0, sizeof(d));
	snprintf(d.uuid, sizeof(d.uuid), "%s", UUID);
	snprintf(d.tag, sizeof(d.tag), "prod");
	d.production = 1;
	d.first_seen = 5;
	assert_int_equal(st->ops->device_get(st, UUID, &g, &err), BW_ENOTFOUND);
	assert_int_equal(st->ops->device_put(st, &d, &err), 0);
	assert_int_equal(st->ops->device_get(st, UUID, &g, &err), 0);
	assert_string_equal(g.tag, "prod");
	assert_int_equal(g.production, 1);
	bw_store_close(st);
}

/* light transactions commit and roll back like the others */
static void test_server_storage__light_transactions(void **state)
{
	struct bw_device_rec d, g;
	struct bw_store *st = store_with_device("s1.db", &d);
	struct bw_err err = {0};

	(void)state;
	d.last_seen = 42;
	assert_int_equal(st->ops->begin_light(st, &err), 0);
	assert_int_equal(st->ops->device_put(st, &d, &err), 0);
	st->ops->rollback(st);
	assert_int_equal(st->ops->device_get(st, UUID, &g, &err), 0);
	assert_int_equal(g.last_seen, 0);
	assert_int_equal(st->ops->begin_light(st, &err), 0);
	assert_int_equal(st->ops->device_put(st, &d, &err), 0);
	assert_int_equal(st->ops->commit(st, &err), 0);
	assert_int_equal(st->ops->device_get(st, UUID, &g, &err), 0);
	assert_int_equal(g.last_seen, 42);
	assert_int_equal(st->ops->begin(st, &err), 0);
	assert_int_equal(st->ops->commit(st, &err), 0);
	bw_store_close(st);
}

static void test_server_storage__deny_list(void **state)
{
	struct bw_device_rec d;
	struct bw_store *st = store_with_device("s1.db", &d);
	struct bw_err err = {0};
	json_t *lst = NULL;

	(void)state;
	assert_int_equal(st->ops->deny_has(st, UUID, &err), 0);
	assert_int_equal(st->ops->deny_set(st, UUID, 1, "lost", 7, &err), 0);
	assert_int_equal(st->ops->deny_has(st, UUID, &err), 1);
	assert_int_equal(st->ops->device_list(st, "", 10, &lst, &err), 0);
	assert_int_equal(json_array_size(lst), 1);
	assert_true(
	    json_is_true(json_object_get(json_array_get(lst, 0), "denied")));
	json_decref(lst);
	assert_int_equal(st->ops->deny_set(st, UUID, 0, NULL, 8, &err), 0);
	assert_int_equal(st->ops->deny_has(st, UUID, &err), 0);
	bw_store_close(st);
}

/* same event id twice: stored once */
static void test_server_storage__event_id_stored_once(void **state)
{
	struct bw_device_rec d;
	struct bw_store *st = store_with_device("s1.db", &d);
	struct bw_err err = {0};
	json_t *lst = NULL;

	(void)state;
	assert_int_equal(st->ops->event_add(st, UUID, "e1", "T", 1,
					    (const uint8_t *)"{}", 2, &err),
			 0);
	assert_int_equal(st->ops->event_add(st, UUID, "e1", "T", 2,
					    (const uint8_t *)"{}", 2, &err),
			 0);
	assert_int_equal(st->ops->event_list(st, UUID, 10, &lst, &err), 0);
	assert_int_equal(json_array_size(lst), 1);
	json_decref(lst);
	bw_store_close(st);
}

/* records and the deny-list hold canonical uuids only */
static void test_server_storage__canonical_uuids_only(void **state)
{
	struct bw_device_rec d, up;
	struct bw_store *st = store_with_device("s1.db", &d);
	struct bw_err err = {0};

	(void)state;
	up = d;
	snprintf(up.uuid, sizeof(up.uuid), "%s",
		 "0B4F3E2A-1C2D-4E5F-8A9B-0C1D2E3F4A5B");
	assert_int_equal(st->ops->device_put(st, &up, &err), BW_EINVAL);
	assert_int_equal(st->ops->deny_set(st, up.uuid, 1, "x", 9, &err),
			 BW_EINVAL);
	snprintf(up.uuid, sizeof(up.uuid), "%s", "u-1");
	assert_int_equal(st->ops->device_put(st, &up, &err), BW_EINVAL);
	bw_store_close(st);
}

/* a binding change moves the identity counter; telemetry does not */
static void test_server_storage__identity_counter(void **state)
{
	struct bw_device_rec d, g;
	struct bw_store *st = store_with_device("s1.db", &d);
	struct bw_err err = {0};
	int64_t n0 = -1, n1 = -1, n2 = -1;

	(void)state;
	assert_int_equal(st->ops->identity_changes(st, &n0, &err), 0);
	d.last_seen = 99;
	snprintf(d.tag, sizeof(d.tag), "other");
	assert_int_equal(st->ops->device_put(st, &d, &err), 0);
	assert_int_equal(st->ops->identity_changes(st, &n1, &err), 0);
	assert_true(n1 == n0);
	snprintf(d.fingerprint, sizeof(d.fingerprint), "%064d", 1);
	snprintf(d.ca_fingerprint, sizeof(d.ca_fingerprint), "%064d", 2);
	snprintf(d.ca_name, sizeof(d.ca_name), "online-ca");
	snprintf(d.serial, sizeof(d.serial), "ABC");
	assert_int_equal(st->ops->device_put(st, &d, &err), 0);
	assert_int_equal(st->ops->identity_changes(st, &n2, &err), 0);
	assert_true(n2 > n1);
	assert_int_equal(st->ops->device_get(st, UUID, &g, &err), 0);
	assert_string_equal(g.ca_name, "online-ca");
	assert_string_equal(g.serial, "ABC");
	assert_string_equal(g.ca_fingerprint, d.ca_fingerprint);
	assert_string_equal(g.fingerprint, d.fingerprint);
	bw_store_close(st);
}

static void test_server_storage__tokens(void **state)
{
	struct bw_store *st = store_open("s2.db");
	struct bw_token_use u;
	struct bw_err err = {0};
	int64_t id = 0, id2 = 0;

	(void)state;
	assert_int_equal(st->ops->token_add(st, "h1", "ci", NOW + 10, 1, "c",
					    NOW, &id, &err),
			 0);
	assert_int_equal(st->ops->token_add(st, "h2", "production", NOW + 10,
					    -1, NULL, NOW, &id2, &err),
			 0);
	assert_int_equal(st->ops->token_add(st, "h3", "admin", NOW + 10, -1,
					    NULL, NOW, &id2, &err),
			 BW_EEXIST);
	/* a failed registration gives the use back (rollback) */
	assert_int_equal(st->ops->begin(st, &err), 0);
	assert_int_equal(st->ops->token_use(st, "h1", NOW, &u, &err), 0);
	st->ops->rollback(st);
	assert_int_equal(st->ops->token_use(st, "h1", NOW, &u, &err), 0);
	assert_string_equal(u.scope, "ci");
	assert_int_equal(st->ops->token_use(st, "h1", NOW, &u, &err),
			 BW_EEXPIRED);
	assert_int_equal(st->ops->token_use(st, "h2", NOW + 10, &u, &err),
			 BW_EEXPIRED);
	assert_int_equal(st->ops->token_use(st, "h2", NOW, &u, &err), 0);
	assert_int_equal(st->ops->token_use(st, "h2", NOW, &u, &err), 0);
	assert_int_equal(st->ops->token_revoke(st, u.id, &err), 0);
	assert_int_equal(st->ops->token_use(st, "h2", NOW, &u, &err),
			 BW_ENOTFOUND);
	assert_int_equal(st->ops->token_use(st, "nope", NOW, &u, &err),
			 BW_ENOTFOUND);
	assert_int_equal(st->ops->token_revoke(st, 999, &err), BW_ENOTFOUND);
	bw_store_close(st);
}

static void test_server_storage__metadata_and_schema(void **state)
{
	struct bw_store *st = store_open("s3.db");
	struct bw_meta_rec m, g;
	struct bw_err err = {0};
	const char *names[] = {"v1", "v2"};

	(void)state;
	memset(&m, 0, sizeof(m));
	snprintf(m.flavour, sizeof(m.flavour), "ci");
	snprintf(m.role, sizeof(m.role), "timestamp");
	for (int i = 0; i < 2; i++) {
		m.version = i + 1;
		m.data = (uint8_t *)names[i];
		m.len = 2;
		assert_int_equal(st->ops->meta_put(st, &m, NOW, &err), 0);
	}
	assert_int_equal(st->ops->meta_put(st, &m, NOW, &err), BW_EEXIST);
	assert_int_equal(
	    st->ops->meta_get(st, "ci", "", "timestamp", 0, &g, &err), 0);
	assert_int_equal(g.version, 2);
	assert_memory_equal(g.data, "v2", 2);
	free(g.data);
	assert_int_equal(
	    st->ops->meta_get(st, "ci", "", "timestamp", 1, &g, &err), 0);
	assert_memory_equal(g.data, "v1", 2);
	free(g.data);
	assert_int_equal(
	    st->ops->meta_get(st, "production", "", "timestamp", 0, &g, &err),
	    BW_ENOTFOUND);
	bw_store_close(st);
	/* a database of schema 1 is migrated to the newest (sqlite3, the
	 * command-line shell, is a build dependency: its failure fails) */
	{
		char cmd[4096];

		snprintf(
		    cmd, sizeof(cmd),
		    "sqlite3 %s 'DROP TABLE pki_logged;"
		    " DROP TRIGGER devices_bind;"
		    " ALTER TABLE devices DROP COLUMN ca_name;"
		    " ALTER TABLE devices DROP COLUMN ca_fingerprint;"
		    " ALTER TABLE devices DROP COLUMN serial;"
		    " DROP TABLE crls; DROP INDEX events_device;"
		    " DROP TABLE device_cas; DROP TABLE identity_changes;"
		    " DROP TRIGGER deny_ins; DROP TRIGGER deny_del;"
		    " DROP TRIGGER deny_upd; DROP TABLE rotations;"
		    " DROP TABLE cert_deny; DROP TABLE rotate_requests;"
		    " DROP TABLE accounts; DROP TABLE ui_sessions;"
		    " DROP INDEX devices_status; DROP INDEX devices_tag;"
		    " DROP INDEX devices_name; DROP INDEX devices_last_seen;"
		    " ALTER TABLE devices DROP COLUMN status;"
		    " DROP TABLE wave_devices; DROP TABLE wave_log;"
		    " DROP TABLE waves;"
		    " DROP TABLE tlog_leaves; DROP TABLE tlog_nodes;"
		    " DROP TABLE tlog_checkpoints;"
		    " DROP INDEX devices_cert_not_after;"
		    " ALTER TABLE devices DROP COLUMN cert_not_after;"
		    " DROP TABLE rate_counts;"
		    " DELETE FROM schema_version WHERE version > 1' "
		    "2>/dev/null",
		    tmp_path("s3.db"));
		assert_int_equal(system(cmd), 0);
		{
			json_t *lst = NULL;

			assert_int_equal(
			    bw_store_sqlite_open(tmp_path("s3.db"), &st, &err),
			    0);
			assert_int_equal(st->ops->crl_list(st, &lst, &err), 0);
			assert_int_equal(json_array_size(lst), 0);
			json_decref(lst);
			assert_int_equal(st->ops->meta_get(st, "ci", "",
							   "timestamp", 0, &g,
							   &err),
					 0);
			assert_int_equal(g.version, 2); /* data kept */
			free(g.data);
			/* schema 5: deny-list changes move the counter */
			{
				int64_t n0 = -1, n1 = -1;

				assert_int_equal(st->ops->identity_changes(
							 st, &n0, &err), 0);
				assert_int_equal(st->ops->deny_set(
							 st, UUID, 1, "r", 1,
							 &err), 0);
				assert_int_equal(st->ops->identity_changes(
							 st, &n1, &err), 0);
				assert_true(n1 > n0);
			}
			bw_store_close(st);
		}
	}
	/* reopening migrates nothing twice; a newer schema is refused */
	assert_int_equal(bw_store_sqlite_open(tmp_path("s3.db"), &st, &err), 0);
	bw_store_close(st);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd),
			 "sqlite3 %s 'INSERT INTO schema_version VALUES (99)' "
			 "2>/dev/null",
			 tmp_path("s3.db"));
		if (system(cmd) != 0)
			return; /* no sqlite3 CLI: skip the last check */
	}
	assert_int_equal(bw_store_sqlite_open(tmp_path("s3.db"), &st, &err),
			 BW_ESTATE);
}

/* Both backends have the same schema versions: a migration added to one
 * needs its twin in the other (tests/integration/test_storage_postgres.py
 * migrates a real PostgreSQL database). */
static void test_server_store__backends_same_schema_version(void **state)
{
	(void)state;
	assert_int_equal(bw_store_schema_version(),
			 bw_store_postgres_schema_version());
}

/* Rate counters: per limiter and key within a window; a new window starts
 * from one and drops the rows of earlier ones. */
static void test_server_storage__rate_counts(void **state)
{
	struct bw_store *st = store_open("rate.db");
	struct bw_err err = {0};
	int64_t n = 0;

	(void)state;
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(
		    st->ops->rate_hit(st, "reg", "10.0.0.1", 100, &n, &err), 0);
		assert_int_equal(n, i);
	}
	assert_int_equal(
	    st->ops->rate_hit(st, "reg", "10.0.0.2", 100, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(
	    st->ops->rate_hit(st, "est", "10.0.0.1", 100, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(
	    st->ops->rate_hit(st, "reg", "10.0.0.1", 101, &n, &err), 0);
	assert_int_equal(n, 1);
	bw_store_close(st);
	{
		char cmd[700];
		FILE *p = NULL;
		char out[32] = "";

		snprintf(cmd, sizeof(cmd),
			 "sqlite3 %s 'SELECT COUNT(*) FROM rate_counts WHERE "
			 "win < 101' 2>/dev/null",
			 tmp_path("rate.db"));
		if (!(p = popen(cmd, "r")))
			return;
		if (!fgets(out, sizeof(out), p))
			out[0] = '\0';
		if (pclose(p) == 0)
			assert_string_equal(out, "0\n");
	}
}

/* Logged PKI policies: a put makes its digest the newest (its seq above
 * every other, also when it was logged before) and moves the identity
 * counter; an unknown digest is not found. */
static void test_server_storage__pki_logged(void **state)
{
	struct bw_store *st = store_open("pki_logged.db");
	struct bw_err err = {0};
	int64_t a = 0, b = 0, a2 = 0, n0 = 0, n1 = 0;

	(void)state;
	assert_int_equal(st->ops->pki_logged_get(st, "aa", &a, &err),
			 BW_ENOTFOUND);
	assert_int_equal(st->ops->identity_changes(st, &n0, &err), 0);
	assert_int_equal(st->ops->pki_logged_put(st, "aa", 1, &err), 0);
	assert_int_equal(st->ops->identity_changes(st, &n1, &err), 0);
	assert_true(n1 > n0);
	assert_int_equal(st->ops->pki_logged_put(st, "bb", 2, &err), 0);
	assert_int_equal(st->ops->pki_logged_get(st, "aa", &a, &err), 0);
	assert_int_equal(st->ops->pki_logged_get(st, "bb", &b, &err), 0);
	assert_true(b > a);
	/* back to aa: logged again, newest again */
	assert_int_equal(st->ops->identity_changes(st, &n0, &err), 0);
	assert_int_equal(st->ops->pki_logged_put(st, "aa", 3, &err), 0);
	assert_int_equal(st->ops->identity_changes(st, &n1, &err), 0);
	assert_true(n1 > n0);
	assert_int_equal(st->ops->pki_logged_get(st, "aa", &a2, &err), 0);
	assert_true(a2 > b);
	bw_store_close(st);
}

/* ---- parsers ---------------------------------------------------------------
 */

static void test_server_parsers__range(void **state)
{
	uint64_t a = 0, b = 0;

	(void)state;
	assert_int_equal(bw_srv_range_parse("bytes=0-9", 100, &a, &b), 0);
	assert_true(a == 0 && b == 9);
	assert_int_equal(bw_srv_range_parse("bytes=90-200", 100, &a, &b), 0);
	assert_true(a == 90 && b == 99);
	assert_int_equal(bw_srv_range_parse("bytes=-10", 100, &a, &b), 0);
	assert_true(a == 90 && b == 99);
	assert_int_equal(bw_srv_range_parse("bytes=-1000", 100, &a, &b), 0);
	assert_true(a == 0 && b == 99);
	assert_int_equal(bw_srv_range_parse("bytes=50-", 100, &a, &b), 0);
	assert_true(a == 50 && b == 99);
	assert_int_equal(bw_srv_range_parse("bytes=100-", 100, &a, &b),
			 BW_EFORMAT);
	assert_int_equal(bw_srv_range_parse("bytes=5-2", 100, &a, &b),
			 BW_ENOTFOUND);
	assert_int_equal(bw_srv_range_parse("bytes=0-1,3-4", 100, &a, &b),
			 BW_ENOTFOUND);
	assert_int_equal(
	    bw_srv_range_parse("bytes=99999999999999999999-", 100, &a, &b),
	    BW_ENOTFOUND);
	assert_int_equal(bw_srv_range_parse("items=0-1", 100, &a, &b),
			 BW_ENOTFOUND);
	assert_int_equal(bw_srv_range_parse(NULL, 100, &a, &b), BW_ENOTFOUND);
}

static void test_server_parsers__paths_tags_names(void **state)
{
	char tag[BW_STORE_TAG_MAX + 1], role[16], big[300];
	int64_t v = 0;

	(void)state;
	assert_true(bw_tuf_target_path_is_safe("fw-1", 4));
	assert_true(bw_tuf_target_path_is_safe("a/b.c/d", 7));
	assert_false(bw_tuf_target_path_is_safe("../x", 4));
	assert_false(bw_tuf_target_path_is_safe("a/../x", 6));
	assert_false(bw_tuf_target_path_is_safe("a/./x", 5));
	assert_false(bw_tuf_target_path_is_safe("/etc", 4));
	assert_false(bw_tuf_target_path_is_safe("a//b", 4));
	assert_false(bw_tuf_target_path_is_safe("a/", 2));
	assert_false(bw_tuf_target_path_is_safe("a\\b", 3));
	assert_false(bw_tuf_target_path_is_safe("a\nb", 3));
	assert_false(bw_tuf_target_path_is_safe("", 0));
	assert_int_equal(bw_srv_tag_parse(" prod, ci", tag, sizeof(tag)), 0);
	assert_string_equal(tag, "prod");
	assert_int_equal(bw_srv_tag_parse("a$b", tag, sizeof(tag)), BW_EFORMAT);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(bw_srv_tag_parse(big, tag, sizeof(tag)), BW_EFORMAT);
	assert_int_equal(
	    bw_srv_meta_name_parse("12.root.json", role, sizeof(role), &v), 0);
	assert_string_equal(role, "root");
	assert_int_equal(v, 12);
	assert_int_equal(
	    bw_srv_meta_name_parse("timestamp.json", role, sizeof(role), &v),
	    0);
	assert_int_equal(v, 0);
	assert_int_equal(
	    bw_srv_meta_name_parse("3.timestamp.json", role, sizeof(role), &v),
	    BW_EFORMAT);
	assert_int_equal(
	    bw_srv_meta_name_parse("0.root.json", role, sizeof(role), &v),
	    BW_EFORMAT);
	assert_int_equal(
	    bw_srv_meta_name_parse("99999999999999999999.root.json", role,
				   sizeof(role), &v),
	    BW_EFORMAT);
	assert_int_equal(
	    bw_srv_meta_name_parse("root.json.bak", role, sizeof(role), &v),
	    BW_EFORMAT);
}

static void test_server_events__validation(void **state)
{
	struct bw_store *st = store_open("e.db");
	struct bw_err err = {0};
	char target[64] = "";
	const char *ok =
	    "[{\"id\":\"1\",\"deviceTime\":\"t\",\"eventType\":"
	    "{\"id\":\"EcuInstallationCompleted\",\"version\":0},"
	    "\"event\":{\"targetName\":\"fw-2\",\"success\":true}}]";
	const char *bad[] = {
	    "{}",
	    "[1]",
	    "[{\"id\":\"1\"}]",
	    "[{\"id\":\"\",\"deviceTime\":\"t\",\"eventType\":{\"id\":\"x\"}}]",
	    "[{\"id\":\"1\",\"deviceTime\":\"t\",\"eventType\":{\"id\":\"x\"},"
	    "\"event\":{\"a\":{\"b\":1}}}]",
	    "[{\"id\":\"1\",\"deviceTime\":\"t\",\"eventType\":{\"id\":\"x\"},"
	    "\"event\":{\"success\":\"yes\"}}]",
	    "[{\"id\":\"1\",\"id\":\"2\"}]",
	    "[1.5]",
	    "[] x",
	};

	(void)state;
	assert_int_equal(bw_srv_events_store(st, UUID, (const uint8_t *)ok,
					     strlen(ok), 10, 0, NOW, target,
					     sizeof(target), &err),
			 0);
	assert_string_equal(target, "fw-2");
	assert_int_equal(bw_srv_events_store(st, UUID, (const uint8_t *)ok,
					     strlen(ok), 0, 0, NOW, NULL, 0,
					     &err),
			 BW_ETOOBIG);
	/* only the newest 3 events of a device stay */
	for (int i = 0; i < 5; i++) {
		char ev[256];
		json_t *lst = NULL;

		snprintf(ev, sizeof(ev),
			 "[{\"id\":\"k%d\",\"deviceTime\":\"t\","
			 "\"eventType\":{\"id\":\"x\"},\"event\":{}}]",
			 i);
		assert_int_equal(
		    bw_srv_events_store(st, "trim", (const uint8_t *)ev,
					strlen(ev), 10, 3, NOW, NULL, 0, &err),
		    0);
		assert_int_equal(
		    st->ops->event_list(st, "trim", 100, &lst, &err), 0);
		assert_int_equal(json_array_size(lst), i < 3 ? i + 1 : 3);
		if (i == 4)
			assert_string_equal(
			    json_string_value(json_object_get(
				json_object_get(json_array_get(lst, 0),
						"event"),
				"id")),
			    "k4");
		json_decref(lst);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(
		    bw_srv_events_store(st, UUID, (const uint8_t *)bad[i],
					strlen(bad[i]), 10, 0, NOW, NULL, 0,
					&err),
		    0);
	bw_store_close(st);
}

/* ---- trust policy -----------------------------------------------------------
 */

static X509 *device_cert(const char *pkidir, const char *ca, const char *ou,
			 int production, time_t now)
{
	char path[600];
	X509 *cacert = NULL, *cert = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();

	snprintf(path, sizeof(path), "%s/%s.pem", pkidir, ca);
	assert_int_equal(bw_pki_cert_load(path, &cacert, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s.key", pkidir, ca);
	assert_int_equal(bw_pki_key_load(path, &cakey, NULL), 0);
	assert_int_equal(bw_pki_key_generate(&key, NULL), 0);
	X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
				   (const unsigned char *)UUID, -1, -1, 0);
	X509_REQ_set_subject_name(req, n);
	X509_REQ_set_pubkey(req, key);
	X509_REQ_sign(req, key, EVP_sha256());
	assert_int_equal(bw_pki_device_cert_issue(cacert, cakey, req, ou,
						  production, 30, now, &cert,
						  NULL),
			 0);
	X509_NAME_free(n);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	X509_free(cacert);
	return cert;
}

/* A factory PKI (online and local device CAs) and four device
 * certificates: of this factory (good), production (prod), of another
 * factory (other), from the local CA (local). */
struct policy_fx {
	char dir[300];
	time_t now;
	struct bw_srv_policy *p;
	X509 *good, *prod, *other, *local;
};

static int policy_setup(void **state)
{
	static int n;
	struct policy_fx *f = calloc(1, sizeof(*f));
	struct bw_pki_create_opts o;
	struct bw_err err = {0};
	const char *ips[] = {"127.0.0.1"};

	if (f == NULL)
		return -1;
	f->now = time(NULL);
	snprintf(f->dir, sizeof(f->dir), "%s/pki-policy-%d", g_tmp, n++);
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.factory = "acme";
	o.sans.ip = ips;
	o.sans.nip = 1;
	o.online_ca = 1;
	o.local_ca = 1;
	o.now = f->now;
	if (bw_pki_create(&o, &err) != 0 ||
	    bw_srv_policy_load(f->dir, "", NULL, &f->p, &err) != 0) {
		free(f);
		return -1;
	}
	f->good = device_cert(f->dir, "online-ca", "acme", 0, f->now);
	f->prod = device_cert(f->dir, "online-ca", "acme", 1, f->now);
	f->other = device_cert(f->dir, "online-ca", "evil", 0, f->now);
	f->local = device_cert(f->dir, "local-ca", "acme", 0, f->now);
	*state = f;
	return 0;
}

static int policy_teardown(void **state)
{
	struct policy_fx *f = *state;

	bw_srv_policy_free(f->p);
	X509_free(f->good);
	X509_free(f->prod);
	X509_free(f->other);
	X509_free(f->local);
	free(f);
	return 0;
}

/* Revoke the good certificate and disable the local CA, then reload. */
static void policy_revoke_and_reload(struct policy_fx *f)
{
	struct bw_pki_device_sel sel;
	struct bw_pki *pki = NULL;
	struct bw_err err = {0};
	char *pem = NULL;
	size_t n = 0;

	assert_int_equal(bw_pki_open(f->dir, &pki, &err), 0);
	assert_int_equal(bw_pki_load_factory_key(pki, &err), 0);
	assert_int_equal(bw_pki_cert_pem(f->good, &pem, &n, NULL), 0);
	memset(&sel, 0, sizeof(sel));
	sel.cert = (const uint8_t *)pem;
	sel.cert_len = n;
	assert_int_equal(bw_pki_revoke_device(pki, &sel,
					      BW_PKI_REASON_KEY_COMPROMISE,
					      f->now, &err),
			 0);
	free(pem);
	assert_int_equal(
	    bw_pki_set_device_ca_status(pki, "local-ca", BW_PKI_CA_DISABLED,
					BW_PKI_REASON_HOLD, f->now, &err),
	    0);
	bw_pki_free(pki);
	bw_srv_policy_free(f->p);
	f->p = NULL;
	assert_int_equal(bw_srv_policy_load(f->dir, "", NULL, &f->p, &err), 0);
}

static void test_server_policy__accepts_own_device(void **state)
{
	struct policy_fx *f = *state;
	struct bw_srv_identity id;
	struct bw_err err = {0};

	assert_string_equal(bw_srv_policy_factory(f->p), "acme");
	assert_int_equal(bw_srv_policy_check(f->p, f->good, f->now, &id, &err),
			 0);
	assert_string_equal(id.uuid, UUID);
	assert_false(id.production);
	assert_string_equal(id.ca, "online-ca");
}

static void test_server_policy__production_flag(void **state)
{
	struct policy_fx *f = *state;
	struct bw_srv_identity id;
	struct bw_err err = {0};

	assert_int_equal(bw_srv_policy_check(f->p, f->prod, f->now, &id, &err),
			 0);
	assert_true(id.production);
}

static void test_server_policy__refuses_other_factory(void **state)
{
	struct policy_fx *f = *state;
	struct bw_srv_identity id;
	struct bw_err err = {0};

	assert_int_equal(
	    bw_srv_policy_check(f->p, f->other, f->now, &id, &err),
	    BW_EFORMAT);
}

static void test_server_policy__refuses_expired(void **state)
{
	struct policy_fx *f = *state;
	struct bw_srv_identity id;
	struct bw_err err = {0};

	assert_int_equal(bw_srv_policy_check(f->p, f->good,
					     f->now + 40 * 86400, &id, &err),
			 BW_EEXPIRED);
}

static void test_server_policy__revoked_after_reload(void **state)
{
	struct policy_fx *f = *state;
	struct bw_srv_identity id;
	struct bw_err err = {0};

	policy_revoke_and_reload(f);
	assert_int_equal(bw_srv_policy_check(f->p, f->good, f->now, &id, &err),
			 BW_ESTATE);
	assert_int_equal(bw_srv_policy_check(f->p, f->prod, f->now, &id, &err),
			 0);
}

static void test_server_policy__disabled_ca_marked(void **state)
{
	struct policy_fx *f = *state;
	struct bw_srv_identity id;
	struct bw_err err = {0};

	policy_revoke_and_reload(f);
	assert_int_equal(
	    bw_srv_policy_check(f->p, f->local, f->now, &id, &err), 0);
	assert_true(id.ca_disabled);
}

/* ---- repository
 * -------------------------------------------------------------- */

static json_t *key_json(struct bw_signer *s)
{
	json_t *k = NULL;

	assert_int_equal(bw_key_to_json(bw_signer_key(s), &k, NULL), 0);
	return k;
}

/* A CI root: root key r, timestamp t, snapshot s, targets g. */
static uint8_t *make_root(struct bw_signer *r, struct bw_signer *t,
			  struct bw_signer *s, struct bw_signer *g, size_t *len)
{
	struct bw_signer *all[4] = {r, t, s, g};
	const char *roles[4] = {"root", "timestamp", "snapshot", "targets"};
	json_t *keys = json_object(), *rl = json_object(), *obj = NULL,
	       *env = NULL;
	uint8_t *out = NULL;

	for (int i = 0; i < 4; i++) {
		const char *kid = bw_signer_key(all[i])->keyid;

		json_object_set_new(keys, kid, key_json(all[i]));
		json_object_set_new(
		    rl, roles[i],
		    json_pack("{s:[s],s:i}", "keyids", kid, "threshold", 1));
	}
	obj = json_pack("{s:s,s:s,s:i,s:s,s:b,s:o,s:o}", "_type", "root",
			"spec_version", "1.0.31", "version", 1, "expires",
			"2099-01-01T00:00:00Z", "consistent_snapshot", 0,
			"keys", keys, "roles", rl);
	assert_int_equal(bw_tuf_envelope_sign(obj, &r, 1, &env, NULL), 0);
	assert_int_equal(bw_json_serialize(env, &out, len, NULL), 0);
	json_decref(obj);
	json_decref(env);
	return out;
}

static void test_server_repo__sign_and_resign(void **state)
{
	struct bw_signer *k[4] = {NULL};
	struct bw_store *st = store_open("r.db");
	struct bw_srv_repo *r = NULL;
	struct bw_srv_repo_opts o;
	struct bw_meta_rec root, ts, ts2;
	struct bw_err err = {0};
	json_t *fi = json_pack(
	    "{s:i,s:{s:s}}", "length", 3, "hashes", "sha256",
	    "0000000000000000000000000000000000000000000000000000000000000000");
	uint8_t *rootb = NULL;
	size_t rootlen = 0;
	int n = 0;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(
		    bw_signer_keyfile_generate(BW_KEY_ED25519, &k[i], NULL), 0);
	memset(&o, 0, sizeof(o));
	o.timestamp = k[1];
	o.snapshot = k[2];
	o.ci_targets = k[3];
	o.timestamp_expiry = 86400;
	o.timestamp_resign_before = 3600;
	o.snapshot_expiry = 30 * 86400;
	o.ci_targets_expiry = 365 * 86400;
	o.expiry_warn = 86400;
	assert_int_equal(bw_srv_repo_new(st, &o, &r), 0);
	rootb = make_root(k[0], k[1], k[2], k[3], &rootlen);
	assert_int_equal(bw_srv_repo_ci_target_add(r, "fw", fi, NOW, &err),
			 BW_ESTATE);
	assert_int_equal(
	    bw_srv_repo_root_upload(r, "ci", rootb, rootlen, NOW, &err), 0);
	/* the same version again: not trusted + 1 */
	assert_int_equal(
	    bw_srv_repo_root_upload(r, "ci", rootb, rootlen, NOW, &err),
	    BW_EBADVERSION);
	assert_int_equal(bw_srv_repo_ci_target_add(r, "fw", fi, NOW, &err), 0);
	assert_int_equal(
	    st->ops->meta_get(st, "ci", "", "root", 0, &root, &err), 0);
	assert_int_equal(
	    st->ops->meta_get(st, "ci", "", "timestamp", 0, &ts, &err), 0);
	assert_int_equal(bw_tuf_verify_role(root.data, root.len, "timestamp",
					    ts.data, ts.len, NOW, NULL, &err),
			 0);
	/* not yet due: nothing re-signed; due: version + 1, still valid */
	assert_int_equal(bw_srv_repo_resign(r, NOW + 60, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(bw_srv_repo_resign(r, NOW + 86400 - 600, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(
	    st->ops->meta_get(st, "ci", "", "timestamp", 0, &ts2, &err), 0);
	assert_int_equal(ts2.version, ts.version + 1);
	assert_int_equal(bw_tuf_verify_role(root.data, root.len, "timestamp",
					    ts2.data, ts2.len,
					    NOW + 86400 + 600, NULL, &err),
			 0);
	free(root.data);
	free(ts.data);
	free(ts2.data);
	/* a server key that is not in root: nothing is published */
	bw_srv_repo_free(r);
	o.timestamp = k[0];
	assert_int_equal(bw_srv_repo_new(st, &o, &r), 0);
	assert_int_not_equal(bw_srv_repo_ci_target_add(r, "fw2", fi, NOW, &err),
			     0);
	assert_int_equal(
	    st->ops->meta_get(st, "ci", "", "targets", 0, &ts, &err), 0);
	assert_int_equal(ts.version, 1); /* rolled back */
	free(ts.data);
	bw_srv_repo_free(r);
	free(rootb);
	json_decref(fi);
	for (int i = 0; i < 4; i++)
		bw_signer_free(k[i]);
	bw_store_close(st);
}

static int setup(void **state)
{
	(void)state;
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/bw-srv-unit-XXXXXX");
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
	    cmocka_unit_test(test_server_config__defaults_and_file),
	    cmocka_unit_test(test_server_config__refusals),
	    cmocka_unit_test(test_server_secret__modes),
	    cmocka_unit_test(test_server_storage__device_put_get),
	    cmocka_unit_test(test_server_storage__light_transactions),
	    cmocka_unit_test(test_server_storage__deny_list),
	    cmocka_unit_test(test_server_storage__event_id_stored_once),
	    cmocka_unit_test(test_server_storage__canonical_uuids_only),
	    cmocka_unit_test(test_server_storage__identity_counter),
	    cmocka_unit_test(test_server_storage__tokens),
	    cmocka_unit_test(test_server_storage__metadata_and_schema),
	    cmocka_unit_test(test_server_store__backends_same_schema_version),
	    cmocka_unit_test(test_server_storage__rate_counts),
	    cmocka_unit_test(test_server_storage__pki_logged),
	    cmocka_unit_test(test_server_parsers__range),
	    cmocka_unit_test(test_server_parsers__paths_tags_names),
	    cmocka_unit_test(test_server_events__validation),
	    cmocka_unit_test_setup_teardown(
		test_server_policy__accepts_own_device, policy_setup,
		policy_teardown),
	    cmocka_unit_test_setup_teardown(test_server_policy__production_flag,
					    policy_setup, policy_teardown),
	    cmocka_unit_test_setup_teardown(
		test_server_policy__refuses_other_factory, policy_setup,
		policy_teardown),
	    cmocka_unit_test_setup_teardown(test_server_policy__refuses_expired,
					    policy_setup, policy_teardown),
	    cmocka_unit_test_setup_teardown(
		test_server_policy__revoked_after_reload, policy_setup,
		policy_teardown),
	    cmocka_unit_test_setup_teardown(
		test_server_policy__disabled_ca_marked, policy_setup,
		policy_teardown),
	    cmocka_unit_test(test_server_repo__sign_and_resign),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
