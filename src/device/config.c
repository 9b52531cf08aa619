/*
 * The agent's configuration: an INI file (libinih), documented key by key
 * in docs/device.md. Config is untrusted text: every key is known, every
 * number has a range, strings are bounded.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "bulwark/buf.h"
#include "config.h"
#include "bootenv.h"

#define CONFIG_MAX (64u * 1024u)
#define VALUE_MAX 4096

enum kind { STR, NUM, BOOL };

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off;
	long min, max;
};

#define S(sec, k, f) {sec, k, STR, offsetof(struct bw_dev_config, f), 0, 0}
#define N(sec, k, f, lo, hi) \
	{sec, k, NUM, offsetof(struct bw_dev_config, f), lo, hi}

static const struct key keys[] = {
	S("server", "url", server_url),
	S("server", "metadata_url", metadata_url),
	S("server", "targets_url", targets_url),
	S("server", "events_url", events_url),
	S("server", "wave_url", wave_url),
	S("server", "est_url", est_url),
	S("tls", "ca_file", ca_file),
	S("tls", "cert_file", cert_file),
	S("tls", "key_file", key_file),
	S("pkcs11", "module", pkcs11_module),
	S("pkcs11", "token_label", token_label),
	S("pkcs11", "key_label", key_label),
	S("pkcs11", "pin_file", pin_file),
	S("device", "uuid", uuid),
	S("device", "name", name),
	S("device", "hardware_id", hardware_id),
	S("device", "tag", tag),
	S("device", "state_dir", state_dir),
	S("update", "slot_a", slot[0]),
	S("update", "slot_b", slot[1]),
	N("update", "boot_attempts", boot_attempts, 1, 100),
	N("update", "interval", interval_s, 1, 7 * 86400),
	N("update", "jitter", jitter_s, 0, 86400),
	N("update", "max_backoff", max_backoff_s, 1, 7 * 86400),
	N("update", "max_events", max_events, 1, 1000000),
	N("update", "event_batch", event_batch, 1, 10000),
	N("update", "low_speed_time", low_speed_time_s, 1, 3600),
	{"update", "rollback_protection", BOOL,
	 offsetof(struct bw_dev_config, rollback_protection), 0, 1},
	S("boot", "bootloader", bootloader),
	S("boot", "fw_env_config", fw_env_config),
	S("boot", "grubenv", grubenv),
	S("boot", "cmdline", cmdline),
	S("transparency", "log_key", tlog_key),
	S("transparency", "witness_key", tlog_witness_key),
	N("transparency", "witnesses", tlog_witnesses, 0, 1),
	S("boot", "uefi_db", uefi_db),
	S("boot", "fit_key", fit_key),
	{"boot", "require_signed", BOOL,
	 offsetof(struct bw_dev_config, require_signed_boot), 0, 1},
};

struct parse_ctx {
	struct bw_dev_config *c;
	int keep_set;
	int rc;
	char msg[200];
};

static int parse_long(const char *v, long lo, long hi, long *out)
{
	uint64_t n = 0;

	if (lo < 0 || bw_num_parse(v, (uint64_t)hi, &n) != 0 ||
	    n < (uint64_t)lo)
		return BW_EFORMAT;
	*out = (long)n;
	return 0;
}

static int set_key(struct parse_ctx *p, const struct key *k, const char *v)
{
	char *base = (char *)p->c;
	long n = 0;

	if (k->kind == STR) {
		char **dst = (char **)(base + k->off);

		if (*dst != NULL && p->keep_set)
			return 0;
		if (strlen(v) > VALUE_MAX)
			return BW_ETOOBIG;
		free(*dst);
		*dst = strdup(v);
		return *dst ? 0 : BW_ENOMEM;
	}
	if (k->kind == BOOL) {
		int *dst = (int *)(base + k->off);

		if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "on") == 0 || strcmp(v, "yes") == 0)
			n = 1;
		else if (!(strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
			   strcmp(v, "off") == 0 || strcmp(v, "no") == 0))
			return BW_EFORMAT;
		if (!(p->keep_set && *dst >= 0))
			*dst = (int)n;
		return 0;
	}
	if (parse_long(v, k->min, k->max, &n) != 0)
		return BW_EFORMAT;
	if (!(p->keep_set && *(long *)(base + k->off) > 0))
		*(long *)(base + k->off) = n;
	return 0;
}

static int on_entry(void *user, const char *section, const char *name,
		    const char *value)
{
	struct parse_ctx *p = user;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].section, section) != 0 ||
		    strcmp(keys[i].name, name) != 0)
			continue;
		p->rc = set_key(p, &keys[i], value);
		if (p->rc != 0)
			snprintf(p->msg, sizeof(p->msg), "[%.32s] %.32s: bad value",
				 section, name);
		return p->rc == 0;
	}
	p->rc = BW_EFORMAT;
	snprintf(p->msg, sizeof(p->msg), "unknown key [%.32s] %.32s", section,
		 name);
	return 0;
}

void bw_dev_config_init(struct bw_dev_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rollback_protection = -1; /* unset until defaults */
	c->tlog_witnesses = -1;
	c->require_signed_boot = -1;
}

