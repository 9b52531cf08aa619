/*
 * A GRUB environment block, the file `load_env` / `save_env` in a GRUB
 * script and `grub-editenv` read and write: exactly 1024 bytes, the line
 * "# GRUB Environment Block", then "name=value" lines (a backslash escapes
 * the next byte, so values may hold newlines and backslashes), padded
 * with '#'. Lines starting with '#' are comments.
 *
 * Written by hand because no library exposes GRUB's block: its code is
 * built into grub-editenv only. Calling grub-editenv would not be
 * power-safe either: it reopens the file with truncation and writes it in
 * place, so a cut between the two leaves a block that GRUB refuses to
 * load, and the fallback with it. Here the whole block is built in memory,
 * written to a temporary file, fsync'd and renamed over the old one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bootenv.h"
#include "config.h"

#define DEFAULT_GRUBENV "/boot/grub/grubenv"
#define GRUBENV_MAX_VARS 512 /* a 1024-byte block holds fewer "x=\n" */

static const char signature[] = "# GRUB Environment Block\n";

void bw_grubenv_dispose(struct bw_grubenv *env)
{
	for (size_t i = 0; i < env->n; i++) {
		free(env->vars[i].name);
		free(env->vars[i].value);
	}
	free(env->vars);
	env->vars = NULL;
	env->n = 0;
}

