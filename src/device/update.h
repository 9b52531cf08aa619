/*
 * Checking for, listing and downloading updates (update.c), and the
 * daemon loop. Each returns a BW_DEV_EXIT_* code and prints its message.
 */
#ifndef BW_DEV_UPDATE_H
#define BW_DEV_UPDATE_H

#include "agent.h"

int bw_dev_check(struct bw_dev *d, int print);
int bw_dev_list(struct bw_dev *d);
int bw_dev_pull(struct bw_dev *d, const char *version);
int bw_dev_send_events(struct bw_dev *d);
/* Check, pull and install in a loop until max_loops (0: forever) or an
 * installation needs a reboot (returns that exit code). */
int bw_dev_daemon(struct bw_dev *d, long max_loops, long interval_s);

#endif
