/*
 * Registration (`bulwark-device register`): an EC P-256 key generated
 * inside the PKCS#11 token (or, with --key-file, a 0600 file), a CSR
 * signed by it, POST /sign with the factory token in OSF-TOKEN, and the
 * answer stored atomically: root.crt, client.pem, sota.toml (0644) and
 * identity.ini (0600: names the PIN file, never holds the PIN). Any
 * failure removes what this run created, the token key included.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bulwark/identity.h"
#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/pkcs11.h"
#include "bulwark/pki.h"
#include "config.h"
#include "enroll.h"
#include "events.h"
#include "exit.h"

#define DEFAULT_KEY_LABEL "bulwark-device"
#define TOKEN_MAX 4096
#define MAX_FILES 5

struct enroll {
	const struct bw_dev_register_opts *o;
	struct bw_dev_config cfg;  /* the device config file, if any */
	const char *state_dir, *server, *hwid, *tag, *key_label;
	char uuid[37];
	struct bw_pkcs11_opts p11;
	char *pin;
	int key_created;           /* token key made by this run */
	struct bw_signer *signer;
	EVP_PKEY *file_key;
	EVP_PKEY *pkey;            /* borrowed: signer->pkey or file_key */
	char *files[MAX_FILES];    /* written by this run */
	size_t nfiles;
	json_t *answer;
};

static int say(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bulwark-device register: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* Values go into an INI file: one line, no comment characters. */
static int ini_safe(const char *v)
{
	if (v == NULL)
		return 1;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == ';' || *p == '#' ||
		    *p == 0x7f)
			return 0;
	return strlen(v) < 1024 && (v[0] == '\0' || (v[0] != ' ' &&
						     v[strlen(v) - 1] != ' '));
}

static int write_file(struct enroll *e, const char *name, const void *data,
		      size_t len, mode_t mode)
{
	struct bw_err err = {0};
	char *path = NULL;
	int rc;

	if (bw_path_join(e->state_dir, name, &path) != 0)
		return say(BW_DEV_EXIT_FAIL, "out of memory");
	rc = bw_io_write_atomic(path, data, len, mode, &err);
	if (rc != 0) {
		free(path);
		return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	}
	e->files[e->nfiles++] = path; /* transferred */
	return 0;
}

static int read_config(struct enroll *e)
{
	const struct bw_dev_register_opts *o = e->o;
	struct bw_err err = {0};
	struct bw_buf b;
	int rc = 0;

	bw_dev_config_init(&e->cfg);
	bw_buf_init(&b, 65536);
	if (o->config_path != NULL) {
		rc = bw_io_read_file(o->config_path, b.max, &b, &err);
		if (rc == 0)
			rc = bw_dev_config_parse(&e->cfg, (const char *)b.data, 0,
						 &err);
		if (rc == BW_ENOTFOUND && o->state_dir != NULL)
			rc = 0;
	}
	bw_buf_dispose(&b);
	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "%s: %s", o->config_path, err.msg);
	e->state_dir = o->state_dir ? o->state_dir : e->cfg.state_dir;
	e->server = o->server_url ? o->server_url : e->cfg.server_url;
	e->hwid = o->hardware_id ? o->hardware_id : e->cfg.hardware_id;
	e->tag = o->tag ? o->tag : e->cfg.tag;
	e->key_label = o->key_label ? o->key_label
		       : e->cfg.key_label ? e->cfg.key_label : DEFAULT_KEY_LABEL;
	if (e->state_dir == NULL || e->server == NULL || e->hwid == NULL)
		return say(BW_DEV_EXIT_USAGE, "need a state directory, a server "
			   "URL and a hardware id (options or config)");
	return 0;
}

static int check_inputs(struct enroll *e)
{
	const struct bw_dev_register_opts *o = e->o;
	const char *vals[] = {e->state_dir, e->server, e->hwid, e->tag,
			      o->name, o->uuid, o->pkcs11_module,
			      o->token_label, o->pin_file, e->key_label,
			      o->ca_file};

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (!ini_safe(vals[i]))
			return say(BW_DEV_EXIT_USAGE, "value \"%.64s\" can not go "
				   "into the device configuration", vals[i]);
	if (o->uuid != NULL) {
		/* the server keys devices by the canonical form */
		if (bw_identity_uuid_normalize(o->uuid, strlen(o->uuid),
					       e->uuid, NULL))
			return say(BW_DEV_EXIT_USAGE,
				   "--uuid: not a UUID (8-4-4-4-12 hex)");
	} else if (bw_dev_uuid(e->uuid) != 0) {
		return say(BW_DEV_EXIT_FAIL, "no random bytes");
	}
	if (!o->use_key_file && (o->token_label == NULL || o->pin_file == NULL))
		return say(BW_DEV_EXIT_USAGE, "a token key needs --token-label "
			   "and --pin-file (or use --key-file)");
	return 0;
}

