/*
 * PKCS#11 backend of the signer interface (crypto.h): offline TUF keys and
 * CA keys that live in a hardware token (SoftHSM2 in tests).
 *
 * Keys are addressed by an RFC 7512 URI
 *   pkcs11:token=<token label>;object=<key label>;id=%01%02;type=private
 * or by the same parts in struct bw_pkcs11_opts. Signing goes through
 * OpenSSL's "pkcs11" ENGINE (libp11, package libengine-pkcs11-openssl), so
 * signer->pkey also works with X509_sign, X509_REQ_sign, EVP_DigestSign and
 * SSL_CTX_use_PrivateKey. Key generation and deletion talk to the module
 * directly (dlopen + C_GetFunctionList).
 *
 * Key types: ECDSA P-256 (TUF scheme ecdsa-sha2-nistp256) is the HSM key
 * type of TUF and CA keys; RSA (rsassa-pss-sha256 for TUF; the boot keys
 * sign PKCS#1 v1.5 through signer->pkey) and Ed25519 keys are made too.
 * Ed25519 keys (the transparency log's) do not go through the ENGINE:
 * libp11 0.4.12 (Debian 12) cannot load EdDSA keys, and an EdDSA key on a
 * token even stops it from listing the other private keys there. They
 * sign through the module directly (CKM_EDDSA), only for callers that
 * set allow_eddsa (their signer->pkey is NULL), and belong on a token of
 * their own.
 *
 * PINs never come from the command line: read them from a file that only
 * its owner can read (bw_pkcs11_pin_from_file) or from an environment
 * variable (bw_pkcs11_pin_from_env). A URI with pin-value is refused.
 *
 * Process-wide state (libp11 0.4.12 keeps the module loaded until exit):
 *  - the first module a signer uses stays bound to the process; a signer on
 *    another module fails with BW_ESTATE;
 *  - PKCS#11 login is per process and token: once a signer was opened on a
 *    token, the token stays logged in, and later opens on that token in the
 *    same process no longer re-check the PIN (the module reports "already
 *    logged in"). A wrong PIN is detected on the first open.
 *  - SoftHSM2 reads its token list when the module is initialised: tokens
 *    made by another process after that are not seen by this one.
 * open/keygen/delete/key_flags may be called from several threads.
 */
#ifndef BULWARK_PKCS11_H
#define BULWARK_PKCS11_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BW_PKCS11_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define BW_PKCS11_TOKEN_LABEL_MAX 32  /* CK_TOKEN_INFO.label, bytes */
#define BW_PKCS11_LABEL_MAX 128       /* object label, bytes */
#define BW_PKCS11_ID_MAX 64           /* CKA_ID, bytes */
#define BW_PKCS11_PIN_MAX 128         /* bytes */
#define BW_PKCS11_PATH_MAX 4096       /* module path, pin-source */
#define BW_PKCS11_URI_MAX 2048        /* whole URI, characters */

/*
 * Which key to use. All strings are borrowed for the duration of the call.
 * Either uri, or token_label plus object_label and/or id_hex. If uri is set
 * the other selectors must be NULL (module_path and pin still apply; a
 * module-path in the URI is used when module_path is NULL).
 */
struct bw_pkcs11_opts {
	const char *module_path;  /* NULL: BW_PKCS11_DEFAULT_MODULE */
	const char *uri;          /* RFC 7512 URI, or NULL */
	const char *token_label;  /* CKA token label */
	const char *object_label; /* CKA_LABEL of the key pair */
	const char *id_hex;       /* CKA_ID as hex ("01"), or NULL */
	const char *pin;          /* user PIN (see bw_pkcs11_pin_from_*) */
	int allow_eddsa;          /* accept an Ed25519 key: the signer then
				     signs only through bw_signer_sign*, its
				     pkey is NULL (no OpenSSL handle) */
};

