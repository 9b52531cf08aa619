/*
 * bulwarkd's registration listener (registration.c): signs a device
 * certificate for a CSR from a device with a factory certificate.
 */
#ifndef BW_SRV_REGISTRATION_H
#define BW_SRV_REGISTRATION_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "bulwark/error.h"
#include "storage.h"

struct evhttp_request;

void bw_srv_registration_handle(struct evhttp_request *req, void *arg);

/*
 * POST /sign body: {uuid, name?, hardware-id, csr, group?, overrides?,
 * use-ostree-server?, sota-config-dir?} as bulwarkd's own client and
 * lmp-device-register send it (the latter writes every scalar as a JSON
 * string and override values as TOML literals, e.g. "\"main\""). Used:
 * uuid, name, hardware-id, csr, sota-config-dir, overrides.pacman.tags,
 * overrides.tls.pkey_source / cert_source; every other field is ignored
 * within bounds (BW_SRV_REG_IGNORED_*). Integers are accepted for string
 * scalars. r->csr points into b.
 */
#define BW_SRV_REG_STR_MAX 128
#define BW_SRV_REG_DIR_MAX 200	       /* sota-config-dir */
#define BW_SRV_REG_TAGS_MAX 8	       /* entries of pacman.tags */
#define BW_SRV_REG_IGNORED_FIELDS 32   /* ignored fields, all levels */
#define BW_SRV_REG_IGNORED_LEN 1024    /* bytes of an ignored string */
#define BW_SRV_REG_DEFAULT_DIR "/var/sota"
struct bw_srv_reg_req {
	char uuid[BW_STORE_UUID_MAX + 1];
	char name[BW_SRV_REG_STR_MAX + 1];
	char hwid[BW_SRV_REG_STR_MAX + 1];
	const char *csr;
	size_t csr_len;
	/* where the device keeps its files (absolute, no trailing slash) */
	char sota_dir[BW_SRV_REG_DIR_MAX + 1];
	/* pacman.tags as a canonical comma list ("" = none); its first
	 * entry becomes the record's tag */
	char tags[BW_SRV_REG_TAGS_MAX * (BW_STORE_TAG_MAX + 1)];
	int pkey_pkcs11; /* tls.pkey_source = "pkcs11" (else a key file) */
	int cert_pkcs11; /* tls.cert_source = "pkcs11" (else a file) */
};
int bw_srv_registration_parse(json_t *b, struct bw_srv_reg_req *r,
			      struct bw_err *err);

/* The factory token of a request: OSF-TOKEN, or "Authorization: Bearer"
 * (bounded; NULL if none). */
const char *bw_srv_registration_token(struct evhttp_request *req);

/*
 * Everything POST /sign does after parsing, shared with EST
 * simpleenroll: in one transaction, use the factory token (401), check
 * the CSR against the token's scope and r->uuid (400 / 403), refuse a
 * deny-listed (403) or registered (409) uuid, issue the certificate with
 * the registration CA and store the device. On failure nothing is stored
 * and *status is the HTTP code; on success *cert (caller frees) and *tok.
 */
struct bw_srv;
struct bw_token_use;
int bw_srv_registration_enroll(struct bw_srv *srv, const char *token,
			       const struct bw_srv_reg_req *r, X509 **cert,
			       struct bw_token_use *tok, int *status,
			       struct bw_err *err);

#endif
