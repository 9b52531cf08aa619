/*
 * The target path rule (tuf.h: bw_tuf_target_path_is_safe).
 */
#include <stddef.h>

#include "bulwark/tuf.h"

int bw_tuf_target_path_is_safe(const char *path, size_t len)
{
	size_t seg = 0;

	if (path == NULL || len == 0 || len > BW_TUF_TARGET_PATH_MAX ||
	    path[0] == '/')
		return 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)path[i] : '/';

		if (c < 0x20 || c == 0x7f || c == '\\')
			return 0;
		if (c != '/')
			continue;
		/* the segment path[seg..i) */
		if (i == seg || (i - seg == 1 && path[seg] == '.') ||
		    (i - seg == 2 && path[seg] == '.' && path[seg + 1] == '.'))
			return 0;
		seg = i + 1;
	}
	return 1;
}
