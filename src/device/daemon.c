/*
 * The daemon loop (daemon.h): finish a pending installation after a
 * reboot, then check, pull, install and report at the configured interval
 * with jitter and exponential back-off after failures.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "daemon.h"
#include "events.h"
#include "lifecycle.h"
#include "rotate.h"
#include "update.h"

static int is_failure(int rc)
{
	return rc != BW_DEV_EXIT_OK && rc != BW_DEV_EXIT_UPDATE_AVAILABLE &&
	       rc != BW_DEV_EXIT_NO_MATCHING_TARGET &&
	       rc != BW_DEV_EXIT_NEEDS_REBOOT;
}

/* interval, or interval * 2^failures capped, plus up to jitter seconds. */
static long next_sleep(const struct bw_dev *d, long interval, int failures)
{
	long s = interval;
	uint32_t r = 0;

	for (int i = 0; i < failures && s < d->cfg.max_backoff_s; i++)
		s *= 2;
	if (s > d->cfg.max_backoff_s)
		s = d->cfg.max_backoff_s;
	if (d->cfg.jitter_s > 0 && RAND_bytes((uint8_t *)&r, sizeof(r)) == 1)
		s += (long)(r % (uint32_t)(d->cfg.jitter_s + 1));
	return s;
}

static int daemon_round(struct bw_dev *d)
{
	int rc;

	if (d->st.pending >= 0)
		return BW_DEV_EXIT_PENDING; /* `run` finishes it after reboot */
	/* a registered token identity renews itself inside the window or
	 * when asked; a failure here never stops the update round */
	if (bw_dev_rotate_enabled(d)) {
		rc = bw_dev_rotate(d, BW_DEV_ROTATE_IF_DUE);
		if (rc != BW_DEV_EXIT_OK && d->verbose)
			fprintf(stderr, "bulwark-device: certificate rotation: "
					"exit %d, tried again next round\n", rc);
	}
	rc = bw_dev_check(d, 0);
	if (rc == BW_DEV_EXIT_UPDATE_AVAILABLE)
		rc = bw_dev_pull(d, NULL);
	else
		return rc;
	if (rc == BW_DEV_EXIT_OK && d->st.dl_state == BW_DEV_DL_DONE)
		rc = bw_dev_install(d);
	bw_dev_send_events(d);
	return rc;
}

int bw_dev_daemon(struct bw_dev *d, long max_loops, long interval_s)
{
	long interval = interval_s > 0 ? interval_s : d->cfg.interval_s;
	int failures = 0, rc = 0;

	/* Started after a reboot: finish (confirm or roll back) first. */
	if (d->st.pending >= 0) {
		rc = bw_dev_run(d);
		if (rc == BW_DEV_EXIT_NEEDS_REBOOT || rc == BW_DEV_EXIT_FAIL)
			return rc;
	}
	for (long loop = 0; max_loops == 0 || loop < max_loops; loop++) {
		rc = daemon_round(d);
		if (rc == BW_DEV_EXIT_NEEDS_REBOOT || rc == BW_DEV_EXIT_PENDING) {
			printf("installation pending: reboot, then run "
			       "`bulwark-device run`\n");
			return rc;
		}
		failures = is_failure(rc) ? failures + 1 : 0;
		if (max_loops == 0 || loop + 1 < max_loops) {
			long s = next_sleep(d, interval, failures);

			if (d->verbose || failures)
				fprintf(stderr, "bulwark-device: next check in "
						"%ld s\n", s);
			sleep((unsigned)s);
		}
	}
	return rc;
}
