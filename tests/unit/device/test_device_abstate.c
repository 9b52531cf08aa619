/*
 * Unit tests of the A/B state machine (src/device/abstate.c), no I/O:
 *  - every input in every state, case by case: each case names the state,
 *    the input and the facts, and writes out the step taken, the exit
 *    code, the actions in order and the state after;
 *  - power loss between any two durable writes: a model device (database,
 *    bootloader environment, slot bytes, download) runs an update through
 *    the state machine, stops after durable write k for every k, reboots,
 *    finishes, and must stay consistent and end where an uncut run ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "abstate.h"
#include "exit.h"

/* ---- named states ----------------------------------------------------------- */

static struct bw_dev_target tgt(const char *name, int64_t bootfw)
{
	struct bw_dev_target t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	/* "fw-2" -> "2"; "" (an empty slot) -> "" (never past the end) */
	snprintf(t.version, sizeof(t.version), "%s",
		 strlen(name) > 3 ? name + 3 : "");
	t.length = 4096;
	memset(t.sha256, 'b', 64);
	t.bootfw = bootfw;
	return t;
}

/* Factory: slot A GOOD (fw-1, boot firmware 1) active and booted. */
static struct bw_dev_state factory(void)
{
	struct bw_dev_state st;

	memset(&st, 0, sizeof(st));
	st.active = 0;
	st.booted = 0;
	st.pending = -1;
	st.bootfw = 1;
	st.slot_state[0] = BW_DEV_SLOT_GOOD;
	st.slot[0] = tgt("fw-1", 1);
	st.slot_state[1] = BW_DEV_SLOT_EMPTY;
	st.slot[1] = tgt("", -1);
	st.dl = tgt("", -1);
	snprintf(st.dl_path, sizeof(st.dl_path), "/state/downloads/x");
	return st;
}

enum named {
	IDLE,          /* factory, nothing downloaded */
	DOWNLOADED,    /* fw-2 (boot firmware 2) downloaded */
	DL_DOWNGRADE,  /* fw-0 (boot firmware 0, below installed 1) */
	WRITING,       /* fw-2 being written into B */
	ARMED,         /* B pending, 3 attempts, A still running */
	TRIAL,         /* B pending and running, 2 attempts left */
	EXHAUSTED,     /* B pending, no attempts left, A running */
	TORN,          /* pending B recorded, B not PENDING */
	CANCELLED,     /* B BAD after a cancel, B still running */
	TWO_GOOD,      /* B active (fw-2), A GOOD (fw-1) behind it */
	NAMED
};

static const char *const named_names[NAMED] = {
	"idle", "downloaded", "dl-downgrade", "writing", "armed", "trial",
	"exhausted", "torn", "cancelled", "two-good",
};

static const char *const named_ids[NAMED] = {
	"IDLE", "DOWNLOADED", "DL_DOWNGRADE", "WRITING", "ARMED", "TRIAL",
	"EXHAUSTED", "TORN", "CANCELLED", "TWO_GOOD",
};

static struct bw_dev_state make(enum named n)
{
	struct bw_dev_state st = factory();

	switch (n) {
	case IDLE:
		break;
	case DOWNLOADED:
		st.dl_state = BW_DEV_DL_DONE;
		st.dl = tgt("fw-2", 2);
		break;
	case DL_DOWNGRADE:
		st.dl_state = BW_DEV_DL_DONE;
		st.dl = tgt("fw-0", 0);
		break;
	case WRITING:
		st.dl_state = BW_DEV_DL_DONE;
		st.dl = tgt("fw-2", 2);
		st.slot_state[1] = BW_DEV_SLOT_WRITING;
		st.slot[1] = st.dl;
		break;
	case ARMED: case TRIAL: case EXHAUSTED: case TORN:
		st.slot_state[1] = BW_DEV_SLOT_PENDING;
		st.slot[1] = tgt("fw-2", 2);
		st.pending = 1;
		st.attempts_left = n == ARMED ? 3 : n == TRIAL ? 2 : 0;
		st.booted = n == TRIAL ? 1 : 0;
		if (n == TORN)
			st.slot_state[1] = BW_DEV_SLOT_EMPTY;
		break;
	case CANCELLED:
		st.slot_state[1] = BW_DEV_SLOT_BAD;
		st.slot[1] = tgt("fw-2", 2);
		st.booted = 1;
		break;
	case TWO_GOOD:
		st.slot_state[1] = BW_DEV_SLOT_GOOD;
		st.slot[1] = tgt("fw-2", 2);
		st.active = 1;
		st.booted = 1;
		st.bootfw = 2;
		break;
	default:
		break;
	}
	return st;
}

