/*
 * Unit tests for the wave charter (include/bulwark/wave.h) and its making
 * in the factory workspace (bw_repo_wave_*): cohort maths against fixed
 * vectors, strict parsing, signatures up to the production threshold, the
 * multi-admin ceremony, expiry, bit flips, and the device's decision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/repo.h"
#include "bulwark/tuf.h"
#include "bulwark/wave.h"
#include "repo/repo_priv.h"

#define NOW ((int64_t)1800000000) /* 2027-01-15 */
#define U1 "0e4f1f2a-9a3c-4b4e-8f1d-3a1b2c3d4e5f"

/* ---- cohort maths: vectors computed independently (Python hashlib):
 * x = int.from_bytes(sha256(bytes(range(32)) + uuid)[:8], "big") */

static const uint8_t SALT[32] = { 0,  1,  2,  3,  4,  5,  6,  7,
				  8,  9,  10, 11, 12, 13, 14, 15,
				  16, 17, 18, 19, 20, 21, 22, 23,
				  24, 25, 26, 27, 28, 29, 30, 31 };

static void test_wave_cohort__vectors(void **state)
{
	uint64_t x = 0;

	(void)state;
	assert_int_equal(bw_wave_cohort(SALT, U1, &x, NULL), 0);
	assert_true(x == 0xf09d216717cc497dULL);
	/* The canonical form is lowercase: case does not move a device. */
	assert_int_equal(bw_wave_cohort(SALT, "0E4F1F2A-9A3C-4B4E-8F1D-"
					"3A1B2C3D4E5F", &x, NULL), 0);
	assert_true(x == 0xf09d216717cc497dULL);
	assert_int_equal(bw_wave_cohort(SALT, "00000000-0000-0000-0000-"
					"000000000000", &x, NULL), 0);
	assert_true(x == 0x925ba8eb37f8a302ULL);
	assert_int_equal(bw_wave_cohort(SALT, "ffffffff-ffff-ffff-ffff-"
					"ffffffffffff", &x, NULL), 0);
	assert_true(x == 0x85342307a18fa82eULL);
	assert_int_equal(bw_wave_cohort(SALT, "0e4f1f2a9a3c4b4e8f1d3a1b2c3d4e5f",
					&x, NULL), BW_EFORMAT);
	assert_int_equal(bw_wave_cohort(SALT, "0e4f1f2a-9a3c-4b4e-8f1d-"
					"3a1b2c3d4e5g", &x, NULL), BW_EFORMAT);
	assert_int_equal(bw_wave_cohort(SALT, NULL, &x, NULL), BW_EFORMAT);
}

/* U1's x / 2^64 = 0.93989762...: admitted at 939898 ppm, not at 939897. */
static void test_wave_cohort__step_boundaries(void **state)
{
	struct bw_wave_step steps[3] = { { 500000, 60 }, { 939897, 120 },
					 { 939898, 0 } };
	struct bw_wave_charter c;
	struct bw_err err;
	size_t step = 99;

	(void)state;
	memset(&c, 0, sizeof(c));
	memcpy(c.salt, SALT, sizeof(SALT));
	c.name = "t";
	c.steps = steps;
	c.nsteps = 3;
	assert_int_equal(bw_wave_charter_step_of(&c, U1, &step, &err), 0);
	assert_int_equal(step, 2);
	assert_int_equal(bw_wave_charter_bake_before(&c, 2), 180);
	c.nsteps = 2;
	assert_int_equal(bw_wave_charter_step_of(&c, U1, &step, &err),
			 BW_ENOTFOUND);
	steps[0].admit_ppm = BW_WAVE_PPM;
	assert_int_equal(bw_wave_charter_step_of(&c, U1, &step, &err), 0);
	assert_int_equal(step, 0);
}

/* ---- the workspace and the ceremony ----------------------------------- */

