/* `bulwark-device rotate-cert`: renew the device certificate over EST. */
#include "cli.h"
#include "rotate.h"

int bw_devcmd_rotate_cert(int argc, char **argv)
{
	const char *prog = "bulwark-device rotate-cert";
	const char *config = NULL;
	int if_due = 0, verbose = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--config", BW_CLI_STR, "FILE", "agent configuration", &config},
		{"--if-due", BW_CLI_FLAG, NULL, "only inside the renewal window "
		 "or when the server asks (what the daemon does)", &if_due},
		{"--verbose", BW_CLI_FLAG, NULL, "say more", &verbose},
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "[--config FILE] [--if-due]",
		"Finish or undo an interrupted rotation, then make a new key in "
		"the token under a new label, send a CSR signed by it to the "
		"EST server's simplereenroll authenticated by the current key, "
		"store the new certificate in the token and as a file, switch "
		"the identity, check in with the new certificate and delete the "
		"old key. A journal in the state directory makes every step "
		"safe against power loss. Exit 4: the server was unreachable "
		"(run again later; the journal keeps the step).",
		opts, NULL, 0, 0};
	struct bw_dev *d = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_devcmd_open(prog, config, 0, &d);
	if (rc != BW_EXIT_OK)
		return rc;
	d->verbose = verbose;
	rc = bw_dev_rotate(d, if_due ? BW_DEV_ROTATE_IF_DUE : BW_DEV_ROTATE_NOW);
	bw_dev_free(d);
	return rc;
}
