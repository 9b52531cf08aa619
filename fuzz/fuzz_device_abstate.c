/*
 * Fuzz target for the A/B state machine (src/device/abstate.c): random
 * sequences of inputs and facts, from the factory state. Each 4-byte
 * record is one step: input (or a pull of a new download), facts bits,
 * the bootloader's view, the download's boot firmware.
 * Properties after every step (any violation abort()s):
 *  - a row matched, and the state after is consistent (active slot GOOD,
 *    a pending slot is the other one and PENDING);
 *  - a slot becomes PENDING only from WRITING on SLOT_OK, and never with
 *    boot firmware below the installed one while anti-rollback is on;
 *  - the installed boot firmware never goes down; only CONFIRM raises it;
 *  - BOOT boots only a GOOD or PENDING slot; a slot is armed only when
 *    PENDING; a slot is confirmed only when it was the trial running;
 *  - install writes a slot only after saving it WRITING, and never the
 *    active slot.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what)
{
	fprintf(stderr, "fuzz_abstate: %s\n", what);
	abort();
}

static void factory(struct bw_dev_state *st)
{
	memset(st, 0, sizeof(*st));
	st->pending = -1;
	st->booted = 0;
	st->bootfw = 1;
	st->slot_state[0] = BW_DEV_SLOT_GOOD;
	snprintf(st->slot[0].name, sizeof(st->slot[0].name), "factory");
	st->slot[0].bootfw = 1;
	st->slot[1].bootfw = -1;
	st->dl.bootfw = -1;
}

static void facts_of(const uint8_t *r, struct bw_ab_facts *f)
{
	static const int slots[4] = {-1, 0, 1, -1};

	memset(f, 0, sizeof(*f));
	f->rollback_protection = r[1] & 1;
	f->slot_set[0] = (r[1] >> 1) & 1;
	f->slot_set[1] = (r[1] >> 2) & 1;
	f->real_bootloader = (r[1] >> 3) & 1;
	f->may_write = (r[1] >> 4) & 1;
	f->env_settled = (r[1] >> 5) & 1;
	f->boot_attempts = 1 + (r[1] >> 6);
	f->cmdline_slot = slots[r[2] & 3];
	f->env_slot = slots[(r[2] >> 2) & 3];
	f->env_trial = slots[(r[2] >> 4) & 3];
}

static void check_actions(const struct bw_dev_state *in,
			  const struct bw_ab_step *s)
{
	const struct bw_dev_state *n = bw_ab_result(s);
	int saved_writing = 0;

	for (size_t i = 0; i < s->nact; i++) {
		const struct bw_ab_action *a = &s->act[i];

		switch (a->kind) {
		case BW_AB_ACT_SAVE:
			saved_writing |= n->slot_state[1 - n->active] ==
					 BW_DEV_SLOT_WRITING;
			break;
		case BW_AB_ACT_WRITE_SLOT:
			if (!saved_writing || a->arg != 1 - in->active)
				violation("slot written before WRITING was saved, "
					  "or the active slot written");
			break;
		case BW_AB_ACT_BOOT_ARM:
			if (n->slot_state[a->arg] != BW_DEV_SLOT_PENDING ||
			    n->pending != a->arg)
				violation("a slot armed that is not PENDING");
			break;
		case BW_AB_ACT_BOOT_CONFIRM:
			if (in->pending != a->arg || in->booted != a->arg ||
			    in->slot_state[a->arg] != BW_DEV_SLOT_PENDING)
				violation("a slot confirmed that was not the "
					  "trial running");
			break;
		default:
			break;
		}
	}
}

static void check_step(const struct bw_dev_state *in, enum bw_ab_input input,
		       const struct bw_ab_facts *f, const struct bw_ab_step *s)
{
	const struct bw_dev_state *n = bw_ab_result(s);
	const char *why = NULL;

	if (s->rule < 0 || (size_t)s->rule >= bw_ab_rules())
		violation("no row matched");
	if (!bw_ab_consistent(n, &why))
		violation(why);
	if (n->bootfw < in->bootfw)
		violation("installed boot firmware went down");
	if (n->bootfw != in->bootfw && input != BW_AB_IN_RUN)
		violation("boot firmware raised outside a confirmation");
	for (int i = 0; i < BW_DEV_SLOTS; i++) {
		if (n->slot_state[i] != BW_DEV_SLOT_PENDING ||
		    in->slot_state[i] == BW_DEV_SLOT_PENDING)
			continue;
		if (input != BW_AB_IN_SLOT_OK ||
		    in->slot_state[i] != BW_DEV_SLOT_WRITING)
			violation("PENDING without a verified write");
		if (f->rollback_protection && n->slot[i].bootfw >= 0 &&
		    n->bootfw >= 0 && n->slot[i].bootfw < n->bootfw)
			violation("a boot firmware downgrade put on trial");
	}
	if (input == BW_AB_IN_BOOT && s->exit == 0 &&
	    n->slot_state[n->booted] != BW_DEV_SLOT_GOOD &&
	    n->slot_state[n->booted] != BW_DEV_SLOT_PENDING)
		violation("booted a slot that is neither GOOD nor PENDING");
	check_actions(in, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_dev_state st;
	struct bw_ab_facts f;
	struct bw_ab_step *s = malloc(sizeof(*s));

	if (s == NULL)
		return 0;
	factory(&st);
	for (size_t i = 0; i + 4 <= size && i < 4 * 256; i += 4) {
		const uint8_t *r = data + i;
		unsigned in = r[0] % (BW_AB_INPUTS + 1);

		if (in == BW_AB_INPUTS) {
			/* A pull (outside the state machine): a new download
			 * with boot firmware r[3] % 5 - 1 (-1: none). */
			if (st.slot_state[1 - st.active] == BW_DEV_SLOT_WRITING)
				continue;
			memset(&st.dl, 0, sizeof(st.dl));
			snprintf(st.dl.name, sizeof(st.dl.name), "fw-%u", r[3]);
			st.dl.bootfw = (int64_t)(r[3] % 5) - 1;
			st.dl_state = BW_DEV_DL_DONE;
			continue;
		}
		facts_of(r, &f);
		bw_ab_step(&st, (enum bw_ab_input)in, &f, s);
		check_step(&st, (enum bw_ab_input)in, &f, s);
		st = *bw_ab_result(s);
	}
	free(s);
	return 0;
}
