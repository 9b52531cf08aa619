/*
 * `bulwark keys ca create | show | add-device-ca`: setting up the factory
 * PKI (keys_ca.h).
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

/* ---- create ----------------------------------------------------------- */

int bw_keysca_create(int argc, char **argv)
{
	const char *prog = "bulwark keys ca create";
	const char *pos[1] = {NULL}, *factory = NULL;
	struct bw_cli_list dns = {0}, ip = {0};
	struct hsm_args h = {0};
	int online = 0, local = 0, local_prod = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--factory", BW_CLI_STR | BW_CLI_REQUIRED, "NAME", "factory name (OU of every "
		 "certificate)", &factory},
		{"--dns", BW_CLI_LIST, "NAME", "DNS name of the gateway and EST "
		 "server (SAN)", &dns},
		{"--ip", BW_CLI_LIST, "ADDR", "IP address of the gateway and EST "
		 "server (SAN)", &ip},
		{"--online-ca", BW_CLI_FLAG, NULL, "also create the online "
		 "device CA (online-ca.*)", &online},
		{"--local-ca", BW_CLI_FLAG, NULL, "also create a local device CA "
		 "(local-ca.*)", &local},
		{"--local-ca-production", BW_CLI_FLAG, NULL, "the local CA may "
		 "issue production certificates (fixed for its life)",
		 &local_prod},
		HSM_NEW_OPTS(h, "the factory CA key", "label of the key in "
			     "the token (default " KEY_LABEL_DEFAULT ")"),
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "DIR --factory NAME [options]",
		"Create the PKI of one factory in DIR: the factory CA (root of\n"
		"trust, 20 years), the gateway TLS certificate (tls.*) and the EST\n"
		"certificate (est-tls.*) for the given names (10 years), optional\n"
		"device CAs, device-cas.pem and the CRLs in crl/. Refuses to\n"
		"overwrite an existing root of trust; on failure DIR is unchanged.\n"
		"Without --dns/--ip the server certificates name localhost and\n"
		"127.0.0.1 (rotate them later with rotate-tls / rotate-est).",
		opts, pos, 1, 1};
	static const char *const def_dns[] = {"localhost"};
	static const char *const def_ip[] = {"127.0.0.1"};
	struct bw_pki_create_opts co = {0};
	struct bw_signer *signer = NULL;
	static const struct hsm_newkey nk = {BW_KEY_ECDSA_P256, 0,
					     KEY_LABEL_DEFAULT, 0, 1};
	struct bw_err err = {0};
	char *uri = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (h.token != NULL || h.pin_file != NULL || h.module != NULL ||
	    h.label != NULL) {
		rc = bw_hsm_key_create(prog, &h, &nk, &signer, &uri);
		if (rc != BW_EXIT_OK)
			goto out;
		co.factory_key = signer->pkey;
		co.factory_key_uri = uri;
	}
	co.dir = pos[0];
	co.factory = factory;
	co.online_ca = online;
	co.local_ca = local;
	co.local_ca_production = local_prod;
	co.now = time(NULL);
	if (local_prod && !local)
		return bw_cli_usage(prog, "--local-ca-production needs "
				    "--local-ca");
	if (dns.n + ip.n == 0) {
		fprintf(stderr, "%s: warning: no --dns/--ip: server "
			"certificates name localhost and 127.0.0.1\n", prog);
		co.sans.dns = def_dns;
		co.sans.ndns = 1;
		co.sans.ip = def_ip;
		co.sans.nip = 1;
	} else {
		co.sans.dns = dns.v;
		co.sans.ndns = dns.n;
		co.sans.ip = ip.v;
		co.sans.nip = ip.n;
	}
	if (bw_pki_create(&co, &err) != 0) {
		rc = bw_cli_fail(prog, "%s", err.msg);
		if (signer != NULL) /* leave the token as it was */
			bw_hsm_key_undo(&h, uri);
		goto out;
	}
	printf("created %s for factory %s%s%s\n", pos[0], factory,
	       uri != NULL ? "; factory CA key in " : "",
	       uri != NULL ? uri : "");
	rc = BW_EXIT_OK;
out:
	bw_signer_free(signer);
	free(uri);
	return rc;
}

/* ---- show ------------------------------------------------------------- */

