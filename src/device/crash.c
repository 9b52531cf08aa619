/*
 * Power-loss test hook (crash.h: bw_dev_durable). Compiled in always so
 * the tested binary is the shipped one; inert unless
 * BW_DEVICE_CRASH_AFTER_WRITES is set. SIGKILL, not abort(): no handler,
 * no stdio flush, no atexit, as close to pulling the plug as a process
 * can get (the page cache survives, which is what fsync'd data relies on).
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "crash.h"

static long writes;
static pid_t writes_pid; /* writes count per process, not per fork */

/* Read every time (a few writes per command): a forked test child sees
 * the variable its parent set after the first write. */
static long crash_limit(void)
{
	const char *v = getenv("BW_DEVICE_CRASH_AFTER_WRITES");
	uint64_t n = 0;

	if (v == NULL || bw_num_parse(v, LONG_MAX, &n) != 0)
		return 0;
	return (long)n;
}

void bw_dev_durable(const char *what)
{
	long limit = crash_limit();

	if (writes_pid != getpid()) {
		writes_pid = getpid();
		writes = 0;
	}
	writes++;
	if (limit > 0 && writes >= limit) {
		fprintf(stderr, "bulwark-device: crash hook: killed after "
				"durable write %ld (%s)\n", writes, what);
		fflush(stderr);
		kill(getpid(), SIGKILL);
		_exit(137);
	}
}
