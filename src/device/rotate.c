/*
 * Certificate rotation over EST (rotate.h, docs/device.md).
 *
 * Steps and durable writes (each counted by bw_dev_durable):
 *   1 journal "new-key"       (new label and id chosen)
 *   2 key pair in the token    (never extractable)
 *     simplereenroll over mTLS with the current key; GET cacerts
 *   3 journal "issued"        (holds the new certificate chain)
 *   4 the certificate file     client-<id>.pem
 *   5 the certificate in the token, beside its key
 *   6 identity.ini names the new key and certificate   <- the switch
 *   7 journal "switched"
 *     check-in (GET /device) with the new certificate: the server then
 *     completes the rotation and refuses the old certificate
 *   8 the old key pair (and its certificate) deleted from the token
 *   9 the old certificate file removed
 *  10 journal removed
 * Recovery by the journal's phase: "new-key" with no usable new key is
 * undone (the key's objects deleted); otherwise the request is sent again
 * with the same key (the server answers with the same certificate);
 * "issued" redoes 4-7; "switched" checks in and cleans up. Before step 6
 * identity.ini names the old identity, which the server accepts until the
 * new certificate is used; from step 6 on it names the new one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "bulwark/buf.h"
#include "bulwark/est.h"
#include "bulwark/json.h"
#include "bulwark/pkcs11.h"
#include "bulwark/pki.h"
#include "crash.h"
#include "enroll.h"
#include "events.h"
#include "rotate.h"

#define JOURNAL "rotation.json"
#define IDENTITY "identity.ini"
#define KEY_BASE "bulwark-device"
#define FILE_MAX (64u * 1024u)
#define ID_LEN 8

struct rot {
	struct bw_dev *d;
	char *jpath, *ipath;
	char *pin;
	char phase[16];
	char old_label[BW_PKCS11_LABEL_MAX + 1];
	char new_label[BW_PKCS11_LABEL_MAX + 1];
	char new_id[2 * ID_LEN + 1];
	char old_cert[1024], new_cert[1024];
	char *chain;	/* PEM: new certificate + issuing CA */
	char *est_url;	/* borrowed from cfg or est_info */
	json_t *est_info; /* GET /device "est" */
	struct bw_signer *signer; /* the new key */
};

static int say(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bulwark-device rotate-cert: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void p11_opts(const struct rot *r, const char *label,
		     struct bw_pkcs11_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->module_path = r->d->cfg.pkcs11_module;
	o->token_label = r->d->cfg.token_label;
	o->object_label = label;
	o->pin = r->pin;
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
	return strlen(hex) == 2 * n && bw_hex_decode(hex, 2 * n, out, n) == 0
		   ? 0
		   : -1;
}

/* ---- the journal ---------------------------------------------------------- */

static int journal_write(struct rot *r, const char *phase)
{
	struct bw_err err = {0};
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "phase", phase,
			      "old-label", r->old_label, "new-label",
			      r->new_label, "new-id", r->new_id, "old-cert",
			      r->old_cert, "new-cert", r->new_cert);
	char *text = NULL;
	int rc = BW_ENOMEM;

	if (j != NULL && r->chain != NULL)
		json_object_set_new(j, "chain", json_string(r->chain));
	if (j != NULL && (text = json_dumps(j, JSON_COMPACT)) != NULL)
		rc = bw_io_write_atomic(r->jpath, text, strlen(text), 0600,
					&err);
	free(text);
	json_decref(j);
	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "journal: %s", err.msg);
	snprintf(r->phase, sizeof(r->phase), "%s", phase);
	bw_dev_durable("rotation journal");
	return 0;
}

static int copy_field(json_t *j, const char *k, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(j, k));

	if (v == NULL || strlen(v) >= cap)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* 0 and the fields, BW_ENOTFOUND (no rotation), or an exit code. */
