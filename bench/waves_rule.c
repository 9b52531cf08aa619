/*
 * The wave health rule on synthetic outcome traces, beside the rules of
 * two peers replayed on the very same traces:
 *   - bulwark: bw_wave_decide() (Wilson lower bound, silent devices count
 *     as failures after the silence limit, minimum sample);
 *   - hawkBit: halt when explicit error reports exceed a percentage of the
 *     whole group (silent devices are never counted);
 *   - AWS IoT Jobs: after a minimum number of executions, abort when
 *     failed + timed-out executions reach a percentage of them.
 *
 * A trace is one wave of N devices. Admissions are throttled (R devices a
 * minute, admitted in order); each device reports success or failure after
 * a download+install+reboot delay, or never (silent), in which case it is
 * counted as silent when the silence limit after its admission passes.
 * Outcomes are replayed in time order; a rule that halts stops admissions
 * at once, so "exposed" is the number of devices admitted by then.
 *
 * Usage: bench_waves_rule [seeds, default 1000]
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/wave.h"

#define WAVE_N 1000
#define ADMIT_PER_MIN 5.0
#define DELAY_MIN 5.0      /* minutes from admission to a report */
#define DELAY_MAX 15.0
#define POLL_MIN 5.0       /* poll interval, minutes */
#define SILENCE_POLLS 4.0  /* silence limit = 4 poll intervals */
#define MAX_SEEDS 100000

/*
 * splitmix64 (public domain, Steele/Lea/Vigna): a few lines give every
 * platform the same trace for the same seed, which rand() does not.
 */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

enum outcome { OK = 0, FAIL = 1, SILENT = 2 };

struct event {
	double at;       /* minutes since the wave started */
	enum outcome what;
};

struct scenario {
	const char *name;
	double p_fail;   /* explicit failure */
	double p_silent; /* never reports again */
};

struct trace {
	struct event ev[WAVE_N];
	double admit[WAVE_N];
};

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	return (x->at > y->at) - (x->at < y->at);
}

static void trace_make(struct trace *t, const struct scenario *sc,
		       uint64_t seed)
{
	uint64_t s = seed * 0x2545f4914f6cdd1dULL + 1;
	int i;

	for (i = 0; i < WAVE_N; i++) {
		double u = rng_unit(&s);

		t->admit[i] = (double)i / ADMIT_PER_MIN;
		if (u < sc->p_silent) {
			t->ev[i].what = SILENT;
			t->ev[i].at = t->admit[i] + SILENCE_POLLS * POLL_MIN;
		} else {
			t->ev[i].what = u < sc->p_silent + sc->p_fail ? FAIL : OK;
			t->ev[i].at = t->admit[i] + DELAY_MIN +
				      (DELAY_MAX - DELAY_MIN) * rng_unit(&s);
		}
	}
	qsort(t->ev, WAVE_N, sizeof(t->ev[0]), cmp_event);
}

enum rule_kind { BULWARK, HAWKBIT, AWS };

struct rule {
	const char *label;
	enum rule_kind kind;
	struct bw_wave_rule bw;
	double pct;       /* hawkBit / AWS threshold */
	uint32_t min_exec; /* AWS minimum executions */
};

struct run {
	bool halted;
	uint64_t outcomes; /* outcomes counted when the rule halted */
	uint64_t exposed;  /* devices admitted when the rule halted */
};

static bool rule_halts(const struct rule *r, const struct bw_wave_counts *c)
{
	struct bw_wave_verdict v;
	uint64_t n = c->succeeded + c->failed + c->silent;

	switch (r->kind) {
	case BULWARK:
		return bw_wave_decide(&r->bw, c, false, &v) == BW_WAVE_HALT;
	case HAWKBIT:
		return (double)c->failed > r->pct * WAVE_N;
	case AWS:
		return n >= r->min_exec &&
		       (double)(c->failed + c->silent) >= r->pct * (double)n;
	}
	return false;
}

static struct run replay(const struct rule *r, const struct trace *t)
{
	struct bw_wave_counts c = { 0, 0, 0 };
	struct run out = { false, 0, WAVE_N };
	int i, j;

	for (i = 0; i < WAVE_N; i++) {
		const struct event *e = &t->ev[i];

		if (e->what == OK)
			c.succeeded++;
		else if (e->what == FAIL)
			c.failed++;
		else
			c.silent++;
		if (!rule_halts(r, &c))
			continue;
		out.halted = true;
		out.outcomes = (uint64_t)i + 1;
		for (j = 0; j < WAVE_N && t->admit[j] <= e->at; j++)
			;
		out.exposed = (uint64_t)j;
		return out;
	}
	return out;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted values v[0..n). */
static uint64_t pct(const uint64_t *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)ceil(q * (double)n);
	return v[k == 0 ? 0 : k - 1];
}

struct summary {
	unsigned halts;
	uint64_t out_med, out_p99, exp_med, exp_p99, exp_max;
};

enum { SC_BAD, SC_SILENT, SC_GOOD, SC_GOOD_MIX, SC_COUNT };

