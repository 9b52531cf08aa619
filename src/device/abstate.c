/*
 * The A/B state machine (abstate.h): one table of rules, a handful of
 * steps, nothing else. No I/O: the executor (lifecycle.c, bootenv.c)
 * performs the actions a step lists, in the order listed, and stops at
 * the first that fails.
 *
 * The table is read like a bootloader's swap-state table (mcuboot's
 * bootutil decides its swap type the same way): a row per situation, each
 * fact either required, forbidden or ignored, the first match wins and
 * every input ends in a catch-all row, so no combination is left
 * undecided.
 *
 * Why the action orders are crash-safe (a power cut may fall between any
 * two durable actions: SAVE, MARK_FAILED, WRITE_SLOT, BOOT_*, and the
 * event upload that empties the queue):
 *  - install: SAVE (slot WRITING) before the slot is written, so a cut
 *    mid-write is found by RECOVER and the slot becomes EMPTY; SAVE
 *    (PENDING) only after the bytes were read back as signed; BOOT_ARM
 *    last, so the bootloader never tries unverified bytes, and a cut
 *    before it is repaired by SYNC (it arms the trial it finds recorded);
 *  - confirm: BOOT_CONFIRM first, then SAVE: a cut between them boots the
 *    new slot again and RUN confirms it in the database;
 *  - fallback, cancel, rollback: MARK_FAILED, SAVE, then BOOT_SETTLE: a
 *    cut before the settle is repaired by SYNC (nothing pending: settle).
 *    The operator rollback switches the active slot and marks the old one
 *    BAD in the same transaction: a cut never leaves the old slot active
 *    without its reason recorded, so asking again cannot flip back.
 */
#include <string.h>

#include "abstate.h"
#include "exit.h"

/* Facts about the state (and the bootloader's view for SYNC). */
enum {
	F_PENDING = 1u << 0,       /* a slot is on trial */
	F_TRIAL_OK = 1u << 1,      /* ... and it is PENDING (verified) */
	F_BOOTED_TRIAL = 1u << 2,  /* ... and it is the slot running */
	F_TRIES = 1u << 3,         /* ... with boot attempts left */
	F_ACTIVE_GOOD = 1u << 4,   /* the active slot is GOOD */
	F_OTHER_GOOD = 1u << 5,    /* the inactive slot is GOOD */
	F_OTHER_RUNNING = 1u << 6, /* the inactive slot is the one running */
	F_OTHER_WRITING = 1u << 7, /* the inactive slot is being written */
	F_WRITING = 1u << 8,       /* some slot is WRITING */
	F_DOWNLOADED = 1u << 9,    /* a complete download is recorded */
	F_SLOT_SET = 1u << 10,     /* the inactive slot is configured */
	F_DOWNGRADE = 1u << 11,    /* download's boot firmware is below the
				    * installed one (anti-rollback on) */
	F_REAL_BOOT = 1u << 12,    /* a real bootloader, not the simulation */
	F_MAY_WRITE = 1u << 13,    /* this run holds the state lock */
	F_ENV_ARMED = 1u << 14,    /* bulwark_trial names the pending slot */
	F_ENV_TRIAL = 1u << 15,    /* bulwark_slot names the pending slot */
	F_ENV_SETTLED = 1u << 16,  /* env: active slot, no trial */
};

enum step {
	S_NOTHING,
	S_OUT_OF_ORDER,
	S_RECOVER,
	S_SYNC_BOOTED,
	S_SYNC_ARM,
	S_SYNC_UNARMED,
	S_SYNC_WAITING,
	S_SYNC_FELL_BACK,
	S_SYNC_SETTLE,
	S_REFUSE_PENDING,
	S_REFUSE_RUNNING,
	S_REFUSE_NO_DOWNLOAD,
	S_REFUSE_NO_SLOT,
	S_REFUSE_DOWNGRADE,
	S_VERIFY_DOWNLOAD,
	S_DROP_DOWNLOAD,
	S_WRITE,
	S_MAKE_PENDING,
	S_INSTALL_FAILED,
	S_BOOT_NOT_SIMULATED,
	S_BOOT_TRIAL,
	S_BOOT_NONE,
	S_BOOT_FALLBACK,
	S_BOOT_ACTIVE,
	S_RUN_IDLE,
	S_CONFIRM,
	S_AWAIT_REBOOT,
	S_FALLBACK,
	S_CANCEL_RUNNING,
	S_CANCEL,
	S_NO_ROLLBACK_TARGET,
	S_ROLLBACK_OTHER,
	S_STEPS
};

