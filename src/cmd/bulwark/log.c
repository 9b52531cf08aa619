/*
 * `bulwark log verify|show|monitor|cosign|key`: the transparency log of a
 * server (docs/transparency-log.md). verify and monitor trust nothing the
 * server says: the checkpoint must carry the log key's signature (and
 * witnesses' when asked), the entries must hash to its root, and an
 * earlier checkpoint must be a prefix of it (RFC 9162 consistency).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/pkcs11.h"
#include "bulwark/tlog.h"
#include "cli.h"
#include "hsm.h"
#include "server_cli.h"

#define PAGE 1000
#define VKEY_MAX 1024
#define ENTRIES_ANSWER_MAX (4u * 1024u * 1024u)

/* What verify, show and monitor share. */
struct logopts {
	struct bw_admin_client s;
	const char *vkey;
	struct bw_cli_list witness;
	const char *nwit;
};

#define LOG_OPTS(o)                                                            \
	BW_ADMIN_OPTS((o).s),                                                  \
	    {"--log-key", BW_CLI_STR, "FILE",                                  \
	     "the log's verifier key (NAME+HASH+KEY, as `bulwark log key` "    \
	     "prints it)",                                                     \
	     &(o).vkey},                                                       \
	    {"--witness-key", BW_CLI_LIST, "FILE",                             \
	     "a witness's verifier key (repeatable)", &(o).witness},           \
	{                                                                      \
		"--witnesses", BW_CLI_STR, "N",                                \
		    "witness signatures the saved checkpoint needs (default "  \
		    "0)",                                                      \
		    &(o).nwit                                                  \
	}

struct trust {
	struct bw_tlog_vkey log;
	struct bw_tlog_vkey wit[BW_CLI_LIST_MAX];
	size_t nwit, min;
};

static int vkey_load(const char *prog, const char *path,
		     struct bw_tlog_vkey *vk)
{
	struct bw_buf b;
	struct bw_err err = {0};
	int rc;

	bw_buf_init(&b, VKEY_MAX);
	rc = bw_io_read_file(path, VKEY_MAX, &b, &err);
	if (rc == 0)
		rc = bw_tlog_vkey_parse((const char *)b.data, b.len, vk, &err);
	bw_buf_dispose(&b);
	return rc ? bw_cli_fail(prog, "%s: %s", path, err.msg) : BW_EXIT_OK;
}

static int trust_load(const char *prog, const struct logopts *o,
		      struct trust *t)
{
	size_t i;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!o->vkey)
		return bw_cli_usage(prog, "--log-key is required");
	if ((rc = vkey_load(prog, o->vkey, &t->log)) != BW_EXIT_OK)
		return rc;
	for (i = 0; i < o->witness.n; i++)
		if ((rc = vkey_load(prog, o->witness.v[i], &t->wit[i])) !=
		    BW_EXIT_OK)
			return rc;
	t->nwit = o->witness.n;
	if (o->nwit) {
		uint64_t n = 0;

		if (bw_num_parse(o->nwit, t->nwit, &n) != 0)
			return bw_cli_usage(prog, "--witnesses must be a "
					    "number up to the count of "
					    "--witness-key");
		t->min = (size_t)n;
	}
	return BW_EXIT_OK;
}

static int cp_open(const char *prog, const char *what, const uint8_t *note,
		   size_t len, const struct trust *t,
		   struct bw_tlog_checkpoint *c)
{
	struct bw_err err = {0};

	if (bw_tlog_checkpoint_open(note, len, &t->log, t->log.name, t->wit,
				    t->nwit, t->min, c, &err) != 0)
		return bw_cli_fail(prog, "BAD CHECKPOINT (%s): %s", what,
				   err.msg);
	return BW_EXIT_OK;
}

static int proof_get(const char *prog, const struct bw_admin_client *s,
		     const char *path, struct bw_tlog_proof *p)
{
	struct bw_err err = {0};
	json_t *ans = NULL;
	long st = 0;
	int rc = bw_admin_request(prog, s, "GET", path, NULL, 0, 0, &st, &ans);

	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_tlog_proof_from_json(ans, p, &err) != 0)
		rc = bw_cli_fail(prog, "BAD PROOF from the server: %s", err.msg);
	json_decref(ans);
	return rc;
}

/* One page of entries [start, end): each checked and appended to rg;
 * when leaves is not NULL their hashes are kept there. */
