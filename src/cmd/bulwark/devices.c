/*
 * `bulwark devices list|show|deny|allow|rotate-cert|recertify|rotations`:
 * devices
 * known to bulwarkd and their certificate rotations, on
 * its admin API (docs/server.md, "Admin API").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/buf.h"
#include "bulwark/identity.h"
#include "bulwark/pki.h"
#include "server_cli.h"

#define PAGE 500
#define MAX_PAGES 2000 /* a million devices */

/* A uuid goes into a URL path in its canonical form (the library's rule,
 * the server's too). */
static int uuid_ok(const char *uuid)
{
	char norm[BW_UUID_BUF];

	return bw_identity_uuid_normalize(uuid, strlen(uuid), norm, NULL) == 0;
}

static void print_str(const json_t *rec, const char *key, size_t width)
{
	const char *v = json_string_value(json_object_get(rec, key));
	size_t n = 0;

	for (; v != NULL && v[n] != '\0' && n < width; n++)
		putchar(v[n] >= 0x20 && v[n] < 0x7f ? v[n] : '?');
	if (n == 0) {
		putchar('-');
		n = 1;
	}
	for (; n < width + 2; n++)
		putchar(' ');
}

static void print_time(int64_t t)
{
	char s[32] = "-";
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > 0 && gmtime_r(&tt, &tm) != NULL)
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-22s", s);
}

static void print_row(const json_t *d)
{
	print_str(d, "name", 20);
	print_str(d, "uuid", 36);
	printf("%-12s", json_is_true(json_object_get(d, "production"))
			    ? "production"
			    : "ci");
	print_str(d, "target", 24);
	print_time(json_integer_value(json_object_get(d, "last-seen")));
	printf("%s\n",
	       json_is_true(json_object_get(d, "denied")) ? "DENIED" : "-");
}

/* GET /devices page by page (after=<last uuid>) into one array. */
static int fetch_all(const char *prog, const struct bw_admin_client *s, json_t *all)
{
	char path[160];
	long st = 0;
	int rc;

	snprintf(path, sizeof(path), "/devices?limit=%d", PAGE);
	for (size_t pages = 0; pages < MAX_PAGES; pages++) {
		json_t *page = NULL;
		const char *last;
		size_t n;

		rc = bw_admin_request(prog, s, "GET", path, NULL, 0, 0, &st,
				    &page);
		if (rc != BW_EXIT_OK)
			return rc;
		if (!json_is_array(page)) {
			json_decref(page);
			return bw_cli_fail(prog, "GET /devices: not an array");
		}
		n = json_array_size(page);
		last = json_string_value(
		    json_object_get(json_array_get(page, n - 1), "uuid"));
		if (n == PAGE && (last == NULL || !uuid_ok(last))) {
			json_decref(page);
			return bw_cli_fail(prog, "GET /devices: a record "
						 "without a valid uuid");
		}
		if (n == PAGE)
			snprintf(path, sizeof(path),
				 "/devices?after=%s&limit=%d", last, PAGE);
		json_array_extend(all, page);
		json_decref(page);
		if (n < PAGE)
			return BW_EXIT_OK;
	}
	return bw_cli_fail(prog, "GET /devices: more than %d devices",
			   PAGE * MAX_PAGES);
}

static int cmd_list(int argc, char **argv)
{
	static const char *prog = "bulwark devices list";
	struct bw_admin_client s = {0};
	int as_json = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--json", BW_CLI_FLAG, NULL, "print the server's JSON records",
	     &as_json},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--server URL [--json]",
	    "List the devices bulwarkd knows (they appear when they first "
	    "contact the\ngateway): name, uuid, flavour, current target, "
	    "last seen (UTC), denied.",
	    opts, NULL,
	    0,
	    0};
	json_t *all = NULL, *d;
	size_t i;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((all = json_array()) == NULL)
		return bw_cli_fail(prog, "out of memory");
	rc = fetch_all(prog, &s, all);
	if (rc == BW_EXIT_OK && as_json) {
		json_dumpf(all, stdout,
			   JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		putchar('\n');
	} else if (rc == BW_EXIT_OK) {
		printf("%-22s%-38s%-12s%-26s%-22s%s\n", "NAME", "UUID",
		       "FLAVOUR", "TARGET", "LAST SEEN", "DENIED");
		json_array_foreach(all, i, d) print_row(d);
	}
	json_decref(all);
	return rc;
}

