/*
 * Fuzz target for EST request paths (bw_est_path_parse). The input is
 * used as a path (NUL-terminated copy).
 *
 * Properties checked for every input:
 *   - the result is 0, BW_ENOTFOUND or BW_EFORMAT;
 *   - on success the path starts with /.well-known/est/, the label is
 *     empty or a plain segment of unreserved characters (never "." or
 *     ".."), and the path is exactly prefix [label "/"] operation;
 *   - on failure the label is empty.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"", "cacerts", "simpleenroll",
				    "simplereenroll", "fullcmc",
				    "serverkeygen", "csrattrs"};

static void violation(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_est_path: %s (%.80s)\n", what, path);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = NULL, label[BW_EST_LABEL_MAX + 1], want[512];
	enum bw_est_op op = 0;
	int rc;

	if (size > 4096 || (path = malloc(size + 1)) == NULL)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	rc = bw_est_path_parse(path, &op, label);
	if (rc != 0 && rc != BW_ENOTFOUND && rc != BW_EFORMAT)
		violation("unexpected code", path);
	if (rc != 0 && label[0] != '\0')
		violation("failed parse left a label", path);
	if (rc == 0) {
		if (op < BW_EST_CACERTS || op > BW_EST_CSRATTRS)
			violation("operation out of range", path);
		if (!strcmp(label, ".") || !strcmp(label, "..") ||
		    strspn(label, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
				  "opqrstuvwxyz0123456789-._~") !=
			strlen(label))
			violation("bad label accepted", path);
		snprintf(want, sizeof(want), "/.well-known/est/%s%s%s", label,
			 label[0] ? "/" : "", names[op]);
		if (strcmp(want, path) != 0)
			violation("path is not prefix/label/op", path);
	}
	free(path);
	return 0;
}
