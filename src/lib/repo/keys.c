/*
 * Offline key sets: key archives (tar.gz, one "<keyid>.pem" PKCS#8 member
 * per key, mode 0600; libarchive) and PKCS#11 keys by URI.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"
#include "repo/repo_priv.h"

#define ARCHIVE_MAX (4u * 1024u * 1024u)
#define MEMBER_MAX (64u * 1024u)
#define ARCHIVE_MAX_KEYS 64

void bw_repo_keys_init(struct bw_repo_keys *k)
{
	memset(k, 0, sizeof(*k));
}

void bw_repo_keys_dispose(struct bw_repo_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		bw_signer_free(k->s[i]);
		free(k->where[i]);
	}
	free(k->s);
	free(k->where);
	memset(k, 0, sizeof(*k));
}

/* Take s (transferred) into k unless a key with its id is there already. */
static int keys_take(struct bw_repo_keys *k, struct bw_signer *s,
		     const char *where, struct bw_err *err)
{
	struct bw_signer **ns = NULL;
	char **nw = NULL;

	for (size_t i = 0; i < k->n; i++) {
		if (strcmp(k->s[i]->key->keyid, s->key->keyid) == 0) {
			bw_signer_free(s);
			return 0;
		}
	}
	ns = realloc(k->s, (k->n + 1) * sizeof(*ns));
	if (ns != NULL)
		k->s = ns;
	nw = realloc(k->where, (k->n + 1) * sizeof(*nw));
	if (nw != NULL)
		k->where = nw;
	if (ns == NULL || nw == NULL ||
	    (k->where[k->n] = strdup(where)) == NULL) {
		bw_signer_free(s);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	k->s[k->n++] = s;
	return 0;
}

static int member_name_ok(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n != BW_KEYID_HEX_LEN + 4 ||
	    strcmp(name + BW_KEYID_HEX_LEN, ".pem"))
		return 0;
	for (size_t i = 0; i < BW_KEYID_HEX_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* One member: a PEM key whose id is its file name. */
static int read_member(struct archive *a, struct archive_entry *e,
		       const char *path, struct bw_signer **out,
		       struct bw_err *err)
{
	const char *name = archive_entry_pathname(e);
	la_int64_t size = archive_entry_size(e);
	struct bw_buf b;
	int rc;

	*out = NULL;
	if (archive_entry_filetype(e) != AE_IFREG || !member_name_ok(name))
		return bw_err_set(err, BW_EFORMAT,
				  "%s: member '%.80s' is not <keyid>.pem", path,
				  name != NULL ? name : "");
	if (size <= 0 || size > (la_int64_t)MEMBER_MAX)
		return bw_err_set(err, BW_ETOOBIG, "%s: %.80s: bad size", path,
				  name);
	bw_buf_init_secret(&b, MEMBER_MAX);
	rc = 0;
	for (la_int64_t got = 0; rc == 0 && got < size;) {
		char chunk[4096];
		la_ssize_t n = archive_read_data(a, chunk, sizeof(chunk));

		if (n <= 0) {
			rc = bw_err_set(err, BW_EFORMAT, "%s: truncated", path);
			break;
		}
		got += n;
		rc = bw_buf_append(&b, chunk, (size_t)n);
		OPENSSL_cleanse(chunk, sizeof(chunk));
	}
	if (rc == 0)
		rc = bw_signer_keyfile_load_mem(b.data, b.len, out, err);
	if (rc == 0 && strncmp((*out)->key->keyid, name, BW_KEYID_HEX_LEN)) {
		bw_signer_free(*out);
		*out = NULL;
		rc = bw_err_set(err, BW_EFORMAT,
				"%s: %.80s holds a different key", path, name);
	}
	bw_buf_dispose_secret(&b);
	return rc;
}

static int check_mode(const char *path, struct bw_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return bw_err_set(err, BW_ENOTFOUND, "%s: no such key archive",
				  path);
	if (!S_ISREG(st.st_mode))
		return bw_err_set(err, BW_EINVAL, "%s: not a regular file",
				  path);
	if ((st.st_mode & 077) != 0)
		return bw_err_set(err, BW_EINVAL,
				  "%s: readable by others (chmod 600 it)",
				  path);
	return 0;
}

static int load_archive(struct bw_repo_keys *k, const char *path,
			struct bw_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *e = NULL;
	struct bw_buf b;
	size_t nkeys = 0;
	int rc, ar;

	bw_buf_init_secret(&b, ARCHIVE_MAX);
	rc = check_mode(path, err);
	if (rc == 0)
		rc = bw_io_read_file(path, ARCHIVE_MAX, &b, err);
	if (rc != 0)
		goto out;
	a = archive_read_new();
	if (a == NULL || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_memory(a, b.data, b.len) != ARCHIVE_OK) {
		rc = bw_err_set(err, BW_EFORMAT, "%s: not a key archive", path);
		goto out;
	}
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		struct bw_signer *s = NULL;

		if (++nkeys > ARCHIVE_MAX_KEYS) {
			rc = bw_err_set(err, BW_ETOOBIG, "%s: too many keys",
					path);
			goto out;
		}
		rc = read_member(a, e, path, &s, err);
		if (rc == 0)
			rc = keys_take(k, s, path, err);
		if (rc != 0)
			goto out;
	}
	if (ar != ARCHIVE_EOF || nkeys == 0)
		rc = bw_err_set(err, BW_EFORMAT, "%s: %s", path,
				nkeys == 0 ? "no keys in archive"
					   : "corrupt archive");
out:
	if (a != NULL)
		archive_read_free(a);
	bw_buf_dispose_secret(&b);
	return rc;
}

int bw_repo_keys_load(struct bw_repo_keys *k, const char *spec,
		      const char *module, const char *pin, struct bw_err *err)
{
	struct bw_pkcs11_opts o = {0};
	struct bw_pkcs11_uri u;
	struct bw_signer *s = NULL;
	int rc;

	if (strncmp(spec, "pkcs11:", 7) != 0)
		return load_archive(k, spec, err);
	if (pin == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "%.200s: a PKCS#11 key needs a PIN "
				  "(--hsm-pin-file)",
				  spec);
	rc = bw_pkcs11_uri_parse(spec, &u, err);
	if (rc != 0)
		return rc;
	o.uri = spec;
	o.pin = pin;
	o.module_path = module != NULL		   ? module
			: u.module_path[0] != '\0' ? NULL
						   : BW_PKCS11_DEFAULT_MODULE;
	rc = bw_pkcs11_signer_open(&o, &s, err);
	if (rc == 0)
		rc = keys_take(k, s, spec, err);
	return rc;
}

/* PKCS#8 PEM of a signer's private key into a secret buffer. */
static int key_pem(const struct bw_signer *s, struct bw_buf *out,
		   struct bw_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	int rc = BW_ECRYPTO;

	if (bio != NULL && s->pkey != NULL &&
	    PEM_write_bio_PKCS8PrivateKey(bio, s->pkey, NULL, NULL, 0, NULL,
					  NULL) == 1) {
		n = BIO_get_mem_data(bio, &p);
		rc = n > 0 ? bw_buf_append(out, p, (size_t)n) : BW_ECRYPTO;
		if (n > 0)
			OPENSSL_cleanse(p, (size_t)n); /* mem BIOs do not */
	}
	if (rc != 0)
		bw_err_set(err, rc, "cannot encode private key");
	BIO_free_all(bio);
	return rc;
}

static int add_member(struct archive *a, const struct bw_signer *s,
		      struct bw_err *err)
{
	struct archive_entry *e = archive_entry_new();
	char name[BW_KEYID_HEX_LEN + 8];
	struct bw_buf pem;
	int rc;

	bw_buf_init_secret(&pem, MEMBER_MAX);
	snprintf(name, sizeof(name), "%s.pem", s->key->keyid);
	rc = e != NULL ? key_pem(s, &pem, err)
		       : bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0) {
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0600);
		archive_entry_set_mtime(e, time(NULL), 0);
		archive_entry_set_size(e, (la_int64_t)pem.len);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, pem.data, pem.len) !=
			(la_ssize_t)pem.len)
			rc = bw_err_set(err, BW_EIO, "archive: %s",
					archive_error_string(a));
	}
	archive_entry_free(e);
	bw_buf_dispose_secret(&pem);
	return rc;
}

