/*
 * Certificate rotation over EST (rotate.c, docs/device.md): a new key in
 * the token under a new label, a CSR signed by it, simplereenroll
 * authenticated by the current key, the new certificate stored in the
 * token and as a file, the identity switched, a check-in with the new
 * certificate, then the old key deleted.
 *
 * A journal (state_dir/rotation.json, 0600) records the step reached;
 * every durable write is counted by bw_dev_durable (the power-loss test
 * hook). Whatever write a crash interrupts, identity.ini names a key and
 * certificate that work, and the next run finishes the rotation or undoes
 * it (a key whose request may have reached the server is never dropped:
 * the server answers a retry with the same key with the same certificate).
 */
#ifndef BW_DEV_ROTATE_H
#define BW_DEV_ROTATE_H

#include "agent.h"

/* When bw_dev_rotate runs a rotation. */
enum bw_dev_rotate_when {
	BW_DEV_ROTATE_NOW = 0,	  /* `rotate-cert`: always */
	BW_DEV_ROTATE_IF_DUE = 1, /* daemon: inside the renewal window, or
				     when the server asks (GET /device) */
};

/*
 * Finish an interrupted rotation if the journal says there is one, then
 * rotate if `when` says so. Needs a token identity written by `register`
 * (state_dir/identity.ini). Returns a BW_DEV_EXIT_* code: OK (done, or
 * nothing due), CHECKIN_FAILED (the server was unreachable: the journal
 * keeps the step, the next run goes on), FAIL (refused: anything this run
 * made is removed), USAGE (no token identity).
 */
int bw_dev_rotate(struct bw_dev *d, enum bw_dev_rotate_when when);

/* 1 if this device has a token identity from `register` (identity.ini)
 * and the daemon should look after its certificate. */
int bw_dev_rotate_enabled(const struct bw_dev *d);

/* 1 if a rotation journal exists (status). */
int bw_dev_rotate_in_progress(const struct bw_dev *d);

#endif
