/*
 * bulwarkd configuration (config.h). One table lists every key with its
 * type, range and default, so load, override and --check-config agree.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <ini.h>

#include "bulwark/buf.h"
#include "config.h"
#include "http.h"

enum kind { K_STR, K_INT, K_DUR, K_ROLES, K_LEVEL };

struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t off;
	size_t size; /* K_STR: buffer size */
	int64_t min; /* K_INT / K_DUR */
	int64_t max;
	const char *def;
};

#define OFF(f) offsetof(struct bw_srv_config, f)
#define STR(s, n, f, d)                                                        \
	{                                                                      \
		s, n, K_STR, OFF(f), sizeof(((struct bw_srv_config *)0)->f),   \
		    0, 0, d                                                    \
	}
#define INT(s, n, f, lo, hi, d)                                                \
	{                                                                      \
		s, n, K_INT, OFF(f), 0, lo, hi, d                              \
	}
#define DUR(s, n, f, lo, hi, d)                                                \
	{                                                                      \
		s, n, K_DUR, OFF(f), 0, lo, hi, d                              \
	}
#define DAY 86400LL

static const struct key keys[] = {
    STR("server", "database", database, "/var/lib/bulwark/bulwarkd.db"),
    STR("server", "pki_dir", pki_dir, "/etc/bulwark/pki"),
    STR("server", "factory", factory, ""),
    {"server", "role", K_ROLES, OFF(roles), 0, 0, 0, "all"},
    STR("server", "tls_cert", tls_cert, ""),
    STR("server", "tls_key", tls_key, ""),
    INT("server", "max_connections", max_connections, 1, 1000000, "4096"),
    DUR("server", "handshake_timeout", handshake_timeout, 1, 3600, "10"),
    DUR("server", "request_timeout", request_timeout, 1, 3600, "30"),
    INT("server", "max_unauthenticated_connections", max_unauth_connections,
	1, 1000000, "256"),
    INT("server", "max_connections_per_address",
	max_connections_per_address, 1, 1000000, "16"),
    DUR("server", "idle_timeout", idle_timeout, 1, 86400, "60"),
    DUR("server", "shutdown_grace", shutdown_grace, 0, 3600, "8"),
    INT("server", "workers", workers, 0, 256, "1"),
    INT("server", "tls_session_cache", tls_session_cache, 0, 10000000,
	"32768"),
    INT("server", "max_header_bytes", max_header_bytes, 1024, 1048576, "8192"),
    {"server", "log_level", K_LEVEL, OFF(log_level), 0, 0, 0, "info"},
    STR("storage", "url", storage_url, ""),
    STR("gateway", "listen", gw_listen, "0.0.0.0:8443"),
    STR("gateway", "targets_dir", targets_dir, "/var/lib/bulwark/targets"),
    INT("gateway", "max_events_body", max_events_body, 1024, 16777216, "65536"),
    INT("gateway", "max_events", max_events, 1, 10000, "100"),
    INT("gateway", "events_per_device", events_per_device, 1, 10000000, "1000"),
    DUR("gateway", "last_seen_interval", last_seen_interval, 0, 30 * DAY,
	"300"),
    DUR("gateway", "last_seen_flush_interval", last_seen_flush_interval, 1,
	3600, "1"),
    INT("gateway", "device_cache", device_cache, 0, 10000000, "65536"),
    DUR("gateway", "policy_reload_interval", policy_reload_interval, 1, DAY,
	"30"),
    DUR("gateway", "identity_poll_interval", identity_poll_interval, 1, 3600,
	"1"),
    STR("gateway", "default_tag", default_tag, ""),
    STR("admin", "listen", admin_listen, "127.0.0.1:8444"),
    STR("admin", "token_file", admin_token_file, "/etc/bulwark/admin.token"),
    INT("admin", "max_upload_bytes", max_upload_bytes, 4096, 268435456,
	"8388608"),
    DUR("admin", "silent_after", silent_after, 60, 365 * DAY, "1d"),
    DUR("admin", "session_lifetime", session_lifetime, 60, 7 * DAY, "8h"),
    STR("registration", "listen", reg_listen, ""),
    STR("registration", "ca_cert", reg_ca_cert, ""),
    STR("registration", "ca_key", reg_ca_key, ""),
    STR("registration", "ca_pkcs11_uri", reg_ca_pkcs11_uri, ""),
    STR("registration", "ca_pkcs11_module", reg_ca_pkcs11_module, ""),
    STR("registration", "ca_pin_file", reg_ca_pin_file, ""),
    STR("registration", "gateway_url", reg_gateway_url,
	"https://127.0.0.1:8443"),
    INT("registration", "max_body", reg_max_body, 1024, 1048576, "32768"),
    INT("registration", "rate_per_minute", reg_rate_per_minute, 1, 1000000,
	"60"),
    INT("registration", "cert_days", reg_cert_days, 1, 3652, "3652"),
    STR("est", "listen", est_listen, ""),
    STR("est", "tls_cert", est_tls_cert, ""),
    STR("est", "tls_key", est_tls_key, ""),
    STR("est", "url", est_url, ""),
    INT("est", "renew_before_days", est_renew_before_days, 1, 3650, "30"),
    INT("est", "rate_per_minute", est_rate_per_minute, 1, 1000000, "60"),
    DUR("est", "pending_expiry", est_pending_expiry, 60, 365 * DAY, "7d"),
    STR("signing", "timestamp_key", timestamp_key, ""),
    STR("signing", "snapshot_key", snapshot_key, ""),
    STR("signing", "ci_targets_key", ci_targets_key, ""),
    DUR("signing", "timestamp_expiry", timestamp_expiry, 60, 365 * DAY, "1d"),
    DUR("signing", "timestamp_resign_before", timestamp_resign_before, 30,
	365 * DAY, "12h"),
    DUR("signing", "snapshot_expiry", snapshot_expiry, 60, 3650 * DAY, "30d"),
    DUR("signing", "ci_targets_expiry", ci_targets_expiry, 60, 3650 * DAY,
	"365d"),
    DUR("signing", "expiry_warn", expiry_warn, 0, 3650 * DAY, "30d"),
    DUR("signing", "resign_interval", resign_interval, 1, DAY, "60"),
    INT("waves", "admit_per_minute", wave_admit_per_minute, 1, 1000000, "10"),
    DUR("waves", "poll_interval", wave_poll_interval, 1, DAY, "300"),
    INT("waves", "silence_polls", wave_silence_polls, 1, 1000, "4"),
    DUR("waves", "evaluate_interval", wave_evaluate_interval, 1, 3600, "10"),
    INT("waves", "max_failure_ppm", wave_max_failure_ppm, 1, 999999, "30000"),
    INT("waves", "halt_confidence_ppm", wave_halt_confidence_ppm, 500001,
	999999, "999900"),
    INT("waves", "advance_confidence_ppm", wave_advance_confidence_ppm,
	500001, 999999, "900000"),
    INT("waves", "min_sample", wave_min_sample, 1, 1000000, "5"),
    STR("log", "key", log_key, ""),
    STR("log", "pin_file", log_pin_file, ""),
    STR("log", "pkcs11_module", log_pkcs11_module, ""),
    STR("log", "origin", log_origin, ""),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int parse_i64(const char *v, int64_t min, int64_t max, int64_t mult,
		     int64_t *out)
{
	const char *p = v;
	uint64_t n = 0;

	if (mult < 1)
		mult = 1;
	if (bw_num_read(&p, (uint64_t)(INT64_MAX / mult), &n) != 0)
		return BW_EFORMAT;
	if (*p == 's') /* seconds may say so */
		p++;
	if (*p != '\0')
		return BW_EFORMAT;
	n *= (uint64_t)mult;
	if ((int64_t)n < min || (int64_t)n > max)
		return BW_EFORMAT;
	*out = (int64_t)n;
	return 0;
}

/* "90", "90s", "15m", "12h", "7d". */
static int parse_duration(const char *v, int64_t min, int64_t max, int64_t *out)
{
	char buf[32];
	size_t n = strlen(v);
	int64_t mult = 1;

	if (n == 0 || n >= sizeof(buf))
		return BW_EFORMAT;
	memcpy(buf, v, n + 1);
	switch (buf[n - 1]) {
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = DAY;
		break;
	default:
		break;
	}
	if (mult > 1)
		buf[n - 1] = '\0';
	return parse_i64(buf, min, max, mult, out);
}

int bw_srv_config_roles_parse(const char *s, int *out)
{
	char buf[128];
	char *p = buf, *comma = NULL;
	int roles = 0;
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return BW_EFORMAT;
	memcpy(buf, s, n + 1);
	for (; p; p = comma ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!strcmp(p, "all"))
			roles |= BW_SRV_ROLE_GATEWAY | BW_SRV_ROLE_ADMIN |
				 BW_SRV_ROLE_REGISTRATION;
		else if (!strcmp(p, "gateway"))
			roles |= BW_SRV_ROLE_GATEWAY;
		else if (!strcmp(p, "admin"))
			roles |= BW_SRV_ROLE_ADMIN;
		else if (!strcmp(p, "registration"))
			roles |= BW_SRV_ROLE_REGISTRATION;
		else
			return BW_EFORMAT;
	}
	*out = roles;
	return 0;
}