static int journal_read(struct rot *r)
{
	struct bw_err err = {0};
	struct bw_json_limits lim = {.max_bytes = FILE_MAX, .max_depth = 2};
	struct bw_buf b;
	json_t *j = NULL;
	uint8_t id[ID_LEN];
	int rc;

	bw_buf_init(&b, FILE_MAX);
	rc = bw_io_read_file(r->jpath, FILE_MAX, &b, &err);
	if (rc == BW_ENOTFOUND) {
		bw_buf_dispose(&b);
		return BW_ENOTFOUND;
	}
	if (rc == 0)
		rc = bw_json_parse(b.data, b.len, &lim, &j, &err);
	bw_buf_dispose(&b);
	if (rc == 0 &&
	    (copy_field(j, "phase", r->phase, sizeof(r->phase)) ||
	     copy_field(j, "old-label", r->old_label, sizeof(r->old_label)) ||
	     copy_field(j, "new-label", r->new_label, sizeof(r->new_label)) ||
	     copy_field(j, "new-id", r->new_id, sizeof(r->new_id)) ||
	     copy_field(j, "old-cert", r->old_cert, sizeof(r->old_cert)) ||
	     copy_field(j, "new-cert", r->new_cert, sizeof(r->new_cert)) ||
	     hex_to_bytes(r->new_id, id, ID_LEN)))
		rc = bw_err_set(&err, BW_EFORMAT, "fields missing");
	if (rc == 0 && json_is_string(json_object_get(j, "chain")) &&
	    (r->chain = strdup(json_string_value(
		 json_object_get(j, "chain")))) == NULL)
		rc = bw_err_set(&err, BW_ENOMEM, "out of memory");
	json_decref(j);
	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "%s: %s (remove it to start over)",
			   r->jpath, err.msg);
	return 0;
}

static int journal_remove(struct rot *r)
{
	struct bw_err err = {0};

	if (bw_io_remove(r->jpath, &err) != 0)
		return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	bw_dev_durable("rotation journal removed");
	r->phase[0] = '\0';
	return 0;
}

/* ---- talking to the server ----------------------------------------------- */

static int http(struct rot *r, const char *method, const char *url,
		const char *ctype, const void *body, size_t len, long *status,
		struct bw_buf *resp)
{
	struct bw_err err = {0};
	struct bw_fetcher *f = NULL;
	struct bw_http_request req = {.method = method,
				      .url = url,
				      .content_type = ctype,
				      .body = body,
				      .body_len = len,
				      .max_response = FILE_MAX};
	int rc = bw_dev_fetcher(r->d, &f, &err);

	if (rc == 0)
		rc = bw_http_request(f, &req, status, resp, &err);
	if (rc != 0)
		say(BW_DEV_EXIT_CHECKIN_FAILED, "%s: %s", url, err.msg);
	return rc;
}

/* GET /device on the gateway: the est object (also a check-in). */
static int device_info(struct rot *r, long *status)
{
	struct bw_json_limits lim = {.max_bytes = FILE_MAX, .max_depth = 4};
	struct bw_buf resp;
	char *url = NULL;
	json_t *j = NULL;
	int rc;

	*status = 0;
	bw_buf_init(&resp, FILE_MAX);
	if (bw_path_join(r->d->cfg.server_url, "device", &url) != 0) {
		bw_buf_dispose(&resp);
		return BW_ENOMEM;
	}
	rc = http(r, "GET", url, NULL, NULL, 0, status, &resp);
	if (rc == 0 && *status == 200 &&
	    bw_json_parse(resp.data, resp.len, &lim, &j, NULL) == 0) {
		json_decref(r->est_info);
		r->est_info = json_incref(json_object_get(j, "est"));
	}
	json_decref(j);
	free(url);
	bw_buf_dispose(&resp);
	return rc;
}

