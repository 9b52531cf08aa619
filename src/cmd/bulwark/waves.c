/*
 * `bulwark waves`: production rollouts in steps bounded by an offline-
 * signed charter (include/bulwark/wave.h). init builds and signs the
 * charter with the production targets keys (the same ceremony as
 * production targets: one admin starts with --partial, others `sign`);
 * show verifies it against the production root and prints it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/tuf.h"
#include "bulwark/wave.h"
#include "repo_cli.h"
#include "server_cli.h"

#define DEFAULT_DAYS 30

/* "<percent>%:<bake>" with bake an integer and s/m/h/d (default s). */
static int parse_step(const char *prog, const char *s, struct bw_wave_step *out)
{
	char *end = NULL;
	double pct = strtod(s, &end);
	const char *p = NULL;
	uint64_t bake = 0, mult = 1;
	int bad;

	if (end == s || *end != '%' || end[1] != ':' || !isfinite(pct) ||
	    pct <= 0.0 || pct > 100.0)
		return bw_cli_usage(prog, "--step wants PERCENT%%:BAKE, e.g. "
					  "1%%:2h (got '%.40s')", s);
	out->admit_ppm = (uint32_t)llround(pct * (BW_WAVE_PPM / 100));
	s = end + 2;
	p = s;
	bad = bw_num_read(&p, BW_WAVE_MAX_BAKE, &bake) != 0;
	if (!bad && *p != '\0' && p[1] == '\0') {
		mult = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600
			: *p == 'd' ? 86400 : 0;
		p++;
	}
	if (bad || *p != '\0' || mult == 0 ||
	    bake > (uint64_t)BW_WAVE_MAX_BAKE / mult || out->admit_ppm == 0)
		return bw_cli_usage(prog, "--step: bad bake time '%.40s' "
					  "(N, Ns, Nm, Nh or Nd, at most "
					  "366 days)", s);
	out->bake_seconds = (int64_t)(bake * mult);
	return BW_EXIT_OK;
}

static int report(const char *prog, const char *name, int rc, size_t have,
		  int64_t need, const struct bw_err *err)
{
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err->msg);
	if ((int64_t)have < need)
		printf("wave '%s': %zu of %" PRId64 " signatures; pending "
		       "(finish with `bulwark waves sign --name %s --keys "
		       "...`)\n", name, have, need, name);
	else
		printf("wave '%s' charter signed (%zu of %" PRId64
		       " signatures)\n", name, have, need);
	return BW_EXIT_OK;
}

static int cmd_init(int argc, char **argv)
{
	static const char *prog = "bulwark waves init";
	const char *repo = NULL, *name = NULL, *tag = NULL, *ver = NULL,
		   *days = NULL, *pin_file = NULL;
	struct bw_cli_list keys = {0}, hw = {0}, steps = {0};
	int partial = 0;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "N", "wave name", &name},
	    {"--tag", BW_CLI_STR | BW_CLI_REQUIRED, "T", "production tag",
	     &tag},
	    {"--version", BW_CLI_STR | BW_CLI_REQUIRED, "V",
	     "CI target version the wave offers", &ver},
	    {"--hardware-id", BW_CLI_LIST, "H", "hardware the wave is for",
	     &hw},
	    {"--step", BW_CLI_LIST, "P%:BAKE",
	     "cumulative share of devices and minimum bake (e.g. 1%:2h)",
	     &steps},
	    {"--expires-days", BW_CLI_STR, "D",
	     "charter lifetime in days (default 30)", &days},
	    {"--keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "offline targets key archive or pkcs11: URI", &keys},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for pkcs11: keys (else $" BW_PIN_ENV ")", &pin_file},
	    {"--partial", BW_CLI_FLAG, NULL,
	     "store below the threshold for another admin", &partial},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--name N --tag T --version V --hardware-id H... --step P%:BAKE... "
	    "--keys ARCHIVE... [--partial]",
	    "Make the rollout charter of a wave: the CI target(s) of version V "
	    "for tag T,\nthe steps (each admits devices whose H(salt || uuid) "
	    "falls below its share),\nthe minimum bake time of each step, the "
	    "hardware ids and an expiry. Signed with\nthe online targets key "
	    "and the offline keys up to the production threshold;\nbelow it "
	    "only with --partial (another admin finishes with `waves sign`).",
	    opts, NULL, 0, 0};
	struct bw_wave_step st[BW_WAVE_MAX_STEPS];
	struct bw_repo_wave_opts o = {0};
	struct bw_repo_keys k;
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	int64_t v = 0, d = DEFAULT_DAYS, need = 0;
	size_t have = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (hw.n == 0 || steps.n == 0 || (keys.n == 0 && !partial))
		return bw_cli_usage(prog, "--hardware-id, --step and --keys "
					  "(or --partial) are required");
	if (steps.n > BW_WAVE_MAX_STEPS)
		return bw_cli_usage(prog, "at most %u steps", BW_WAVE_MAX_STEPS);
	rc = bw_cli_int(prog, "--version", ver, 1, INT64_MAX, &v);
	if (rc == BW_EXIT_OK && days != NULL)
		rc = bw_cli_int(prog, "--expires-days", days, 1, 3660, &d);
	for (size_t i = 0; rc == BW_EXIT_OK && i < steps.n; i++)
		rc = parse_step(prog, steps.v[i], &st[i]);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	o = (struct bw_repo_wave_opts){name, tag, v, hw.v, hw.n, st, steps.n,
				       d * BW_REPO_DAY, NULL};
	rc = bw_repocli_keys(prog, r, &keys, pin_file, &k);
	if (rc == BW_EXIT_OK) {
		rc = bw_repo_wave_init(r, &o, &k, partial, &have, &need, &err);
		rc = report(prog, name, rc, have, need, &err);
		bw_repo_keys_dispose(&k);
	}
	bw_repo_free(r);
	return rc;
}