struct fx {
	char tmp[64];
	char ws[128];
	char keys[128];
	struct bw_repo *r;
	uint8_t *root;
	size_t root_len;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct bw_repo_init_opts o = { .name = "acme", .now = NOW,
				       .prod_threshold = 3 };
	struct bw_repo_target_opts t = { 0 };
	const char *hw[] = { "rpi4" };
	struct bw_err err = { 0 };
	char img[160];
	FILE *fp;

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/bw-test-wave-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->ws, sizeof(f->ws), "%s/ws", f->tmp);
	snprintf(f->keys, sizeof(f->keys), "%s/keys", f->tmp);
	o.keys_out = f->keys;
	assert_int_equal(bw_repo_init(f->ws, &o, &err), 0);
	assert_int_equal(bw_repo_open(f->ws, &f->r, &err), 0);
	bw_repo_set_now(f->r, NOW + 60);
	snprintf(img, sizeof(img), "%s/os.img", f->tmp);
	fp = fopen(img, "w");
	assert_non_null(fp);
	fputs("release 2", fp);
	fclose(fp);
	t.file = img;
	t.name = "os-2.img";
	t.version = 2;
	t.hwids = hw;
	t.nhwids = 1;
	assert_int_equal(bw_repo_targets_add(f->r, &t, &err), 0);
	assert_int_equal(bw_repo_root_read(f->r, 1, 0, &f->root, &f->root_len,
					   &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->root);
	bw_repo_free(f->r);
	bw_repo__rmtree(f->tmp);
	free(f);
	return 0;
}

static void load_key(struct fx *f, struct bw_repo_keys *k, const char *name)
{
	char p[200];

	snprintf(p, sizeof(p), "%s/%s", f->keys, name);
	assert_int_equal(bw_repo_keys_load(k, p, NULL, NULL, NULL), 0);
}

static const struct bw_wave_step STEPS[3] = { { 10000, 3600 },
					      { 100000, 14400 },
					      { 500000, 0 } };
static const char *const HW[] = { "rpi4" };

static struct bw_repo_wave_opts opts(const char *name)
{
	struct bw_repo_wave_opts o = { name, "production", 2, HW, 1, STEPS, 3,
				       30 * BW_REPO_DAY, SALT };

	return o;
}

/* Make wave "w" signed by the online key and both offline keys. */
static void make_wave(struct fx *f, uint8_t **b, size_t *n)
{
	struct bw_repo_wave_opts o = opts("w");
	struct bw_repo_keys k;
	struct bw_err err;
	size_t have;
	int64_t need;

	bw_repo_keys_init(&k);
	load_key(f, &k, "targets-1.tar.gz");
	load_key(f, &k, "targets-2.tar.gz");
	assert_int_equal(bw_repo_wave_init(f->r, &o, &k, 0, &have, &need,
					   &err), 0);
	assert_int_equal(have, 3);
	assert_int_equal(need, 3);
	bw_repo_keys_dispose(&k);
	assert_int_equal(bw_repo_wave_read(f->r, "w", b, n, &err), 0);
}

static void test_wave_charter__made_and_verified(void **state)
{
	struct fx *f = *state;
	struct bw_wave_charter *c = NULL;
	struct bw_err err;
	uint8_t *b = NULL;
	size_t n = 0;

	make_wave(f, &b, &n);
	assert_int_equal(bw_wave_charter_verify(b, n, f->root, f->root_len,
						NOW + 120, &c, &err), 0);
	assert_string_equal(c->name, "w");
	assert_string_equal(c->tag, "production");
	assert_int_equal(c->nsteps, 3);
	assert_int_equal(c->steps[1].admit_ppm, 100000);
	assert_int_equal(c->steps[1].bake_seconds, 14400);
	assert_int_equal(c->ntargets, 1);
	assert_string_equal(c->targets[0]->path, "os-2.img");
	assert_memory_equal(c->salt, SALT, sizeof(SALT));
	assert_int_equal(c->expires, NOW + 60 + 30 * BW_REPO_DAY);
	bw_wave_charter_free(c);
	/* Expired: refused at and after its expiry. */
	assert_int_equal(bw_wave_charter_verify(b, n, f->root, f->root_len,
						NOW + 60 + 30 * BW_REPO_DAY,
						&c, &err), BW_EEXPIRED);
	assert_null(c);
	free(b);
}

