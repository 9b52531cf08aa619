/*
 * A fault injector for the crash-safety tests: LD_PRELOAD'ed into a
 * program, it kills the process with SIGKILL just before its Nth step
 * that changes the file system or makes a change durable. A test runs a
 * command with N = 1, 2, ... until it completes, so it is killed once at
 * every such step, in the order the command takes them, with no timing.
 *
 *   LD_PRELOAD=build/bw_killshim.so BW_KILL_AT=N bulwark ...
 *
 * Steps: open/openat that create or truncate, rename(at/at2), unlink(at),
 * mkdir(at), rmdir, fsync, fdatasync. Without BW_KILL_AT (or with 0) the
 * calls only pass through. Before it kills it names the step on stderr.
 * Tests only: never installed, never linked into a program.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static long kill_at = -1;
static long steps;

/* BW_KILL_AT as a plain decimal number; anything else is 0 (off). */
static long read_kill_at(void)
{
	const char *s = getenv("BW_KILL_AT");
	long v = 0;

	if (s == NULL)
		return 0;
	for (; *s >= '0' && *s <= '9' && v < 1000000; s++)
		v = v * 10 + (*s - '0');
	return *s == '\0' ? v : 0;
}

static void step(const char *what, const char *path)
{
	if (kill_at < 0)
		kill_at = read_kill_at();
	if (kill_at == 0)
		return;
	if (__atomic_add_fetch(&steps, 1, __ATOMIC_SEQ_CST) == kill_at) {
		char line[512];
		int n = snprintf(line, sizeof(line),
				 "killshim: SIGKILL before step %ld: %s %s\n",
				 kill_at, what, path != NULL ? path : "");

		if (n > 0)
			(void)write(2, line, (size_t)n < sizeof(line)
						 ? (size_t)n
						 : sizeof(line) - 1);
		raise(SIGKILL);
	}
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static int creates(int flags)
{
	return (flags & (O_CREAT | O_TRUNC)) != 0;
}

/* The mode argument of an open that creates (read only then). */
#define OPEN_MODE(flags, mode)                                               \
	do {                                                                 \
		if (((flags) & (O_CREAT | O_TMPFILE)) != 0) {                \
			va_list ap;                                          \
			va_start(ap, flags);                                 \
			(mode) = va_arg(ap, mode_t);                         \
			va_end(ap);                                          \
		}                                                            \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	if (creates(flags))
		step("open", path);
	return NEXT(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	if (creates(flags))
		step("open", path);
	return NEXT(open64)(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	if (creates(flags))
		step("openat", path);
	return NEXT(openat)(dirfd, path, flags, mode);
}

int rename(const char *from, const char *to)
{
	step("rename", to);
	return NEXT(rename)(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	step("renameat", to);
	return NEXT(renameat)(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to,
	      unsigned flags)
{
	step("renameat2", to);
	return NEXT(renameat2)(fd1, from, fd2, to, flags);
}

int unlink(const char *path)
{
	step("unlink", path);
	return NEXT(unlink)(path);
}

int unlinkat(int fd, const char *path, int flags)
{
	step("unlinkat", path);
	return NEXT(unlinkat)(fd, path, flags);
}

int mkdir(const char *path, mode_t mode)
{
	step("mkdir", path);
	return NEXT(mkdir)(path, mode);
}

int mkdirat(int fd, const char *path, mode_t mode)
{
	step("mkdirat", path);
	return NEXT(mkdirat)(fd, path, mode);
}

int rmdir(const char *path)
{
	step("rmdir", path);
	return NEXT(rmdir)(path);
}

int fsync(int fd)
{
	step("fsync", NULL);
	return NEXT(fsync)(fd);
}

int fdatasync(int fd)
{
	step("fdatasync", NULL);
	return NEXT(fdatasync)(fd);
}