static int parse_level(const char *v, int *out)
{
	static const char *const names[] = {"error", "warning", "notice",
					    "info", "debug"};
	for (int i = 0; i < 5; i++) {
		if (!strcmp(v, names[i])) {
			*out = 3 + i;
			return 0;
		}
	}
	return BW_EFORMAT;
}

static int key_apply(struct bw_srv_config *cfg, const struct key *k,
		     const char *v)
{
	char *base = (char *)cfg + k->off;
	size_t n = 0;

	switch (k->kind) {
	case K_STR:
		n = strlen(v);
		if (n >= k->size)
			return BW_ETOOBIG;
		memcpy(base, v, n + 1);
		return 0;
	case K_INT:
		return parse_i64(v, k->min, k->max, 1, (int64_t *)(void *)base);
	case K_DUR:
		return parse_duration(v, k->min, k->max,
				      (int64_t *)(void *)base);
	case K_ROLES:
		return bw_srv_config_roles_parse(v, (int *)(void *)base);
	case K_LEVEL:
		return parse_level(v, (int *)(void *)base);
	}
	return BW_EINVAL;
}

static const struct key *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section) &&
		    !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

void bw_srv_config_init(struct bw_srv_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		int rc = key_apply(cfg, &keys[i], keys[i].def);
		(void)rc; /* defaults are valid by construction (unit test) */
	}
}

