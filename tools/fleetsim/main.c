/*
 * bw-fleetsim: a simulated fleet against a real bulwarkd (fleetsim.h).
 * Options, the fleet's set-up, the run and its report.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bulwark/buf.h"
#include "bw_cli.h"
#include "fleetsim.h"

#define PROG "bw-fleetsim"
#define FS_MAX_DEVICES 100000
#define FS_MAX_THREADS 256

const char bw_cli_exit_help[] =
    "Exit codes: 0 the run completed (its report says what happened), 1 "
    "failure (set-up, server unreachable), 2 usage.";

/* A decimal "12" or "12.5" (at most 6 fraction digits) in millionths. */
static int decimal(const char *name, const char *s, uint64_t max_units,
		   uint64_t *out)
{
	const char *p = s;
	uint64_t whole = 0, frac = 0, scale = 1000000;

	if (bw_num_read(&p, max_units, &whole) != 0)
		goto bad;
	if (*p == '.') {
		p++;
		for (int i = 0; *p >= '0' && *p <= '9'; i++, p++) {
			if (i >= 6)
				goto bad;
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p != '\0' || whole > max_units)
		goto bad;
	*out = whole * 1000000 + frac;
	return BW_EXIT_OK;
bad:
	return bw_cli_usage(PROG, "%s: a decimal number from 0 to %llu, "
				  "e.g. 2 or 0.5", name,
			    (unsigned long long)max_units);
}

static int seconds(const char *name, const char *s, double min, double *out)
{
	uint64_t v = 0;
	int rc;

	if (!s)
		return BW_EXIT_OK;
	rc = decimal(name, s, 86400, &v);
	if (rc == BW_EXIT_OK && (double)v / 1e6 < min)
		rc = bw_cli_usage(PROG, "%s: at least %g", name, min);
	if (rc == BW_EXIT_OK)
		*out = (double)v / 1e6;
	return rc;
}

static int percent(const char *name, const char *s, uint32_t *ppm)
{
	uint64_t v = 0;
	int rc;

	if (!s)
		return BW_EXIT_OK;
	rc = decimal(name, s, 100, &v);
	if (rc == BW_EXIT_OK)
		*ppm = (uint32_t)(v / 100);
	return rc;
}

static int count(const char *name, const char *s, int64_t min, int64_t max,
		 long *out)
{
	int64_t v = 0;
	int rc;

	if (!s)
		return BW_EXIT_OK;
	rc = bw_cli_int(PROG, name, s, min, max, &v);
	if (rc == BW_EXIT_OK)
		*out = (long)v;
	return rc;
}

/* bulwark-device beside this program, unless --agent names one. */
static char *default_agent(void)
{
	char self[PATH_MAX], *slash, *out = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	*slash = '\0';
	if (bw_path_join(self, "bulwark-device", &out) != 0)
		return NULL;
	return out;
}

struct raw {
	const char *devices, *processes, *threads, *seed, *poll, *jitter,
	    *reboot, *max_seconds, *warmup, *slow_s, *boot_attempts, *pid;
	const char *install_error, *boot_fallback, *silent, *slow;
};

static int parse(int argc, char **argv, struct fs_opts *o, int *done)
{
	struct raw r = {0};
	const struct bw_cli_opt opts[] = {
	    {"--server", BW_CLI_STR | BW_CLI_REQUIRED, "URL",
	     "the gateway, https://127.0.0.1:PORT", &o->server_url},
	    {"--admin", BW_CLI_STR | BW_CLI_REQUIRED, "URL",
	     "the admin API, https://127.0.0.1:PORT", &o->admin_url},
	    {"--admin-token-file", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the operator token (one line)", &o->admin_token_file},
	    {"--ca-file", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the factory CA (trust for the gateway and the admin API)",
	     &o->ca_file},
	    {"--device-ca", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "device CA certificate that issues the devices' certificates",
	     &o->device_ca},
	    {"--device-ca-key", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "its private key (PEM, mode 0600)", &o->device_ca_key},
	    {"--root", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the production root.json every device is provisioned with",
	     &o->root_file},
	    {"--hardware-id", BW_CLI_STR | BW_CLI_REQUIRED, "ID",
	     "the devices' hardware id", &o->hardware_id},
	    {"--tag", BW_CLI_STR | BW_CLI_REQUIRED, "TAG", "the devices' tag",
	     &o->tag},
	    {"--dir", BW_CLI_STR | BW_CLI_REQUIRED, "DIR",
	     "work directory: one directory per device, devices.log",
	     &o->workdir},
	    {"--wave", BW_CLI_STR, "NAME",
	     "watch this wave: the run ends when it stops (halted, cancelled, "
	     "completed) or its last step has settled", &o->wave},
	    {"--charter", BW_CLI_STR, "FILE",
	     "upload this signed wave charter (POST /waves) once every device "
	     "has checked in once; needs --wave", &o->charter},
	    {"--report", BW_CLI_STR, "FILE", "write the JSON report here",
	     &o->report},
	    {"--devices", BW_CLI_STR, "N", "devices (default 100)", &r.devices},
	    {"--processes", BW_CLI_STR, "N",
	     "of which real bulwark-device processes (default 0)",
	     &r.processes},
	    {"--agent", BW_CLI_STR, "FILE",
	     "bulwark-device (default: beside this program)", &o->agent},
	    {"--threads", BW_CLI_STR, "N", "worker threads (default 8)",
	     &r.threads},
	    {"--seed", BW_CLI_STR, "N",
	     "seed of the fleet: UUIDs, fates, jitter (default 1)", &r.seed},
	    {"--poll", BW_CLI_STR, "SEC", "poll interval (default 2)", &r.poll},
	    {"--jitter", BW_CLI_STR, "SEC",
	     "up to this much added to each poll (default: half the poll)",
	     &r.jitter},
	    {"--reboot", BW_CLI_STR, "SEC", "time a reboot takes (default 0.5)",
	     &r.reboot},
	    {"--max-seconds", BW_CLI_STR, "SEC",
	     "the run's deadline (default 120)", &r.max_seconds},
	    {"--warmup", BW_CLI_STR, "SEC",
	     "traffic figures count from this long after the start "
	     "(default 0)", &r.warmup},
	    {"--install-error", BW_CLI_STR, "PCT",
	     "share of devices whose installation fails (slot B unwritable)",
	     &r.install_error},
	    {"--boot-fallback", BW_CLI_STR, "PCT",
	     "share whose new image never boots (boot counter falls back)",
	     &r.boot_fallback},
	    {"--silent", BW_CLI_STR, "PCT",
	     "share that dies after installing and is never heard again",
	     &r.silent},
	    {"--slow", BW_CLI_STR, "PCT",
	     "share whose download takes 0.5-1.5 x --slow-seconds longer",
	     &r.slow},
	    {"--slow-seconds", BW_CLI_STR, "SEC", "default 10", &r.slow_s},
	    {"--boot-attempts", BW_CLI_STR, "N",
	     "trial boots before the fallback (default 3)", &r.boot_attempts},
	    {"--server-pid", BW_CLI_STR, "PID",
	     "bulwarkd's pid: report its CPU time per check-in", &r.pid},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    PROG, "--server URL --admin URL ... [options]",
	    "Run a simulated fleet against a real bulwarkd on 127.0.0.1. "
	    "Each device is a real identity (a key and a production "
	    "certificate issued here by --device-ca, bound by the gateway on "
	    "first contact) running the device library with file-backed A/B "
	    "slots and the simulated bootloader; --processes of them are real "
	    "bulwark-device processes. A seeded failure model gives each "
	    "device its fate. The report (human on stdout, JSON with "
	    "--report): the wave's outcomes before its halt, devices exposed, "
	    "the time from the deciding outcome to the halt; check-ins per "
	    "second, their p50/p99 latency, bulwarkd's CPU per check-in. The "
	    "agents' own messages go to DIR/devices.log.",
	    opts, NULL, 0, 0};
	int rc = bw_cli_parse(&spec, argc, argv, done);
	uint32_t sum;

	if (rc != BW_EXIT_OK || *done)
		return rc;
	o->devices = 100;
	o->threads = 8;
	o->seed = 1;
	o->poll_s = 2;
	o->jitter_s = -1;
	o->reboot_s = 0.5;
	o->max_seconds = 120;
	o->slow_s = 10;
	o->boot_attempts = 3;
	if ((rc = count("--devices", r.devices, 1, FS_MAX_DEVICES,
			&o->devices)) ||
	    (rc = count("--processes", r.processes, 0, FS_MAX_DEVICES,
			&o->processes)) ||
	    (rc = count("--threads", r.threads, 1, FS_MAX_THREADS,
			&o->threads)) ||
	    (rc = count("--seed", r.seed, 0, INT32_MAX, &o->seed)) ||
	    (rc = count("--boot-attempts", r.boot_attempts, 1, 100,
			&o->boot_attempts)) ||
	    (rc = count("--server-pid", r.pid, 1, INT32_MAX, &o->server_pid)) ||
	    (rc = seconds("--poll", r.poll, 0.1, &o->poll_s)) ||
	    (rc = seconds("--jitter", r.jitter, 0, &o->jitter_s)) ||
	    (rc = seconds("--reboot", r.reboot, 0, &o->reboot_s)) ||
	    (rc = seconds("--max-seconds", r.max_seconds, 1,
			  &o->max_seconds)) ||
	    (rc = seconds("--warmup", r.warmup, 0, &o->warmup_s)) ||
	    (rc = seconds("--slow-seconds", r.slow_s, 0, &o->slow_s)) ||
	    (rc = percent("--install-error", r.install_error,
			  &o->install_error_ppm)) ||
	    (rc = percent("--boot-fallback", r.boot_fallback,
			  &o->boot_fallback_ppm)) ||
	    (rc = percent("--silent", r.silent, &o->silent_ppm)) ||
	    (rc = percent("--slow", r.slow, &o->slow_ppm)))
		return rc;
	if (o->jitter_s < 0)
		o->jitter_s = o->poll_s / 2;
	sum = o->install_error_ppm + o->boot_fallback_ppm + o->silent_ppm;
	if (sum > 1000000)
		return bw_cli_usage(PROG, "--install-error, --boot-fallback and "
					  "--silent add up to more than 100");
	if (o->charter && !o->wave)
		return bw_cli_usage(PROG, "--charter needs --wave");
	if (o->processes > o->devices)
		return bw_cli_usage(PROG, "--processes is more than --devices");
	return BW_EXIT_OK;
}

/* The agents print as the program would; their lines go to the log, the
 * simulator's report to the original stdout and stderr. */
static int redirect(const struct fs_opts *o, FILE **out, FILE **err)
{
	char *path = NULL;
	int fd = -1, o1 = -1, o2 = -1;

	if (bw_path_join(o->workdir, "devices.log", &path) != 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	free(path);
	if (fd < 0 || (o1 = dup(1)) < 0 || (o2 = dup(2)) < 0 ||
	    !(*out = fdopen(o1, "w")) || !(*err = fdopen(o2, "w")) ||
	    dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(*err, NULL, _IOLBF, 0);
	return 0;
}

int main(int argc, char **argv)
{
	struct fs_opts o = {0};
	struct fs_fleet f = {0};
	struct fs_admin *a = NULL;
	struct bw_err err = {0};
	pthread_t *threads = NULL;
	FILE *out = stdout, *errf = stderr;
	char *agent = NULL;
	int done = 0, rc;

	rc = parse(argc, argv, &o, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return bw_cli_fail(PROG, "libcurl did not initialise");
	if (!o.agent && o.processes > 0)
		o.agent = agent = default_agent();
	f.o = &o;
	f.err = stderr;
	pthread_mutex_init(&f.lock, NULL);
	pthread_cond_init(&f.cond, NULL);
	threads = calloc((size_t)o.threads, sizeof(*threads));
	if (!threads || (o.processes > 0 && !o.agent))
		rc = bw_err_set(&err, BW_ENOMEM, "out of memory");
	if (!rc)
		rc = fs_admin_new(&o, &a, &err);
	if (!rc)
		rc = fs_fleet_make(&f, &err);
	if (!rc && redirect(&o, &out, &errf) != 0)
		rc = bw_err_set(&err, BW_EIO, "%s/devices.log: can not open",
				o.workdir);
	f.err = errf;
	if (!rc)
		rc = fs_run_start(&f, threads, (size_t)o.threads, &err);
	if (!rc)
		rc = fs_watch_and_report(&f, a, threads, (size_t)o.threads, out,
					 &err);
	if (rc)
		fprintf(errf, "%s: %s\n", PROG, err.msg);
	fflush(out);
	fs_fleet_dispose(&f);
	fs_admin_free(a);
	free(threads);
	free(agent);
	curl_global_cleanup();
	return rc ? BW_EXIT_FAIL : BW_EXIT_OK;
}