static int page_get(const char *prog, const struct bw_admin_client *s,
		    uint64_t start, uint64_t end, struct bw_tlog_range *rg,
		    struct bw_tlog_hash *leaves, int print)
{
	char path[96];
	json_t *ans = NULL, *arr, *e;
	long st = 0;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "/log/entries?start=%" PRIu64
		 "&end=%" PRIu64, start, end);
	rc = bw_admin_request(prog, s, "GET", path, NULL, 0, 0, &st, &ans);
	if (rc != BW_EXIT_OK)
		return rc;
	arr = json_object_get(ans, "entries");
	json_array_foreach(arr, i, e)
	{
		const char *b64 = json_string_value(json_object_get(e, "entry"));
		json_t *idx = json_object_get(e, "index"), *rec = NULL;
		struct bw_tlog_hash h;
		struct bw_err err = {0};
		uint8_t *raw = NULL;
		size_t len = 0;

		if (!json_is_integer(idx) ||
		    json_integer_value(idx) != (json_int_t)(start + i) || !b64 ||
		    bw_tlog_b64_decode(b64, strlen(b64), BW_TLOG_ENTRY_MAX,
				       &raw, &len) != 0) {
			rc = bw_cli_fail(prog, "BAD ENTRY %" PRIu64 ": the "
					 "server's answer is malformed",
					 start + i);
			break;
		}
		if (bw_tlog_entry_parse(raw, len, &rec, &err) != 0) {
			free(raw);
			rc = bw_cli_fail(prog, "BAD ENTRY %" PRIu64 ": %s",
					 start + i, err.msg);
			break;
		}
		bw_tlog_leaf_hash(raw, len, &h);
		bw_tlog_range_append(rg, &h);
		if (leaves)
			leaves[start + i] = h;
		if (print) {
			json_t *t = json_object_get(rec, "time");
			time_t tt = (time_t)json_integer_value(t);
			char when[32], *objs = json_dumps(
			    json_object_get(rec, "objects"),
			    JSON_COMPACT | JSON_SORT_KEYS);
			struct tm tm;

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
				 gmtime_r(&tt, &tm));
			printf("%" PRIu64 "\t%s\t%s\t%s\t%s\n", start + i, when,
			       json_string_value(json_object_get(rec, "action")),
			       json_string_value(json_object_get(rec, "by")),
			       objs ? objs : "{}");
			free(objs);
		}
		json_decref(rec);
		free(raw);
	}
	if (rc == BW_EXIT_OK && json_array_size(arr) != end - start)
		rc = bw_cli_fail(prog, "MISSING ENTRY %" PRIu64 ": the log "
				 "has %" PRIu64 " entries but the server "
				 "returns none at %" PRIu64 " (deleted?)",
				 start + json_array_size(arr), end,
				 start + json_array_size(arr));
	json_decref(ans);
	return rc;
}

/* The first entry whose inclusion proof fails against c: named. */
static int find_altered(const char *prog, const struct bw_admin_client *s,
			const struct bw_tlog_checkpoint *c,
			const struct bw_tlog_hash *leaves)
{
	struct bw_tlog_proof *p = malloc(sizeof(*p));
	char path[96];
	uint64_t i;
	int rc = BW_EXIT_FAIL;

	for (i = 0; p && i < c->size; i++) {
		snprintf(path, sizeof(path),
			 "/log/proof/inclusion?index=%" PRIu64
			 "&size=%" PRIu64, i, c->size);
		if (proof_get(prog, s, path, p) != BW_EXIT_OK)
			break;
		if (bw_tlog_verify_inclusion(c->size, i, &leaves[i], p,
					     &c->root, NULL) != 0) {
			bw_cli_fail(prog, "ALTERED ENTRY %" PRIu64 ": it is "
				    "not the entry the signed checkpoint of "
				    "size %" PRIu64 " holds", i, c->size);
			goto out;
		}
	}
	bw_cli_fail(prog, "ALTERED LOG: the entries do not hash to the "
		    "signed root of size %" PRIu64, c->size);
out:
	free(p);
	return rc;
}

/*
 * Every entry of the tree c against its root; with old, first that c
 * extends old (consistency proof). print: show entries too.
 */