static const char *const step_names[S_STEPS] = {
	"nothing", "out-of-order", "recover", "sync-booted", "sync-arm",
	"sync-unarmed", "sync-waiting", "sync-fell-back", "sync-settle",
	"refuse-pending", "refuse-running", "refuse-no-download",
	"refuse-no-slot", "refuse-downgrade", "verify-download",
	"drop-download", "write", "make-pending", "install-failed",
	"boot-not-simulated", "boot-trial", "boot-none", "boot-fallback",
	"boot-active", "run-idle", "confirm", "await-reboot", "fallback",
	"cancel-running", "cancel", "no-rollback-target", "rollback-other",
};

struct rule {
	enum bw_ab_input input;
	unsigned must, must_not;
	enum step step;
};

#define R(in, m, mn, s) {BW_AB_IN_##in, (m), (mn), (s)}

/* First match wins; each input ends in a row with no conditions. */
static const struct rule rules[] = {
	/* Start-up, before anything else: a torn install is undone. */
	R(RECOVER, F_WRITING, 0, S_RECOVER),
	R(RECOVER, F_PENDING, F_TRIAL_OK, S_RECOVER),
	R(RECOVER, 0, 0, S_NOTHING),

	/* Start-up, real bootloader: which slot booted, did it give up? */
	R(SYNC, 0, F_REAL_BOOT, S_NOTHING),
	R(SYNC, F_TRIAL_OK | F_BOOTED_TRIAL, 0, S_SYNC_BOOTED),
	/* Only a verified trial is ever armed. */
	R(SYNC, F_TRIAL_OK | F_MAY_WRITE, F_ENV_ARMED, S_SYNC_ARM),
	R(SYNC, F_TRIAL_OK, F_ENV_ARMED, S_SYNC_UNARMED),
	R(SYNC, F_TRIAL_OK | F_ENV_TRIAL, 0, S_SYNC_WAITING),
	R(SYNC, F_TRIAL_OK, 0, S_SYNC_FELL_BACK),
	R(SYNC, F_MAY_WRITE, F_ENV_SETTLED, S_SYNC_SETTLE),
	R(SYNC, 0, 0, S_SYNC_BOOTED),

	/* Install: refusals first, in the order the operator fixes them. */
	R(INSTALL, F_PENDING, 0, S_REFUSE_PENDING),
	R(INSTALL, F_OTHER_RUNNING, 0, S_REFUSE_RUNNING),
	R(INSTALL, F_WRITING, 0, S_OUT_OF_ORDER), /* RECOVER first */
	R(INSTALL, 0, F_DOWNLOADED, S_REFUSE_NO_DOWNLOAD),
	R(INSTALL, 0, F_SLOT_SET, S_REFUSE_NO_SLOT),
	R(INSTALL, F_DOWNGRADE, 0, S_REFUSE_DOWNGRADE),
	R(INSTALL, 0, 0, S_VERIFY_DOWNLOAD),
	/* The download checked again: the same conditions still hold. */
	R(DOWNLOAD_OK, F_DOWNLOADED | F_SLOT_SET,
	  F_PENDING | F_OTHER_RUNNING | F_DOWNGRADE | F_WRITING, S_WRITE),
	R(DOWNLOAD_OK, 0, 0, S_OUT_OF_ORDER),
	R(DOWNLOAD_BAD, F_DOWNLOADED, F_WRITING, S_DROP_DOWNLOAD),
	R(DOWNLOAD_BAD, 0, 0, S_OUT_OF_ORDER),
	/* Only bytes read back as signed become a trial. */
	R(SLOT_OK, F_OTHER_WRITING | F_DOWNLOADED, F_PENDING | F_DOWNGRADE,
	  S_MAKE_PENDING),
	R(SLOT_OK, 0, 0, S_OUT_OF_ORDER),
	R(SLOT_BAD_HASH, F_OTHER_WRITING, 0, S_INSTALL_FAILED),
	R(SLOT_BAD_HASH, 0, 0, S_OUT_OF_ORDER),
	R(SLOT_BAD_IO, F_OTHER_WRITING, 0, S_INSTALL_FAILED),
	R(SLOT_BAD_IO, 0, 0, S_OUT_OF_ORDER),

	/* The simulated bootloader: count the trial, else boot the good. */
	R(BOOT, F_REAL_BOOT, 0, S_BOOT_NOT_SIMULATED),
	R(BOOT, F_PENDING | F_TRIAL_OK | F_TRIES, 0, S_BOOT_TRIAL),
	R(BOOT, 0, F_ACTIVE_GOOD, S_BOOT_NONE),
	R(BOOT, F_PENDING, 0, S_BOOT_FALLBACK),
	R(BOOT, 0, 0, S_BOOT_ACTIVE),

	/* After the boot: confirm the trial that runs, wait for the reboot,
	 * or record that the bootloader fell back. */
	R(RUN, 0, F_PENDING, S_RUN_IDLE),
	R(RUN, F_TRIAL_OK | F_BOOTED_TRIAL, 0, S_CONFIRM),
	R(RUN, F_TRIAL_OK | F_TRIES, 0, S_AWAIT_REBOOT),
	R(RUN, F_TRIAL_OK, 0, S_FALLBACK),
	R(RUN, 0, 0, S_OUT_OF_ORDER),

	/* Operator rollback: cancel the trial, else back to the other slot. */
	R(ROLLBACK, F_PENDING | F_BOOTED_TRIAL, 0, S_CANCEL_RUNNING),
	R(ROLLBACK, F_PENDING, 0, S_CANCEL),
	R(ROLLBACK, 0, F_OTHER_GOOD, S_NO_ROLLBACK_TARGET),
	R(ROLLBACK, 0, 0, S_ROLLBACK_OTHER),
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

static int is_slot(int s)
{
	return s == 0 || s == 1;
}

static unsigned facts_of(const struct bw_dev_state *st,
			 enum bw_ab_input input, const struct bw_ab_facts *f)
{
	int a = is_slot(st->active) ? st->active : 0, o = 1 - a;
	int p = st->pending;
	/* For SYNC the kernel says which slot runs; else the last boot. */
	int running = input == BW_AB_IN_SYNC ? f->cmdline_slot : st->booted;
	unsigned x = 0;

	if (is_slot(p)) {
		x |= F_PENDING;
		if (st->slot_state[p] == BW_DEV_SLOT_PENDING)
			x |= F_TRIAL_OK;
		if (running == p)
			x |= F_BOOTED_TRIAL;
		if (st->attempts_left > 0)
			x |= F_TRIES;
		if (f->env_trial == p)
			x |= F_ENV_ARMED;
		if (f->env_slot == p)
			x |= F_ENV_TRIAL;
	}
	if (st->slot_state[a] == BW_DEV_SLOT_GOOD)
		x |= F_ACTIVE_GOOD;
	if (st->slot_state[o] == BW_DEV_SLOT_GOOD)
		x |= F_OTHER_GOOD;
	if (running == o)
		x |= F_OTHER_RUNNING;
	if (st->slot_state[o] == BW_DEV_SLOT_WRITING)
		x |= F_OTHER_WRITING;
	for (int i = 0; i < BW_DEV_SLOTS; i++)
		if (st->slot_state[i] == BW_DEV_SLOT_WRITING)
			x |= F_WRITING;
	if (st->dl_state == BW_DEV_DL_DONE)
		x |= F_DOWNLOADED;
	if (f->slot_set[o])
		x |= F_SLOT_SET;
	if (bw_ab_bootfw_refused(f->rollback_protection, st->bootfw,
				 st->dl.bootfw))
		x |= F_DOWNGRADE;
	if (f->real_bootloader)
		x |= F_REAL_BOOT;
	if (f->may_write)
		x |= F_MAY_WRITE;
	if (f->env_settled)
		x |= F_ENV_SETTLED;
	return x;
}

int bw_ab_bootfw_refused(int protection, int64_t installed, int64_t candidate)
{
	/* Boot-firmware anti-rollback: never below what is installed. */
	if (!protection || installed < 0 || candidate < 0)
		return 0;
	return candidate < installed;
}

static size_t match(enum bw_ab_input input, unsigned x)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if (rules[i].input == input && (x & rules[i].must) == rules[i].must &&
		    (x & rules[i].must_not) == 0)
			break;
	return i; /* NRULES only for an input with no rows (none) */
}

