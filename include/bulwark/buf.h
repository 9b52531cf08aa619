/*
 * Bounded byte buffers and file I/O helpers.
 */
#ifndef BULWARK_BUF_H
#define BULWARK_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A growable byte buffer with a hard cap. data is always NUL-terminated
 * (one byte beyond len, not counted) so text can be handed to parsers.
 * Initialise with bw_buf_init(); release with bw_buf_dispose().
 */
struct bw_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* appends beyond max fail with BW_ETOOBIG */
	int secret; /* wipe every block it leaves behind (keys, PINs) */
};

/* Initialise an empty buffer that may grow to max bytes. */
void bw_buf_init(struct bw_buf *b, size_t max);

/*
 * As bw_buf_init, for a buffer that will hold a secret: whenever it grows
 * the old block is wiped before it is freed, and bw_buf_dispose wipes too.
 */
void bw_buf_init_secret(struct bw_buf *b, size_t max);

/* Append len bytes. BW_ETOOBIG past max (buffer unchanged), BW_ENOMEM. */
int bw_buf_append(struct bw_buf *b, const void *data, size_t len);

/* Append a NUL-terminated string (without the NUL). */
int bw_buf_append_str(struct bw_buf *b, const char *s);

/* Forget the content, keep the allocation. */
void bw_buf_reset(struct bw_buf *b);

/* Free the storage. Safe on a zeroed or already disposed buffer. */
void bw_buf_dispose(struct bw_buf *b);

/* As bw_buf_dispose, but wipes the content first (for secrets). */
void bw_buf_dispose_secret(struct bw_buf *b);

/*
 * Take the data out of the buffer: *out receives a malloc'd,
 * NUL-terminated copy owner (caller frees with free()), *len its length.
 * The buffer is left empty.
 */
int bw_buf_steal(struct bw_buf *b, uint8_t **out, size_t *len);

/*
 * Read a whole file of at most max bytes into b (which must be
 * initialised; its cap is raised to max if smaller). BW_ENOTFOUND if the file
 * does not exist, BW_ETOOBIG if it is larger than max, BW_EIO otherwise.
 */
int bw_io_read_file(const char *path, size_t max, struct bw_buf *b,
		    struct bw_err *err);

/*
 * Write data to path atomically: a temporary file in the same directory is
 * written with the given mode, fsync'd, renamed over path, and the
 * directory is fsync'd. On any failure before the rename, path is
 * untouched and the temporary file is removed; if only the final directory
 * fsync fails, the new content is in place and BW_EIO is returned.
 */
int bw_io_write_atomic(const char *path, const void *data, size_t len,
		       mode_t mode, struct bw_err *err);

/*
 * Copy the file src to dst the way bw_io_write_atomic writes: streamed
 * (any size) into a temporary file beside dst with mode, fsync'd, renamed
 * over dst, the directory fsync'd. dst is either its old self or a whole
 * copy of src, never a part. flags: BW_IO_NOFOLLOW refuses a src that is
 * a symbolic link. BW_ENOTFOUND (no src), BW_EIO; the message names the
 * file.
 */
#define BW_IO_NOFOLLOW 1u
int bw_io_copy_atomic(const char *src, const char *dst, mode_t mode,
		      unsigned flags, struct bw_err *err);

/*
 * The same copy written straight into dst (created or truncated, mode)
 * and fsync'd, without a temporary file: for a caller whose dst is
 * already a temporary that it renames itself (a journal's new file), so
 * a kill leaves nothing the journal does not know of.
 */
int bw_io_copy_fsync(const char *src, const char *dst, mode_t mode,
		     unsigned flags, struct bw_err *err);

/* write(2) all of data, retrying on EINTR; 0, or -1 with errno set. */
int bw_io_write_all(int fd, const void *data, size_t len);

/* rename(from, to), then fsync to's directory: a file written and
 * fsync'd under a temporary name becomes durable under its final one. */
int bw_io_rename_durable(const char *from, const char *to,
			 struct bw_err *err);

/* Remove path; success if it does not exist. Fsyncs the directory. */
int bw_io_remove(const char *path, struct bw_err *err);

/* mkdir -p with mode for created directories. */
int bw_io_mkdirs(const char *path, mode_t mode, struct bw_err *err);

/*
 * Join dir and name with exactly one '/' into a malloc'd string (*out).
 * Returns BW_ENOMEM or 0.
 */
int bw_path_join(const char *dir, const char *name, char **out);

/* Lowercase hex of len bytes into out (which holds 2*len+1). */
void bw_hex_encode(const uint8_t *in, size_t len, char *out);

/*
 * Decode hex (either case) of exactly 2*outlen characters. BW_EFORMAT on
 * odd length, a non-hex character or a length other than expected.
 * Use bw_hex_decode_alloc for variable length.
 */
int bw_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen);

/* Decode hex into a malloc'd buffer (*out, *outlen). Caller frees. */
int bw_hex_decode_alloc(const char *hex, size_t hexlen, uint8_t **out,
			size_t *outlen);

/* ---- numbers ------------------------------------------------------------ */

/*
 * The one parser of decimal numbers in untrusted text (configuration
 * values, options, query strings, headers, metadata strings), modelled
 * on curl's str_number: one or more ASCII digits, no sign, no white
 * space, no base prefix, and a maximum chosen by each call.
 *
 * bw_num_read reads the digits at *sp and moves *sp past them (the
 * caller decides what may follow). bw_num_parse takes a whole string.
 * BW_EFORMAT: no digit (or, for bw_num_parse, something after them);
 * BW_ETOOBIG: the value is above max (overflow included). *out is only
 * written on success.
 */
int bw_num_read(const char **sp, uint64_t max, uint64_t *out);
int bw_num_parse(const char *s, uint64_t max, uint64_t *out);

/*
 * The same rule for a signed whole string: an optional '-' then one or
 * more digits (no '+', no "-" alone, no "-0" refused: it is 0), within
 * [min, max] (min <= max). BW_EFORMAT as above; BW_ETOOBIG outside the
 * range. *out is only written on success.
 */
int bw_num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