/* ---- facts -------------------------------------------------------------- */

enum facts_kind {
	SIM,         /* simulated bootloader, both slots set, lock held */
	SIM_NOSLOT,  /* ... slot_b not configured */
	SIM_NOPROT,  /* ... boot-firmware anti-rollback off */
	REAL_ARMED,  /* U-Boot; kernel: A; env: trial B armed, boots B next */
	REAL_FELL,   /* U-Boot; kernel: A; env: trial B armed, fell back to A */
	REAL_UNARMED, /* U-Boot; kernel: A; env: no trial, settled on A */
	REAL_UNARMED_RO, /* the same, read-only (no lock) */
	REAL_ON_B,   /* U-Boot; kernel: B; env: trial B */
	REAL_UNSETTLED, /* U-Boot; kernel: A; env still points at B */
	FACTS
};

static const char *const facts_names[FACTS] = {
	"sim", "sim-noslot", "sim-noprot", "real-armed", "real-fell",
	"real-unarmed", "real-unarmed-ro", "real-on-b", "real-unsettled",
};

static const char *const facts_ids[FACTS] = {
	"SIM", "SIM_NOSLOT", "SIM_NOPROT", "REAL_ARMED", "REAL_FELL",
	"REAL_UNARMED", "REAL_UNARMED_RO", "REAL_ON_B", "REAL_UNSETTLED",
};

static struct bw_ab_facts facts(enum facts_kind k)
{
	struct bw_ab_facts f;

	memset(&f, 0, sizeof(f));
	f.boot_attempts = 3;
	f.rollback_protection = k != SIM_NOPROT;
	f.slot_set[0] = 1;
	f.slot_set[1] = k != SIM_NOSLOT;
	f.may_write = k != REAL_UNARMED_RO;
	f.cmdline_slot = f.env_slot = f.env_trial = -1;
	f.real_bootloader = k >= REAL_ARMED;
	if (k < REAL_ARMED)
		return f;
	f.cmdline_slot = k == REAL_ON_B ? 1 : 0;
	switch (k) {
	case REAL_ARMED: case REAL_ON_B:
		f.env_slot = 1;
		f.env_trial = 1;
		break;
	case REAL_FELL:
		f.env_slot = 0;
		f.env_trial = 1;
		break;
	case REAL_UNSETTLED:
		f.env_slot = 1;
		break;
	default: /* unarmed: settled on A */
		f.env_slot = 0;
		f.env_settled = 1;
		break;
	}
	return f;
}

/* ---- printing a step ---------------------------------------------------- */

static char slot_char(int s)
{
	return s == 0 ? 'A' : s == 1 ? 'B' : '-';
}

/* "A=good B=pending a=A p=B b=B t=2 dl=none fw=1" */
static void summary(const struct bw_dev_state *st, char *out, size_t cap)
{
	snprintf(out, cap, "A=%s B=%s a=%c p=%c b=%c t=%ld dl=%s fw=%lld",
		 bw_dev_slot_state_name(st->slot_state[0]),
		 bw_dev_slot_state_name(st->slot_state[1]),
		 slot_char(st->active), slot_char(st->pending),
		 slot_char(st->booted), st->attempts_left,
		 st->dl_state == BW_DEV_DL_DONE ? "done" : "none",
		 (long long)st->bootfw);
}