static void act(struct bw_ab_step *s, enum bw_ab_act_kind k, int arg)
{
	if (s->nact < BW_AB_ACTS_MAX)
		s->act[s->nact++] = (struct bw_ab_action){k, arg};
}

static void clear_slot(struct bw_dev_state *st, int i)
{
	st->slot_state[i] = BW_DEV_SLOT_EMPTY;
	memset(&st->slot[i], 0, sizeof(st->slot[i]));
	st->slot[i].bootfw = -1;
}

/* Give up on slot p: BAD, its target never picked again automatically;
 * the bootloader settles on the active slot last. */
static void abandon(struct bw_ab_step *s, struct bw_dev_state *n, int p)
{
	s->slot = p;
	s->target = n->slot[p];
	n->slot_state[p] = BW_DEV_SLOT_BAD;
	if (n->pending == p) {
		n->pending = -1;
		n->attempts_left = 0;
	}
	s->events = BW_AB_EV_ROLLBACK;
	act(s, BW_AB_ACT_MARK_FAILED, p);
	act(s, BW_AB_ACT_SAVE, 0);
	act(s, BW_AB_ACT_BOOT_SETTLE, 0);
	act(s, BW_AB_ACT_SEND_EVENTS, 0);
}

static void refuse(struct bw_ab_step *s, int code, enum bw_ab_msg msg)
{
	s->exit = code;
	s->msg = msg;
}

