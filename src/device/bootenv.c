/*
 * What every real bootloader backend shares: the trial protocol on the
 * variables of bootenv.h, and the booted slot from the kernel command line.
 *
 * Order of writes (a power cut between any two keeps the device bootable
 * into verified bytes only):
 *  - install: the database says PENDING (slot verified) first, then the
 *    environment arms the trial. A cut between them leaves a trial the
 *    bootloader does not know of: sync arms it at the next start-up.
 *  - confirm: the environment first (bulwark_good = the new slot), then
 *    the database. A cut between them boots the new slot again, and run
 *    confirms it in the database.
 *  - rollback, fallback: the database first, then settle. A cut between
 *    them is repaired by settle at the next start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bootenv.h"
#include "agent.h"
#include "lifecycle.h"
#include "crash.h"

#define CMDLINE_MAX 4096 /* the kernel's COMMAND_LINE_SIZE on arm64/x86 */
#define DEFAULT_CMDLINE "/proc/cmdline"

const char *const bw_dev_bootvar_names[BW_DEV_BOOTVARS] = {
	"bulwark_slot", "bulwark_good", "bulwark_trial",
	"upgrade_available", "bootcount", "bootlimit",
};

void bw_dev_bootvars_clear(struct bw_dev_bootvars *v)
{
	v->slot = v->good = v->trial = -1;
	v->upgrade_available = 0;
	v->bootcount = v->bootlimit = 0;
}

static int parse_slot(const char *s)
{
	if (s[0] != '\0' && s[1] == '\0')
		return s[0] == 'a' ? 0 : s[0] == 'b' ? 1 : -1;
	return -1;
}

static long parse_count(const char *s)
{
	uint64_t n = 0;

	return bw_num_parse(s, 1000000, &n) == 0 ? (long)n : 0;
}

void bw_dev_bootvar_parse(struct bw_dev_bootvars *v, int i, const char *val)
{
	switch (i) {
	case 0: v->slot = parse_slot(val); break;
	case 1: v->good = parse_slot(val); break;
	case 2: v->trial = parse_slot(val); break;
	case 3: v->upgrade_available = strcmp(val, "1") == 0; break;
	case 4: v->bootcount = parse_count(val); break;
	case 5: v->bootlimit = parse_count(val); break;
	default: break;
	}
}

void bw_dev_bootvar_format(const struct bw_dev_bootvars *v, int i,
			   char out[24])
{
	int s = i == 0 ? v->slot : i == 1 ? v->good : v->trial;

	if (i <= 2)
		snprintf(out, 24, "%s", s == 0 ? "a" : s == 1 ? "b" : "");
	else
		snprintf(out, 24, "%ld", i == 3 ? (long)v->upgrade_available
				       : i == 4 ? v->bootcount : v->bootlimit);
}

int bw_dev_cmdline_slot(const char *s, size_t len)
{
	static const char key[] = "bulwark.slot=";
	int slot = -1;
	size_t i = 0;

	/* The kernel takes the last of repeated parameters; so do we. */
	while (i < len) {
		size_t j = i;

		while (j < len && s[j] != ' ' && s[j] != '\n' && s[j] != '\t')
			j++;
		if (j - i == sizeof(key) && memcmp(s + i, key, sizeof(key) - 1) == 0)
			slot = s[j - 1] == 'a' ? 0 : s[j - 1] == 'b' ? 1 : -1;
		else if (j - i >= sizeof(key) - 1 &&
			 memcmp(s + i, key, sizeof(key) - 1) == 0)
			slot = -1;
		i = j + 1;
	}
	return slot;
}

static int booted_slot(const struct bw_dev_config *c, int *slot,
		       struct bw_err *err)
{
	const char *path = c->cmdline ? c->cmdline : DEFAULT_CMDLINE;
	struct bw_buf b;
	int rc;

	bw_buf_init(&b, CMDLINE_MAX);
	rc = bw_io_read_file(path, CMDLINE_MAX, &b, err);
	if (rc == 0)
		*slot = bw_dev_cmdline_slot((const char *)b.data, b.len);
	bw_buf_dispose(&b);
	return rc;
}