static int check_log(const char *prog, const struct bw_admin_client *s,
		     const struct bw_tlog_checkpoint *c,
		     const struct bw_tlog_checkpoint *old, int print)
{
	struct bw_tlog_range rg;
	struct bw_tlog_hash root, *leaves = NULL;
	struct bw_err err = {0};
	uint64_t at;
	int rc = BW_EXIT_OK;

	if (old && c->size < old->size)
		return bw_cli_fail(prog, "ROLLBACK: the log shrank from %" PRIu64
				   " to %" PRIu64 " entries", old->size,
				   c->size);
	if (old && old->size > 0) {
		struct bw_tlog_proof *p = malloc(sizeof(*p));
		char path[96];

		snprintf(path, sizeof(path), "/log/proof/consistency?old=%" PRIu64
			 "&size=%" PRIu64, old->size, c->size);
		rc = p ? proof_get(prog, s, path, p) : BW_EXIT_FAIL;
		if (rc == BW_EXIT_OK &&
		    bw_tlog_verify_consistency(old->size, c->size, &old->root,
					       &c->root, p, &err) != 0)
			rc = bw_cli_fail(prog, "FORK: the log of size %" PRIu64
					 " does not extend the saved one of "
					 "size %" PRIu64 ": %s", c->size,
					 old->size, err.msg);
		free(p);
		if (rc != BW_EXIT_OK)
			return rc;
	}
	if (c->size > ((uint64_t)1 << 32))
		return bw_cli_fail(prog, "log of %" PRIu64 " entries is too "
				   "large to check here", c->size);
	leaves = calloc(c->size ? c->size : 1, sizeof(*leaves));
	if (!leaves)
		return bw_cli_fail(prog, "out of memory");
	bw_tlog_range_init(&rg);
	for (at = 0; rc == BW_EXIT_OK && at < c->size; at += PAGE)
		rc = page_get(prog, s, at,
			      at + PAGE < c->size ? at + PAGE : c->size, &rg,
			      leaves, print);
	if (rc == BW_EXIT_OK) {
		bw_tlog_range_root(&rg, &root);
		if (memcmp(root.h, c->root.h, BW_TLOG_HASH_LEN) != 0)
			rc = find_altered(prog, s, c, leaves);
	}
	free(leaves);
	return rc;
}

static int fetch_cp(const char *prog, const struct bw_admin_client *s,
		    const struct trust *t, uint8_t **note, size_t *len,
		    struct bw_tlog_checkpoint *c)
{
	struct trust plain = *t;
	int rc = bw_admin_get_raw(prog, s, "/log/checkpoint", BW_TLOG_NOTE_MAX,
				  note, len);

	/* Witnesses sign what they saw: the saved checkpoint carries their
	 * lines; the server's newest has none yet. */
	plain.min = 0;
	if (rc == BW_EXIT_OK)
		rc = cp_open(prog, "the server's", *note, *len, &plain, c);
	return rc;
}

static int saved_load(const char *prog, const char *path,
		      const struct trust *t, struct bw_tlog_checkpoint *c,
		      int *have)
{
	struct bw_buf b;
	struct bw_err err = {0};
	int rc;

	*have = 0;
	bw_buf_init(&b, BW_TLOG_NOTE_MAX);
	rc = bw_io_read_file(path, BW_TLOG_NOTE_MAX, &b, &err);
	if (rc == BW_ENOTFOUND) {
		rc = BW_EXIT_OK;
	} else if (rc != 0) {
		rc = bw_cli_fail(prog, "%s: %s", path, err.msg);
	} else {
		rc = cp_open(prog, path, b.data, b.len, t, c);
		*have = rc == BW_EXIT_OK;
	}
	bw_buf_dispose(&b);
	return rc;
}

static int save(const char *prog, const char *path, const uint8_t *note,
		size_t len)
{
	struct bw_err err = {0};

	if (bw_io_write_atomic(path, note, len, 0644, &err) != 0)
		return bw_cli_fail(prog, "cannot write %s: %s", path, err.msg);
	return BW_EXIT_OK;
}

