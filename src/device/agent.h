/*
 * The device agent (agent.c): the opened configuration, database and
 * state of one run, and the target rules every operation shares.
 */
#ifndef BW_DEV_AGENT_H
#define BW_DEV_AGENT_H

#include <stdint.h>

#include <sqlite3.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/fetch.h"
#include "config.h"
#include "exit.h"
#include "state.h"

struct bw_dev_boot_ops;
struct bw_wave_charter;

struct bw_dev {
	struct bw_dev_config cfg;
	char *config_path;     /* as opened (certificate rotation reloads) */
	const struct bw_dev_boot_ops *boot; /* [boot] bootloader (bootenv.h) */
	sqlite3 *db;
	struct bw_dev_state st;
	char *mdir, *ddir;     /* state_dir/metadata, state_dir/downloads */
	struct bw_fetcher *fetcher; /* lazily made; one per run (TLS reuse) */
	struct bw_signer *signer;   /* PKCS#11 key for mTLS, lazily opened */
	int lock_fd;           /* state_dir/agent.lock, -1 if not held */
	struct bw_wave_charter *wave; /* the wave this run accepted (wave.c) */
	int progress;          /* draw a progress bar on stdout */
	int verbose;
};

/*
 * Load config and open the database. BW_DEV_OPEN_EXCLUSIVE takes the
 * state directory's lock (BW_ESTATE if another agent, e.g. the daemon,
 * holds it) and recovers from an interrupted install; BW_DEV_OPEN_READONLY
 * (status, list) takes no lock and changes nothing.
 */
enum { BW_DEV_OPEN_EXCLUSIVE = 0, BW_DEV_OPEN_READONLY = 1 };
int bw_dev_open(const char *config_path, int flags, struct bw_dev **out,
		struct bw_err *err);
void bw_dev_free(struct bw_dev *d);
/* The fetcher for this run (x-ats-tags, CA, client cert, token key). */
int bw_dev_fetcher(struct bw_dev *d, struct bw_fetcher **out,
		   struct bw_err *err);
/* Save d->st with events (max_events from the config). */
int bw_dev_save(struct bw_dev *d, const struct bw_dev_event *evs, size_t n,
		struct bw_err *err);

/* Version order ("1.10" > "1.9"; numbers compare as numbers). */
int bw_dev_version_cmp(const char *a, const char *b);
/* Does custom (a TUF target's custom object) name this hardware id and
 * tag? Fills t's version and bootfw from it. 1 yes, 0 no. */
int bw_dev_target_matches(const struct bw_dev_config *c, const char *name,
			  uint64_t length, const void *custom_json,
			  struct bw_dev_target *t);

/* With rollback protection on: is t's boot firmware below the installed? */
int bw_dev_bootfw_refused(const struct bw_dev *d, const struct bw_dev_target *t);

#endif