/* ---- the key ------------------------------------------------------------- */

/* CKA_ID of the device key and its certificate in the token. */
static const uint8_t key_id[] = {0xb1, 0x0d};

static int make_token_key(struct enroll *e)
{
	struct bw_pkcs11_newkey k = {0};
	struct bw_err err = {0};
	int rc;

	rc = bw_pkcs11_pin_from_file(e->o->pin_file, &e->pin, &err);
	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	e->p11.module_path = e->o->pkcs11_module;
	e->p11.token_label = e->o->token_label;
	e->p11.object_label = e->key_label;
	e->p11.pin = e->pin;
	if (e->o->force) /* replacing an identity: the old key goes */
		bw_pkcs11_delete_key(&e->p11, NULL, NULL);
	k.module_path = e->o->pkcs11_module;
	k.token_label = e->o->token_label;
	k.pin = e->pin;
	k.label = e->key_label;
	k.id = key_id;
	k.id_len = sizeof(key_id);
	rc = bw_pkcs11_key_create(&k, &e->signer, NULL, &err);
	if (rc != 0)
		return say(rc == BW_EEXIST ? BW_DEV_EXIT_ALREADY_REGISTERED
					   : BW_DEV_EXIT_FAIL,
			   "key generation in the token: %s%s", err.msg,
			   rc == BW_EEXIST ? " (use --force to replace it)" : "");
	e->key_created = 1;
	e->pkey = e->signer->pkey;
	return 0;
}

static int make_file_key(struct enroll *e)
{
	struct bw_err err = {0};
	char *pem = NULL;
	size_t len = 0;
	int rc;

	rc = bw_pki_key_generate(&e->file_key, &err);
	if (rc == 0)
		rc = bw_pki_key_pem(e->file_key, &pem, &len, &err);
	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	rc = write_file(e, "pkey.pem", pem, len, 0600);
	OPENSSL_cleanse(pem, len);
	free(pem);
	e->pkey = e->file_key;
	return rc;
}

/* CSR: CN=<uuid>; the server decides OU and production. */
static int make_csr(struct enroll *e, char **pem)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *bm = NULL;
	int rc = BW_DEV_EXIT_FAIL;

	*pem = NULL;
	if (req == NULL || bio == NULL || X509_REQ_set_version(req, 0) != 1)
		goto out;
	n = X509_REQ_get_subject_name(req);
	if (X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
				       (const unsigned char *)e->uuid, -1, -1,
				       0) != 1 ||
	    X509_REQ_set_pubkey(req, e->pkey) != 1 ||
	    X509_REQ_sign(req, e->pkey, EVP_sha256()) <= 0 ||
	    PEM_write_bio_X509_REQ(bio, req) != 1)
		goto out;
	BIO_get_mem_ptr(bio, &bm);
	if ((*pem = strndup(bm->data, bm->length)) != NULL)
		rc = 0;
out:
	if (rc != 0)
		say(rc, "could not build the CSR with the device key");
	X509_REQ_free(req);
	BIO_free(bio);
	return rc;
}

/* ---- the exchange --------------------------------------------------------- */

static int read_token(const char *path, struct bw_buf *tok)
{
	struct bw_err err = {0};

	if (bw_io_read_file(path, TOKEN_MAX, tok, &err) != 0)
		return say(BW_DEV_EXIT_FAIL, "token file: %s", err.msg);
	while (tok->len > 0 && (tok->data[tok->len - 1] == '\n' ||
				tok->data[tok->len - 1] == '\r'))
		tok->data[--tok->len] = '\0';
	for (size_t i = 0; i < tok->len; i++)
		if (tok->data[i] < 0x21 || tok->data[i] > 0x7e)
			return say(BW_DEV_EXIT_FAIL, "token file: not one "
				   "printable line");
	return tok->len ? 0 : say(BW_DEV_EXIT_FAIL, "token file is empty");
}