struct load_ctx {
	struct bw_srv_config *cfg;
	struct bw_err *err;
	int rc;
};

static int ini_cb(void *user, const char *section, const char *name,
		  const char *value)
{
	struct load_ctx *ctx = user;
	const struct key *k = key_find(section, name);
	int rc = 0;

	if (!k) {
		ctx->rc =
		    bw_err_set(ctx->err, BW_EFORMAT,
			       "unknown key [%.64s] %.64s", section, name);
		return 0;
	}
	rc = key_apply(ctx->cfg, k, value);
	if (rc) {
		ctx->rc = bw_err_set(ctx->err, BW_EFORMAT,
				     "bad value for [%s] %s", section, name);
		return 0;
	}
	return 1;
}

int bw_srv_config_load(struct bw_srv_config *cfg, const char *path,
		       struct bw_err *err)
{
	struct load_ctx ctx = {cfg, err, 0};
	FILE *f = fopen(path, "r");
	int line = 0;

	if (!f)
		return bw_err_set(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				  "%s: %s", path, strerror(errno));
	line = ini_parse_file(f, ini_cb, &ctx);
	fclose(f);
	if (line == 0)
		return 0;
	if (ctx.rc) {
		char msg[BW_ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
		return bw_err_set(err, ctx.rc, "%s:%d: %s", path, line, msg);
	}
	return bw_err_set(err, BW_EFORMAT, "%s:%d: syntax error", path, line);
}

int bw_srv_config_set(struct bw_srv_config *cfg, const char *assignment,
		      struct bw_err *err)
{
	char section[32], name[64];
	const char *dot = strchr(assignment, '.');
	const char *eq = strchr(assignment, '=');
	const struct key *k = NULL;

	if (!dot || !eq || dot > eq ||
	    (size_t)(dot - assignment) >= sizeof(section) ||
	    (size_t)(eq - dot - 1) >= sizeof(name))
		return bw_err_set(err, BW_EFORMAT,
				  "override must be section.key=value");
	memcpy(section, assignment, (size_t)(dot - assignment));
	section[dot - assignment] = '\0';
	memcpy(name, dot + 1, (size_t)(eq - dot - 1));
	name[eq - dot - 1] = '\0';
	k = key_find(section, name);
	if (!k)
		return bw_err_set(err, BW_EFORMAT, "unknown key %s.%s", section,
				  name);
	if (key_apply(cfg, k, eq + 1))
		return bw_err_set(err, BW_EFORMAT, "bad value for %s.%s",
				  section, name);
	return 0;
}

int bw_srv_listen_parse(const char *s, char *host, size_t hostlen,
			uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	const char *start = s;
	struct in6_addr a;
	int64_t p = 0;
	size_t n = 0;
	int v6 = s[0] == '[';

	if (!colon)
		return BW_EFORMAT;
	if (v6) { /* "[addr]:port" */
		start = s + 1;
		if (colon == s || colon[-1] != ']')
			return BW_EFORMAT;
		n = (size_t)(colon - 1 - start);
	} else {
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hostlen)
		return BW_EFORMAT;
	memcpy(host, start, n);
	host[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, &a) != 1)
		return BW_EFORMAT;
	if (parse_i64(colon + 1, 1, 65535, 1, &p))
		return BW_EFORMAT;
	*port = (uint16_t)p;
	return 0;
}

