/*
 * Decimal number parsing for untrusted text (buf.h: bw_num_read,
 * bw_num_parse). strtol and friends accept leading white space, a sign
 * and saturate on overflow, and each caller used to patch that up its
 * own way; this is the one strict rule instead.
 */
#include <stddef.h>
#include <stdint.h>

#include "bulwark/buf.h"
#include "bulwark/error.h"

int bw_num_read(const char **sp, uint64_t max, uint64_t *out)
{
	const char *p;
	uint64_t v = 0;

	if (sp == NULL || *sp == NULL)
		return BW_EFORMAT;
	p = *sp;
	if (*p < '0' || *p > '9')
		return BW_EFORMAT;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (max < d || v > (max - d) / 10)
			return BW_ETOOBIG;
		v = v * 10 + d;
	}
	*sp = p;
	*out = v;
	return 0;
}

int bw_num_parse(const char *s, uint64_t max, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0;
	int rc;

	rc = bw_num_read(&p, max, &v);
	if (rc != 0)
		return rc;
	if (*p != '\0')
		return BW_EFORMAT;
	*out = v;
	return 0;
}

int bw_num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	uint64_t mag = 0, lim;
	int neg = s != NULL && s[0] == '-';
	int rc;

	if (s == NULL || min > max)
		return BW_EFORMAT;
	/* the magnitude allowed on this side of zero */
	if (neg)
		lim = min < 0 ? (uint64_t)(-(min + 1)) + 1 : 0;
	else
		lim = max > 0 ? (uint64_t)max : 0;
	rc = bw_num_parse(s + neg, lim, &mag);
	if (rc != 0)
		return rc;
	if (neg && mag != 0) {
		int64_t v = -(int64_t)(mag - 1) - 1;

		if (v > max)
			return BW_ETOOBIG;
		*out = v;
		return 0;
	}
	if ((int64_t)mag < min || (int64_t)mag > max)
		return BW_ETOOBIG;
	*out = (int64_t)mag;
	return 0;
}