static json_t *sign_body(struct enroll *e, const char *csr)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "uuid", e->uuid,
			      "name", e->o->name ? e->o->name : e->uuid,
			      "hardware-id", e->hwid, "csr", csr);

	if (b != NULL && e->tag != NULL)
		json_object_set_new(b, "overrides",
				    json_pack("{s:{s:s}}", "pacman", "tags",
					      e->tag));
	return b;
}

static int post_sign(struct enroll *e, const char *csr, const char *token)
{
	struct bw_http_opts ho = {.ca_file = e->o->ca_file};
	struct bw_fetcher *f = NULL;
	struct bw_err err = {0};
	struct bw_buf resp;
	json_t *body = sign_body(e, csr);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *url = NULL;
	char hdr[TOKEN_MAX + 16];
	const char *hdrs[] = {hdr, NULL};
	struct bw_http_request req = {.headers = hdrs};
	long status = 0;
	int rc;

	snprintf(hdr, sizeof(hdr), "OSF-TOKEN: %s", token);
	bw_buf_init(&resp, 1u << 20);
	rc = text && bw_path_join(e->server, "sign", &url) == 0 ? 0 : BW_ENOMEM;
	if (rc == 0)
		rc = bw_http_fetcher_new(&ho, &f, &err);
	req.url = url;
	req.body = text;
	req.body_len = text ? strlen(text) : 0;
	if (rc == 0)
		rc = bw_http_request(f, &req, &status, &resp, &err);
	if (rc == 0 && status != 201) {
		char said[121];

		bw_dev_printable(resp.data, resp.len, said, sizeof(said));
		rc = bw_err_set(&err, BW_ENET, "HTTP %ld: %s", status, said);
	}
	if (rc == 0)
		rc = bw_json_parse(resp.data, resp.len, NULL, &e->answer, &err);
	OPENSSL_cleanse(hdr, sizeof(hdr));
	bw_fetcher_free(f);
	bw_buf_dispose(&resp);
	json_decref(body);
	free(text);
	free(url);
	return rc ? say(BW_DEV_EXIT_FAIL, "POST /sign: %s", err.msg) : 0;
}

/* The certificate must carry our key: never store someone else's. */
static int check_cert(struct enroll *e, const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int ok = cert != NULL && EVP_PKEY_eq(X509_get0_pubkey(cert), e->pkey) == 1;

	X509_free(cert);
	BIO_free(bio);
	return ok ? 0 : say(BW_DEV_EXIT_FAIL, "the server's certificate does "
			    "not hold this device's key");
}

