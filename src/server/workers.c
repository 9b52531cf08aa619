/*
 * bulwarkd on every core (server.h: bw_srv_workers_run): a supervisor
 * process and server.workers worker processes.
 *
 * Processes, not threads: a worker is a whole server (its own event loop,
 * storage connection, caches, PKCS#11 session), so N workers behave
 * exactly like N gateways on one database, which already keeps every
 * cache correct through the database (identity change counter, metadata
 * versions) and shares the rate limits there. A crash takes one worker,
 * not the server.
 *
 * The supervisor checks the configuration once (opening the database
 * migrates it before any worker starts), then binds the listening
 * sockets: for the gateway, registration and EST listeners one socket per
 * worker on the same port with SO_REUSEPORT, so the kernel spreads new
 * connections over the workers; the admin listener once, for worker 0.
 * It keeps every socket, so a restarted worker takes over the same one
 * and connections queued meanwhile wait for it instead of being reset.
 *
 * The supervisor also makes the TLS session ticket keys every worker uses
 * (random, in memory only, wiped at exit), so a device's session ticket
 * resumes on whichever worker the kernel hands its next connection.
 *
 * Signals: SIGHUP is forwarded to every worker (each reloads its PKI);
 * SIGTERM and SIGINT are forwarded and the supervisor waits for every
 * worker to drain (server.shutdown_grace), then SIGKILLs what is left
 * after a further margin. A worker that exits while the server is not
 * stopping is restarted (at most once a second). Workers get SIGTERM if
 * the supervisor dies (PR_SET_PDEATHSIG), so none is left behind.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"
#include "server.h"
#include "tls.h"

#define WORKERS_MAX 256
#define NLISTENERS 4 /* gateway, admin, registration, EST (server.h) */
#define RESTART_MIN_SECONDS 1
#define KILL_MARGIN_SECONDS 5

struct worker {
	pid_t pid;
	int64_t started;
	int fds[NLISTENERS]; /* -1: none */
};

struct supervisor {
	struct bw_srv_config *cfg;
	struct worker w[WORKERS_MAX];
	int n;
	sigset_t old_mask;
	unsigned char ticket_keys[80]; /* secret; server.h */
};

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static int workers_count(const struct bw_srv_config *cfg)
{
	long cpus = 0;

	if (cfg->workers > 0)
		return (int)cfg->workers;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (int)cpus;
}

/* Which listeners this configuration runs, as server.c decides. */
static void listen_addrs(const struct bw_srv_config *c,
			 const char *addr[NLISTENERS])
{
	int reg = (c->roles & BW_SRV_ROLE_REGISTRATION) != 0;

	addr[0] = (c->roles & BW_SRV_ROLE_GATEWAY) ? c->gw_listen : NULL;
	addr[1] = (c->roles & BW_SRV_ROLE_ADMIN) ? c->admin_listen : NULL;
	addr[2] = reg && c->reg_listen[0] ? c->reg_listen : NULL;
	addr[3] = reg && c->est_listen[0] ? c->est_listen : NULL;
}

static int bind_all(struct supervisor *sv, struct bw_err *err)
{
	const char *addr[NLISTENERS];

	listen_addrs(sv->cfg, addr);
	for (int i = 0; i < sv->n; i++)
		for (int l = 0; l < NLISTENERS; l++)
			sv->w[i].fds[l] = -1;
	for (int l = 0; l < NLISTENERS; l++) {
		if (!addr[l])
			continue;
		for (int i = 0; i < sv->n; i++) {
			int fd = 0;

			if (l == 1 && i > 0) /* admin: worker 0's alone */
				break;
			fd = bw_srv_listen_socket(addr[l], l != 1, err);
			if (fd < 0)
				return fd;
			sv->w[i].fds[l] = fd;
		}
	}
	return 0;
}

static void close_all(struct supervisor *sv)
{
	for (int i = 0; i < sv->n; i++)
		for (int l = 0; l < NLISTENERS; l++)
			if (sv->w[i].fds[l] >= 0) {
				close(sv->w[i].fds[l]);
				sv->w[i].fds[l] = -1;
			}
}

/* In the child: become worker i; never returns. */
static void worker_main(struct supervisor *sv, int i, pid_t parent)
{
	struct bw_srv *srv = NULL;
	struct bw_err err = {0};
	int rc = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(1);		/* the supervisor is already gone */
	for (int j = 0; j < sv->n; j++) /* the other workers' sockets */
		for (int l = 0; l < NLISTENERS; l++)
			if (j != i && sv->w[j].fds[l] >= 0)
				close(sv->w[j].fds[l]);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &sv->old_mask, NULL);
	if ((rc = bw_srv_new(sv->cfg, &srv, &err))) {
		bw_srv_log(BW_SRV_LOG_ERR, "worker %d: %s", i + 1, err.msg);
		bw_srv_free(srv);
		_exit(1);
	}
	srv->worker = i;
	srv->nworkers = sv->n;
	memcpy(srv->ticket_keys, sv->ticket_keys, sizeof(srv->ticket_keys));
	srv->have_ticket_keys = 1;
	OPENSSL_cleanse(sv->ticket_keys, sizeof(sv->ticket_keys));
	for (int l = 0; l < NLISTENERS; l++)
		srv->listen_fd[l] = sv->w[i].fds[l];
	rc = bw_srv_run(srv);
	bw_srv_free(srv);
	_exit(rc ? 1 : 0);
}

