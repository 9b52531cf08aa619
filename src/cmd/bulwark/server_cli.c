/*
 * Client of bulwarkd's admin API for the operator CLI (server_cli.h):
 * bearer token from a private file, TLS verified against the factory CA,
 * strict JSON answers, bounded printing of whatever the server says.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bulwark/tuf.h"
#include "bulwark/buf.h"
#include "bulwark/fetch.h"
#include "bulwark/error.h"
#include "bulwark/json.h"
#include "bulwark/repo.h"
#include "server_cli.h"

#define TOKEN_MAX 4096
#define ANSWER_MAX (8u << 20)
#define SAY_MAX 300

void bw_admin_print_bounded(FILE *f, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i < max; i++)
		fputc(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', f);
	if (s != NULL && s[i] != '\0')
		fputs("...", f);
}

int bw_admin_upload_failed(const char *prog, const char *retry)
{
	fprintf(stderr,
		"%s: the local change is committed but the server does not "
		"have it yet;\nrerun the upload with `%s`\n",
		prog, retry);
	return BW_EXIT_FAIL;
}

/* Read the token: a private file (no group/other bits), one line. */
static int read_token(const char *prog, const char *path, struct bw_buf *tok)
{
	struct stat st;
	uint8_t chunk[512];
	ssize_t n;
	int fd, rc = BW_EXIT_FAIL;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bw_cli_fail(prog, "token file %s: %s", path,
				   strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		bw_cli_fail(prog, "token file %s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		bw_cli_fail(prog,
			    "token file %s is readable by others "
			    "(mode %03o); chmod 600 it",
			    path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (bw_buf_append(tok, chunk, (size_t)n) != 0) {
			bw_cli_fail(prog, "token file %s: too large", path);
			goto out;
		}
	if (n < 0) {
		bw_cli_fail(prog, "token file %s: %s", path, strerror(errno));
		goto out;
	}
	while (tok->len > 0 && (tok->data[tok->len - 1] == '\n' ||
				tok->data[tok->len - 1] == '\r'))
		tok->data[--tok->len] = '\0';
	for (size_t i = 0; i < tok->len; i++)
		if (tok->data[i] < 0x21 || tok->data[i] > 0x7e) {
			bw_cli_fail(prog,
				    "token file %s: not one printable "
				    "line",
				    path);
			goto out;
		}
	if (tok->len == 0) {
		bw_cli_fail(prog, "token file %s is empty", path);
		goto out;
	}
	rc = BW_EXIT_OK;
out:
	OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

/* Resolve the defaults; https only (the token never travels in clear). */
static int srv_check(const char *prog, const struct bw_admin_client *s,
		     const char **token_file, const char **ca_file)
{
	*token_file = s->token_file ? s->token_file : getenv(BW_ADMIN_TOKEN_ENV);
	*ca_file = s->ca_file ? s->ca_file : getenv(BW_ADMIN_CA_ENV);
	if (s->server == NULL)
		return bw_cli_usage(prog, "--server URL is required");
	if (strncmp(s->server, "https://", 8) != 0)
		return bw_cli_usage(prog, "--server must be an https:// URL");
	if (*token_file == NULL || **token_file == '\0')
		return bw_cli_usage(prog, "--token-file (or $" BW_ADMIN_TOKEN_ENV
					  ") is required");
	if (*ca_file == NULL || **ca_file == '\0')
		return bw_cli_usage(prog, "--ca-file (or $" BW_ADMIN_CA_ENV
					  ") is required");
	return BW_EXIT_OK;
}

int bw_admin_ready(const char *prog, const struct bw_admin_client *s, int pki)
{
	const char *t = NULL, *ca = NULL;
	struct bw_admin_client copy = *s;

	if (s->server == NULL)
		return s->token_file || s->ca_file
			   ? bw_cli_usage(prog, "--token-file and the CA file "
						"go with --server")
			   : BW_EXIT_OK;
	if (pki && copy.ca_file == NULL)
		copy.ca_file = "DIR/factory_ca.pem";
	return srv_check(prog, &copy, &t, &ca);
}

/* "HTTP 400: bad request: root version 2 not newer" on stderr. */
static void say_error(const char *prog, const char *method, const char *path,
		      long status, const struct bw_buf *resp)
{
	json_t *j = NULL;
	const char *e = NULL, *r = NULL;

	if (bw_json_parse(resp->data, resp->len, NULL, &j, NULL) == 0) {
		e = json_string_value(json_object_get(j, "error"));
		r = json_string_value(json_object_get(j, "reason"));
	}
	fprintf(stderr, "%s: %s ", prog, method);
	bw_admin_print_bounded(stderr, path, SAY_MAX);
	fprintf(stderr, ": HTTP %ld", status);
	if (e != NULL || r != NULL) {
		fputs(": ", stderr);
		bw_admin_print_bounded(stderr, e ? e : "error", SAY_MAX);
		if (r != NULL) {
			fputs(": ", stderr);
			bw_admin_print_bounded(stderr, r, SAY_MAX);
		}
	} else if (resp->len > 0) {
		fputs(": ", stderr);
		bw_admin_print_bounded(stderr, (const char *)resp->data, SAY_MAX);
	}
	fputc('\n', stderr);
	json_decref(j);
}

static char *srv_url(const char *base, const char *path)
{
	size_t bl = strlen(base), pl = strlen(path);
	char *u;

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (bl > SIZE_MAX - pl - 1 || (u = malloc(bl + pl + 1)) == NULL)
		return NULL;
	memcpy(u, base, bl);
	memcpy(u + bl, path, pl + 1);
	return u;
}

/* One request; the answer's body lands in resp (2xx and quiet_status). */
static int exchange(const char *prog, const struct bw_admin_client *s,
		    const char *method, const char *path, const void *body,
		    size_t body_len, long quiet_status, long *status,
		    struct bw_buf *resp)
{
	const char *token_file = NULL, *ca_file = NULL;
	struct bw_buf tok, hdr;
	const char *hdrs[] = {NULL, NULL};
	struct bw_http_opts ho = {0};
	struct bw_http_request req = {0};
	struct bw_fetcher *f = NULL;
	struct bw_err err = {0};
	char *url = NULL;
	int rc;

	*status = 0;
	bw_buf_init_secret(&tok, TOKEN_MAX);
	bw_buf_init_secret(&hdr, TOKEN_MAX + 32);
	rc = srv_check(prog, s, &token_file, &ca_file);
	if (rc != BW_EXIT_OK)
		goto out;
	rc = read_token(prog, token_file, &tok);
	if (rc != BW_EXIT_OK)
		goto out;
	rc = BW_EXIT_FAIL;
	if (bw_buf_append_str(&hdr, "Authorization: Bearer ") != 0 ||
	    bw_buf_append(&hdr, tok.data, tok.len) != 0 ||
	    (url = srv_url(s->server, path)) == NULL) {
		bw_cli_fail(prog, "out of memory");
		goto out;
	}
	hdrs[0] = (const char *)hdr.data;
	ho.ca_file = ca_file;
	ho.connect_timeout_s = 10;
	ho.total_timeout_s = 120;
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = body_len;
	req.max_response = ANSWER_MAX;
	if (bw_http_fetcher_new(&ho, &f, &err) != 0 ||
	    bw_http_request(f, &req, status, resp, &err) != 0) {
		fprintf(stderr,
			"%s: %s %.300s: cannot reach the server: ", prog,
			method, url);
		bw_admin_print_bounded(stderr, err.msg, SAY_MAX);
		fputc('\n', stderr);
		goto out;
	}
	if (*status < 200 || *status > 299) {
		if (*status != quiet_status) {
			say_error(prog, method, path, *status, resp);
			bw_buf_reset(resp);
		}
		goto out;
	}
	rc = BW_EXIT_OK;
out:
	bw_fetcher_free(f);
	bw_buf_dispose_secret(&tok);
	bw_buf_dispose_secret(&hdr);
	free(url);
	return rc;
}

int bw_admin_request(const char *prog, const struct bw_admin_client *s, const char *method,
		   const char *path, const void *body, size_t body_len,
		   long quiet_status, long *status, json_t **out)
{
	struct bw_buf resp;
	struct bw_err err = {0};
	int rc;

	if (out != NULL)
		*out = NULL;
	bw_buf_init(&resp, ANSWER_MAX);
	rc = exchange(prog, s, method, path, body, body_len, quiet_status,
		      status, &resp);
	if (rc != BW_EXIT_OK) {
		if (*status == quiet_status && quiet_status != 0 &&
		    out != NULL && resp.len > 0)
			(void)bw_json_parse(resp.data, resp.len, NULL, out,
					    NULL);
		goto out;
	}
	if (out != NULL && resp.len > 0 &&
	    bw_json_parse(resp.data, resp.len, NULL, out, &err) != 0) {
		fprintf(stderr, "%s: %s %.300s: malformed answer: ", prog,
			method, path);
		bw_admin_print_bounded(stderr, err.msg, SAY_MAX);
		fputc('\n', stderr);
		rc = BW_EXIT_FAIL;
	}
out:
	bw_buf_dispose_secret(&resp); /* may hold a new registration token */
	return rc;
}

int bw_admin_get_raw(const char *prog, const struct bw_admin_client *s,
		     const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct bw_buf resp;
	long status = 0;
	int rc;

	*out = NULL;
	*len = 0;
	bw_buf_init(&resp, max < ANSWER_MAX ? max : ANSWER_MAX);
	rc = exchange(prog, s, "GET", path, NULL, 0, 0, &status, &resp);
	if (rc == BW_EXIT_OK && bw_buf_steal(&resp, out, len) != 0)
		rc = bw_cli_fail(prog, "out of memory");
	bw_buf_dispose(&resp);
	return rc;
}

/* PUT file to path; on quiet_status the answer is in *out (may be NULL). */
static int put_file(const char *prog, const struct bw_admin_client *s, const char *path,
		    const char *file, long quiet_status, long *status,
		    json_t **out)
{
	struct bw_buf b;
	struct bw_err err = {0};
	int rc;

	*status = 0;
	bw_buf_init(&b, BW_JSON_DEFAULT_MAX_BYTES);
	if (bw_io_read_file(file, BW_JSON_DEFAULT_MAX_BYTES, &b, &err) != 0)
		rc = bw_cli_fail(prog, "%s", err.msg);
	else
		rc = bw_admin_request(prog, s, "PUT", path, b.data, b.len,
				    quiet_status, status, out);
	if (rc == BW_EXIT_OK)
		printf("uploaded %s -> %s\n", file, path);
	bw_buf_dispose(&b);
	return rc;
}

int bw_admin_put_file(const char *prog, const struct bw_admin_client *s, const char *path,
		    const char *file, long quiet_status, long *status)
{
	return put_file(prog, s, path, file, quiet_status, status, NULL);
}

/* ---- uploads from the factory workspace ---------------------------------- */

/* signed.version of the metadata at path (server: GET; 0 when 404). */
static int server_version(const char *prog, const struct bw_admin_client *s,
			  const char *path, int64_t *v)
{
	json_t *j = NULL;
	long st = 0;
	int rc = bw_admin_request(prog, s, "GET", path, NULL, 0, 404, &st, &j);

	*v = 0;
	if (rc != BW_EXIT_OK) {
		json_decref(j); /* the 404 answer */
		return st == 404 ? BW_EXIT_OK : rc;
	}
	*v = json_integer_value(
	    json_object_get(json_object_get(j, "signed"), "version"));
	json_decref(j);
	return *v > 0 ? BW_EXIT_OK
		      : bw_cli_fail(prog, "GET %s: no signed.version", path);
}

static int file_version(const char *prog, const char *file, int64_t *v)
{
	struct bw_buf b;
	struct bw_err err = {0};
	json_t *j = NULL;

	*v = 0;
	bw_buf_init(&b, BW_JSON_DEFAULT_MAX_BYTES);
	if (bw_io_read_file(file, b.max, &b, &err) == 0 &&
	    bw_json_parse(b.data, b.len, NULL, &j, &err) == 0)
		*v = json_integer_value(
		    json_object_get(json_object_get(j, "signed"), "version"));
	json_decref(j);
	bw_buf_dispose(&b);
	return *v > 0 ? BW_EXIT_OK : bw_cli_fail(prog, "%s: %s", file, err.msg);
}

int bw_admin_push_roots(const char *prog, const struct bw_admin_client *s,
		      struct bw_repo *r)
{
	static const char *const fl[][2] = {{"ci", "ci"},
					    {"prod", "production"}};
	char path[64], rel[96];
	char *file = NULL;
	int64_t have = 0, v;
	long st = 0;
	int rc = BW_EXIT_OK;

	for (size_t i = 0; i < 2 && rc == BW_EXIT_OK; i++) {
		snprintf(path, sizeof(path), "/repo/%s/root", fl[i][1]);
		rc = server_version(prog, s, path, &have);
		for (v = have + 1;
		     rc == BW_EXIT_OK && v <= bw_repo_root_version(r); v++) {
			snprintf(rel, sizeof(rel), "%s/root/%lld.root.json",
				 fl[i][0], (long long)v);
			if (bw_path_join(bw_repo_dir(r), rel, &file) != 0)
				return bw_cli_fail(prog, "out of memory");
			rc = bw_admin_put_file(prog, s, path, file, 0, &st);
			free(file);
			file = NULL;
		}
		if (rc == BW_EXIT_OK && have >= bw_repo_root_version(r))
			printf("%s root: the server has version %lld\n",
			       fl[i][1], (long long)have);
	}
	return rc;
}

static int tag_ok(const char *tag)
{
	size_t n = strlen(tag);

	return n > 0 && n <= 128 &&
	       strspn(tag,
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789._-") == n &&
	       strcmp(tag, ".") != 0 && strcmp(tag, "..") != 0;
}

int bw_admin_push_targets(const char *prog, const struct bw_admin_client *s,
			struct bw_repo *r, const char *tag)
{
	char path[200], rel[200];
	char *file = NULL;
	int64_t have = 0, mine = 0;
	long st = 0;
	int rc;

	if (tag != NULL && !tag_ok(tag))
		return bw_cli_usage(prog, "bad tag '%.128s'", tag);
	if (tag != NULL) {
		snprintf(path, sizeof(path), "/repo/production/targets/%s",
			 tag);
		snprintf(rel, sizeof(rel), "prod/tags/%s/targets.json", tag);
	} else {
		snprintf(path, sizeof(path), "/repo/ci/targets");
		snprintf(rel, sizeof(rel), "ci/targets.json");
	}
	if (bw_path_join(bw_repo_dir(r), rel, &file) != 0)
		return bw_cli_fail(prog, "out of memory");
	rc = file_version(prog, file, &mine);
	if (rc == BW_EXIT_OK)
		rc = server_version(prog, s, path, &have);
	if (rc == BW_EXIT_OK && mine > have)
		rc = bw_admin_put_file(prog, s, path, file, 0, &st);
	else if (rc == BW_EXIT_OK)
		printf("%s: the server has version %lld (local %lld)\n", path,
		       (long long)have, (long long)mine);
	free(file);
	return rc;
}

int bw_admin_push_all_tags(const char *prog, const struct bw_admin_client *s,
			 struct bw_repo *r)
{
	struct bw_err err = {0};
	char **tags = NULL;
	int rc = BW_EXIT_OK;

	if (bw_repo_tags(r, &tags, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	for (size_t i = 0; tags[i] != NULL && rc == BW_EXIT_OK; i++)
		rc = bw_admin_push_targets(prog, s, r, tags[i]);
	bw_repo_strv_free(tags);
	return rc;
}

static int place_target(const char *prog, const char *file, const char *dir,
			const char *name)
{
	struct bw_err err = {0};
	char *dst = NULL, *slash;
	int rc = BW_EXIT_FAIL;

	if (!bw_tuf_target_path_is_safe(name, strlen(name)))
		return bw_cli_fail(prog,
				   "target name '%.200s' is not a "
				   "relative path",
				   name);
	if (bw_path_join(dir, name, &dst) != 0)
		return bw_cli_fail(prog, "out of memory");
	slash = strrchr(dst, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (bw_io_mkdirs(dst, 0755, &err) != 0)
			goto out;
		*slash = '/';
	}
	if (bw_io_copy_atomic(file, dst, 0644, 0, &err) != 0)
		goto out;
	printf("copied %s to %s\n", file, dst);
	rc = BW_EXIT_OK;
out:
	if (rc != BW_EXIT_OK)
		bw_cli_fail(prog, "%s", err.msg);
	free(dst);
	return rc;
}

int bw_admin_add_target(const char *prog, const struct bw_admin_client *s,
		      struct bw_repo *r, const char *name, const char *file,
		      const char *targets_dir)
{
	struct bw_err err = {0};
	json_t *env = NULL, *ent = NULL, *body = NULL;
	char *text = NULL;
	long st = 0;
	int rc;

	if (targets_dir != NULL) {
		rc = place_target(prog, file, targets_dir, name);
		if (rc != BW_EXIT_OK)
			return rc;
	}
	if (bw_repo_targets_load(r, 0, NULL, &env, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	ent = json_object_get(
	    json_object_get(json_object_get(env, "signed"), "targets"), name);
	body = json_pack("{s:s,s:O,s:O}", "name", name, "length",
			 json_object_get(ent, "length"), "hashes",
			 json_object_get(ent, "hashes"));
	if (body != NULL && json_object_get(ent, "custom") != NULL)
		json_object_set(body, "custom", json_object_get(ent, "custom"));
	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL)
		rc = bw_cli_fail(prog, "no CI target '%.200s' in the workspace",
				 name);
	else
		rc = bw_admin_request(prog, s, "POST", "/repo/ci/targets/add",
				    text, strlen(text), 0, &st, NULL);
	if (rc == BW_EXIT_OK) {
		printf("published %s on %s (CI targets, snapshot, "
		       "timestamp)\n",
		       name, s->server);
		if (targets_dir == NULL)
			printf("the admin API does not carry the file: copy it "
			       "(here: %s/targets/%s) to\nthe server's "
			       "gateway.targets_dir as '%s', or pass "
			       "--targets-dir DIR\n",
			       bw_repo_dir(r),
			       json_string_value(json_object_get(
				   json_object_get(ent, "hashes"), "sha256")),
			       name);
	}
	json_decref(body);
	json_decref(env);
	free(text);
	return rc;
}

/* One CRL; "rollback" (crlNumber not above the server's) is not an error. */
static int push_crl(const char *prog, const struct bw_admin_client *s, const char *dir,
		    const char *issuer)
{
	char path[160], rel[160], *file = NULL;
	const char *e;
	json_t *ans = NULL;
	long st = 0;
	int rc;

	snprintf(rel, sizeof(rel), "crl/%s.crl", issuer);
	snprintf(path, sizeof(path), "/pki/crl/%s", issuer);
	if (bw_path_join(dir, rel, &file) != 0)
		return bw_cli_fail(prog, "out of memory");
	rc = put_file(prog, s, path, file, 400, &st, &ans);
	e = json_string_value(json_object_get(ans, "error"));
	if (rc != BW_EXIT_OK && st == 400 && e != NULL &&
	    strcmp(e, bw_strerror(BW_EROLLBACK)) == 0) {
		printf("%s: the server already has this CRL\n", path);
		rc = BW_EXIT_OK;
	} else if (rc != BW_EXIT_OK && st == 400) {
		fprintf(stderr, "%s: PUT %s: HTTP 400: ", prog, path);
		bw_admin_print_bounded(
		    stderr, json_string_value(json_object_get(ans, "reason")),
		    SAY_MAX);
		fputc('\n', stderr);
	}
	json_decref(ans);
	free(file);
	return rc;
}

int bw_admin_push_crls(const char *prog, const struct bw_admin_client *s, const char *dir)
{
	char *crldir = NULL, issuer[128];
	struct dirent *e;
	DIR *d;
	int rc = BW_EXIT_OK, one;

	if (bw_path_join(dir, "crl", &crldir) != 0)
		return bw_cli_fail(prog, "out of memory");
	d = opendir(crldir);
	if (d == NULL) {
		rc = bw_cli_fail(prog, "%s: %s", crldir, strerror(errno));
		free(crldir);
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n <= 4 || n - 4 >= sizeof(issuer) ||
		    strcmp(e->d_name + n - 4, ".crl") != 0 ||
		    strcmp(e->d_name, "all.crl") == 0)
			continue;
		memcpy(issuer, e->d_name, n - 4);
		issuer[n - 4] = '\0';
		if (!tag_ok(issuer))
			continue;
		one = push_crl(prog, s, dir, issuer);
		if (one != BW_EXIT_OK)
			rc = one;
	}
	closedir(d);
	free(crldir);
	return rc;
}

int bw_admin_pki_ca_default(const char *prog, struct bw_admin_client *s,
			    const char *dir, char **owned)
{
	*owned = NULL;
	if (s->ca_file == NULL &&
	    (getenv(BW_ADMIN_CA_ENV) == NULL || *getenv(BW_ADMIN_CA_ENV) == '\0')) {
		if (bw_path_join(dir, "factory_ca.pem", owned) != 0)
			return bw_cli_fail(prog, "out of memory");
		s->ca_file = *owned;
	}
	return BW_EXIT_OK;
}

int bw_admin_pki_push(const char *prog, struct bw_admin_client *s, const char *dir)
{
	char *ca = NULL;
	int rc;

	if (s->server == NULL)
		return BW_EXIT_OK;
	if ((rc = bw_admin_pki_ca_default(prog, s, dir, &ca)) != BW_EXIT_OK)
		return rc;
	rc = bw_admin_push_crls(prog, s, dir);
	if (ca != NULL)
		s->ca_file = NULL;
	free(ca);
	if (rc != BW_EXIT_OK)
		return bw_admin_upload_failed(prog, "bulwark keys ca update-crl "
						  "DIR --server URL");
	return rc;
}
