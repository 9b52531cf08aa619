/*
 * bw-fleetsim: N simulated devices against a real bulwarkd on 127.0.0.1.
 *
 * Every device is a real identity (a P-256 key and a production
 * certificate issued here by the factory's device CA with libbulwark;
 * the gateway binds it on first contact) running the device library
 * (src/device: TUF refresh, GET /wave, download, A/B install into
 * file-backed slots, the simulated bootloader, events). A few devices can
 * be real `bulwark-device` processes instead, driven through the same
 * steps. A seeded failure model decides each device's fate: install
 * error, boot fallback, silent death, slow download.
 *
 * fleet.c makes the identities and device directories, sim.c runs the
 * devices on a bounded thread pool, observe.c watches the server (admin
 * API, /proc/<pid>/stat) and writes the report.
 */
#ifndef BW_FLEETSIM_H
#define BW_FLEETSIM_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bulwark/error.h"

struct bw_dev;

/* The fate the failure model gives a device for this run's release. */
enum fs_fate {
	FS_FATE_OK = 0,
	FS_FATE_INSTALL_ERROR, /* slot B can not be written: install fails */
	FS_FATE_BOOT_FALLBACK, /* the new image never boots: counter runs out */
	FS_FATE_SILENT,        /* dies after installing, never heard again */
};

/* Where a device is in its update. */
enum fs_phase {
	FS_POLL = 0,  /* check at the poll interval */
	FS_PULL,      /* admitted; the (slow) download finishes at next_at */
	FS_REBOOT,    /* installed; the bootloader runs at next_at */
	FS_DEAD,      /* silent death: never runs again */
};

/* What a device's outcome was, as the wave counts it. */
enum fs_outcome {
	FS_OUT_NONE = 0,
	FS_OUT_SUCCEEDED,
	FS_OUT_INSTALL_FAILED,
	FS_OUT_ROLLED_BACK,
	FS_OUT_SILENT,
};

struct fs_device {
	int idx;
	char uuid[37];
	char *dir;        /* <workdir>/dev<idx> */
	char *config;     /* <dir>/device.ini */
	int process;      /* 1: a real bulwark-device process */
	enum fs_fate fate;
	double slow_s;    /* extra download time, 0 if not slow */
	uint64_t rng;     /* poll jitter */
	/* guarded by the fleet lock */
	enum fs_phase phase;
	int busy;
	double next_at;   /* wall clock, seconds */
	long rounds;
	/* owned by the worker running the device */
	struct bw_dev *d; /* in-process agent, open between rounds */
	int boots;        /* boots since the installation */
	double admitted_at; /* start of the check that took the wave, 0 */
	double reported_at; /* when its outcome reached the server, 0 */
	enum fs_outcome outcome;
	int report_pending; /* outcome still in the device's event queue */
	int slow_done;
	int warm;        /* checked in once */
};

struct fs_opts {
	const char *server_url, *admin_url, *admin_token_file, *ca_file;
	const char *device_ca, *device_ca_key, *root_file;
	const char *tag, *hardware_id, *workdir, *agent, *wave, *report;
	const char *charter; /* uploaded once the fleet is warm, or NULL */
	long devices, processes, threads, seed;
	double poll_s, jitter_s, reboot_s, max_seconds, warmup_s;
	double slow_s;
	uint32_t install_error_ppm, boot_fallback_ppm, silent_ppm, slow_ppm;
	long boot_attempts;
	long server_pid;
};

/* The latency samples of check-ins (seconds), bounded. */
#define FS_MAX_SAMPLES 2000000u

struct fs_fleet {
	const struct fs_opts *o;
	struct fs_device *devs;
	size_t n;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	double started, measure_from;
	double wave_started; /* --charter uploaded, else started */
	size_t warm;         /* devices that checked in once */
	/* statistics, under lock */
	uint64_t checkins, checkin_failures, send_failures, rounds;
	uint64_t downloads, download_failures; /* pulls in the window */
	float *lat;
	size_t nlat;
	FILE *err; /* the simulator's own messages (stderr before redirect) */
};

/* fleet.c */
/* splitmix64: the seeded generator of UUIDs, fates and jitter. */
uint64_t fs_mix(uint64_t *state);
int fs_fleet_make(struct fs_fleet *f, struct bw_err *err);
void fs_fleet_dispose(struct fs_fleet *f);

/* sim.c */
double fs_now(void);
int fs_run_start(struct fs_fleet *f, pthread_t *threads, size_t n,
		 struct bw_err *err);
void fs_run_stop(struct fs_fleet *f, pthread_t *threads, size_t n);

/* observe.c */
struct fs_admin;
int fs_admin_new(const struct fs_opts *o, struct fs_admin **out,
		 struct bw_err *err);
void fs_admin_free(struct fs_admin *a);
/* GET path on the admin API: *out the JSON body (status 200 only). */
int fs_admin_get(struct fs_admin *a, const char *path, json_t **out,
		 struct bw_err *err);
/* POST body to path on the admin API; *status: the HTTP status. */
int fs_admin_post(struct fs_admin *a, const char *path, const void *body,
		  size_t len, long *status, struct bw_err *err);
/* utime + stime of pid in seconds (/proc/<pid>/stat). */
int fs_proc_cpu(long pid, double *out, struct bw_err *err);
/* report.c: watch the wave (or just the clock) until the run ends, stop
 * the workers, print the human summary to out and write the JSON report. */
int fs_watch_and_report(struct fs_fleet *f, struct fs_admin *a,
			pthread_t *threads, size_t nthreads, FILE *out,
			struct bw_err *err);

#endif
