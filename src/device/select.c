/*
 * Is a target this device's? Decided from the values of its "custom"
 * object (hardwareIds, tags, version, bootfirmware_version,
 * boot.secure_version) as bw_json_canonical_stream reports them: the
 * strict parser has already refused duplicate keys, bad UTF-8, NUL bytes
 * and reals; string values arrive as canonical text (quoted, with only
 * '"' and '\' escaped by a backslash).
 */
#include <stdio.h>
#include <string.h>

#include "bulwark/buf.h"
#include "select.h"

static int key_is(const struct bw_json_event *ev, const char *k)
{
	size_t n = strlen(k);

	return ev->key != NULL && ev->key_len == n && memcmp(ev->key, k, n) == 0;
}

/* A canonical string's value into out (NUL-terminated): its length, or
 * -1 when it does not fit in cap - 1 bytes. */
static long str_value(const struct bw_json_event *ev, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 1; i + 1 < ev->len; i++) {
		uint8_t c = ev->text[i];

		if (c == '\\' && i + 2 < ev->len)
			c = ev->text[++i];
		if (n + 1 >= cap)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return (long)n;
}

/* Is the canonical string the NUL-terminated want? */
static int str_is(const struct bw_json_event *ev, const char *want)
{
	size_t i = 1;

	for (; i + 1 < ev->len; i++, want++) {
		uint8_t c = ev->text[i];

		if (c == '\\' && i + 2 < ev->len)
			c = ev->text[++i];
		if (*want == '\0' || (uint8_t)*want != c)
			return 0;
	}
	return *want == '\0';
}

/* Names and versions end up on terminals and in logs: no control bytes
 * (UTF-8 is fine). A target that carries them is not one we install. */
