/*
 * Delegation matching (TUF 4.5 paths / path_hash_prefixes, TAP 15 succinct
 * hash bins), target path safety and URL quoting.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "tuf_priv.h"

/* Number of '/'-separated components. */
static size_t count_parts(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		if (*s == '/')
			n++;
	return n;
}

/*
 * TUF 4.5: shell-style pattern where '*' does not match '/': the pattern
 * and the path must have the same number of components and each pattern
 * component must match its path component (fnmatch without FNM_PATHNAME
 * on components that contain no '/'). FNM_NOESCAPE: a backslash is an
 * ordinary character, as in the reference implementation's fnmatch.
 */
static int path_matches(const char *pattern, const char *path)
{
	char *pc = NULL, *tc = NULL, *ps, *ts;
	int ok = 0;

	if (count_parts(pattern) != count_parts(path))
		return 0;
	pc = strdup(pattern);
	tc = strdup(path);
	if (pc == NULL || tc == NULL)
		goto out;
	ps = pc;
	ts = tc;
	for (;;) {
		char *pe = strchr(ps, '/'), *te = strchr(ts, '/');

		if (pe != NULL)
			*pe = '\0';
		if (te != NULL)
			*te = '\0';
		if (fnmatch(ps, ts, FNM_NOESCAPE) != 0)
			goto out;
		if (pe == NULL || te == NULL)
			break;
		ps = pe + 1;
		ts = te + 1;
	}
	ok = 1;
out:
	free(pc);
	free(tc);
	return ok;
}

int bw_tuf__role_matches(const struct bw_tuf_delegated_role *r,
			 const char *path)
{
	char hex[BW_HASH_MAX_HEX];

	if (r->has_paths) {
		for (size_t i = 0; i < r->npaths; i++)
			if (path_matches(r->paths[i], path))
				return 1;
		return 0;
	}
	if (bw_hash_buf_hex(BW_HASH_SHA256, path, strlen(path), hex) != 0)
		return 0;
	for (size_t i = 0; i < r->nprefixes; i++) {
		size_t n = strlen(r->prefixes[i]);

		if (n <= 64 && strncmp(hex, r->prefixes[i], n) == 0)
			return 1;
	}
	return 0;
}

/*
 * TAP 15: the bin is the first bit_length bits of sha256(path), named
 * "<prefix>-<bin in lowercase hex, zero-padded to the width of the
 * largest bin number>".
 */
int bw_tuf__succinct_bin(const struct bw_tuf_succinct *s, const char *path,
			 char **out)
{
	uint8_t d[32];
	uint32_t first, bin, nbins_minus_1;
	int width = 1, n;
	char *name;
	size_t cap;

	*out = NULL;
	if (bw_hash_buf(BW_HASH_SHA256, path, strlen(path), d) != 0)
		return BW_ECRYPTO;
	first = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) |
		((uint32_t)d[2] << 8) | d[3];
	bin = s->bit_length == 32 ? first : first >> (32 - s->bit_length);
	nbins_minus_1 = s->bit_length == 32
				? UINT32_MAX
				: (uint32_t)((1ull << s->bit_length) - 1);
	while (width < 8 && (nbins_minus_1 >> (4 * width)) != 0)
		width++;
	cap = strlen(s->name_prefix) + 12;
	name = malloc(cap);
	if (name == NULL)
		return BW_ENOMEM;
	n = snprintf(name, cap, "%s-%0*x", s->name_prefix, width, bin);
	if (n < 0 || (size_t)n >= cap) {
		free(name);
		return BW_EFORMAT;
	}
	*out = name;
	return 0;
}

int bw_tuf__quote(const char *s, const char *safe, char **out)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *q, *w;

	*out = NULL;
	if (n > (SIZE_MAX - 1) / 3)
		return BW_ENOMEM;
	q = malloc(3 * n + 1);
	if (q == NULL)
		return BW_ENOMEM;
	w = q;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		    *p == '-' || *p == '~' ||
		    (safe != NULL && *p != '\0' && strchr(safe, *p) != NULL)) {
			*w++ = (char)*p;
		} else {
			*w++ = '%';
			*w++ = hexd[*p >> 4];
			*w++ = hexd[*p & 15];
		}
	}
	*w = '\0';
	*out = q;
	return 0;
}
