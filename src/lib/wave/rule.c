/*
 * The wave health rule (include/bulwark/wave.h): Wilson score bounds of
 * the failure rate, silent devices counted as failures, a minimum sample.
 *
 * The Wilson score interval (E. B. Wilson, "Probable inference, the law of
 * succession, and statistical inference", JASA 1927) keeps sensible
 * coverage for small samples and proportions near 0, where the normal
 * approximation p +- z*sqrt(p(1-p)/n) collapses to a zero-width interval
 * at p = 0. It needs only the normal quantile, computed here by bisection
 * on erfc() from the C library, so no statistics library is pulled in for
 * one function.
 */
#include <math.h>
#include <stddef.h>

#include "bulwark/wave.h"

void bw_wave_rule_init(struct bw_wave_rule *rule)
{
	rule->max_failure_rate = BW_WAVE_DEFAULT_MAX_FAILURE_RATE;
	rule->halt_confidence = BW_WAVE_DEFAULT_HALT_CONFIDENCE;
	rule->advance_confidence = BW_WAVE_DEFAULT_ADVANCE_CONFIDENCE;
	rule->min_sample = BW_WAVE_DEFAULT_MIN_SAMPLE;
}

static bool in_open_range(double v, double lo, double hi)
{
	return isfinite(v) && v > lo && v < hi;
}

int bw_wave_rule_check(const struct bw_wave_rule *rule, struct bw_err *err)
{
	if (rule == NULL)
		return bw_err_set(err, BW_EINVAL, "wave rule: missing");
	if (!in_open_range(rule->max_failure_rate, 0.0, 1.0))
		return bw_err_set(err, BW_EINVAL,
				  "wave rule: max failure rate must be in (0, 1)");
	if (!in_open_range(rule->halt_confidence, 0.5, 1.0))
		return bw_err_set(err, BW_EINVAL,
				  "wave rule: halt confidence must be in (0.5, 1)");
	if (!in_open_range(rule->advance_confidence, 0.5, 1.0))
		return bw_err_set(err, BW_EINVAL,
				  "wave rule: advance confidence must be in (0.5, 1)");
	if (rule->min_sample < 1)
		return bw_err_set(err, BW_EINVAL,
				  "wave rule: minimum sample must be at least 1");
	return 0;
}

double bw_wave_z(double confidence)
{
	double lo = 0.0, hi = 40.0;
	int i;

	if (!in_open_range(confidence, 0.5, 1.0))
		return -1.0;
	/* P(Z > z) = erfc(z / sqrt 2) / 2 falls monotonically in z. */
	for (i = 0; i < 64; i++) {
		double mid = (lo + hi) / 2.0;

		if (0.5 * erfc(mid / M_SQRT2) > 1.0 - confidence)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2.0;
}

void bw_wave_wilson(uint64_t failures, uint64_t outcomes, double z,
		    double *lower, double *upper)
{
	double n, p, z2, center, margin, denom;

	if (outcomes == 0 || failures > outcomes) {
		*lower = 0.0;
		*upper = 1.0;
		return;
	}
	n = (double)outcomes;
	p = (double)failures / n;
	z2 = z * z;
	center = p + z2 / (2.0 * n);
	margin = z * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
	denom = 1.0 + z2 / n;
	*lower = fmax(0.0, (center - margin) / denom);
	*upper = fmin(1.0, (center + margin) / denom);
}

enum bw_wave_decision bw_wave_decide(const struct bw_wave_rule *rule,
				     const struct bw_wave_counts *counts,
				     bool bake_done,
				     struct bw_wave_verdict *verdict)
{
	double ignored;

	verdict->decision = BW_WAVE_WAIT;
	verdict->outcomes = 0;
	verdict->failures = 0;
	verdict->lower = 0.0;
	verdict->upper = 1.0;
	if (bw_wave_rule_check(rule, NULL) != 0 || counts == NULL)
		return BW_WAVE_WAIT;
	verdict->failures = counts->failed + counts->silent;
	verdict->outcomes = counts->succeeded + verdict->failures;
	if (verdict->failures < counts->failed ||
	    verdict->outcomes < verdict->failures)
		return BW_WAVE_WAIT; /* counts that overflow decide nothing */
	bw_wave_wilson(verdict->failures, verdict->outcomes,
		       bw_wave_z(rule->halt_confidence), &verdict->lower,
		       &ignored);
	bw_wave_wilson(verdict->failures, verdict->outcomes,
		       bw_wave_z(rule->advance_confidence), &ignored,
		       &verdict->upper);
	if (verdict->outcomes < rule->min_sample)
		return BW_WAVE_WAIT;
	if (verdict->lower > rule->max_failure_rate)
		verdict->decision = BW_WAVE_HALT;
	else if (bake_done && verdict->upper < rule->max_failure_rate)
		verdict->decision = BW_WAVE_ADVANCE;
	return verdict->decision;
}

const char *bw_wave_decision_name(enum bw_wave_decision d)
{
	switch (d) {
	case BW_WAVE_HALT:
		return "halt";
	case BW_WAVE_ADVANCE:
		return "advance";
	case BW_WAVE_WAIT:
	default:
		return "wait";
	}
}