/* Start-up steps: repair and learn from the bootloader. */
static void do_startup(struct bw_ab_step *s, enum step step,
		       struct bw_dev_state *n, const struct bw_ab_facts *f)
{
	int p = n->pending;

	switch (step) {
	case S_RECOVER:
		for (int i = 0; i < BW_DEV_SLOTS; i++)
			if (n->slot_state[i] == BW_DEV_SLOT_WRITING) {
				clear_slot(n, i);
				s->recovered[i] = 1;
			}
		/* A pending slot must be PENDING; else a torn install. */
		if (is_slot(p) && n->slot_state[p] != BW_DEV_SLOT_PENDING)
			n->pending = -1;
		s->msg = BW_AB_MSG_RECOVERED;
		act(s, BW_AB_ACT_SAVE, 0);
		break;
	case S_SYNC_ARM:
		/* Recorded as a trial, the bootloader never told (a cut
		 * after the SAVE of PENDING): arm it now. */
		act(s, BW_AB_ACT_BOOT_ARM, p);
		/* fall through */
	case S_SYNC_UNARMED:
		n->booted = f->cmdline_slot;
		if (n->attempts_left <= 0)
			n->attempts_left = f->boot_attempts;
		break;
	case S_SYNC_WAITING:
		n->booted = f->cmdline_slot;
		if (n->attempts_left <= 0)
			n->attempts_left = 1; /* armed, not rebooted yet */
		break;
	case S_SYNC_FELL_BACK:
		/* Armed, yet the bootloader boots another slot: its
		 * fallback gave up on the trial. RUN records it. */
		n->booted = f->cmdline_slot;
		n->attempts_left = 0;
		break;
	case S_SYNC_SETTLE:
		n->booted = f->cmdline_slot;
		act(s, BW_AB_ACT_BOOT_SETTLE, 0);
		break;
	case S_SYNC_BOOTED:
		n->booted = f->cmdline_slot;
		break;
	default:
		break;
	}
}

