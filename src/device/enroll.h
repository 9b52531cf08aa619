/*
 * Registration of a device with the registration service (enroll.c),
 * and storing its certificate in a PKCS#11 token (token_cert.c).
 */
#ifndef BW_DEV_ENROLL_H
#define BW_DEV_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/error.h"

struct bw_dev_register_opts {
	const char *config_path; /* where the device config is; read for
				    state_dir when it exists */
	const char *state_dir;
	const char *server_url;
	const char *token_file;
	const char *uuid, *name, *hardware_id, *tag;
	const char *pkcs11_module, *token_label, *pin_file;
	const char *key_label;
	const char *ca_file;    /* trust for the registration server */
	int use_key_file;       /* file key instead of a token key */
	int force;
};

/* Returns a BW_DEV_EXIT_* code. */
int bw_dev_register(const struct bw_dev_register_opts *o);

/* token_cert.c: store cert_pem in the token o selects (token_label, pin,
 * module) as a CKO_CERTIFICATE with this label and CKA_ID. */
struct bw_pkcs11_opts;
int bw_dev_token_store_cert(const struct bw_pkcs11_opts *o, const char *label,
			    const uint8_t *id, size_t id_len,
			    const char *cert_pem, struct bw_err *err);

#endif
