/*
 * The scratch directory of a server unit test group: made from a
 * mkdtemp template before the group, removed with everything in it
 * after (cmocka group setup and teardown).
 */
#ifndef BW_TEST_HELPER_TMPDIR_H
#define BW_TEST_HELPER_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int bw_test_tmpdir_make(char *tmpl)
{
	return mkdtemp(tmpl) != NULL ? 0 : -1;
}

static inline int bw_test_tmpdir_rm1(const char *path, const struct stat *st,
				     int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove dir and everything under it (depth first, no symlink followed). */
static inline int bw_test_tmpdir_remove(const char *dir)
{
	return nftw(dir, bw_test_tmpdir_rm1, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