static int cmd_sign(int argc, char **argv)
{
	static const char *prog = "bulwark waves sign";
	const char *repo = NULL, *name = NULL, *pin_file = NULL;
	struct bw_cli_list keys = {0};
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "N", "wave name", &name},
	    {"--keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "offline targets key archive or pkcs11: URI", &keys},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for pkcs11: keys (else $" BW_PIN_ENV ")", &pin_file},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--name N --keys ARCHIVE...",
	    "Add signatures to the pending charter of wave N (from `waves "
	    "init --partial`);\nthe charter is complete once the production "
	    "threshold is met.",
	    opts, NULL, 0, 0};
	struct bw_repo_keys k;
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	size_t have = 0;
	int64_t need = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (keys.n == 0)
		return bw_cli_usage(prog, "--keys is required");
	rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repocli_keys(prog, r, &keys, pin_file, &k);
	if (rc == BW_EXIT_OK) {
		rc = bw_repo_wave_sign(r, name, &k, &have, &need, &err);
		rc = report(prog, name, rc, have, need, &err);
		bw_repo_keys_dispose(&k);
	}
	bw_repo_free(r);
	return rc;
}

static void print_charter(const struct bw_wave_charter *c)
{
	char exp[32];

	bw_tuf_time_format(c->expires, exp, sizeof(exp));
	printf("wave %s (charter v%" PRId64 ") for tag %s, expires %s\n",
	       c->name, c->version, c->tag, exp);
	for (size_t i = 0; i < c->nhwids; i++)
		printf("  hardware id %s\n", c->hwids[i]);
	for (size_t i = 0; i < c->ntargets; i++)
		printf("  target %s (%" PRIu64 " bytes)\n", c->targets[i]->path,
		       c->targets[i]->length);
	for (size_t i = 0; i < c->nsteps; i++)
		printf("  step %zu: up to %.4g%% of devices, bake at least "
		       "%" PRId64 " s\n", i,
		       c->steps[i].admit_ppm / (BW_WAVE_PPM / 100.0),
		       c->steps[i].bake_seconds);
}

static int cmd_show(int argc, char **argv)
{
	static const char *prog = "bulwark waves show";
	const char *repo = NULL, *name = NULL, *uuid = NULL;
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "N", "wave name", &name},
	    {"--uuid", BW_CLI_STR, "UUID", "also print this device's step",
	     &uuid},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--name N [--uuid UUID]",
	    "Verify the signed charter of wave N against the latest "
	    "production root\n(signatures, threshold, expiry) and print it; "
	    "with --uuid, the step that\nadmits that device.",
	    opts, NULL, 0, 0};
	struct bw_wave_charter *c = NULL;
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	uint8_t *b = NULL, *root = NULL;
	size_t n = 0, rn = 0, step = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_wave_read(r, name, &b, &n, &err) != 0 ||
	    bw_repo_root_read(r, 1, 0, &root, &rn, &err) != 0 ||
	    bw_wave_charter_verify(b, n, root, rn, time(NULL), &c, &err) != 0) {
		rc = bw_cli_fail(prog, "%s", err.msg);
	} else {
		print_charter(c);
		if (uuid != NULL) {
			int s = bw_wave_charter_step_of(c, uuid, &step, &err);

			if (s == 0)
				printf("device %s: step %zu\n", uuid, step);
			else if (s == BW_ENOTFOUND)
				printf("device %s: outside the wave\n", uuid);
			else
				rc = bw_cli_fail(prog, "%s", err.msg);
		}
	}
	bw_wave_charter_free(c);
	free(b);
	free(root);
	bw_repo_free(r);
	return rc;
}

