/*
 * The device configuration (config.c): an INI file (libinih) and the
 * identity.ini that `register` writes.
 */
#ifndef BW_DEV_CONFIG_H
#define BW_DEV_CONFIG_H

#include "bulwark/error.h"

#define BW_DEV_SLOTS 2

struct bw_dev_config {
	char *server_url;     /* [server] url */
	char *metadata_url;   /* default <url>/repo/ */
	char *targets_url;    /* default <url>/targets/ (bulwarkd gateway) */
	char *events_url;     /* default <url>/events */
	char *wave_url;       /* default <url>/wave ("" switches waves off) */
	char *est_url;        /* [server] est_url; default: GET /device */
	char *ca_file, *cert_file, *key_file;
	char *pkcs11_module, *token_label, *key_label, *pin_file;
	char *uuid, *name, *hardware_id, *tag;
	char *state_dir;      /* sota.db, metadata/, downloads/ */
	char *slot[BW_DEV_SLOTS];
	long boot_attempts;   /* default 3 */
	long interval_s;      /* default 300 */
	long jitter_s;        /* default 30 */
	long max_backoff_s;   /* default 3600 */
	long max_events;      /* queue bound, default 1000 */
	long event_batch;     /* default 50 */
	long low_speed_time_s; /* default 30 */
	int rollback_protection; /* default 1 */
	char *bootloader;     /* [boot] bootloader: simulated, uboot, grub */
	char *fw_env_config;  /* [boot] fw_env_config (uboot) */
	char *grubenv;        /* [boot] grubenv (grub) */
	char *cmdline;        /* [boot] cmdline, default /proc/cmdline */
	/* [transparency] binary transparency, on when log_key is set: a
	 * release is installed only when the server proves its targets
	 * metadata is in the log under a checkpoint signed by log_key and
	 * by `witnesses` (default 1 with witness_key, else 0) witnesses. */
	char *tlog_key;       /* verifier key line NAME+HASH+KEY */
	char *tlog_witness_key;
	long tlog_witnesses;
	char *uefi_db;        /* [boot] uefi_db: PEM db certificates */
	char *fit_key;        /* [boot] fit_key: PEM FIT public key */
	int require_signed_boot; /* [boot] require_signed, default off */
};

void bw_dev_config_init(struct bw_dev_config *c);
/* Parse INI text into c. Keys already set are kept when keep_set is 1 (a
 * second file only fills gaps). Unknown sections/keys and bad numbers are
 * errors (BW_EFORMAT, message names the line). */
int bw_dev_config_parse(struct bw_dev_config *c, const char *text,
			int keep_set, struct bw_err *err);
/* Read path (at most 64 KiB), then state_dir/identity.ini if present
 * (written by `register`), then fill defaults and check required keys. */
int bw_dev_config_load(struct bw_dev_config *c, const char *path,
		       struct bw_err *err);
void bw_dev_config_dispose(struct bw_dev_config *c);

#endif