/* One admin's key is not enough; a second admin finishes the ceremony. */
static void test_wave_charter__threshold_and_ceremony(void **state)
{
	struct fx *f = *state;
	struct bw_repo_wave_opts o = opts("w2");
	struct bw_wave_charter *c = NULL;
	struct bw_repo_keys k1, k2;
	struct bw_err err;
	uint8_t *b = NULL;
	size_t have, n;
	int64_t need;
	char *p;

	bw_repo_keys_init(&k1);
	bw_repo_keys_init(&k2);
	load_key(f, &k1, "targets-1.tar.gz");
	load_key(f, &k2, "targets-2.tar.gz");
	assert_int_equal(bw_repo_wave_init(f->r, &o, &k1, 0, &have, &need,
					   &err), BW_ESIG);
	assert_int_equal(bw_repo_wave_read(f->r, "w2", &b, &n, &err),
			 BW_ENOTFOUND);
	assert_int_equal(bw_repo_wave_init(f->r, &o, &k1, 1, &have, &need,
					   &err), 0);
	assert_int_equal(have, 2);
	assert_int_equal(need, 3);
	assert_int_equal(bw_repo_wave_read(f->r, "w2", &b, &n, &err),
			 BW_ENOTFOUND);
	/* The pending charter (2 of 3) does not verify on a device. */
	p = bw_repo__path(f->ws, "waves/w2.pending.json");
	assert_int_equal(bw_repo__read(p, BW_WAVE_MAX_CHARTER, &b, &n, &err),
			 0);
	assert_int_equal(bw_wave_charter_verify(b, n, f->root, f->root_len,
						NOW, &c, &err), BW_ESIG);
	free(b);
	free(p);
	/* The same admin signing again adds nothing. */
	assert_int_equal(bw_repo_wave_sign(f->r, "w2", &k1, &have, &need,
					   &err), 0);
	assert_int_equal(have, 2);
	assert_int_equal(bw_repo_wave_sign(f->r, "w2", &k2, &have, &need,
					   &err), 0);
	assert_int_equal(have, 3);
	assert_int_equal(bw_repo_wave_read(f->r, "w2", &b, &n, &err), 0);
	assert_int_equal(bw_wave_charter_verify(b, n, f->root, f->root_len,
						NOW, &c, &err), 0);
	bw_wave_charter_free(c);
	free(b);
	/* A name is used once; a root key is not a targets key. */
	assert_int_equal(bw_repo_wave_init(f->r, &o, &k2, 0, &have, &need,
					   &err), BW_EEXIST);
	bw_repo_keys_dispose(&k1);
	bw_repo_keys_init(&k1);
	load_key(f, &k1, "root-1.tar.gz");
	o.name = "w3";
	assert_int_equal(bw_repo_wave_init(f->r, &o, &k1, 1, &have, &need,
					   &err), BW_ESIG);
	bw_repo_keys_dispose(&k1);
	bw_repo_keys_dispose(&k2);
}

/* Any changed byte: the charter no longer verifies. */
static void test_wave_charter__byte_flips(void **state)
{
	struct fx *f = *state;
	struct bw_wave_charter *c = NULL;
	uint8_t *b = NULL;
	size_t n = 0, accepted = 0;

	make_wave(f, &b, &n);
	for (size_t i = 0; i < n; i++) {
		b[i] ^= 0x01;
		if (bw_wave_charter_verify(b, n, f->root, f->root_len, NOW, &c,
					   NULL) == 0) {
			/* Only a flip that keeps the canonical JSON the same
			 * may pass: none exists in a canonical file. */
			accepted++;
			bw_wave_charter_free(c);
		}
		b[i] ^= 0x01;
	}
	assert_int_equal(accepted, 0);
	assert_int_equal(bw_wave_charter_verify(b, n - 1, f->root, f->root_len,
						NOW, &c, NULL), BW_EFORMAT);
	free(b);
}

