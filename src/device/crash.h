/*
 * The power-loss test hook (crash.c).
 */
#ifndef BW_DEV_CRASH_H
#define BW_DEV_CRASH_H


/*
 * Count a durable write (a committed transaction, an fsync'd slot). When
 * BW_DEVICE_CRASH_AFTER_WRITES=N is set, the N-th call kills the process
 * with SIGKILL, as a power cut would. Inert when the variable is unset.
 */
void bw_dev_durable(const char *what);

#endif
