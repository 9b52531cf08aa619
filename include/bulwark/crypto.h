/*
 * TUF keys, signature verification, key ids, and the signer interface.
 *
 * Key types and schemes (TUF spec names):
 *   keytype "ed25519", scheme "ed25519"              keyval.public: hex (32 B)
 *   keytype "ecdsa",   scheme "ecdsa-sha2-nistp256"  keyval.public: PEM SPKI
 *   keytype "rsa",     scheme "rsassa-pss-sha256"    keyval.public: PEM SPKI
 * (keytype "ecdsa-sha2-nistp256" with the same scheme is accepted as well.)
 * Signatures are lowercase hex: ed25519 raw 64 bytes, ECDSA DER, RSA-PSS
 * with MGF1-SHA256 (salt length = digest length when signing, any salt length
 * when verifying).
 */
#ifndef BULWARK_CRYPTO_H
#define BULWARK_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BW_KEYID_HEX_LEN 64

enum bw_key_type {
	BW_KEY_ED25519 = 1,
	BW_KEY_ECDSA_P256 = 2,
	BW_KEY_RSA = 3,
};

/* A public key as TUF metadata describes it. */
struct bw_key {
	enum bw_key_type type;
	char keyid[BW_KEYID_HEX_LEN + 1]; /* sha256 of the canonical key JSON */
	char *keytype;  /* as written in the metadata */
	char *scheme;
	char *public;   /* keyval.public as written */
	EVP_PKEY *pkey; /* parsed public key */
	uint8_t *spki;  /* DER SubjectPublicKeyInfo: identifies the key material */
	size_t spki_len;
};

/*
 * Parse a TUF key object {"keytype","scheme","keyval":{"public"}} (extra
 * fields allowed and covered by the key id). Computes keyid as the sha256
 * hex of the canonical JSON of the whole object. BW_EUNSUPPORTED for an
 * unknown keytype/scheme, BW_EFORMAT for malformed keys (wrong curve, short
 * RSA key < 2048 bits, bad hex/PEM). *out is owned by the caller.
 */
int bw_key_from_json(const json_t *obj, struct bw_key **out,
		     struct bw_err *err);

/* Build the TUF key object for a public key (new reference). */
int bw_key_to_json(const struct bw_key *key, json_t **out, struct bw_err *err);

/*
 * Build a bw_key from an OpenSSL public (or private: only the public part is
 * used) key: picks keytype/scheme from the key, encodes the public value the
 * way python-tuf does, computes keyid.
 */
int bw_key_from_pkey(EVP_PKEY *pkey, struct bw_key **out, struct bw_err *err);

void bw_key_free(struct bw_key *key);

/*
 * Verify sig_hex (hex text of siglen characters) over msg with key, under
 * key->scheme. 0 if valid; BW_ESIG if the signature does not verify or is
 * malformed; other codes for internal failures.
 */
int bw_key_verify(const struct bw_key *key, const uint8_t *msg, size_t msglen,
		  const char *sig_hex, size_t sig_hex_len, struct bw_err *err);

/* 1 if both keys carry the same key material (compares SPKI DER). */
int bw_key_same_material(const struct bw_key *a, const struct bw_key *b);

/*
 * The signer interface: something that holds a private key (a file, a
 * PKCS#11 token, ...) and can sign. One ops struct per backend.
 */
struct bw_signer;

struct bw_signer_ops {
	const char *name; /* "file", "pkcs11" */
	/*
	 * Sign msg under the signer's TUF scheme. *sig receives a malloc'd
	 * raw signature (caller frees), *siglen its length.
	 */
	int (*sign)(struct bw_signer *s, const uint8_t *msg, size_t msglen,
		    uint8_t **sig, size_t *siglen, struct bw_err *err);
	/* Release backend state (wipe secrets). */
	void (*dispose)(struct bw_signer *s);
};

struct bw_signer {
	const struct bw_signer_ops *ops;
	struct bw_key *key; /* public half, owned by the signer */
	EVP_PKEY *pkey;     /* private key handle usable with OpenSSL (X509_sign,
			       SSL_CTX_use_PrivateKey); owned by the signer */
	void *backend;      /* backend private state */
};

/* Sign and return the hex signature (malloc'd NUL-terminated *sig_hex). */
int bw_signer_sign_hex(struct bw_signer *s, const uint8_t *msg, size_t msglen,
		       char **sig_hex, struct bw_err *err);

/* The signer's public key (borrowed). */
const struct bw_key *bw_signer_key(const struct bw_signer *s);

/* Free a signer of any backend. NULL is a no-op. */
void bw_signer_free(struct bw_signer *s);

/* ---- key file backend (keyfile.c) ------------------------------------ */

/*
 * Generate a new private key of the given type (RSA: 4096 bits) held in
 * memory as a file-backed signer. Save it with bw_signer_keyfile_save.
 */
int bw_signer_keyfile_generate(enum bw_key_type type, struct bw_signer **out,
			       struct bw_err *err);

/*
 * Load a PEM (PKCS#8) private key. Refuses a key file readable by group or
 * others (BW_EINVAL with a message) unless allow_loose_mode is set.
 */
int bw_signer_keyfile_load(const char *path, int allow_loose_mode,
			   struct bw_signer **out, struct bw_err *err);

/* Load from PEM bytes in memory (e.g. an archive member). */
int bw_signer_keyfile_load_mem(const void *pem, size_t len,
			       struct bw_signer **out, struct bw_err *err);

/* Write the private key as unencrypted PKCS#8 PEM, mode 0600, atomically. */
int bw_signer_keyfile_save(const struct bw_signer *s, const char *path,
			   struct bw_err *err);

/*
 * Deterministic ed25519 signer from a 32-byte seed (test fixtures and
 * reproducible vectors only; never for real keys).
 */
int bw_signer_keyfile_from_ed25519_seed(const uint8_t seed[32],
					struct bw_signer **out,
					struct bw_err *err);

/* Parse the TUF name of a key type ("ed25519", "ecdsa", "rsa"). */
int bw_key_type_from_name(const char *name, enum bw_key_type *out);

#ifdef __cplusplus
}
#endif
#endif