static const char *answer_str(struct enroll *e, const char *key)
{
	const json_t *v = json_object_get(e->answer, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int identity_text(struct enroll *e, struct bw_buf *b)
{
	char line[1400];
	int rc = 0;
	const char *kv[][3] = {
		{"server", "url", e->server},
		{"tls", "ca_file", "root.crt"},
		{"tls", "cert_file", "client.pem"},
		{"tls", "key_file", e->o->use_key_file ? "pkey.pem" : NULL},
		{"pkcs11", "module", e->o->pkcs11_module},
		{"pkcs11", "token_label", e->o->use_key_file ? NULL
							     : e->o->token_label},
		{"pkcs11", "key_label", e->o->use_key_file ? NULL : e->key_label},
		{"pkcs11", "pin_file", e->o->use_key_file ? NULL : e->o->pin_file},
		{"device", "uuid", e->uuid},
		{"device", "name", e->o->name},
		{"device", "hardware_id", e->hwid},
		{"device", "tag", e->tag},
	};
	const char *sec = "";

	for (size_t i = 0; rc == 0 && i < sizeof(kv) / sizeof(kv[0]); i++) {
		const char *v = kv[i][2];
		int file = strcmp(kv[i][0], "tls") == 0;

		if (v == NULL)
			continue;
		if (strcmp(sec, kv[i][0]) != 0)
			rc = bw_buf_append_str(b, (snprintf(line, sizeof(line),
				"[%s]\n", kv[i][0]), line));
		sec = kv[i][0];
		snprintf(line, sizeof(line), "%s = %s%s%s\n", kv[i][1],
			 file ? e->state_dir : "", file ? "/" : "", v);
		if (rc == 0)
			rc = bw_buf_append_str(b, line);
	}
	return rc;
}

static int store(struct enroll *e)
{
	const char *root = answer_str(e, "root.crt");
	const char *chain = answer_str(e, "client.chained");
	const char *cert = answer_str(e, "client.pem");
	const char *toml = answer_str(e, "sota.toml");
	struct bw_buf id;
	int rc;

	if (root == NULL || cert == NULL)
		return say(BW_DEV_EXIT_FAIL, "the server's answer lacks root.crt "
			   "or client.pem");
	if ((rc = check_cert(e, cert)) != 0)
		return rc;
	bw_buf_init(&id, 65536);
	/* The chain lets the gateway verify through an intermediate CA. */
	rc = write_file(e, "root.crt", root, strlen(root), 0644);
	if (rc == 0)
		rc = write_file(e, "client.pem", chain ? chain : cert,
				strlen(chain ? chain : cert), 0644);
	if (rc == 0 && toml != NULL)
		rc = write_file(e, "sota.toml", toml, strlen(toml), 0644);
	if (rc == 0 && !e->o->use_key_file) {
		struct bw_err err = {0};

		/* The certificate also goes next to its key in the token. */
		if (bw_dev_token_store_cert(&e->p11, e->key_label, key_id,
					    sizeof(key_id), cert, &err) != 0)
			rc = say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	}
	if (rc == 0 && identity_text(e, &id) != 0)
		rc = say(BW_DEV_EXIT_FAIL, "out of memory");
	/* Last: its presence means "registered". */
	if (rc == 0)
		rc = write_file(e, "identity.ini", id.data, id.len, 0600);
	bw_buf_dispose(&id);
	return rc;
}

static int already_registered(struct enroll *e)
{
	char *p = NULL;
	int exists;

	if (bw_path_join(e->state_dir, "identity.ini", &p) != 0)
		return say(BW_DEV_EXIT_FAIL, "out of memory");
	exists = access(p, F_OK) == 0;
	free(p);
	if (exists && !e->o->force)
		return say(BW_DEV_EXIT_ALREADY_REGISTERED, "already registered "
			   "(%s/identity.ini exists); --force replaces the "
			   "identity", e->state_dir);
	return 0;
}

/* Undo this run: files it wrote and the key it made in the token. */
static void cleanup(struct enroll *e, int failed)
{
	struct bw_err err = {0};

	for (size_t i = 0; i < e->nfiles; i++) {
		if (failed)
			bw_io_remove(e->files[i], NULL);
		free(e->files[i]);
	}
	bw_signer_free(e->signer);
	if (failed && e->key_created &&
	    bw_pkcs11_delete_key(&e->p11, NULL, &err) != 0)
		fprintf(stderr, "bulwark-device register: could not remove the "
				"new token key: %s\n", err.msg);
	EVP_PKEY_free(e->file_key);
	bw_pkcs11_pin_free(e->pin);
	json_decref(e->answer);
	bw_dev_config_dispose(&e->cfg);
}

int bw_dev_register(const struct bw_dev_register_opts *o)
{
	struct enroll e = {.o = o};
	struct bw_buf tok;
	char *csr = NULL;
	int rc;

	bw_buf_init_secret(&tok, TOKEN_MAX);
	rc = read_config(&e);
	if (rc == 0)
		rc = check_inputs(&e);
	if (rc == 0)
		rc = already_registered(&e);
	if (rc == 0)
		rc = read_token(o->token_file, &tok);
	if (rc == 0 && bw_io_mkdirs(e.state_dir, 0700, NULL) != 0)
		rc = say(BW_DEV_EXIT_FAIL, "%s: cannot create", e.state_dir);
	if (rc == 0)
		rc = o->use_key_file ? make_file_key(&e) : make_token_key(&e);
	if (rc == 0)
		rc = make_csr(&e, &csr);
	if (rc == 0)
		rc = post_sign(&e, csr, (const char *)tok.data);
	if (rc == 0)
		rc = store(&e);
	if (rc == 0)
		printf("registered %s (hardware id %s); identity in %s\n", e.uuid,
		       e.hwid, e.state_dir);
	cleanup(&e, rc != 0);
	bw_buf_dispose_secret(&tok);
	free(csr);
	return rc;
}