static void do_install(struct bw_ab_step *s, enum step step,
		       struct bw_dev_state *n, const struct bw_ab_facts *f)
{
	int o = 1 - n->active;

	s->slot = o;
	switch (step) {
	case S_REFUSE_PENDING:
		s->slot = n->pending;
		refuse(s, BW_DEV_EXIT_PENDING, BW_AB_MSG_PENDING);
		break;
	case S_REFUSE_RUNNING:
		refuse(s, BW_DEV_EXIT_NEEDS_REBOOT, BW_AB_MSG_STILL_RUNNING);
		break;
	case S_REFUSE_NO_DOWNLOAD:
		refuse(s, BW_DEV_EXIT_TARGET_NOT_FOUND, BW_AB_MSG_NO_DOWNLOAD);
		break;
	case S_REFUSE_NO_SLOT:
		refuse(s, BW_DEV_EXIT_FAIL, BW_AB_MSG_NO_SLOT);
		break;
	case S_REFUSE_DOWNGRADE:
		s->target = n->dl;
		refuse(s, BW_DEV_EXIT_REFUSED, BW_AB_MSG_DOWNGRADE);
		break;
	case S_VERIFY_DOWNLOAD:
		/* The download could have changed since pull. */
		s->target = n->dl;
		s->exit = BW_AB_CONTINUE;
		act(s, BW_AB_ACT_VERIFY_DOWNLOAD, o);
		break;
	case S_DROP_DOWNLOAD:
		s->target = n->dl;
		n->dl_state = BW_DEV_DL_NONE;
		refuse(s, BW_DEV_EXIT_VERIFY_FAILED, BW_AB_MSG_DOWNLOAD_CHANGED);
		act(s, BW_AB_ACT_DELETE_DOWNLOAD, 0);
		act(s, BW_AB_ACT_SAVE_BEST_EFFORT, 0);
		break;
	case S_WRITE:
		/* Recorded before the first byte: a cut mid-write leaves
		 * WRITING, which RECOVER turns into EMPTY. */
		n->slot_state[o] = BW_DEV_SLOT_WRITING;
		n->slot[o] = n->dl;
		s->target = n->dl;
		s->events = BW_AB_EV_STARTED;
		s->exit = BW_AB_CONTINUE;
		act(s, BW_AB_ACT_SAVE, 0);
		act(s, BW_AB_ACT_WRITE_SLOT, o);
		act(s, BW_AB_ACT_VERIFY_SLOT, o);
		break;
	case S_MAKE_PENDING:
		n->slot_state[o] = BW_DEV_SLOT_PENDING;
		n->pending = o;
		n->attempts_left = f->boot_attempts;
		n->dl_state = BW_DEV_DL_NONE;
		s->target = n->slot[o];
		s->events = BW_AB_EV_APPLIED;
		refuse(s, BW_DEV_EXIT_NEEDS_REBOOT, BW_AB_MSG_INSTALLED);
		act(s, BW_AB_ACT_SAVE, 0);
		act(s, BW_AB_ACT_DELETE_DOWNLOAD, 0);
		/* Verified and recorded: only now may the bootloader try it. */
		act(s, BW_AB_ACT_BOOT_ARM, o);
		act(s, BW_AB_ACT_SEND_EVENTS, 0);
		break;
	case S_INSTALL_FAILED:
		s->target = n->slot[o];
		clear_slot(n, o);
		s->events = BW_AB_EV_FAILED;
		refuse(s, s->exit, BW_AB_MSG_INSTALL_FAILED);
		act(s, BW_AB_ACT_SAVE_BEST_EFFORT, 0);
		break;
	default:
		break;
	}
}

