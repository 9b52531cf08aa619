/*
 * `bulwark targets ...`: CI targets (online key) and production targets
 * per tag (offline targets keys up to the production threshold).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"
#include "repo_cli.h"
#include "server_cli.h"

static int cmd_add(int argc, char **argv)
{
	static const char *prog = "bulwark targets add";
	const char *file = NULL, *repo = NULL, *name = NULL, *ver = NULL;
	const char *custom = NULL, *tdir = NULL;
	struct bw_cli_list hw = {0}, tags = {0};
	struct bw_admin_client s = {0};
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    BW_ADMIN_OPTS(s),
	    {"--targets-dir", BW_CLI_STR, "DIR",
	     "with --server: copy FILE to DIR/NAME (the server's "
	     "gateway.targets_dir)", &tdir},
	    {"--name", BW_CLI_STR, "N", "target name (path in targets.json)",
	     &name},
	    {"--version", BW_CLI_STR, "V", "custom.version (integer > 0)",
	     &ver},
	    {"--hardware-id", BW_CLI_LIST, "H", "hardware the target runs on",
	     &hw},
	    {"--tag", BW_CLI_LIST, "T", "custom.tags entry", &tags},
	    {"--custom", BW_CLI_STR, "JSON", "extra custom fields (object)",
	     &custom},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "FILE --name N --version V --hardware-id H [options]",
	    "Add FILE as a CI target (length, sha256, sha512, custom "
	    "{version,\nhardwareIds, tags, ...}), signed with the online "
	    "targets key; publish a new\nCI snapshot and timestamp. The "
	    "file is kept in the workspace for export.\nWith --server, also "
	    "publish the entry on bulwarkd (POST /repo/ci/targets/add).\n"
	    "The admin API does not carry the file: it must be in the "
	    "server's\ngateway.targets_dir under NAME (--targets-dir copies "
	    "it there when that\ndirectory is reachable from here).",
	    opts, &file,
	    1,
	    1};
	struct bw_repo_target_opts o = {0};
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (name == NULL || ver == NULL || hw.n == 0)
		return bw_cli_usage(prog, "--name, --version and --hardware-id "
					  "are required");
	if (tdir != NULL && s.server == NULL)
		return bw_cli_usage(prog, "--targets-dir goes with --server");
	rc = bw_admin_ready(prog, &s, 0);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_cli_int(prog, "--version", ver, 1, INT64_MAX, &o.version);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	o.file = file;
	o.name = name;
	o.hwids = hw.v;
	o.nhwids = hw.n;
	o.tags = tags.v;
	o.ntags = tags.n;
	o.custom_json = custom;
	if (bw_repo_targets_add(r, &o, &err) != 0) {
		rc = bw_cli_fail(prog, "%s", err.msg);
	} else {
		printf("added %s (version %" PRId64 ") to CI targets\n", name,
		       o.version);
		if (s.server != NULL &&
		    bw_admin_add_target(prog, &s, r, name, file, tdir) != 0)
			rc = bw_admin_upload_failed(
			    prog, "bulwark repo push --server URL --target "
				  "NAME");
	}
	bw_repo_free(r);
	return rc;
}

static int report_sigs(const char *prog, const char *tag, int rc, size_t have,
		       int64_t need, const struct bw_err *err)
{
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err->msg);
	if ((int64_t)have < need)
		printf("production targets for '%s': %zu of %" PRId64
		       " signatures; pending (finish with `bulwark targets "
		       "sign --tag %s --keys ...`)\n",
		       tag, have, need, tag);
	else
		printf("production targets for '%s' published (%zu of %" PRId64
		       " signatures)\n",
		       tag, have, need);
	return BW_EXIT_OK;
}

/* --server: upload the published production targets of tag. */
static int push_tag(const char *prog, const struct bw_admin_client *s,
		    struct bw_repo *r, const char *tag)
{
	if (s->server == NULL)
		return BW_EXIT_OK;
	if (bw_admin_push_targets(prog, s, r, tag) != BW_EXIT_OK)
		return bw_admin_upload_failed(prog, "bulwark repo push --server "
						  "URL --prod --tag T");
	return BW_EXIT_OK;
}

static int cmd_promote(int argc, char **argv)
{
	static const char *prog = "bulwark targets promote";
	const char *repo = NULL, *ver = NULL, *tag = NULL, *pin_file = NULL;
	struct bw_cli_list keys = {0};
	struct bw_admin_client s = {0};
	int partial = 0;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--version", BW_CLI_STR, "V", "CI target version to promote",
	     &ver},
	    {"--tag", BW_CLI_STR, "T", "production tag (e.g. production)",
	     &tag},
	    {"--keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "offline targets key archive or pkcs11: URI", &keys},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for pkcs11: keys (else $" BW_PIN_ENV ")", &pin_file},
	    {"--partial", BW_CLI_FLAG, NULL,
	     "store below the threshold for another admin", &partial},
	    BW_ADMIN_OPTS(s),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--version V --tag T --keys ARCHIVE... [--partial]",
	    "Build the next production targets of tag T from the CI "
	    "target(s) of\nversion V, sign with the online targets key and "
	    "the given offline keys.\nRefuses below the production "
	    "threshold unless --partial. With --server, upload the "
	    "published targets\n(PUT /repo/production/targets/T).",
	    opts, NULL,
	    0,
	    0};
	struct bw_repo_keys k;
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	size_t have = 0;
	int64_t need = 0, v = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (ver == NULL || tag == NULL || (keys.n == 0 && !partial))
		return bw_cli_usage(prog, "--version, --tag and --keys (or "
					  "--partial) are required");
	rc = bw_cli_int(prog, "--version", ver, 1, INT64_MAX, &v);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_ready(prog, &s, 0);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repocli_keys(prog, r, &keys, pin_file, &k);
	if (rc == BW_EXIT_OK) {
		rc = bw_repo_targets_promote(r, v, tag, &k, partial, &have,
					     &need, &err);
		rc = report_sigs(prog, tag, rc, have, need, &err);
		bw_repo_keys_dispose(&k);
		if (rc == BW_EXIT_OK && (int64_t)have >= need)
			rc = push_tag(prog, &s, r, tag);
	}
	bw_repo_free(r);
	return rc;
}

