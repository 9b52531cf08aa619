/*
 * Internals shared by the PKCS#11 backend files: pkcs11_uri.c (URIs, PINs,
 * option resolution), pkcs11_token.c (direct module calls: checks, keygen,
 * delete, connections), pkcs11.c (the ENGINE signer) and pkcs11_eddsa.c
 * (the direct Ed25519 signer). Not part of the public API.
 */
#ifndef BW_PKCS11_PRIV_H
#define BW_PKCS11_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/pkcs11.h"
#include "crypto/pkcs11_ck.h"

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

/*
 * A session on one token of a loaded module (pkcs11_token.c). Open with
 * bw_pkcs11__conn_open (module loaded and counted as in use, token found
 * by label, session opened, user logged in), always release with
 * bw_pkcs11__conn_close, both with the lock held. The module stays
 * initialised while any connection is open.
 */
struct bw_pkcs11__conn {
	void *dl;
	CK_FUNCTION_LIST *f;
	int attached; /* counted as a user of the module */
	CK_SESSION_HANDLE sess;
	int have_sess;
};

int bw_pkcs11__conn_open(const struct bw_pkcs11__sel *sel, int rw,
			 struct bw_pkcs11__conn *p, struct bw_err *err);
void bw_pkcs11__conn_close(struct bw_pkcs11__conn *p);

/* Up to max objects of class cls / key type ktype (NULL: any) with the
 * label and/or id (NULL / 0: not a criterion); *n how many. */
int bw_pkcs11__find(struct bw_pkcs11__conn *p, const CK_OBJECT_CLASS *cls,
		    const CK_KEY_TYPE *ktype, const char *label,
		    const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *h,
		    CK_ULONG max, CK_ULONG *n, struct bw_err *err);

/* The one private key sel names (BW_ENOTFOUND / BW_EEXIST otherwise). */
int bw_pkcs11__find_private(struct bw_pkcs11__conn *p,
			    const struct bw_pkcs11__sel *sel,
			    CK_OBJECT_HANDLE *h, struct bw_err *err);

/* BW_KEY_RSA, BW_KEY_ECDSA_P256 or BW_KEY_ED25519; BW_EUNSUPPORTED for
 * anything else (other curves, Ed448). */
int bw_pkcs11__key_type(struct bw_pkcs11__conn *p, CK_OBJECT_HANDLE h,
			enum bw_key_type *type, struct bw_err *err);

/* "object='..' id=.. on token '..'" for messages. */
void bw_pkcs11__sel_describe(const struct bw_pkcs11__sel *sel, char *buf,
			     size_t cap);

/* 1 if the ENGINE (pkcs11.c) is bound to the module loaded as dl: then
 * nobody else may finalise it. Lock held. */
int bw_pkcs11__engine_holds(void *dl);

/*
 * The signer of an Ed25519 key sel names (pkcs11_eddsa.c): C_Sign with
 * CKM_EDDSA in a session it keeps open. Lock held. Errors as
 * bw_pkcs11_signer_open.
 */
int bw_pkcs11__eddsa_open(const struct bw_pkcs11__sel *sel,
			  struct bw_signer **out, struct bw_err *err);

#endif
