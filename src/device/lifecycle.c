/*
 * The A/B lifecycle's executor: install into the inactive slot, boot (the
 * simulated bootloader's part), run (confirm or roll back), operator
 * rollback, recovery at start-up, status. What to do is decided by the
 * pure state machine (abstate.c); this file gathers the facts, performs
 * the actions it lists in that order (slot copy and read-back, database
 * saves, the bootloader through struct bw_dev_boot_ops, event upload) and
 * feeds back the results of the checks.
 *
 * Invariants a power cut at any instant keeps (tests/integration/
 * test_device.py kills the agent after every durable write):
 *  - a slot is bootable only when GOOD or PENDING; PENDING is written only
 *    after the slot's bytes were fsync'd and read back against the signed
 *    length and sha256, so an unverified slot is never booted;
 *  - the active slot stays GOOD until a trial boot of the other slot was
 *    confirmed; the pending slot gets boot_attempts tries, then the
 *    bootloader falls back and `run` records the rollback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/tuf.h"
#include "abstate.h"
#include "crash.h"
#include "events.h"
#include "lifecycle.h"
#include "rotate.h"
#include "bootenv.h"

#define CHUNK (1u << 20)

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bulwark-device: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return BW_DEV_EXIT_FAIL;
}

/* sha256 of the first t->length bytes of path; BW_EHASH if it differs or
 * the file is shorter. */
static int verify_bytes(const char *path, const struct bw_dev_target *t,
			struct bw_err *err)
{
	struct bw_hash *h = NULL;
	uint8_t *buf = malloc(CHUNK), want[32], got[32];
	uint64_t left = t->length;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (buf == NULL || fd < 0 || bw_hash_new(BW_HASH_SHA256, &h) != 0 ||
	    bw_hex_decode(t->sha256, strlen(t->sha256), want, 32) != 0)
		rc = bw_err_set(err, BW_EIO, "%s: %s", path, strerror(errno));
	while (rc == 0 && left > 0) {
		ssize_t n = read(fd, buf, left < CHUNK ? (size_t)left : CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = bw_err_set(err, BW_EHASH, "%s: shorter than %llu bytes",
					path, (unsigned long long)t->length);
		else if (bw_hash_update(h, buf, (size_t)n) != 0)
			rc = bw_err_set(err, BW_ECRYPTO, "hash failed");
		else
			left -= (uint64_t)n;
	}
	if (rc == 0 && (bw_hash_final(h, got) != 0 ||
			CRYPTO_memcmp(got, want, 32) != 0))
		rc = bw_err_set(err, BW_EHASH, "%s: sha256 mismatch", path);
	if (fd >= 0)
		close(fd);
	bw_hash_free(h);
	free(buf);
	return rc;
}

static int open_slot(const char *path, struct bw_err *err)
{
	struct stat sb;
	int flags = O_WRONLY | O_CLOEXEC; /* by-partlabel symlinks are normal */
	int fd;

	/* A block device keeps its size; a file slot is replaced whole. */
	if (stat(path, &sb) != 0 || !S_ISBLK(sb.st_mode))
		flags |= O_CREAT | O_TRUNC;
	fd = open(path, flags, 0600);
	if (fd < 0)
		return bw_err_set(err, BW_EIO, "slot %s: %s", path,
				  strerror(errno));
	return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return BW_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy the verified download into the slot and make it durable. */
static int write_slot(const char *src, const char *slot, uint64_t length,
		      struct bw_err *err)
{
	uint8_t *buf = malloc(CHUNK);
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	uint64_t left = length;

	if (buf == NULL || in < 0) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", src, strerror(errno));
		goto out;
	}
	if ((out = open_slot(slot, err)) < 0) {
		rc = out;
		goto out;
	}
	while (rc == 0 && left > 0) {
		ssize_t n = read(in, buf, left < CHUNK ? (size_t)left : CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(out, buf, (size_t)n) != 0)
			rc = bw_err_set(err, BW_EIO, "slot %s: copy failed", slot);
		else
			left -= (uint64_t)n;
	}
	if (rc == 0 && fsync(out) != 0)
		rc = bw_err_set(err, BW_EIO, "slot %s: fsync: %s", slot,
				strerror(errno));
	/* Drop the cached pages so the read-back verification reads what
	 * the storage holds, not what we just handed the kernel. */
	if (rc == 0)
		posix_fadvise(out, 0, 0, POSIX_FADV_DONTNEED);
	if (rc == 0)
		bw_dev_durable("slot written");
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(buf);
	return rc;
}

/* ---- the executor -------------------------------------------------------- */

void bw_dev_ab_facts(const struct bw_dev *d, struct bw_ab_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->boot_attempts = d->cfg.boot_attempts;
	f->rollback_protection = d->cfg.rollback_protection;
	for (int i = 0; i < BW_DEV_SLOTS; i++)
		f->slot_set[i] = d->cfg.slot[i] != NULL;
	f->real_bootloader = d->boot != NULL && d->boot->env != NULL;
	f->may_write = d->lock_fd >= 0;
	f->cmdline_slot = f->env_slot = f->env_trial = -1;
}

/* What one step's actions left behind for the next input and the
 * messages. */
struct exec {
	struct bw_err io;       /* the failed I/O check, for events and text */
	char why[160];          /* rollback reason */
	int next;               /* the input a check fed back, -1 none */
	int printed;
};

static size_t step_events(const struct bw_ab_step *s, const struct exec *x,
			  struct bw_dev_event evs[2])
{
	const struct bw_dev_target *t = &s->target;

