/* `bulwark-device run`: after a reboot, confirm or roll back. */
#include "cli.h"
#include "lifecycle.h"

int bw_devcmd_run(int argc, char **argv)
{
	return bw_devcmd_simple(
	    argc, argv, "bulwark-device run",
	    "After a reboot: confirm the pending slot if it booted (exit 0), "
	    "record the rollback if its boot attempts ran out (exit 110), or "
	    "say a reboot is still needed (exit 100). Exit 40: nothing "
	    "pending.",
	    bw_dev_run, 0);
}
