/*
 * Replays a fuzz target's corpus as an ordinary test: every file under the
 * directories (or the files) named on the command line is fed to
 * LLVMFuzzerTestOneInput once. A crash or sanitizer report fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bulwark/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (64u * 1024u * 1024u)

static int replay_file(const char *path)
{
	struct bw_buf b;
	struct bw_err err;
	int rc;

	bw_buf_init(&b, REPLAY_MAX_INPUT);
	rc = bw_io_read_file(path, REPLAY_MAX_INPUT, &b, &err);
	if (rc != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, err.msg);
		bw_buf_dispose(&b);
		return 1;
	}
	LLVMFuzzerTestOneInput(b.data, b.len);
	bw_buf_dispose(&b);
	return 0;
}

static int replay_path(const char *path, size_t *count)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int failed = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: not found\n", path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	d = opendir(path);
	if (d == NULL)
		return 1;
	while ((de = readdir(d)) != NULL) {
		char *child = NULL;

		if (de->d_name[0] == '.')
			continue;
		if (bw_path_join(path, de->d_name, &child) != 0) {
			failed = 1;
			break;
		}
		failed |= replay_path(child, count);
		free(child);
	}
	closedir(d);
	return failed;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int failed = 0;

	for (int i = 1; i < argc; i++)
		failed |= replay_path(argv[i], &count);
	printf("replayed %zu inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "replay: empty corpus\n");
		return 1;
	}
	return failed;
}