static int est_url(struct rot *r)
{
	long status = 0;
	const char *u = NULL;

	if (r->d->cfg.est_url != NULL) {
		r->est_url = r->d->cfg.est_url;
		return 0;
	}
	if (r->est_info == NULL && device_info(r, &status) != 0)
		return BW_DEV_EXIT_CHECKIN_FAILED;
	u = json_string_value(json_object_get(r->est_info, "url"));
	if (u == NULL)
		return say(BW_DEV_EXIT_FAIL, "no EST URL: set [server] est_url "
			   "or the server's [est] url");
	r->est_url = (char *)u; /* borrowed from est_info */
	return 0;
}

static char *est_op_url(struct rot *r, const char *op)
{
	char path[64], *url = NULL;

	snprintf(path, sizeof(path), ".well-known/est/%s", op);
	return bw_path_join(r->est_url, path, &url) == 0 ? url : NULL;
}

/* ---- the CSR and the answer ---------------------------------------------- */

static int current_cert(struct rot *r, X509 **out)
{
	struct bw_err err = {0};
	int rc = bw_pki_cert_load(r->d->cfg.cert_file, out, &err);

	return rc ? say(BW_DEV_EXIT_FAIL, "%s", err.msg) : 0;
}

/* base64 DER CSR: the current certificate's subject (RFC 7030 4.2.2),
 * the new key, signed by it. */
static int make_csr(struct rot *r, char **b64, size_t *len)
{
	X509 *cur = NULL;
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	int n = 0, rc = current_cert(r, &cur);

	*b64 = NULL;
	if (rc != 0)
		goto out;
	rc = BW_DEV_EXIT_FAIL;
	if (req == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_subject_name(req, X509_get_subject_name(cur)) != 1 ||
	    X509_REQ_set_pubkey(req, r->signer->pkey) != 1 ||
	    X509_REQ_sign(req, r->signer->pkey, EVP_sha256()) <= 0 ||
	    (n = i2d_X509_REQ(req, &der)) <= 0 ||
	    (*b64 = malloc((size_t)n / 3 * 4 + 8)) == NULL) {
		say(rc, "could not build the CSR with the new key");
		goto out;
	}
	*len = (size_t)EVP_EncodeBlock((unsigned char *)*b64, der, n);
	rc = 0;
out:
	OPENSSL_free(der);
	X509_REQ_free(req);
	X509_free(cur);
	return rc;
}

static int append_pem(X509 *x, struct bw_buf *b)
{
	char *pem = NULL;
	size_t n = 0;
	int rc = bw_pki_cert_pem(x, &pem, &n, NULL);

	if (rc == 0)
		rc = bw_buf_append(b, pem, n);
	free(pem);
	return rc;
}

/* The issuing CA of cert from GET cacerts (the chain the gateway needs). */
static int fetch_issuer(struct rot *r, X509 *cert, struct bw_buf *chain)
{
	struct bw_err err = {0};
	struct bw_buf resp;
	STACK_OF(X509) *cas = NULL;
	char *url = est_op_url(r, "cacerts");
	long status = 0;
	int rc = BW_ENOMEM;

	bw_buf_init(&resp, FILE_MAX);
	if (url != NULL)
		rc = http(r, "GET", url, NULL, NULL, 0, &status, &resp);
	if (rc == 0 && status != 200)
		rc = bw_err_set(&err, BW_ENET, "cacerts: HTTP %ld", status);
	if (rc == 0)
		rc = bw_est_certs_parse(resp.data, resp.len, &cas, &err);
	for (int i = 0; rc == 0 && i < sk_X509_num(cas); i++) {
		X509 *ca = sk_X509_value(cas, i);

		if (X509_NAME_cmp(X509_get_subject_name(ca),
				  X509_get_issuer_name(cert)) == 0 &&
		    X509_verify(cert, X509_get0_pubkey(ca)) == 1) {
			rc = append_pem(ca, chain) ? BW_ENOMEM : 1;
			break;
		}
	}
	sk_X509_pop_free(cas, X509_free);
	free(url);
	bw_buf_dispose(&resp);
	return rc == 1 ? 0 : rc ? rc : BW_ENOTFOUND;
}

