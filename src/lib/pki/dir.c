/*
 * The PKI directory (docs/pki.md): staged commits, derived files (bundle,
 * CRLs, state.json), creating and opening a directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "pki/pki_priv.h"
#include "util/journal.h"

#define CERT_FILE_MAX (64u * 1024u)
#define URI_MAX 4096u

/* ---- staged commits ------------------------------------------------- */

int bw_pki__txn_add(struct bw_pki__txn *t, const char *name, const void *data,
		    size_t len, mode_t mode, struct bw_err *err)
{
	struct bw_pki__txn_file *f = NULL, *arr;
	char *copy, *nm;

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->f[i].name, name) == 0)
			f = &t->f[i];
	copy = malloc(len + 1);
	if (copy == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	memcpy(copy, data, len);
	copy[len] = '\0';
	if (f != NULL) {
		OPENSSL_cleanse(f->data, f->len);
		free(f->data);
		f->data = copy;
		f->len = len;
		f->mode = mode;
		return 0;
	}
	nm = strdup(name);
	arr = nm != NULL ? realloc(t->f, (t->n + 1) * sizeof(*arr)) : NULL;
	if (arr == NULL) {
		free(nm);
		OPENSSL_cleanse(copy, len);
		free(copy);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	t->f = arr;
	t->f[t->n].name = nm;
	t->f[t->n].data = copy;
	t->f[t->n].len = len;
	t->f[t->n].mode = mode;
	t->n++;
	return 0;
}

void bw_pki__txn_dispose(struct bw_pki__txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		OPENSSL_cleanse(t->f[i].data, t->f[i].len);
		free(t->f[i].data);
		free(t->f[i].name);
	}
	free(t->f);
	t->f = NULL;
	t->n = 0;
}

/*
 * Every staged file through the shared journal (util/journal.h): all are
 * written and fsync'd as <name>.bw-new first; a failure there leaves the
 * directory as it was. Once the journal is written the commit is decided
 * and a kill is rolled forward by the next exclusive open (pki_open).
 */
int bw_pki__txn_commit(struct bw_pki__txn *t, const char *dir,
		       struct bw_err *err)
{
	struct bw_journal j;
	int rc = 0;

	bw_journal_init(&j, dir);
	for (size_t i = 0; rc == 0 && i < t->n; i++)
		rc = bw_journal_put(&j, t->f[i].name, t->f[i].data, t->f[i].len,
				    t->f[i].mode, err);
	if (rc == 0)
		rc = bw_journal_commit(&j, err);
	bw_journal_dispose(&j);
	return rc;
}

/* ---- helpers --------------------------------------------------------- */

