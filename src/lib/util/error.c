/*
 * Error detail buffer and code names (include/bulwark/error.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/error.h"

int bw_err_set(struct bw_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void bw_err_clear(struct bw_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *bw_strerror(int code)
{
	switch (code) {
	case BW_OK: return "ok";
	case BW_EINVAL: return "invalid argument";
	case BW_ENOMEM: return "out of memory";
	case BW_EIO: return "i/o error";
	case BW_EFORMAT: return "malformed input";
	case BW_ETOOBIG: return "too big";
	case BW_ENOTFOUND: return "not found";
	case BW_ESIG: return "signature";
	case BW_EEXPIRED: return "expired";
	case BW_EROLLBACK: return "rollback";
	case BW_EHASH: return "length or hash mismatch";
	case BW_ENET: return "network";
	case BW_EUNSUPPORTED: return "unsupported";
	case BW_ECRYPTO: return "crypto";
	case BW_EEXIST: return "already exists";
	case BW_ESTATE: return "bad state";
	case BW_EBADVERSION: return "unexpected version";
	case BW_ENORANGE: return "range not supported";
	default: return "unknown error";
	}
}
