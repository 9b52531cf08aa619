/*
 * The A/B state machine as pure transitions (abstate.c): the state the
 * device recorded plus one input give the new state, the list of actions
 * to perform in order, the exit code and the message. No I/O, no clock,
 * no network: lifecycle.c (and bootenv.c for the bootloader's view)
 * gather the facts, call bw_ab_step and perform the actions.
 *
 * One table decides: each row names an input, the facts that must hold,
 * the facts that must not, and the step to take; the first matching row
 * wins, and every input ends in a catch-all row.
 */
#ifndef BW_DEV_ABSTATE_H
#define BW_DEV_ABSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

enum bw_ab_input {
	BW_AB_IN_RECOVER,       /* start-up: repair a torn install */
	BW_AB_IN_SYNC,          /* start-up: the real bootloader's view */
	BW_AB_IN_INSTALL,       /* operator: install the download */
	BW_AB_IN_DOWNLOAD_OK,   /* the download still matches its signed hash */
	BW_AB_IN_DOWNLOAD_BAD,
	BW_AB_IN_SLOT_OK,       /* slot written, fsync'd, read back as signed */
	BW_AB_IN_SLOT_BAD_HASH, /* slot read back different from signed */
	BW_AB_IN_SLOT_BAD_IO,   /* slot could not be written or read */
	BW_AB_IN_BOOT,          /* the simulated bootloader boots */
	BW_AB_IN_RUN,           /* after boot: confirm, wait or fall back */
	BW_AB_IN_ROLLBACK,      /* operator: roll back */
	BW_AB_INPUTS
};

/* What the executor knows besides the recorded state. */
struct bw_ab_facts {
	long boot_attempts;      /* [update] boot_attempts */
	int rollback_protection; /* [update] boot-firmware anti-rollback */
	int slot_set[BW_DEV_SLOTS]; /* [update] slot_a / slot_b configured */
	int real_bootloader;     /* [boot] bootloader is not simulated */
	int may_write;           /* this run holds the state lock */
	/* The real bootloader's view, read for BW_AB_IN_SYNC: */
	int cmdline_slot;        /* bulwark.slot= of the kernel, -1 none */
	int env_slot;            /* bulwark_slot, -1 unset */
	int env_trial;           /* bulwark_trial, -1 unset */
	int env_settled;         /* env points at active, no trial */
};

enum bw_ab_act_kind {
	BW_AB_ACT_SAVE,          /* write the step's new state and queue its
				  * events, one transaction */
	BW_AB_ACT_SAVE_BEST_EFFORT, /* the same; a failure is reported and the
				     * step goes on (the outcome is already
				     * a failure) */
	BW_AB_ACT_MARK_FAILED,   /* the step's target: never picked again */
	BW_AB_ACT_VERIFY_DOWNLOAD, /* result fed back: DOWNLOAD_OK / _BAD */
	BW_AB_ACT_WRITE_SLOT,    /* download -> slot arg, fsync */
	BW_AB_ACT_VERIFY_SLOT,   /* result fed back: SLOT_OK / SLOT_BAD_* */
	BW_AB_ACT_DELETE_DOWNLOAD,
	BW_AB_ACT_BOOT_ARM,      /* bootloader: trial of slot arg */
	BW_AB_ACT_BOOT_CONFIRM,  /* bootloader: slot arg is the good one */
	BW_AB_ACT_BOOT_SETTLE,   /* bootloader: active slot, no trial */
	BW_AB_ACT_SEND_EVENTS,   /* upload queued events (best effort) */
};

struct bw_ab_action {
	enum bw_ab_act_kind kind;
	int arg;
};

/* Events queued with a BW_AB_ACT_SAVE, about the step's target. */
enum bw_ab_events {
	BW_AB_EV_NONE,
	BW_AB_EV_STARTED,    /* EcuInstallationStarted */
	BW_AB_EV_APPLIED,    /* EcuInstallationApplied */
	BW_AB_EV_FAILED,     /* EcuInstallationCompleted, failure: the error */
	BW_AB_EV_CONFIRMED,  /* EcuInstallationCompleted, success */
	BW_AB_EV_ROLLBACK,   /* EcuInstallationCompleted failure + EcuRollback */
};

