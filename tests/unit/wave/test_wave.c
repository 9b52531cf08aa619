/*
 * Unit tests for the wave health rule (include/bulwark/wave.h): the normal
 * quantile, Wilson bounds against published values, and the decisions.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bulwark/wave.h"

#define NEAR(a, b, eps) assert_true(fabs((a) - (b)) < (eps))

static void test_wave_z__known_quantiles(void **state)
{
	(void)state;
	NEAR(bw_wave_z(0.975), 1.959964, 1e-6);
	NEAR(bw_wave_z(0.95), 1.644854, 1e-6);
	NEAR(bw_wave_z(0.9999), 3.719016, 1e-6);
	assert_true(bw_wave_z(0.5) < 0);
	assert_true(bw_wave_z(1.0) < 0);
	assert_true(bw_wave_z(NAN) < 0);
}

/* Wilson (1927) 95% two-sided interval for 5 of 10: [0.2366, 0.7634]; for
 * 0 of 10 the upper end is z^2 / (n + z^2). */
static void test_wave_wilson__published_values(void **state)
{
	double lo, hi;

	(void)state;
	bw_wave_wilson(5, 10, 1.959964, &lo, &hi);
	NEAR(lo, 0.2366, 1e-4);
	NEAR(hi, 0.7634, 1e-4);
	bw_wave_wilson(0, 10, 1.959964, &lo, &hi);
	NEAR(lo, 0.0, 1e-12);
	NEAR(hi, 1.959964 * 1.959964 / (10 + 1.959964 * 1.959964), 1e-9);
	bw_wave_wilson(0, 0, 1.96, &lo, &hi);
	NEAR(lo, 0.0, 1e-12);
	NEAR(hi, 1.0, 1e-12);
	bw_wave_wilson(11, 10, 1.96, &lo, &hi); /* impossible counts */
	NEAR(lo, 0.0, 1e-12);
	NEAR(hi, 1.0, 1e-12);
}

static void test_wave_rule__check(void **state)
{
	struct bw_wave_rule r;
	struct bw_err err;

	(void)state;
	bw_wave_rule_init(&r);
	assert_int_equal(bw_wave_rule_check(&r, &err), 0);
	r.max_failure_rate = 0.0;
	assert_int_equal(bw_wave_rule_check(&r, &err), BW_EINVAL);
	r.max_failure_rate = NAN;
	assert_int_equal(bw_wave_rule_check(&r, &err), BW_EINVAL);
	bw_wave_rule_init(&r);
	r.halt_confidence = 0.4;
	assert_int_equal(bw_wave_rule_check(&r, &err), BW_EINVAL);
	bw_wave_rule_init(&r);
	r.advance_confidence = 1.0;
	assert_int_equal(bw_wave_rule_check(&r, &err), BW_EINVAL);
	bw_wave_rule_init(&r);
	r.min_sample = 0;
	assert_int_equal(bw_wave_rule_check(&r, &err), BW_EINVAL);
	assert_int_equal(bw_wave_rule_check(NULL, &err), BW_EINVAL);
}

static enum bw_wave_decision decide(uint64_t ok, uint64_t failed,
				    uint64_t silent, bool bake_done)
{
	struct bw_wave_rule r;
	struct bw_wave_counts c = { ok, failed, silent };
	struct bw_wave_verdict v;
	enum bw_wave_decision d;

	bw_wave_rule_init(&r);
	d = bw_wave_decide(&r, &c, bake_done, &v);
	assert_int_equal(d, v.decision);
	assert_int_equal(v.outcomes, ok + failed + silent);
	assert_int_equal(v.failures, failed + silent);
	assert_true(v.lower >= 0.0 && v.lower <= v.upper + 1e-12);
	return d;
}

static void test_wave_decide__min_sample(void **state)
{
	(void)state;
	/* Four failures out of four: still below the minimum sample. */
	assert_int_equal(decide(0, 4, 0, true), BW_WAVE_WAIT);
	assert_int_equal(decide(0, 5, 0, true), BW_WAVE_HALT);
}

static void test_wave_decide__silence_counts_as_failure(void **state)
{
	(void)state;
	/* A bricking release: nobody reports, all five counted silent. */
	assert_int_equal(decide(0, 0, 5, true), BW_WAVE_HALT);
	assert_int_equal(decide(10, 0, 3, false), BW_WAVE_HALT);
	assert_int_equal(decide(10, 3, 0, false), BW_WAVE_HALT);
}

static void test_wave_decide__background_failures_do_not_halt(void **state)
{
	(void)state;
	/* 1% background failures over a large sample. */
	assert_int_equal(decide(990, 10, 0, false), BW_WAVE_WAIT);
	assert_int_equal(decide(990, 5, 5, true), BW_WAVE_ADVANCE);
	/* One early failure among a few outcomes is not evidence. */
	assert_int_equal(decide(9, 1, 0, false), BW_WAVE_WAIT);
}

static void test_wave_decide__advance_needs_bake_and_evidence(void **state)
{
	(void)state;
	assert_int_equal(decide(200, 0, 0, false), BW_WAVE_WAIT);
	assert_int_equal(decide(200, 0, 0, true), BW_WAVE_ADVANCE);
	/* Too few outcomes to bound the rate below 3%. */
	assert_int_equal(decide(20, 0, 0, true), BW_WAVE_WAIT);
	/* A rate near the threshold neither halts nor advances. */
	assert_int_equal(decide(970, 30, 0, true), BW_WAVE_WAIT);
}

static void test_wave_decide__bad_input(void **state)
{
	struct bw_wave_rule r;
	struct bw_wave_counts c = { 0, UINT64_MAX, 2 };
	struct bw_wave_verdict v;

	(void)state;
	bw_wave_rule_init(&r);
	assert_int_equal(bw_wave_decide(&r, &c, true, &v), BW_WAVE_WAIT);
	assert_int_equal(bw_wave_decide(&r, NULL, true, &v), BW_WAVE_WAIT);
	r.min_sample = 0;
	c.failed = 100;
	assert_int_equal(bw_wave_decide(&r, &c, true, &v), BW_WAVE_WAIT);
	assert_string_equal(bw_wave_decision_name(BW_WAVE_HALT), "halt");
	assert_string_equal(bw_wave_decision_name(BW_WAVE_ADVANCE), "advance");
	assert_string_equal(bw_wave_decision_name(BW_WAVE_WAIT), "wait");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wave_z__known_quantiles),
		cmocka_unit_test(test_wave_wilson__published_values),
		cmocka_unit_test(test_wave_rule__check),
		cmocka_unit_test(test_wave_decide__min_sample),
		cmocka_unit_test(test_wave_decide__silence_counts_as_failure),
		cmocka_unit_test(test_wave_decide__background_failures_do_not_halt),
		cmocka_unit_test(test_wave_decide__advance_needs_bake_and_evidence),
		cmocka_unit_test(test_wave_decide__bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
