/*
 * `bulwark keys ca sign | rotate-tls | rotate-est | update-crl`: issuing
 * certificates and CRLs with the factory PKI (keys_ca.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"
#include "bulwark/pki.h"
#include "keys_ca.h"
#include "server_cli.h"

/* ---- sign ----------------------------------------------------------------- */

static int parse_days(const char *prog, const char *s, long *out)
{
	int64_t v = 0;
	int rc;

	if (s == NULL)
		return BW_EXIT_OK;
	rc = bw_cli_int(prog, "--days", s, 1, 36500, &v);
	if (rc == BW_EXIT_OK)
		*out = (long)v;
	return rc;
}

static int write_out(const char *prog, const char *path, const char *pem)
{
	struct bw_err err = {0};

	if (path == NULL || strcmp(path, "-") == 0) {
		fputs(pem, stdout);
		return BW_EXIT_OK;
	}
	if (bw_io_write_atomic(path, pem, strlen(pem), 0644, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

/* POST the device certificate just issued to bulwarkd's admin API, which
 * logs its issuance in the transparency log (s->ca_file defaults to
 * dir/factory_ca.pem). */
static int log_issued(const char *prog, struct bw_admin_client *s,
		      const char *dir, const char *pem)
{
	json_t *out = NULL;
	char *ca = NULL;
	long status = 0;
	int rc;

	if ((rc = bw_admin_pki_ca_default(prog, s, dir, &ca)) != BW_EXIT_OK)
		return rc;
	rc = bw_admin_request(prog, s, "POST", "/pki/issued", pem, strlen(pem),
			      0, &status, &out);
	if (rc == BW_EXIT_OK)
		fprintf(stderr, "%s: issuance %s the transparency log (entry "
				"%lld)\n",
			prog, status == 201 ? "logged in" : "already in",
			(long long)json_integer_value(json_object_get(out,
								      "index")));
	else
		fprintf(stderr, "%s: the certificate was issued and written "
				"but not logged; the device's first connection "
				"logs its binding\n",
			prog);
	json_decref(out);
	if (ca != NULL)
		s->ca_file = NULL;
	free(ca);
	return rc;
}

int bw_keysca_sign(int argc, char **argv)
{
	const char *prog = "bulwark keys ca sign";
	const char *pos[2] = {NULL, NULL}, *out = NULL, *days_s = NULL;
	struct bw_cli_list dns = {0}, ip = {0};
	struct bw_pki_sign_opts so = {0};
	struct hsm_args h = {0};
	struct bw_admin_client srv = {0};
	int device = 0, server = 0, ca = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--device", BW_CLI_FLAG, NULL, "device certificate (default): "
		 "CN=<uuid>, OU=<factory>, clientAuth", &device},
		{"--production", BW_CLI_FLAG, NULL, "--device: add "
		 "businessCategory=production", &so.production},
		{"--issuer", BW_CLI_STR, "NAME", "--device: device CA to sign "
		 "with (default local-ca, else online-ca)", &so.issuer},
		{"--days", BW_CLI_STR, "N", "--device: validity (default 3652)",
		 &days_s},
		{"--server", BW_CLI_FLAG, NULL, "server certificate (a TLS "
		 "terminator), signed by the factory CA", &server},
		{"--dns", BW_CLI_LIST, "NAME", "--server: DNS SAN", &dns},
		{"--ip", BW_CLI_LIST, "ADDR", "--server: IP SAN", &ip},
		{"--ca", BW_CLI_FLAG, NULL, "device CA for a site that keeps "
		 "its own key: stored as local-ca-<name>.pem", &ca},
		{"--name", BW_CLI_STR, "N", "--ca: its name", &so.name},
		{"-o", BW_CLI_STR, "FILE", "write the certificate here "
		 "(default stdout)", &out},
		{"--log-server", BW_CLI_STR, "URL", "--device: then log the "
		 "issuance in bulwarkd's transparency log (its admin API)",
		 &srv.server},
		{"--token-file", BW_CLI_STR, "F", "--log-server: admin bearer "
		 "token, mode 0600 (default: $" BW_ADMIN_TOKEN_ENV ")",
		 &srv.token_file},
		{"--server-ca", BW_CLI_STR, "F", "--log-server: CA of the "
		 "server's TLS certificate (default: DIR/factory_ca.pem)",
		 &srv.ca_file},
		HSM_USE_OPTS(h),
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "DIR CSR [--device|--server|--ca] [options]",
		"Sign a CSR (PEM or DER) offline with the profile asked for. The\n"
		"CSR must fit it: ECDSA P-256; a device CSR has CN=<uuid>, at most\n"
		"OU=<factory>, and businessCategory=production only with\n"
		"--production; no CA:TRUE or keyCertSign unless --ca. The\n"
		"certificate's subject and extensions come from the profile,\n"
		"never from the CSR. With --log-server, the device certificate\n"
		"is then logged in bulwarkd's transparency log (device.cert.issue);\n"
		"without it, the log records it when the device first connects.",
		opts, pos, 2, 2};
	struct ca_ctx c = {0};
	struct bw_err err = {0};
	struct bw_buf b = {0};
	char *pem = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (device + server + ca > 1)
		return bw_cli_usage(prog, "give one of --device, --server, --ca");
	so.profile = server ? BW_PKI_PROFILE_SERVER
		     : ca   ? BW_PKI_PROFILE_DEVICE_CA
			    : BW_PKI_PROFILE_DEVICE;
	if (so.profile != BW_PKI_PROFILE_DEVICE &&
	    (so.production || so.issuer != NULL || days_s != NULL))
		return bw_cli_usage(prog, "--production, --issuer and --days "
				    "are for --device");
	if (so.profile != BW_PKI_PROFILE_SERVER && dns.n + ip.n > 0)
		return bw_cli_usage(prog, "--dns and --ip are for --server");
	if (so.profile == BW_PKI_PROFILE_SERVER && dns.n + ip.n == 0)
		return bw_cli_usage(prog, "--server needs --dns or --ip");
	if ((so.profile == BW_PKI_PROFILE_DEVICE_CA) != (so.name != NULL))
		return bw_cli_usage(prog, "--name goes with --ca (and --ca "
				    "needs it)");
	if (so.profile != BW_PKI_PROFILE_DEVICE && srv.server != NULL)
		return bw_cli_usage(prog, "--log-server is for --device");
	rc = bw_admin_ready(prog, &srv, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = parse_days(prog, days_s, &so.days);
	if (rc != BW_EXIT_OK)
		return rc;
	so.sans.dns = dns.v;
	so.sans.ndns = dns.n;
	so.sans.ip = ip.v;
	so.sans.nip = ip.n;
	rc = bw_keysca_read_input(prog, pos[1], BW_PKI_CSR_MAX, &b);
	if (rc == BW_EXIT_OK)
		rc = bw_keysca_ctx_open(prog, pos[0], so.profile != BW_PKI_PROFILE_DEVICE,
			      &h, &c);
	if (rc == BW_EXIT_OK && bw_pki_sign_csr(c.pki, b.data, b.len, &so,
						time(NULL), &pem, &err) != 0)
		rc = bw_cli_fail(prog, "%s: %s", pos[1], err.msg);
	if (rc == BW_EXIT_OK)
		rc = write_out(prog, out, pem);
	bw_buf_dispose(&b);
	bw_keysca_ctx_dispose(&c); /* unlock DIR first: a local server may share it */
	if (rc == BW_EXIT_OK && srv.server != NULL)
		rc = log_issued(prog, &srv, pos[0], pem);
	free(pem);
	return rc;
}

/* ---- rotate-tls / rotate-est / update-crl ------------------------------- */

static int ca_simple(int argc, char **argv, const char *prog, const char *desc,
		     int what)
{
	const char *pos[1] = {NULL};
	struct bw_cli_list dns = {0}, ip = {0};
	struct bw_pki_sans sans = {0};
	struct hsm_args h = {0};
	struct bw_admin_client srv = {0};
	int done = 0, rc;
	const struct bw_cli_opt rotate_opts[] = {
		{"--dns", BW_CLI_LIST, "NAME", "rotate only: new DNS SANs "
		 "(default: keep the current names)", &dns},
		{"--ip", BW_CLI_LIST, "ADDR", "rotate only: new IP SANs", &ip},
		HSM_USE_OPTS(h),
		BW_CLI_END,
	};
	const struct bw_cli_opt crl_opts[] = {
		{"--dns", BW_CLI_LIST, "NAME", "rotate only: new DNS SANs "
		 "(default: keep the current names)", &dns},
		{"--ip", BW_CLI_LIST, "ADDR", "rotate only: new IP SANs", &ip},
		HSM_USE_OPTS(h),
		BW_ADMIN_PKI_OPTS(srv),
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, what == 2 ? "DIR [--server URL]"
				: "DIR [--dns NAME ...] [--ip ADDR ...]",
		desc, what == 2 ? crl_opts : rotate_opts, pos, 1, 1};
	struct ca_ctx c = {0};
	struct bw_err err = {0};
	int r;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (what == 2 && dns.n + ip.n > 0)
		return bw_cli_usage(prog, "--dns and --ip are for rotate-tls "
				    "and rotate-est");
	rc = bw_admin_ready(prog, &srv, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	sans.dns = dns.v;
	sans.ndns = dns.n;
	sans.ip = ip.v;
	sans.nip = ip.n;
	rc = bw_keysca_ctx_open(prog, pos[0], 1, &h, &c);
	if (rc != BW_EXIT_OK)
		goto out;
	r = what == 2 ? bw_pki_update_crls(c.pki, time(NULL), &err)
		      : bw_pki_rotate_server(c.pki, what, &sans, time(NULL),
					     &err);
	if (r != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	else
		printf("%s\n", what == 0   ? "rotated tls.pem (old: tls.pem.bak)"
			       : what == 1 ? "rotated est-tls.pem (old: "
					     "est-tls.pem.bak)"
					   : "CRLs re-signed");
out:
	bw_keysca_ctx_dispose(&c); /* unlock DIR first: a local server may share it */
	if (rc == BW_EXIT_OK && what == 2)
		rc = bw_admin_pki_push(prog, &srv, pos[0]);
	return rc;
}

int bw_keysca_rotate_tls(int argc, char **argv)
{
	return ca_simple(argc, argv, "bulwark keys ca rotate-tls",
			 "New gateway TLS key and certificate (tls.*) from the "
			 "factory CA,\nfor the same names unless --dns/--ip; the "
			 "old pair is kept\nas tls.pem.bak / tls.key.bak.",
			 0);
}

int bw_keysca_rotate_est(int argc, char **argv)
{
	return ca_simple(argc, argv, "bulwark keys ca rotate-est",
			 "New EST server key and certificate (est-tls.*) from "
			 "the factory CA,\nfor the same names unless --dns/--ip; "
			 "the old pair is kept\nas est-tls.pem.bak / "
			 "est-tls.key.bak.",
			 1);
}

int bw_keysca_update_crl(int argc, char **argv)
{
	return ca_simple(argc, argv, "bulwark keys ca update-crl",
			 "Re-sign every CRL in crl/ (new nextUpdate, 30 days, "
			 "and crlNumber).\nRun it well before nextUpdate, e.g. "
			 "weekly.",
			 2);
}
