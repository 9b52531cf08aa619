/*
 * Binary transparency (transparency.c): with [transparency] log_key set,
 * a release is installed only when it is in the transparency log.
 */
#ifndef BW_DEV_TRANSPARENCY_H
#define BW_DEV_TRANSPARENCY_H

#include "agent.h"

/* 0 when the policy is off or the server proved that the trusted
 * targets metadata is logged under a checkpoint signed by the log key and
 * enough witnesses; the reason in err otherwise. */
int bw_dev_transparency_check(struct bw_dev *d, struct bw_err *err);

#endif