/* "save:0,write-slot:B,verify-slot:B" ("-" for none) */
static void actions(const struct bw_ab_step *s, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->nact && off < cap; i++) {
		enum bw_ab_act_kind k = s->act[i].kind;
		int slot_arg = k == BW_AB_ACT_WRITE_SLOT ||
			       k == BW_AB_ACT_VERIFY_SLOT ||
			       k == BW_AB_ACT_VERIFY_DOWNLOAD ||
			       k == BW_AB_ACT_BOOT_ARM ||
			       k == BW_AB_ACT_BOOT_CONFIRM ||
			       k == BW_AB_ACT_MARK_FAILED;
		int n;

		if (slot_arg)
			n = snprintf(out + off, cap - off, "%s%s:%c",
				     i ? "," : "", bw_ab_act_name(k),
				     slot_char(s->act[i].arg));
		else if (k == BW_AB_ACT_SAVE || k == BW_AB_ACT_SAVE_BEST_EFFORT)
			n = snprintf(out + off, cap - off, "%s%s:%d",
				     i ? "," : "", bw_ab_act_name(k),
				     s->act[i].arg);
		else
			n = snprintf(out + off, cap - off, "%s%s",
				     i ? "," : "", bw_ab_act_name(k));
		off += n > 0 ? (size_t)n : 0;
	}
	if (s->nact == 0)
		snprintf(out, cap, "-");
}

static const char *exit_name(int e)
{
	switch (e) {
	case BW_AB_CONTINUE: return "continue";
	case BW_DEV_EXIT_OK: return "ok";
	case BW_DEV_EXIT_FAIL: return "fail";
	case BW_DEV_EXIT_TARGET_NOT_FOUND: return "not-found";
	case BW_DEV_EXIT_NO_ROLLBACK_TARGET: return "no-rollback-target";
	case BW_DEV_EXIT_REFUSED: return "refused";
	case BW_DEV_EXIT_PENDING: return "pending";
	case BW_DEV_EXIT_NO_PENDING: return "no-pending";
	case BW_DEV_EXIT_VERIFY_FAILED: return "verify-failed";
	case BW_DEV_EXIT_NEEDS_REBOOT: return "needs-reboot";
	case BW_DEV_EXIT_ROLLED_BACK: return "rolled-back";
	case BW_DEV_EXIT_ROLLBACK_NEEDS_REBOOT: return "rollback-needs-reboot";
	default: return "?";
	}
}

/* ---- every state x every input ------------------------------------------ */

struct tcase {
	enum named state;
	enum bw_ab_input input;
	enum facts_kind facts;
	const char *step;    /* the table row's step */
	const char *exit;
	const char *acts;
	const char *after;   /* summary() of the new state */
};