/* The parts of a pkcs11: URI that bulwark uses (fixed buffers). */
struct bw_pkcs11_uri {
	char token[BW_PKCS11_TOKEN_LABEL_MAX + 1];    /* "" if absent */
	char object[BW_PKCS11_LABEL_MAX + 1];         /* "" if absent */
	uint8_t id[BW_PKCS11_ID_MAX];
	size_t id_len;                                /* 0 if absent */
	char id_hex[2 * BW_PKCS11_ID_MAX + 1];        /* id as hex, "" if absent */
	char type[16];                /* "private", "public", "" if absent */
	char module_path[BW_PKCS11_PATH_MAX + 1];     /* query module-path */
	char pin_source[BW_PKCS11_PATH_MAX + 1];      /* query pin-source */
};

/*
 * Build "pkcs11:token=..;object=..;id=%..;type=<type>" from opts (uri must
 * be NULL; token_label required; object_label and/or id_hex required).
 * Values are percent-encoded; type may be NULL (no type attribute).
 * *out is malloc'd, caller frees. BW_EINVAL / BW_EFORMAT / BW_ETOOBIG.
 */
int bw_pkcs11_uri_build(const struct bw_pkcs11_opts *opts, const char *type,
			char **out, struct bw_err *err);

/*
 * Parse a pkcs11: URI into *out (bounded, percent-decoding). Accepts the
 * path attributes token, object, id, type and the query attributes
 * module-path and pin-source. Refuses pin-value (BW_EINVAL: PINs do not go
 * into URIs), other attributes (BW_EUNSUPPORTED: they would narrow the
 * selection in a way bulwark does not honour), duplicates, bad escapes,
 * embedded NULs and values longer than their buffer (BW_EFORMAT/ETOOBIG).
 */
int bw_pkcs11_uri_parse(const char *uri, struct bw_pkcs11_uri *out,
			struct bw_err *err);

/*
 * Read a PIN from a file: regular file, not a symlink, owned by the
 * effective user, no group/other permission bits (BW_EINVAL otherwise).
 * One trailing newline is dropped; empty or > BW_PKCS11_PIN_MAX bytes is
 * refused. *pin is malloc'd; release with bw_pkcs11_pin_free.
 */
int bw_pkcs11_pin_from_file(const char *path, char **pin, struct bw_err *err);

/*
 * Copy a PIN from the environment variable named name (BW_ENOTFOUND if
 * unset or empty). *pin is malloc'd; release with bw_pkcs11_pin_free.
 */
int bw_pkcs11_pin_from_env(const char *name, char **pin, struct bw_err *err);

/* Wipe and free a PIN. NULL is a no-op. */
void bw_pkcs11_pin_free(char *pin);

/*
 * Open a signer on a private key in a token. Checks the key first through
 * the module (token present, PIN right, exactly one private key matches,
 * key type supported) so the errors are clear:
 *   BW_ENOTFOUND    token or key missing
 *   BW_EINVAL       wrong PIN / bad options (message says which)
 *   BW_ESTATE       PIN locked, or engine bound to another module
 *   BW_EEXIST       the selection matches more than one private key
 *   BW_EUNSUPPORTED key type (non-P-256 curves, Ed448, Ed25519 without
 *                   allow_eddsa, any key beside an Ed25519 one) or no
 *                   engine
 *   BW_ESIG         Ed25519: the public key object is not the private
 *                   key's
 *   BW_ECRYPTO      engine failure
 * Then loads the key through the pkcs11 ENGINE. (*out)->pkey is the engine
 * key; (*out)->key its public half as a TUF key. Free with bw_signer_free.
 * An Ed25519 key (allow_eddsa) signs through the module instead: the
 * signer keeps a logged-in session; (*out)->pkey is NULL.
 */
int bw_pkcs11_signer_open(const struct bw_pkcs11_opts *opts,
			  struct bw_signer **out, struct bw_err *err);

/*
 * Generate a key pair inside the token selected by opts->token_label,
 * labelled label with CKA_ID id (id_len 1..BW_PKCS11_ID_MAX bytes, must
 * not be NULL). Private key: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE,
 * !CKA_EXTRACTABLE, CKA_SIGN; public key: CKA_TOKEN, CKA_VERIFY.
 * BW_KEY_ECDSA_P256, BW_KEY_ED25519 (CKM_EC_EDWARDS_KEY_PAIR_GEN,
 * edwards25519) or BW_KEY_RSA (bits 2048, 3072 or 4096, exponent 65537;
 * BW_EINVAL otherwise); BW_EUNSUPPORTED if the token lacks the mechanism.
 * BW_EEXIST if any
 * object with the same label or id already exists on the token (checked
 * in the same session just before; a concurrent keygen from another
 * process could still race). Only the token, module and PIN are taken
 * from opts (parts or URI); opts->object_label / id_hex are ignored.
 */
