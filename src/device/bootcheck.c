/*
 * The device's check of signed boot artifacts (bootcheck.h). The
 * signature rules are libbulwark's (bw_boot_pe_verify, bw_boot_fit_verify,
 * the same code that signs); this file reads the target's boot object,
 * the artifact bytes and the device's anchors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "bootcheck.h"
#include "bulwark/boot.h"
#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "config.h"

#define ANCHORS_MAX 64

int bw_dev_boot_secure_version(const void *custom_json, int64_t *sv)
{
	const json_t *boot = json_object_get(custom_json, "boot"), *v;

	*sv = -1;
	if (boot == NULL)
		return 0;
	v = json_object_get(boot, "secure_version");
	if (!json_is_object(boot) || !json_is_integer(v) ||
	    json_integer_value(v) < 0 ||
	    !json_is_array(json_object_get(boot, "artifacts")))
		return BW_EFORMAT;
	*sv = json_integer_value(v);
	return 0;
}

/* [boot] uefi_db: one or more PEM certificates. */
static int load_db(const char *path, X509 **db, size_t *n, struct bw_err *err)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	X509 *x;

	*n = 0;
	if (f == NULL)
		return bw_err_set(err, BW_ESIG, "a UEFI boot artifact, but [boot] "
				  "uefi_db %s%s", path ? "cannot be read: " :
				  "is not set", path ? path : "");
	while (*n < ANCHORS_MAX && (x = PEM_read_X509(f, NULL, NULL, NULL)))
		db[(*n)++] = x;
	fclose(f);
	return *n ? 0 : bw_err_set(err, BW_EFORMAT, "%s: no certificate", path);
}

static int load_fit_key(const char *path, EVP_PKEY **key, struct bw_err *err)
{
	FILE *f = path ? fopen(path, "r") : NULL;

	*key = NULL;
	if (f == NULL)
		return bw_err_set(err, BW_ESIG, "a FIT boot artifact, but [boot] "
				  "fit_key %s%s", path ? "cannot be read: " :
				  "is not set", path ? path : "");
	*key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return *key ? 0 : bw_err_set(err, BW_EFORMAT, "%s: not a PEM public "
				     "key", path);
}

/* The artifact's bytes: [offset, offset + length) of the file. */
static int read_artifact(const char *path, uint64_t off, uint64_t len,
			 uint8_t **out, struct bw_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	size_t got = 0;

	*out = NULL;
	if (len == 0 || len > BW_BOOT_PE_MAX)
		return bw_err_set(err, BW_EFORMAT, "boot artifact length %llu out "
				  "of range", (unsigned long long)len);
	if (fd < 0 || (buf = malloc((size_t)len)) == NULL) {
		if (fd >= 0)
			close(fd);
		return bw_err_set(err, BW_EIO, "%s: %s", path, strerror(errno));
	}
	while (got < len) {
		ssize_t n = pread(fd, buf + got, (size_t)len - got,
				  (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != len) {
		free(buf);
		return bw_err_set(err, BW_EFORMAT, "boot artifact at %llu+%llu "
				  "is beyond the end of the target",
				  (unsigned long long)off, (unsigned long long)len);
	}
	*out = buf;
	return 0;
}

static int check_one(const struct bw_dev_config *c, const json_t *a,
		     size_t i, const char *path, struct bw_err *err)
{
	const char *fmt = json_string_value(json_object_get(a, "format"));
	const char *hex = json_string_value(json_object_get(a, "sha256"));
	const json_t *jo = json_object_get(a, "offset");
	const json_t *jl = json_object_get(a, "length");
	uint8_t *data = NULL, want[32], got[32];
	X509 *db[ANCHORS_MAX];
	EVP_PKEY *key = NULL;
	size_t ndb = 0;
	int rc;

	if (fmt == NULL || hex == NULL || strlen(hex) != 64 ||
	    bw_hex_decode(hex, 64, want, 32) != 0 || !json_is_integer(jo) ||
	    !json_is_integer(jl) || json_integer_value(jo) < 0 ||
	    json_integer_value(jl) <= 0 ||
	    (strcmp(fmt, "uefi") != 0 && strcmp(fmt, "fit") != 0))
		return bw_err_set(err, BW_EFORMAT, "boot artifact %zu: needs "
				  "format uefi|fit, offset, length, sha256", i);
	rc = read_artifact(path, (uint64_t)json_integer_value(jo),
			   (uint64_t)json_integer_value(jl), &data, err);
	if (rc == 0 && (bw_hash_buf(BW_HASH_SHA256, data,
				    (size_t)json_integer_value(jl), got) != 0 ||
			CRYPTO_memcmp(got, want, 32) != 0))
		rc = bw_err_set(err, BW_EHASH, "boot artifact %zu (%s): not the "
				"bytes the metadata names", i, fmt);
	if (rc == 0 && strcmp(fmt, "uefi") == 0 &&
	    (rc = load_db(c->uefi_db, db, &ndb, err)) == 0)
		rc = bw_boot_pe_verify(data, (size_t)json_integer_value(jl),
				       db, ndb, err);
	else if (rc == 0 && (rc = load_fit_key(c->fit_key, &key, err)) == 0)
		rc = bw_boot_fit_verify(data, (size_t)json_integer_value(jl),
					key, err);
	if (rc != 0 && err != NULL) {
		char m[BW_ERR_MSG_MAX];

		snprintf(m, sizeof(m), "boot artifact %zu (%s): %.400s", i, fmt,
			 err->msg);
		bw_err_set(err, rc, "%s", m);
	}
	for (size_t k = 0; k < ndb; k++)
		X509_free(db[k]);
	EVP_PKEY_free(key);
	free(data);
	return rc;
}

int bw_dev_boot_check(const struct bw_dev_config *c, const void *custom_json,
		      const char *path, struct bw_err *err)
{
	const json_t *arts = json_object_get(
	    json_object_get(custom_json, "boot"), "artifacts");
	int64_t sv = -1;
	size_t i;
	int rc;

	if (bw_dev_boot_secure_version(custom_json, &sv) != 0)
		return bw_err_set(err, BW_EFORMAT, "custom.boot must be "
				  "{\"secure_version\": N, \"artifacts\": [...]}");
	if (sv < 0 || json_array_size(arts) == 0)
		return c->require_signed_boot > 0
			   ? bw_err_set(err, BW_ESIG, "the target carries no "
					"signed boot artifact and [boot] "
					"require_signed is on")
			   : 0;
	if (json_array_size(arts) > BW_DEV_BOOT_ARTIFACTS_MAX)
		return bw_err_set(err, BW_EFORMAT, "more than %d boot artifacts",
				  BW_DEV_BOOT_ARTIFACTS_MAX);
	for (i = 0; i < json_array_size(arts); i++)
		if ((rc = check_one(c, json_array_get(arts, i), i, path,
				    err)) != 0)
			return rc;
	return 0;
}
