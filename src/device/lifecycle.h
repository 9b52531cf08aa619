/*
 * Installing into the inactive slot, trial boot, confirmation and
 * rollback (lifecycle.c): the executor of the A/B state machine in
 * abstate.h. Each returns a BW_DEV_EXIT_* code and prints its message.
 */
#ifndef BW_DEV_LIFECYCLE_H
#define BW_DEV_LIFECYCLE_H

#include "abstate.h"
#include "agent.h"

int bw_dev_install(struct bw_dev *d);
int bw_dev_boot(struct bw_dev *d);
int bw_dev_run(struct bw_dev *d);
int bw_dev_rollback(struct bw_dev *d);
int bw_dev_status(struct bw_dev *d);

/* At open, with the lock held: a slot left WRITING was cut mid-write (its
 * content unknown) and becomes EMPTY; a pending slot that is not PENDING
 * is a torn install and is dropped. The download it came from is still
 * there and install can run again. 0 or BW_E*. */
int bw_dev_recover(struct bw_dev *d, struct bw_err *err);
/* The configuration's part of the state machine's facts (the bootloader's
 * view unset: bootenv.c fills it for SYNC). */
void bw_dev_ab_facts(const struct bw_dev *d, struct bw_ab_facts *f);

#endif
