/*
 * PKCS#11 URIs (RFC 7512), PIN sources and option resolution for the
 * PKCS#11 signer backend (include/bulwark/pkcs11.h).
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"
#include "crypto/pkcs11_priv.h"

/* ---- building --------------------------------------------------------- */

/*
 * RFC 7512 allows more characters unescaped; escaping everything outside
 * the RFC 3986 unreserved set is always valid and never ambiguous.
 */
static int uri_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int uri_append_value(struct bw_buf *b, const uint8_t *v, size_t len,
			    int escape_all)
{
	static const char digits[] = "0123456789ABCDEF";
	char pct[3];
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0; i++) {
		if (!escape_all && uri_unreserved(v[i])) {
			rc = bw_buf_append(b, &v[i], 1);
			continue;
		}
		pct[0] = '%';
		pct[1] = digits[v[i] >> 4];
		pct[2] = digits[v[i] & 0x0f];
		rc = bw_buf_append(b, pct, sizeof(pct));
	}
	return rc;
}

static int uri_append_attr(struct bw_buf *b, const char *name,
			   const uint8_t *v, size_t len, int escape_all)
{
	int rc;

	if (b->len > strlen("pkcs11:")) {
		rc = bw_buf_append_str(b, ";");
		if (rc != 0)
			return rc;
	}
	rc = bw_buf_append_str(b, name);
	if (rc == 0)
		rc = bw_buf_append_str(b, "=");
	if (rc == 0)
		rc = uri_append_value(b, v, len, escape_all);
	return rc;
}

int bw_pkcs11_uri_build(const struct bw_pkcs11_opts *opts, const char *type,
			char **out, struct bw_err *err)
{
	struct bw_pkcs11__sel sel;
	struct bw_buf b;
	size_t len;
	int rc;

	if (out == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: no output for URI");
	*out = NULL;
	if (opts == NULL || opts->uri != NULL)
		return bw_err_set(err, BW_EINVAL,
				  "pkcs11: URI build needs parts, not a URI");
	if (type != NULL && strcmp(type, "private") != 0 &&
	    strcmp(type, "public") != 0 && strcmp(type, "cert") != 0)
		return bw_err_set(err, BW_EINVAL, "pkcs11: bad object type");
	bw_buf_init(&b, BW_PKCS11_URI_MAX);
	rc = bw_pkcs11__sel_resolve(opts, 1, &sel, err);
	if (rc != 0)
		goto out;
	rc = bw_buf_append_str(&b, "pkcs11:");
	if (rc == 0)
		rc = uri_append_attr(&b, "token", (const uint8_t *)sel.u.token,
				     strlen(sel.u.token), 0);
	if (rc == 0 && sel.u.object[0] != '\0')
		rc = uri_append_attr(&b, "object",
				     (const uint8_t *)sel.u.object,
				     strlen(sel.u.object), 0);
	if (rc == 0 && sel.u.id_len > 0)
		rc = uri_append_attr(&b, "id", sel.u.id, sel.u.id_len, 1);
	if (rc == 0 && type != NULL)
		rc = uri_append_attr(&b, "type", (const uint8_t *)type,
				     strlen(type), 0);
	if (rc == BW_ETOOBIG)
		bw_err_set(err, rc, "pkcs11: URI longer than %d characters",
			   BW_PKCS11_URI_MAX);
	if (rc != 0)
		goto out;
	rc = bw_buf_steal(&b, (uint8_t **)out, &len);
out:
	bw_pkcs11__sel_dispose(&sel);
	bw_buf_dispose(&b);
	return rc;
}

/* ---- parsing ---------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode v[0..len) into out (capacity cap). Text values (binary=0)
 * get a NUL terminator and may not contain NUL. *outlen = decoded bytes.
 */
static int pct_decode(const char *name, const char *v, size_t len,
		      uint8_t *out, size_t cap, int binary, size_t *outlen,
		      struct bw_err *err)
{
	size_t n = 0;
	size_t room = binary ? cap : cap - 1;

	if (len == 0)
		return bw_err_set(err, BW_EFORMAT, "pkcs11 URI: empty %s",
				  name);
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)v[i];

		if (c == '%') {
			if (len - i < 3 || hexval(v[i + 1]) < 0 ||
			    hexval(v[i + 2]) < 0)
				return bw_err_set(err, BW_EFORMAT,
						  "pkcs11 URI: bad escape in %s",
						  name);
			c = hexval(v[i + 1]) << 4 | hexval(v[i + 2]);
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f) {
			return bw_err_set(err, BW_EFORMAT,
					  "pkcs11 URI: raw byte 0x%02x in %s",
					  (unsigned)c, name);
		}
		if (!binary && c == 0)
			return bw_err_set(err, BW_EFORMAT,
					  "pkcs11 URI: NUL in %s", name);
		if (n >= room)
			return bw_err_set(err, BW_ETOOBIG,
					  "pkcs11 URI: %s longer than %zu bytes",
					  name, room);
		out[n++] = (uint8_t)c;
	}
	if (!binary)
		out[n] = 0;
	*outlen = n;
	return 0;
}

