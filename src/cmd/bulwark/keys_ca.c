/*
 * `bulwark keys ca ...`: the factory PKI (docs/pki.md). Thin layer over
 * include/bulwark/pki.h; the factory CA key is a file (factory_ca.key) or
 * a PKCS#11 key (factory_ca.uri + --hsm-pin-file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"
#include "bulwark/pki.h"
#include "cli.h"
#include "server_cli.h"

#define KEY_LABEL_DEFAULT "bulwark-factory-ca"

/* HSM options shared by every command that signs with the factory CA. */
struct hsm_args {
	const char *module;
	const char *token;
	const char *pin_file;
	const char *label;
};

#define HSM_USE_OPTS(h)                                                        \
	{"--hsm-pin-file", BW_CLI_STR, "F",                                    \
	 "PIN of the token holding the factory CA key (HSM directories)",      \
	 &(h).pin_file},                                                       \
	{                                                                      \
		"--hsm-module", BW_CLI_STR, "SO",                              \
			"PKCS#11 module (default: factory_ca.uri's, else "     \
			"SoftHSM2)",                                           \
			&(h).module                                            \
	}

/* An opened directory and, for HSM keys, the signer that holds the key. */
struct ca_ctx {
	struct bw_pki *pki;
	struct bw_signer *hsm;
};

static void ctx_dispose(struct ca_ctx *c)
{
	bw_pki_free(c->pki);
	bw_signer_free(c->hsm);
	c->pki = NULL;
	c->hsm = NULL;
}

static int hsm_key(const char *prog, struct ca_ctx *c,
		   const struct hsm_args *h)
{
	struct bw_pkcs11_opts o = {0};
	struct bw_err err = {0};
	char *pin = NULL;
	int rc;

	if (h->pin_file == NULL)
		return bw_cli_usage(prog,
				    "the factory CA key is in an HSM (%s): "
				    "give --hsm-pin-file",
				    bw_pki_factory_key_uri(c->pki));
	rc = bw_pkcs11_pin_from_file(h->pin_file, &pin, &err);
	if (rc == 0) {
		o.module_path = h->module;
		o.uri = bw_pki_factory_key_uri(c->pki);
		o.pin = pin;
		rc = bw_pkcs11_signer_open(&o, &c->hsm, &err);
	}
	bw_pkcs11_pin_free(pin);
	if (rc == 0)
		rc = bw_pki_use_factory_key(c->pki, c->hsm->pkey, &err);
	if (rc != 0)
		return bw_cli_fail(prog, "factory CA key: %s", err.msg);
	return BW_EXIT_OK;
}