#define C(st, in, fk, step, ex, acts, after) \
	{st, BW_AB_IN_##in, fk, step, ex, acts, after}

#include "abstate_cases.h"

static void test_device_abstate__every_state_every_input(void **state)
{
	size_t bad = 0, n = sizeof(cases) / sizeof(cases[0]);
	int seen[NAMED][BW_AB_INPUTS];
	const int gen = getenv("BW_AB_PRINT_CASES") != NULL;

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++) {
		const struct tcase *c = &cases[i];
		struct bw_dev_state in = make(c->state);
		struct bw_ab_facts f = facts(c->facts);
		struct bw_ab_step s;
		char acts[256], after[160];
		const char *step;

		bw_ab_step(&in, c->input, &f, &s);
		step = bw_ab_rule_name((size_t)s.rule);
		actions(&s, acts, sizeof(acts));
		summary(bw_ab_result(&s), after, sizeof(after));
		seen[c->state][c->input] = 1;
		if (gen) { /* a first draft of a case, to be checked by hand */
			char id[32];

			snprintf(id, sizeof(id), "%s", bw_ab_input_name(c->input));
			for (char *q = id; *q; q++)
				*q = *q == '-' ? '_' : (char)(*q - 32);
			printf("\tC(%s, %s, %s,\n\t  \"%s\", \"%s\", \"%s\",\n"
			       "\t  \"%s\"),\n", named_ids[c->state], id,
			       facts_ids[c->facts], step, exit_name(s.exit), acts,
			       after);
			continue;
		}
		if (strcmp(step, c->step) != 0 ||
		    strcmp(exit_name(s.exit), c->exit) != 0 ||
		    strcmp(acts, c->acts) != 0 || strcmp(after, c->after) != 0) {
			fprintf(stderr, "case %zu (%s, %s, %s):\n"
				"  want %s %s [%s] %s\n  got  %s %s [%s] %s\n", i,
				named_names[c->state], bw_ab_input_name(c->input),
				facts_names[c->facts], c->step, c->exit, c->acts,
				c->after, step, exit_name(s.exit), acts, after);
			bad++;
		}
	}
	/* Every named state meets every input at least once. */
	for (int st = 0; st < NAMED; st++)
		for (int in = 0; in < BW_AB_INPUTS; in++)
			if (!seen[st][in]) {
				fprintf(stderr, "no case for (%s, %s)\n",
					named_names[st], bw_ab_input_name(in));
				bad++;
			}
	assert_int_equal(bad, 0);
}

/* ---- power loss between any two durable writes --------------------------- */

#define TORN_BYTES "(torn)"

/* A model device: what survives a power cut (database, bootloader
 * environment, slot and download bytes) and the one process running. */
struct world {
	struct bw_dev_state db;
	int real;                  /* U-Boot semantics, else simulated */
	int env_slot, env_good, env_trial, env_ua;
	long env_count, env_limit;
	int kernel;                /* the slot the bootloader started */
	char bytes[2][BW_DEV_NAME_MAX]; /* whose bytes each slot holds */
	char dl_bytes[BW_DEV_NAME_MAX]; /* whose bytes the download holds */
	const char *broken;        /* a target whose system never comes up */
	int corrupt;               /* the slot storage returns other bytes */
	int marked_failed;
	char gave_up[BW_DEV_NAME_MAX]; /* trial the bootloader fell back from */
	long writes, limit;        /* stop after durable write `limit` */
	int dead;
	int64_t fw_seen;           /* highest installed boot firmware seen */
	const char *violation;
};

/* One durable write done; 1 if the power goes now. */
static int durable(struct world *w)
{
	w->writes++;
	if (w->limit > 0 && w->writes >= w->limit)
		w->dead = 1;
	return w->dead;
}

static int env_settled(const struct world *w, int active)
{
	return w->env_slot == active && w->env_good == active &&
	       w->env_trial < 0 && !w->env_ua;
}

static struct bw_ab_facts world_facts(const struct world *w,
				      const struct bw_dev_state *mem)
{
	struct bw_ab_facts f = facts(SIM);

	f.real_bootloader = w->real;
	if (w->real) {
		f.cmdline_slot = w->kernel;
		f.env_slot = w->env_slot;
		f.env_trial = w->env_trial;
		f.env_settled = env_settled(w, mem->active);
	}
	return f;
}

static void violated(struct world *w, const char *why)
{
	if (w->violation == NULL)
		w->violation = why;
}

/* The bootloader side of BOOT_ARM / CONFIRM / SETTLE (bootenv.c). */
static int env_act(struct world *w, const struct bw_dev_state *mem,
		   enum bw_ab_act_kind k, int slot)
{
	if (!w->real)
		return 0; /* simulated: the database is the bootloader */
	if (k == BW_AB_ACT_BOOT_SETTLE && env_settled(w, mem->active))
		return 0; /* nothing to write */
	if (k == BW_AB_ACT_BOOT_ARM) {
		if (strcmp(w->bytes[slot], w->gave_up) == 0)
			violated(w, "a trial the bootloader gave up on armed "
				    "again");
		w->env_slot = w->env_trial = slot;
		w->env_good = mem->active;
		w->env_ua = 1;
		w->env_count = 0;
		w->env_limit = 3;
	} else {
		w->env_slot = w->env_good =
			k == BW_AB_ACT_BOOT_CONFIRM ? slot : mem->active;
		w->env_trial = -1;
		w->env_ua = 0;
		w->env_count = 0;
	}
	return durable(w);
}

