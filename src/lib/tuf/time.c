/*
 * TUF timestamps: strict "YYYY-MM-DDTHH:MM:SSZ" <-> seconds since the epoch
 * (include/bulwark/tuf.h).
 *
 * The conversion is done arithmetically (days from the civil date, as
 * timegm does for the proleptic Gregorian calendar) so that it does not
 * depend on the width of time_t or on the process time zone.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/tuf.h"

#define TUF_TIME_LEN 20 /* "YYYY-MM-DDTHH:MM:SSZ" */

/* Value of n decimal digits at s; -1 if any of them is not a digit. */
static int parse_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31};

	if (m == 2 && is_leap(y))
		return 29;
	return days[m - 1];
}

/* Days since 1970-01-01 of a valid civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int bw_tuf_time_parse(const char *s, int64_t *out)
{
	int year, mon, day, hour, min, sec;

	if (s == NULL || out == NULL)
		return BW_EINVAL;
	/* Exactly 20 characters: no fraction, offset, sign or trailing data. */
	if (strnlen(s, TUF_TIME_LEN + 1) != TUF_TIME_LEN)
		return BW_EFORMAT;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return BW_EFORMAT;
	year = parse_digits(s, 4);
	mon = parse_digits(s + 5, 2);
	day = parse_digits(s + 8, 2);
	hour = parse_digits(s + 11, 2);
	min = parse_digits(s + 14, 2);
	sec = parse_digits(s + 17, 2);
	if (year < 0 || mon < 1 || mon > 12 || day < 1 || hour < 0 ||
	    hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
		return BW_EFORMAT;
	if (day > days_in_month(year, mon))
		return BW_EFORMAT;
	*out = days_from_civil(year, mon, day) * 86400 + hour * 3600 +
	       min * 60 + sec;
	return 0;
}

int bw_tuf_time_format(int64_t t, char *out, size_t outlen)
{
	int64_t days, rem, year;
	int mon, day, n;

	if (out == NULL || outlen < TUF_TIME_LEN + 1)
		return BW_EINVAL;
	/* Years 0000-9999 are the ones the format can express. */
	if (t < days_from_civil(0, 1, 1) * 86400 ||
	    t > days_from_civil(9999, 12, 31) * 86400 + 86399)
		return BW_EINVAL;
	days = t / 86400;
	rem = t % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &year, &mon, &day);
	n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)year,
		     mon, day, (int)(rem / 3600), (int)(rem / 60 % 60),
		     (int)(rem % 60));
	if (n != TUF_TIME_LEN)
		return BW_EINVAL;
	return 0;
}