static int default_path(char *dst, size_t size, const char *dir,
			const char *name)
{
	int n = 0;

	if (dst[0])
		return 0;
	n = snprintf(dst, size, "%s/%s", dir, name);
	return (n < 0 || (size_t)n >= size) ? BW_ETOOBIG : 0;
}

static int check_listen(const char *what, const char *v, struct bw_err *err)
{
	char host[64];
	uint16_t port = 0;

	if (bw_srv_listen_parse(v, host, sizeof(host), &port))
		return bw_err_set(err, BW_EFORMAT,
				  "%s: listen must be IPv4:port or "
				  "[IPv6]:port, not \"%.64s\"",
				  what, v);
	return 0;
}

int bw_srv_config_finish(struct bw_srv_config *cfg, struct bw_err *err)
{
	char tag[BW_STORE_TAG_MAX + 1];
	int rc = 0;

	if (!cfg->database[0] || !cfg->pki_dir[0])
		return bw_err_set(
		    err, BW_EFORMAT,
		    "server.database and server.pki_dir are required");
	if (cfg->storage_url[0] &&
	    strncmp(cfg->storage_url, "postgresql://", 13) != 0 &&
	    strncmp(cfg->storage_url, "postgres://", 11) != 0)
		return bw_err_set(err, BW_EFORMAT,
				  "storage.url must be a postgresql:// URL "
				  "(or empty for SQLite at server.database)");
	if (default_path(cfg->tls_cert, sizeof(cfg->tls_cert), cfg->pki_dir,
			 "tls.pem") ||
	    default_path(cfg->tls_key, sizeof(cfg->tls_key), cfg->pki_dir,
			 "tls.key") ||
	    default_path(cfg->reg_ca_cert, sizeof(cfg->reg_ca_cert),
			 cfg->pki_dir, "online-ca.pem") ||
	    default_path(cfg->est_tls_cert, sizeof(cfg->est_tls_cert),
			 cfg->pki_dir, "est-tls.pem") ||
	    default_path(cfg->est_tls_key, sizeof(cfg->est_tls_key),
			 cfg->pki_dir, "est-tls.key"))
		return bw_err_set(err, BW_ETOOBIG, "path too long");
	if (!cfg->reg_ca_pkcs11_uri[0] &&
	    default_path(cfg->reg_ca_key, sizeof(cfg->reg_ca_key), cfg->pki_dir,
			 "online-ca.key"))
		return bw_err_set(err, BW_ETOOBIG, "path too long");
	if ((cfg->roles & BW_SRV_ROLE_GATEWAY) &&
	    (rc = check_listen("gateway", cfg->gw_listen, err)))
		return rc;
	if ((cfg->roles & BW_SRV_ROLE_ADMIN) &&
	    (rc = check_listen("admin", cfg->admin_listen, err)))
		return rc;
	if ((cfg->roles & BW_SRV_ROLE_REGISTRATION) && cfg->reg_listen[0] &&
	    (rc = check_listen("registration", cfg->reg_listen, err)))
		return rc;
	if ((cfg->roles & BW_SRV_ROLE_REGISTRATION) && cfg->est_listen[0] &&
	    (rc = check_listen("est", cfg->est_listen, err)))
		return rc;
	if (cfg->default_tag[0] &&
	    (bw_srv_tag_parse(cfg->default_tag, tag, sizeof(tag)) ||
	     strcmp(tag, cfg->default_tag)))
		return bw_err_set(err, BW_EFORMAT,
				  "gateway.default_tag must be one tag "
				  "([A-Za-z0-9._-], at most 128)");
	if (cfg->timestamp_resign_before >= cfg->timestamp_expiry)
		return bw_err_set(err, BW_EFORMAT,
				  "signing.timestamp_resign_before must be "
				  "shorter than signing.timestamp_expiry");
	return 0;
}
