/*
 * Fuzz target: the decimal number parser (bw_num_read / bw_num_parse)
 * with its signed variant bw_num_parse_i64, and the target path rule,
 * with properties checked: a parsed value is never outside its range,
 * and what it read was digits only (after one '-' for the signed one).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/tuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t maxes[] = {0, 1, 9, 10, 3600, INT64_MAX,
					 UINT64_MAX};
	char s[128];
	const char *p;
	uint64_t v;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		if (bw_num_parse(s, maxes[i], &v) == 0 &&
		    (v > maxes[i] || strspn(s, "0123456789") != strlen(s)))
			abort();
		p = s;
		if (bw_num_read(&p, maxes[i], &v) == 0 &&
		    (v > maxes[i] || p == s ||
		     strspn(s, "0123456789") != (size_t)(p - s)))
			abort();
	}
	{
		static const int64_t lo[] = {INT64_MIN, -1, 0, 5};
		static const int64_t hi[] = {INT64_MAX, 0, 3600, 5};
		int64_t sv;

		for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++) {
			const char *d = s + (s[0] == '-');

			if (bw_num_parse_i64(s, lo[i], hi[i], &sv) == 0 &&
			    (sv < lo[i] || sv > hi[i] || d[0] == '\0' ||
			     strspn(d, "0123456789") != strlen(d) ||
			     ((s[0] == '-') != (sv < 0) && sv != 0)))
				abort();
		}
	}
	(void)bw_tuf_target_path_is_safe((const char *)data, size);
	return 0;
}
