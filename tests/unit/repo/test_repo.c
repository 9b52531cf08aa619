/*
 * Unit tests of the repo module: journalled commits (crash after every
 * rename recovers), key archives, the strict proposal parser (every
 * truncation and bit flip), the ceremony's refusals, and expiry through an
 * injected clock.
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

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/repo.h"
#include "bulwark/tuf.h"
#include "repo/proposal_priv.h"
#include "repo/repo_priv.h"

#define NOW ((int64_t)1800000000) /* 2027-01-15 */

struct fx {
	char tmp[64];
	char ws[128];
	char keys[128];
	struct bw_repo *r;
};

static char *pathf(const char *dir, const char *rel)
{
	char *p = NULL;

	assert_int_equal(bw_path_join(dir, rel, &p), 0);
	return p;
}

static int file_eq(const char *dir, const char *rel, const char *want)
{
	char *p = pathf(dir, rel);
	struct bw_buf b;
	int eq;

	bw_buf_init(&b, 1 << 20);
	eq = bw_io_read_file(p, 1 << 20, &b, NULL) == 0 &&
	     b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
	bw_buf_dispose(&b);
	free(p);
	return eq;
}

static int exists(const char *dir, const char *rel)
{
	char *p = pathf(dir, rel);
	int e = access(p, F_OK) == 0;

	free(p);
	return e;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct bw_repo_init_opts o = {.name = "acme", .now = NOW};
	struct bw_err err = {0};

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/bw-test-repo-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->ws, sizeof(f->ws), "%s/ws", f->tmp);
	snprintf(f->keys, sizeof(f->keys), "%s/keys", f->tmp);
	o.keys_out = f->keys;
	assert_int_equal(bw_repo_init(f->ws, &o, &err), 0);
	assert_int_equal(bw_repo_open(f->ws, &f->r, &err), 0);
	bw_repo_set_now(f->r, NOW + 60);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bw_repo_free(f->r);
	bw_repo__rmtree(f->tmp);
	free(f);
	return 0;
}

/* ---- journalled commits ---------------------------------------------- */

static void test_repo_txn__dispose_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct bw_journal t;

	bw_journal_init(&t, f->tmp);
	assert_int_equal(bw_journal_put(&t, "a/x", "new", 3, 0644, NULL), 0);
	assert_true(exists(f->tmp, "a/x.bw-new"));
	bw_journal_dispose(&t);
	assert_false(exists(f->tmp, "a/x.bw-new"));
	assert_false(exists(f->tmp, "a/x"));
}

/* A crash after k of the renames: the next open rolls forward. */
static void test_repo_txn__crash_after_each_rename(void **state)
{
	struct fx *f = *state;
	static const char *const rel[] = {"c/one", "c/two", "c/three"};

	for (size_t k = 0; k <= 3; k++) {
		struct bw_journal t;
		char *jp = pathf(f->tmp, ".txn");
		char j[256];

		for (size_t i = 0; i < 3; i++) {
			char *p = pathf(f->tmp, rel[i]);

			assert_int_equal(bw_io_mkdirs(f->tmp, 0755, NULL), 0);
			bw_journal_init(&t, f->tmp);
			assert_int_equal(
			    bw_journal_put(&t, rel[i], "old", 3, 0644, NULL),
			    0);
			assert_int_equal(bw_journal_commit(&t, NULL), 0);
			bw_journal_dispose(&t);
			free(p);
		}
		bw_journal_init(&t, f->tmp);
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(
			    bw_journal_put(&t, rel[i], "new", 3, 0644, NULL),
			    0);
		/* what commit writes first: the journal */
		snprintf(j, sizeof(j), "[\"%s\",\"%s\",\"%s\"]", rel[0], rel[1],
			 rel[2]);
		assert_int_equal(
		    bw_io_write_atomic(jp, j, strlen(j), 0600, NULL), 0);
		for (size_t i = 0; i < k; i++) {
			char *n = pathf(f->tmp, rel[i]), *nn = NULL;

			assert_true(asprintf(&nn, "%s.bw-new", n) > 0);
			assert_int_equal(rename(nn, n), 0);
			free(n);
			free(nn);
		}
		assert_int_equal(bw_journal_recover(f->tmp, NULL), 0);
		for (size_t i = 0; i < 3; i++)
			assert_true(file_eq(f->tmp, rel[i], "new"));
		assert_false(exists(f->tmp, ".txn"));
		t.committed = 1; /* rolled forward: nothing to clean */
		bw_journal_dispose(&t);
		free(jp);
	}
}

/* A command that died before its journal: its staged files go, the
 * workspace is as it was; a second opener is refused while one is open. */
