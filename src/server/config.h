/*
 * bulwarkd configuration: an INI file (libinih) plus command-line
 * overrides of the form section.key=value. Every key is documented in
 * docs/server.md; the table in config.c is the single source of names,
 * types, ranges and defaults.
 */
#ifndef BW_SRV_CONFIG_H
#define BW_SRV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/error.h"
#include "storage.h" /* BW_STORE_TAG_MAX */

#define BW_SRV_PATH_MAX 4096
#define BW_SRV_STR_MAX 256

/* Which listeners a process runs (--role / server.role). */
enum {
	BW_SRV_ROLE_GATEWAY = 1,
	BW_SRV_ROLE_ADMIN = 2,
	BW_SRV_ROLE_REGISTRATION = 4,
};

struct bw_srv_config {
	/* [server] */
	char database[BW_SRV_PATH_MAX];
	char pki_dir[BW_SRV_PATH_MAX];
	char factory[BW_SRV_STR_MAX];	/* "" = OU of the factory CA */
	int roles;			/* BW_SRV_ROLE_* bits */
	char tls_cert[BW_SRV_PATH_MAX]; /* "" = <pki_dir>/tls.pem */
	char tls_key[BW_SRV_PATH_MAX];	/* "" = <pki_dir>/tls.key */
	int64_t max_connections;
	int64_t handshake_timeout;
	int64_t request_timeout;
	int64_t max_unauth_connections;
	int64_t max_connections_per_address;
	int64_t idle_timeout;
	int64_t max_header_bytes;
	int64_t shutdown_grace;
	int64_t workers; /* worker processes; 0 = one per online CPU */
	int log_level; /* syslog priority: 3 err .. 7 debug */
	/* [storage] */
	char storage_url[BW_SRV_PATH_MAX]; /* "" = SQLite at database */
	/* [gateway] */
	char gw_listen[BW_SRV_STR_MAX];
	char targets_dir[BW_SRV_PATH_MAX];
	int64_t max_events_body;
	int64_t max_events;
	int64_t events_per_device;
	int64_t last_seen_interval;
	int64_t last_seen_flush_interval;
	int64_t device_cache;
	int64_t tls_session_cache; /* sessions kept by a one-process server */
	int64_t policy_reload_interval;
	int64_t identity_poll_interval;
	/* tag of a production device that names none and has none on
	 * record ("" = none: such a device gets 404 with a reason) */
	char default_tag[BW_STORE_TAG_MAX + 1];
	/* [admin] */
	char admin_listen[BW_SRV_STR_MAX];
	char admin_token_file[BW_SRV_PATH_MAX];
	int64_t max_upload_bytes;
	int64_t silent_after;	  /* a device not seen for this long is silent */
	int64_t session_lifetime; /* fleet page sign-in */
	/* [registration] */
	char reg_listen[BW_SRV_STR_MAX];
	char reg_ca_cert[BW_SRV_PATH_MAX]; /* "" = <pki_dir>/online-ca.pem */
	char reg_ca_key[BW_SRV_PATH_MAX];  /* "" = <pki_dir>/online-ca.key */
	char reg_ca_pkcs11_uri[BW_SRV_PATH_MAX];
	char reg_ca_pkcs11_module[BW_SRV_PATH_MAX];
	char reg_ca_pin_file[BW_SRV_PATH_MAX];
	char reg_gateway_url[BW_SRV_STR_MAX];
	int64_t reg_max_body;
	int64_t reg_rate_per_minute;
	int64_t reg_cert_days;
	/* [est] */
	char est_listen[BW_SRV_STR_MAX];     /* "" = no EST listener */
	char est_tls_cert[BW_SRV_PATH_MAX]; /* "" = <pki_dir>/est-tls.pem */
	char est_tls_key[BW_SRV_PATH_MAX];  /* "" = <pki_dir>/est-tls.key */
	char est_url[BW_SRV_STR_MAX];	     /* announced to devices */
	int64_t est_renew_before_days;
	int64_t est_rate_per_minute;
	int64_t est_pending_expiry;
	/* [signing] */
	char timestamp_key[BW_SRV_PATH_MAX];
	char snapshot_key[BW_SRV_PATH_MAX];
	char ci_targets_key[BW_SRV_PATH_MAX];
	int64_t timestamp_expiry;
	int64_t timestamp_resign_before;
	int64_t snapshot_expiry;
	int64_t ci_targets_expiry;
	int64_t expiry_warn;
	int64_t resign_interval;
	/* [waves] (waves.c): admission throttle, silence limit (poll
	 * interval x silence_polls), how often waves are evaluated, and the
	 * health rule's tunables in parts per million. */
	int64_t wave_admit_per_minute;
	int64_t wave_poll_interval;
	int64_t wave_silence_polls;
	int64_t wave_evaluate_interval;
	int64_t wave_max_failure_ppm;
	int64_t wave_halt_confidence_ppm;
	int64_t wave_advance_confidence_ppm;
	int64_t wave_min_sample;
	/* [log] the transparency log's checkpoint key (Ed25519 PEM file,
	 * 0600) and its name; "" origin = "bulwark/<factory>" */
	char log_key[BW_SRV_PATH_MAX];
	char log_pin_file[BW_SRV_PATH_MAX];      /* for a pkcs11: log_key */
	char log_pkcs11_module[BW_SRV_PATH_MAX]; /* for a pkcs11: log_key */
	char log_origin[BW_SRV_STR_MAX];
};

/* Fill cfg with the defaults. */
void bw_srv_config_init(struct bw_srv_config *cfg);

/*
 * Read an INI file into cfg (keys not in the file keep their value).
 * Unknown sections or keys, bad values and out-of-range numbers are
 * errors (BW_EFORMAT with file:line in err); BW_ENOTFOUND / BW_EIO if the
 * file can not be read.
 */
int bw_srv_config_load(struct bw_srv_config *cfg, const char *path,
		       struct bw_err *err);

/* Apply one "section.key=value" override (command line). */
int bw_srv_config_set(struct bw_srv_config *cfg, const char *assignment,
		      struct bw_err *err);

/*
 * Parse a role list ("gateway,admin", "all", "registration") into
 * BW_SRV_ROLE_* bits.
 */
int bw_srv_config_roles_parse(const char *s, int *out);

/*
 * Cross-field checks after loading and overrides: required paths are set
 * for the enabled roles, listen addresses parse. Fills derived defaults
 * (tls cert/key and registration CA under pki_dir).
 */
int bw_srv_config_finish(struct bw_srv_config *cfg, struct bw_err *err);

/* Parse "a.b.c.d:port" or "[IPv6]:port" into host (the literal without
 * brackets, hostlen bytes) and port. */
int bw_srv_listen_parse(const char *s, char *host, size_t hostlen,
			uint16_t *port);

#endif