static const struct scenario SCENARIOS[SC_COUNT] = {
	{ "bad: 20% fail", 0.20, 0.0 },
	{ "bricking: all silent", 0.0, 1.0 },
	{ "good: 1% fail", 0.01, 0.0 },
	{ "good: 0.5% fail, 0.5% silent", 0.005, 0.005 },
};

/* The rules compared: bulwark, the peers' stock settings, and sweeps of the
 * peers' settings from which the best one at bulwark's false-halt rate is
 * picked. */
#define MAX_RULES 256

struct result {
	struct rule rule;
	struct summary sum[SC_COUNT];
};

static int summarise_all(struct result *res, size_t nres, unsigned seeds)
{
	uint64_t *outs = calloc((size_t)seeds * nres, sizeof(*outs));
	uint64_t *exps = calloc((size_t)seeds * nres, sizeof(*exps));
	struct trace *t = malloc(sizeof(*t));
	int sc, rc = -1;
	size_t r;
	unsigned s;

	if (outs == NULL || exps == NULL || t == NULL)
		goto out;
	for (sc = 0; sc < SC_COUNT; sc++) {
		for (s = 0; s < seeds; s++) {
			trace_make(t, &SCENARIOS[sc], s + 1000003u * (unsigned)sc);
			for (r = 0; r < nres; r++) {
				struct run run = replay(&res[r].rule, t);

				res[r].sum[sc].halts += run.halted;
				/* A run that never halts counts every outcome. */
				outs[r * seeds + s] =
					run.halted ? run.outcomes : WAVE_N;
				exps[r * seeds + s] = run.exposed;
			}
		}
		for (r = 0; r < nres; r++) {
			uint64_t *o = outs + r * seeds, *e = exps + r * seeds;
			struct summary *sum = &res[r].sum[sc];

			qsort(o, seeds, sizeof(*o), cmp_u64);
			qsort(e, seeds, sizeof(*e), cmp_u64);
			sum->out_med = pct(o, seeds, 0.5);
			sum->out_p99 = pct(o, seeds, 0.99);
			sum->exp_med = pct(e, seeds, 0.5);
			sum->exp_p99 = pct(e, seeds, 0.99);
			sum->exp_max = e[seeds - 1];
		}
	}
	rc = 0;
out:
	free(outs);
	free(exps);
	free(t);
	return rc;
}

static double false_rate(const struct result *r, unsigned seeds)
{
	unsigned a = r->sum[SC_GOOD].halts, b = r->sum[SC_GOOD_MIX].halts;

	return (double)(a > b ? a : b) / seeds;
}

static void print_row(const char *label, const struct result *r,
		      unsigned seeds)
{
	const struct summary *bad = &r->sum[SC_BAD], *sil = &r->sum[SC_SILENT];
	bool sil_all = sil->halts == seeds;

	printf("| %-32s | %4llu / %4llu | %4llu / %4llu | ", label,
	       (unsigned long long)bad->out_med,
	       (unsigned long long)bad->out_p99,
	       (unsigned long long)bad->exp_med,
	       (unsigned long long)bad->exp_p99);
	if (sil_all)
		printf("%4llu / %4llu | ", (unsigned long long)sil->exp_p99,
		       (unsigned long long)sil->exp_max);
	else
		printf("never halts | ");
	printf("%5.2f%% | %5.2f%% |\n", 100.0 * r->sum[SC_GOOD].halts / seeds,
	       100.0 * r->sum[SC_GOOD_MIX].halts / seeds);
}

/* The figures the bulwark rule is built to meet. */
static int check_bulwark(const struct result *r, unsigned seeds)
{
	const struct summary *bad = &r->sum[SC_BAD], *sil = &r->sum[SC_SILENT];
	uint64_t bound = r->rule.bw.min_sample +
			 (uint64_t)ceil(ADMIT_PER_MIN * SILENCE_POLLS * POLL_MIN);
	int status = 0;

	if (bad->halts != seeds || bad->out_med > 15 || bad->out_p99 > 70) {
		fprintf(stderr, "bulwark: bad release not halted fast enough\n");
		status = 1;
	}
	if (sil->halts != seeds || sil->exp_max > bound) {
		fprintf(stderr, "bulwark: silent release exposed more than the "
				"minimum sample + devices in flight (%llu)\n",
			(unsigned long long)bound);
		status = 1;
	}
	if (false_rate(r, seeds) > 0.005) {
		fprintf(stderr, "bulwark: false halts above 0.5%%\n");
		status = 1;
	}
	return status;
}

/* Index of the sweep entry in [from, to) with the fewest exposed devices
 * (median, then p99) on the bad release among those whose false-halt rate
 * is at most limit; -1 if none. */
static long best_at(const struct result *res, size_t from, size_t to,
		    double limit, unsigned seeds)
{
	long best = -1;
	size_t i;

	for (i = from; i < to; i++) {
		const struct summary *b = &res[i].sum[SC_BAD];

		if (false_rate(&res[i], seeds) > limit)
			continue;
		if (best < 0 || b->exp_med < res[best].sum[SC_BAD].exp_med ||
		    (b->exp_med == res[best].sum[SC_BAD].exp_med &&
		     b->exp_p99 < res[best].sum[SC_BAD].exp_p99))
			best = (long)i;
	}
	return best;
}