	switch (s->events) {
	case BW_AB_EV_STARTED:
		evs[0] = (struct bw_dev_event){"EcuInstallationStarted", -1,
					       NULL, t};
		return 1;
	case BW_AB_EV_APPLIED:
		evs[0] = (struct bw_dev_event){"EcuInstallationApplied", -1,
					       NULL, t};
		return 1;
	case BW_AB_EV_FAILED:
		evs[0] = (struct bw_dev_event){"EcuInstallationCompleted", 0,
					       x->io.msg, t};
		return 1;
	case BW_AB_EV_CONFIRMED:
		evs[0] = (struct bw_dev_event){"EcuInstallationCompleted", 1,
					       NULL, t};
		return 1;
	case BW_AB_EV_ROLLBACK:
		evs[0] = (struct bw_dev_event){"EcuInstallationCompleted", 0,
					       x->why, t};
		evs[1] = (struct bw_dev_event){"EcuRollback", 1, x->why, t};
		return 2;
	default:
		return 0;
	}
}

static void rollback_reason(const struct bw_dev *d, const struct bw_ab_step *s,
			    struct exec *x)
{
	if (s->msg == BW_AB_MSG_FELL_BACK)
		snprintf(x->why, sizeof(x->why), "slot %c did not boot after %ld "
			 "attempts; running slot %c", 'A' + s->slot,
			 d->cfg.boot_attempts, 'A' + d->st.active);
	else if (s->msg == BW_AB_MSG_CANCELLED)
		snprintf(x->why, sizeof(x->why),
			 "installation cancelled by the operator");
	else
		snprintf(x->why, sizeof(x->why), "rolled back by the operator");
}

/* The step's message: on stdout for progress, on stderr for refusals. */
static void say(const struct bw_dev *d, const struct bw_ab_step *s,
		const struct exec *x)
{
	const struct bw_dev_target *t = &s->target;
	int c = 'A' + s->slot, p = d->st.pending, b = d->st.booted;

	switch (s->msg) {
	case BW_AB_MSG_PENDING:
		fail("an installation is pending in slot %c: reboot and run "
		     "`bulwark-device run`", c);
		break;
	case BW_AB_MSG_STILL_RUNNING:
		/* After an operator rollback the old slot is still running
		 * until the reboot: never write over the running system. */
		fail("slot %c is still running: reboot first", c);
		break;
	case BW_AB_MSG_NO_DOWNLOAD:
		fail("nothing downloaded: run `bulwark-device pull` first");
		break;
	case BW_AB_MSG_NO_SLOT:
		fail("[update] slot_%c is not set", s->slot ? 'b' : 'a');
		break;
	case BW_AB_MSG_DOWNGRADE:
		fail("boot firmware version %lld is below the installed %lld "
		     "(anti-rollback)", (long long)t->bootfw,
		     (long long)d->st.bootfw);
		break;
	case BW_AB_MSG_DOWNLOAD_CHANGED:
		fail("download no longer matches its signed hash, refused: %s",
		     x->io.msg);
		break;
	case BW_AB_MSG_INSTALL_FAILED:
		fail("installation failed: %s", x->io.msg);
		break;
	case BW_AB_MSG_INSTALLED:
		printf("installed %s (version %s) into slot %c, verified; "
		       "reboot needed\n", t->name, t->version, c);
		break;
	case BW_AB_MSG_BOOT_NOT_SIMULATED:
		fail("the bootloader (%s) boots this device: `boot` only plays "
		     "it with [boot] bootloader = simulated", d->boot->name);
		break;
	case BW_AB_MSG_NO_BOOTABLE:
		fail("no bootable slot (slot %c is %s)", c,
		     bw_dev_slot_state_name(d->st.slot_state[s->slot]));
		break;
	case BW_AB_MSG_BOOT_FALLBACK:
		printf("boot attempts of slot %c exhausted: falling back to "
		       "slot %c\n", 'A' + p, c);
		/* fall through */
	case BW_AB_MSG_BOOTING:
		printf("booting slot %c: %s%s%s\n", c,
		       d->cfg.slot[b] ? d->cfg.slot[b] : "(unset)",
		       b == p ? " (trial boot)" : "",
		       b == p && d->st.attempts_left == 0 ? " (last attempt)"
							  : "");
		break;
	case BW_AB_MSG_NO_PENDING:
		printf("no pending installation; running slot %c\n", c);
		break;
	case BW_AB_MSG_CONFIRMED:
		printf("installation of %s (version %s) confirmed in slot %c\n",
		       t->name, t->version, c);
		break;
	case BW_AB_MSG_AWAIT_REBOOT:
		printf("installation pending in slot %c: reboot needed\n", c);
		break;
	case BW_AB_MSG_FELL_BACK: case BW_AB_MSG_CANCELLED:
	case BW_AB_MSG_ROLLED_BACK:
		printf("rolled back from %s (version %s): %s\n", t->name,
		       t->version, x->why);
		break;
	case BW_AB_MSG_NO_ROLLBACK_TARGET:
		fail("no previous good slot to roll back to (slot %c is %s)", c,
		     bw_dev_slot_state_name(d->st.slot_state[s->slot]));
		break;
	case BW_AB_MSG_OUT_OF_ORDER:
		fail("the recorded state does not allow this now (slot %c "
		     "pending, slot %c active)", p < 0 ? '-' : 'A' + p,
		     'A' + d->st.active);
		break;
	default:
		break;
	}
}

/* One action; 0, or an exit code to stop with. Checks that fail feed
 * their result back through x->next. */
static int perform(struct bw_dev *d, const struct bw_ab_step *s,
		   const struct bw_ab_action *a, struct exec *x)
{
	struct bw_dev_event evs[2];
	struct bw_err err = {0};
	size_t nev = 0;
	int rc = 0;

	switch (a->kind) {
	case BW_AB_ACT_SAVE:
	case BW_AB_ACT_SAVE_BEST_EFFORT:
		d->st = s->st;
		nev = step_events(s, x, evs);
		rc = bw_dev_save(d, nev ? evs : NULL, nev, &err);
		if (rc != 0 && a->kind == BW_AB_ACT_SAVE_BEST_EFFORT) {
			fprintf(stderr, "bulwark-device: %s\n", err.msg);
			rc = 0;
		}
		break;
	case BW_AB_ACT_MARK_FAILED:
		rc = bw_dev_state_mark_failed(d->db, &s->target, &err);
		break;
	case BW_AB_ACT_VERIFY_DOWNLOAD:
		x->next = verify_bytes(d->st.dl_path, &d->st.dl, &x->io) == 0
				  ? BW_AB_IN_DOWNLOAD_OK : BW_AB_IN_DOWNLOAD_BAD;
		return 0;
	case BW_AB_ACT_WRITE_SLOT:
		if (write_slot(d->st.dl_path, d->cfg.slot[a->arg],
			       d->st.slot[a->arg].length, &x->io) != 0)
			x->next = BW_AB_IN_SLOT_BAD_IO;
		return 0;
	case BW_AB_ACT_VERIFY_SLOT:
		rc = verify_bytes(d->cfg.slot[a->arg], &d->st.slot[a->arg],
				  &x->io);
		x->next = rc == 0 ? BW_AB_IN_SLOT_OK
			  : rc == BW_EHASH ? BW_AB_IN_SLOT_BAD_HASH
					   : BW_AB_IN_SLOT_BAD_IO;
		return 0;
	case BW_AB_ACT_DELETE_DOWNLOAD:
		unlink(d->st.dl_path);
		return 0;
	case BW_AB_ACT_BOOT_ARM:
		if (d->boot->arm(d, a->arg, &err) != 0)
			return fail("%s (the next start of bulwark-device tries "
				    "again)", err.msg);
		return 0;
	case BW_AB_ACT_BOOT_CONFIRM:
		rc = d->boot->confirm(d, a->arg, &err);
		break;
	case BW_AB_ACT_BOOT_SETTLE:
		rc = d->boot->settle(d, &err);
		break;
	case BW_AB_ACT_SEND_EVENTS:
		if (!x->printed)
			say(d, s, x);
		x->printed = 1;
		bw_dev_send_events(d); /* best effort: events stay queued */
		return 0;
	}
	return rc != 0 ? fail("%s", err.msg) : 0;
}

/* Feed input to the state machine and perform what it says, feeding back
 * the results of the checks (at most: install, download checked, slot
 * written and checked). */
static int drive(struct bw_dev *d, enum bw_ab_input input)
{
	struct bw_ab_facts f;
	struct bw_ab_step s;
	struct exec x;

	bw_dev_ab_facts(d, &f);
	memset(&x, 0, sizeof(x)); /* x.io outlives a round: the failed check */
	for (int round = 0; round < 4; round++) {
		x.next = -1;
		x.printed = 0;
		bw_ab_step(&d->st, input, &f, &s);
		if (s.events == BW_AB_EV_ROLLBACK)
			rollback_reason(d, &s, &x);
		for (size_t i = 0; i < s.nact && x.next < 0; i++) {
			int rc = perform(d, &s, &s.act[i], &x);

			if (rc != 0)
				return rc;
		}
		if (x.next >= 0 && s.exit == BW_AB_CONTINUE) {
			input = (enum bw_ab_input)x.next;
			continue;
		}
		d->st = *bw_ab_result(&s);
		if (!x.printed)
			say(d, &s, &x);
		return s.exit == BW_AB_CONTINUE ? BW_DEV_EXIT_FAIL : s.exit;
	}
	return fail("the A/B state machine did not settle");
}

int bw_dev_install(struct bw_dev *d)
{
	return drive(d, BW_AB_IN_INSTALL);
}

int bw_dev_boot(struct bw_dev *d)
{
	return drive(d, BW_AB_IN_BOOT);
}

int bw_dev_run(struct bw_dev *d)
{
	return drive(d, BW_AB_IN_RUN);
}

int bw_dev_rollback(struct bw_dev *d)
{
	return drive(d, BW_AB_IN_ROLLBACK);
}

int bw_dev_recover(struct bw_dev *d, struct bw_err *err)
{
	struct bw_ab_facts f;
	struct bw_ab_step s;

	bw_dev_ab_facts(d, &f);
	bw_ab_step(&d->st, BW_AB_IN_RECOVER, &f, &s);
	for (int i = 0; i < BW_DEV_SLOTS; i++)
		if (s.recovered[i])
			fprintf(stderr, "bulwark-device: slot %c was being "
					"written when the agent stopped: marked "
					"empty\n", 'A' + i);
	d->st = *bw_ab_result(&s);
	return s.nact > 0 ? bw_dev_save(d, NULL, 0, err) : 0;
}

/* ---- status ------------------------------------------------------------- */

static void print_slot(const struct bw_dev *d, int i)
{
	const struct bw_dev_target *t = &d->st.slot[i];

	printf("slot %c: %-8s %s%s%s %s\n", 'A' + i,
	       bw_dev_slot_state_name(d->st.slot_state[i]),
	       t->name[0] ? t->name : "-", t->version[0] ? " version " : "",
	       t->version, i == d->st.active ? "(active)" : "");
}

int bw_dev_status(struct bw_dev *d)
{
	char when[32] = "never";
	long queued = 0;

	if (d->st.last_checkin > 0)
		bw_tuf_time_format(d->st.last_checkin, when, sizeof(when));
	bw_dev_events_count(d->db, &queued, NULL);
	printf("device: %s hardware id %s%s%s\n",
	       d->cfg.uuid ? d->cfg.uuid : "(unregistered)", d->cfg.hardware_id,
	       d->cfg.tag ? " tag " : "", d->cfg.tag ? d->cfg.tag : "");
	printf("current: %s version %s\n", d->st.slot[d->st.active].name,
	       d->st.slot[d->st.active].version[0]
		       ? d->st.slot[d->st.active].version : "-");
	for (int i = 0; i < BW_DEV_SLOTS; i++)
		print_slot(d, i);
	if (d->st.pending >= 0)
		printf("pending: slot %c, %ld boot attempts left\n",
		       'A' + d->st.pending, d->st.attempts_left);
	else
		printf("pending: none\n");
	printf("booted: %s\n", d->st.booted < 0 ? "-"
			       : d->st.booted ? "slot B" : "slot A");
	printf("download: %s%s%s\n",
	       d->st.dl_state == BW_DEV_DL_NONE ? "none"
	       : d->st.dl_state == BW_DEV_DL_ACTIVE ? "partial " : "complete ",
	       d->st.dl_state ? d->st.dl.name : "",
	       "");
	printf("boot firmware: %lld\n", (long long)d->st.bootfw);
	printf("last check-in: %s\nevents queued: %ld\n", when, queued);
	if (bw_dev_rotate_in_progress(d))
		printf("certificate rotation: in progress (`bulwark-device "
		       "rotate-cert` or the daemon finishes it)\n");
	return BW_DEV_EXIT_OK;
}
