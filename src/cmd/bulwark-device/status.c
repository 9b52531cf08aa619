/* `bulwark-device status`: state summary. */
#include "cli.h"
#include "lifecycle.h"

int bw_devcmd_status(int argc, char **argv)
{
	return bw_devcmd_simple(
	    argc, argv, "bulwark-device status",
	    "Current and pending target, slot states, boot attempts, download, "
	    "boot firmware version, last check-in, queued events.",
	    bw_dev_status, 1);
}