static void test_repo_open__tidies_and_locks(void **state)
{
	struct fx *f = *state;
	struct bw_repo *r2 = NULL;
	struct bw_err err = {0};
	char *stray = pathf(f->ws, "ci/targets.json.bw-new");

	assert_int_equal(bw_io_write_atomic(stray, "junk", 4, 0644, NULL), 0);
	assert_int_equal(bw_repo_open(f->ws, &r2, &err), BW_ESTATE);
	assert_null(r2);
	bw_repo_free(f->r);
	f->r = NULL;
	assert_int_equal(bw_repo_open(f->ws, &f->r, &err), 0);
	assert_false(exists(f->ws, "ci/targets.json.bw-new"));
	assert_true(exists(f->ws, "ci/targets.json"));
	assert_int_equal(bw_repo_verify(f->r, NULL, NULL, &err), 0);
	assert_int_equal(bw_repo_open(f->tmp, &r2, &err), BW_ENOTFOUND);
	free(stray);
}

/* ---- key archives ------------------------------------------------------- */

static void test_repo_archive__roundtrip_and_refusals(void **state)
{
	struct fx *f = *state;
	struct bw_signer *s[2] = {NULL, NULL};
	struct bw_repo_keys k;
	struct bw_err err = {0};
	char *p = pathf(f->tmp, "two.tar.gz");
	struct stat st;

	assert_int_equal(
	    bw_signer_keyfile_generate(BW_KEY_ED25519, &s[0], NULL), 0);
	assert_int_equal(
	    bw_signer_keyfile_generate(BW_KEY_ECDSA_P256, &s[1], NULL), 0);
	assert_int_equal(bw_repo_archive_write(p, s, 2, &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	bw_repo_keys_init(&k);
	assert_int_equal(bw_repo_keys_load(&k, p, NULL, NULL, &err), 0);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.s[0]->key->keyid, s[0]->key->keyid);
	assert_string_equal(k.s[1]->key->keyid, s[1]->key->keyid);
	/* loading again adds nothing */
	assert_int_equal(bw_repo_keys_load(&k, p, NULL, NULL, &err), 0);
	assert_int_equal(k.n, 2);
	bw_repo_keys_dispose(&k);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(bw_repo_keys_load(&k, p, NULL, NULL, &err), BW_EINVAL);
	assert_int_equal(
	    bw_repo_keys_load(&k, "pkcs11:token=x;object=y", NULL, NULL, &err),
	    BW_EINVAL);
	bw_repo_keys_dispose(&k);
	/* not an archive */
	assert_int_equal(bw_io_write_atomic(p, "junk", 4, 0600, NULL), 0);
	assert_int_equal(bw_repo_keys_load(&k, p, NULL, NULL, &err),
			 BW_EFORMAT);
	bw_repo_keys_dispose(&k);
	bw_signer_free(s[0]);
	bw_signer_free(s[1]);
	free(p);
}

/* ---- proposals ------------------------------------------------------------
 */

static void read_all(const char *path, struct bw_buf *b)
{
	bw_buf_init(b, 1 << 24);
	assert_int_equal(bw_io_read_file(path, 1 << 24, b, NULL), 0);
}

static void test_repo_proposal__truncations_and_flips(void **state)
{
	struct fx *f = *state;
	char *pp = pathf(f->ws, "proposal.json");
	struct bw_repo_proposal *p = NULL;
	struct bw_buf b;
	size_t accepted = 0;

	assert_int_equal(bw_repo_proposal_init(f->r, pp, NULL), 0);
	assert_int_equal(bw_repo_proposal_init(f->r, pp, NULL), BW_EEXIST);
	read_all(pp, &b);
	assert_int_equal(bw_repo_proposal_parse(b.data, b.len, &p, NULL), 0);
	bw_repo_proposal_free(p);
	for (size_t n = 0; n < b.len; n++) {
		p = NULL;
		assert_int_not_equal(
		    bw_repo_proposal_parse(b.data, n, &p, NULL), 0);
		assert_null(p);
	}
	/* flips of every 7th byte: refused, or still a well-formed proposal */
	for (size_t i = 0; i < b.len; i += 7) {
		for (int bit = 0; bit < 8; bit += 3) {
			b.data[i] ^= (uint8_t)(1u << bit);
			p = NULL;
			if (bw_repo_proposal_parse(b.data, b.len, &p, NULL) ==
			    0)
				accepted++;
			bw_repo_proposal_free(p);
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* whitespace and free text (changes, expires digits) may flip freely,
	 * but most flips break structure */
	assert_true(accepted < b.len / 7);
	bw_buf_dispose(&b);
	free(pp);
}

static void test_repo_proposal__apply_needs_both_thresholds(void **state)
{
	struct fx *f = *state;
	char *pp = pathf(f->ws, "proposal.json");
	char *a1 = pathf(f->keys, "root-1.tar.gz");
	char *t1 = pathf(f->keys, "targets-1.tar.gz");
	char *na = pathf(f->tmp, "new.tar.gz");
	struct bw_repo_proposal *p = NULL;
	struct bw_signer *nk = NULL;
	struct bw_repo_keys k, n;
	struct bw_err err = {0};
	size_t cnt = 0;

	bw_repo_keys_init(&k);
	bw_repo_keys_init(&n);
	assert_int_equal(bw_repo_proposal_init(f->r, pp, NULL), 0);
	assert_int_equal(bw_repo_proposal_load(f->r, pp, &p, NULL), 0);
	assert_int_equal(bw_signer_keyfile_generate(BW_KEY_ED25519, &nk, NULL),
			 0);
	assert_int_equal(bw_repo_archive_write(na, &nk, 1, NULL), 0);
	assert_int_equal(bw_repo_keys_load(&n, na, NULL, NULL, NULL), 0);
	assert_int_equal(bw_repo_keys_load(&k, a1, NULL, NULL, NULL), 0);
	/* new root: threshold 2 of {old, new} */
	assert_int_equal(
	    bw_repo_proposal_add_key(f->r, p, "root", nk->key, na, NULL), 0);
	assert_int_equal(
	    bw_repo_proposal_set_threshold(f->r, p, "root", 2, NULL), 0);
	assert_int_equal(bw_repo_proposal_sign(f->r, p, &k, &cnt, NULL), 0);
	assert_int_equal(cnt, 1);
	/* old threshold met, new one (2) not: refused */
	assert_int_equal(bw_repo_proposal_apply(f->r, p, NULL, &err), BW_ESIG);
	assert_int_equal(bw_repo_root_version(f->r), 1);
	assert_int_equal(bw_repo_proposal_sign(f->r, p, &n, &cnt, NULL), 0);
	assert_int_equal(bw_repo_proposal_apply(f->r, p, pp, &err), 0);
	assert_int_equal(bw_repo_root_version(f->r), 2);
	assert_false(exists(f->ws, "proposal.json"));
	/* targets key is not a root key; nothing changes on refusal */
	bw_repo_keys_dispose(&k);
	bw_repo_proposal_free(p);
	p = NULL;
	assert_int_equal(bw_repo_proposal_new(f->r, &p, NULL), 0);
	assert_int_equal(bw_repo_keys_load(&k, t1, NULL, NULL, NULL), 0);
	assert_int_equal(bw_repo_proposal_sign(f->r, p, &k, &cnt, &err),
			 BW_ESIG);
	assert_int_equal(
	    bw_repo_proposal_delete_key(f->r, p, "root", "00", NULL),
	    BW_ENOTFOUND);
	assert_int_equal(
	    bw_repo_proposal_set_threshold(f->r, p, "targets", 1, NULL),
	    BW_EINVAL);
	assert_int_equal(bw_repo_verify(f->r, NULL, NULL, &err), 0);
	bw_repo_proposal_free(p);
	bw_repo_keys_dispose(&k);
	bw_repo_keys_dispose(&n);
	bw_signer_free(nk);
	free(pp);
	free(a1);
	free(t1);
	free(na);
}

/* ---- targets and expiry ------------------------------------------------- */

static void test_repo_targets__promote_threshold_and_expiry(void **state)
{
	struct fx *f = *state;
	char *fw = pathf(f->tmp, "fw.bin");
	char *t1 = pathf(f->keys, "targets-1.tar.gz");
	const char *hw[] = {"hw"};
	struct bw_repo_target_opts o = {
	    .file = fw, .name = "fw", .version = 3, .hwids = hw, .nhwids = 1};
	struct bw_repo_keys none = {0}, k;
	struct bw_err err = {0};
	size_t have = 0;
	int64_t need = 0;

	assert_int_equal(bw_io_write_atomic(fw, "abc", 3, 0644, NULL), 0);
	assert_int_equal(bw_repo_targets_add(f->r, &o, &err), 0);
	assert_int_equal(bw_repo_targets_add(f->r, &o, &err), BW_EEXIST);
	o.name = "../etc/passwd";
	assert_int_equal(bw_repo_targets_add(f->r, &o, &err), BW_EINVAL);
	o.name = "fw2";
	o.custom_json = "{\"version\":1}";
	assert_int_equal(bw_repo_targets_add(f->r, &o, &err), BW_EINVAL);
	/* online key alone: 1 of 2 */
	assert_int_equal(bw_repo_targets_promote(f->r, 3, "production", &none,
						 0, &have, &need, &err),
			 BW_ESIG);
	assert_int_equal(have, 1);
	assert_int_equal(need, 2);
	assert_false(exists(f->ws, "prod/tags/production/targets.json"));
	bw_repo_keys_init(&k);
	assert_int_equal(bw_repo_keys_load(&k, t1, NULL, NULL, NULL), 0);
	assert_int_equal(bw_repo_targets_promote(f->r, 3, "production", &k, 0,
						 &have, &need, &err),
			 0);
	assert_int_equal(have, 2);
	assert_int_equal(bw_repo_verify(f->r, NULL, NULL, &err), 0);
	/* two days later the timestamp (1 day) has expired */
	bw_repo_set_now(f->r, NOW + 2 * BW_REPO_DAY);
	assert_int_equal(bw_repo_verify(f->r, NULL, NULL, &err), BW_EEXPIRED);
	bw_repo_keys_dispose(&k);
	free(fw);
	free(t1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_repo_txn__dispose_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_repo_txn__crash_after_each_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repo_open__tidies_and_locks,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_repo_archive__roundtrip_and_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_repo_proposal__truncations_and_flips, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_repo_proposal__apply_needs_both_thresholds, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_repo_targets__promote_threshold_and_expiry, setup,
		teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
