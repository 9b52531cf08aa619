/*
 * file:// URLs for the default fetcher (include/bulwark/fetch.h), read
 * straight from the file system.
 *
 * Why not through libcurl: a repository served from a directory (an
 * offline bundle on a USB stick, a local mirror) needs no network stack,
 * and loading Debian's libcurl with its 30 dependent libraries costs more
 * CPU at every start of a program than a warm TUF refresh itself
 * (docs/benchmarks/tuf_refresh.md). So libcurl is loaded only for
 * http:// and https:// (curl.c), and this file gives file:// the
 * behaviour libcurl gave it: the path is percent-decoded (an encoded NUL
 * is refused), the host is empty or "localhost", a missing file is
 * BW_ENOTFOUND, an offset reads from that byte on (a Range request), and
 * the transfer stops with BW_ETOOBIG before more than max_len bytes reach
 * the sink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "http_priv.h"

#define FILE_CHUNK (64u * 1024u)
#define FILE_PATH_MAX 4096

/*
 * "file://" [ "localhost" ] "/" path -> the decoded path in out. No
 * query or fragment: the fetcher never builds one, and a '?' or '#' that
 * reached here would otherwise name a different file than a web server
 * would serve.
 */
static int file_url_path(const char *url, char *out, size_t cap,
			 struct bw_err *err)
{
	const char *p;
	size_t n = 0;

	if (strncmp(url, "file://", 7) != 0)
		return bw_err_set(err, BW_EINVAL, "%.256s: not a file:// URL",
				  url);
	p = url + 7;
	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/')
		return bw_err_set(err, BW_EINVAL,
				  "%.256s: file:// URL with a host", url);
	for (; *p != '\0'; p++) {
		char c = *p;

		if (c == '?' || c == '#')
			return bw_err_set(err, BW_EINVAL,
					  "%.256s: query or fragment in a "
					  "file:// URL", url);
		if (c == '%') {
			uint8_t byte = 0;

			/* p[2] is read only when p[1] is not the end. */
			if (p[1] == '\0' || p[2] == '\0' ||
			    bw_hex_decode(p + 1, 2, &byte, 1) != 0 || byte == 0)
				return bw_err_set(err, BW_EINVAL,
						  "%.256s: bad percent-escape",
						  url);
			c = (char)byte;
			p += 2;
		}
		if (n + 1 >= cap)
			return bw_err_set(err, BW_ETOOBIG,
					  "%.256s: path too long", url);
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

int bw_http__file_fetch(const char *url, uint64_t offset, uint64_t max_len,
			bw_fetch_sink_fn sink, void *sink_ctx,
			struct bw_err *err)
{
	char path[FILE_PATH_MAX];
	uint8_t *chunk = NULL;
	uint64_t got = 0;
	struct stat st;
	int fd = -1, rc;

	rc = file_url_path(url, path, sizeof(path), err);
	if (rc != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = bw_err_set(err, BW_ENOTFOUND, "%.256s: not found", url);
		goto out;
	}
	/* The file changed since the part before offset was read: the
	 * caller starts again from byte 0, as after a server that ignores
	 * Range. */
	if (offset > (uint64_t)st.st_size) {
		rc = bw_err_set(err, BW_ENORANGE,
				"%.256s: shorter than the resume offset", url);
		goto out;
	}
	if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		rc = bw_err_set(err, BW_ENET, "%.256s: seek: %s", url,
				strerror(errno));
		goto out;
	}
	chunk = malloc(FILE_CHUNK);
	if (chunk == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, FILE_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bw_err_set(err, BW_ENET, "%.256s: read: %s", url,
					strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > max_len - got) {
			rc = bw_err_set(err, BW_ETOOBIG,
					"%.256s: more than %llu bytes", url,
					(unsigned long long)max_len);
			goto out;
		}
		got += (uint64_t)n;
		rc = sink(sink_ctx, chunk, (size_t)n);
		if (rc != 0) {
			bw_err_set(err, rc, "%.256s: transfer aborted", url);
			goto out;
		}
	}
	rc = 0;
out:
	free(chunk);
	if (fd >= 0)
		close(fd);
	return rc;
}
