/*
 * The bootloader as the agent sees it: one backend per bootloader behind a
 * small ops struct (bootenv_uboot.c: U-Boot environment through
 * libubootenv; bootenv_grub.c: a GRUB environment block; bootenv_simulated.c:
 * the state database plays the bootloader). bootenv.c holds the logic all
 * real bootloaders share: arm a trial boot, learn after the reboot which slot
 * booted and whether the bootloader fell back, confirm, settle.
 *
 * The variables, the same for every real bootloader (docs/device.md has
 * boot scripts that read them):
 *   bulwark_slot        slot the bootloader boots next: "a" or "b"
 *   bulwark_good        last confirmed slot; the fallback boots it
 *   bulwark_trial       slot on trial ("" none): lets the agent tell a
 *                       fallback from a trial that was never armed
 *   upgrade_available   "1" while a trial runs: the bootloader counts boots
 *   bootcount           boots counted during the trial
 *   bootlimit           boots allowed before the fallback (altbootcmd)
 * The booted slot comes from the kernel command line (`bulwark.slot=a|b`,
 * added by the boot script), never from the environment alone.
 */
#ifndef BW_DEVICE_BOOTENV_H
#define BW_DEVICE_BOOTENV_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/error.h"

struct bw_dev;
struct bw_dev_config;

/* Slots are 0 (A) and 1 (B); -1 means unset or not a slot name. */
struct bw_dev_bootvars {
	int slot;              /* bulwark_slot */
	int good;              /* bulwark_good */
	int trial;             /* bulwark_trial */
	int upgrade_available; /* 0 or 1 */
	long bootcount;
	long bootlimit;
};

/* The variables by index, in the order of bw_dev_bootvar_names. */
#define BW_DEV_BOOTVARS 6
extern const char *const bw_dev_bootvar_names[BW_DEV_BOOTVARS];
/* Unset: slots -1, upgrade_available and counts 0. */
void bw_dev_bootvars_clear(struct bw_dev_bootvars *v);
/* Set variable i from the environment's text (untrusted: anything that is
 * not a slot name or a number in range reads as unset). */
void bw_dev_bootvar_parse(struct bw_dev_bootvars *v, int i, const char *val);
/* Variable i as text; "" for an unset slot (the backend deletes it). */
void bw_dev_bootvar_format(const struct bw_dev_bootvars *v, int i,
			   char out[24]);

/* A real bootloader's environment: read and write the variables. */
struct bw_dev_bootenv_ops {
	const char *name;
	/* Read the variables (missing ones as -1 / 0). */
	int (*read)(const struct bw_dev_config *c, struct bw_dev_bootvars *v,
		    struct bw_err *err);
	/* Write all of v in one power-safe write, keeping other variables. */
	int (*write)(const struct bw_dev_config *c,
		     const struct bw_dev_bootvars *v, struct bw_err *err);
};

extern const struct bw_dev_bootenv_ops bw_dev_bootenv_uboot;
extern const struct bw_dev_bootenv_ops bw_dev_bootenv_grub;

/*
 * What the lifecycle asks of the bootloader. The simulated backend keeps
 * today's behaviour (`bulwark-device boot` plays the bootloader on the
 * state database); the real ones go through bootenv.c.
 */
struct bw_dev_boot_ops {
	const char *name;
	const struct bw_dev_bootenv_ops *env; /* NULL: simulated */
	/* Start a trial boot of slot (d->st already says PENDING, saved). */
	int (*arm)(struct bw_dev *d, int slot, struct bw_err *err);
	/* At start-up: set d->st.booted, and for a pending slot that the
	 * bootloader gave up on, d->st.attempts_left = 0 (in memory). With
	 * may_write, also repair what a power cut left half done: a trial
	 * the database records but the bootloader was never told of is
	 * armed; with nothing pending, the bootloader is settled. */
	int (*sync)(struct bw_dev *d, int may_write, struct bw_err *err);
	/* Make slot the confirmed one, before the database records it. */
	int (*confirm)(struct bw_dev *d, int slot, struct bw_err *err);
	/* Point the bootloader at d->st.active with no trial (after a
	 * rollback, and to repair a power cut between database and env). */
	int (*settle)(struct bw_dev *d, struct bw_err *err);
};

extern const struct bw_dev_boot_ops bw_dev_boot_simulated;

/* The backend named by [boot] bootloader ("simulated" when unset). */
const struct bw_dev_boot_ops *bw_dev_boot_ops_find(const char *name);

/* "bulwark.slot=a" in a kernel command line: 0, 1 or -1 (absent/bad). */
int bw_dev_cmdline_slot(const char *cmdline, size_t len);

/* ---- GRUB environment block (bootenv_grub.c) ---------------------------- */

#define BW_GRUBENV_SIZE 1024

struct bw_grubenv_var {
	char *name, *value; /* value unescaped */
};

struct bw_grubenv {
	struct bw_grubenv_var *vars;
	size_t n;
};

/* Parse a block in grub-editenv's format: exactly 1024 bytes, the
 * signature line, "name=value\n" lines (backslash escapes), '#' padding.
 * BW_EFORMAT on anything else. */
int bw_grubenv_parse(const uint8_t *data, size_t len, struct bw_grubenv *env,
		     struct bw_err *err);
/* Set (or add) name; value must not contain NUL. */
int bw_grubenv_set(struct bw_grubenv *env, const char *name,
		   const char *value);
void bw_grubenv_unset(struct bw_grubenv *env, const char *name);
const char *bw_grubenv_get(const struct bw_grubenv *env, const char *name);
/* Serialize to out[BW_GRUBENV_SIZE]; BW_ETOOBIG when it does not fit. */
int bw_grubenv_serialize(const struct bw_grubenv *env,
			 uint8_t out[BW_GRUBENV_SIZE], struct bw_err *err);
void bw_grubenv_dispose(struct bw_grubenv *env);

#endif
