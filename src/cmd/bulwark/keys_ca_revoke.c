/*
 * `bulwark keys ca disable-device-ca | enable-device-ca | revoke-device-ca
 * | revoke-device`: cutting devices off (keys_ca.h).
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
	rc = bw_keysca_parse_reason(prog, reason_s, 0, &reason);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_ready(prog, &srv, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_keysca_ctx_open(prog, pos[0], 1, &h, &c);
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
	bw_keysca_ctx_dispose(&c); /* unlock DIR first: a local server may share it */
	if (changed)
		rc = bw_admin_pki_push(prog, &srv, pos[0]);
	return rc;
}

int bw_keysca_disable(int argc, char **argv)
{
	return ca_status(argc, argv, "bulwark keys ca disable-device-ca",
			 BW_PKI_CA_DISABLED);
}

int bw_keysca_enable(int argc, char **argv)
{
	return ca_status(argc, argv, "bulwark keys ca enable-device-ca",
			 BW_PKI_CA_ENABLED);
}

int bw_keysca_revoke(int argc, char **argv)
{
	return ca_status(argc, argv, "bulwark keys ca revoke-device-ca",
			 BW_PKI_CA_REVOKED);
}

/* ---- revoke-device ------------------------------------------------------- */

int bw_keysca_revoke_device(int argc, char **argv)
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
	rc = bw_keysca_parse_reason(prog, reason_s, 1, &reason);
	if (rc == BW_EXIT_OK)
		rc = bw_admin_ready(prog, &srv, 1);
	if (rc == BW_EXIT_OK && cert != NULL) {
		rc = bw_keysca_read_input(prog, cert, 64u * 1024u, &b);
		sel.cert = b.data;
		sel.cert_len = b.len;
	}
	if (rc == BW_EXIT_OK)
		rc = bw_keysca_ctx_open(prog, pos[0], 1, &h, &c);
	if (rc == BW_EXIT_OK &&
	    bw_pki_revoke_device(c.pki, &sel, reason, time(NULL), &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	if (rc == BW_EXIT_OK)
		printf("revoked\n");
	bw_buf_dispose(&b);
	bw_keysca_ctx_dispose(&c); /* unlock DIR first: a local server may share it */
	if (rc == BW_EXIT_OK)
		rc = bw_admin_pki_push(prog, &srv, pos[0]);
	return rc;
}