int bw_pki__read(const struct bw_pki *pki, const char *name, size_t max,
		 char **out, size_t *len, struct bw_err *err)
{
	struct bw_buf b;
	char *path = NULL;
	uint8_t *data = NULL;
	int rc;

	*out = NULL;
	bw_buf_init(&b, max);
	if (bw_path_join(pki->dir, name, &path) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_io_read_file(path, max, &b, err);
	if (rc == 0)
		rc = bw_buf_steal(&b, &data, len);
	if (rc == 0)
		*out = (char *)data;
	bw_buf_dispose_secret(&b);
	free(path);
	return rc;
}

struct bw_pki__ca *bw_pki__find_ca(struct bw_pki *pki, const char *base)
{
	for (size_t i = 0; i < pki->st.ncas; i++)
		if (strcmp(pki->st.cas[i].base, base) == 0)
			return &pki->st.cas[i];
	return NULL;
}

int bw_pki__need_factory_key(struct bw_pki *pki, struct bw_err *err)
{
	if (pki->factory_key == NULL)
		return bw_err_set(err, BW_ESTATE,
				  "the factory CA key is not loaded");
	return 0;
}

int bw_pki__ca_key(struct bw_pki *pki, struct bw_pki__ca *c,
		   struct bw_err *err)
{
	char name[BW_PKI_CA_NAME_MAX + 32], *path = NULL;
	int rc;

	if (c->key != NULL)
		return 0;
	if (!c->has_key)
		return bw_err_set(err, BW_ENOTFOUND,
				  "the key of device CA %s is not in this "
				  "directory", c->base);
	snprintf(name, sizeof(name), "%s.key", c->base);
	if (bw_path_join(pki->dir, name, &path) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_pki_key_load(path, &c->key, err);
	free(path);
	if (rc != 0)
		return rc;
	if (X509_check_private_key(c->cert, c->key) != 1) {
		EVP_PKEY_free(c->key);
		c->key = NULL;
		return bw_err_set(err, BW_EFORMAT,
				  "%s.key does not match %s.pem", c->base,
				  c->base);
	}
	return 0;
}

/* Append a PEM to a growing text (bundle files). */
static int text_append(char **text, size_t *len, const char *add,
		       size_t addlen, struct bw_err *err)
{
	char *n = realloc(*text, *len + addlen + 1);

	if (n == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	memcpy(n + *len, add, addlen);
	*len += addlen;
	n[*len] = '\0';
	*text = n;
	return 0;
}

/* Sign one CRL and stage it as crl/<file>; append it to *all. */
static int stage_crl(struct bw_pki *pki, X509 *ca, EVP_PKEY *key,
		     const struct bw_pki_crl_entry *e, size_t n,
		     const char *file, time_t now, struct bw_pki__txn *t,
		     char **all, size_t *alllen, struct bw_err *err)
{
	X509_CRL *crl = NULL;
	char *pem = NULL, name[BW_PKI_CA_NAME_MAX + 40];
	size_t len = 0;
	int rc;

	rc = bw_pki_crl_build(ca, key, e, n, pki->st.crl_number, now,
			      BW_PKI_CRL_DAYS, &crl, err);
	if (rc == 0)
		rc = bw_pki_crl_pem(crl, &pem, &len, err);
	if (rc != 0)
		goto out;
	snprintf(name, sizeof(name), "crl/%s.crl", file);
	rc = bw_pki__txn_add(t, name, pem, len, 0644, err);
	if (rc == 0)
		rc = text_append(all, alllen, pem, len, err);
out:
	free(pem);
	X509_CRL_free(crl);
	return rc;
}

static int stage_crls(struct bw_pki *pki, time_t now, struct bw_pki__txn *t,
		      struct bw_err *err)
{
	struct bw_pki__state *st = &pki->st;
	struct bw_pki_crl_entry *e = NULL;
	size_t n = 0, cap = st->ncas > st->nrevoked ? st->ncas : st->nrevoked;
	char *all = NULL;
	size_t alllen = 0;
	int rc;

	e = calloc(cap + 1, sizeof(*e));
	if (e == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	/* The factory CA's CRL: disabled (hold) and revoked device CAs. */
	for (size_t i = 0; i < st->ncas; i++) {
		if (st->cas[i].status == BW_PKI_CA_ENABLED)
			continue;
		e[n].serial_hex = st->cas[i].serial;
		e[n].revoked_at = (time_t)st->cas[i].since;
		e[n].reason = st->cas[i].reason;
		n++;
	}
	rc = stage_crl(pki, pki->factory_ca, pki->factory_key, e, n,
		       "factory_ca", now, t, &all, &alllen, err);
	/* One CRL per device CA whose key is here: its revoked devices. */
	for (size_t i = 0; rc == 0 && i < st->ncas; i++) {
		struct bw_pki__ca *c = &st->cas[i];

		if (!c->has_key)
			continue;
		rc = bw_pki__ca_key(pki, c, err);
		if (rc != 0)
			break;
		n = 0;
		for (size_t k = 0; k < st->nrevoked; k++) {
			if (strcmp(st->revoked[k].issuer, c->base) != 0)
				continue;
			e[n].serial_hex = st->revoked[k].serial;
			e[n].revoked_at = (time_t)st->revoked[k].at;
			e[n].reason = st->revoked[k].reason;
			n++;
		}
		rc = stage_crl(pki, c->cert, c->key, e, n, c->base, now, t,
			       &all, &alllen, err);
	}
	if (rc == 0)
		rc = bw_pki__txn_add(t, "crl/all.crl", all, alllen, 0644, err);
	free(all);
	free(e);
	return rc;
}

int bw_pki__stage_state(struct bw_pki *pki, struct bw_pki__txn *t,
			struct bw_err *err)
{
	char *json = NULL;
	size_t len = 0;
	int rc;

	rc = bw_pki__state_serialize(&pki->st, &json, &len, err);
	if (rc == 0)
		rc = bw_pki__txn_add(t, "state.json", json, len, 0644, err);
	free(json);
	return rc;
}

int bw_pki__stage_derived(struct bw_pki *pki, time_t now,
			  struct bw_pki__txn *t, struct bw_err *err)
{
	char *bundle = NULL, *pem = NULL;
	size_t blen = 0, plen = 0;
	int rc;

	rc = bw_pki__need_factory_key(pki, err);
	if (rc != 0)
		return rc;
	pki->st.crl_number++;
	rc = bundle != NULL ? 0 : text_append(&bundle, &blen, "", 0, err);
	for (size_t i = 0; rc == 0 && i < pki->st.ncas; i++) {
		if (pki->st.cas[i].status != BW_PKI_CA_ENABLED)
			continue;
		rc = bw_pki_cert_pem(pki->st.cas[i].cert, &pem, &plen, err);
		if (rc == 0)
			rc = text_append(&bundle, &blen, pem, plen, err);
		free(pem);
		pem = NULL;
	}
	if (rc == 0)
		rc = bw_pki__txn_add(t, "device-cas.pem", bundle, blen, 0644,
				     err);
	if (rc == 0)
		rc = stage_crls(pki, now, t, err);
	if (rc == 0)
		rc = bw_pki__stage_state(pki, t, err);
	free(bundle);
	return rc;
}

/* ---- open / free ------------------------------------------------------ */

void bw_pki_free(struct bw_pki *pki)
{
	if (pki == NULL)
		return;
	free(pki->dir);
	X509_free(pki->factory_ca);
	EVP_PKEY_free(pki->factory_key);
	free(pki->factory_uri);
	bw_pki__state_dispose(&pki->st);
	if (pki->lock_fd >= 0)
		close(pki->lock_fd); /* releases the flock */
	free(pki);
}

/* How long a writer waits for the directory (others' commands and
 * bulwarkd's reloads hold it for a moment), and how long a reader does:
 * bulwarkd reloads from its event loop, so it waits little and keeps its
 * current policy when the directory stays busy. */
#define LOCK_WAIT_WRITER_MS 10000
#define LOCK_WAIT_READER_MS 1000
#define LOCK_RETRY_MS 20

/*
 * One writer at a time: two operators changing the same directory at once
 * would lose one's state.json update. The lock is an flock on the
 * directory itself, so nothing is added to it. Readers that never write
 * (bulwarkd's trust policy) share it: several gateways or workers on one
 * host load the directory at once, and none while a writer holds it.
 * A busy directory is waited for (bounded), not refused at once.
 */
static int lock_dir(struct bw_pki *pki, int how, struct bw_err *err)
{
	int waited = 0;
	int limit = how == LOCK_EX ? LOCK_WAIT_WRITER_MS : LOCK_WAIT_READER_MS;

	pki->lock_fd = open(pki->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pki->lock_fd < 0 && errno == ENOENT)
		return bw_err_set(err, BW_ENOTFOUND,
				  "%s: no such PKI directory (run `bulwark "
				  "keys ca create` first)", pki->dir);
	if (pki->lock_fd < 0)
		return bw_err_set(err, BW_EIO, "%s: %s", pki->dir,
				  strerror(errno));
	while (flock(pki->lock_fd, how | LOCK_NB) != 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    waited >= limit)
			return bw_err_set(err, BW_ESTATE,
					  "%s is in use by another bulwark "
					  "process",
					  pki->dir);
		usleep(LOCK_RETRY_MS * 1000);
		waited += LOCK_RETRY_MS;
	}
	return 0;
}

/*
 * An interrupted commit (a journal left in the directory) is finished
 * before anything is read, and only under the exclusive lock. A writer
 * holds that lock already. A reader never reads a half-committed
 * directory and never rolls forward under its shared lock: it converts
 * to the exclusive lock (retried for at most LOCK_WAIT_READER_MS while
 * other readers finish or do the same), rolls forward, and converts back.
 * If it cannot get the exclusive lock in that time it fails as "in use".
 * (A failed conversion leaves no lock held, which lets a competing reader
 * through first: flock(2) drops the old lock before taking the new.)
 */
static int settle(struct bw_pki *pki, int how, struct bw_err *err)
{
	struct timespec pause = {0, LOCK_RETRY_MS * 1000 * 1000};
	int rc, waited = 0;

	if (how == LOCK_EX)
		return bw_journal_recover(pki->dir, err);
	if (!bw_journal_pending(pki->dir))
		return 0;
	while (flock(pki->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    waited >= LOCK_WAIT_READER_MS)
			return bw_err_set(err, BW_ESTATE,
					  "%s has an interrupted change and is "
					  "in use by another bulwark process",
					  pki->dir);
		(void)nanosleep(&pause, NULL);
		waited += LOCK_RETRY_MS;
	}
	rc = bw_journal_recover(pki->dir, err);
	if (flock(pki->lock_fd, LOCK_SH | LOCK_NB) != 0 && rc == 0)
		rc = bw_err_set(err, BW_ESTATE,
				"%s is in use by another bulwark process",
				pki->dir);
	return rc;
}

static int file_exists(const char *dir, const char *name)
{
	char *p = NULL;
	struct stat st;
	int r;

	if (bw_path_join(dir, name, &p) != 0)
		return 1; /* fail closed */
	r = lstat(p, &st) == 0;
	free(p);
	return r;
}

static int load_ca_cert(struct bw_pki *pki, struct bw_pki__ca *c,
			struct bw_err *err)
{
	char name[BW_PKI_CA_NAME_MAX + 32], *path = NULL, *serial = NULL;
	EVP_PKEY *fpub = X509_get0_pubkey(pki->factory_ca);
	int rc;

	snprintf(name, sizeof(name), "%s.pem", c->base);
	if (bw_path_join(pki->dir, name, &path) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_pki_cert_load(path, &c->cert, err);
	if (rc != 0)
		goto out;
	rc = bw_pki_serial_hex(c->cert, &serial, err);
	if (rc != 0)
		goto out;
	if (strcmp(serial, c->serial) != 0 || fpub == NULL ||
	    X509_verify(c->cert, fpub) != 1) {
		rc = bw_err_set(err, BW_EFORMAT,
				"%s does not match state.json or is not signed "
				"by the factory CA", name);
		goto out;
	}
out:
	free(serial);
	free(path);
	return rc;
}

static int load_uri(struct bw_pki *pki, struct bw_err *err)
{
	size_t len = 0;
	int rc;

	rc = bw_pki__read(pki, "factory_ca.uri", URI_MAX, &pki->factory_uri,
			  &len, err);
	if (rc != 0)
		return rc;
	while (len > 0 && (pki->factory_uri[len - 1] == '\n' ||
			   pki->factory_uri[len - 1] == '\r' ||
			   pki->factory_uri[len - 1] == ' '))
		pki->factory_uri[--len] = '\0';
	if (len < 8 || strncmp(pki->factory_uri, "pkcs11:", 7) != 0 ||
	    memchr(pki->factory_uri, '\0', len) != NULL)
		return bw_err_set(err, BW_EFORMAT,
				  "factory_ca.uri is not a pkcs11: URI");
	return 0;
}

static int pki_open(const char *dir, int how, struct bw_pki **out,
		    struct bw_err *err)
{
	struct bw_pki *pki = calloc(1, sizeof(*pki));
	char *path = NULL, *state = NULL;
	size_t slen = 0;
	int rc;

	*out = NULL;
	if (pki == NULL || (pki->dir = strdup(dir)) == NULL) {
		free(pki);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	pki->lock_fd = -1;
	rc = lock_dir(pki, how, err);
	if (rc == 0)
		rc = settle(pki, how, err);
	if (rc != 0)
		goto out;
	if (bw_path_join(dir, "factory_ca.pem", &path) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = bw_pki_cert_load(path, &pki->factory_ca, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc, "%s: no factory CA here (run `bulwark keys "
			   "ca create` first)", dir);
	if (rc != 0)
		goto out;
	if (!file_exists(dir, "factory_ca.key") &&
	    file_exists(dir, "factory_ca.uri")) {
		rc = load_uri(pki, err);
		if (rc != 0)
			goto out;
	}
	rc = bw_pki__read(pki, "state.json", BW_PKI_STATE_MAX, &state, &slen,
			  err);
	if (rc != 0)
		goto out;
	rc = bw_pki__state_parse((const uint8_t *)state, slen, &pki->st, err);
	if (rc != 0)
		goto out;
	for (size_t i = 0; rc == 0 && i < pki->st.ncas; i++)
		rc = load_ca_cert(pki, &pki->st.cas[i], err);
	if (rc != 0)
		goto out;
	*out = pki;
	pki = NULL; /* transferred */
out:
	free(state);
	free(path);
	bw_pki_free(pki);
	return rc;
}

int bw_pki_open(const char *dir, struct bw_pki **out, struct bw_err *err)
{
	return pki_open(dir, LOCK_EX, out, err);
}

int bw_pki_open_shared(const char *dir, struct bw_pki **out,
		       struct bw_err *err)
{
	return pki_open(dir, LOCK_SH, out, err);
}

int bw_pki_factory_key_is_file(const struct bw_pki *pki)
{
	return pki->factory_uri == NULL;
}

const char *bw_pki_factory_key_uri(const struct bw_pki *pki)
{
	return pki->factory_uri;
}

const char *bw_pki_factory(const struct bw_pki *pki)
{
	return pki->st.factory;
}

int bw_pki_use_factory_key(struct bw_pki *pki, EVP_PKEY *key,
			   struct bw_err *err)
{
	if (key == NULL || X509_check_private_key(pki->factory_ca, key) != 1)
		return bw_err_set(err, BW_EFORMAT,
				  "the key does not match factory_ca.pem");
	if (!EVP_PKEY_up_ref(key))
		return bw_err_set(err, BW_ECRYPTO, "EVP_PKEY_up_ref failed");
	EVP_PKEY_free(pki->factory_key);
	pki->factory_key = key;
	return 0;
}

int bw_pki_load_factory_key(struct bw_pki *pki, struct bw_err *err)
{
	EVP_PKEY *key = NULL;
	char *path = NULL;
	int rc;

	if (pki->factory_uri != NULL)
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "the factory CA key is in an HSM (%.200s)",
				  pki->factory_uri);
	if (bw_path_join(pki->dir, "factory_ca.key", &path) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_pki_key_load(path, &key, err);
	free(path);
	if (rc == 0)
		rc = bw_pki_use_factory_key(pki, key, err);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- create ----------------------------------------------------------- */

int bw_pki__stage_server(struct bw_pki *pki, const char *stem,
			 const struct bw_pki_sans *sans, time_t now,
			 struct bw_pki__txn *t, struct bw_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *pem = NULL, *kpem = NULL, name[64];
	size_t plen = 0, klen = 0;
	int rc;

	rc = bw_pki_key_generate(&key, err);
	if (rc == 0)
		rc = bw_pki_server_cert_issue(pki->factory_ca, pki->factory_key,
					      key, pki->st.factory, sans, now,
					      &cert, err);
	if (rc == 0)
		rc = bw_pki_cert_pem(cert, &pem, &plen, err);
	if (rc == 0)
		rc = bw_pki_key_pem(key, &kpem, &klen, err);
	if (rc != 0)
		goto out;
	snprintf(name, sizeof(name), "%s.pem", stem);
	rc = bw_pki__txn_add(t, name, pem, plen, 0644, err);
	snprintf(name, sizeof(name), "%s.key", stem);
	if (rc == 0)
		rc = bw_pki__txn_add(t, name, kpem, klen, 0600, err);
out:
	if (kpem != NULL)
		OPENSSL_cleanse(kpem, klen);
	free(kpem);
	free(pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int bw_pki__new_device_ca(struct bw_pki *pki, const char *base,
			  const char *kind, time_t now, struct bw_pki__txn *t,
			  struct bw_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *pem = NULL, *kpem = NULL, *serial = NULL;
	char name[BW_PKI_CA_NAME_MAX + 32];
	size_t plen = 0, klen = 0;
	struct bw_pki__ca *c;
	int rc;

	rc = bw_pki_key_generate(&key, err);
	if (rc == 0)
		rc = bw_pki_device_ca_issue(pki->factory_ca, pki->factory_key,
					    key, pki->st.factory, base, now,
					    &cert, err);
	if (rc == 0)
		rc = bw_pki_cert_pem(cert, &pem, &plen, err);
	if (rc == 0)
		rc = bw_pki_key_pem(key, &kpem, &klen, err);
	if (rc == 0)
		rc = bw_pki_serial_hex(cert, &serial, err);
	if (rc != 0)
		goto out;
	snprintf(name, sizeof(name), "%s.pem", base);
	rc = bw_pki__txn_add(t, name, pem, plen, 0644, err);
	snprintf(name, sizeof(name), "%s.key", base);
	if (rc == 0)
		rc = bw_pki__txn_add(t, name, kpem, klen, 0600, err);
	if (rc == 0)
		rc = bw_pki__state_add_ca(&pki->st, base, kind, serial, 1, now,
					  err);
	if (rc != 0)
		goto out;
	c = &pki->st.cas[pki->st.ncas - 1];
	c->cert = cert;
	c->key = key;
	cert = NULL; /* transferred */
	key = NULL;  /* transferred */
out:
	if (kpem != NULL)
		OPENSSL_cleanse(kpem, klen);
	free(kpem);
	free(pem);
	free(serial);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int create_check(const struct bw_pki_create_opts *o, struct bw_err *err)
{
	int rc;

	if (o == NULL || o->dir == NULL || o->dir[0] == '\0')
		return bw_err_set(err, BW_EINVAL, "no PKI directory given");
	rc = bw_pki__check_label("factory name", o->factory,
				 BW_PKI_FACTORY_MAX, err);
	if (rc != 0)
		return rc;
	if ((o->factory_key == NULL) != (o->factory_key_uri == NULL))
		return bw_err_set(err, BW_EINVAL,
				  "an HSM factory key needs its URI");
	return 0;
}

static int roots_absent(const char *dir, struct bw_err *err)
{
	static const char *const roots[] = {"factory_ca.pem", "factory_ca.key",
					    "factory_ca.uri", "state.json"};

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (file_exists(dir, roots[i]))
			return bw_err_set(err, BW_EEXIST,
					  "%s/%s exists: refusing to overwrite "
					  "an existing root of trust", dir,
					  roots[i]);
	return 0;
}

static int create_stage(struct bw_pki *pki, const struct bw_pki_create_opts *o,
			struct bw_pki__txn *t, struct bw_err *err)
{
	char *pem = NULL, *kpem = NULL;
	size_t plen = 0, klen = 0;
	int rc;

	rc = bw_pki_factory_ca_create(pki->factory_key, o->factory, o->now,
				      &pki->factory_ca, err);
	if (rc == 0)
		rc = bw_pki_cert_pem(pki->factory_ca, &pem, &plen, err);
	if (rc == 0)
		rc = bw_pki__txn_add(t, "factory_ca.pem", pem, plen, 0644, err);
	if (rc == 0 && o->factory_key_uri != NULL) {
		size_t ul = strlen(o->factory_key_uri);
		char *line = malloc(ul + 2);

		if (line == NULL)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		memcpy(line, o->factory_key_uri, ul);
		line[ul] = '\n';
		line[ul + 1] = '\0';
		rc = bw_pki__txn_add(t, "factory_ca.uri", line, ul + 1, 0644,
				     err);
		free(line);
	} else if (rc == 0) {
		rc = bw_pki_key_pem(pki->factory_key, &kpem, &klen, err);
		if (rc == 0)
			rc = bw_pki__txn_add(t, "factory_ca.key", kpem, klen,
					     0600, err);
	}
	if (rc == 0)
		rc = bw_pki__stage_server(pki, "tls", &o->sans, o->now, t, err);
	if (rc == 0)
		rc = bw_pki__stage_server(pki, "est-tls", &o->sans, o->now, t,
					  err);
	if (rc == 0 && o->online_ca)
		rc = bw_pki__new_device_ca(pki, "online-ca", "online", o->now,
					   t, err);
	if (rc == 0 && o->local_ca)
		rc = bw_pki__new_device_ca(pki, "local-ca", "local", o->now, t,
					   err);
	if (rc == 0 && o->local_ca)
		pki->st.cas[pki->st.ncas - 1].production =
		    o->local_ca_production != 0;
	if (rc == 0)
		rc = bw_pki__stage_derived(pki, o->now, t, err);
	if (kpem != NULL)
		OPENSSL_cleanse(kpem, klen);
	free(kpem);
	free(pem);
	return rc;
}

/* Undo the mkdir of a create that failed (crl/ made by its staging). */
static void remove_new_dir(const char *dir)
{
	char *crl = NULL;

	if (bw_path_join(dir, "crl", &crl) == 0)
		(void)rmdir(crl);
	free(crl);
	(void)rmdir(dir);
}

int bw_pki_create(const struct bw_pki_create_opts *o, struct bw_err *err)
{
	struct bw_pki *pki = NULL;
	struct bw_pki__txn t = {0};
	int rc, made_dir = 0;

	rc = create_check(o, err);
	if (rc != 0)
		return rc;
	pki = calloc(1, sizeof(*pki));
	if (pki != NULL)
		pki->lock_fd = -1;
	if (pki == NULL || (pki->dir = strdup(o->dir)) == NULL ||
	    (pki->st.factory = strdup(o->factory)) == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (o->factory_key != NULL) {
		if (!bw_pki__is_p256(o->factory_key) ||
		    !EVP_PKEY_up_ref(o->factory_key)) {
			rc = bw_err_set(err, BW_EUNSUPPORTED,
					"the factory CA key must be P-256");
			goto out;
		}
		pki->factory_key = o->factory_key;
	} else {
		rc = bw_pki_key_generate(&pki->factory_key, err);
		if (rc != 0)
			goto out;
	}
	rc = roots_absent(o->dir, err);
	if (rc == 0)
		rc = create_stage(pki, o, &t, err);
	if (rc != 0)
		goto out;
	if (mkdir(o->dir, 0700) == 0) {
		made_dir = 1;
	} else if (errno != EEXIST) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", o->dir, strerror(errno));
		goto out;
	}
	/* Under the writers' lock: finish a create that was interrupted
	 * after its journal, then look again for a root of trust. */
	rc = lock_dir(pki, LOCK_EX, err);
	if (rc == 0)
		rc = bw_journal_recover(o->dir, err);
	if (rc == 0)
		rc = roots_absent(o->dir, err);
	if (rc == 0)
		rc = bw_pki__txn_commit(&t, o->dir, err);
	if (rc != 0 && made_dir)
		remove_new_dir(o->dir);
out:
	bw_pki__txn_dispose(&t);
	bw_pki_free(pki);
	return rc;
}