int bw_dev_config_parse(struct bw_dev_config *c, const char *text,
			int keep_set, struct bw_err *err)
{
	struct parse_ctx p = {.c = c, .keep_set = keep_set};
	int line = ini_parse_string(text, on_entry, &p);

	if (line == 0)
		return 0;
	if (p.rc == 0)
		return bw_err_set(err, BW_EFORMAT, "line %d: syntax error", line);
	return bw_err_set(err, p.rc, "line %d: %s", line, p.msg);
}

static void set_default_long(long *v, long d)
{
	if (*v <= 0)
		*v = d;
}

/* Join the server URL and a suffix into *dst unless it is set. */
static int default_url(char **dst, const char *base, const char *suffix)
{
	size_t n;

	if (*dst != NULL || base == NULL || base[0] == '\0')
		return 0;
	n = strlen(base) + strlen(suffix) + 2;
	if ((*dst = malloc(n)) == NULL)
		return BW_ENOMEM;
	snprintf(*dst, n, "%s%s%s", base,
		 base[0] && base[strlen(base) - 1] == '/' ? "" : "/", suffix);
	return 0;
}

static int finish(struct bw_dev_config *c, struct bw_err *err)
{
	set_default_long(&c->boot_attempts, 3);
	set_default_long(&c->interval_s, 300);
	set_default_long(&c->max_backoff_s, 3600);
	set_default_long(&c->max_events, 1000);
	set_default_long(&c->event_batch, 50);
	set_default_long(&c->low_speed_time_s, 30);
	if (c->rollback_protection < 0)
		c->rollback_protection = 1;
	if (c->tlog_witnesses < 0)
		c->tlog_witnesses = c->tlog_witness_key ? 1 : 0;
	if (c->tlog_witnesses > 0 && !c->tlog_witness_key)
		return bw_err_set(err, BW_EINVAL, "[transparency] witnesses "
				  "needs witness_key");
	if (c->tlog_witness_key && !c->tlog_key)
		return bw_err_set(err, BW_EINVAL, "[transparency] witness_key "
				  "needs log_key");
	if (c->require_signed_boot < 0)
		c->require_signed_boot = 0;
	if (default_url(&c->metadata_url, c->server_url, "repo/") != 0 ||
	    default_url(&c->targets_url, c->server_url, "targets/") != 0 ||
	    default_url(&c->events_url, c->server_url, "events") != 0 ||
	    default_url(&c->wave_url, c->server_url, "wave") != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (c->state_dir == NULL)
		return bw_err_set(err, BW_EINVAL, "[device] state_dir is not set");
	if (c->hardware_id == NULL)
		return bw_err_set(err, BW_EINVAL, "[device] hardware_id is not set");
	if (c->slot[0] != NULL && c->slot[1] != NULL &&
	    strcmp(c->slot[0], c->slot[1]) == 0)
		return bw_err_set(err, BW_EINVAL, "[update] slot_a and slot_b "
				  "are the same: A/B needs two slots");
	if (bw_dev_boot_ops_find(c->bootloader) == NULL)
		return bw_err_set(err, BW_EINVAL, "[boot] bootloader: \"%.32s\" "
				  "is not simulated, uboot or grub",
				  c->bootloader);
	if (c->key_file != NULL && c->token_label != NULL)
		return bw_err_set(err, BW_EINVAL,
				  "[tls] key_file and [pkcs11] token_label "
				  "both set: choose one client key");
	return 0;
}

static int parse_file(struct bw_dev_config *c, const char *path, int keep_set,
		      struct bw_err *err)
{
	struct bw_buf b;
	int rc;

	bw_buf_init(&b, CONFIG_MAX);
	rc = bw_io_read_file(path, CONFIG_MAX, &b, err);
	if (rc == 0 && memchr(b.data, '\0', b.len) != NULL)
		rc = bw_err_set(err, BW_EFORMAT, "%s: NUL byte", path);
	if (rc == 0) {
		rc = bw_dev_config_parse(c, (const char *)b.data, keep_set, err);
		if (rc != 0 && err != NULL) {
			char m[BW_ERR_MSG_MAX];

			snprintf(m, sizeof(m), "%.200s: %.300s", path, err->msg);
			bw_err_set(err, rc, "%s", m);
		}
	}
	bw_buf_dispose(&b);
	return rc;
}

int bw_dev_config_load(struct bw_dev_config *c, const char *path,
		       struct bw_err *err)
{
	char *idp = NULL;
	int rc;

	rc = parse_file(c, path, 0, err);
	if (rc == 0 && c->state_dir != NULL) {
		if (bw_path_join(c->state_dir, "identity.ini", &idp) != 0)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		/* Written by `register`; the main file wins over it. */
		rc = parse_file(c, idp, 1, err);
		if (rc == BW_ENOTFOUND)
			rc = 0;
		free(idp);
	}
	return rc != 0 ? rc : finish(c, err);
}

void bw_dev_config_dispose(struct bw_dev_config *c)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].kind == STR)
			free(*(char **)((char *)c + keys[i].off));
	memset(c, 0, sizeof(*c));
}