static void do_boot(struct bw_ab_step *s, enum step step,
		    struct bw_dev_state *n)
{
	switch (step) {
	case S_BOOT_NOT_SIMULATED:
		refuse(s, BW_DEV_EXIT_FAIL, BW_AB_MSG_BOOT_NOT_SIMULATED);
		return;
	case S_BOOT_NONE:
		s->slot = n->active;
		refuse(s, BW_DEV_EXIT_FAIL, BW_AB_MSG_NO_BOOTABLE);
		return;
	case S_BOOT_TRIAL:
		n->attempts_left--;
		n->booted = n->pending;
		s->msg = BW_AB_MSG_BOOTING;
		break;
	case S_BOOT_FALLBACK:
		n->booted = n->active;
		s->msg = BW_AB_MSG_BOOT_FALLBACK;
		break;
	default: /* S_BOOT_ACTIVE */
		n->booted = n->active;
		s->msg = BW_AB_MSG_BOOTING;
		break;
	}
	s->slot = n->booted;
	s->exit = BW_DEV_EXIT_OK;
	act(s, BW_AB_ACT_SAVE, 0);
}

static void do_run(struct bw_ab_step *s, enum step step,
		   struct bw_dev_state *n)
{
	int p = n->pending;

	switch (step) {
	case S_RUN_IDLE:
		s->slot = n->active;
		refuse(s, BW_DEV_EXIT_NO_PENDING, BW_AB_MSG_NO_PENDING);
		act(s, BW_AB_ACT_SEND_EVENTS, 0);
		break;
	case S_CONFIRM:
		s->slot = p;
		s->target = n->slot[p];
		n->slot_state[p] = BW_DEV_SLOT_GOOD;
		n->active = p;
		n->pending = -1;
		n->attempts_left = 0;
		if (n->slot[p].bootfw > n->bootfw)
			n->bootfw = n->slot[p].bootfw;
		s->events = BW_AB_EV_CONFIRMED;
		refuse(s, BW_DEV_EXIT_OK, BW_AB_MSG_CONFIRMED);
		/* The bootloader first: a cut after it boots p again and
		 * the next RUN confirms it in the database. */
		act(s, BW_AB_ACT_BOOT_CONFIRM, p);
		act(s, BW_AB_ACT_SAVE, 0);
		act(s, BW_AB_ACT_SEND_EVENTS, 0);
		break;
	case S_AWAIT_REBOOT:
		s->slot = p;
		refuse(s, BW_DEV_EXIT_NEEDS_REBOOT, BW_AB_MSG_AWAIT_REBOOT);
		break;
	case S_FALLBACK:
		refuse(s, BW_DEV_EXIT_ROLLED_BACK, BW_AB_MSG_FELL_BACK);
		abandon(s, n, p);
		break;
	default:
		break;
	}
}

static void do_rollback(struct bw_ab_step *s, enum step step,
			struct bw_dev_state *n)
{
	int a = n->active;

	switch (step) {
	case S_CANCEL_RUNNING:
		/* Still running the trial until the reboot. */
		refuse(s, BW_DEV_EXIT_ROLLBACK_NEEDS_REBOOT, BW_AB_MSG_CANCELLED);
		abandon(s, n, n->pending);
		break;
	case S_CANCEL:
		refuse(s, BW_DEV_EXIT_ROLLED_BACK, BW_AB_MSG_CANCELLED);
		abandon(s, n, n->pending);
		break;
	case S_NO_ROLLBACK_TARGET:
		s->slot = 1 - a;
		refuse(s, BW_DEV_EXIT_NO_ROLLBACK_TARGET,
		       BW_AB_MSG_NO_ROLLBACK_TARGET);
		break;
	case S_ROLLBACK_OTHER:
		/* The switch and the old slot's BAD in one transaction: a
		 * cut before it changes nothing (the operator asks again),
		 * a cut after it leaves only the settle, which SYNC does. */
		n->active = 1 - a;
		refuse(s, BW_DEV_EXIT_ROLLBACK_NEEDS_REBOOT,
		       BW_AB_MSG_ROLLED_BACK);
		abandon(s, n, a);
		break;
	default:
		break;
	}
}

