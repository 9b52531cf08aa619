/*
 * `bulwark keys ca ...`: the factory PKI (docs/pki.md). Thin layer over
 * include/bulwark/pki.h; the factory CA key is a file (factory_ca.key) or
 * a PKCS#11 key (factory_ca.uri + --hsm-pin-file). This file holds what
 * the command groups share and the command table.
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

void bw_keysca_ctx_dispose(struct ca_ctx *c)
{
	bw_pki_free(c->pki);
	bw_signer_free(c->hsm);
	c->pki = NULL;
	c->hsm = NULL;
}

int bw_keysca_hsm_key(const char *prog, struct ca_ctx *c,
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
int bw_keysca_ctx_open(const char *prog, const char *dir, int need_key,
		    const struct hsm_args *h, struct ca_ctx *c)
{
	struct bw_err err = {0};

	if (bw_pki_open(dir, &c->pki, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	if (!need_key)
		return BW_EXIT_OK;
	if (!bw_pki_factory_key_is_file(c->pki))
		return bw_keysca_hsm_key(prog, c, h);
	if (bw_pki_load_factory_key(c->pki, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

int bw_keysca_parse_reason(const char *prog, const char *s, int device,
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

int bw_keysca_read_input(const char *prog, const char *path, size_t max,
		      struct bw_buf *b)
{
	struct bw_err err = {0};

	bw_buf_init(b, max);
	if (bw_io_read_file(path, max, b, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

static const struct bw_cli_cmd ca_cmds[] = {
	{"create", "create the PKI of a factory (factory CA, server certs, "
		   "device CAs)", bw_keysca_create},
	{"show", "list certificates, status, CRLs and expiry warnings",
	 bw_keysca_show},
	{"add-device-ca", "add an online or local device CA", bw_keysca_add},
	{"disable-device-ca", "no new devices from a device CA "
			      "(certificateHold)", bw_keysca_disable},
	{"enable-device-ca", "undo disable-device-ca", bw_keysca_enable},
	{"revoke-device-ca", "cut off a device CA and all its devices",
	 bw_keysca_revoke},
	{"revoke-device", "revoke one device certificate", bw_keysca_revoke_device},
	{"sign", "sign a CSR (device, server or device CA profile)", bw_keysca_sign},
	{"rotate-tls", "new gateway TLS certificate", bw_keysca_rotate_tls},
	{"rotate-est", "new EST server certificate", bw_keysca_rotate_est},
	{"update-crl", "re-sign the CRLs before nextUpdate", bw_keysca_update_crl},
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
