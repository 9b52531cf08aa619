/*
 * The simulated bootloader: the state database is the bootloader's memory
 * and `bulwark-device boot` (lifecycle.c) counts the attempts and falls
 * back. For tests, the demo, and systems whose bootloader bulwark does not
 * drive. Nothing else to tell it, so every hook is a no-op.
 */
#include "bootenv.h"
#include "agent.h"

static int sim_arm(struct bw_dev *d, int slot, struct bw_err *err)
{
	(void)d, (void)slot, (void)err;
	return 0;
}

static int sim_sync(struct bw_dev *d, int may_write, struct bw_err *err)
{
	(void)d, (void)may_write, (void)err;
	return 0;
}

static int sim_settle(struct bw_dev *d, struct bw_err *err)
{
	(void)d, (void)err;
	return 0;
}

const struct bw_dev_boot_ops bw_dev_boot_simulated = {
	"simulated", NULL, sim_arm, sim_sync, sim_arm, sim_settle,
};