/* ---- the server's side: bulwarkd's admin API ------------------------- */

static int name_arg_ok(const char *prog, const char *name)
{
	return bw_wave_name_is_valid(name) ? BW_EXIT_OK
					   : bw_cli_usage(prog, "bad wave name");
}

static int64_t jint(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "?";
}

/* One wave's status from the server (untrusted: printed bounded). */
static void print_status(const json_t *w)
{
	const json_t *v = json_object_get(w, "verdict"), *st;
	size_t i;

	printf("wave ");
	bw_admin_print_bounded(stdout, jstr(w, "name"), 64);
	printf(" (tag ");
	bw_admin_print_bounded(stdout, jstr(w, "tag"), 128);
	printf("): ");
	bw_admin_print_bounded(stdout, jstr(w, "state"), 16);
	printf(", step %" PRId64 " open; ", jint(w, "step"));
	bw_admin_print_bounded(stdout, jstr(w, "reason"), 255);
	printf("\n  step  share%%  bake(s)  admitted  succeeded  failed  "
	       "silent  pending\n");
	json_array_foreach(json_object_get(w, "steps"), i, st)
		printf("  %4" PRId64 "  %6.2f  %7" PRId64 "  %8" PRId64
		       "  %9" PRId64 "  %6" PRId64 "  %6" PRId64 "  %7" PRId64
		       "\n",
		       jint(st, "step"), jint(st, "admit-ppm") / 10000.0,
		       jint(st, "bake-seconds"), jint(st, "admitted"),
		       jint(st, "succeeded"), jint(st, "failed"),
		       jint(st, "silent"), jint(st, "pending"));
	printf("  failure rate bound: lower %.2f%%, upper %.2f%% over %" PRId64
	       " outcomes (%" PRId64 " failed or silent); decision: ",
	       jint(v, "lower-ppm") / 10000.0, jint(v, "upper-ppm") / 10000.0,
	       jint(v, "outcomes"), jint(v, "failures"));
	bw_admin_print_bounded(stdout, jstr(v, "decision"), 16);
	printf("\n");
}

static int cmd_push(int argc, char **argv)
{
	static const char *prog = "bulwark waves push";
	const char *repo = NULL, *name = NULL;
	struct bw_admin_client s = {0};
	const struct bw_cli_opt opts[] = {
	    REPO_OPT(repo),
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "N", "wave name", &name},
	    BW_ADMIN_OPTS(s),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--name N --server URL",
	    "Start wave N on bulwarkd: upload its signed charter (POST "
	    "/waves). The server\nchecks it against its production root and "
	    "refuses a second active wave per tag.",
	    opts, NULL, 0, 0};
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	uint8_t *b = NULL;
	size_t n = 0;
	json_t *out = NULL;
	long status = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (s.server == NULL)
		return bw_cli_usage(prog, "--server is required");
	rc = bw_admin_ready(prog, &s, 0);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_open(prog, repo, &r);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_wave_read(r, name, &b, &n, &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	else
		rc = bw_admin_request(prog, &s, "POST", "/waves", b, n, 0,
				      &status, &out);
	if (rc == BW_EXIT_OK && out != NULL)
		print_status(out);
	json_decref(out);
	free(b);
	bw_repo_free(r);
	return rc;
}

