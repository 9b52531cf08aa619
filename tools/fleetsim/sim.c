/*
 * Running the fleet (fleetsim.h): a bounded pool of worker threads takes
 * the device whose next step is due and runs that step; a step is what a
 * device's agent does at that moment: a check-in (TUF refresh and
 * GET /wave), the download and installation of an update it was offered,
 * or a boot and the agent's first run after it. In-process devices call
 * the device library with their agent kept open between check-ins (as
 * `bulwark-device daemon` does, so connections and TLS sessions are
 * reused) and closed at each reboot; process devices run `bulwark-device`
 * once per command. Every step is bounded: the agent's own timeouts, a
 * kill after FS_PROC_TIMEOUT for a process, and the run's deadline.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "events.h"
#include "exit.h"
#include "fleetsim.h"
#include "lifecycle.h"
#include "update.h"

#define FS_PROC_TIMEOUT 120.0

extern char **environ;

enum fs_op { OP_CHECK, OP_PULL, OP_INSTALL, OP_BOOT, OP_RUN, OP_SEND };

static const char *const op_cmd[] = {"check", "pull",     "install",
				     "boot",  "run",      "send-events"};

double fs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A real bulwark-device process for one command; its exit code. */
static int run_process(struct fs_fleet *f, struct fs_device *dv, enum fs_op op)
{
	char *argv[] = {(char *)f->o->agent, (char *)op_cmd[op], "--config",
			dv->config, NULL};
	double deadline = fs_now() + FS_PROC_TIMEOUT;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0, rc;

	/* Only stdin, stdout and stderr: the in-process agents' state locks
	 * and connections must not live on in the child. */
	if (posix_spawn_file_actions_init(&fa) != 0)
		return BW_DEV_EXIT_FAIL;
	rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (rc == 0)
		rc = posix_spawn(&pid, f->o->agent, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return BW_DEV_EXIT_FAIL;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return BW_DEV_EXIT_FAIL;
		if (fs_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return BW_DEV_EXIT_FAIL;
		}
		sleep_s(0.005);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : BW_DEV_EXIT_FAIL;
}

/* The in-process agent stops (a reboot, a death). */
static void power_off(struct fs_device *dv)
{
	bw_dev_free(dv->d);
	dv->d = NULL;
}

static int run_op(struct fs_fleet *f, struct fs_device *dv, enum fs_op op)
{
	struct bw_err err = {0};

	int rc = 0;

	if (dv->process)
		return run_process(f, dv, op);
	/* A process being spawned holds a copy of every descriptor until it
	 * execs, the state lock's too: a lock still held is tried again for
	 * up to a second. */
	for (int i = 0; !dv->d && i < 50; i++) {
		rc = bw_dev_open(dv->config, BW_DEV_OPEN_EXCLUSIVE, &dv->d,
				 &err);
		if (rc != BW_ESTATE)
			break;
		sleep_s(0.02);
	}
	if (!dv->d) {
		fprintf(stderr, "fleetsim: %s: %s\n", dv->uuid, err.msg);
		return BW_DEV_EXIT_FAIL;
	}
	switch (op) {
	case OP_CHECK:
		return bw_dev_check(dv->d, 0);
	case OP_PULL:
		return bw_dev_pull(dv->d, NULL);
	case OP_INSTALL:
		return bw_dev_install(dv->d);
	case OP_BOOT:
		return bw_dev_boot(dv->d);
	case OP_RUN:
		return bw_dev_run(dv->d);
	case OP_SEND:
		return bw_dev_send_events(dv->d);
	}
	return BW_DEV_EXIT_FAIL;
}

static double next_poll(struct fs_fleet *f, struct fs_device *dv, double now)
{
	double u = (double)(fs_mix(&dv->rng) % 1000000u) / 1e6;
	double j = f->o->jitter_s * u;

	return now + f->o->poll_s + j;
}

static void record_checkin(struct fs_fleet *f, struct fs_device *dv,
			   double t0, double t1, int rc)
{
	int failed = rc == BW_DEV_EXIT_CHECKIN_FAILED ||
		     rc == BW_DEV_EXIT_TUF_FETCH_FAILED ||
		     rc == BW_DEV_EXIT_FAIL;

	pthread_mutex_lock(&f->lock);
	if (!failed && !dv->warm) {
		dv->warm = 1;
		f->warm++;
	}
	if (t0 >= f->measure_from) {
		f->checkins++;
		f->checkin_failures += (uint64_t)failed;
		if (!failed && f->nlat < FS_MAX_SAMPLES)
			f->lat[f->nlat++] = (float)(t1 - t0);
	}
	pthread_mutex_unlock(&f->lock);
}

/* Events still queued in the device's state (-1: unknown). */
static long queued(struct fs_device *dv)
{
	struct bw_dev *d = dv->d;
	long n = -1;

	if (!d && bw_dev_open(dv->config, BW_DEV_OPEN_READONLY, &d, NULL))
		return -1;
	if (bw_dev_events_count(d->db, &n, NULL) != 0)
		n = -1;
	if (d != dv->d)
		bw_dev_free(d);
	return n;
}

/* Outcomes and admissions are written under the lock: the watcher reads
 * them while the run goes on. An outcome has reached the server when the
 * device's event queue is empty; otherwise a later check-in sends it.
 * Its time is when the step that sent it began (sent_from): never later
 * than the server received it, so a halt is never measured too fast. */
static void outcome(struct fs_fleet *f, struct fs_device *dv,
		    enum fs_outcome o, double sent_from)
{
	long left = o == FS_OUT_SILENT ? 0 : queued(dv);
	double now = sent_from;

	pthread_mutex_lock(&f->lock);
	if (dv->outcome == FS_OUT_NONE) { /* the wave counts the first one */
		dv->outcome = o;
		if (o != FS_OUT_SILENT && left == 0)
			dv->reported_at = now;
		else if (o != FS_OUT_SILENT)
			dv->report_pending = 1;
	}
	pthread_mutex_unlock(&f->lock);
}

static void report_sent(struct fs_fleet *f, struct fs_device *dv,
			double sent_from)
{
	long left;
	double now;

	pthread_mutex_lock(&f->lock);
	left = dv->report_pending;
	pthread_mutex_unlock(&f->lock);
	if (!left || queued(dv) != 0)
		return;
	now = sent_from;
	pthread_mutex_lock(&f->lock);
	dv->reported_at = now;
	dv->report_pending = 0;
	pthread_mutex_unlock(&f->lock);
}

/* Download (the slow part is over) and install; then reboot, or report. */
static void step_install(struct fs_fleet *f, struct fs_device *dv)
{
	double t = fs_now();
	int rc = run_op(f, dv, OP_PULL);

	if (t >= f->measure_from) {
		pthread_mutex_lock(&f->lock);
		if (rc == BW_DEV_EXIT_OK)
			f->downloads++;
		else
			f->download_failures++;
		pthread_mutex_unlock(&f->lock);
	}
	dv->phase = FS_POLL;
	if (rc != BW_DEV_EXIT_OK) {
		dv->next_at = next_poll(f, dv, fs_now());
		return;
	}
	rc = run_op(f, dv, OP_INSTALL);
	if (rc == BW_DEV_EXIT_NEEDS_REBOOT) {
		power_off(dv);
		dv->boots = 0;
		if (dv->fate == FS_FATE_SILENT) {
			dv->phase = FS_DEAD; /* bricked: never heard again */
			outcome(f, dv, FS_OUT_SILENT, 0);
			return;
		}
		dv->phase = FS_REBOOT;
		dv->next_at = fs_now() + f->o->reboot_s;
		return;
	}
	/* the failure event is queued: the agent reports it now */
	t = fs_now();
	if (run_op(f, dv, OP_SEND) != BW_DEV_EXIT_OK) {
		pthread_mutex_lock(&f->lock);
		f->send_failures++;
		pthread_mutex_unlock(&f->lock);
	}
	outcome(f, dv, FS_OUT_INSTALL_FAILED, t);
	dv->next_at = next_poll(f, dv, fs_now());
}

static void step_poll(struct fs_fleet *f, struct fs_device *dv)
{
	double t0 = fs_now(), t1;
	int rc = run_op(f, dv, OP_CHECK);

	t1 = fs_now();
	record_checkin(f, dv, t0, t1, rc);
	report_sent(f, dv, t0);
	if (rc != BW_DEV_EXIT_UPDATE_AVAILABLE) {
		dv->next_at = next_poll(f, dv, t1);
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (dv->admitted_at == 0)
		dv->admitted_at = t0;
	pthread_mutex_unlock(&f->lock);
	if (dv->slow_s > 0 && !dv->slow_done) {
		dv->slow_done = 1;
		dv->phase = FS_PULL;
		dv->next_at = t1 + dv->slow_s;
		return;
	}
	step_install(f, dv);
}

/* Power on: the bootloader picks a slot; an image that never boots hangs
 * until the watchdog resets the device; then the agent's first run
 * confirms the new slot or records the fallback, and reports. */
static void step_boot(struct fs_fleet *f, struct fs_device *dv)
{
	double t;
	int rc;

	power_off(dv);
	rc = run_op(f, dv, OP_BOOT);
	dv->boots++;
	power_off(dv);
	if (rc == BW_DEV_EXIT_OK && dv->fate == FS_FATE_BOOT_FALLBACK &&
	    dv->boots <= f->o->boot_attempts) {
		dv->next_at = fs_now() + f->o->reboot_s;
		return;
	}
	t = fs_now();
	rc = run_op(f, dv, OP_RUN);
	if (rc == BW_DEV_EXIT_NEEDS_REBOOT) {
		dv->next_at = fs_now() + f->o->reboot_s;
		return;
	}
	if (rc == BW_DEV_EXIT_OK)
		outcome(f, dv, FS_OUT_SUCCEEDED, t);
	else if (rc == BW_DEV_EXIT_ROLLED_BACK)
		outcome(f, dv, FS_OUT_ROLLED_BACK, t);
	dv->phase = FS_POLL;
	dv->next_at = next_poll(f, dv, fs_now());
}

static void step(struct fs_fleet *f, struct fs_device *dv)
{
	switch (dv->phase) {
	case FS_POLL:
		step_poll(f, dv);
		break;
	case FS_PULL:
		step_install(f, dv);
		break;
	case FS_REBOOT:
		step_boot(f, dv);
		break;
	case FS_DEAD:
		break;
	}
}

/* The due device with the earliest next step, or NULL (*wait: until when). */
static struct fs_device *pick(struct fs_fleet *f, double now, double *wait)
{
	struct fs_device *best = NULL;

	for (size_t i = 0; i < f->n; i++) {
		struct fs_device *dv = &f->devs[i];

		if (dv->busy || dv->phase == FS_DEAD)
			continue;
		if (!best || dv->next_at < best->next_at)
			best = dv;
	}
	*wait = best ? best->next_at : now + 0.1;
	return best && best->next_at <= now ? best : NULL;
}

/* Rounds per device are bounded too: no step runs more often than every
 * 50 ms on average over the run. */
static long max_rounds(const struct fs_opts *o)
{
	return (long)(o->max_seconds * 20) + 100;
}

static void *worker(void *arg)
{
	struct fs_fleet *f = arg;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		double now = fs_now(), wait;
		struct fs_device *dv = pick(f, now, &wait);

		if (!dv) {
			struct timespec ts;

			if (wait > now + 0.1)
				wait = now + 0.1;
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
			continue;
		}
		dv->busy = 1;
		if (++dv->rounds > max_rounds(f->o))
			dv->phase = FS_DEAD;
		f->rounds++;
		pthread_mutex_unlock(&f->lock);
		step(f, dv);
		pthread_mutex_lock(&f->lock);
		dv->busy = 0;
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int fs_run_start(struct fs_fleet *f, pthread_t *threads, size_t n,
		 struct bw_err *err)
{
	double now = fs_now();

	f->started = now;
	f->wave_started = now;
	f->measure_from = now + f->o->warmup_s;
	/* first check-ins spread over one poll interval */
	for (size_t i = 0; i < f->n; i++) {
		struct fs_device *dv = &f->devs[i];

		dv->next_at = now + f->o->poll_s *
				       (double)(fs_mix(&dv->rng) % 1000000u) / 1e6;
	}
	for (size_t i = 0; i < n; i++)
		if (pthread_create(&threads[i], NULL, worker, f) != 0) {
			fs_run_stop(f, threads, i);
			return bw_err_set(err, BW_ENOMEM, "no thread");
		}
	return 0;
}

void fs_run_stop(struct fs_fleet *f, pthread_t *threads, size_t n)
{
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}
