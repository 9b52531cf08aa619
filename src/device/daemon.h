/*
 * The daemon loop (daemon.c).
 */
#ifndef BW_DEV_DAEMON_H
#define BW_DEV_DAEMON_H

#include "agent.h"

/* Check, pull and install in a loop until max_loops (0: forever) or an
 * installation needs a reboot (returns that exit code). */
int bw_dev_daemon(struct bw_dev *d, long max_loops, long interval_s);

#endif