/* Perform one action on the model; 1 if the power went. */
static int model_act(struct world *w, struct bw_dev_state *mem,
		     const struct bw_ab_step *s, const struct bw_ab_action *a,
		     int *next)
{
	char *slot = a->arg == 0 || a->arg == 1 ? w->bytes[a->arg] : NULL;

	switch (a->kind) {
	case BW_AB_ACT_SAVE: case BW_AB_ACT_SAVE_BEST_EFFORT:
		*mem = s->st;
		w->db = *mem;
		return durable(w);
	case BW_AB_ACT_MARK_FAILED:
		w->marked_failed++;
		return durable(w);
	case BW_AB_ACT_VERIFY_DOWNLOAD:
		*next = strcmp(w->dl_bytes, mem->dl.name) == 0
				? BW_AB_IN_DOWNLOAD_OK : BW_AB_IN_DOWNLOAD_BAD;
		return 0;
	case BW_AB_ACT_WRITE_SLOT:
		/* The first byte changes the slot: a cut from here on
		 * leaves it torn until the fsync. */
		snprintf(slot, BW_DEV_NAME_MAX, "%s", TORN_BYTES);
		if (durable(w))
			return 1;
		snprintf(slot, BW_DEV_NAME_MAX, "%s",
			 w->corrupt ? "(corrupt)" : w->dl_bytes);
		return durable(w);
	case BW_AB_ACT_VERIFY_SLOT:
		*next = strcmp(slot, mem->slot[a->arg].name) == 0
				? BW_AB_IN_SLOT_OK : BW_AB_IN_SLOT_BAD_HASH;
		return 0;
	case BW_AB_ACT_DELETE_DOWNLOAD:
		w->dl_bytes[0] = '\0';
		return 0;
	case BW_AB_ACT_BOOT_ARM: case BW_AB_ACT_BOOT_CONFIRM:
	case BW_AB_ACT_BOOT_SETTLE:
		return env_act(w, mem, a->kind, a->arg);
	case BW_AB_ACT_SEND_EVENTS:
		return durable(w); /* the queue is emptied */
	}
	return 0;
}

/* The executor (as lifecycle.c): step, act in order, feed results back.
 * -1 if the power went. */
static int model_do(struct world *w, struct bw_dev_state *mem,
		    enum bw_ab_input in)
{
	for (int round = 0; round < 4; round++) {
		struct bw_ab_facts f = world_facts(w, mem);
		struct bw_ab_step s;
		int next = -1;

		bw_ab_step(mem, in, &f, &s);
		for (size_t i = 0; i < s.nact && next < 0; i++)
			if (model_act(w, mem, &s, &s.act[i], &next))
				return -1;
		if (next >= 0 && s.exit == BW_AB_CONTINUE) {
			in = (enum bw_ab_input)next;
			continue;
		}
		*mem = *bw_ab_result(&s);
		return s.exit;
	}
	return BW_DEV_EXIT_FAIL;
}

