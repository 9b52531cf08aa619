/*
 * Bearer secrets that bulwarkd makes on its admin API (docs/server.md,
 * "Admin API"): `bulwark tokens create|list|revoke`, registration tokens
 * (docs/device-guide.md for their use by `bulwark-device register`), and
 * `bulwark accounts create|list|revoke`, operator accounts with a role for
 * the admin API and the fleet page (docs/ui.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"
#include "repo_cli.h"
#include "server_cli.h"

/* Write the token to out (0600, atomic) or print it once. */
static int hand_over(const char *prog, const char *token, const char *out)
{
	struct bw_buf b;
	struct bw_err err = {0};
	int rc = BW_EXIT_OK;

	if (out == NULL) {
		printf("token: %s\n(shown only now; prefer --out FILE)\n",
		       token);
		return rc;
	}
	bw_buf_init_secret(&b, 8192);
	if (bw_buf_append_str(&b, token) != 0 || bw_buf_append(&b, "\n", 1) ||
	    bw_io_write_atomic(out, b.data, b.len, 0600, &err) != 0)
		rc = bw_cli_fail(prog,
				 "cannot write %s: %s (the token is "
				 "lost; revoke it)",
				 out, err.msg);
	else
		printf("token written to %s (mode 0600)\n", out);
	bw_buf_dispose_secret(&b);
	return rc;
}

/*
 * POST body (stolen; comment added when given) to path, print "<label>
 * <id> (<kind>)" and hand the token the server shows once over to out
 * (or stdout); the token's bytes are wiped.
 */
static int create(const char *prog, struct bw_admin_client *s,
		  const char *path, json_t *body, const char *comment,
		  const char *label, const char *kind, const char *out)
{
	json_t *ans = NULL;
	char *text = NULL;
	const char *tok;
	long st = 0;
	int rc = BW_EXIT_OK;

	if (body != NULL && comment != NULL)
		json_object_set_new(body, "comment", json_string(comment));
	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL)
		rc =
		    bw_cli_fail(prog, "out of memory (or --comment not UTF-8)");
	if (rc == BW_EXIT_OK)
		rc = bw_admin_request(prog, s, "POST", path, text, strlen(text),
				      0, &st, &ans);
	tok = json_string_value(json_object_get(ans, "token"));
	if (rc == BW_EXIT_OK && json_is_integer(json_object_get(ans, "id")))
		printf("%s %" JSON_INTEGER_FORMAT " (%s)\n", label,
		       json_integer_value(json_object_get(ans, "id")), kind);
	if (rc == BW_EXIT_OK && tok == NULL)
		rc = bw_cli_fail(prog, "the server's answer has no token");
	else if (rc == BW_EXIT_OK)
		rc = hand_over(prog, tok, out);
	/* jansson owns the string's malloc'd bytes: wipe them before free */
	if (tok != NULL)
		OPENSSL_cleanse((char *)tok, strlen(tok));
	json_decref(ans);
	json_decref(body);
	free(text);
	return rc;
}

static int cmd_create(int argc, char **argv)
{
	static const char *prog = "bulwark tokens create";
	struct bw_admin_client s = {0};
	const char *scope = NULL, *exp = NULL, *uses = NULL, *comment = NULL;
	const char *out = NULL;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--scope", BW_CLI_STR, "ci|production",
	     "which certificates the token may obtain", &scope},
	    {"--expires-in", BW_CLI_STR, "SECONDS", "lifetime (default 86400)",
	     &exp},
	    {"--uses", BW_CLI_STR, "N",
	     "registrations allowed (default: "
	     "unlimited until expiry)",
	     &uses},
	    {"--comment", BW_CLI_STR, "T", "note kept with the token",
	     &comment},
	    {"--out", BW_CLI_STR, "FILE",
	     "write the token to FILE (mode 0600) instead of stdout", &out},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--server URL --scope ci|production [options]",
	    "Create a registration token for `bulwark-device register`. The "
	    "server shows it\nonly once: prefer --out FILE (mode 0600, "
	    "written atomically) over stdout,\nwhich may end up in a "
	    "terminal log.",
	    opts, NULL,
	    0,
	    0};
	int64_t e = 86400, u = 0;
	json_t *body = NULL;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (scope == NULL ||
	    (strcmp(scope, "ci") && strcmp(scope, "production")))
		return bw_cli_usage(prog, "--scope ci or --scope production "
					  "is required");
	if (exp != NULL)
		rc = bw_cli_int(prog, "--expires-in", exp, 1, INT32_MAX, &e);
	if (rc == BW_EXIT_OK && uses != NULL)
		rc = bw_cli_int(prog, "--uses", uses, 1, INT32_MAX, &u);
	if (rc != BW_EXIT_OK)
		return rc;
	body =
	    json_pack("{s:s,s:I}", "scope", scope, "expires-in", (json_int_t)e);
	if (body != NULL && uses != NULL)
		json_object_set_new(body, "uses", json_integer(u));
	return create(prog, &s, "/tokens", body, comment, "token id", scope,
		      out);
}

