/*
 * `bulwark keys tuf updates sign | sign-prod-targets | review | apply |
 * cancel`: signing the proposal and committing it (keys_tuf_updates.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"
#include "keys_tuf_updates.h"
#include "repo_cli.h"
#include "server_cli.h"

static int do_sign(int argc, char **argv, int targets)
{
	struct up u = {.prog = targets ? "bulwark keys tuf updates "
					 "sign-prod-targets"
				       : "bulwark keys tuf updates sign"};
	const struct bw_cli_opt root_opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_KEYS(u),
	    BW_CLI_END,
	};
	const struct bw_cli_opt targets_opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_KEYS(u),
	    {"--tag", BW_CLI_STR, "T", "only this tag (sign-prod-targets)",
	     &u.tag},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "--keys ARCHIVE...",
	    targets ? "Sign the next production targets of every tag (or "
		      "--tag) for the proposed\nroot with your offline "
		      "targets keys."
		    : "Sign the proposed root (both flavours) with your "
		      "root keys: keys of the\ncurrent root and of the "
		      "proposed root both count (TUF 5.3.4).",
	    targets ? targets_opts : root_opts, NULL,
	    0,
	    0};
	struct bw_repo_keys k;
	struct bw_err err = {0};
	size_t n = 0;
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_tufup_up_open(&u, 1);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_keys(u.prog, u.r, &u.keys, u.pin_file, &k);
	if (rc != BW_EXIT_OK) {
		bw_tufup_up_close(&u);
		return rc;
	}
	rc = targets
		 ? bw_repo_proposal_sign_targets(u.r, u.p, u.tag, &k, &n, &err)
		 : bw_repo_proposal_sign(u.r, u.p, &k, &n, &err);
	bw_repo_keys_dispose(&k);
	if (rc == 0)
		printf("%zu signature(s) added\n", n);
	return bw_tufup_up_save(&u, rc, &err);
}

int bw_tufup_sign(int argc, char **argv)
{
	return do_sign(argc, argv, 0);
}

int bw_tufup_sign_targets(int argc, char **argv)
{
	return do_sign(argc, argv, 1);
}

/* After apply: --server gets the new roots and re-signed targets. */
static int push_applied(struct up *u, const struct bw_admin_client *s)
{
	printf("root v%lld applied\n", (long long)bw_repo_root_version(u->r));
	if (s->server == NULL)
		return BW_EXIT_OK;
	if (bw_admin_push_roots(u->prog, s, u->r) != BW_EXIT_OK ||
	    bw_admin_push_all_tags(u->prog, s, u->r) != BW_EXIT_OK)
		return bw_admin_upload_failed(u->prog,
					    "bulwark repo push --server URL "
					    "--all-tags");
	return BW_EXIT_OK;
}

static int review_or_apply(int argc, char **argv, int apply)
{
	struct up u = {.prog = apply ? "bulwark keys tuf updates apply"
				     : "bulwark keys tuf updates review"};
	struct bw_admin_client s = {0};
	const struct bw_cli_opt review_opts[] = {OPT_REPO(u), OPT_PROPOSAL(u),
						 BW_CLI_END};
	const struct bw_cli_opt apply_opts[] = {OPT_REPO(u), OPT_PROPOSAL(u),
						BW_ADMIN_OPTS(s), BW_CLI_END};
	const struct bw_cli_spec spec = {
	    u.prog,
	    apply ? "[--proposal F] [--server URL]" : "[--proposal F]",
	    apply ? "Re-verify the proposal (the new root signed by the "
		    "threshold of the old root\nAND of the new root, both "
		    "flavours; production targets under the new\nroot) and "
		    "commit the new versions atomically. With --server, then "
		    "upload\nthe new roots of both flavours and every "
		    "production tag's targets that\nare newer than the "
		    "server's (as `bulwark repo push`)."
		  : "Print the proposed changes and problems (thresholds "
		    "above key counts,\nexpiry within 30 days, root keys "
		    "sharing an archive, missing signatures).\nExit 1 when "
		    "there are problems.",
	    apply ? apply_opts : review_opts, NULL,
	    0,
	    0};
	struct bw_err err = {0};
	size_t problems = 0;
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_admin_ready(u.prog, &s, 0);
	if (rc == BW_EXIT_OK)
		rc = bw_tufup_up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	if (apply && bw_repo_proposal_apply(u.r, u.p, u.path, &err) != 0)
		rc = bw_cli_fail(u.prog, "refused: %s (workspace unchanged)",
				 err.msg);
	else if (apply)
		rc = push_applied(&u, &s);
	else if (bw_repo_proposal_review(u.r, u.p, bw_repocli_report, NULL,
					 &problems, &err) != 0)
		rc = bw_cli_fail(u.prog, "%s", err.msg);
	else if (problems > 0)
		rc = bw_cli_fail(u.prog, "%zu problem(s)", problems);
	bw_tufup_up_close(&u);
	return rc;
}

int bw_tufup_review(int argc, char **argv)
{
	return review_or_apply(argc, argv, 0);
}

int bw_tufup_apply(int argc, char **argv)
{
	return review_or_apply(argc, argv, 1);
}

int bw_tufup_cancel(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates cancel"};
	const struct bw_cli_opt opts[] = {OPT_REPO(u), OPT_PROPOSAL(u),
	BW_CLI_END
};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "[--proposal F]",
	    "Drop the proposal and any proposed online keys.",
	    opts, NULL,
	    0,
	    0};
	static const char *const online[] = {"targets", "snapshot",
					     "timestamp"};
	struct bw_err err = {0};
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_tufup_up_open(&u, 0);
	if (rc != BW_EXIT_OK)
		return rc;
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		char *p = NULL, rel[64];

		snprintf(rel, sizeof(rel), "online/%s.pem.proposed", online[i]);
		if (bw_path_join(bw_repo_dir(u.r), rel, &p) == 0 &&
		    bw_io_remove(p, &err) != 0)
			rc = bw_cli_fail(u.prog, "%s", err.msg);
		free(p);
	}
	if (rc == 0 && bw_io_remove(u.path, &err) != 0)
		rc = bw_cli_fail(u.prog, "%s", err.msg);
	else if (rc == 0)
		printf("proposal cancelled\n");
	bw_tufup_up_close(&u);
	return rc;
}
