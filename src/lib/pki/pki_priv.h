/*
 * Internals shared by the files of the pki module (cert.c, csr.c, crl.c,
 * state.c, dir.c). Not part of the public API.
 */
#ifndef BULWARK_PKI_PRIV_H
#define BULWARK_PKI_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "bulwark/buf.h"
#include "bulwark/error.h"
#include "bulwark/pki.h"

/* 1 if pkey is an EC key on P-256. */
int bw_pki__is_p256(EVP_PKEY *pkey);

/* Validate a name for subjects: 1..max bytes, valid UTF-8, no controls. */
int bw_pki__check_label(const char *what, const char *s, size_t max,
			struct bw_err *err);

/* ASN1_TIME to time_t. */
int bw_pki__time_to_t(const ASN1_TIME *t, time_t *out);

/* BW_EEXPIRED unless now is inside ca's validity; BW_EINVAL if not a CA. */
int bw_pki__check_issuer(X509 *ca, time_t now, const char *what,
			 struct bw_err *err);

/* CN=cn, OU=ou as UTF8Strings (*out caller-owned). */
int bw_pki__name_build(const char *cn, const char *ou, X509_NAME **out,
		       struct bw_err *err);

/* Record of a device CA in state.json. */
struct bw_pki__ca {
	char *base;   /* file base: online-ca, local-ca, local-ca-<name>, ... */
	char *kind;   /* "online" or "local" */
	char *serial; /* uppercase hex */
	enum bw_pki_ca_status status;
	enum bw_pki_reason reason; /* when disabled/revoked */
	int64_t since;             /* when the status was last changed */
	int has_key;               /* <base>.key is in the directory */
	int production;            /* may issue production certificates */
	X509 *cert;                /* loaded by dir.c, not by state.c */
	EVP_PKEY *key;             /* loaded on demand */
};

/* A revoked (or issued) device certificate. */
struct bw_pki__dev {
	char *serial;
	char *issuer; /* device CA base */
	char *uuid;   /* may be NULL */
	enum bw_pki_reason reason;
	int64_t at;
};

struct bw_pki__state {
	char *factory;
	uint64_t crl_number;
	struct bw_pki__ca *cas;
	size_t ncas;
	struct bw_pki__dev *revoked;
	size_t nrevoked;
	struct bw_pki__dev *issued;
	size_t nissued;
};

#define BW_PKI__MAX_CAS 256u
#define BW_PKI__MAX_DEVS 200000u

/* Parse state.json bytes strictly into st (zeroed by the caller). */
int bw_pki__state_parse(const uint8_t *data, size_t len,
			struct bw_pki__state *st, struct bw_err *err);
/* Serialise st to JSON text (malloc'd *out, *len). */
int bw_pki__state_serialize(const struct bw_pki__state *st, char **out,
			    size_t *len, struct bw_err *err);
void bw_pki__state_dispose(struct bw_pki__state *st);
/* Append entries (copies strings). */
int bw_pki__state_add_ca(struct bw_pki__state *st, const char *base,
			 const char *kind, const char *serial, int has_key,
			 int64_t since, struct bw_err *err);
int bw_pki__dev_append(struct bw_pki__dev **arr, size_t *n, const char *serial,
		       const char *issuer, const char *uuid,
		       enum bw_pki_reason reason, int64_t at,
		       struct bw_err *err);
/* 1 if base is a legal device CA file base. */
int bw_pki__base_ok(const char *base);
/* reason name <-> code ("keyCompromise", ...). */
const char *bw_pki__reason_name(enum bw_pki_reason r);
int bw_pki__reason_parse(const char *s, enum bw_pki_reason *out);

/* ---- the directory (dir.c) ------------------------------------------- */

struct bw_pki {
	char *dir;
	X509 *factory_ca;
	EVP_PKEY *factory_key; /* NULL until loaded / given */
	char *factory_uri;     /* factory_ca.uri content, or NULL */
	int lock_fd;           /* the directory, flock'ed while open; -1 */
	struct bw_pki__state st;
};

/* Files to write together: staged in memory, committed at the end. */
struct bw_pki__txn_file {
	char *name; /* relative to the PKI directory */
	char *data;
	size_t len;
	mode_t mode;
};
struct bw_pki__txn {
	struct bw_pki__txn_file *f;
	size_t n;
};

/* Stage a copy of data under name (replacing an earlier staging). */
int bw_pki__txn_add(struct bw_pki__txn *t, const char *name, const void *data,
		    size_t len, mode_t mode, struct bw_err *err);
/*
 * Write every staged file to a temporary name, then rename them all into
 * place. If any write fails, nothing is renamed and temporaries are
 * removed.
 */
int bw_pki__txn_commit(struct bw_pki__txn *t, const char *dir,
		       struct bw_err *err);
void bw_pki__txn_dispose(struct bw_pki__txn *t);

/*
 * Stage what derives from the state: state.json, device-cas.pem and the
 * CRLs (crl/factory_ca.crl, crl/<base>.crl, crl/all.crl), with the next
 * crlNumber. Needs the factory key and the keys of device CAs it holds.
 */
int bw_pki__stage_derived(struct bw_pki *pki, time_t now,
			  struct bw_pki__txn *t, struct bw_err *err);
/* Stage state.json only. */
int bw_pki__stage_state(struct bw_pki *pki, struct bw_pki__txn *t,
			struct bw_err *err);
/* Load (once) the private key of a device CA held in the directory. */
int bw_pki__ca_key(struct bw_pki *pki, struct bw_pki__ca *c,
		   struct bw_err *err);
/* BW_ESTATE unless the factory key is available. */
int bw_pki__need_factory_key(struct bw_pki *pki, struct bw_err *err);
/* Device CA by file base, or NULL. */
struct bw_pki__ca *bw_pki__find_ca(struct bw_pki *pki, const char *base);
/* Read a small file of the directory into a malloc'd NUL-terminated copy. */
int bw_pki__read(const struct bw_pki *pki, const char *name, size_t max,
		 char **out, size_t *len, struct bw_err *err);
/* New key + server certificate staged as <stem>.pem / <stem>.key. */
int bw_pki__stage_server(struct bw_pki *pki, const char *stem,
			 const struct bw_pki_sans *sans, time_t now,
			 struct bw_pki__txn *t, struct bw_err *err);
/* New device CA (key + cert) staged and recorded in the state. */
int bw_pki__new_device_ca(struct bw_pki *pki, const char *base,
			  const char *kind, time_t now, struct bw_pki__txn *t,
			  struct bw_err *err);

#endif
