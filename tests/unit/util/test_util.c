/*
 * Unit tests for the util module: bounded buffers, file I/O, hex and
 * hashing (include/bulwark/buf.h, include/bulwark/hash.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"

/* ---- helpers ---------------------------------------------------------- */

/* A fresh temporary directory per test (state). */
static int tmpdir_setup(void **state)
{
	char *dir = strdup("/tmp/bw_test_util.XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static void rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		chmod(path, 0700);
		d = opendir(path);
		while (d != NULL && (de = readdir(d)) != NULL) {
			char *child = NULL;

			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (bw_path_join(path, de->d_name, &child) == 0)
				rm_rf(child);
			free(child);
		}
		if (d != NULL)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int tmpdir_teardown(void **state)
{
	rm_rf(*state);
	free(*state);
	return 0;
}

static char *join(const char *dir, const char *name)
{
	char *p = NULL;

	assert_int_equal(bw_path_join(dir, name, &p), 0);
	return p;
}

/* Number of directory entries other than . and .. */
static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void write_plain(const char *path, const char *content)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f),
			 strlen(content));
	assert_int_equal(fclose(f), 0);
}

static void assert_file_content(const char *path, const char *want)
{
	struct bw_buf b;
	struct bw_err err = {0};

	bw_buf_init(&b, 1 << 20);
	assert_int_equal(bw_io_read_file(path, 1 << 20, &b, &err), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	bw_buf_dispose(&b);
}

/* ---- bw_buf ------------------------------------------------------------ */

static void test_util_buf__append_and_terminate(void **state)
{
	struct bw_buf b;

	(void)state;
	bw_buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(bw_buf_append(&b, "abc", 3), 0);
	assert_int_equal(bw_buf_append_str(&b, "def"), 0);
	assert_int_equal(b.len, 6);
	assert_string_equal((char *)b.data, "abcdef");
	/* An empty append on an empty buffer still gives a NUL-terminated
	 * string. */
	bw_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	bw_buf_dispose(&b);
	bw_buf_init(&b, 100);
	assert_int_equal(bw_buf_append(&b, NULL, 0), 0);
	assert_non_null(b.data);
	assert_string_equal((char *)b.data, "");
	bw_buf_dispose(&b);
}

static void test_util_buf__cap(void **state)
{
	struct bw_buf b;

	(void)state;
	bw_buf_init(&b, 8);
	assert_int_equal(bw_buf_append(&b, "12345", 5), 0);
	/* One byte over: refused, buffer unchanged. */
	assert_int_equal(bw_buf_append(&b, "6789", 4), BW_ETOOBIG);
	assert_int_equal(b.len, 5);
	assert_string_equal((char *)b.data, "12345");
	/* Exactly up to the cap is fine; then nothing more fits. */
	assert_int_equal(bw_buf_append(&b, "678", 3), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal((char *)b.data, "12345678");
	assert_int_equal(bw_buf_append(&b, "9", 1), BW_ETOOBIG);
	assert_int_equal(bw_buf_append(&b, "", 0), 0);
	assert_string_equal((char *)b.data, "12345678");
	/* The cap holds the content; one more byte holds the NUL. */
	assert_true(b.cap <= 9);
	/* A huge length never wraps around the check. */
	assert_int_equal(bw_buf_append(&b, "x", SIZE_MAX), BW_ETOOBIG);
	bw_buf_dispose(&b);

	bw_buf_init(&b, 0);
	assert_int_equal(bw_buf_append(&b, "x", 1), BW_ETOOBIG);
	assert_int_equal(bw_buf_append(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	bw_buf_dispose(&b);
}

static void test_util_buf__grows(void **state)
{
	struct bw_buf b;
	uint8_t chunk[1000];

	(void)state;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	bw_buf_init(&b, SIZE_MAX);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(bw_buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 1000 * sizeof(chunk));
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], 0);
	for (int i = 0; i < 1000; i++)
		assert_memory_equal(b.data + i * sizeof(chunk), chunk,
				    sizeof(chunk));
	/* SIZE_MAX as the cap: lengths near it fail instead of wrapping. */
	assert_int_not_equal(bw_buf_append(&b, chunk, SIZE_MAX - b.len), 0);
	assert_int_equal(b.len, 1000 * sizeof(chunk));
	bw_buf_dispose(&b);
}

static void test_util_buf__steal_and_dispose(void **state)
{
	struct bw_buf b;
	uint8_t *out = NULL;
	size_t len = 99;

	(void)state;
	bw_buf_init(&b, 64);
	assert_int_equal(bw_buf_append_str(&b, "secret"), 0);
	assert_int_equal(bw_buf_steal(&b, &out, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal((char *)out, "secret");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(out);
	/* Stealing an empty buffer gives an empty string, not NULL. */
	assert_int_equal(bw_buf_steal(&b, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, 0);
	assert_string_equal((char *)out, "");
	free(out);
	/* The buffer is usable again. */
	assert_int_equal(bw_buf_append_str(&b, "again"), 0);
	assert_string_equal((char *)b.data, "again");
	bw_buf_dispose_secret(&b);
	assert_null(b.data);
	bw_buf_dispose(&b); /* twice is fine */
	bw_buf_dispose_secret(&b);
}

/* ---- file I/O ---------------------------------------------------------- */

static void test_util_io__write_atomic_new_file(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "file.json");
	struct bw_err err = {0};
	struct stat st;
	mode_t old = umask(077);

	/* The mode is exact, whatever the umask. */
	assert_int_equal(bw_io_write_atomic(path, "hello", 5, 0644, &err), 0);
	umask(old);
	assert_file_content(path, "hello");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(dir), 1); /* no temporary left */
	free(path);
}

static void test_util_io__write_atomic_replaces(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "root.json");
	struct bw_err err = {0};
	struct stat st;

	write_plain(path, "old content, longer than the new one");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(bw_io_write_atomic(path, "new", 3, 0600, &err), 0);
	assert_file_content(path, "new");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(dir), 1);
	/* Empty content is a valid file. */
	assert_int_equal(bw_io_write_atomic(path, "", 0, 0600, &err), 0);
	assert_file_content(path, "");
	assert_int_equal(count_entries(dir), 1);
	free(path);
}

static void test_util_io__write_atomic_readonly_dir(void **state)
{
	const char *dir = *state;
	char *sub = join(dir, "ro");
	char *path = join(sub, "timestamp.json");
	struct bw_err err = {0};

	assert_int_equal(mkdir(sub, 0700), 0);
	write_plain(path, "trusted");
	assert_int_equal(chmod(sub, 0500), 0);
	/* root ignores directory permissions: find out, then skip. */
	if (access(sub, W_OK) == 0) {
		chmod(sub, 0700);
		free(path);
		free(sub);
		skip();
	}
	assert_int_equal(bw_io_write_atomic(path, "evil", 4, 0644, &err),
			 BW_EIO);
	assert_int_equal(err.code, BW_EIO);
	assert_true(err.msg[0] != '\0');
	assert_int_equal(chmod(sub, 0700), 0);
	assert_file_content(path, "trusted");
	assert_int_equal(count_entries(sub), 1);
	free(path);
	free(sub);
}

/* Root-proof failure paths: the temporary is written, the rename fails. */
static void test_util_io__write_atomic_failures(void **state)
{
	const char *dir = *state;
	char *target = join(dir, "target");
	char *inside = join(target, "keep");
	char *missing = join(dir, "no/such/dir/file");
	struct bw_err err = {0};

	/* A directory where the file should go: rename(2) refuses. */
	assert_int_equal(mkdir(target, 0700), 0);
	write_plain(inside, "kept");
	assert_int_equal(bw_io_write_atomic(target, "x", 1, 0644, &err),
			 BW_EIO);
	assert_file_content(inside, "kept");
	assert_int_equal(count_entries(dir), 1); /* temporary removed */
	/* A directory that does not exist. */
	assert_int_equal(bw_io_write_atomic(missing, "x", 1, 0644, &err),
			 BW_EIO);
	assert_int_equal(count_entries(dir), 1);
	free(target);
	free(inside);
	free(missing);
}

/* bw_io_copy_atomic: a whole streamed copy replaces dst, with the mode
 * asked for, and leaves no temporary file. */
static void test_util_io__copy_atomic(void **state)
{
	const char *dir = *state;
	char *src = join(dir, "image.bin"), *dst = join(dir, "copy.bin");
	char *big = malloc(200001);
	struct bw_err err = {0};
	struct stat st;

	assert_non_null(big);
	for (size_t i = 0; i < 200000; i++)
		big[i] = (char)('a' + i % 23);
	big[200000] = '\0';
	write_plain(src, big);
	write_plain(dst, "old");
	assert_int_equal(bw_io_copy_atomic(src, dst, 0640, 0, &err), 0);
	assert_file_content(dst, big);
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(count_entries(dir), 2);
	free(big);
	free(src);
	free(dst);
}

/* A failed copy leaves dst as it was and no temporary file. */
static void test_util_io__copy_atomic_failures(void **state)
{
	const char *dir = *state;
	char *src = join(dir, "src"), *dst = join(dir, "dst");
	char *link = join(dir, "link"), *sub = join(dir, "sub");
	struct bw_err err = {0};

	write_plain(src, "new");
	write_plain(dst, "trusted");
	assert_int_equal(symlink(src, link), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(bw_io_copy_atomic(link, dst, 0644, BW_IO_NOFOLLOW,
					   &err), BW_EIO);
	assert_file_content(dst, "trusted");
	assert_int_equal(bw_io_copy_atomic(sub, dst, 0644, 0, &err), BW_EIO);
	assert_non_null(strstr(err.msg, "sub"));
	assert_file_content(dst, "trusted");
	free(src);
	src = join(dir, "missing");
	assert_int_equal(bw_io_copy_atomic(src, dst, 0644, 0, &err),
			 BW_ENOTFOUND);
	assert_file_content(dst, "trusted");
	assert_int_equal(count_entries(dir), 4); /* src dst link sub */
	/* Without BW_IO_NOFOLLOW a link is followed. */
	assert_int_equal(bw_io_copy_atomic(link, dst, 0644, 0, &err), 0);
	assert_file_content(dst, "new");
	free(src);
	free(dst);
	free(link);
	free(sub);
}

/* bw_io_copy_fsync writes dst itself (no temporary beside it). */
static void test_util_io__copy_fsync(void **state)
{
	const char *dir = *state;
	char *src = join(dir, "a"), *dst = join(dir, "b.bw-new");
	struct bw_err err = {0};

	write_plain(src, "abc");
	write_plain(dst, "longer old content");
	assert_int_equal(bw_io_copy_fsync(src, dst, 0644, 0, &err), 0);
	assert_file_content(dst, "abc");
	assert_int_equal(count_entries(dir), 2);
	free(src);
	src = join(dir, "missing");
	assert_int_equal(bw_io_copy_fsync(src, dst, 0644, 0, &err),
			 BW_ENOTFOUND);
	free(src);
	free(dst);
}

static void test_util_io__read_file(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "data");
	char *missing = join(dir, "missing");
	char *empty = join(dir, "empty");
	struct bw_err err = {0};
	struct bw_buf b;

	write_plain(path, "0123456789");
	write_plain(empty, "");
	bw_buf_init(&b, 4);
	/* The cap is raised to max when smaller. */
	assert_int_equal(bw_io_read_file(path, 10, &b, &err), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.data, "0123456789");
	bw_buf_dispose(&b);

	bw_buf_init(&b, 100);
	assert_int_equal(bw_io_read_file(path, 9, &b, &err), BW_ETOOBIG);
	assert_int_equal(err.code, BW_ETOOBIG);
	bw_buf_dispose(&b);

	bw_buf_init(&b, 100);
	assert_int_equal(bw_io_read_file(missing, 100, &b, &err), BW_ENOTFOUND);
	assert_int_equal(err.code, BW_ENOTFOUND);
	bw_buf_dispose(&b);

	bw_buf_init(&b, 100);
	assert_int_equal(bw_io_read_file(dir, 100, &b, &err), BW_EIO);
	bw_buf_dispose(&b);

	bw_buf_init(&b, 100);
	assert_int_equal(bw_io_read_file(empty, 100, &b, &err), 0);
	assert_int_equal(b.len, 0);
	assert_non_null(b.data);
	assert_string_equal((char *)b.data, "");
	bw_buf_dispose(&b);
	free(path);
	free(missing);
	free(empty);
}

static void test_util_io__remove(void **state)
{
	const char *dir = *state;
	char *path = join(dir, "gone");
	struct bw_err err = {0};

	write_plain(path, "x");
	assert_int_equal(bw_io_remove(path, &err), 0);
	assert_int_equal(access(path, F_OK), -1);
	/* Removing what is not there is success. */
	assert_int_equal(bw_io_remove(path, &err), 0);
	free(path);
}

static void test_util_io__mkdirs(void **state)
{
	const char *dir = *state;
	char *deep = join(dir, "a/b/c");
	char *slash = join(dir, "x/y/");
	char *file = join(dir, "file");
	char *under_file = join(dir, "file/sub");
	struct bw_err err = {0};
	struct stat st;

	assert_int_equal(bw_io_mkdirs(deep, 0750, &err), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Existing directories are fine; so is a trailing slash. */
	assert_int_equal(bw_io_mkdirs(deep, 0750, &err), 0);
	assert_int_equal(bw_io_mkdirs(slash, 0750, &err), 0);
	assert_int_equal(stat(slash, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* A file in the way is an error, as the last component too. */
	write_plain(file, "x");
	assert_int_equal(bw_io_mkdirs(under_file, 0750, &err), BW_EIO);
	assert_int_equal(bw_io_mkdirs(file, 0750, &err), BW_EIO);
	assert_int_equal(bw_io_mkdirs("", 0750, &err), BW_EINVAL);
	free(deep);
	free(slash);
	free(file);
	free(under_file);
}

static void test_util_io__path_join(void **state)
{
	char *p = NULL;

	(void)state;
	assert_int_equal(bw_path_join("a", "b", &p), 0);
	assert_string_equal(p, "a/b");
	free(p);
	assert_int_equal(bw_path_join("a/", "b", &p), 0);
	assert_string_equal(p, "a/b");
	free(p);
	assert_int_equal(bw_path_join("/", "etc", &p), 0);
	assert_string_equal(p, "/etc");
	free(p);
}

/* ---- hex ----------------------------------------------------------------- */

static void test_util_hex__encode(void **state)
{
	static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[2 * sizeof(in) + 1];

	(void)state;
	bw_hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "00017f80abff");
	bw_hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

static void test_util_hex__decode(void **state)
{
	uint8_t out[4];
	uint8_t *dyn = NULL;
	size_t dynlen = 0;

	(void)state;
	assert_int_equal(bw_hex_decode("00ABcdFF", 8, out, 4), 0);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xab);
	assert_int_equal(out[2], 0xcd);
	assert_int_equal(out[3], 0xff);
	assert_int_equal(bw_hex_decode("", 0, out, 0), 0);

	assert_int_equal(bw_hex_decode_alloc("deadbeef", 8, &dyn, &dynlen), 0);
	assert_int_equal(dynlen, 4);
	assert_int_equal(dyn[0], 0xde);
	assert_int_equal(dyn[3], 0xef);
	free(dyn);
	assert_int_equal(bw_hex_decode_alloc("", 0, &dyn, &dynlen), 0);
	assert_int_equal(dynlen, 0);
	free(dyn);
}

static void test_util_hex__decode_bad(void **state)
{
	uint8_t out[4];
	uint8_t *dyn = (uint8_t *)out;
	size_t dynlen = 0;

	(void)state;
	assert_int_equal(bw_hex_decode("abc", 3, out, 1), BW_EFORMAT);
	assert_int_equal(bw_hex_decode("0g", 2, out, 1), BW_EFORMAT);
	assert_int_equal(bw_hex_decode("g0", 2, out, 1), BW_EFORMAT);
	assert_int_equal(bw_hex_decode(" 0", 2, out, 1), BW_EFORMAT);
	assert_int_equal(bw_hex_decode("0x", 2, out, 1), BW_EFORMAT);
	assert_int_equal(bw_hex_decode("00\0"
				       "0",
				       4, out, 2),
			 BW_EFORMAT);
	/* Length other than expected, either way. */
	assert_int_equal(bw_hex_decode("0011", 4, out, 1), BW_EFORMAT);
	assert_int_equal(bw_hex_decode("0011", 4, out, 3), BW_EFORMAT);
	assert_int_equal(bw_hex_decode_alloc("abc", 3, &dyn, &dynlen),
			 BW_EFORMAT);
	assert_null(dyn);
	dyn = (uint8_t *)out;
	assert_int_equal(bw_hex_decode_alloc("zz", 2, &dyn, &dynlen),
			 BW_EFORMAT);
	assert_null(dyn);
}

/* ---- hashes -------------------------------------------------------------- */

static void check_digest(enum bw_hash_alg alg, const void *data, size_t len,
			 const char *want)
{
	char hex[BW_HASH_MAX_HEX];

	assert_int_equal(bw_hash_buf_hex(alg, data, len, hex), 0);
	assert_string_equal(hex, want);
}

/* FIPS 180-2 / NIST example vectors. */
static void test_util_hash__known_answers(void **state)
{
	static const char two_blocks[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char *million = malloc(1000000);

	(void)state;
	assert_non_null(million);
	memset(million, 'a', 1000000);
	check_digest(BW_HASH_SHA256, "", 0,
		     "e3b0c44298fc1c149afbf4c8996fb924"
		     "27ae41e4649b934ca495991b7852b855");
	check_digest(BW_HASH_SHA256, "abc", 3,
		     "ba7816bf8f01cfea414140de5dae2223"
		     "b00361a396177a9cb410ff61f20015ad");
	check_digest(BW_HASH_SHA256, two_blocks, sizeof(two_blocks) - 1,
		     "248d6a61d20638b8e5c026930c3e6039"
		     "a33ce45964ff2167f6ecedd419db06c1");
	check_digest(BW_HASH_SHA256, million, 1000000,
		     "cdc76e5c9914fb9281a1c7e284d73e67"
		     "f1809a48a497200e046d39ccc7112cd0");
	check_digest(BW_HASH_SHA512, "", 0,
		     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921"
		     "d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81"
		     "a538327af927da3e");
	check_digest(BW_HASH_SHA512, "abc", 3,
		     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee6"
		     "4b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e"
		     "2a9ac94fa54ca49f");
	check_digest(BW_HASH_SHA512, million, 1000000,
		     "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803"
		     "afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e"
		     "4eadb217ad8cc09b");
	free(million);
}

static void test_util_hash__streaming_equals_oneshot(void **state)
{
	enum { LEN = 300007 };
	uint8_t *data = malloc(LEN);
	uint8_t one[BW_HASH_MAX_LEN], streamed[BW_HASH_MAX_LEN];
	static const size_t steps[] = {1, 0, 63, 64, 65, 127, 1000, 4096, 7};

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < LEN; i++)
		data[i] = (uint8_t)(i * 31 + (i >> 8));
	for (int a = BW_HASH_SHA256; a <= BW_HASH_SHA512; a++) {
		enum bw_hash_alg alg = (enum bw_hash_alg)a;
		struct bw_hash *h = NULL;
		size_t off = 0, k = 0;

		assert_int_equal(bw_hash_buf(alg, data, LEN, one), 0);
		assert_int_equal(bw_hash_new(alg, &h), 0);
		while (off < LEN) {
			size_t n =
			    steps[k++ % (sizeof(steps) / sizeof(steps[0]))];

			if (n > LEN - off)
				n = LEN - off;
			assert_int_equal(bw_hash_update(h, data + off, n), 0);
			off += n;
		}
		assert_int_equal(bw_hash_final(h, streamed), 0);
		bw_hash_free(h);
		assert_memory_equal(one, streamed, bw_hash_alg_len(alg));
	}
	bw_hash_free(NULL);
	free(data);
}

static void test_util_hash__names(void **state)
{
	enum bw_hash_alg alg = BW_HASH_SHA512;
	struct bw_hash *h = (struct bw_hash *)&alg;

	(void)state;
	assert_int_equal(bw_hash_alg_from_name("sha256", &alg), 0);
	assert_int_equal(alg, BW_HASH_SHA256);
	assert_int_equal(bw_hash_alg_from_name("sha512", &alg), 0);
	assert_int_equal(alg, BW_HASH_SHA512);
	assert_int_equal(bw_hash_alg_from_name("SHA256", &alg),
			 BW_EUNSUPPORTED);
	assert_int_equal(bw_hash_alg_from_name("md5", &alg), BW_EUNSUPPORTED);
	assert_int_equal(bw_hash_alg_from_name("sha256 ", &alg),
			 BW_EUNSUPPORTED);
	assert_int_equal(bw_hash_alg_from_name("", &alg), BW_EUNSUPPORTED);
	assert_string_equal(bw_hash_alg_name(BW_HASH_SHA256), "sha256");
	assert_string_equal(bw_hash_alg_name(BW_HASH_SHA512), "sha512");
	assert_int_equal(bw_hash_alg_len(BW_HASH_SHA256), 32);
	assert_int_equal(bw_hash_alg_len(BW_HASH_SHA512), 64);
	assert_int_equal(bw_hash_new((enum bw_hash_alg)7, &h), BW_EUNSUPPORTED);
	assert_null(h);
}

/* ---- errors -------------------------------------------------------------- */

static void test_util_error__set_and_clear(void **state)
{
	struct bw_err err;
	char longarg[2 * BW_ERR_MSG_MAX];

	(void)state;
	assert_int_equal(bw_err_set(&err, BW_ESIG, "bad %s %d", "sig", 3),
			 BW_ESIG);
	assert_int_equal(err.code, BW_ESIG);
	assert_string_equal(err.msg, "bad sig 3");
	assert_int_equal(bw_err_set(NULL, BW_EIO, "x"), BW_EIO);
	/* Long messages are truncated, still terminated. */
	memset(longarg, 'x', sizeof(longarg) - 1);
	longarg[sizeof(longarg) - 1] = '\0';
	bw_err_set(&err, BW_EFORMAT, "%s", longarg);
	assert_int_equal(strlen(err.msg), BW_ERR_MSG_MAX - 1);
	bw_err_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
	bw_err_clear(NULL);
	assert_string_equal(bw_strerror(BW_EEXPIRED), "expired");
	assert_string_equal(bw_strerror(12345), "unknown error");
}

static void test_util_num__digits_only(void **state)
{
	static const char *const bad[] = {"", " 1", "1 ", "+1", "-1", "0x1",
					  "1s", "1.0", "\t2", "١"};
	uint64_t v = 77;

	(void)state;
	assert_int_equal(bw_num_parse("0", 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bw_num_parse("007", 10, &v), 0);
	assert_int_equal(v, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 77;
		assert_int_equal(bw_num_parse(bad[i], UINT64_MAX, &v),
				 BW_EFORMAT);
		assert_int_equal(v, 77); /* untouched on error */
	}
	assert_int_equal(bw_num_parse(NULL, 1, &v), BW_EFORMAT);
}

static void test_util_num__maximum_per_call(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(bw_num_parse("3600", 3600, &v), 0);
	assert_int_equal(v, 3600);
	assert_int_equal(bw_num_parse("3601", 3600, &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse("10", 9, &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse("1", 0, &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse("18446744073709551615", UINT64_MAX, &v),
			 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(bw_num_parse("18446744073709551616", UINT64_MAX, &v),
			 BW_ETOOBIG);
	assert_int_equal(bw_num_parse("99999999999999999999999", UINT64_MAX,
				      &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse("9223372036854775808", INT64_MAX, &v),
			 BW_ETOOBIG);
}

static void test_util_num__read_stops_at_non_digit(void **state)
{
	const char *s = "123-456", *p = s;
	uint64_t v = 0;

	(void)state;
	assert_int_equal(bw_num_read(&p, 1000, &v), 0);
	assert_int_equal(v, 123);
	assert_ptr_equal(p, s + 3);
	p++;
	assert_int_equal(bw_num_read(&p, 1000, &v), 0);
	assert_int_equal(v, 456);
	assert_int_equal(*p, '\0');
	p = "-1";
	assert_int_equal(bw_num_read(&p, 1000, &v), BW_EFORMAT);
	p = "1001x";
	assert_int_equal(bw_num_read(&p, 1000, &v), BW_ETOOBIG);
}

static void test_util_num__signed_range(void **state)
{
	static const char *const bad[] = {"", "-", "+1", " -1", "--1", "- 1",
					  "-1x", "1-"};
	int64_t v = 77;

	(void)state;
	assert_int_equal(bw_num_parse_i64("-42", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == -42);
	assert_int_equal(bw_num_parse_i64("42", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == 42);
	assert_int_equal(bw_num_parse_i64("-0", 0, 10, &v), 0);
	assert_true(v == 0);
	assert_int_equal(bw_num_parse_i64("-9223372036854775808", INT64_MIN,
					  INT64_MAX, &v),
			 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(bw_num_parse_i64("9223372036854775807", INT64_MIN,
					  INT64_MAX, &v),
			 0);
	assert_true(v == INT64_MAX);
	v = 77;
	assert_int_equal(bw_num_parse_i64("-9223372036854775809", INT64_MIN,
					  INT64_MAX, &v),
			 BW_ETOOBIG);
	assert_int_equal(bw_num_parse_i64("9223372036854775808", INT64_MIN,
					  INT64_MAX, &v),
			 BW_ETOOBIG);
	assert_int_equal(bw_num_parse_i64("-1", 0, 10, &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse_i64("11", 0, 10, &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse_i64("-6", -5, -1, &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse_i64("0", -5, -1, &v), BW_ETOOBIG);
	assert_int_equal(bw_num_parse_i64("4", 5, 9, &v), BW_ETOOBIG);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    bw_num_parse_i64(bad[i], INT64_MIN, INT64_MAX, &v),
		    BW_EFORMAT);
	assert_true(v == 77); /* untouched on error */
	assert_int_equal(bw_num_parse_i64(NULL, 0, 1, &v), BW_EFORMAT);
}

#define TMP_TEST(f)                                                            \
	cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_util_buf__append_and_terminate),
	    cmocka_unit_test(test_util_num__digits_only),
	    cmocka_unit_test(test_util_num__signed_range),
	    cmocka_unit_test(test_util_num__maximum_per_call),
	    cmocka_unit_test(test_util_num__read_stops_at_non_digit),
	    cmocka_unit_test(test_util_buf__cap),
	    cmocka_unit_test(test_util_buf__grows),
	    cmocka_unit_test(test_util_buf__steal_and_dispose),
	    TMP_TEST(test_util_io__write_atomic_new_file),
	    TMP_TEST(test_util_io__write_atomic_replaces),
	    TMP_TEST(test_util_io__write_atomic_readonly_dir),
	    TMP_TEST(test_util_io__write_atomic_failures),
	    TMP_TEST(test_util_io__copy_atomic),
	    TMP_TEST(test_util_io__copy_atomic_failures),
	    TMP_TEST(test_util_io__copy_fsync),
	    TMP_TEST(test_util_io__read_file),
	    TMP_TEST(test_util_io__remove),
	    TMP_TEST(test_util_io__mkdirs),
	    cmocka_unit_test(test_util_io__path_join),
	    cmocka_unit_test(test_util_hex__encode),
	    cmocka_unit_test(test_util_hex__decode),
	    cmocka_unit_test(test_util_hex__decode_bad),
	    cmocka_unit_test(test_util_hash__known_answers),
	    cmocka_unit_test(test_util_hash__streaming_equals_oneshot),
	    cmocka_unit_test(test_util_hash__names),
	    cmocka_unit_test(test_util_error__set_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