/* Attributes we honour, where they go, and whether they may repeat. */
struct uri_slot {
	const char *name;
	int in_query;
	int binary;
	size_t off;
	size_t cap;
};

#define SLOT(n, q, bin, f) \
	{ n, q, bin, offsetof(struct bw_pkcs11_uri, f), \
	  sizeof(((struct bw_pkcs11_uri *)0)->f) }

static const struct uri_slot uri_slots[] = {
	SLOT("token", 0, 0, token),
	SLOT("object", 0, 0, object),
	SLOT("id", 0, 1, id),
	SLOT("type", 0, 0, type),
	SLOT("module-path", 1, 0, module_path),
	SLOT("pin-source", 1, 0, pin_source),
};

static int uri_attr(struct bw_pkcs11_uri *u, const char *a, size_t alen,
		    int in_query, unsigned *seen, struct bw_err *err)
{
	const char *eq = memchr(a, '=', alen);
	size_t nlen = eq ? (size_t)(eq - a) : alen;
	size_t vlen, outlen = 0;
	int rc;

	if (eq == NULL || nlen == 0)
		return bw_err_set(err, BW_EFORMAT,
				  "pkcs11 URI: attribute without name=value");
	vlen = alen - nlen - 1;
	if (in_query && nlen == 9 && memcmp(a, "pin-value", 9) == 0)
		return bw_err_set(err, BW_EINVAL,
				  "pkcs11 URI: pin-value refused; give the PIN "
				  "in a file or an environment variable");
	for (size_t i = 0; i < sizeof(uri_slots) / sizeof(uri_slots[0]); i++) {
		const struct uri_slot *s = &uri_slots[i];

		if (s->in_query != in_query || strlen(s->name) != nlen ||
		    memcmp(s->name, a, nlen) != 0)
			continue;
		if (*seen & (1u << i))
			return bw_err_set(err, BW_EFORMAT,
					  "pkcs11 URI: %s given twice",
					  s->name);
		*seen |= 1u << i;
		rc = pct_decode(s->name, eq + 1, vlen, (uint8_t *)u + s->off,
				s->cap, s->binary, &outlen, err);
		if (rc == 0 && s->binary)
			u->id_len = outlen;
		return rc;
	}
	return bw_err_set(err, BW_EUNSUPPORTED,
			  "pkcs11 URI: attribute '%.*s' not supported",
			  (int)(nlen > 40 ? 40 : nlen), a);
}

static int uri_attrs(struct bw_pkcs11_uri *u, const char *p, size_t len,
		     char sep, int in_query, unsigned *seen,
		     struct bw_err *err)
{
	while (len > 0) {
		const char *end = memchr(p, sep, len);
		size_t alen = end ? (size_t)(end - p) : len;
		int rc = uri_attr(u, p, alen, in_query, seen, err);

		if (rc != 0)
			return rc;
		if (end == NULL)
			break;
		if (alen + 1 == len)
			return bw_err_set(err, BW_EFORMAT,
					  "pkcs11 URI: trailing '%c'", sep);
		p += alen + 1;
		len -= alen + 1;
	}
	return 0;
}

int bw_pkcs11_uri_parse(const char *uri, struct bw_pkcs11_uri *out,
			struct bw_err *err)
{
	struct bw_pkcs11_uri *u = NULL;
	const char *path, *q;
	unsigned seen = 0;
	size_t len;
	int rc;