/* Why a step ended the way it did (the executor prints it). */
enum bw_ab_msg {
	BW_AB_MSG_NONE,
	BW_AB_MSG_PENDING,        /* install: a trial is pending */
	BW_AB_MSG_STILL_RUNNING,  /* install: the target slot is running */
	BW_AB_MSG_NO_DOWNLOAD,
	BW_AB_MSG_NO_SLOT,        /* [update] slot_x not set */
	BW_AB_MSG_DOWNGRADE,      /* boot firmware below the installed */
	BW_AB_MSG_DOWNLOAD_CHANGED,
	BW_AB_MSG_INSTALL_FAILED,
	BW_AB_MSG_INSTALLED,
	BW_AB_MSG_BOOT_NOT_SIMULATED,
	BW_AB_MSG_NO_BOOTABLE,
	BW_AB_MSG_BOOTING,        /* booting step.slot (trial or not) */
	BW_AB_MSG_BOOT_FALLBACK,  /* trial attempts used up: booting active */
	BW_AB_MSG_NO_PENDING,
	BW_AB_MSG_CONFIRMED,
	BW_AB_MSG_AWAIT_REBOOT,
	BW_AB_MSG_FELL_BACK,      /* the trial did not boot: rolled back */
	BW_AB_MSG_CANCELLED,      /* operator cancelled the trial */
	BW_AB_MSG_ROLLED_BACK,    /* operator rolled back to the other slot */
	BW_AB_MSG_NO_ROLLBACK_TARGET,
	BW_AB_MSG_RECOVERED,      /* a torn install was undone */
	BW_AB_MSG_OUT_OF_ORDER,   /* an input that does not fit the state */
};

#define BW_AB_ACTS_MAX 8
#define BW_AB_CONTINUE (-1) /* exit: feed the result of the last action */

struct bw_ab_step {
	int rule;                /* index of the table row that matched */
	struct bw_dev_state st;  /* the state after the step */
	struct bw_ab_action act[BW_AB_ACTS_MAX];
	size_t nact;
	enum bw_ab_events events;
	struct bw_dev_target target; /* what the step is about */
	int slot;                /* the slot acted on, -1 none */
	int exit;                /* BW_DEV_EXIT_*, or BW_AB_CONTINUE */
	enum bw_ab_msg msg;
	int recovered[BW_DEV_SLOTS]; /* RECOVER: slot found WRITING */
};

/* The transition: pure, deterministic, total (every state and input has
 * an answer). out->st is the state after the step; when no action saves,
 * it equals *in except in-memory fields (booted, attempts_left after
 * SYNC). */
void bw_ab_step(const struct bw_dev_state *in, enum bw_ab_input input,
		const struct bw_ab_facts *f, struct bw_ab_step *out);

/* The boot-firmware anti-rollback rule (the one owner; pull and install
 * both ask it): with protection on and both versions known, is candidate
 * below the installed version? */
int bw_ab_bootfw_refused(int protection, int64_t installed, int64_t candidate);

/* The new state of a step. */
const struct bw_dev_state *bw_ab_result(const struct bw_ab_step *s);

/* Does the state keep the invariants a power cut must never break (active
 * slot GOOD, a pending slot is the other one and PENDING, no second
 * trial)? 1 yes, 0 no; *why names the first broken one. */
int bw_ab_consistent(const struct bw_dev_state *st, const char **why);

/* Names for logs and tests. */
const char *bw_ab_input_name(enum bw_ab_input in);
const char *bw_ab_act_name(enum bw_ab_act_kind k);
/* Number of table rows; the name of row i's step. */
size_t bw_ab_rules(void);
const char *bw_ab_rule_name(size_t i);

#endif
