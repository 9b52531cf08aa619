/*
 * Power-loss test hook (device.h: bw_dev_durable). Compiled in always so
 * the tested binary is the shipped one; inert unless
 * BW_DEVICE_CRASH_AFTER_WRITES is set. SIGKILL, not abort(): no handler,
 * no stdio flush, no atexit, as close to pulling the plug as a process
 * can get (the page cache survives, which is what fsync'd data relies on).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "device.h"

static long crash_after = -1; /* -1: not read yet; 0: inert */
static long writes;

static long crash_limit(void)
{
	const char *v;
	char *end = NULL;
	long n;

	if (crash_after >= 0)
		return crash_after;
	crash_after = 0;
	v = getenv("BW_DEVICE_CRASH_AFTER_WRITES");
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno == 0 && end != v && *end == '\0' && n > 0)
		crash_after = n;
	return crash_after;
}

void bw_dev_durable(const char *what)
{
	long limit = crash_limit();

	writes++;
	if (limit > 0 && writes >= limit) {
		fprintf(stderr, "bulwark-device: crash hook: killed after "
				"durable write %ld (%s)\n", writes, what);
		fflush(stderr);
		kill(getpid(), SIGKILL);
		_exit(137);
	}
}
