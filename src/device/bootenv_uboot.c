/*
 * U-Boot's environment through libubootenv, the library behind
 * fw_printenv / fw_setenv: it reads fw_env.config, picks the valid copy of
 * a redundant environment and writes the other one with the next flag, so
 * a power cut during a write leaves the previous environment in force,
 * exactly as U-Boot's own `saveenv` does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libuboot.h>

#include "bootenv.h"
#include "config.h"

#define DEFAULT_FW_ENV_CONFIG "/etc/fw_env.config"

static const char *config_path(const struct bw_dev_config *c)
{
	return c->fw_env_config ? c->fw_env_config : DEFAULT_FW_ENV_CONFIG;
}

static int env_open(const struct bw_dev_config *c, struct uboot_ctx **out,
		    struct bw_err *err)
{
	struct uboot_ctx *ctx = NULL;
	int rc;

	*out = NULL;
	if (libuboot_initialize(&ctx, NULL) < 0)
		return bw_err_set(err, BW_ENOMEM, "libubootenv: out of memory");
	rc = libuboot_read_config(ctx, config_path(c));
	if (rc < 0) {
		libuboot_exit(ctx);
		return bw_err_set(err, BW_EIO, "U-Boot environment: cannot read "
				  "%s (%s)", config_path(c), strerror(-rc));
	}
	rc = libuboot_open(ctx);
	if (rc < 0) {
		libuboot_exit(ctx);
		return bw_err_set(err, BW_EIO, "U-Boot environment of %s: no "
				  "valid copy (%s); write one with "
				  "fw_setenv or mkenvimage first",
				  config_path(c), strerror(-rc));
	}
	*out = ctx;
	return 0;
}

static void env_close(struct uboot_ctx *ctx)
{
	libuboot_close(ctx);
	libuboot_exit(ctx);
}

static int uboot_read(const struct bw_dev_config *c, struct bw_dev_bootvars *v,
		      struct bw_err *err)
{
	struct uboot_ctx *ctx = NULL;
	int rc = env_open(c, &ctx, err);

	bw_dev_bootvars_clear(v);
	if (rc != 0)
		return rc;
	for (int i = 0; i < BW_DEV_BOOTVARS; i++) {
		char *val = libuboot_get_env(ctx, bw_dev_bootvar_names[i]);

		if (val != NULL)
			bw_dev_bootvar_parse(v, i, val);
		free(val);
	}
	env_close(ctx);
	return 0;
}

static int uboot_write(const struct bw_dev_config *c,
		       const struct bw_dev_bootvars *v, struct bw_err *err)
{
	struct uboot_ctx *ctx = NULL;
	int rc = env_open(c, &ctx, err);

	if (rc != 0)
		return rc;
	for (int i = 0; i < BW_DEV_BOOTVARS && rc == 0; i++) {
		char val[24];

		bw_dev_bootvar_format(v, i, val);
		/* NULL deletes: an unset slot is no variable at all. */
		if (libuboot_set_env(ctx, bw_dev_bootvar_names[i],
				     val[0] ? val : NULL) < 0 && val[0])
			rc = bw_err_set(err, BW_EIO, "U-Boot environment: "
					"cannot set %s", bw_dev_bootvar_names[i]);
	}
	/* One store writes every change to the inactive copy at once. */
	if (rc == 0 && (rc = libuboot_env_store(ctx)) < 0)
		rc = bw_err_set(err, BW_EIO, "U-Boot environment of %s: write "
				"failed (%s)", config_path(c), strerror(-rc));
	env_close(ctx);
	return rc;
}

const struct bw_dev_bootenv_ops bw_dev_bootenv_uboot = {
	"uboot", uboot_read, uboot_write,
};
