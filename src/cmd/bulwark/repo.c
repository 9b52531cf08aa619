/*
 * `bulwark repo export`: a static TUF repository from the workspace.
 */
#include <stdio.h>

#include "repo_cli.h"

static int cmd_export(int argc, char **argv)
{
	static const char *prog = "bulwark repo export";
	const char *repo = NULL, *tag = NULL, *out = NULL;
	int prod = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--prod", BW_CLI_FLAG, NULL, "the production flavour of --tag",
	     &prod},
	    {"--tag", BW_CLI_STR, "T", "production tag", &tag},
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "OUT [--prod --tag T]",
	    "Write a static TUF repository to OUT (must not exist): "
	    "OUT/metadata/ with\nN.root.json for every root version, "
	    "root.json, timestamp.json, snapshot.json,\ntargets.json and the "
	    "consistent-snapshot names N.snapshot.json and\n"
	    "N.targets.json; OUT/targets/ with each target under its name "
	    "and as\n<sha256>.<name> and <sha512>.<name>. Any static HTTP "
	    "server can publish it;\nit is also an offline bundle (file://).",
	    opts,
	    sizeof(opts) / sizeof(opts[0]),
	    &out,
	    1,
	    1};
	struct bw_repo *r = NULL;
	struct bw_err err = {0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (prod != (tag != NULL))
		return bw_cli_usage(prog, "--prod and --tag go together");
	rc = bw_cli_repo_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_export(r, out, prod, tag, &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	else
		printf("exported %s%s%s to %s\n", prod ? "production:" : "CI",
		       prod ? tag : "", "", out);
	bw_repo_free(r);
	return rc;
}

int bw_cli_repo(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"export", "write a static TUF repository", cmd_export},
	};

	return bw_cli_dispatch("bulwark repo", "TUF repository publishing.",
			       cmds, sizeof(cmds) / sizeof(cmds[0]), argc,
			       argv);
}
