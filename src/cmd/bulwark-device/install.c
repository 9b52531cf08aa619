/* `bulwark-device install`: write the pulled target into the inactive slot. */
#include "cli.h"
#include "lifecycle.h"

int bw_devcmd_install(int argc, char **argv)
{
	return bw_devcmd_simple(
	    argc, argv, "bulwark-device install",
	    "Write the pulled target into the inactive slot, read it back "
	    "against its signed sha256, mark it pending with the boot-attempt "
	    "counter. Exit 100: reboot needed.",
	    bw_dev_install, 0);
}
