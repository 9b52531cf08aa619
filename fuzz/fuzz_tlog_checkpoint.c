/*
 * Fuzz target for signed notes and checkpoints (bulwark/tlog.h):
 * bw_tlog_note_parse, bw_tlog_checkpoint_parse and
 * bw_tlog_checkpoint_open against a fixed Ed25519 log key.
 *
 * For every input: a refused note reports a code and leaves *out NULL; a
 * parsed note has text ending in a newline and between one and
 * BW_TLOG_SIGS_MAX signatures; a parsed checkpoint body formats back to
 * its first three lines; open never succeeds on an input that is not a
 * note. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what)
{
	fprintf(stderr, "fuzz_tlog_checkpoint: %s\n", what);
	abort();
}

/* The key of the corpus notes (Ed25519 seed: 32 bytes of 0x07). */
static const char vkey_text[] =
    "bulwark.test/log+23b74c2e+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_tlog_note *n = NULL;
	struct bw_tlog_checkpoint c;
	struct bw_tlog_vkey vk;
	struct bw_err err;
	int rc, vrc;

	rc = bw_tlog_note_parse(data, size, &n, &err);
	if (rc != 0) {
		if (n != NULL || rc > 0)
			violation("refused note with output");
	} else {
		if (n->text_len == 0 || n->text[n->text_len - 1] != '\n' ||
		    n->nsigs == 0 || n->nsigs > BW_TLOG_SIGS_MAX)
			violation("accepted malformed note");
		if (bw_tlog_checkpoint_parse(n->text, n->text_len, &c, &err) ==
		    0) {
			char *body = NULL;
			size_t blen = 0;

			if (bw_tlog_checkpoint_format(&c, &body, &blen, NULL) !=
				0 ||
			    blen > n->text_len ||
			    memcmp(body, n->text, blen) != 0)
				violation("checkpoint does not round-trip");
			free(body);
		}
	}
	vrc = bw_tlog_vkey_parse(vkey_text, sizeof(vkey_text) - 1, &vk, NULL);
	if (vrc == 0 && bw_tlog_checkpoint_open(data, size, &vk, NULL, NULL, 0,
						0, &c, &err) == 0 &&
	    rc != 0)
		violation("opened what does not parse");
	bw_tlog_note_free(n);
	return 0;
}