/* One uuid argument, server options, optional --reason. */
static int device_cmd(int argc, char **argv, const char *prog,
		      const char *method, const char *suffix, const char *desc,
		      int with_reason)
{
	struct bw_admin_client s = {0};
	const char *uuid = NULL, *reason = NULL;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    BW_CLI_END,
	};
	const struct bw_cli_opt reason_opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--reason", BW_CLI_STR, "TEXT", "why (kept in the deny-list)",
	     &reason},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    with_reason ? "UUID --server URL [--reason TEXT]"
			: "UUID --server URL",
	    desc,
	    with_reason ? reason_opts : opts,
	    &uuid,
	    1,
	    1};
	char path[128], norm[BW_UUID_BUF];
	char *body = NULL;
	json_t *ans = NULL, *b = NULL;
	long st = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (bw_identity_uuid_normalize(uuid, strlen(uuid), norm, NULL))
		return bw_cli_usage(prog, "not a device uuid: '%.64s'", uuid);
	uuid = norm;
	snprintf(path, sizeof(path), "/devices/%s%s", uuid, suffix);
	if (reason != NULL) {
		b = json_pack("{s:s}", "reason", reason);
		body = b ? json_dumps(b, JSON_COMPACT) : NULL;
		if (body == NULL) {
			json_decref(b);
			return bw_cli_fail(prog, "out of memory");
		}
	}
	rc = bw_admin_request(prog, &s, method, path, body,
			    body ? strlen(body) : 0, 0, &st, &ans);
	if (rc == BW_EXIT_OK && *suffix == '\0') {
		json_dumpf(ans, stdout,
			   JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		putchar('\n');
	} else if (rc == BW_EXIT_OK) {
		printf("device %s %s\n", uuid,
		       strcmp(method, "POST") == 0 ? "denied" : "allowed");
	}
	json_decref(ans);
	json_decref(b);
	free(body);
	return rc;
}

static int cmd_show(int argc, char **argv)
{
	return device_cmd(argc, argv, "bulwark devices show", "GET", "",
			  "Print one device record (JSON).", 0);
}

static int cmd_deny(int argc, char **argv)
{
	return device_cmd(argc, argv, "bulwark devices deny", "POST", "/deny",
			  "Put the device on the deny-list: the gateway and "
			  "registration refuse it,\nopen connections "
			  "included, until `bulwark devices allow`.",
			  1);
}

static int cmd_allow(int argc, char **argv)
{
	return device_cmd(argc, argv, "bulwark devices allow", "DELETE",
			  "/deny", "Take the device off the deny-list.", 0);
}

/* A device CA file base goes into a JSON body: the server's rule. */
static int cmd_rotate_cert(int argc, char **argv)
{
	static const char *prog = "bulwark devices rotate-cert";
	struct bw_admin_client s = {0};
	const char *uuid = NULL, *ca = NULL;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--ca", BW_CLI_STR, "NAME", "every device of this device CA "
	     "(file base, e.g. local-ca)", &ca},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "(UUID | --ca NAME) --server URL",
	    "Ask one device, or every device whose certificate a device CA "
	    "issued, to\nrenew its certificate over EST: devices see "
	    "est.rotate in GET /device and\nre-enrol at their next check-in "
	    "(with the server's registration CA, so the\ndevices of a "
	    "retiring CA move to its successor). `bulwark devices rotations`\n"
	    "shows the progress.",
	    opts, &uuid, 0, 1};
	json_t *b = NULL, *ans = NULL;
	char *body = NULL;
	long st = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((uuid == NULL) == (ca == NULL))
		return bw_cli_usage(prog, "give a UUID or --ca NAME (one)");
	if (uuid != NULL && !uuid_ok(uuid))
		return bw_cli_usage(prog, "not a device uuid: '%.64s'", uuid);
	if (ca != NULL && !bw_pki_device_ca_name_ok(ca))
		return bw_cli_usage(prog, "not a device CA name: '%.64s'", ca);
	b = json_pack("{s:s}", uuid ? "uuid" : "ca", uuid ? uuid : ca);
	if (b == NULL || (body = json_dumps(b, JSON_COMPACT)) == NULL) {
		json_decref(b);
		return bw_cli_fail(prog, "out of memory");
	}
	rc = bw_admin_request(prog, &s, "POST", "/rotate-cert", body,
			      strlen(body), 0, &st, &ans);
	if (rc == BW_EXIT_OK)
		printf("rotation asked of %s %s\n",
		       uuid ? "device" : "every device of", uuid ? uuid : ca);
	json_decref(ans);
	json_decref(b);
	free(body);
	return rc;
}