static int add_var(struct bw_grubenv *env, const char *name, size_t nlen,
		   const char *value, size_t vlen)
{
	struct bw_grubenv_var *nv;
	char *n = NULL, *v = NULL;

	if (env->n >= GRUBENV_MAX_VARS)
		return BW_ETOOBIG;
	nv = realloc(env->vars, (env->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return BW_ENOMEM;
	env->vars = nv;
	if ((n = strndup(name, nlen)) == NULL ||
	    (v = strndup(value, vlen)) == NULL) {
		free(n);
		return BW_ENOMEM;
	}
	env->vars[env->n].name = n;
	env->vars[env->n].value = v;
	env->n++;
	return 0;
}

/* One "name=value\n" line at data[*pos]; the value is unescaped. */
static int parse_line(const uint8_t *data, size_t len, size_t *pos,
		      struct bw_grubenv *env, struct bw_err *err)
{
	char value[BW_GRUBENV_SIZE];
	size_t p = *pos, name = p, name_end, vlen = 0;
	int rc;

	while (p < len && data[p] != '=' && data[p] != '\n')
		p++;
	if (p >= len || data[p] != '=' || p == name)
		return bw_err_set(err, BW_EFORMAT, "GRUB environment: line at "
				  "byte %zu is not name=value", name);
	name_end = p;
	for (p++; p < len && data[p] != '\n'; p++) {
		if (data[p] == '\\' && ++p >= len)
			break;
		value[vlen++] = (char)data[p];
	}
	if (p >= len)
		return bw_err_set(err, BW_EFORMAT, "GRUB environment: last "
				  "variable has no end of line");
	rc = add_var(env, (const char *)data + name, name_end - name, value,
		     vlen);
	if (rc != 0)
		return bw_err_set(err, rc, "GRUB environment: too many variables");
	*pos = p + 1;
	return 0;
}

int bw_grubenv_parse(const uint8_t *data, size_t len, struct bw_grubenv *env,
		     struct bw_err *err)
{
	size_t p = sizeof(signature) - 1;
	int rc = 0;

	env->vars = NULL;
	env->n = 0;
	if (len != BW_GRUBENV_SIZE)
		return bw_err_set(err, BW_EFORMAT, "GRUB environment: %zu bytes, "
				  "not %d", len, BW_GRUBENV_SIZE);
	if (memcmp(data, signature, sizeof(signature) - 1) != 0)
		return bw_err_set(err, BW_EFORMAT, "GRUB environment: no "
				  "\"# GRUB Environment Block\" signature");
	if (memchr(data, '\0', len) != NULL)
		return bw_err_set(err, BW_EFORMAT, "GRUB environment: NUL byte");
	while (rc == 0 && p < len) {
		if (data[p] == '#') { /* comment or padding: to end of line */
			const uint8_t *nl = memchr(data + p, '\n', len - p);

			p = nl ? (size_t)(nl - data) + 1 : len;
			continue;
		}
		rc = parse_line(data, len, &p, env, err);
	}
	if (rc != 0)
		bw_grubenv_dispose(env);
	return rc;
}

const char *bw_grubenv_get(const struct bw_grubenv *env, const char *name)
{
	for (size_t i = 0; i < env->n; i++)
		if (strcmp(env->vars[i].name, name) == 0)
			return env->vars[i].value;
	return NULL;
}

int bw_grubenv_set(struct bw_grubenv *env, const char *name,
		   const char *value)
{
	for (size_t i = 0; i < env->n; i++) {
		char *v;

		if (strcmp(env->vars[i].name, name) != 0)
			continue;
		if ((v = strdup(value)) == NULL)
			return BW_ENOMEM;
		free(env->vars[i].value);
		env->vars[i].value = v;
		return 0;
	}
	if (name[0] == '\0' || strchr(name, '=') || strchr(name, '\n') ||
	    name[0] == '#')
		return BW_EINVAL;
	return add_var(env, name, strlen(name), value, strlen(value));
}

void bw_grubenv_unset(struct bw_grubenv *env, const char *name)
{
	for (size_t i = 0; i < env->n; i++) {
		if (strcmp(env->vars[i].name, name) != 0)
			continue;
		free(env->vars[i].name);
		free(env->vars[i].value);
		memmove(&env->vars[i], &env->vars[i + 1],
			(env->n - i - 1) * sizeof(env->vars[0]));
		env->n--;
		return;
	}
}

/* Append s (escaping backslash and newline when esc) at out[*p]. */
static int put(uint8_t *out, size_t *p, const char *s, int esc)
{
	for (; *s; s++) {
		if (esc && (*s == '\\' || *s == '\n')) {
			if (*p >= BW_GRUBENV_SIZE)
				return BW_ETOOBIG;
			out[(*p)++] = '\\';
		}
		if (*p >= BW_GRUBENV_SIZE)
			return BW_ETOOBIG;
		out[(*p)++] = (uint8_t)*s;
	}
	return 0;
}

int bw_grubenv_serialize(const struct bw_grubenv *env,
			 uint8_t out[BW_GRUBENV_SIZE], struct bw_err *err)
{
	size_t p = 0;
	int rc = put(out, &p, signature, 0);

	for (size_t i = 0; i < env->n && rc == 0; i++) {
		rc = put(out, &p, env->vars[i].name, 0);
		if (rc == 0)
			rc = put(out, &p, "=", 0);
		if (rc == 0)
			rc = put(out, &p, env->vars[i].value, 1);
		if (rc == 0)
			rc = put(out, &p, "\n", 0);
	}
	if (rc != 0)
		return bw_err_set(err, BW_ETOOBIG, "GRUB environment: the "
				  "variables do not fit in %d bytes",
				  BW_GRUBENV_SIZE);
	memset(out + p, '#', BW_GRUBENV_SIZE - p);
	return 0;
}

static const char *env_path(const struct bw_dev_config *c)
{
	return c->grubenv ? c->grubenv : DEFAULT_GRUBENV;
}

/* The block at the configured path; a missing file is an empty block
 * (grub-editenv creates it the same way). */
static int load(const struct bw_dev_config *c, struct bw_grubenv *env,
		struct bw_err *err)
{
	struct bw_buf b;
	int rc;

	env->vars = NULL;
	env->n = 0;
	bw_buf_init(&b, BW_GRUBENV_SIZE + 1);
	rc = bw_io_read_file(env_path(c), BW_GRUBENV_SIZE + 1, &b, err);
	if (rc == BW_ENOTFOUND)
		rc = 0;
	else if (rc == 0)
		rc = bw_grubenv_parse(b.data, b.len, env, err);
	else if (rc == BW_ETOOBIG)
		rc = bw_err_set(err, BW_EFORMAT, "%s: larger than a GRUB "
				"environment block", env_path(c));
	bw_buf_dispose(&b);
	return rc;
}

static int grub_read(const struct bw_dev_config *c, struct bw_dev_bootvars *v,
		     struct bw_err *err)
{
	struct bw_grubenv env;
	int rc = load(c, &env, err);

	bw_dev_bootvars_clear(v);
	if (rc != 0)
		return rc;
	for (int i = 0; i < BW_DEV_BOOTVARS; i++) {
		const char *val = bw_grubenv_get(&env, bw_dev_bootvar_names[i]);

		if (val != NULL)
			bw_dev_bootvar_parse(v, i, val);
	}
	bw_grubenv_dispose(&env);
	return 0;
}

static int grub_write(const struct bw_dev_config *c,
		      const struct bw_dev_bootvars *v, struct bw_err *err)
{
	uint8_t block[BW_GRUBENV_SIZE];
	struct bw_grubenv env;
	int rc = load(c, &env, err);

	for (int i = 0; i < BW_DEV_BOOTVARS && rc == 0; i++) {
		char val[24];

		bw_dev_bootvar_format(v, i, val);
		if (val[0] == '\0')
			bw_grubenv_unset(&env, bw_dev_bootvar_names[i]);
		else if (bw_grubenv_set(&env, bw_dev_bootvar_names[i], val) != 0)
			rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	if (rc == 0)
		rc = bw_grubenv_serialize(&env, block, err);
	if (rc == 0)
		rc = bw_io_write_atomic(env_path(c), block, sizeof(block), 0644,
					err);
	bw_grubenv_dispose(&env);
	return rc;
}

const struct bw_dev_bootenv_ops bw_dev_bootenv_grub = {
	"grub", grub_read, grub_write,
};
