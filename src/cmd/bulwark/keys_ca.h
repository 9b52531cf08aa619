/*
 * `bulwark keys ca`: what its command groups share (keys_ca.c) and their
 * entry points: set-up (keys_ca_setup.c: create, show, add-device-ca),
 * revocation (keys_ca_revoke.c: disable/enable/revoke-device-ca,
 * revoke-device) and issuance (keys_ca_issue.c: sign, rotate-tls,
 * rotate-est, update-crl).
 */
#ifndef BW_KEYS_CA_H
#define BW_KEYS_CA_H

#include "bulwark/pki.h"
#include "cli.h"
#include "hsm.h"

#define KEY_LABEL_DEFAULT "bulwark-factory-ca"

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

/* Close the directory and the HSM signer. */
void bw_keysca_ctx_dispose(struct ca_ctx *c);
/* Open the factory CA key held in a token (HSM directories). */
int bw_keysca_hsm_key(const char *prog, struct ca_ctx *c,
		   const struct hsm_args *h);
/* Open the PKI directory dir; with need_key, also the factory CA key. */
int bw_keysca_ctx_open(const char *prog, const char *dir, int need_key,
		    const struct hsm_args *h, struct ca_ctx *c);
/* A revocation reason name (device: a device certificate). */
int bw_keysca_parse_reason(const char *prog, const char *s, int device,
			enum bw_pki_reason *out);
/* Read the file path (at most max bytes) into b; prints the error. */
int bw_keysca_read_input(const char *prog, const char *path, size_t max,
		      struct bw_buf *b);

int bw_keysca_create(int argc, char **argv);
int bw_keysca_show(int argc, char **argv);
int bw_keysca_add(int argc, char **argv);
int bw_keysca_disable(int argc, char **argv);
int bw_keysca_enable(int argc, char **argv);
int bw_keysca_revoke(int argc, char **argv);
int bw_keysca_revoke_device(int argc, char **argv);
int bw_keysca_sign(int argc, char **argv);
int bw_keysca_rotate_tls(int argc, char **argv);
int bw_keysca_rotate_est(int argc, char **argv);
int bw_keysca_update_crl(int argc, char **argv);

#endif