	if (uri == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: no URI");
	len = strnlen(uri, BW_PKCS11_URI_MAX + 1);
	if (len > BW_PKCS11_URI_MAX)
		return bw_err_set(err, BW_ETOOBIG,
				  "pkcs11 URI longer than %d characters",
				  BW_PKCS11_URI_MAX);
	if (len < 7 || strncasecmp(uri, "pkcs11:", 7) != 0)
		return bw_err_set(err, BW_EFORMAT,
				  "not a pkcs11: URI");
	/* Parse into a fresh struct; *out changes only on success. */
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	path = uri + 7;
	len -= 7;
	q = memchr(path, '?', len);
	rc = uri_attrs(u, path, q ? (size_t)(q - path) : len, ';', 0, &seen,
		       err);
	if (rc == 0 && q != NULL)
		rc = uri_attrs(u, q + 1, len - (size_t)(q - path) - 1, '&', 1,
			       &seen, err);
	if (rc != 0)
		goto out;
	if (u->type[0] != '\0' && strcmp(u->type, "private") != 0 &&
	    strcmp(u->type, "public") != 0 && strcmp(u->type, "cert") != 0 &&
	    strcmp(u->type, "secret-key") != 0 &&
	    strcmp(u->type, "data") != 0) {
		rc = bw_err_set(err, BW_EFORMAT, "pkcs11 URI: bad type");
		goto out;
	}
	if (u->id_len > 0)
		bw_hex_encode(u->id, u->id_len, u->id_hex);
	*out = *u;
out:
	OPENSSL_cleanse(u, sizeof(*u));
	free(u);
	return rc;
}

/* ---- PINs ------------------------------------------------------------- */

void bw_pkcs11_pin_free(char *pin)
{
	if (pin == NULL)
		return;
	OPENSSL_cleanse(pin, strlen(pin));
	free(pin);
}

static int pin_copy(const char *src, size_t len, char **pin,
		    struct bw_err *err)
{
	if (len == 0)
		return bw_err_set(err, BW_EFORMAT, "pkcs11: empty PIN");
	if (len > BW_PKCS11_PIN_MAX)
		return bw_err_set(err, BW_ETOOBIG,
				  "pkcs11: PIN longer than %d bytes",
				  BW_PKCS11_PIN_MAX);
	if (memchr(src, '\0', len) != NULL || memchr(src, '\n', len) != NULL)
		return bw_err_set(err, BW_EFORMAT,
				  "pkcs11: PIN contains NUL or newline");
	*pin = malloc(len + 1);
	if (*pin == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	memcpy(*pin, src, len);
	(*pin)[len] = '\0';
	return 0;
}

static int pin_file_check(int fd, const char *path, struct bw_err *err)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return bw_err_set(err, BW_EIO, "%s: %s", path,
				  strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bw_err_set(err, BW_EINVAL, "%s: PIN file is not a "
				  "regular file", path);
	if (st.st_uid != geteuid())
		return bw_err_set(err, BW_EINVAL, "%s: PIN file not owned by "
				  "this user", path);
	if ((st.st_mode & 077) != 0)
		return bw_err_set(err, BW_EINVAL, "%s: PIN file mode %04o "
				  "gives access to group/others; chmod 600",
				  path, (unsigned)(st.st_mode & 07777));
	return 0;
}

int bw_pkcs11_pin_from_file(const char *path, char **pin,
			    struct bw_err *err)
{
	char buf[BW_PKCS11_PIN_MAX + 3];
	size_t n = 0;
	int fd = -1;
	int rc;

