/*
 * Waves: production rollouts in steps.
 *
 * This header holds the health rule that decides, from the outcomes
 * devices have reported so far, whether a wave halts, advances to its next
 * step, or keeps collecting evidence. The rule is pure (no I/O, no clock):
 * the server feeds it counts, the benchmark feeds it synthetic traces, and
 * both get the same answer.
 *
 * The rule: failures are explicit failures (install failed, boot-count
 * fallback, rollback) plus silent devices (offered the wave and not heard
 * from within a configured multiple of the poll interval). After at least
 * min_sample outcomes, the wave HALTs when the one-sided Wilson score lower
 * bound of the failure rate at halt_confidence exceeds max_failure_rate;
 * it may ADVANCE (once the step's bake time has passed) when the one-sided
 * Wilson upper bound at advance_confidence is below max_failure_rate.
 * Anything else is WAIT.
 */
#ifndef BULWARK_WAVE_H
#define BULWARK_WAVE_H

#include <stdbool.h>
#include <stdint.h>

#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tunables of the health rule. bw_wave_rule_init() fills the defaults. */
struct bw_wave_rule {
	double max_failure_rate;   /* the threshold, in (0, 1) */
	double halt_confidence;    /* one-sided, in (0.5, 1), e.g. 0.9999 */
	double advance_confidence; /* one-sided, in (0.5, 1), e.g. 0.90 */
	uint32_t min_sample;       /* outcomes before any decision, >= 1 */
};

#define BW_WAVE_DEFAULT_MAX_FAILURE_RATE 0.03
#define BW_WAVE_DEFAULT_HALT_CONFIDENCE 0.9999
#define BW_WAVE_DEFAULT_ADVANCE_CONFIDENCE 0.90
#define BW_WAVE_DEFAULT_MIN_SAMPLE 5

/* Outcome counts of a wave (or of one step). */
struct bw_wave_counts {
	uint64_t succeeded;
	uint64_t failed; /* install failed, boot fallback, rollback */
	uint64_t silent; /* offered, not heard from within the silence limit */
};

enum bw_wave_decision {
	BW_WAVE_WAIT = 0,    /* not enough evidence either way */
	BW_WAVE_HALT = 1,    /* the release is bad: stop admitting devices */
	BW_WAVE_ADVANCE = 2, /* the release is good and the bake time passed */
};

/* What the rule saw, for status displays and the transparency log. */
struct bw_wave_verdict {
	enum bw_wave_decision decision;
	uint64_t outcomes;     /* succeeded + failed + silent */
	uint64_t failures;     /* failed + silent */
	double lower;          /* lower bound at halt_confidence */
	double upper;          /* upper bound at advance_confidence */
};

/* Fill rule with the defaults above. */
void bw_wave_rule_init(struct bw_wave_rule *rule);

/*
 * Check that every field of rule is in range. Returns 0 or BW_EINVAL with
 * a message in err naming the field.
 */
int bw_wave_rule_check(const struct bw_wave_rule *rule, struct bw_err *err);

/*
 * The standard normal quantile z with P(Z <= z) = confidence, for
 * confidence in (0.5, 1). Returns a negative value if out of range.
 */
double bw_wave_z(double confidence);

/*
 * One-sided Wilson score bounds of a binomial proportion: failures out of
 * outcomes, at quantile z. With outcomes == 0 the bounds are 0 and 1.
 */
void bw_wave_wilson(uint64_t failures, uint64_t outcomes, double z,
		    double *lower, double *upper);

/*
 * Apply the rule to counts. bake_done says whether the current step's
 * minimum bake time has passed (the rule never advances before it).
 * Fills *verdict (which must not be NULL) and returns its decision. A
 * rule that fails bw_wave_rule_check() always answers WAIT.
 */
enum bw_wave_decision bw_wave_decide(const struct bw_wave_rule *rule,
				     const struct bw_wave_counts *counts,
				     bool bake_done,
				     struct bw_wave_verdict *verdict);

/* "wait", "halt", "advance". */
const char *bw_wave_decision_name(enum bw_wave_decision d);

#ifdef __cplusplus
}
#endif
#endif