/* What must hold whenever the agent has started (after recovery). */
static void check(struct world *w, const struct bw_dev_state *mem)
{
	const char *why = NULL;
	int k = w->kernel, p = mem->pending;

	if (!bw_ab_consistent(mem, &why))
		violated(w, why);
	/* Only verified bytes are ever booted. */
	if (strcmp(w->bytes[k], TORN_BYTES) == 0 || w->bytes[k][0] == '\0' ||
	    strcmp(w->bytes[k], mem->slot[k].name) != 0 ||
	    mem->slot_state[k] == BW_DEV_SLOT_EMPTY ||
	    mem->slot_state[k] == BW_DEV_SLOT_WRITING)
		violated(w, "booted a slot without verified bytes");
	if (p >= 0 && strcmp(w->bytes[p], mem->slot[p].name) != 0)
		violated(w, "a trial of bytes that are not the target's");
	/* The slot running is the active one or the trial; the other only
	 * after it was given up on (BAD), until the reboot. */
	if (k != mem->active && k != p &&
	    mem->slot_state[k] != BW_DEV_SLOT_BAD)
		violated(w, "running a slot that is neither active nor on "
			    "trial");
	/* No silent downgrade of the boot firmware. */
	if (mem->bootfw < w->fw_seen)
		violated(w, "installed boot firmware went down");
	if (p >= 0 && mem->slot[p].bootfw < mem->bootfw)
		violated(w, "a trial below the installed boot firmware");
	if (mem->bootfw > w->fw_seen)
		w->fw_seen = mem->bootfw;
}

/* bulwark-device starts: recovery, then the bootloader's view. */
static int model_start(struct world *w, struct bw_dev_state *mem)
{
	*mem = w->db;
	if (model_do(w, mem, BW_AB_IN_RECOVER) < 0)
		return -1;
	if (w->real && model_do(w, mem, BW_AB_IN_SYNC) < 0)
		return -1;
	return 0;
}

/* Power on until a system comes up (a broken one resets the board). */
static int power_on(struct world *w)
{
	struct bw_dev_state mem;

	for (int tries = 0; tries < 10; tries++) {
		if (w->real) { /* U-Boot: count the trial, else altbootcmd */
			if (w->env_ua && ++w->env_count > w->env_limit) {
				snprintf(w->gave_up, sizeof(w->gave_up), "%s",
					 w->bytes[w->env_slot]);
				w->env_slot = w->env_good;
				w->env_ua = 0;
			}
			w->kernel = w->env_slot;
		} else { /* the simulated bootloader is a command */
			if (model_start(w, &mem) < 0 ||
			    model_do(w, &mem, BW_AB_IN_BOOT) < 0)
				return -1;
			w->kernel = mem.booted;
		}
		if (w->broken == NULL || strcmp(w->bytes[w->kernel], w->broken))
			break;
	}
	if (model_start(w, &mem) < 0)
		return -1;
	check(w, &mem);
	return 0;
}

enum cmd { C_END, C_INSTALL, C_REBOOT, C_ROLLBACK, C_SETTLE };

static int command(struct world *w, enum cmd c)
{
	struct bw_dev_state mem;

	switch (c) {
	case C_REBOOT:
		return power_on(w);
	case C_INSTALL: case C_ROLLBACK:
		if (model_start(w, &mem) < 0)
			return -1;
		return model_do(w, &mem, c == C_INSTALL ? BW_AB_IN_INSTALL
							: BW_AB_IN_ROLLBACK) < 0
			       ? -1 : 0;
	default: /* C_SETTLE: reboot and run until nothing is pending */
		for (int i = 0; i < 12 && w->db.pending >= 0; i++) {
			if (power_on(w) < 0 || model_start(w, &mem) < 0 ||
			    model_do(w, &mem, BW_AB_IN_RUN) < 0)
				return -1;
		}
		return 0;
	}
}

struct scenario {
	const char *name;
	enum named start;
	const char *broken;
	int corrupt;
	enum cmd cmds[4];     /* then C_SETTLE */
	const char *active;   /* target in the active slot at the end */
	int other_state;      /* the other slot's state at the end */
	int marked_failed;    /* the new target refused for good */
	int64_t fw;           /* installed boot firmware at the end */
	int or_fell_back;     /* cuts may use up the trial's boots: ending
			       * on fw-1 with the trial BAD is right too */
};