static int spawn(struct supervisor *sv, int i)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		bw_srv_log(BW_SRV_LOG_ERR, "fork: %s", strerror(errno));
		return BW_EIO;
	}
	if (pid == 0)
		worker_main(sv, i, parent);
	sv->w[i].pid = pid;
	sv->w[i].started = now_s();
	return 0;
}

static void signal_all(struct supervisor *sv, int sig)
{
	for (int i = 0; i < sv->n; i++)
		if (sv->w[i].pid > 0)
			kill(sv->w[i].pid, sig);
}

static int running(const struct supervisor *sv)
{
	int n = 0;

	for (int i = 0; i < sv->n; i++)
		n += sv->w[i].pid > 0;
	return n;
}

/* Reap exited workers; mark them for a restart unless stopping. */
static void reap(struct supervisor *sv, int stopping)
{
	int status = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < sv->n; i++) {
			if (sv->w[i].pid != pid)
				continue;
			sv->w[i].pid = 0;
			if (!stopping)
				bw_srv_log(
				    BW_SRV_LOG_ERR,
				    "worker %d (pid %ld) %s %d; "
				    "restarting it",
				    i + 1, (long)pid,
				    WIFSIGNALED(status) ? "killed by signal"
							: "exited with",
				    WIFSIGNALED(status) ? WTERMSIG(status)
							: WEXITSTATUS(status));
		}
	}
}

/* Start every worker that is not running and may be restarted now;
 * returns how many seconds until the next one may be. */
static int restart_due(struct supervisor *sv)
{
	int64_t t = now_s();
	int wait = 0;

	for (int i = 0; i < sv->n; i++) {
		if (sv->w[i].pid > 0)
			continue;
		if (t - sv->w[i].started < RESTART_MIN_SECONDS) {
			wait = RESTART_MIN_SECONDS;
			continue;
		}
		if (spawn(sv, i))
			wait = RESTART_MIN_SECONDS;
	}
	return wait;
}

/* Until every worker is gone; stopping: they were already told to. */
static void supervise(struct supervisor *sv, int stopping)
{
	sigset_t set;
	int64_t deadline =
	    now_s() + sv->cfg->shutdown_grace + KILL_MARGIN_SECONDS;
	int wait = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	while (!stopping || running(sv) > 0) {
		struct timespec ts = {wait > 0 ? wait : 1, 0};
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGHUP) {
			bw_srv_log(BW_SRV_LOG_INFO,
				   "SIGHUP: forwarded to %d worker(s)",
				   running(sv));
			signal_all(sv, SIGHUP);
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			bw_srv_log(BW_SRV_LOG_NOTICE,
				   "stopping %d worker(s) (signal %d)",
				   running(sv), sig);
			stopping = 1;
			deadline = now_s() + sv->cfg->shutdown_grace +
				   KILL_MARGIN_SECONDS;
			signal_all(sv, SIGTERM);
		}
		reap(sv, stopping);
		if (stopping && now_s() >= deadline && running(sv) > 0) {
			bw_srv_log(BW_SRV_LOG_WARN,
				   "%d worker(s) still running after "
				   "server.shutdown_grace: killing them",
				   running(sv));
			signal_all(sv, SIGKILL);
			deadline = now_s() + KILL_MARGIN_SECONDS;
		}
		if (!stopping)
			wait = restart_due(sv);
	}
}

int bw_srv_workers_run(struct bw_srv_config *cfg)
{
	struct supervisor *sv = calloc(1, sizeof(*sv));
	struct bw_err err = {0};
	sigset_t set;
	int rc = 0;

	if (!sv)
		return BW_ENOMEM;
	sv->cfg = cfg;
	sv->n = workers_count(cfg);
	/* every signal waits for supervise(), none is lost before it */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &sv->old_mask);
	signal(SIGPIPE, SIG_IGN);
	if (RAND_bytes(sv->ticket_keys, sizeof(sv->ticket_keys)) != 1)
		rc = bw_err_set(&err, BW_ECRYPTO, "RAND_bytes");
	if (rc || (rc = bw_srv_check(cfg, &err)) ||
	    (rc = bind_all(sv, &err))) {
		bw_srv_log(BW_SRV_LOG_ERR, "%s", err.msg);
		goto out;
	}
	bw_srv_log(BW_SRV_LOG_NOTICE, "starting %d worker(s) (pid %ld)", sv->n,
		   (long)getpid());
	for (int i = 0; i < sv->n && !rc; i++)
		rc = spawn(sv, i);
	if (rc)
		signal_all(sv, SIGTERM);
	supervise(sv, rc != 0);
	bw_srv_log(BW_SRV_LOG_NOTICE, "all workers stopped");
out:
	close_all(sv);
	OPENSSL_cleanse(sv->ticket_keys, sizeof(sv->ticket_keys));
	sigprocmask(SIG_SETMASK, &sv->old_mask, NULL);
	free(sv);
	return rc;
}
