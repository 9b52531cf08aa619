/*
 * `bulwark repo export`: a static TUF repository from the workspace.
 * `bulwark repo push`: the workspace's offline-signed metadata to bulwarkd.
 */
#include <stdio.h>

#include "repo_cli.h"
#include "server_cli.h"

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
	    BW_CLI_END,
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
	    opts, &out,
	    1,
	    1};
	struct bw_repo *r = NULL;
	struct bw_err err = {0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (prod != (tag != NULL))
		return bw_cli_usage(prog, "--prod and --tag go together");
	rc = bw_repocli_open(prog, repo, &r);
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

static int cmd_push(int argc, char **argv)
{
	static const char *prog = "bulwark repo push";
	const char *repo = NULL, *tag = NULL;
	struct bw_admin_client s = {0};
	struct bw_cli_list names = {0};
	int prod = 0, all = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    BW_ADMIN_OPTS(s),
	    {"--prod", BW_CLI_FLAG, NULL, "production targets of --tag",
	     &prod},
	    {"--tag", BW_CLI_STR, "T", "production tag", &tag},
	    {"--all-tags", BW_CLI_FLAG, NULL,
	     "production targets of every tag", &all},
	    {"--target", BW_CLI_LIST, "NAME",
	     "publish this CI target entry (POST /repo/ci/targets/add)",
	     &names},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--server URL [--prod --tag T | --all-tags | --target NAME]",
	    "Upload to bulwarkd what it does not have yet: every root "
	    "version of both\nflavours above the server's, oldest first; "
	    "then the CI targets, or the\nproduction targets of tag T "
	    "(--prod --tag T) or of every tag (--all-tags),\nwhen newer than "
	    "the server's; with --target NAME, instead of the CI\ntargets, "
	    "the workspace's entry NAME (as `targets add --server`). Safe "
	    "to\nrerun; use it when an upload of `targets ... --server` or "
	    "`keys tuf\nupdates apply --server` failed.",
	    opts, NULL,
	    0,
	    0};
	struct bw_repo *r = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (prod != (tag != NULL) || all + prod + (names.n > 0) > 1)
		return bw_cli_usage(prog, "--prod and --tag go together; "
					  "--all-tags and --target alone");
	rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_admin_push_roots(prog, &s, r);
	for (size_t i = 0; rc == BW_EXIT_OK && i < names.n; i++)
		rc = bw_admin_add_target(prog, &s, r, names.v[i], NULL, NULL);
	if (rc == BW_EXIT_OK && all)
		rc = bw_admin_push_all_tags(prog, &s, r);
	else if (rc == BW_EXIT_OK && names.n == 0)
		rc = bw_admin_push_targets(prog, &s, r, tag);
	bw_repo_free(r);
	return rc;
}

int bw_cmd_repo(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"export", "write a static TUF repository", cmd_export},
	    {"push", "upload roots and targets to bulwarkd", cmd_push},
	};

	return bw_cli_dispatch("bulwark repo", "TUF repository publishing.",
			       cmds, sizeof(cmds) / sizeof(cmds[0]), argc,
			       argv);
}