static void print_time(const json_t *v)
{
	char s[32] = "-";
	time_t t = (time_t)json_integer_value(v);
	struct tm tm;

	if (json_is_integer(v) && gmtime_r(&t, &tm) != NULL)
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-22s", s);
}

/*
 * `<prog> --server URL [--json]`: GET path (an array). With --json the
 * server's JSON is printed and *ans stays NULL; otherwise *ans is the
 * array for the caller's table.
 */
static int list_get(const char *prog, const char *path, const char *help,
		    int argc, char **argv, json_t **ans)
{
	struct bw_admin_client s = {0};
	int as_json = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--json", BW_CLI_FLAG, NULL, "print the server's JSON", &as_json},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {prog, "--server URL [--json]", help,
					 opts, NULL,		    0,
					 0};
	long st = 0;

	*ans = NULL;
	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_admin_request(prog, &s, "GET", path, NULL, 0, 0, &st, ans);
	if (rc == BW_EXIT_OK && !json_is_array(*ans))
		rc = bw_cli_fail(prog, "GET %s: not an array", path);
	if (rc == BW_EXIT_OK && as_json) {
		json_dumpf(*ans, stdout,
			   JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		putchar('\n');
	}
	if (rc != BW_EXIT_OK || as_json) {
		json_decref(*ans);
		*ans = NULL;
	}
	return rc;
}

static int cmd_list(int argc, char **argv)
{
	json_t *ans = NULL, *t;
	size_t i;
	int rc = list_get("bulwark tokens list", "/tokens",
			  "List registration tokens (never the tokens "
			  "themselves): id, scope, expiry,\nuses left, "
			  "revoked, comment.",
			  argc, argv, &ans);

	if (ans) {
		printf("%-6s%-12s%-22s%-10s%-9s%s\n", "ID", "SCOPE", "EXPIRES",
		       "USES", "REVOKED", "COMMENT");
		json_array_foreach(ans, i, t)
		{
			const json_t *ul = json_object_get(t, "uses-left");

			printf("%-6" JSON_INTEGER_FORMAT,
			       json_integer_value(json_object_get(t, "id")));
			printf("%-12s",
			       json_is_string(json_object_get(t, "scope")) &&
				       !strcmp(json_string_value(
						   json_object_get(t, "scope")),
					       "production")
				   ? "production"
				   : "ci");
			print_time(json_object_get(t, "expires"));
			if (json_is_integer(ul) && json_integer_value(ul) >= 0)
				printf("%-10" JSON_INTEGER_FORMAT,
				       json_integer_value(ul));
			else
				printf("%-10s", "-");
			printf("%-9s",
			       json_is_true(json_object_get(t, "revoked"))
				   ? "yes"
				   : "no");
			bw_admin_print_bounded(
			    stdout,
			    json_string_value(json_object_get(t, "comment")),
			    60);
			putchar('\n');
		}
	}
	json_decref(ans);
	return rc;
}

