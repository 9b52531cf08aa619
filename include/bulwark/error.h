/*
 * bulwark error codes and the caller-owned error detail buffer.
 *
 * Every library function returns 0 on success or one negative BW_E* code.
 * The function that finds a fault writes a human-readable message into an
 * optional struct bw_err (which may be NULL); callers pass the code up.
 */
#ifndef BULWARK_ERROR_H
#define BULWARK_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bw_error_code {
	BW_OK = 0,
	BW_EINVAL = -1,      /* bad argument (programming or usage error) */
	BW_ENOMEM = -2,      /* allocation failed */
	BW_EIO = -3,         /* file system or OS error */
	BW_EFORMAT = -4,     /* malformed input (JSON, metadata, key, path) */
	BW_ETOOBIG = -5,     /* input larger than its cap */
	BW_ENOTFOUND = -6,   /* file, role, target or URL (404/403) not found */
	BW_ESIG = -7,        /* signature threshold not met / bad signature */
	BW_EEXPIRED = -8,    /* metadata expired */
	BW_EROLLBACK = -9,   /* version went backwards */
	BW_EHASH = -10,      /* length or hash mismatch */
	BW_ENET = -11,       /* network / transport failure */
	BW_EUNSUPPORTED = -12, /* key type, scheme, spec version not supported */
	BW_ECRYPTO = -13,    /* crypto library failure */
	BW_EEXIST = -14,     /* would overwrite something that must not be */
	BW_ESTATE = -15,     /* operation not valid in the current state */
	BW_EBADVERSION = -16, /* version is not the one the referrer lists */
	BW_ENORANGE = -17    /* the server answered a Range request with the
				whole body */
};

#define BW_ERR_MSG_MAX 512

/* Caller-owned error detail, in the manner of jansson's json_error_t. */
struct bw_err {
	int code;
	char msg[BW_ERR_MSG_MAX];
};

/*
 * Record an error: writes code and a printf-style message into err (if err
 * is not NULL) and returns code, so a caller can write
 * `return bw_err_set(err, BW_EFORMAT, "...")`. Never logs.
 */
int bw_err_set(struct bw_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear err (if not NULL). */
void bw_err_clear(struct bw_err *err);

/* Static, short English name of a code ("signature", "expired", ...). */
const char *bw_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