int bw_pkcs11_keygen_sized(const struct bw_pkcs11_opts *opts,
			   enum bw_key_type type, unsigned bits,
			   const char *label, const uint8_t *id,
			   size_t id_len, struct bw_err *err);

/* bw_pkcs11_keygen_sized without a size (P-256 and Ed25519 keys). */
int bw_pkcs11_keygen(const struct bw_pkcs11_opts *opts, enum bw_key_type type,
		     const char *label, const uint8_t *id, size_t id_len,
		     struct bw_err *err);

/* A key to make in a token with bw_pkcs11_key_create. Strings borrowed. */
struct bw_pkcs11_newkey {
	const char *module_path; /* NULL: BW_PKCS11_DEFAULT_MODULE */
	const char *token_label; /* required */
	const char *pin;         /* required */
	const char *label;       /* CKA_LABEL, required */
	int label_add_id;        /* label becomes "<label>-<CKA_ID as hex>" */
	const uint8_t *id;       /* CKA_ID; NULL: 8 random bytes */
	size_t id_len;
	int uri_module;          /* the URI names the module (module-path=)
				    when its path needs no percent-escape */
	enum bw_key_type type;   /* 0: BW_KEY_ECDSA_P256 */
	unsigned bits;           /* BW_KEY_RSA: 2048, 3072 or 4096 */
};

/*
 * The one way bulwark makes a key in a token: a key pair of k->type
 * (ECDSA P-256 unless set; Ed25519 for the transparency log; RSA for
 * boot keys) generated inside it (bw_pkcs11_keygen_sized: never
 * extractable; BW_EEXIST when the label or id is taken), a signer opened
 * on it (for Ed25519 the direct signer, pkey NULL), and its name
 * "pkcs11:token=..;object=..;id=..;type=private[?module-path=..]".
 * signer and uri may each be NULL (not wanted). Fails closed: when any
 * step after the generation fails, the new objects are deleted again, so
 * the token is as it was, and *signer / *uri are NULL. On success the
 * caller frees *signer (bw_signer_free) and *uri (free); to undo the key
 * after a later failure of its own, bw_pkcs11_delete_key with
 * {module_path, uri, pin}.
 */
int bw_pkcs11_key_create(const struct bw_pkcs11_newkey *k,
			 struct bw_signer **signer, char **uri,
			 struct bw_err *err);

/*
 * Store an X.509 certificate on the token opts names (token_label and PIN;
 * object and id in opts are ignored) as a public CKO_CERTIFICATE with the
 * given label and id, the key's own, so that PKCS#11 middleware pairs the
 * certificate with its key. bw_pkcs11_delete_key removes it with the key.
 */
int bw_pkcs11_store_cert(const struct bw_pkcs11_opts *opts, const char *label,
			 const uint8_t *id, size_t id_len, X509 *cert,
			 struct bw_err *err);

/*
 * Destroy every object (private, public key, certificate) on the token
 * that matches opts' object_label and/or id_hex (or the URI's object/id;
 * type is ignored). Used to remove a half-made key after a failed
 * registration. *ndeleted (may be NULL) receives the count, also on
 * failure; BW_ENOTFOUND if nothing matched.
 */
int bw_pkcs11_delete_key(const struct bw_pkcs11_opts *opts, size_t *ndeleted,
			 struct bw_err *err);

/*
 * Read CKA_SENSITIVE / CKA_EXTRACTABLE / CKA_NEVER_EXTRACTABLE of the one
 * private key opts selects (audits and tests). Each flag is 0 or 1.
 */
struct bw_pkcs11_key_flags {
	int sensitive;
	int extractable;
	int never_extractable;
	int always_sensitive;
};
int bw_pkcs11_key_flags(const struct bw_pkcs11_opts *opts,
			struct bw_pkcs11_key_flags *out, struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