/* The answer must hold one certificate for our new key and subject. */
static int take_answer(struct rot *r, const struct bw_buf *resp)
{
	struct bw_err err = {0};
	STACK_OF(X509) *got = NULL;
	X509 *cur = NULL, *cert = NULL;
	struct bw_buf chain;
	int rc = bw_est_certs_parse(resp->data, resp->len, &got, &err);

	bw_buf_init(&chain, FILE_MAX);
	if (rc != 0) {
		rc = say(BW_DEV_EXIT_FAIL, "the server's answer: %s", err.msg);
		goto out;
	}
	cert = sk_X509_value(got, 0);
	if ((rc = current_cert(r, &cur)) != 0)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), r->signer->pkey) != 1 ||
	    X509_NAME_cmp(X509_get_subject_name(cert),
			  X509_get_subject_name(cur)) != 0) {
		rc = say(BW_DEV_EXIT_FAIL, "the server's certificate is not "
			 "for the new key and this device");
		goto out;
	}
	if (append_pem(cert, &chain) != 0 ||
	    (rc = fetch_issuer(r, cert, &chain)) != 0) {
		rc = say(BW_DEV_EXIT_CHECKIN_FAILED, "no issuing CA for the "
			 "new certificate in cacerts");
		goto out;
	}
	if ((r->chain = strndup((const char *)chain.data, chain.len)) == NULL)
		rc = say(BW_DEV_EXIT_FAIL, "out of memory");
out:
	bw_buf_dispose(&chain);
	X509_free(cur);
	sk_X509_pop_free(got, X509_free);
	return rc;
}

/*
 * simplereenroll with the new key, authenticated by the current one.
 * *refused = 1 when the server refused for good (4xx other than 408, 409,
 * 429): nothing was issued for this key.
 */
static int request(struct rot *r, int *refused)
{
	struct bw_buf resp;
	char *b64 = NULL, *url = NULL;
	size_t len = 0;
	long status = 0;
	int rc;

	*refused = 0;
	bw_buf_init(&resp, FILE_MAX);
	if ((rc = est_url(r)) != 0 || (rc = make_csr(r, &b64, &len)) != 0)
		goto out;
	if ((url = est_op_url(r, "simplereenroll")) == NULL) {
		rc = say(BW_DEV_EXIT_FAIL, "out of memory");
		goto out;
	}
	if (http(r, "POST", url, "application/pkcs10", b64, len, &status,
		 &resp) != 0) {
		rc = BW_DEV_EXIT_CHECKIN_FAILED;
		goto out;
	}
	if (status != 200) {
		char said[81];

		bw_dev_printable(resp.data, resp.len, said, sizeof(said));
		*refused = status >= 400 && status < 500 && status != 408 &&
			   status != 409 && status != 429;
		rc = say(*refused ? BW_DEV_EXIT_FAIL
				  : BW_DEV_EXIT_CHECKIN_FAILED,
			 "simplereenroll: HTTP %ld: %s", status, said);
		goto out;
	}
	rc = take_answer(r, &resp);
out:
	free(b64);
	free(url);
	bw_buf_dispose(&resp);
	return rc;
}

/* ---- the token ------------------------------------------------------------ */

static int open_new_key(struct rot *r)
{
	struct bw_pkcs11_opts o;
	struct bw_err err = {0};

	p11_opts(r, r->new_label, &o);
	return bw_pkcs11_signer_open(&o, &r->signer, &err);
}