static int cmd_status(int argc, char **argv)
{
	static const char *prog = "bulwark waves status";
	const char *name = NULL;
	struct bw_admin_client s = {0};
	int as_json = 0;
	const struct bw_cli_opt opts[] = {
	    {"--name", BW_CLI_STR, "N", "one wave (default: all)", &name},
	    {"--json", BW_CLI_FLAG, NULL, "print the server's JSON", &as_json},
	    BW_ADMIN_OPTS(s),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "[--name N] [--json] --server URL",
	    "Show waves on bulwarkd: per step the devices admitted, "
	    "succeeded, failed,\nsilent and pending, the bounds of the "
	    "failure rate and the health rule's\ndecision (GET /waves, GET "
	    "/waves/N).",
	    opts, NULL, 0, 0};
	char path[BW_WAVE_NAME_MAX + 16];
	json_t *out = NULL, *w;
	long status = 0;
	size_t i;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (s.server == NULL)
		return bw_cli_usage(prog, "--server is required");
	if (name != NULL && (rc = name_arg_ok(prog, name)) != BW_EXIT_OK)
		return rc;
	snprintf(path, sizeof(path), "/waves%s%s", name ? "/" : "",
		 name ? name : "");
	rc = bw_admin_ready(prog, &s, 0);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_request(prog, &s, "GET", path, NULL, 0, 0,
				      &status, &out);
	if (rc == BW_EXIT_OK && as_json) {
		char *t = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS |
						    JSON_ENSURE_ASCII);

		if (t != NULL)
			bw_admin_print_bounded(stdout, t, 1u << 24);
		printf("\n");
		free(t);
	} else if (rc == BW_EXIT_OK && name != NULL) {
		print_status(out);
	} else if (rc == BW_EXIT_OK) {
		json_array_foreach(out, i, w) {
			bw_admin_print_bounded(stdout, jstr(w, "name"), 64);
			printf("  tag ");
			bw_admin_print_bounded(stdout, jstr(w, "tag"), 128);
			printf("  ");
			bw_admin_print_bounded(stdout, jstr(w, "state"), 16);
			printf("  step %" PRId64 "\n", jint(w, "step"));
		}
	}
	json_decref(out);
	return rc;
}

/* pause, resume, halt, cancel, complete: POST /waves/N/<action>. */
static int wave_action(int argc, char **argv, const char *action,
		       const char *what)
{
	char prog[64], path[BW_WAVE_NAME_MAX + 32];
	const char *name = NULL;
	struct bw_admin_client s = {0};
	const struct bw_cli_opt opts[] = {
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "N", "wave name", &name},
	    BW_ADMIN_OPTS(s),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {prog, "--name N --server URL", what,
					 opts, NULL, 0, 0};
	json_t *out = NULL;
	long status = 0;
	int done = 0, rc;

	snprintf(prog, sizeof(prog), "bulwark waves %s", action);
	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (s.server == NULL)
		return bw_cli_usage(prog, "--server is required");
	rc = name_arg_ok(prog, name);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_ready(prog, &s, 0);
	snprintf(path, sizeof(path), "/waves/%s/%s", name, action);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_request(prog, &s, "POST", path, NULL, 0, 0,
				      &status, &out);
	if (rc == BW_EXIT_OK && out != NULL)
		print_status(out);
	json_decref(out);
	return rc;
}

static int cmd_pause(int argc, char **argv)
{
	return wave_action(argc, argv, "pause",
			   "Stop admitting devices to wave N; admitted "
			   "devices go on.");
}

static int cmd_resume(int argc, char **argv)
{
	return wave_action(argc, argv, "resume",
			   "Run a paused or halted wave N again (its step's "
			   "bake time starts over).");
}

static int cmd_halt(int argc, char **argv)
{
	return wave_action(argc, argv, "halt",
			   "Halt wave N: the gateway stops serving it at once; "
			   "devices keep their\nproduction release.");
}

static int cmd_cancel(int argc, char **argv)
{
	return wave_action(argc, argv, "cancel", "Withdraw wave N for good.");
}

static int cmd_complete(int argc, char **argv)
{
	return wave_action(argc, argv, "complete",
			   "Close wave N once its release is the production "
			   "targets of its tag\n(`bulwark targets promote "
			   "--version V --tag T --keys ... --server URL`\nfirst; "
			   "the server refuses until the production targets "
			   "list the wave's\ntargets).");
}

static const struct bw_cli_cmd cmds[] = {
    {"init", "make and sign a wave's rollout charter", cmd_init},
    {"sign", "add signatures to a pending charter", cmd_sign},
    {"show", "verify and print a charter", cmd_show},
    {"push", "start a wave on bulwarkd (upload its charter)", cmd_push},
    {"status", "per-step outcomes, bounds and decision from bulwarkd",
     cmd_status},
    {"pause", "stop admitting devices", cmd_pause},
    {"resume", "run a paused or halted wave again", cmd_resume},
    {"halt", "stop a wave at once", cmd_halt},
    {"cancel", "withdraw a wave", cmd_cancel},
    {"complete", "close a wave whose release was promoted", cmd_complete},
};

int bw_cmd_waves(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark waves",
			       "Production rollouts in steps bounded by an "
			       "offline-signed charter.",
			       cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
