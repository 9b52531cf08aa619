/*
 * Installing into the inactive slot, trial boot, confirmation and
 * rollback (lifecycle.c). Each returns a BW_DEV_EXIT_* code and prints
 * its message.
 */
#ifndef BW_DEV_LIFECYCLE_H
#define BW_DEV_LIFECYCLE_H

#include "agent.h"

int bw_dev_install(struct bw_dev *d);
int bw_dev_boot(struct bw_dev *d);
int bw_dev_run(struct bw_dev *d);
int bw_dev_rollback(struct bw_dev *d);
int bw_dev_status(struct bw_dev *d);

#endif