static int cmd_sign(int argc, char **argv)
{
	static const char *prog = "bulwark targets sign";
	const char *repo = NULL, *tag = NULL, *pin_file = NULL;
	struct bw_cli_list keys = {0};
	struct bw_admin_client s = {0};
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--tag", BW_CLI_STR, "T", "production tag", &tag},
	    {"--keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "offline targets key archive or pkcs11: URI", &keys},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for pkcs11: keys (else $" BW_PIN_ENV ")", &pin_file},
	    BW_ADMIN_OPTS(s),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--tag T --keys ARCHIVE...",
	    "Add signatures to the pending production targets of tag T "
	    "(from\n`promote --partial`); publish them once the production "
	    "threshold is met.\nWith --server, upload the published targets "
	    "(PUT /repo/production/targets/T).",
	    opts, NULL,
	    0,
	    0};
	struct bw_repo_keys k;
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	size_t have = 0;
	int64_t need = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (tag == NULL || keys.n == 0)
		return bw_cli_usage(prog, "--tag and --keys are required");
	rc = bw_admin_ready(prog, &s, 0);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repocli_keys(prog, r, &keys, pin_file, &k);
	if (rc == BW_EXIT_OK) {
		rc = bw_repo_targets_sign(r, tag, &k, &have, &need, &err);
		rc = report_sigs(prog, tag, rc, have, need, &err);
		bw_repo_keys_dispose(&k);
		if (rc == BW_EXIT_OK && (int64_t)have >= need)
			rc = push_tag(prog, &s, r, tag);
	}
	bw_repo_free(r);
	return rc;
}

static void print_entry(const char *name, const json_t *e, int full)
{
	const json_t *c = json_object_get(e, "custom");
	const json_t *h = json_object_get(e, "hashes");
	json_t *v;
	size_t i;

	printf("%s\tversion %" JSON_INTEGER_FORMAT "\t%" JSON_INTEGER_FORMAT
	       " bytes\thardware",
	       name, json_integer_value(json_object_get(c, "version")),
	       json_integer_value(json_object_get(e, "length")));
	json_array_foreach(json_object_get(c, "hardwareIds"), i, v)
	    printf(" %s", json_string_value(v));
	printf("\ttags");
	json_array_foreach(json_object_get(c, "tags"), i, v)
	    printf(" %s", json_string_value(v));
	printf("\n");
	if (full) {
		char *cs = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);

		printf("  sha256 %s\n  sha512 %s\n  custom %s\n",
		       json_string_value(json_object_get(h, "sha256")),
		       json_string_value(json_object_get(h, "sha512")),
		       cs != NULL ? cs : "?");
		free(cs);
	}
}

static int list_or_show(const char *prog, const char *repo, int prod,
			const char *tag, const char *only)
{
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	json_t *env = NULL, *e;
	const char *name;
	int rc, found = 0;

	rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_targets_load(r, prod, tag, &env, &err) != 0) {
		bw_repo_free(r);
		return bw_cli_fail(prog, "%s", err.msg);
	}
	json_object_foreach(
	    json_object_get(json_object_get(env, "signed"), "targets"), name, e)
	{
		if (only != NULL && strcmp(only, name) != 0)
			continue;
		print_entry(name, e, only != NULL);
		found = 1;
	}
	if (only != NULL && !found)
		rc = bw_cli_fail(prog, "no target '%.200s'", only);
	json_decref(env);
	bw_repo_free(r);
	return rc;
}

static int cmd_list(int argc, char **argv)
{
	static const char *prog = "bulwark targets list";
	const char *repo = NULL, *tag = NULL;
	int prod = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--prod", BW_CLI_FLAG, NULL, "production targets of --tag", &prod},
	    {"--tag", BW_CLI_STR, "T", "production tag", &tag},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "[--prod --tag T]",
	    "List the CI targets, or the production targets of tag T: name, "
	    "version,\nlength, hardware ids, tags.",
	    opts, NULL,
	    0,
	    0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (prod != (tag != NULL))
		return bw_cli_usage(prog, "--prod and --tag go together");
	return list_or_show(prog, repo, prod, tag, NULL);
}

static int cmd_show(int argc, char **argv)
{
	static const char *prog = "bulwark targets show";
	const char *repo = NULL, *tag = NULL, *name = NULL;
	int prod = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--prod", BW_CLI_FLAG, NULL, "production targets of --tag", &prod},
	    {"--tag", BW_CLI_STR, "T", "production tag", &tag},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "NAME [--prod --tag T]",
	    "Show one target: version, length, hashes, custom fields.",
	    opts, &name,
	    1,
	    1};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (prod != (tag != NULL))
		return bw_cli_usage(prog, "--prod and --tag go together");
	return list_or_show(prog, repo, prod, tag, name);
}

int bw_cmd_targets(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"add", "add a CI target", cmd_add},
	    {"promote", "sign production targets for a tag", cmd_promote},
	    {"sign", "finish partially signed production targets", cmd_sign},
	    {"list", "list CI or production targets", cmd_list},
	    {"show", "show one target", cmd_show},
	};

	return bw_cli_dispatch("bulwark targets", "TUF targets.", cmds,
			       sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