static int make_new_key(struct rot *r)
{
	struct bw_err err = {0};
	uint8_t id[ID_LEN];
	struct bw_pkcs11_newkey k = {
	    .module_path = r->d->cfg.pkcs11_module,
	    .token_label = r->d->cfg.token_label,
	    .pin = r->pin,
	    .label = r->new_label,
	    .id = id,
	    .id_len = ID_LEN,
	};
	int rc;

	hex_to_bytes(r->new_id, id, ID_LEN);
	rc = bw_pkcs11_key_create(&k, &r->signer, NULL, &err);
	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "new key in the token: %s",
			   err.msg);
	bw_dev_durable("rotation: token key");
	return 0;
}

/* Delete every object of label (absent is fine). */
static int delete_label(struct rot *r, const char *label, const char *what)
{
	struct bw_pkcs11_opts o;
	struct bw_err err = {0};
	int rc;

	p11_opts(r, label, &o);
	rc = bw_pkcs11_delete_key(&o, NULL, &err);
	if (rc != 0 && rc != BW_ENOTFOUND)
		return say(BW_DEV_EXIT_FAIL, "deleting %s: %s", what, err.msg);
	bw_dev_durable(what);
	return 0;
}

/* Undo a rotation whose new key never got a certificate. */
static int undo(struct rot *r)
{
	int rc;

	bw_signer_free(r->signer);
	r->signer = NULL;
	if ((rc = delete_label(r, r->new_label, "rotation: new key removed")))
		return rc;
	return journal_remove(r);
}

/* ---- switching identity ----------------------------------------------------- */

/* identity.ini (written by `register`) with the new key and certificate. */
static int identity_switch(struct rot *r)
{
	struct bw_err err = {0};
	struct bw_buf in, out;
	int seen = 0, rc;

	bw_buf_init(&in, FILE_MAX);
	bw_buf_init(&out, FILE_MAX);
	rc = bw_io_read_file(r->ipath, FILE_MAX, &in, &err);
	for (char *line = (char *)in.data, *nl = NULL; rc == 0 && line &&
	     *line; line = nl ? nl + 1 : NULL) {
		char repl[1200];

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, "key_label = ", 12)) {
			snprintf(repl, sizeof(repl), "key_label = %s",
				 r->new_label);
			line = repl, seen |= 1;
		} else if (!strncmp(line, "cert_file = ", 12)) {
			snprintf(repl, sizeof(repl), "cert_file = %s",
				 r->new_cert);
			line = repl, seen |= 2;
		}
		if (bw_buf_append_str(&out, line) || bw_buf_append(&out, "\n", 1))
			rc = bw_err_set(&err, BW_ENOMEM, "out of memory");
	}
	if (rc == 0 && seen != 3)
		rc = bw_err_set(&err, BW_EFORMAT, "no key_label / cert_file");
	if (rc == 0)
		rc = bw_io_write_atomic(r->ipath, out.data, out.len, 0600, &err);
	bw_buf_dispose(&in);
	bw_buf_dispose(&out);
	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "%s: %s", r->ipath, err.msg);
	bw_dev_durable("rotation: identity");
	return 0;
}

/* Steps 4-7: certificate file, token certificate, identity, journal. */
static int install(struct rot *r)
{
	struct bw_pkcs11_opts o;
	struct bw_err err = {0};
	uint8_t id[ID_LEN];
	int rc = bw_io_write_atomic(r->new_cert, r->chain, strlen(r->chain),
				    0644, &err);

	if (rc != 0)
		return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	bw_dev_durable("rotation: certificate file");
	p11_opts(r, NULL, &o);
	hex_to_bytes(r->new_id, id, ID_LEN);
	/* the first PEM of the chain is the device certificate */
	if ((rc = bw_dev_token_store_cert(&o, r->new_label, id, ID_LEN,
					  r->chain, &err)) != 0)
		return say(BW_DEV_EXIT_FAIL, "certificate into the token: %s",
			   err.msg);
	bw_dev_durable("rotation: token certificate");
	if ((rc = identity_switch(r)) != 0)
		return rc;
	return journal_write(r, "switched");
}

