/*
 * The operator CLI's client of bulwarkd's admin API (docs/server.md,
 * "Admin API"): the common options --server, --token-file, --ca-file and
 * one request function. Used by `bulwark devices`, `bulwark tokens`,
 * `bulwark repo push` and the --server variants of targets, keys tuf
 * updates apply and keys ca.
 */
#ifndef BW_SERVER_CLI_H
#define BW_SERVER_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli.h"

#define BW_ADMIN_TOKEN_ENV "BULWARK_ADMIN_TOKEN_FILE"
#define BW_ADMIN_CA_ENV "BULWARK_CA_FILE"

/* Where the admin API is and how to reach it (borrowed strings). */
struct bw_admin_client {
	const char *server;	/* https://HOST:PORT, NULL: not asked for */
	const char *token_file; /* NULL: $BULWARK_ADMIN_TOKEN_FILE */
	const char *ca_file;	/* NULL: $BULWARK_CA_FILE */
};

/* The three options, for a command's option table. */
#define BW_ADMIN_OPTS(s)                                                         \
	{"--server", BW_CLI_STR, "URL",                                        \
	 "admin API of bulwarkd (e.g. https://127.0.0.1:8444)", &(s).server},  \
	    {"--token-file", BW_CLI_STR, "F",                                  \
	     "operator bearer token, mode 0600 (default: "                     \
	     "$" BW_ADMIN_TOKEN_ENV ")",                                         \
	     &(s).token_file},                                                 \
	{                                                                      \
		"--ca-file", BW_CLI_STR, "F",                                  \
		    "CA that signed the server's TLS certificate (default: "   \
		    "$" BW_ADMIN_CA_ENV ")",                                     \
		    &(s).ca_file                                               \
	}

/*
 * The same for `bulwark keys ca` (whose --ca-file names a device CA): the
 * server's CA is --server-ca, default DIR/factory_ca.pem.
 */
#define BW_ADMIN_PKI_OPTS(s)                                                     \
	{"--server", BW_CLI_STR, "URL",                                        \
	 "then upload the CRLs to bulwarkd's admin API", &(s).server},         \
	    {"--token-file", BW_CLI_STR, "F",                                  \
	     "operator bearer token, mode 0600 (default: "                     \
	     "$" BW_ADMIN_TOKEN_ENV ")",                                         \
	     &(s).token_file},                                                 \
	{                                                                      \
		"--server-ca", BW_CLI_STR, "F",                                \
		    "CA of the server's TLS certificate (default: "            \
		    "DIR/factory_ca.pem)",                                     \
		    &(s).ca_file                                               \
	}

/*
 * keys ca --server: after the local change in the PKI directory dir, PUT
 * its CRLs (bw_admin_push_crls); s->ca_file defaults to dir/factory_ca.pem.
 * BW_EXIT_OK when s->server is NULL. Prints how to retry on failure.
 */
int bw_admin_pki_push(const char *prog, struct bw_admin_client *s, const char *dir);

/* keys ca: s->ca_file defaults to dir/factory_ca.pem (unless
 * $BULWARK_CA_FILE names one); *owned receives that path, to free (and
 * s->ca_file to reset) after use. */
int bw_admin_pki_ca_default(const char *prog, struct bw_admin_client *s,
			    const char *dir, char **owned);

/*
 * Send METHOD path (e.g. "/devices") with an optional body to s->server.
 * *status receives the HTTP status (0 when no answer came) and, when out
 * is not NULL and the server answered 2xx, *out the parsed JSON answer
 * (strict; NULL for an empty body; json_decref it). On 4xx/5xx the
 * server's error and reason are printed, bounded and printable, unless
 * the status is quiet_status (e.g. 400 for "not newer"; pass 0 for none).
 * Returns BW_EXIT_OK for 2xx, BW_EXIT_FAIL otherwise (message printed),
 * BW_EXIT_USAGE for missing or bad options.
 */
int bw_admin_request(const char *prog, const struct bw_admin_client *s, const char *method,
		   const char *path, const void *body, size_t body_len,
		   long quiet_status, long *status, json_t **out);

/* GET path and hand over the answer's bytes as they came (*out malloc'd,
 * NUL-terminated; at most max bytes). BW_EXIT_FAIL on a non-2xx answer
 * (printed). */
int bw_admin_get_raw(const char *prog, const struct bw_admin_client *s,
		     const char *path, size_t max, uint8_t **out, size_t *len);

/*
 * Check the options before a local change: with --server, the URL is
 * https and a token file and CA file are named (pki: the CA defaults to
 * DIR/factory_ca.pem); without it, neither --token-file nor a CA file.
 */
int bw_admin_ready(const char *prog, const struct bw_admin_client *s, int pki);

/* PUT the bytes of file to path; prints "uploaded FILE -> path". */
int bw_admin_put_file(const char *prog, const struct bw_admin_client *s, const char *path,
		    const char *file, long quiet_status, long *status);

/* Print untrusted text bounded (max bytes) with non-printables as '?'. */
void bw_admin_print_bounded(FILE *f, const char *s, size_t max);

/* The line printed when a local change succeeded but its upload failed. */
int bw_admin_upload_failed(const char *prog, const char *retry);

/* ---- uploads from the factory workspace (bulwark repo push) ----------- */
struct bw_repo;

/*
 * PUT every root version of both flavours above the one the server has
 * (GET /repo/<flavour>/root), oldest first.
 */
int bw_admin_push_roots(const char *prog, const struct bw_admin_client *s,
		      struct bw_repo *r);

/*
 * PUT the workspace's production targets of tag (prod/tags/<tag>/) to
 * /repo/production/targets/<tag>, or with tag NULL its CI targets to
 * /repo/ci/targets, when newer than what the server has.
 */
int bw_admin_push_targets(const char *prog, const struct bw_admin_client *s,
			struct bw_repo *r, const char *tag);

/* bw_admin_push_targets for every production tag of the workspace. */
int bw_admin_push_all_tags(const char *prog, const struct bw_admin_client *s,
			 struct bw_repo *r);

/*
 * POST the workspace's CI targets entry name to /repo/ci/targets/add.
 * With targets_dir, first copy file to targets_dir/name (the server's
 * gateway.targets_dir); else say where the file must go.
 */
int bw_admin_add_target(const char *prog, const struct bw_admin_client *s,
		      struct bw_repo *r, const char *name, const char *file,
		      const char *targets_dir);

/*
 * PUT each CRL of the PKI directory dir (crl/<issuer>.crl) to
 * /pki/crl/<issuer>; a CRL the server already has is not an error.
 */
int bw_admin_push_crls(const char *prog, const struct bw_admin_client *s, const char *dir);

#endif
