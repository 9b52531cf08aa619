/*
 * The A/B lifecycle: install into the inactive slot, boot (the
 * bootloader's part: boot counting and fallback), run (confirm or roll
 * back), operator rollback, status.
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

static int install_failed(struct bw_dev *d, int slot, int rc,
			  const struct bw_err *why)
{
	struct bw_dev_event ev = {"EcuInstallationCompleted", 0, why->msg,
				  &d->st.slot[slot]};
	struct bw_dev_target t = d->st.slot[slot];
	struct bw_err err = {0};

	ev.target = &t;
	d->st.slot_state[slot] = BW_DEV_SLOT_EMPTY;
	memset(&d->st.slot[slot], 0, sizeof(d->st.slot[slot]));
	d->st.slot[slot].bootfw = -1;
	if (bw_dev_save(d, &ev, 1, &err) != 0)
		fprintf(stderr, "bulwark-device: %s\n", err.msg);
	fprintf(stderr, "bulwark-device: installation failed: %s\n", why->msg);
	return rc == BW_EHASH ? BW_DEV_EXIT_VERIFY_FAILED : BW_DEV_EXIT_FAIL;
}

/* Checks before anything is written; an exit code, 0 to go on. */
static int install_precheck(struct bw_dev *d, int slot)
{
	if (d->st.pending >= 0) {
		fprintf(stderr, "bulwark-device: an installation is pending in "
				"slot %c: reboot and run `bulwark-device run`\n",
			'A' + d->st.pending);
		return BW_DEV_EXIT_PENDING;
	}
	if (d->st.booted == slot) {
		/* After an operator rollback the old slot is still running
		 * until the reboot: never write over the running system. */
		fprintf(stderr, "bulwark-device: slot %c is still running: "
				"reboot first\n", 'A' + slot);
		return BW_DEV_EXIT_NEEDS_REBOOT;
	}
	if (d->st.dl_state != BW_DEV_DL_DONE) {
		fprintf(stderr, "bulwark-device: nothing downloaded: run "
				"`bulwark-device pull` first\n");
		return BW_DEV_EXIT_TARGET_NOT_FOUND;
	}
	if (d->cfg.slot[slot] == NULL)
		return fail("[update] slot_%c is not set", slot ? 'b' : 'a');
	if (bw_dev_bootfw_refused(d, &d->st.dl)) {
		fprintf(stderr, "bulwark-device: boot firmware version %lld is "
				"below the installed %lld (anti-rollback)\n",
			(long long)d->st.dl.bootfw, (long long)d->st.bootfw);
		return BW_DEV_EXIT_REFUSED;
	}
	return 0;
}

int bw_dev_install(struct bw_dev *d)
{
	struct bw_dev_event ev = {"EcuInstallationStarted", -1, NULL, NULL};
	struct bw_err err = {0};
	int slot = 1 - d->st.active;
	int rc = install_precheck(d, slot);

	if (rc != 0)
		return rc;
	/* The download could have been changed since pull: check again. */
	rc = verify_bytes(d->st.dl_path, &d->st.dl, &err);
	if (rc != 0) {
		d->st.dl_state = BW_DEV_DL_NONE;
		unlink(d->st.dl_path);
		bw_dev_save(d, NULL, 0, NULL);
		fprintf(stderr, "bulwark-device: download no longer matches its "
				"signed hash, refused: %s\n", err.msg);
		return BW_DEV_EXIT_VERIFY_FAILED;
	}
	d->st.slot_state[slot] = BW_DEV_SLOT_WRITING;
	d->st.slot[slot] = d->st.dl;
	ev.target = &d->st.slot[slot];
	if ((rc = bw_dev_save(d, &ev, 1, &err)) != 0)
		return fail("%s", err.msg);
	rc = write_slot(d->st.dl_path, d->cfg.slot[slot], d->st.dl.length, &err);
	if (rc == 0)
		rc = verify_bytes(d->cfg.slot[slot], &d->st.slot[slot], &err);
	if (rc != 0)
		return install_failed(d, slot, rc, &err);
	d->st.slot_state[slot] = BW_DEV_SLOT_PENDING;
	d->st.pending = slot;
	d->st.attempts_left = d->cfg.boot_attempts;
	d->st.dl_state = BW_DEV_DL_NONE;
	ev.type = "EcuInstallationApplied";
	if ((rc = bw_dev_save(d, &ev, 1, &err)) != 0)
		return fail("%s", err.msg);
	unlink(d->st.dl_path);
	/* Verified and recorded: only now may the bootloader try it. */
	if (d->boot->arm(d, slot, &err) != 0)
		return fail("%s (the next start of bulwark-device tries again)",
			    err.msg);
	printf("installed %s (version %s) into slot %c, verified; reboot "
	       "needed\n", d->st.slot[slot].name, d->st.slot[slot].version,
	       'A' + slot);
	bw_dev_send_events(d);
	return BW_DEV_EXIT_NEEDS_REBOOT;
}

/* ---- boot (the bootloader's part) -------------------------------------- */