static int env_write(struct bw_dev *d, const struct bw_dev_bootvars *v,
		     struct bw_err *err)
{
	int rc = d->boot->env->write(&d->cfg, v, err);

	if (rc == 0)
		bw_dev_durable("boot environment written");
	return rc;
}

static int real_arm(struct bw_dev *d, int slot, struct bw_err *err)
{
	struct bw_dev_bootvars v;
	int rc = d->boot->env->read(&d->cfg, &v, err);

	if (rc != 0)
		return rc;
	v.slot = slot;
	v.trial = slot;
	v.good = d->st.active;
	v.upgrade_available = 1;
	v.bootcount = 0;
	v.bootlimit = d->cfg.boot_attempts;
	return env_write(d, &v, err);
}

static int real_confirm(struct bw_dev *d, int slot, struct bw_err *err)
{
	struct bw_dev_bootvars v;
	int rc = d->boot->env->read(&d->cfg, &v, err);

	if (rc != 0)
		return rc;
	v.slot = slot;
	v.good = slot;
	v.trial = -1;
	v.upgrade_available = 0;
	v.bootcount = 0;
	return env_write(d, &v, err);
}

static int real_settle(struct bw_dev *d, struct bw_err *err)
{
	struct bw_dev_bootvars v;
	int a = d->st.active;
	int rc = d->boot->env->read(&d->cfg, &v, err);

	if (rc != 0)
		return rc;
	if (v.slot == a && v.good == a && v.trial < 0 &&
	    v.upgrade_available == 0)
		return 0;
	v.slot = a;
	v.good = a;
	v.trial = -1;
	v.upgrade_available = 0;
	v.bootcount = 0;
	return env_write(d, &v, err);
}

/* The bootloader's view for the state machine: which slot the kernel
 * says runs, and the trial variables when they matter (a pending slot
 * not running, or nothing pending and the env to settle). */
static int real_view(struct bw_dev *d, int may_write, struct bw_ab_facts *f,
		     struct bw_err *err)
{
	struct bw_dev_bootvars v;
	int p = d->st.pending, a = d->st.active;
	int rc = booted_slot(&d->cfg, &f->cmdline_slot, err);

	if (rc != 0 || !((p >= 0 && f->cmdline_slot != p) ||
			 (p < 0 && may_write)))
		return rc;
	if ((rc = d->boot->env->read(&d->cfg, &v, err)) != 0)
		return rc;
	f->env_slot = v.slot;
	f->env_trial = v.trial;
	f->env_settled = v.slot == a && v.good == a && v.trial < 0 &&
			 v.upgrade_available == 0;
	return 0;
}

/* Learn what the bootloader did (abstate.c decides: armed, waiting,
 * fallen back) and repair what a power cut left half done. */
static int real_sync(struct bw_dev *d, int may_write, struct bw_err *err)
{
	struct bw_ab_facts f;
	struct bw_ab_step s;
	int rc;

	bw_dev_ab_facts(d, &f);
	f.may_write = may_write;
	if ((rc = real_view(d, may_write, &f, err)) != 0)
		return rc;
	bw_ab_step(&d->st, BW_AB_IN_SYNC, &f, &s);
	for (size_t i = 0; i < s.nact && rc == 0; i++)
		if (s.act[i].kind == BW_AB_ACT_BOOT_ARM)
			rc = real_arm(d, s.act[i].arg, err);
		else if (s.act[i].kind == BW_AB_ACT_BOOT_SETTLE)
			rc = real_settle(d, err);
	if (rc == 0)
		d->st = *bw_ab_result(&s); /* booted, attempts: in memory */
	return rc;
}

static const struct bw_dev_boot_ops uboot = {
	"uboot", &bw_dev_bootenv_uboot, real_arm, real_sync, real_confirm,
	real_settle,
};
static const struct bw_dev_boot_ops grub = {
	"grub", &bw_dev_bootenv_grub, real_arm, real_sync, real_confirm,
	real_settle,
};

const struct bw_dev_boot_ops *bw_dev_boot_ops_find(const char *name)
{
	static const struct bw_dev_boot_ops *all[] = {
	    &bw_dev_boot_simulated, &uboot, &grub};

	if (name == NULL)
		return &bw_dev_boot_simulated;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