/* Strict parsing of hand-edited charters. */
static void test_wave_charter__strict_parse(void **state)
{
	struct fx *f = *state;
	static const char *edits[][2] = {
		{ "\"admit_ppm\":100000", "\"admit_ppm\":10000" },
		{ "\"admit_ppm\":500000", "\"admit_ppm\":1000001" },
		{ "\"bake_seconds\":0", "\"bake_seconds\":-1" },
		{ "\"spec_version\":\"1.0\"", "\"spec_version\":\"2.0\"" },
		{ "\"_type\":\"wave-charter\"", "\"_type\":\"targets\"" },
		{ "\"name\":\"w\"", "\"name\":\"w\",\"name\":\"x\"" },
		{ "\"name\":\"w\"", "\"name\":\"w\",\"extra\":1" },
		{ "\"hardware_ids\":[\"rpi4\"]", "\"hardware_ids\":[]" },
		{ "\"salt\":\"00", "\"salt\":\"" },
	};
	struct bw_wave_charter *c = NULL;
	uint8_t *b = NULL;
	size_t n = 0;

	make_wave(f, &b, &n);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *s = calloc(1, n + 64), *at;
		size_t pre;

		assert_non_null(s);
		memcpy(s, b, n);
		at = strstr(s, edits[i][0]);
		assert_non_null(at);
		pre = (size_t)(at - s);
		snprintf(s + pre, n + 64 - pre, "%s%s", edits[i][1],
			 (const char *)b + pre + strlen(edits[i][0]));
		assert_int_not_equal(bw_wave_charter_parse(s, strlen(s), &c,
							   NULL), 0);
		assert_null(c);
		free(s);
	}
	free(b);
}

/* The device's decision, with the charter's cohort and its own clock. */
static void test_wave_charter__device_admission(void **state)
{
	struct fx *f = *state;
	struct bw_wave_charter *c = NULL;
	struct bw_err err;
	uint8_t *b = NULL;
	size_t n = 0, step = 0;
	const char *in = NULL;
	char uuid[40];

	make_wave(f, &b, &n);
	assert_int_equal(bw_wave_charter_verify(b, n, f->root, f->root_len,
						NOW, &c, &err), 0);
	/* U1 (x = 0.9399) is outside the approved 50%. */
	assert_int_equal(bw_wave_charter_step_of(c, U1, &step, &err),
			 BW_ENOTFOUND);
	assert_int_equal(bw_wave_charter_admits(c, U1, "rpi4", 2, NOW - 86400,
						NOW, &err), BW_ESTATE);
	/* Find a device of step 1 (10%). */
	for (unsigned i = 0; i < 100000 && in == NULL; i++) {
		snprintf(uuid, sizeof(uuid), "00000000-0000-0000-0000-%012x", i);
		if (bw_wave_charter_step_of(c, uuid, &step, NULL) == 0 &&
		    step == 1)
			in = uuid;
	}
	assert_non_null(in);
	/* Step 1 must be open... */
	assert_int_equal(bw_wave_charter_admits(c, in, "rpi4", 0, NOW - 86400,
						NOW, &err), BW_ESTATE);
	/* ...and step 0's bake (3600 s) passed on the device's clock. */
	assert_int_equal(bw_wave_charter_admits(c, in, "rpi4", 1, NOW - 3599,
						NOW, &err), BW_ESTATE);
	assert_int_equal(bw_wave_charter_admits(c, in, "rpi4", 1, NOW - 3600,
						NOW, &err), 0);
	assert_int_equal(bw_wave_charter_admits(c, in, "rpi4", 2, NOW - 3600,
						NOW, &err), 0);
	/* Wrong hardware, a clock before first sight, expiry. */
	assert_int_equal(bw_wave_charter_admits(c, in, "x86", 2, NOW - 3600,
						NOW, &err), BW_ESTATE);
	assert_int_equal(bw_wave_charter_admits(c, in, "rpi4", 2, NOW + 10,
						NOW, &err), BW_ESTATE);
	assert_int_equal(bw_wave_charter_admits(c, in, "rpi4", 2, NOW,
						c->expires, &err), BW_ESTATE);
	bw_wave_charter_free(c);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wave_cohort__vectors),
		cmocka_unit_test(test_wave_cohort__step_boundaries),
		cmocka_unit_test_setup_teardown(
			test_wave_charter__made_and_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_wave_charter__threshold_and_ceremony, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_wave_charter__byte_flips,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_wave_charter__strict_parse,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_wave_charter__device_admission, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