void bw_ab_step(const struct bw_dev_state *in, enum bw_ab_input input,
		const struct bw_ab_facts *f, struct bw_ab_step *s)
{
	unsigned x = facts_of(in, input, f);
	size_t r = match(input, x);
	enum step step = r < NRULES ? rules[r].step : S_OUT_OF_ORDER;
	struct bw_dev_state *n = &s->st;

	memset(s, 0, sizeof(*s));
	s->rule = (int)r;
	s->st = *in;
	s->slot = -1;
	s->target.bootfw = -1;
	s->exit = BW_DEV_EXIT_OK;
	if (input == BW_AB_IN_SLOT_BAD_HASH)
		s->exit = BW_DEV_EXIT_VERIFY_FAILED;
	else if (input == BW_AB_IN_SLOT_BAD_IO)
		s->exit = BW_DEV_EXIT_FAIL;
	if (!is_slot(in->active) && step != S_NOTHING)
		step = S_OUT_OF_ORDER; /* a database no check let through */
	switch (step) {
	case S_NOTHING:
		break;
	case S_OUT_OF_ORDER:
		refuse(s, BW_DEV_EXIT_FAIL, BW_AB_MSG_OUT_OF_ORDER);
		break;
	case S_RECOVER: case S_SYNC_BOOTED: case S_SYNC_ARM:
	case S_SYNC_UNARMED: case S_SYNC_WAITING: case S_SYNC_FELL_BACK:
	case S_SYNC_SETTLE:
		do_startup(s, step, n, f);
		break;
	case S_BOOT_NOT_SIMULATED: case S_BOOT_TRIAL: case S_BOOT_NONE:
	case S_BOOT_FALLBACK: case S_BOOT_ACTIVE:
		do_boot(s, step, n);
		break;
	case S_RUN_IDLE: case S_CONFIRM: case S_AWAIT_REBOOT: case S_FALLBACK:
		do_run(s, step, n);
		break;
	case S_CANCEL_RUNNING: case S_CANCEL: case S_NO_ROLLBACK_TARGET:
	case S_ROLLBACK_OTHER:
		do_rollback(s, step, n);
		break;
	default:
		do_install(s, step, n, f);
		break;
	}
}

const struct bw_dev_state *bw_ab_result(const struct bw_ab_step *s)
{
	return &s->st;
}

int bw_ab_consistent(const struct bw_dev_state *st, const char **why)
{
	int a = st->active, p = st->pending;
	const char *w = NULL;

	if (!is_slot(a))
		w = "no active slot";
	else if (st->slot_state[a] != BW_DEV_SLOT_GOOD)
		w = "the active slot is not GOOD";
	else if (p != -1 && p != 1 - a)
		w = "the pending slot is not the inactive one";
	else if (p >= 0 && st->slot_state[p] != BW_DEV_SLOT_PENDING)
		w = "the pending slot is not PENDING";
	else if (p < 0 && st->slot_state[1 - a] == BW_DEV_SLOT_PENDING)
		w = "a PENDING slot with no trial recorded";
	else if (st->booted != -1 && !is_slot(st->booted))
		w = "the booted slot is not a slot";
	if (why != NULL)
		*why = w;
	return w == NULL;
}

const char *bw_ab_input_name(enum bw_ab_input in)
{
	static const char *const names[BW_AB_INPUTS] = {
		"recover", "sync", "install", "download-ok", "download-bad",
		"slot-ok", "slot-bad-hash", "slot-bad-io", "boot", "run",
		"rollback",
	};

	return (unsigned)in < BW_AB_INPUTS ? names[in] : "?";
}

const char *bw_ab_act_name(enum bw_ab_act_kind k)
{
	static const char *const names[] = {
		"save", "save-best-effort", "mark-failed", "verify-download",
		"write-slot", "verify-slot", "delete-download", "boot-arm",
		"boot-confirm", "boot-settle", "send-events",
	};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

size_t bw_ab_rules(void)
{
	return NRULES;
}

const char *bw_ab_rule_name(size_t i)
{
	return i < NRULES ? step_names[rules[i].step] : "?";
}
