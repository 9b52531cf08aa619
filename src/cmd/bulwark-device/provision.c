/* `bulwark-device provision --root FILE`: the factory's TUF root. */
#include "agent.h"
#include "bulwark/buf.h"
#include "bulwark/tuf.h"
#include "cli.h"

int bw_devcmd_provision(int argc, char **argv)
{
	const char *prog = "bulwark-device provision";
	const char *config = NULL, *root = NULL;
	struct bw_err err = {0};
	struct bw_buf b;
	struct bw_dev *d = NULL;
	int done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--config", BW_CLI_STR, "FILE", "agent configuration", &config},
		{"--root", BW_CLI_STR | BW_CLI_REQUIRED, "FILE", "the factory's root.json (CI "
		 "or production flavour)", &root},
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "--root FILE [--config FILE]",
		"Trust this root.json (it must be signed by its own root keys) "
		"as the start of the device's TUF root chain: no trust on first "
		"use. Done once, at manufacturing.",
		opts, NULL, 0, 0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_devcmd_open(prog, config, 0, &d);
	if (rc != BW_EXIT_OK)
		return rc;
	bw_buf_init(&b, 512u * 1024u);
	rc = bw_io_read_file(root, b.max, &b, &err);
	if (rc == 0)
		rc = bw_tuf_trust_root(d->mdir, b.data, b.len, &err);
	bw_buf_dispose(&b);
	bw_dev_free(d);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}
