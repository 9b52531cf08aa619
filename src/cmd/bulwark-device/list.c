/* `bulwark-device list`: the cached listing, no network. */
#include "cli.h"
#include "update.h"

int bw_devcmd_list(int argc, char **argv)
{
	return bw_devcmd_simple(
	    argc, argv, "bulwark-device list",
	    "Targets for this device from the last check-in, from the state "
	    "database (no network). Exit 16 if one is newer than the running "
	    "version, 6 if none matches.",
	    bw_dev_list, 1);
}