/* verify (state_is_saved = 0) and monitor (1) */
static int run_check(const char *prog, const struct logopts *o,
		     const char *saved, const char *out, int monitor)
{
	struct bw_tlog_checkpoint c, old;
	struct trust t;
	uint8_t *note = NULL;
	size_t len = 0;
	int rc, have = 0;

	if ((rc = trust_load(prog, o, &t)) != BW_EXIT_OK)
		return rc;
	if (saved && (rc = saved_load(prog, saved, &t, &old, &have)) !=
			 BW_EXIT_OK)
		return rc;
	if (saved && !have && !monitor)
		return bw_cli_fail(prog, "%s: no such file", saved);
	if ((rc = fetch_cp(prog, &o->s, &t, &note, &len, &c)) != BW_EXIT_OK)
		goto out;
	if ((rc = check_log(prog, &o->s, &c, have ? &old : NULL, 0)) !=
	    BW_EXIT_OK)
		goto out;
	printf("log %s: %" PRIu64 " entries verified against the signed "
	       "checkpoint", c.origin, c.size);
	if (have)
		printf(", which extends the one of size %" PRIu64, old.size);
	printf("\n");
	if (out)
		rc = save(prog, out, note, len);
out:
	free(note);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	static const char *prog = "bulwark log verify";
	struct logopts o = {0};
	const char *saved = NULL, *out = NULL;
	const struct bw_cli_opt opts[] = {
	    LOG_OPTS(o),
	    {"--checkpoint", BW_CLI_STR, "FILE",
	     "a checkpoint saved earlier: the server's log must extend it",
	     &saved},
	    {"--save", BW_CLI_STR, "FILE",
	     "write the verified checkpoint to FILE", &out},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--server URL --log-key FILE [--checkpoint FILE] [options]",
	    "Fetch the server's signed checkpoint and check it: signed by the "
	    "log key (and\nwitnesses), every entry well formed and hashing "
	    "to its root, and with\n--checkpoint, consistent with (an "
	    "extension of) the saved one. Names what\nis wrong (ROLLBACK, "
	    "FORK, ALTERED ENTRY n, MISSING ENTRY n, BAD CHECKPOINT)\nand "
	    "exits 1.",
	    opts, NULL, 0, 0};
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	return run_check(prog, &o, saved, out, 0);
}

