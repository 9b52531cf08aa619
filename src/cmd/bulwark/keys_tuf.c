/*
 * `bulwark keys tuf ...`: the offline TUF keys of a factory: show and
 * verify the root chain, rotate offline keys, and the multi-person key
 * ceremony (`updates ...`, keys_tuf_updates.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bulwark/buf.h"

#include "bulwark/json.h"
#include "repo_cli.h"

static int cmd_show_root(int argc, char **argv)
{
	static const char *prog = "bulwark keys tuf show-root";
	const char *repo = NULL, *ver = NULL;
	int prod = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--prod", BW_CLI_FLAG, NULL, "the production flavour", &prod},
	    {"--version", BW_CLI_STR, "N", "root version (latest)", &ver},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "[--prod] [--version N]",
	    "Print a root.json of the factory (CI flavour unless --prod), "
	    "as served.",
	    opts, NULL,
	    0,
	    0};
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	uint8_t *b = NULL;
	size_t n = 0;
	int64_t v = 0;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (ver != NULL)
		rc = bw_cli_int(prog, "--version", ver, 1, INT64_MAX, &v);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_root_read(r, prod, v, &b, &n, &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	else if (fwrite(b, 1, n, stdout) != n || putchar('\n') == EOF)
		rc = bw_cli_fail(prog, "write failed");
	free(b);
	bw_repo_free(r);
	return rc;
}

/* An exported repository rather than a workspace. */
static int is_export(const char *dir)
{
	char *a = NULL, *b = NULL;
	int yes = bw_path_join(dir, "factory.json", &a) == 0 &&
		  bw_path_join(dir, "metadata/1.root.json", &b) == 0 &&
		  access(a, F_OK) != 0 && access(b, F_OK) == 0;

	free(a);
	free(b);
	return yes;
}

static int verify_export(const char *prog, const char *dir)
{
	struct bw_err err = {0};
	char *abs = realpath(dir, NULL);
	int rc = BW_EXIT_OK;

	if (abs == NULL)
		return bw_cli_fail(prog, "%s: cannot resolve", dir);
	if (bw_repo_verify_export(abs, bw_repocli_report, NULL, &err) != 0)
		rc = bw_cli_fail(prog, "verification failed: %s", err.msg);
	free(abs);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	static const char *prog = "bulwark keys tuf verify";
	const char *repo = NULL, *dir = NULL;
	int done = 0, rc;
	const struct bw_cli_opt opts[] = {REPO_OPT(repo),
	BW_CLI_END
};
	const struct bw_cli_spec spec = {
	    prog,
	    "[DIR]",
	    "Check the whole repository in workspace DIR (or --repo) as a "
	    "device would\n(DIR may also be an export from `bulwark repo "
	    "export`):\nfor CI and every production tag, export it and "
	    "run the TUF client over\nfile:// from root version 1 through "
	    "every root version to the latest\ntargets, downloading every "
	    "target. Warns about roles that expire within\n30 days (the "
	    "timestamp, which the server renews, only once expired).",
	    opts, &dir,
	    0,
	    1};
	struct bw_repo *r = NULL;
	struct bw_err err = {0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (dir != NULL && repo != NULL)
		return bw_cli_usage(prog, "give DIR or --repo, not both");
	if (dir != NULL && is_export(dir))
		return verify_export(prog, dir);
	rc = bw_repocli_open(prog, dir != NULL ? dir : repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_verify(r, bw_repocli_report, NULL, &err) != 0)
		rc = bw_cli_fail(prog, "verification failed: %s", err.msg);
	else
		printf("repository of '%s' verified (root v%" PRId64 ")\n",
		       bw_repo_name(r), bw_repo_root_version(r));
	bw_repo_free(r);
	return rc;
}

int bw_cmd_keys_tuf(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"show-root", "print a root.json", cmd_show_root},
	    {"verify", "check the repository as a client would", cmd_verify},
	    {"rotate-offline-key",
	     "one admin: replace an offline key and sign the new root",
	     bw_cmd_keys_tuf_rotate},
	    {"updates", "multi-person key ceremony (proposal file)",
	     bw_cmd_keys_tuf_updates},
	};

	return bw_cli_dispatch(
	    "bulwark keys tuf", "Offline TUF keys (root, production targets).",
	    cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