/* Open dir; load the factory key when need_key. */
static int ctx_open(const char *prog, const char *dir, int need_key,
		    const struct hsm_args *h, struct ca_ctx *c)
{
	struct bw_err err = {0};

	if (bw_pki_open(dir, &c->pki, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	if (!need_key)
		return BW_EXIT_OK;
	if (!bw_pki_factory_key_is_file(c->pki))
		return hsm_key(prog, c, h);
	if (bw_pki_load_factory_key(c->pki, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

static int parse_reason(const char *prog, const char *s, int device,
			enum bw_pki_reason *out)
{
	static const struct {
		const char *a, *b;
		enum bw_pki_reason r;
	} t[] = {
		{"key-compromise", "keyCompromise", BW_PKI_REASON_KEY_COMPROMISE},
		{"privilege-withdrawn", "privilegeWithdrawn",
		 BW_PKI_REASON_PRIVILEGE_WITHDRAWN},
		{"superseded", "superseded", BW_PKI_REASON_SUPERSEDED},
		{"cessation-of-operation", "cessationOfOperation",
		 BW_PKI_REASON_CESSATION},
	};

	if (s == NULL) {
		*out = device ? BW_PKI_REASON_PRIVILEGE_WITHDRAWN
			      : BW_PKI_REASON_KEY_COMPROMISE;
		return BW_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(s, t[i].a) == 0 || strcmp(s, t[i].b) == 0) {
			*out = t[i].r;
			return BW_EXIT_OK;
		}
	}
	return bw_cli_usage(prog,
			    "--reason: key-compromise, privilege-withdrawn, "
			    "superseded or cessation-of-operation");
}

/* ---- create ----------------------------------------------------------- */

/* Module path safe to put unescaped into a URI query. */
/* Make the factory key in the token; *uri receives its URI, *pin the PIN
 * (both for undoing the key when the directory cannot be created). */
static int hsm_create_key(const char *prog, const struct hsm_args *h,
			  struct bw_signer **signer, char **uri, char **pin)
{
	struct bw_err err = {0};
	struct bw_pkcs11_newkey k = {0};
	int rc;

	if (h->token == NULL || h->pin_file == NULL)
		return bw_cli_usage(prog, "an HSM factory CA needs --hsm-token "
				    "and --hsm-pin-file");
	rc = bw_pkcs11_pin_from_file(h->pin_file, pin, &err);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	k.module_path = h->module;
	k.token_label = h->token;
	k.pin = *pin;
	k.label = h->label != NULL ? h->label : KEY_LABEL_DEFAULT;
	k.uri_module = 1;
	rc = bw_pkcs11_key_create(&k, signer, uri, &err);
	if (rc == BW_EEXIST)
		return bw_cli_fail(prog, "HSM key generation: %s (choose "
				   "another --hsm-key-label)", err.msg);
	if (rc != 0)
		return bw_cli_fail(prog, "HSM key: %s", err.msg);
	return BW_EXIT_OK;
}

static int ca_create(int argc, char **argv)
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
		{"--hsm-module", BW_CLI_STR, "SO", "PKCS#11 module for an HSM "
		 "factory CA key (default SoftHSM2)", &h.module},
		{"--hsm-token", BW_CLI_STR, "LABEL", "token to create the "
		 "factory CA key in (non-extractable)", &h.token},
		{"--hsm-pin-file", BW_CLI_STR, "F", "file with the token's user "
		 "PIN (mode 0600)", &h.pin_file},
		{"--hsm-key-label", BW_CLI_STR, "L", "label of the key in the "
		 "token (default " KEY_LABEL_DEFAULT ")", &h.label},
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
	struct bw_err err = {0};
	char *uri = NULL, *pin = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (h.token != NULL || h.pin_file != NULL || h.module != NULL ||
	    h.label != NULL) {
		rc = hsm_create_key(prog, &h, &signer, &uri, &pin);
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
		if (signer != NULL) { /* leave the token as it was */
			struct bw_pkcs11_opts po = {.module_path = h.module,
						    .uri = uri, .pin = pin};

			(void)bw_pkcs11_delete_key(&po, NULL, NULL);
		}
		goto out;
	}
	printf("created %s for factory %s%s%s\n", pos[0], factory,
	       uri != NULL ? "; factory CA key in " : "",
	       uri != NULL ? uri : "");
	rc = BW_EXIT_OK;
out:
	bw_signer_free(signer);
	bw_pkcs11_pin_free(pin);
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

static int ca_show(int argc, char **argv)
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
	rc = ctx_open(prog, pos[0], 0, NULL, &c);
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
	ctx_dispose(&c);
	return rc;
}

/* ---- add-device-ca ------------------------------------------------------ */

static int ca_add(int argc, char **argv)
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
	rc = ctx_open(prog, pos[0], 1, &h, &c);
	if (rc == BW_EXIT_OK &&
	    bw_pki_add_device_ca(c.pki, online, name,
				 online ? !ci_only : prod, time(NULL), &base,
				 &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	if (rc == BW_EXIT_OK)
		printf("created %s/%s.pem and %s.key\n", pos[0], base, base);
	free(base);
	ctx_dispose(&c);
	return rc;
}

/* ---- disable / enable / revoke a device CA ------------------------------- */

static int ca_status(int argc, char **argv, const char *prog,
		     enum bw_pki_ca_status status)
{
	const char *pos[1] = {NULL}, *file = NULL, *serial = NULL, *ca = NULL;
	const char *reason_s = NULL, *base = NULL;
	enum bw_pki_reason reason = 0;
	struct hsm_args h = {0};
	struct bw_admin_client srv = {0};
	int done = 0, rc, changed = 0;
	const struct bw_cli_opt opts[] = {
		{"--ca-file", BW_CLI_STR, "F", "the device CA certificate",
		 &file},
		{"--ca-serial", BW_CLI_STR, "S", "its serial (hex)", &serial},
		{"--ca", BW_CLI_STR, "NAME", "its file name in DIR without .pem "
		 "(online-ca, local-ca-x)", &ca},
		{"--reason", BW_CLI_STR, "R", "revoke only: key-compromise "
		 "(default), privilege-withdrawn, superseded, "
		 "cessation-of-operation", &reason_s},
		HSM_USE_OPTS(h),
		BW_ADMIN_PKI_OPTS(srv),
		BW_CLI_END,
	};
	const char *desc =
		status == BW_PKI_CA_DISABLED
			? "Disable a device CA: no new device may register or be "
			  "first seen\nwith a certificate from it; devices "
			  "already known keep working.\nPublished in "
			  "crl/factory_ca.crl as certificateHold; removed\nfrom "
			  "device-cas.pem. Undo with enable-device-ca."
		: status == BW_PKI_CA_ENABLED
			? "Enable a disabled device CA again (lifts the "
			  "certificateHold)."
			: "Revoke a device CA for good: every device certificate "
			  "it issued\nstops working at the gateway. Published in "
			  "crl/factory_ca.crl\n(keyCompromise unless --reason). "
			  "Cannot be undone.";
	const struct bw_cli_spec spec = {
		prog, "DIR (--ca-file F | --ca-serial S | --ca NAME)", desc, opts, pos, 1, 1};
	struct ca_ctx c = {0};
	struct bw_err err = {0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((file != NULL) + (serial != NULL) + (ca != NULL) != 1)
		return bw_cli_usage(prog, "give exactly one of --ca-file, "
				    "--ca-serial, --ca");
	if (reason_s != NULL && status != BW_PKI_CA_REVOKED)
		return bw_cli_usage(prog, "--reason is for revoke-device-ca");
	rc = parse_reason(prog, reason_s, 0, &reason);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_ready(prog, &srv, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = ctx_open(prog, pos[0], 1, &h, &c);
	if (rc != BW_EXIT_OK)
		goto out;
	if (ca != NULL) {
		base = ca;
	} else if (bw_pki_find_device_ca(c.pki, file, serial, &base, &err) != 0) {
		rc = bw_cli_fail(prog, "%s", err.msg);
		goto out;
	}
	if (bw_pki_set_device_ca_status(c.pki, base, status, reason,
					time(NULL), &err) != 0) {
		rc = bw_cli_fail(prog, "%s", err.msg);
		goto out;
	}
	printf("%s: %s\n", base,
	       status == BW_PKI_CA_ENABLED ? "enabled"
	       : status == BW_PKI_CA_DISABLED ? "disabled"
					      : "revoked");
	changed = 1;
out:
	ctx_dispose(&c); /* unlock DIR first: a local server may share it */
	if (changed)
		rc = bw_admin_pki_push(prog, &srv, pos[0]);
	return rc;
}

static int ca_disable(int argc, char **argv)
{
	return ca_status(argc, argv, "bulwark keys ca disable-device-ca",
			 BW_PKI_CA_DISABLED);
}

static int ca_enable(int argc, char **argv)
{
	return ca_status(argc, argv, "bulwark keys ca enable-device-ca",
			 BW_PKI_CA_ENABLED);
}

static int ca_revoke(int argc, char **argv)
{
	return ca_status(argc, argv, "bulwark keys ca revoke-device-ca",
			 BW_PKI_CA_REVOKED);
}

/* ---- revoke-device ------------------------------------------------------- */

static int read_input(const char *prog, const char *path, size_t max,
		      struct bw_buf *b)
{
	struct bw_err err = {0};

	bw_buf_init(b, max);
	if (bw_io_read_file(path, max, b, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

static int ca_revoke_device(int argc, char **argv)
{
	const char *prog = "bulwark keys ca revoke-device";
	const char *pos[1] = {NULL}, *cert = NULL, *reason_s = NULL;
	struct bw_admin_client srv = {0};
	struct bw_pki_device_sel sel = {0};
	enum bw_pki_reason reason = 0;
	struct hsm_args h = {0};
	int done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--cert", BW_CLI_STR, "F", "the device certificate (PEM/DER)",
		 &cert},
		{"--serial", BW_CLI_STR, "S", "its serial (hex)", &sel.serial},
		{"--uuid", BW_CLI_STR, "U", "every certificate signed here for "
		 "this device", &sel.uuid},
		{"--issuer", BW_CLI_STR, "NAME", "issuing device CA (online-ca, "
		 "local-ca, ...) for a serial not signed here", &sel.issuer},
		{"--reason", BW_CLI_STR, "R", "privilege-withdrawn (default), "
		 "key-compromise, superseded, cessation-of-operation",
		 &reason_s},
		HSM_USE_OPTS(h),
		BW_ADMIN_PKI_OPTS(srv),
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "DIR (--cert F | --serial S | --uuid U)",
		"Revoke one device certificate: recorded in state.json and\n"
		"published in the CRL of the device CA that issued it\n"
		"(crl/<ca>.crl). That CA's key must be in DIR.",
		opts, pos, 1, 1};
	struct ca_ctx c = {0};
	struct bw_err err = {0};
	struct bw_buf b = {0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((cert != NULL) + (sel.serial != NULL) + (sel.uuid != NULL) != 1)
		return bw_cli_usage(prog,
				    "give exactly one of --cert, --serial, --uuid");
	rc = parse_reason(prog, reason_s, 1, &reason);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_ready(prog, &srv, 1);
	if (rc == BW_EXIT_OK && cert != NULL) {
		rc = read_input(prog, cert, 64u * 1024u, &b);
		sel.cert = b.data;
		sel.cert_len = b.len;
	}
	if (rc == BW_EXIT_OK)
		rc = ctx_open(prog, pos[0], 1, &h, &c);
	if (rc == BW_EXIT_OK &&
	    bw_pki_revoke_device(c.pki, &sel, reason, time(NULL), &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	if (rc == BW_EXIT_OK)
		printf("revoked\n");
	bw_buf_dispose(&b);
	ctx_dispose(&c); /* unlock DIR first: a local server may share it */
	if (rc == BW_EXIT_OK)
		rc = bw_admin_pki_push(prog, &srv, pos[0]);
	return rc;
}

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

static int ca_sign(int argc, char **argv)
{
	const char *prog = "bulwark keys ca sign";
	const char *pos[2] = {NULL, NULL}, *out = NULL, *days_s = NULL;
	struct bw_cli_list dns = {0}, ip = {0};
	struct bw_pki_sign_opts so = {0};
	struct hsm_args h = {0};
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
		"never from the CSR.",
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
	rc = parse_days(prog, days_s, &so.days);
	if (rc != BW_EXIT_OK)
		return rc;
	so.sans.dns = dns.v;
	so.sans.ndns = dns.n;
	so.sans.ip = ip.v;
	so.sans.nip = ip.n;
	rc = read_input(prog, pos[1], BW_PKI_CSR_MAX, &b);
	if (rc == BW_EXIT_OK)
		rc = ctx_open(prog, pos[0], so.profile != BW_PKI_PROFILE_DEVICE,
			      &h, &c);
	if (rc == BW_EXIT_OK && bw_pki_sign_csr(c.pki, b.data, b.len, &so,
						time(NULL), &pem, &err) != 0)
		rc = bw_cli_fail(prog, "%s: %s", pos[1], err.msg);
	if (rc == BW_EXIT_OK)
		rc = write_out(prog, out, pem);
	free(pem);
	bw_buf_dispose(&b);
	ctx_dispose(&c);
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
	rc = ctx_open(prog, pos[0], 1, &h, &c);
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
	ctx_dispose(&c); /* unlock DIR first: a local server may share it */
	if (rc == BW_EXIT_OK && what == 2)
		rc = bw_admin_pki_push(prog, &srv, pos[0]);
	return rc;
}

static int ca_rotate_tls(int argc, char **argv)
{
	return ca_simple(argc, argv, "bulwark keys ca rotate-tls",
			 "New gateway TLS key and certificate (tls.*) from the "
			 "factory CA,\nfor the same names unless --dns/--ip; the "
			 "old pair is kept\nas tls.pem.bak / tls.key.bak.",
			 0);
}

static int ca_rotate_est(int argc, char **argv)
{
	return ca_simple(argc, argv, "bulwark keys ca rotate-est",
			 "New EST server key and certificate (est-tls.*) from "
			 "the factory CA,\nfor the same names unless --dns/--ip; "
			 "the old pair is kept\nas est-tls.pem.bak / "
			 "est-tls.key.bak.",
			 1);
}

static int ca_update_crl(int argc, char **argv)
{
	return ca_simple(argc, argv, "bulwark keys ca update-crl",
			 "Re-sign every CRL in crl/ (new nextUpdate, 30 days, "
			 "and crlNumber).\nRun it well before nextUpdate, e.g. "
			 "weekly.",
			 2);
}

static const struct bw_cli_cmd ca_cmds[] = {
	{"create", "create the PKI of a factory (factory CA, server certs, "
		   "device CAs)", ca_create},
	{"show", "list certificates, status, CRLs and expiry warnings",
	 ca_show},
	{"add-device-ca", "add an online or local device CA", ca_add},
	{"disable-device-ca", "no new devices from a device CA "
			      "(certificateHold)", ca_disable},
	{"enable-device-ca", "undo disable-device-ca", ca_enable},
	{"revoke-device-ca", "cut off a device CA and all its devices",
	 ca_revoke},
	{"revoke-device", "revoke one device certificate", ca_revoke_device},
	{"sign", "sign a CSR (device, server or device CA profile)", ca_sign},
	{"rotate-tls", "new gateway TLS certificate", ca_rotate_tls},
	{"rotate-est", "new EST server certificate", ca_rotate_est},
	{"update-crl", "re-sign the CRLs before nextUpdate", ca_update_crl},
};

int bw_cmd_keys_ca(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark keys ca",
			       "The factory PKI: root of trust, gateway and EST "
			       "certificates, device CAs,\ndisable and revoke "
			       "(docs/pki.md).",
			       ca_cmds, sizeof(ca_cmds) / sizeof(ca_cmds[0]),
			       argc, argv);
}