int main(int argc, char **argv)
{
	static struct result res[MAX_RULES];
	unsigned long seeds = 1000;
	size_t n = 0, hb_from, hb_to, aws_from, aws_to;
	static const uint32_t aws_mins[] = { 10, 20, 30, 50, 100 };
	long hb_best, aws_best;
	char label[64];
	int status, i, j;

	if (argc > 1) {
		char *end = NULL;

		seeds = strtoul(argv[1], &end, 10);
		if (end == argv[1] || *end != '\0' || seeds < 100 ||
		    seeds > MAX_SEEDS) {
			fprintf(stderr, "usage: %s [seeds, 100..%d]\n", argv[0],
				MAX_SEEDS);
			return 2;
		}
	}
	res[n].rule = (struct rule){ "bulwark", BULWARK, { 0, 0, 0, 0 }, 0, 0 };
	bw_wave_rule_init(&res[n++].rule.bw);
	res[n++].rule = (struct rule){ "hawkBit", HAWKBIT, { 0, 0, 0, 0 }, 0.10, 0 };
	res[n++].rule = (struct rule){ "AWS", AWS, { 0, 0, 0, 0 }, 0.10, 10 };
	/* hawkBit: error threshold 1..100 errors of the 1,000-device group. */
	hb_from = n;
	for (i = 1; i <= 100; i++)
		res[n++].rule = (struct rule){ "hawkBit", HAWKBIT,
					       { 0, 0, 0, 0 },
					       (i - 0.5) / WAVE_N, 0 };
	hb_to = n;
	/* AWS: 5%..50% in 5% steps, each with several minimum samples. */
	aws_from = n;
	for (i = 1; i <= 10; i++)
		for (j = 0; j < (int)(sizeof(aws_mins) / sizeof(aws_mins[0])); j++)
			res[n++].rule = (struct rule){ "AWS", AWS,
						       { 0, 0, 0, 0 },
						       0.05 * i, aws_mins[j] };
	aws_to = n;

	if (summarise_all(res, n, (unsigned)seeds) != 0) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	printf("# wave health rules on synthetic traces\n\n");
	printf("%lu seeds per scenario; a wave of %d devices admitted at "
	       "%.0f/min; reports %.0f-%.0f min after admission; silence limit "
	       "%.0f x %.0f min poll interval. bulwark: threshold %.0f%%, halt "
	       "confidence %.4f (one-sided Wilson lower bound), minimum sample "
	       "%u.\n\n",
	       seeds, WAVE_N, ADMIT_PER_MIN, DELAY_MIN, DELAY_MAX,
	       SILENCE_POLLS, POLL_MIN, 100 * res[0].rule.bw.max_failure_rate,
	       res[0].rule.bw.halt_confidence, res[0].rule.bw.min_sample);
	printf("| rule | 20%% bad: outcomes before halt, median / p99 | "
	       "20%% bad: devices exposed, median / p99 | all silent: exposed, "
	       "p99 / max | good, 1%% fail: false halts | good, 0.5%% fail + "
	       "0.5%% silent: false halts |\n");
	printf("|---|---|---|---|---|---|\n");
	print_row("bulwark (defaults)", &res[0], (unsigned)seeds);
	print_row("hawkBit, 10% of group", &res[1], (unsigned)seeds);
	print_row("AWS, 10%, minimum 10", &res[2], (unsigned)seeds);
	hb_best = best_at(res, hb_from, hb_to, false_rate(&res[0], (unsigned)seeds),
			  (unsigned)seeds);
	aws_best = best_at(res, aws_from, aws_to,
			   false_rate(&res[0], (unsigned)seeds), (unsigned)seeds);
	if (hb_best >= 0) {
		snprintf(label, sizeof(label), "hawkBit, best at <= bulwark FH: %.1f%%",
			 100 * res[hb_best].rule.pct);
		print_row(label, &res[hb_best], (unsigned)seeds);
	}
	if (aws_best >= 0) {
		snprintf(label, sizeof(label), "AWS, best at <= bulwark FH: %.0f%%, min %u",
			 100 * res[aws_best].rule.pct, res[aws_best].rule.min_exec);
		print_row(label, &res[aws_best], (unsigned)seeds);
	}
	printf("\n(FH = false-halt rate; \"never halts\": every device of the "
	       "wave is exposed)\n");
	status = check_bulwark(&res[0], (unsigned)seeds);
	/* bulwark must expose fewer devices than each peer at an equal or
	 * lower false-halt rate. */
	for (i = 0; i < 2; i++) {
		long b = i == 0 ? hb_best : aws_best;

		if (b >= 0 && res[b].sum[SC_BAD].exp_med <= res[0].sum[SC_BAD].exp_med) {
			fprintf(stderr, "bulwark does not expose fewer devices than %s\n",
				res[b].rule.label);
			status = 1;
		}
	}
	return status;
}
