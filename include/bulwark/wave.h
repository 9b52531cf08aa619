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

#include <stddef.h>

#include <jansson.h>

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

/* ---- the rollout charter -------------------------------------------------
 *
 * A charter is the offline-signed bound of a wave: which devices may ever
 * receive it, in which steps, how fast. It is a TUF-style envelope
 * {"signatures":[{keyid, sig}], "signed":{...}} whose signed part
 * (docs/wire-formats.md, "Wave charter") is:
 *   _type "wave-charter", spec_version "1.0", version (>= 1),
 *   name, tag, expires (TUF time), hardware_ids [..],
 *   salt (64 hex digits), steps [{admit_ppm, bake_seconds}, ..],
 *   targets {name: TUF target entry} (the release the wave offers).
 * It counts as signed when the threshold of the production root's targets
 * role has signed the canonical JSON of "signed", as production targets.
 *
 * Cohort: x = the first 8 bytes, big-endian, of SHA-256(salt || uuid) with
 * uuid the canonical lowercase text form. Step i admits the device when
 * x / 2^64 < admit_ppm_i / 10^6. Steps' admit_ppm increase strictly. A
 * device in step i may take the wave only when the server says step i is
 * open AND, on the device's own clock, the bake times of steps 0..i-1 have
 * passed since the device first saw the charter.
 */

#define BW_WAVE_PPM 1000000u
#define BW_WAVE_MAX_STEPS 16u
#define BW_WAVE_MAX_HWIDS 64u
#define BW_WAVE_MAX_TARGETS 16u
#define BW_WAVE_MAX_BAKE (366 * 86400)
#define BW_WAVE_MAX_CHARTER (256u * 1024u)
#define BW_WAVE_SALT_LEN 32u
#define BW_WAVE_NAME_MAX 64u

struct bw_wave_step {
	uint32_t admit_ppm;   /* cumulative share of devices, 1..10^6 */
	int64_t bake_seconds; /* minimum time this step runs before the next */
};

struct bw_tuf_target;

struct bw_wave_charter {
	int64_t version;
	char *name;
	char *tag;
	int64_t expires;
	char **hwids;
	size_t nhwids;
	uint8_t salt[BW_WAVE_SALT_LEN];
	struct bw_wave_step *steps;
	size_t nsteps;
	struct bw_tuf_target **targets;
	size_t ntargets;
	json_t *doc; /* the whole envelope (owned) */
};

/* 1 if name is a wave name: 1-64 of A-Z a-z 0-9 . _ -, not starting
 * with '.' (it names files and URL segments). */
int bw_wave_name_is_valid(const char *name);

/*
 * Strictly parse a charter envelope (no signature check): exact key sets,
 * every field in range, no duplicate keys, no trailing data. *out is the
 * caller's (bw_wave_charter_free).
 */
int bw_wave_charter_parse(const void *buf, size_t len,
			  struct bw_wave_charter **out, struct bw_err *err);
void bw_wave_charter_free(struct bw_wave_charter *c);

/*
 * Parse and verify a charter against a production root.json (its bytes):
 * signed by the threshold of the root's targets keys (distinct keys), and,
 * when now != 0, not expired at now. BW_ESIG / BW_EEXPIRED / BW_EFORMAT.
 */
int bw_wave_charter_verify(const void *buf, size_t len, const void *root,
			   size_t root_len, int64_t now,
			   struct bw_wave_charter **out, struct bw_err *err);

/*
 * The cohort value of a device: first 8 bytes of SHA-256(salt || uuid),
 * big-endian. uuid must be a UUID in text form (either case); it is
 * hashed in its canonical lowercase form. BW_EFORMAT otherwise.
 */
int bw_wave_cohort(const uint8_t salt[BW_WAVE_SALT_LEN], const char *uuid,
		   uint64_t *out, struct bw_err *err);

/*
 * The first step of c that admits uuid into *step. BW_ENOTFOUND when no
 * step does (the device is outside the approved cohort).
 */
int bw_wave_charter_step_of(const struct bw_wave_charter *c, const char *uuid,
			    size_t *step, struct bw_err *err);

/* Sum of the bake times of steps 0..step-1 (the earliest a device of step
 * may take the wave after first seeing the charter). */
int64_t bw_wave_charter_bake_before(const struct bw_wave_charter *c,
				    size_t step);

/*
 * The device's decision: 0 when the device uuid with hardware id hwid may
 * take the wave now, given that the server says step open_step is open,
 * the device first saw this charter at first_seen and its clock reads now.
 * Otherwise BW_ESTATE (or BW_EFORMAT for a bad uuid) with the reason in err.
 */
int bw_wave_charter_admits(const struct bw_wave_charter *c, const char *uuid,
			   const char *hwid, int64_t open_step,
			   int64_t first_seen, int64_t now, struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