int bw_repo_archive_write(const char *path, struct bw_signer *const *s,
			  size_t n, struct bw_err *err)
{
	struct archive *a = archive_write_new();
	size_t cap = ARCHIVE_MAX, used = 0;
	uint8_t *mem = calloc(1, cap);
	int rc = 0;

	if (a == NULL || mem == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_memory(a, mem, cap, &used) != ARCHIVE_OK) {
		rc = bw_err_set(err, BW_EIO, "archive: %s",
				archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = add_member(a, s[i], err);
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = bw_err_set(err, BW_EIO, "archive: %s",
				archive_error_string(a));
	if (rc == 0)
		rc = bw_io_write_atomic(path, mem, used, 0600, err);
out:
	if (a != NULL)
		archive_write_free(a);
	if (mem != NULL)
		OPENSSL_cleanse(mem, cap);
	free(mem);
	return rc;
}

int bw_repo_hsm_keygen(const char *module, const char *token, const char *pin,
		       const char *role, struct bw_signer **out, char **uri,
		       struct bw_err *err)
{
	char label[64];
	struct bw_pkcs11_newkey k = {.module_path = module,
				     .token_label = token,
				     .pin = pin,
				     .label = label,
				     .label_add_id = 1};

	*out = NULL;
	*uri = NULL;
	if (token == NULL || pin == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "an HSM key needs a token "
				  "and a PIN");
	snprintf(label, sizeof(label), "bulwark-tuf-%.32s", role);
	return bw_pkcs11_key_create(&k, out, uri, err);
}
