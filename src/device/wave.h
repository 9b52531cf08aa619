/*
 * Waves on the device (wave.c): after each TUF refresh the agent asks the
 * gateway for the wave of its tag (GET /wave) and takes the wave's release
 * only when the charter verifies against its trusted production root and
 * admits this device: its own cohort from the UUID in its certificate,
 * the step the server says is open, and the bake times on its own clock
 * since it first saw the charter (bw_wave_charter_admits). Otherwise it
 * keeps the production release.
 */
#ifndef BW_DEV_WAVE_H
#define BW_DEV_WAVE_H

#include <stddef.h>

#include "agent.h"

struct bw_tuf_target;

/*
 * Ask for the wave and, when this device may take it, append the wave's
 * targets that match its hardware id and tag to *ts (realloc'd; *n grows)
 * and keep the charter in d->wave for the download. Never fails the
 * check: no wave, an unreachable gateway or a refused charter leave the
 * listing as it was (the reason is printed with --verbose, and always for
 * a refusal).
 */
void bw_dev_wave_offer(struct bw_dev *d, struct bw_dev_target **ts,
		       size_t *n);

/* The target name of the wave the device accepted in this run, or NULL. */
const struct bw_tuf_target *bw_dev_wave_target(const struct bw_dev *d,
					       const char *name);

#endif