static int cmd_monitor(int argc, char **argv)
{
	static const char *prog = "bulwark log monitor";
	struct logopts o = {0};
	const char *state = NULL;
	const struct bw_cli_opt opts[] = {
	    LOG_OPTS(o),
	    {"--state", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the last checkpoint seen (created on the first run)", &state},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--server URL --log-key FILE --state FILE [options]",
	    "Check the log as `log verify` does against the checkpoint seen "
	    "last time\n(kept in --state), then remember the new one. A log "
	    "that shrank or forked\nfails loudly (exit 1) and the state file "
	    "keeps the last good checkpoint.\nRun it from cron.",
	    opts, NULL, 0, 0};
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	return run_check(prog, &o, state, state, 1);
}

static int cmd_show(int argc, char **argv)
{
	static const char *prog = "bulwark log show";
	struct logopts o = {0};
	struct bw_tlog_checkpoint c;
	struct trust t;
	uint8_t *note = NULL;
	size_t len = 0;
	const struct bw_cli_opt opts[] = {
	    LOG_OPTS(o),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--server URL --log-key FILE [options]",
	    "Print every entry of the log, one per line: index, time (UTC), "
	    "action, who,\nwhat (names and digests), after checking them "
	    "against the signed checkpoint.",
	    opts, NULL, 0, 0};
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((rc = trust_load(prog, &o, &t)) != BW_EXIT_OK ||
	    (rc = fetch_cp(prog, &o.s, &t, &note, &len, &c)) != BW_EXIT_OK)
		goto out;
	rc = check_log(prog, &o.s, &c, NULL, 1);
out:
	free(note);
	return rc;
}

/* An Ed25519 key: a PEM file (0600) or a pkcs11: URI whose PIN comes from
 * pin_file, else from the URI's pin-source. */
static int signer_load(const char *prog, const char *spec,
		       const char *pin_file, struct bw_signer **s)
{
	struct bw_pkcs11_opts o = {0};
	struct bw_err err = {0};
	char *pin = NULL;
	int rc;

	if (strncmp(spec, "pkcs11:", 7) != 0) {
		rc = bw_signer_keyfile_load(spec, 0, s, &err);
	} else {
		rc = pin_file != NULL
			 ? bw_pkcs11_pin_from_file(pin_file, &pin, &err)
			 : 0;
		o.uri = spec;
		o.pin = pin;
		o.allow_eddsa = 1; /* signs notes through the signer only */
		if (rc == 0)
			rc = bw_pkcs11_signer_open(&o, s, &err);
		bw_pkcs11_pin_free(pin);
	}
	if (rc != 0)
		return bw_cli_fail(prog, "%.300s: %s", spec, err.msg);
	if (bw_signer_key(*s)->type != BW_KEY_ED25519) {
		bw_signer_free(*s);
		*s = NULL;
		return bw_cli_fail(prog, "%.300s: not an Ed25519 key (C2SP "
				   "signed notes are Ed25519)", spec);
	}
	return BW_EXIT_OK;
}

static int cmd_cosign(int argc, char **argv)
{
	static const char *prog = "bulwark log cosign";
	const char *in = NULL, *vkey = NULL, *key = NULL, *name = NULL,
		   *out = NULL, *pin_file = NULL;
	const struct bw_cli_opt opts[] = {
	    {"--checkpoint", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the signed checkpoint to co-sign", &in},
	    {"--log-key", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the log's verifier key (checked before signing)", &vkey},
	    {"--key", BW_CLI_STR | BW_CLI_REQUIRED, "FILE|URI",
	     "the witness's Ed25519 private key (PEM, mode 0600, or a "
	     "pkcs11: URI)", &key},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for a pkcs11: key (else the URI's pin-source)", &pin_file},
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "NAME",
	     "the witness's key name", &name},
	    {"--out", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "where to write the co-signed checkpoint", &out},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--checkpoint F --log-key F --key F --name N --out F",
	    "Witness a checkpoint offline: check the log's signature, then "
	    "add a second\nsignature line by the witness key. A witness that "
	    "co-signs only checkpoints\nthat extend the ones it signed "
	    "before (run `log verify --checkpoint` first)\ncatches a server "
	    "that shows different logs to different people.",
	    opts, NULL, 0, 0};
	struct bw_tlog_checkpoint c;
	struct bw_tlog_note *n = NULL;
	struct bw_signer *s = NULL;
	struct trust t;
	struct bw_buf b;
	struct bw_err err = {0};
	char *note = NULL;
	size_t len = 0;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	memset(&t, 0, sizeof(t));
	bw_buf_init(&b, BW_TLOG_NOTE_MAX);
	if ((rc = vkey_load(prog, vkey, &t.log)) != BW_EXIT_OK)
		goto out;
	if (bw_io_read_file(in, BW_TLOG_NOTE_MAX, &b, &err) != 0) {
		rc = bw_cli_fail(prog, "%s: %s", in, err.msg);
		goto out;
	}
	if ((rc = cp_open(prog, in, b.data, b.len, &t, &c)) != BW_EXIT_OK ||
	    (rc = signer_load(prog, key, pin_file, &s)) != BW_EXIT_OK)
		goto out;
	if (bw_tlog_note_parse(b.data, b.len, &n, &err) != 0 ||
	    (note = malloc(b.len)) == NULL) {
		rc = bw_cli_fail(prog, "%s: %s", in, err.msg);
		goto out;
	}
	memcpy(note, b.data, b.len);
	len = b.len;
	if (bw_tlog_note_sign(n->text, n->text_len, name, s, &note, &len,
			      &err) != 0) {
		rc = bw_cli_fail(prog, "cannot sign: %s", err.msg);
		goto out;
	}
	if ((rc = save(prog, out, (uint8_t *)note, len)) == BW_EXIT_OK)
		printf("co-signed the checkpoint of %s at size %" PRIu64
		       " as %s -> %s\n", c.origin, c.size, name, out);
out:
	free(note);
	bw_tlog_note_free(n);
	bw_signer_free(s);
	bw_buf_dispose(&b);
	return rc;
}

static int cmd_publish(int argc, char **argv)
{
	static const char *prog = "bulwark log publish";
	struct bw_admin_client s = {0};
	const char *in = NULL;
	const struct bw_cli_opt opts[] = {
	    BW_ADMIN_OPTS(s),
	    {"--checkpoint", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "a checkpoint co-signed by `bulwark log cosign`", &in},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--server URL --checkpoint FILE [options]",
	    "Hand a witnessed checkpoint back to the server (PUT "
	    "/log/witnessed). The\nserver keeps it when its log key signed "
	    "it and its root is the log's at that\nsize; devices with binary "
	    "transparency on install only releases proven to\nbe in the log "
	    "under such a checkpoint.",
	    opts, NULL, 0, 0};
	long st = 0;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	return bw_admin_put_file(prog, &s, "/log/witnessed", in, 0, &st);
}

static int key_file_create(const char *prog, const char *key,
			   struct bw_signer **s)
{
	struct bw_err err = {0};
	FILE *f;

	if ((f = fopen(key, "r")) != NULL) {
		fclose(f);
		return bw_cli_fail(prog, "%s exists; not overwritten", key);
	}
	if (bw_signer_keyfile_generate(BW_KEY_ED25519, s, &err) != 0 ||
	    bw_signer_keyfile_save(*s, key, &err) != 0)
		return bw_cli_fail(prog, "%s: %s", key, err.msg);
	return BW_EXIT_OK;
}

static int cmd_key(int argc, char **argv)
{
	static const char *prog = "bulwark log key";
	const char *key = NULL, *name = NULL, *out = NULL;
	static const struct hsm_newkey nk = {BW_KEY_ED25519, 0, "bulwark-log",
					     1, 0};
	struct hsm_args t = {0};
	int generate = 0;
	const struct bw_cli_opt opts[] = {
	    {"--key", BW_CLI_STR, "FILE|URI",
	     "Ed25519 private key: PEM file (mode 0600) or pkcs11: URI", &key},
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "NAME",
	     "the key's name (for the log key: the log's origin, e.g. "
	     "bulwark/acme)",
	     &name},
	    {"--generate", BW_CLI_FLAG, NULL,
	     "create the key first: the --key file (refuses to overwrite) "
	     "or, with --hsm-token, a key inside the token",
	     &generate},
	    {"--out", BW_CLI_STR, "FILE",
	     "write the verifier key to FILE as well", &out},
	    HSM_NEW_OPTS(t, "the key (with --generate)", "label of the key "
			 "in the token (default bulwark-log-<id>)"),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--key FILE|URI --name NAME [--generate] [--out FILE]\n"
	    "       --generate --hsm-token LABEL --hsm-pin-file F --name NAME "
	    "[--out FILE]",
	    "Print the verifier key (NAME+HASH+KEY, the C2SP signed-note "
	    "form) of an\nEd25519 key: for bulwarkd's log.key (its name is "
	    "the log's origin) or a\nwitness key. Verifiers need only this "
	    "line. With --hsm-token the key is\ngenerated inside the PKCS#11 "
	    "token and never leaves it; its pkcs11: URI is\nprinted on a "
	    "second line: bulwarkd's log.key, with log.pin_file.",
	    opts, NULL, 0, 0};
	struct bw_signer *s = NULL;
	struct bw_tlog_vkey vk;
	struct bw_err err = {0};
	char *text = NULL, *uri = NULL;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((key != NULL) == (t.token != NULL))
		return bw_cli_usage(prog, "give --key, or --generate with "
				    "--hsm-token");
	if (t.token != NULL && !generate)
		return bw_cli_usage(prog, "--hsm-token makes a new key: add "
				    "--generate (an existing token key: "
				    "--key pkcs11:...)");
	if (t.token != NULL)
		rc = bw_hsm_key_create(prog, &t, &nk, &s, &uri);
	else if (generate && strncmp(key, "pkcs11:", 7) == 0)
		rc = bw_cli_usage(prog, "to make a key in a token use "
				  "--hsm-token");
	else if (generate)
		rc = key_file_create(prog, key, &s);
	else
		rc = signer_load(prog, key, t.pin_file, &s);
	if (rc != BW_EXIT_OK)
		goto out;
	if (bw_tlog_vkey_from_key(name, bw_signer_key(s), &vk, &text, &err)) {
		rc = bw_cli_fail(prog, "%s", err.msg);
		goto out;
	}
	printf("%s\n", text);
	if (uri != NULL)
		printf("%s\n", uri);
	if (out) {
		size_t n = strlen(text);

		text[n] = '\n';
		rc = save(prog, out, (uint8_t *)text, n + 1);
		text[n] = '\0';
	}
out:
	free(text);
	free(uri);
	bw_signer_free(s);
	return rc;
}

static const struct bw_cli_cmd log_cmds[] = {
	{"verify", "check the server's log against its signed checkpoint",
	 cmd_verify},
	{"show", "print the log's entries", cmd_show},
	{"monitor", "verify and remember the last checkpoint (cron)",
	 cmd_monitor},
	{"cosign", "witness a checkpoint with an offline key", cmd_cosign},
	{"publish", "hand a witnessed checkpoint to the server", cmd_publish},
	{"key", "print (or create) an Ed25519 log or witness key",
	 cmd_key},
};

int bw_cmd_log(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark log",
			       "The server's transparency log of trust "
			       "decisions.",
			       log_cmds, sizeof(log_cmds) / sizeof(log_cmds[0]),
			       argc, argv);
}