static int no_controls(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

void bw_dev_match_init(struct bw_dev_match *m, const struct bw_dev_config *c)
{
	memset(m, 0, sizeof(*m));
	m->cfg = c;
	m->fw = -1;
	m->sv = -1;
}

/* custom.version: a non-empty string (aktualizr) or an integer >= 0. */
static void take_version(struct bw_dev_match *m, const struct bw_json_event *ev)
{
	long n;

	if (ev->type == BW_JSON_EV_STRING) {
		n = str_value(ev, m->version, sizeof(m->version));
		m->version_ok = n > 0;
	} else if (ev->type == BW_JSON_EV_INTEGER && ev->integer >= 0) {
		snprintf(m->version, sizeof(m->version), "%lld",
			 (long long)ev->integer);
		m->version_ok = 1;
	}
	m->version_bad = !m->version_ok;
}

/* custom.bootfirmware_version: an integer >= 0 or a string of one. */
static void take_fw(struct bw_dev_match *m, const struct bw_json_event *ev)
{
	char s[32];
	uint64_t v = 0;

	if (ev->type == BW_JSON_EV_INTEGER && ev->integer >= 0)
		m->fw = ev->integer;
	else if (ev->type == BW_JSON_EV_STRING &&
		 str_value(ev, s, sizeof(s)) >= 0 &&
		 bw_num_parse(s, INT64_MAX, &v) == 0)
		m->fw = (int64_t)v;
	else
		m->fw_bad = 1; /* present but unreadable: not ours to guess */
}

/* custom's own members (depth 1), as they open or complete. */
static void member(struct bw_dev_match *m, const struct bw_json_event *ev)
{
	int opens_array = ev->type == BW_JSON_EV_ARRAY_START;

	if (key_is(ev, "hardwareIds")) {
		m->in_hw = opens_array;
		m->hw_bad = !opens_array;
	} else if (key_is(ev, "tags")) {
		m->in_tags = opens_array;
		m->tags_bad = !opens_array;
	} else if (key_is(ev, "version")) {
		take_version(m, ev);
	} else if (key_is(ev, "bootfirmware_version")) {
		take_fw(m, ev);
	} else if (key_is(ev, "boot")) {
		/* {"secure_version": N >= 0, "artifacts": [...]} */
		m->boot_seen = 1;
		m->in_boot = ev->type == BW_JSON_EV_OBJECT_START;
		m->boot_bad = !m->in_boot;
	}
}

void bw_dev_match_event(struct bw_dev_match *m, const struct bw_json_event *ev,
			size_t depth)
{
	int closes = ev->type == BW_JSON_EV_OBJECT ||
		     ev->type == BW_JSON_EV_ARRAY;

	if (depth == 1 && closes) {
		if (m->in_boot && (m->sv < 0 || !m->boot_arts))
			m->boot_bad = 1;
		m->in_hw = m->in_tags = m->in_boot = 0;
	} else if (depth == 1) {
		member(m, ev);
	} else if (depth == 2 && ev->type == BW_JSON_EV_STRING && m->in_hw) {
		m->hw = m->hw || (m->cfg->hardware_id != NULL &&
				  str_is(ev, m->cfg->hardware_id));
	} else if (depth == 2 && ev->type == BW_JSON_EV_STRING && m->in_tags) {
		m->tag = m->tag ||
			 (m->cfg->tag != NULL && str_is(ev, m->cfg->tag));
	} else if (depth == 2 && m->in_boot && !closes) {
		if (key_is(ev, "secure_version")) {
			if (ev->type == BW_JSON_EV_INTEGER && ev->integer >= 0)
				m->sv = ev->integer;
			else
				m->boot_bad = 1;
		} else if (key_is(ev, "artifacts")) {
			m->boot_arts = ev->type == BW_JSON_EV_ARRAY_START;
		}
	}
}

/* Is it this device's? A tagged device sees only targets carrying its
 * tag. 1 yes, 0 no, -1 its fields can not say. */
static int ours(const struct bw_dev_match *m, const char **why)
{
	if (m->hw_bad) {
		*why = "custom.hardwareIds is not an array";
		return -1;
	}
	if (!m->hw)
		return 0;
	if (m->cfg->tag != NULL && m->tags_bad) {
		*why = "custom.tags is not an array";
		return -1;
	}
	return m->cfg->tag == NULL || m->tag;
}

static int decide(const struct bw_dev_match *m, const uint8_t *name,
		  size_t name_len, struct bw_dev_target *t, const char **why)
{
	int r = ours(m, why);

	if (r != 1)
		return r;
	*why = NULL;
	if (name_len >= sizeof(t->name) || !no_controls(name, name_len))
		*why = "its name is too long or holds control characters";
	else if (!m->version_ok)
		*why = "custom.version is neither a non-empty string (at most "
		       "63 bytes) nor an integer >= 0";
	else if (!no_controls((const uint8_t *)m->version, strlen(m->version)))
		*why = "custom.version holds control characters";
	else if (m->fw_bad)
		*why = "custom.bootfirmware_version is neither an integer >= 0 "
		       "nor a string of one";
	else if (m->boot_bad)
		*why = "custom.boot must be {\"secure_version\": N, "
		       "\"artifacts\": [...]}";
	/* custom.boot.secure_version is the same anti-rollback counter. */
	else if (m->sv >= 0 && m->fw >= 0 && m->fw != m->sv)
		*why = "custom.bootfirmware_version and "
		       "custom.boot.secure_version differ";
	if (*why != NULL)
		return -1;
	memcpy(t->name, name, name_len);
	t->name[name_len] = '\0';
	memcpy(t->version, m->version, strlen(m->version) + 1);
	t->bootfw = m->sv >= 0 ? m->sv : m->fw;
	return 1;
}

int bw_dev_match_end(struct bw_dev_match *m, const uint8_t *name,
		     size_t name_len, struct bw_dev_target *t,
		     const char **why)
{
	int r;

	t->name[0] = t->version[0] = t->sha256[0] = '\0';
	t->length = 0;
	t->bootfw = -1;
	*why = NULL;
	r = decide(m, name, name_len, t, why);
	bw_dev_match_init(m, m->cfg);
	return r;
}
