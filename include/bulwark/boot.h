/*
 * Boot artifacts: Authenticode signatures on UEFI PE/COFF images (the
 * format sbsign makes and UEFI firmware checks against db and dbx).
 */
#ifndef BULWARK_BOOT_H
#define BULWARK_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bulwark/error.h"

/* Largest PE image accepted for signing (UEFI binaries, kernels). */
#define BW_BOOT_PE_MAX (256u * 1024u * 1024u)

/*
 * The Authenticode SHA-256 digest of a PE/COFF image (Microsoft's "Windows
 * Authenticode Portable Executable Signature Format"): headers without the
 * checksum and the certificate table entry, sections in file order, then
 * the data after them up to the certificate table. BW_EFORMAT on a
 * malformed image.
 */
int bw_boot_pe_digest(const uint8_t *pe, size_t len, uint8_t digest[32],
		      struct bw_err *err);

/*
 * Sign an unsigned PE image with key (any EVP_PKEY: a key file or a
 * PKCS#11 token key) and its certificate. *out (malloc'd, caller frees)
 * is the image padded to 8 bytes with a PKCS#7 SignedData attribute
 * certificate appended. BW_EEXIST if the image already carries a
 * signature; BW_EFORMAT on a malformed image; BW_ETOOBIG above
 * BW_BOOT_PE_MAX.
 */
int bw_boot_pe_sign(const uint8_t *pe, size_t len, EVP_PKEY *key, X509 *cert,
		    uint8_t **out, size_t *outlen, struct bw_err *err);

/*
 * A signed UEFI variable update (the ".auth" file UpdateVars.efi, KeyTool
 * or the OS's efivarfs write): EFI_VARIABLE_AUTHENTICATION_2 with a
 * SHA-256 PKCS#7 signature by key/cert over name, vendor GUID,
 * attributes, timestamp and the new content, followed by the content: an
 * EFI_SIGNATURE_LIST of X.509 certificates (certs, ncerts) and/or one of
 * SHA-256 image digests (hashes, nhashes; for dbx revocations).
 * var is "PK", "KEK", "db" or "dbx"; PK and KEK updates are signed by PK,
 * db and dbx by a KEK. time_utc is the update's timestamp: the firmware
 * refuses one not newer than the variable's. *out is malloc'd.
 */
int bw_boot_uefi_auth(const char *var, X509 *const *certs, size_t ncerts,
		      const uint8_t (*hashes)[32], size_t nhashes,
		      int64_t time_utc, EVP_PKEY *key, X509 *cert,
		      uint8_t **out, size_t *outlen, struct bw_err *err);

/*
 * Sign every configuration of a FIT image (a flattened device tree made
 * by mkimage from an .its whose images have sha256 hash nodes) the way
 * `mkimage -k` does: a signature-1 node per configuration with algo
 * "sha256,rsa2048" (or rsa3072), key-name-hint key_name, sign-images,
 * hashed-nodes, hashed-strings and the PKCS#1 v1.5 value. Each image's
 * hash must match its data (BW_EHASH). BW_EEXIST if a configuration is
 * already signed; BW_EUNSUPPORTED for a key other than RSA-2048/3072.
 * *out is malloc'd.
 */
int bw_boot_fit_sign(const uint8_t *fit, size_t len, EVP_PKEY *key,
		     const char *key_name, uint8_t **out, size_t *outlen,
		     struct bw_err *err);

/*
 * Add the public key node U-Boot verifies FIT signatures with to its
 * control device tree: /signature/key-<key_name> with required = "conf"
 * (no configuration boots unsigned), the modulus, exponent and the
 * Montgomery constants (rsa,n0-inverse, rsa,r-squared). *out is malloc'd.
 */
int bw_boot_fit_add_key(const uint8_t *dtb, size_t len, EVP_PKEY *pub,
			const char *key_name, uint8_t **out, size_t *outlen,
			struct bw_err *err);

/*
 * Verify an Authenticode-signed PE image as UEFI firmware does against db:
 * the image's digest must equal the one in its SpcIndirectDataContent
 * (SHA-256), and the PKCS#7 signature must verify with a signer whose
 * certificate is one of db[0..ndb) (no chain beyond it). BW_ESIG when
 * unsigned, signed by another key, or altered; BW_EFORMAT when malformed.
 */
int bw_boot_pe_verify(const uint8_t *pe, size_t len, X509 *const *db,
		      size_t ndb, struct bw_err *err);

/*
 * Verify a FIT image as U-Boot does with a required key: every
 * configuration carries a signature-1 node whose hashed-nodes are exactly
 * the nodes bulwark (and mkimage) sign for it, and whose value verifies
 * with key; every image a configuration names has a sha256 hash node
 * matching its data. BW_ESIG / BW_EHASH / BW_EFORMAT.
 */
int bw_boot_fit_verify(const uint8_t *fit, size_t len, EVP_PKEY *key,
		       struct bw_err *err);

/* The UEFI Secure Boot key roles, in enrolment order. */
enum bw_boot_uefi_role { BW_BOOT_PK = 0, BW_BOOT_KEK, BW_BOOT_DB };
#define BW_BOOT_UEFI_ROLES 3
extern const char *const bw_boot_uefi_role_names[BW_BOOT_UEFI_ROLES];

/* A new RSA key of bits (2048 or 3072: what UEFI firmware and U-Boot's
 * FIT verifier accept). *out is owned by the caller. */
int bw_boot_rsa_generate(int bits, EVP_PKEY **out, struct bw_err *err);

/*
 * A self-signed X.509 certificate for a boot key: subject "CN=<cn>",
 * SHA-256, valid from now for days, a random 128-bit serial. UEFI takes
 * PK, KEK and db entries as trust anchors, so no chain is needed.
 */
int bw_boot_cert_selfsign(EVP_PKEY *key, const char *cn, long days,
			  X509 **out, struct bw_err *err);

#endif