static const struct scenario scenarios[] = {
	{"update", DOWNLOADED, NULL, 0, {C_INSTALL},
	 "fw-2", BW_DEV_SLOT_GOOD, 0, 2, 0},
	{"confirmed on the last boot", DOWNLOADED, NULL, 0,
	 {C_INSTALL, C_REBOOT, C_REBOOT}, "fw-2", BW_DEV_SLOT_GOOD, 0, 2, 1},
	{"never boots", DOWNLOADED, "fw-2", 0, {C_INSTALL},
	 "fw-1", BW_DEV_SLOT_BAD, 1, 1, 0},
	{"slot corrupts", DOWNLOADED, NULL, 1, {C_INSTALL},
	 "fw-1", BW_DEV_SLOT_EMPTY, 0, 1, 0},
	{"cancel before reboot", DOWNLOADED, NULL, 0, {C_INSTALL, C_ROLLBACK},
	 "fw-1", BW_DEV_SLOT_BAD, 1, 1, 0},
	{"cancel while on trial", DOWNLOADED, NULL, 0,
	 {C_INSTALL, C_REBOOT, C_ROLLBACK}, "fw-1", BW_DEV_SLOT_BAD, 1, 1, 0},
	{"operator rollback", TWO_GOOD, NULL, 0, {C_ROLLBACK, C_REBOOT},
	 "fw-1", BW_DEV_SLOT_BAD, 1, 2, 0},
	{"boot firmware downgrade", DL_DOWNGRADE, NULL, 0, {C_INSTALL},
	 "fw-1", BW_DEV_SLOT_EMPTY, 0, 1, 0},
};

static void world_init(struct world *w, const struct scenario *sc, int real)
{
	memset(w, 0, sizeof(*w));
	w->db = make(sc->start);
	w->real = real;
	w->broken = sc->broken;
	w->corrupt = sc->corrupt;
	for (int i = 0; i < 2; i++)
		snprintf(w->bytes[i], BW_DEV_NAME_MAX, "%s", w->db.slot[i].name);
	if (w->db.dl_state == BW_DEV_DL_DONE)
		snprintf(w->dl_bytes, BW_DEV_NAME_MAX, "%s", w->db.dl.name);
	w->env_slot = w->env_good = w->kernel = w->db.active;
	w->env_trial = -1;
	w->env_limit = 3;
	w->fw_seen = w->db.bootfw;
}

/* Run sc with the power cut after durable write `limit` (0: never); after
 * a cut the board powers on and the interrupted command is given again.
 * 1 if the cut happened. */
static int run(const struct scenario *sc, int real, long limit,
	       struct world *w)
{
	enum cmd plan[6];
	size_t n = 0, i = 0;
	int cut = 0;

	for (; n < 4 && sc->cmds[n] != C_END; n++)
		plan[n] = sc->cmds[n];
	plan[n++] = C_SETTLE;
	world_init(w, sc, real);
	w->limit = limit;
	while (i < n) {
		if (command(w, plan[i]) == 0) {
			i++;
			continue;
		}
		/* The power went: no more cuts, power on, same command. */
		cut = 1;
		w->dead = 0;
		w->limit = 0;
		while (power_on(w) < 0)
			;
	}
	return cut;
}

