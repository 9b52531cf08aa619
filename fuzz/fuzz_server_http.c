/*
 * Fuzz target: the small parsers for untrusted request parts: Range,
 * target paths, x-ats-tags, metadata file names. The input is split at
 * the first NUL-free prefix into one string fed to each.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/tuf.h"
#include "gateway.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The oracle: some segment is empty, "." or "..", or the path is absolute. */
static int traverses(const char *s)
{
	const char *seg = s;

	if (*s == '/')
		return 1;
	for (const char *p = s;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - seg);

			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return 1;
			if (*p == '\0')
				return 0;
			seg = p + 1;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), tag[BW_STORE_TAG_MAX + 1], role[16];
	uint64_t first = 0, last = 0;
	int64_t v = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!bw_srv_range_parse(s, size, &first, &last) &&
	    (first > last || last >= size))
		abort(); /* a range must lie inside the file */
	(void)bw_srv_range_parse(s, 0, &first, &last);
	if (bw_tuf_target_path_is_safe(s, strlen(s)) && traverses(s))
		abort(); /* traversal must never pass */
	if (!bw_srv_tag_parse(s, tag, sizeof(tag)) &&
	    strlen(tag) > BW_STORE_TAG_MAX)
		abort();
	(void)bw_srv_meta_name_parse(s, role, sizeof(role), &v);
	free(s);
	return 0;
}
