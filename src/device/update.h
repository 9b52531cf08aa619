/*
 * Checking for, listing and downloading updates (update.c). Each returns
 * a BW_DEV_EXIT_* code and prints its message.
 */
#ifndef BW_DEV_UPDATE_H
#define BW_DEV_UPDATE_H

#include "agent.h"

int bw_dev_check(struct bw_dev *d, int print);
int bw_dev_list(struct bw_dev *d);
int bw_dev_pull(struct bw_dev *d, const char *version);

#endif