/* `<prog> ID`: DELETE <collection>/ID. */
static int revoke(const char *prog, const char *collection, const char *noun,
		  const char *help, int argc, char **argv)
{
	struct bw_admin_client s = {0};
	const char *ids = NULL;
	const struct bw_cli_opt opts[] = {BW_ADMIN_OPTS(s), BW_CLI_END};
	const struct bw_cli_spec spec = {prog, "ID --server URL", help, opts,
					 &ids,	1,		      1};
	char path[64];
	int64_t id = 0;
	long st = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_cli_int(prog, "ID", ids, 1, INT64_MAX, &id);
	if (rc != BW_EXIT_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/%" PRId64, collection, id);
	rc = bw_admin_request(prog, &s, "DELETE", path, NULL, 0, 0, &st, NULL);
	if (rc == BW_EXIT_OK)
		printf("%s %" PRId64 " revoked\n", noun, id);
	return rc;
}

static int cmd_revoke(int argc, char **argv)
{
	return revoke("bulwark tokens revoke", "/tokens", "token",
		      "Revoke a registration token (its id from `bulwark "
		      "tokens list`).",
		      argc, argv);
}

/* ---- accounts ------------------------------------------------------------ */

static int cmd_account_create(int argc, char **argv)
{
	static const char *prog = "bulwark accounts create";
	struct bw_admin_client s = {0};
	const char *role = NULL, *exp = NULL, *comment = NULL, *out = NULL;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--role", BW_CLI_STR | BW_CLI_REQUIRED, "viewer|operator",
	     "viewer: reads everything but accounts; operator: also denies, "
	     "allows and rotates devices and steers waves",
	     &role},
	    {"--expires-in", BW_CLI_STR, "SECONDS",
	     "lifetime (default 90 days)", &exp},
	    {"--comment", BW_CLI_STR, "T", "who the account is for", &comment},
	    {"--out", BW_CLI_STR, "FILE",
	     "write the token to FILE (mode 0600) instead of stdout", &out},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--server URL --role viewer|operator [options]",
	    "Create an operator account: a bearer token with a role for the "
	    "admin API and\nthe fleet page (https://SERVER/ui/). The server "
	    "keeps only its digest and shows\nit once: prefer --out FILE.",
	    opts, NULL,
	    0,
	    0};
	int64_t e = 90LL * 86400;
	json_t *body = NULL;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (strcmp(role, "viewer") && strcmp(role, "operator"))
		return bw_cli_usage(prog, "--role viewer or --role operator");
	if (exp != NULL &&
	    (rc = bw_cli_int(prog, "--expires-in", exp, 1, INT32_MAX, &e)))
		return rc;
	body = json_pack("{s:s,s:I}", "role", role, "expires-in", (json_int_t)e);
	return create(prog, &s, "/accounts", body, comment, "account", role,
		      out);
}

static int cmd_account_list(int argc, char **argv)
{
	json_t *ans = NULL, *t;
	size_t i;
	int rc = list_get("bulwark accounts list", "/accounts",
			  "List operator accounts (never their tokens): id, "
			  "role, expiry, revoked,\ncomment.",
			  argc, argv, &ans);

	if (ans) {
		printf("%-6s%-10s%-22s%-9s%s\n", "ID", "ROLE", "EXPIRES",
		       "REVOKED", "COMMENT");
		json_array_foreach(ans, i, t)
		{
			const char *r =
			    json_string_value(json_object_get(t, "role"));

			printf("%-6" JSON_INTEGER_FORMAT,
			       json_integer_value(json_object_get(t, "id")));
			printf("%-10s",
			       r && !strcmp(r, "operator") ? "operator"
							   : "viewer");
			print_time(json_object_get(t, "expires"));
			printf("%-9s",
			       json_is_true(json_object_get(t, "revoked"))
				   ? "yes"
				   : "no");
			bw_admin_print_bounded(
			    stdout,
			    json_string_value(json_object_get(t, "comment")),
			    60);
			putchar('\n');
		}
	}
	json_decref(ans);
	return rc;
}

static int cmd_account_revoke(int argc, char **argv)
{
	return revoke("bulwark accounts revoke", "/accounts", "account",
		      "Revoke an operator account (its id from `bulwark "
		      "accounts list`);\nits fleet page sessions end at once.",
		      argc, argv);
}

int bw_cmd_accounts(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"create", "create an operator account", cmd_account_create},
	    {"list", "list operator accounts", cmd_account_list},
	    {"revoke", "revoke an operator account", cmd_account_revoke},
	};

	return bw_cli_dispatch(
	    "bulwark accounts",
	    "Operator accounts on bulwarkd: tokens with a role for the admin "
	    "API and the\nfleet page.",
	    cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}

int bw_cmd_tokens(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"create", "create a registration token", cmd_create},
	    {"list", "list registration tokens", cmd_list},
	    {"revoke", "revoke a registration token", cmd_revoke},
	};

	return bw_cli_dispatch(
	    "bulwark tokens", "Registration tokens on bulwarkd (admin API).",
	    cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