static void expect_end(const struct scenario *sc, const struct world *w,
		       long k)
{
	const struct scenario fell_back = {
		sc->name, IDLE, NULL, 0, {C_END}, "fw-1", BW_DEV_SLOT_BAD, 1,
		1, 0};
	const struct bw_dev_state *st = &w->db;
	int a = st->active;

	if (sc->or_fell_back && w->violation == NULL &&
	    strcmp(st->slot[a].name, "fw-1") == 0) {
		expect_end(&fell_back, w, k);
		return;
	}
	if (w->violation != NULL || strcmp(st->slot[a].name, sc->active) != 0 ||
	    st->slot_state[a] != BW_DEV_SLOT_GOOD || st->pending != -1 ||
	    st->slot_state[1 - a] != sc->other_state ||
	    (w->marked_failed > 0) != sc->marked_failed ||
	    st->bootfw != sc->fw || strcmp(w->bytes[a], sc->active) != 0 ||
	    (w->real && !env_settled(w, a)))
		fail_msg("%s (%s), cut after write %ld: %s; active %c holds %s "
			 "(%s), other %s, pending %d, marked %d, fw %lld",
			 sc->name, w->real ? "u-boot" : "simulated", k,
			 w->violation ? w->violation : "wrong end state",
			 'A' + a, w->bytes[a],
			 bw_dev_slot_state_name(st->slot_state[a]),
			 bw_dev_slot_state_name(st->slot_state[1 - a]),
			 st->pending, w->marked_failed, (long long)st->bootfw);
}

static void test_device_abstate__power_loss_at_every_write(void **state)
{
	struct world *w = malloc(sizeof(*w));
	long cuts = 0;

	(void)state;
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		for (int real = 0; real < 2; real++) {
			const struct scenario *sc = &scenarios[i];
			long k = 1, writes;

			run(sc, real, 0, w); /* uncut */
			expect_end(sc, w, 0);
			writes = w->writes;
			for (; run(sc, real, k, w); k++)
				expect_end(sc, w, k);
			/* Every write of the uncut run was a cut point. */
			assert_true(k > writes);
			cuts += k - 1;
		}
	fprintf(stderr, "power loss: %ld cuts in %zu scenarios x 2 "
		"bootloaders, all consistent\n", cuts,
		sizeof(scenarios) / sizeof(scenarios[0]));
	assert_true(cuts >= 80);
	free(w);
}

/* ---- the two rules the tests above lean on ------------------------------ */

static void test_device_abstate__consistency_rule(void **state)
{
	struct bw_dev_state st;
	const char *why = NULL;

	(void)state;
	for (int n = 0; n < NAMED; n++) { /* every named state but torn */
		st = make((enum named)n);
		assert_int_equal(bw_ab_consistent(&st, &why), n != TORN);
	}
	st = make(ARMED);
	st.slot_state[0] = BW_DEV_SLOT_PENDING; /* neither confirmed */
	assert_int_equal(bw_ab_consistent(&st, &why), 0);
	assert_string_equal(why, "the active slot is not GOOD");
	st = make(ARMED);
	st.pending = 0; /* the trial is the confirmed slot */
	assert_int_equal(bw_ab_consistent(&st, &why), 0);
	st = make(ARMED);
	st.pending = -1; /* a PENDING slot nobody tracks */
	assert_int_equal(bw_ab_consistent(&st, &why), 0);
	st = make(IDLE);
	st.active = 2;
	assert_int_equal(bw_ab_consistent(&st, &why), 0);
	st = make(IDLE);
	st.booted = 5;
	assert_int_equal(bw_ab_consistent(&st, &why), 0);
}

static void test_device_abstate__bootfw_rule(void **state)
{
	(void)state;
	/* protection, installed, candidate -> refused */
	assert_int_equal(bw_ab_bootfw_refused(1, 2, 1), 1);
	assert_int_equal(bw_ab_bootfw_refused(1, 2, 0), 1);
	assert_int_equal(bw_ab_bootfw_refused(1, 2, 2), 0);
	assert_int_equal(bw_ab_bootfw_refused(1, 2, 3), 0);
	assert_int_equal(bw_ab_bootfw_refused(0, 2, 1), 0);  /* off */
	assert_int_equal(bw_ab_bootfw_refused(1, -1, 0), 0); /* none yet */
	assert_int_equal(bw_ab_bootfw_refused(1, 2, -1), 0); /* not stated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_abstate__every_state_every_input),
		cmocka_unit_test(test_device_abstate__power_loss_at_every_write),
		cmocka_unit_test(test_device_abstate__consistency_rule),
		cmocka_unit_test(test_device_abstate__bootfw_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