/* Use the identity identity.ini now names (new fetcher, new key). */
static int reload(struct rot *r)
{
	struct bw_dev *d = r->d;
	struct bw_err err = {0};

	bw_fetcher_free(d->fetcher);
	d->fetcher = NULL;
	bw_signer_free(d->signer);
	d->signer = NULL;
	bw_dev_config_dispose(&d->cfg);
	bw_dev_config_init(&d->cfg);
	if (bw_dev_config_load(&d->cfg, d->config_path, &err) != 0)
		return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	if (d->cfg.key_label == NULL || strcmp(d->cfg.key_label, r->new_label) ||
	    d->cfg.cert_file == NULL || strcmp(d->cfg.cert_file, r->new_cert))
		return say(BW_DEV_EXIT_FAIL, "the configuration names the key "
			   "or certificate itself; identity.ini must");
	return 0;
}

/* Check in with the new certificate, then drop the old identity. */
static int confirm(struct rot *r)
{
	long status = 0;
	int rc = reload(r);

	if (rc != 0)
		return rc;
	if (device_info(r, &status) != 0)
		return BW_DEV_EXIT_CHECKIN_FAILED;
	if (status != 200)
		return say(BW_DEV_EXIT_CHECKIN_FAILED, "check-in with the new "
			   "certificate: HTTP %ld", status);
	if ((rc = delete_label(r, r->old_label, "rotation: old key removed")))
		return rc;
	if (strcmp(r->old_cert, r->new_cert) != 0) {
		struct bw_err err = {0};

		if (bw_io_remove(r->old_cert, &err) != 0)
			return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
		bw_dev_durable("rotation: old certificate file");
	}
	if ((rc = journal_remove(r)) != 0)
		return rc;
	printf("certificate rotated: key %s, certificate %s\n", r->new_label,
	       r->new_cert);
	return BW_DEV_EXIT_OK;
}

/* ---- the flow --------------------------------------------------------------- */

static int begin(struct rot *r)
{
	uint8_t id[ID_LEN];
	struct bw_dev_config *c = &r->d->cfg;
	char name[64];
	char *path = NULL;

	if (RAND_bytes(id, sizeof(id)) != 1)
		return say(BW_DEV_EXIT_FAIL, "no random bytes");
	bw_hex_encode(id, ID_LEN, r->new_id);
	snprintf(r->new_label, sizeof(r->new_label), "%s-%s", KEY_BASE,
		 r->new_id);
	snprintf(r->old_label, sizeof(r->old_label), "%s",
		 c->key_label ? c->key_label : KEY_BASE);
	snprintf(r->old_cert, sizeof(r->old_cert), "%s", c->cert_file);
	snprintf(name, sizeof(name), "client-%s.pem", r->new_id);
	if (bw_path_join(c->state_dir, name, &path) != 0)
		return say(BW_DEV_EXIT_FAIL, "out of memory");
	snprintf(r->new_cert, sizeof(r->new_cert), "%s", path);
	free(path);
	return journal_write(r, "new-key");
}

/* From a journal in "new-key" (or a fresh start): the key, the request. */
static int from_new_key(struct rot *r, int fresh)
{
	int refused = 0, rc;

	if (fresh)
		rc = make_new_key(r);
	else if (open_new_key(r) != 0)
		return undo(r) ? BW_DEV_EXIT_FAIL : -1; /* -1: start over */
	else
		rc = 0;
	if (rc != 0) {
		undo(r);
		return rc;
	}
	rc = request(r, &refused);
	if (rc != 0) {
		if (refused)
			undo(r);
		return rc;
	}
	if ((rc = journal_write(r, "issued")) != 0)
		return rc;
	if ((rc = install(r)) != 0)
		return rc;
	return confirm(r);
}

/* Is a rotation due: inside the renewal window, or asked by the server?
 * Returns an exit code; *yes the answer. */