static void show_pretty(json_t *j)
{
	size_t i;
	json_t *v;

	printf("PKI %s (factory %s, factory CA key: %s)\n\n",
	       json_string_value(json_object_get(j, "dir")),
	       json_string_value(json_object_get(j, "factory")),
	       json_string_value(json_object_get(j, "factory_key")));
	printf("%-22s %-17s %-9s %-20s %-20s %s\n", "FILE", "ROLE", "STATUS",
	       "NOT BEFORE", "NOT AFTER", "SERIAL / SUBJECT");
	json_array_foreach(json_object_get(j, "certificates"), i, v) {
		printf("%-22s %-17s %-9s %-20s %-20s %s\n",
		       json_string_value(json_object_get(v, "file")),
		       json_string_value(json_object_get(v, "role")),
		       json_string_value(json_object_get(v, "status")),
		       json_string_value(json_object_get(v, "not_before")),
		       json_string_value(json_object_get(v, "not_after")),
		       json_string_value(json_object_get(v, "serial")));
		printf("%-22s %s\n", "",
		       json_string_value(json_object_get(v, "subject")));
		if (json_object_get(v, "production") != NULL)
			printf("%-22s %s\n", "",
			       json_is_true(json_object_get(v, "production"))
				   ? "may issue production certificates"
				   : "CI certificates only");
	}
	printf("\n%-26s %-8s %-8s %s\n", "CRL", "NUMBER", "ENTRIES",
	       "NEXT UPDATE");
	json_array_foreach(json_object_get(j, "crls"), i, v)
		printf("%-26s %-8lld %-8lld %s\n",
		       json_string_value(json_object_get(v, "file")),
		       (long long)json_integer_value(
			       json_object_get(v, "crl_number")),
		       (long long)json_integer_value(
			       json_object_get(v, "entries")),
		       json_string_value(json_object_get(v, "next_update")));
	printf("\nrevoked devices: %lld, devices signed here: %lld\n",
	       (long long)json_integer_value(
		       json_object_get(j, "revoked_devices")),
	       (long long)json_integer_value(
		       json_object_get(j, "issued_devices")));
	json_array_foreach(json_object_get(j, "warnings"), i, v)
		printf("WARNING: %s\n", json_string_value(v));
}

int bw_keysca_show(int argc, char **argv)
{
	const char *prog = "bulwark keys ca show";
	const char *pos[1] = {NULL};
	int pretty = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--pretty", BW_CLI_FLAG, NULL, "human-readable table instead "
		 "of JSON", &pretty},
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "DIR [--pretty]",
		"Show every certificate of the PKI in DIR with its serial,\n"
		"validity and status (device CAs: enabled / disabled / revoked),\n"
		"the CRLs, and warnings for anything expired or expiring within\n"
		"90 days (CRLs: 7 days). Prints JSON unless --pretty.",
		opts, pos, 1, 1};
	struct ca_ctx c = {0};
	struct bw_err err = {0};
	json_t *j = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_keysca_ctx_open(prog, pos[0], 0, NULL, &c);
	if (rc != BW_EXIT_OK)
		goto out;
	if (bw_pki_show(c.pki, time(NULL), &j, &err) != 0) {
		rc = bw_cli_fail(prog, "%s", err.msg);
		goto out;
	}
	if (pretty) {
		show_pretty(j);
	} else {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (s == NULL) {
			rc = bw_cli_fail(prog, "out of memory");
			goto out;
		}
		printf("%s\n", s);
		free(s);
	}
out:
	json_decref(j);
	bw_keysca_ctx_dispose(&c);
	return rc;
}

/* ---- add-device-ca ------------------------------------------------------ */

int bw_keysca_add(int argc, char **argv)
{
	const char *prog = "bulwark keys ca add-device-ca";
	const char *pos[1] = {NULL}, *name = NULL;
	struct hsm_args h = {0};
	int online = 0, local = 0, prod = 0, ci_only = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--online", BW_CLI_FLAG, NULL, "the online CA (online-ca.*; a "
		 "current one is kept as online-ca-<serial>.*)", &online},
		{"--production", BW_CLI_FLAG, NULL, "a local CA that may issue "
		 "production certificates (fixed for its life)", &prod},
		{"--ci-only", BW_CLI_FLAG, NULL, "an online CA that may not "
		 "issue production certificates", &ci_only},
		{"--local", BW_CLI_FLAG, NULL, "a local CA (local-ca.* or "
		 "local-ca-<name>.*)", &local},
		{"--name", BW_CLI_STR, "N", "name of a further local CA "
		 "([A-Za-z0-9_-], up to 32)", &name},
		HSM_USE_OPTS(h),
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "DIR --online|--local [--name N] [--production|--ci-only]",
		"Create a device CA signed by the factory CA (CA:TRUE, pathlen 0,\n"
		"keyCertSign + cRLSign), add it to device-cas.pem and give it a\n"
		"CRL. The online CA's key goes to the server; a local CA's key\n"
		"stays with the manufacturing site. Whether the CA may issue\n"
		"production certificates is fixed here: an online CA may (unless\n"
		"--ci-only), a local CA only with --production.",
		opts, pos, 1, 1};
	struct ca_ctx c = {0};
	struct bw_err err = {0};
	char *base = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (online == local)
		return bw_cli_usage(prog, "give exactly one of --online, --local");
	if ((prod && online) || (ci_only && local))
		return bw_cli_usage(prog, "--production is for --local, "
				    "--ci-only for --online");
	rc = bw_keysca_ctx_open(prog, pos[0], 1, &h, &c);
	if (rc == BW_EXIT_OK &&
	    bw_pki_add_device_ca(c.pki, online, name,
				 online ? !ci_only : prod, time(NULL), &base,
				 &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	if (rc == BW_EXIT_OK)
		printf("created %s/%s.pem and %s.key\n", pos[0], base, base);
	free(base);
	bw_keysca_ctx_dispose(&c);
	return rc;
}