int bw_dev_boot(struct bw_dev *d)
{
	struct bw_err err = {0};
	int p = d->st.pending, a = d->st.active;

	if (d->boot->env != NULL)
		return fail("the bootloader (%s) boots this device: `boot` only "
			    "plays it with [boot] bootloader = simulated",
			    d->boot->name);
	if (p >= 0 && d->st.slot_state[p] == BW_DEV_SLOT_PENDING &&
	    d->st.attempts_left > 0) {
		d->st.attempts_left--;
		d->st.booted = p;
	} else {
		if (d->st.slot_state[a] != BW_DEV_SLOT_GOOD)
			return fail("no bootable slot (slot %s is %s)",
				    a ? "B" : "A",
				    bw_dev_slot_state_name(d->st.slot_state[a]));
		if (p >= 0)
			printf("boot attempts of slot %c exhausted: falling back "
			       "to slot %c\n", 'A' + p, 'A' + a);
		d->st.booted = a;
	}
	if (bw_dev_save(d, NULL, 0, &err) != 0)
		return fail("%s", err.msg);
	printf("booting slot %c: %s%s%s\n", 'A' + d->st.booted,
	       d->cfg.slot[d->st.booted] ? d->cfg.slot[d->st.booted] : "(unset)",
	       d->st.booted == p ? " (trial boot)" : "",
	       d->st.booted == p && d->st.attempts_left == 0 ? " (last attempt)"
							       : "");
	return BW_DEV_EXIT_OK;
}

/* ---- run, rollback ------------------------------------------------------ */

static int confirm(struct bw_dev *d, int p)
{
	struct bw_dev_event ev = {"EcuInstallationCompleted", 1, NULL,
				  &d->st.slot[p]};
	struct bw_err err = {0};

	/* The bootloader first: a cut after it boots p again, and the next
	 * run confirms it in the database. */
	if (d->boot->confirm(d, p, &err) != 0)
		return fail("%s", err.msg);
	d->st.slot_state[p] = BW_DEV_SLOT_GOOD;
	d->st.active = p;
	d->st.pending = -1;
	d->st.attempts_left = 0;
	if (d->st.slot[p].bootfw > d->st.bootfw)
		d->st.bootfw = d->st.slot[p].bootfw;
	if (bw_dev_save(d, &ev, 1, &err) != 0)
		return fail("%s", err.msg);
	printf("installation of %s (version %s) confirmed in slot %c\n",
	       d->st.slot[p].name, d->st.slot[p].version, 'A' + p);
	bw_dev_send_events(d);
	return BW_DEV_EXIT_OK;
}

/* Give up on slot p: bad, its target never picked again automatically. */
static int abandon(struct bw_dev *d, int p, const char *why)
{
	struct bw_dev_target t = d->st.slot[p];
	struct bw_dev_event evs[2] = {
		{"EcuInstallationCompleted", 0, why, &t},
		{"EcuRollback", 1, why, &t},
	};
	struct bw_err err = {0};

	if (bw_dev_state_mark_failed(d->db, &t, &err) != 0)
		return fail("%s", err.msg);
	d->st.slot_state[p] = BW_DEV_SLOT_BAD;
	if (d->st.pending == p) {
		d->st.pending = -1;
		d->st.attempts_left = 0;
	}
	if (bw_dev_save(d, evs, 2, &err) != 0)
		return fail("%s", err.msg);
	/* A cut before this is repaired at the next start (sync). */
	if (d->boot->settle(d, &err) != 0)
		return fail("%s", err.msg);
	printf("rolled back from %s (version %s): %s\n", t.name, t.version, why);
	bw_dev_send_events(d);
	return 0;
}

int bw_dev_run(struct bw_dev *d)
{
	char why[160];
	int p = d->st.pending, rc;

	if (p < 0) {
		printf("no pending installation; running slot %c\n",
		       'A' + d->st.active);
		bw_dev_send_events(d);
		return BW_DEV_EXIT_NO_PENDING;
	}
	if (d->st.booted == p)
		return confirm(d, p);
	if (d->st.attempts_left > 0) {
		printf("installation pending in slot %c: reboot needed\n", 'A' + p);
		return BW_DEV_EXIT_NEEDS_REBOOT;
	}
	snprintf(why, sizeof(why), "slot %c did not boot after %ld attempts; "
		 "running slot %c", 'A' + p, d->cfg.boot_attempts,
		 'A' + d->st.active);
	rc = abandon(d, p, why);
	return rc ? rc : BW_DEV_EXIT_ROLLED_BACK;
}

int bw_dev_rollback(struct bw_dev *d)
{
	int p = d->st.pending, a = d->st.active, rc;
	struct bw_err err = {0};

	if (p >= 0) {
		rc = abandon(d, p, "installation cancelled by the operator");
		if (rc != 0)
			return rc;
		return d->st.booted == p ? BW_DEV_EXIT_ROLLBACK_NEEDS_REBOOT
					 : BW_DEV_EXIT_ROLLED_BACK;
	}
	if (d->st.slot_state[1 - a] != BW_DEV_SLOT_GOOD) {
		fprintf(stderr, "bulwark-device: no previous good slot to roll "
				"back to (slot %c is %s)\n", 'A' + (1 - a),
			bw_dev_slot_state_name(d->st.slot_state[1 - a]));
		return BW_DEV_EXIT_NO_ROLLBACK_TARGET;
	}
	/* Switch first (one transaction), then record why. */
	d->st.active = 1 - a;
	if (bw_dev_save(d, NULL, 0, &err) != 0)
		return fail("%s", err.msg);
	rc = abandon(d, a, "rolled back by the operator");
	return rc ? rc : BW_DEV_EXIT_ROLLBACK_NEEDS_REBOOT;
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