static int due(struct rot *r, int *yes)
{
	X509 *cur = NULL;
	long status = 0;
	int days = 0, secs = 0, rc;
	json_int_t before = 0;

	*yes = 0;
	if (device_info(r, &status) != 0 || status != 200 || !r->est_info)
		return BW_DEV_EXIT_CHECKIN_FAILED;
	if (json_is_true(json_object_get(r->est_info, "rotate"))) {
		*yes = 1;
		return 0;
	}
	before = json_integer_value(
	    json_object_get(r->est_info, "renew-before-days"));
	if ((rc = current_cert(r, &cur)) != 0)
		return rc;
	*yes = ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cur)) ==
		   1 &&
	       (int64_t)days * 86400 + secs < (int64_t)before * 86400;
	X509_free(cur);
	return 0;
}

static int prepare(struct rot *r)
{
	struct bw_dev *d = r->d;
	struct bw_err err = {0};

	if (bw_path_join(d->cfg.state_dir, JOURNAL, &r->jpath) != 0 ||
	    bw_path_join(d->cfg.state_dir, IDENTITY, &r->ipath) != 0)
		return say(BW_DEV_EXIT_FAIL, "out of memory");
	if (access(r->ipath, F_OK) != 0)
		return say(BW_DEV_EXIT_NOT_REGISTERED, "not registered (%s "
			   "missing)", r->ipath);
	if (d->cfg.token_label == NULL || d->cfg.pin_file == NULL ||
	    d->cfg.cert_file == NULL)
		return say(BW_DEV_EXIT_USAGE, "rotation needs a token "
			   "identity ([pkcs11] token_label, pin_file)");
	if (bw_pkcs11_pin_from_file(d->cfg.pin_file, &r->pin, &err) != 0)
		return say(BW_DEV_EXIT_FAIL, "%s", err.msg);
	return 0;
}

int bw_dev_rotate(struct bw_dev *d, enum bw_dev_rotate_when when)
{
	struct rot r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.d = d;
	if ((rc = prepare(&r)) != 0)
		goto out;
	rc = journal_read(&r);
	if (rc == 0) { /* an interrupted rotation: finish or undo it */
		if (!strcmp(r.phase, "new-key"))
			rc = from_new_key(&r, 0);
		else if (!strcmp(r.phase, "issued") && r.chain != NULL)
			rc = install(&r) ? BW_DEV_EXIT_FAIL : confirm(&r);
		else if (!strcmp(r.phase, "switched"))
			rc = confirm(&r);
		else
			rc = say(BW_DEV_EXIT_FAIL, "%s: unknown phase", r.jpath);
		if (rc != -1)
			goto out;
	} else if (rc != BW_ENOTFOUND) {
		goto out;
	}
	if (when == BW_DEV_ROTATE_IF_DUE) {
		int yes = 0;

		if ((rc = due(&r, &yes)) != 0 || !yes)
			goto out;
	}
	if ((rc = begin(&r)) == 0)
		rc = from_new_key(&r, 1);
out:
	bw_signer_free(r.signer);
	bw_pkcs11_pin_free(r.pin);
	json_decref(r.est_info);
	free(r.chain);
	free(r.jpath);
	free(r.ipath);
	return rc < 0 ? BW_DEV_EXIT_FAIL : rc;
}

int bw_dev_rotate_in_progress(const struct bw_dev *d)
{
	char *p = NULL;
	int yes = 0;

	if (bw_path_join(d->cfg.state_dir, JOURNAL, &p) == 0)
		yes = access(p, F_OK) == 0;
	free(p);
	return yes;
}

int bw_dev_rotate_enabled(const struct bw_dev *d)
{
	char *p = NULL;
	int yes = 0;

	if (d->cfg.token_label == NULL || d->cfg.pin_file == NULL ||
	    d->cfg.state_dir == NULL)
		return 0;
	if (bw_path_join(d->cfg.state_dir, IDENTITY, &p) == 0)
		yes = access(p, F_OK) == 0;
	free(p);
	return yes;
}
