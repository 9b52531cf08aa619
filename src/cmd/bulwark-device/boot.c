/* `bulwark-device boot`: the bootloader's part (tests, systems without one). */
#include "cli.h"
#include "lifecycle.h"

int bw_devcmd_boot(int argc, char **argv)
{
	return bw_devcmd_simple(
	    argc, argv, "bulwark-device boot",
	    "Play the bootloader: a pending slot with attempts left is tried "
	    "(one attempt used), otherwise the confirmed slot boots. Only "
	    "verified slots are ever chosen.",
	    bw_dev_boot, 0);
}