/* The request body {"csr": PEM} from a CSR file (PEM, bounded). */
static int recertify_body(const char *prog, const char *file, char **body)
{
	struct bw_err err = {0};
	struct bw_buf csr;
	json_t *b = NULL;
	int rc = BW_EXIT_OK;

	*body = NULL;
	bw_buf_init(&csr, BW_PKI_CSR_MAX);
	if (bw_io_read_file(file, BW_PKI_CSR_MAX, &csr, &err) != 0)
		rc = bw_cli_fail(prog, "%s: %s", file, err.msg);
	else if (!(b = json_pack("{s:s%}", "csr", (const char *)csr.data,
				 csr.len)) ||
		 !(*body = json_dumps(b, JSON_COMPACT)))
		rc = bw_cli_fail(prog, "%s: not a PEM text file", file);
	json_decref(b);
	bw_buf_dispose(&csr);
	return rc;
}

static int cmd_recertify(int argc, char **argv)
{
	static const char *prog = "bulwark devices recertify";
	struct bw_admin_client s = {0};
	struct bw_err err = {0};
	const char *uuid = NULL, *csr = NULL, *out = NULL;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--csr", BW_CLI_STR, "FILE", "the device's CSR (PEM: CN = UUID, "
	     "OU = factory, EC P-256)", &csr},
	    {"--out", BW_CLI_STR, "FILE", "write the certificate and its CA "
	     "here (default: stdout)", &out},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "UUID --csr FILE --server URL [--out FILE]",
	    "Bind a new certificate to an existing device (an operator's "
	    "re-certify, for a\nlost or replaced key): the server checks the "
	    "CSR as registration does, issues\nwith its registration CA "
	    "(production as on record), binds it, refuses the\nold "
	    "certificate from then on, and logs it (device.bind, "
	    "device.cert.issue).\nOperator or admin token.",
	    opts, &uuid, 1, 1};
	char path[96], *body = NULL;
	const char *pem = NULL;
	json_t *ans = NULL;
	long st = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (!uuid_ok(uuid))
		return bw_cli_usage(prog, "not a device uuid: '%.64s'", uuid);
	if (csr == NULL)
		return bw_cli_usage(prog, "--csr FILE is required");
	if ((rc = recertify_body(prog, csr, &body)) != BW_EXIT_OK)
		return rc;
	snprintf(path, sizeof(path), "/devices/%s/recertify", uuid);
	rc = bw_admin_request(prog, &s, "POST", path, body, strlen(body), 0,
			      &st, &ans);
	pem = json_string_value(json_object_get(ans, "chain"));
	if (rc == BW_EXIT_OK && pem == NULL)
		rc = bw_cli_fail(prog, "the server's answer has no chain");
	else if (rc == BW_EXIT_OK && out == NULL)
		fputs(pem, stdout);
	else if (rc == BW_EXIT_OK &&
		 bw_io_write_atomic(out, pem, strlen(pem), 0644, &err) != 0)
		rc = bw_cli_fail(prog, "%s: %s", out, err.msg);
	if (rc == BW_EXIT_OK)
		fprintf(stderr, "device %s re-certified (serial %s)\n", uuid,
			json_string_value(json_object_get(ans, "serial")));
	json_decref(ans);
	free(body);
	return rc;
}

static int cmd_rotations(int argc, char **argv)
{
	static const char *prog = "bulwark devices rotations";
	struct bw_admin_client s = {0};
	const char *state = NULL;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--state", BW_CLI_STR, "S", "pending, completed or superseded",
	     &state},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--server URL [--state S]",
	    "Certificate rotations over EST, newest first (JSON): pending "
	    "until the device\nfirst uses its new certificate, then completed "
	    "(the old one is refused).",
	    opts, NULL, 0, 0};
	char path[96];
	json_t *ans = NULL;
	long st = 0;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (state != NULL && strcmp(state, "pending") &&
	    strcmp(state, "completed") && strcmp(state, "superseded"))
		return bw_cli_usage(prog, "--state: pending, completed or "
					  "superseded");
	snprintf(path, sizeof(path), "/rotations?limit=10000%s%s",
		 state ? "&state=" : "", state ? state : "");
	rc = bw_admin_request(prog, &s, "GET", path, NULL, 0, 0, &st, &ans);
	if (rc == BW_EXIT_OK) {
		json_dumpf(ans, stdout,
			   JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		putchar('\n');
	}
	json_decref(ans);
	return rc;
}

int bw_cmd_devices(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"list", "list the devices the server knows", cmd_list},
	    {"show", "show one device", cmd_show},
	    {"deny", "deny-list a device", cmd_deny},
	    {"allow", "take a device off the deny-list", cmd_allow},
	    {"rotate-cert", "ask a device or a CA's devices to renew their "
	     "certificate", cmd_rotate_cert},
	    {"recertify", "bind a new certificate to a device (operator)",
	     cmd_recertify},
	    {"rotations", "certificate rotations (pending, completed)",
	     cmd_rotations},
	};

	return bw_cli_dispatch("bulwark devices",
			       "Devices known to bulwarkd (admin API).", cmds,
			       sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
