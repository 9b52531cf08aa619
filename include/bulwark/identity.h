/*
 * Device identity rules, owned here once and called by every program:
 *
 * - A device UUID is 8-4-4-4-12 hexadecimal (RFC 4122 text form, any
 *   version). Its canonical form is lowercase; every entry point (CSR CN,
 *   certificate CN, registration body, admin API path, CLI argument,
 *   storage) normalises with bw_identity_uuid_normalize before comparing
 *   or storing, so "ABC..." and "abc..." are one device.
 * - A device certificate's subject is exactly
 *     CN=<uuid>, OU=<factory>[, businessCategory=production]
 *   as UTF8Strings in that order (bw_identity_subject_build), and nothing
 *   else; bw_identity_subject_read is the one reader for certificates and
 *   CSRs.
 */
#ifndef BULWARK_IDENTITY_H
#define BULWARK_IDENTITY_H

#include <stddef.h>

#include <openssl/x509.h>

#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Length of a UUID's text form, and a buffer that holds it. */
#define BW_UUID_LEN 36
#define BW_UUID_BUF 37
/* Longest OU (factory name) a device subject may carry. */
#define BW_IDENTITY_FACTORY_MAX 64

/*
 * Check that in[0..len) is a UUID (8-4-4-4-12 hex digits, either case,
 * nothing before or after) and write its canonical lowercase form with a
 * NUL into out. BW_EFORMAT (message in err) otherwise; out is then "".
 */
int bw_identity_uuid_normalize(const char *in, size_t len,
			       char out[BW_UUID_BUF], struct bw_err *err);

/* 1 if s (NUL-terminated) is a UUID already in canonical form. */
int bw_identity_uuid_is_canonical(const char *s);

/* What a device subject says. */
struct bw_identity_subject {
	char uuid[BW_UUID_BUF];			   /* canonical (lowercase) */
	char factory[BW_IDENTITY_FACTORY_MAX + 1]; /* "" if no OU */
	int production; /* businessCategory=production present */
};

/*
 * Read a device subject strictly: exactly one CN that is a UUID, at most
 * one OU (UTF-8, no NUL, at most BW_IDENTITY_FACTORY_MAX bytes), at most
 * one businessCategory whose value is "production", and no other
 * attribute. The caller decides what the OU and the production claim must
 * be (that is policy). BW_EFORMAT with the reason in err.
 */
int bw_identity_subject_read(const X509_NAME *name,
			     struct bw_identity_subject *out,
			     struct bw_err *err);

/*
 * Build CN=<uuid>, OU=<factory>[, businessCategory=production] as
 * UTF8Strings. uuid is normalised first (BW_EFORMAT if it is none).
 * *out is caller-owned (X509_NAME_free).
 */
int bw_identity_subject_build(const char *uuid, const char *factory,
			      int production, X509_NAME **out,
			      struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
