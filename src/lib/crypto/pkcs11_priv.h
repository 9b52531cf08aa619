/*
 * Internals shared by the PKCS#11 backend files: pkcs11_uri.c (URIs, PINs,
 * option resolution), pkcs11_token.c (direct module calls: checks, keygen,
 * delete) and pkcs11.c (the ENGINE signer). Not part of the public API.
 */
#ifndef BW_PKCS11_PRIV_H
#define BW_PKCS11_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/pkcs11.h"

/* Options resolved into one selection: what to load and how. */
struct bw_pkcs11__sel {
	struct bw_pkcs11_uri u; /* token, object label, id (type ignored) */
	const char *module;     /* borrowed: opts, u.module_path or default */
	const char *pin;        /* borrowed from opts or pin_owned; NULL ok */
	char *pin_owned;        /* read from the URI's pin-source; wiped */
};

/*
 * Resolve opts (URI or parts) into *sel. need_object: an object label or
 * id is required. Release with bw_pkcs11__sel_dispose.
 */
int bw_pkcs11__sel_resolve(const struct bw_pkcs11_opts *opts, int need_object,
			   struct bw_pkcs11__sel *sel, struct bw_err *err);
void bw_pkcs11__sel_dispose(struct bw_pkcs11__sel *sel);

/*
 * One process-wide lock around module initialisation/finalisation and the
 * ENGINE set-up, so a check never finalises a module the engine is loading.
 */
void bw_pkcs11__lock(void);
void bw_pkcs11__unlock(void);

/*
 * Check through the module that sel names exactly one private key the PIN
 * unlocks, and report its type (BW_KEY_ECDSA_P256 or BW_KEY_RSA). Error
 * codes as bw_pkcs11_signer_open documents.
 */
int bw_pkcs11__preflight(const struct bw_pkcs11__sel *sel,
			 enum bw_key_type *type, struct bw_err *err);

#endif