	if (pin == NULL || path == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: no PIN file");
	*pin = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = bw_err_set(err, errno == ENOENT ? BW_ENOTFOUND :
				errno == ELOOP ? BW_EINVAL : BW_EIO,
				"%s: %s", path, errno == ELOOP ?
				"PIN file is a symlink" : strerror(errno));
		goto out;
	}
	rc = pin_file_check(fd, path, err);
	if (rc != 0)
		goto out;
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = bw_err_set(err, BW_EIO, "%s: %s", path,
					strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == sizeof(buf)) {
		rc = bw_err_set(err, BW_ETOOBIG, "%s: PIN longer than %d "
				"bytes", path, BW_PKCS11_PIN_MAX);
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	rc = pin_copy(buf, n, pin, err);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}

int bw_pkcs11_pin_from_env(const char *name, char **pin, struct bw_err *err)
{
	const char *v;

	if (pin == NULL || name == NULL || name[0] == '\0')
		return bw_err_set(err, BW_EINVAL, "pkcs11: no PIN variable");
	*pin = NULL;
	v = getenv(name);
	if (v == NULL || v[0] == '\0')
		return bw_err_set(err, BW_ENOTFOUND,
				  "pkcs11: environment variable %.64s not set",
				  name);
	return pin_copy(v, strnlen(v, BW_PKCS11_PIN_MAX + 1), pin, err);
}

/* ---- option resolution ------------------------------------------------ */

static int sel_copy_text(char *dst, size_t cap, const char *src,
			 const char *what, struct bw_err *err)
{
	size_t len = strnlen(src, cap);

	if (len == 0)
		return bw_err_set(err, BW_EINVAL, "pkcs11: empty %s", what);
	if (len >= cap)
		return bw_err_set(err, BW_ETOOBIG,
				  "pkcs11: %s longer than %zu bytes", what,
				  cap - 1);
	memcpy(dst, src, len + 1);
	return 0;
}

static int sel_from_parts(const struct bw_pkcs11_opts *opts,
			  struct bw_pkcs11_uri *u, struct bw_err *err)
{
	size_t hexlen;
	int rc;

	if (opts->token_label == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: no token label");
	rc = sel_copy_text(u->token, sizeof(u->token), opts->token_label,
			   "token label", err);
	if (rc == 0 && opts->object_label != NULL)
		rc = sel_copy_text(u->object, sizeof(u->object),
				   opts->object_label, "object label", err);
	if (rc != 0 || opts->id_hex == NULL)
		return rc;
	hexlen = strnlen(opts->id_hex, 2 * BW_PKCS11_ID_MAX + 1);
	if (hexlen == 0 || hexlen > 2 * BW_PKCS11_ID_MAX || hexlen % 2 != 0 ||
	    bw_hex_decode(opts->id_hex, hexlen, u->id, hexlen / 2) != 0)
		return bw_err_set(err, BW_EFORMAT,
				  "pkcs11: id must be 1..%d bytes of hex",
				  BW_PKCS11_ID_MAX);
	u->id_len = hexlen / 2;
	bw_hex_encode(u->id, u->id_len, u->id_hex);
	return 0;
}

int bw_pkcs11__sel_resolve(const struct bw_pkcs11_opts *opts, int need_object,
			   struct bw_pkcs11__sel *sel, struct bw_err *err)
{
	int rc;

	memset(sel, 0, sizeof(*sel));
	if (opts == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: no options");
	if (opts->uri != NULL) {
		if (opts->token_label != NULL || opts->object_label != NULL ||
		    opts->id_hex != NULL)
			return bw_err_set(err, BW_EINVAL, "pkcs11: give a URI "
					  "or token/object/id, not both");
		rc = bw_pkcs11_uri_parse(opts->uri, &sel->u, err);
		if (rc != 0)
			return rc;
		if (sel->u.token[0] == '\0')
			return bw_err_set(err, BW_EINVAL,
					  "pkcs11 URI: no token=");
	} else {
		rc = sel_from_parts(opts, &sel->u, err);
		if (rc != 0)
			return rc;
	}
	if (need_object && sel->u.object[0] == '\0' && sel->u.id_len == 0)
		return bw_err_set(err, BW_EINVAL,
				  "pkcs11: give an object label or id");
	sel->module = opts->module_path ? opts->module_path :
		      sel->u.module_path[0] ? sel->u.module_path :
		      BW_PKCS11_DEFAULT_MODULE;
	sel->pin = opts->pin;
	if (sel->pin == NULL && sel->u.pin_source[0] != '\0') {
		rc = bw_pkcs11_pin_from_file(sel->u.pin_source,
					     &sel->pin_owned, err);
		if (rc != 0)
			return rc;
		sel->pin = sel->pin_owned;
	}
	return 0;
}

void bw_pkcs11__sel_dispose(struct bw_pkcs11__sel *sel)
{
	if (sel == NULL)
		return;
	bw_pkcs11_pin_free(sel->pin_owned);
	sel->pin_owned = NULL;
	sel->pin = NULL;
}
