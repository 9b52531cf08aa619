/* `bulwark-device rollback`: operator-initiated fallback. */
#include "cli.h"
#include "lifecycle.h"

int bw_devcmd_rollback(int argc, char **argv)
{
	return bw_devcmd_simple(
	    argc, argv, "bulwark-device rollback",
	    "Cancel the pending installation, or go back to the previous good "
	    "slot. The abandoned target is not picked again automatically. "
	    "Exit 110, or 120 when a reboot is needed.",
	    bw_dev_rollback, 0);
}
