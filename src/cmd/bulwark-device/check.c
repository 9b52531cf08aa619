/* `bulwark-device check`: refresh TUF metadata, is a newer version there? */
#include "cli.h"
#include "update.h"

static int check(struct bw_dev *d)
{
	return bw_dev_check(d, 1);
}

int bw_devcmd_check(int argc, char **argv)
{
	return bw_devcmd_simple(
	    argc, argv, "bulwark-device check",
	    "Refresh TUF metadata through the gateway (the device's tag in "
	    "the x-ats-tags header), store the targets for this hardware id "
	    "and tag (`list` shows them), and say whether a newer version "
	    "exists; newer targets that failed here before are named. Exit 16: "
	    "update available; 0: up to date; 6: no matching target; 4: "
	    "server unreachable (state kept); 11: metadata invalid; 12: "
	    "metadata expired.",
	    check, 0);
}
