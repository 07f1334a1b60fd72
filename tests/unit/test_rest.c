// SPDX-License-Identifier: GPL-2.0
/*
 * A volume at rest (daemon/client/rest.c compiled in): fakes of the sealed
 * state's keep (handoff.c) and of the donors' STATE_DROP. Checked: a quiet,
 * settled volume holds its changes and leaves the state on the donors that
 * hold its slabs, as a new generation; nothing rests while a change is in
 * flight, begun since the last look, or a slab moves; the first change drops
 * the state on every donor that keeps it before changes go on; a donor that
 * does not answer the drop is given up; a change that comes while the state
 * is being left ends the rest right after; a keep nobody took lets changes go.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../../daemon/client/rest.c"

#define SLAB		(1ULL << 20)
#define NR_DONORS	3

static struct {
	unsigned int keeps, drops[NR_DONORS], lost[NR_DONORS], wakes;
	bool keep_refused[NR_DONORS], drop_unanswered[NR_DONORS];
	uint64_t kept_gen;
	struct memxd_client *end_inside_keep;	/* a change mailed while the state is left */
} F;

bool memxd_handoff_possible(struct memxd_client *c)
{
	return c->opt.state_key_id != 0;
}

size_t memxd_handoff_sealed_bytes(const struct memxd_client *c)
{
	(void)c;
	return 4096;
}

int memxd_handoff_keep(struct memxd_client *c, uint64_t gen, uint8_t *buf, bool loud,
		       const char *why)
{
	uint64_t started, done;
	int n = 0;

	(void)loud;
	(void)why;
	cr_assert(buf, "the state is sealed into the buffer allocated at start");
	cr_assert_eq(atomic_load(&c->rest.state), MEMXD_REST_HELD,
		     "the state is left only while changes are held");
	count_changes(c, &started, &done);
	cr_assert_eq(started, done, "no change in flight while the state is sealed");
	F.keeps++;
	F.kept_gen = gen;
	if (F.end_inside_keep)
		memxd_rest_end(F.end_inside_keep, "a change came while it was left");
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		if (!c->donor[i].slabs || F.keep_refused[i])
			continue;
		c->donor[i].rest_kept = true;
		n++;
	}
	return n;
}

void memxd_handoff_tag(struct memxd_client *c, uint8_t tag[16])
{
	(void)c;
	memset(tag, 0xab, 16);
}

int memxd_donor_call(struct memxd_client *c, struct memxd_donor *d, struct memxd_msg_info *req,
		     struct memxd_msg_info *reply)
{
	(void)c;
	cr_assert_eq(req->type, MEMX_MSG_STATE_DROP, "unexpected message %u", req->type);
	cr_assert_eq(req->state.tag[0], 0xab);
	cr_assert_eq(req->state.epoch, F.kept_gen, "the drop names the generation kept");
	F.drops[d->idx]++;
	if (F.drop_unanswered[d->idx])
		return -ETIMEDOUT;
	*reply = (struct memxd_msg_info){ .type = MEMX_MSG_STATE_REPLY, .seq = req->seq,
					  .state.epoch = req->state.epoch };
	return 0;
}

void memxd_donor_lost(struct memxd_client *c, struct memxd_donor *d, const char *why)
{
	(void)c;
	(void)why;
	F.lost[d->idx]++;
	atomic_store(&d->state, MEMXD_DONOR_FAILED);
}

void memxd_wake_queues(struct memxd_client *c)
{
	(void)c;
	F.wakes++;
}

/* Two donors hold slabs, the third none; --state-key 2, --rest-after 1. */
static struct memxd_client *mk_client(void)
{
	struct memxd_client *c = calloc(1, sizeof(*c));

	cr_assert(c);
	memset(&F, 0, sizeof(F));
	strcpy(c->opt.name, "vol");
	c->opt.state_key_id = 2;
	c->opt.rest_after_s = 1;
	c->opt.recovery_timeout_s = 60;
	c->opt.io_deadline_s = 30;
	c->state_base = c;	/* a state file is there */
	c->epoch = 3;
	c->nr_queues = 2;
	cr_assert_eq(memxd_slabmap_init(&c->map, 8 * SLAB, SLAB), 0);
	for (unsigned int i = 0; i < NR_DONORS; i++) {
		c->donor[i].idx = i;
		snprintf(c->donor[i].name, sizeof(c->donor[i].name), "10.0.0.%u:7471", i + 2);
		c->donor[i].slabs = i < 2 ? 4 : 0;
		atomic_store(&c->donor[i].state, MEMXD_DONOR_LIVE);
	}
	atomic_store(&c->nr_donors, NR_DONORS);
	for (uint64_t s = 0; s < 4; s++)
		atomic_store(&c->map.slabs[s].state, MEMXD_SLAB_MAPPED);
	memxd_rest_init(c);
	return c;
}

static void free_client(struct memxd_client *c)
{
	memxd_rest_teardown(c);
	memxd_slabmap_fini(&c->map);
	free(c);
}

/* As long a quiet spell as --rest-after asks, without waiting for it. */
static void quiet_spell(struct memxd_client *c)
{
	c->rest.quiet_since_ns -= 2000 * MEMXD_NS_PER_MS;
}

/* A change as a queue thread makes it (io.c): counted, then done. */
static void change(struct memxd_client *c, unsigned int q, bool finished)
{
	atomic_fetch_add(&c->queue[q].changes_started, 1);
	if (finished)
		atomic_fetch_add(&c->queue[q].changes_done, 1);
}

Test(rest, quiet_volume_rests_and_the_first_change_drops_the_state)
{
	struct memxd_client *c = mk_client();

	cr_assert_eq(atomic_load(&c->rest.state), MEMXD_REST_BUSY);
	cr_expect_gt(memxd_rest_step(c), 0, "not quiet long enough yet: look again later");
	cr_expect_eq(F.keeps, 0);
	quiet_spell(c);
	cr_expect_eq(memxd_rest_step(c), -1);
	cr_assert_eq(F.keeps, 1);
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_HELD, "changes wait while at rest");
	cr_expect(c->rest.kept);
	cr_expect_eq(c->rest.nr_kept, 2, "kept on the donors that hold slabs");
	cr_expect_eq(F.kept_gen, MEMX_STATE_GEN(3, 1), "the first generation of epoch 3");
	cr_expect(c->donor[0].rest_kept && c->donor[1].rest_kept && !c->donor[2].rest_kept);

	/* A queue thread counts its write, sees the hold, mails: the control thread ends it. */
	change(c, 0, false);
	memxd_rest_end(c, "a write came");
	cr_expect_eq(F.drops[0], 1);
	cr_expect_eq(F.drops[1], 1);
	cr_expect_eq(F.drops[2], 0, "a donor that keeps nothing is not asked");
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_BUSY);
	cr_expect_not(c->rest.kept);
	cr_expect_not(c->donor[0].rest_kept || c->donor[1].rest_kept);
	cr_expect_eq(F.wakes, 1, "the parked changes go on");
	cr_expect_not(atomic_load(&c->rest.end_asked));
	cr_expect_eq(c->rest.ends, 1);
	memxd_rest_end(c, "again");
	cr_expect_eq(F.drops[0], 1, "nothing to drop when not at rest");

	/* The write finishes; after the next quiet spell, the next generation. */
	atomic_fetch_add(&c->queue[0].changes_done, 1);
	memxd_rest_step(c);
	quiet_spell(c);
	memxd_rest_step(c);
	cr_expect_eq(F.keeps, 2);
	cr_expect_eq(F.kept_gen, MEMX_STATE_GEN(3, 2));
	free_client(c);
}

Test(rest, no_rest_while_a_change_is_in_flight_or_new)
{
	struct memxd_client *c = mk_client();

	change(c, 1, false);	/* parked on a slab being mapped, say */
	memxd_rest_step(c);
	quiet_spell(c);
	cr_expect_gt(memxd_rest_step(c), 0);
	cr_expect_eq(F.keeps, 0, "a change in flight: not at rest");
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_BUSY);
	atomic_fetch_add(&c->queue[1].changes_done, 1);
	/* Finished, but the quiet spell starts over from the look that saw it in flight. */
	cr_expect_gt(memxd_rest_step(c), 0);
	cr_expect_eq(F.keeps, 0);
	change(c, 0, true);	/* a change begun and done since the last look */
	quiet_spell(c);
	cr_expect_gt(memxd_rest_step(c), 0);
	cr_expect_eq(F.keeps, 0, "a change since the last look restarts the quiet spell");
	quiet_spell(c);
	memxd_rest_step(c);
	cr_expect_eq(F.keeps, 1);
	free_client(c);
}

Test(rest, no_rest_while_a_slab_moves_or_a_donor_leaves)
{
	struct memxd_client *c = mk_client();

	c->donor[0].slabs = c->donor[1].slabs = 0;
	quiet_spell(c);
	memxd_rest_step(c);
	cr_expect_eq(F.keeps, 0, "nothing written: nothing to leave, no generation used");
	cr_expect_eq(c->rest.seq, 0);
	c->donor[0].slabs = c->donor[1].slabs = 4;

	atomic_store(&c->map.slabs[2].state, MEMXD_SLAB_MIGRATING);
	quiet_spell(c);
	memxd_rest_step(c);
	cr_expect_eq(F.keeps, 0, "a slab being copied");
	atomic_store(&c->map.slabs[2].state, MEMXD_SLAB_MAPPED);
	atomic_store(&c->donor[1].state, MEMXD_DONOR_DRAINING);
	quiet_spell(c);
	memxd_rest_step(c);
	cr_expect_eq(F.keeps, 0, "a donor being drained");
	atomic_store(&c->donor[1].state, MEMXD_DONOR_LIVE);
	quiet_spell(c);
	memxd_rest_step(c);
	cr_expect_eq(F.keeps, 1);
	free_client(c);
}

Test(rest, a_donor_that_does_not_drop_is_given_up)
{
	struct memxd_client *c = mk_client();

	quiet_spell(c);
	memxd_rest_step(c);
	cr_assert(c->rest.kept);
	F.drop_unanswered[1] = true;
	memxd_rest_end(c, "a write came");
	cr_expect_eq(F.lost[1], 1, "its copy may still be there: it is lost to us");
	cr_expect_eq(F.lost[0], 0);
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_BUSY, "changes go on");
	free_client(c);
}

Test(rest, a_change_while_the_state_is_left_ends_the_rest_after)
{
	struct memxd_client *c = mk_client();

	F.end_inside_keep = c;
	quiet_spell(c);
	cr_expect_eq(memxd_rest_step(c), -1);
	cr_expect_eq(F.keeps, 1);
	cr_expect_eq(F.drops[0] + F.drops[1], 2, "dropped right after it was left");
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_BUSY);
	cr_expect_eq(c->rest.rests, 1);
	cr_expect_eq(c->rest.ends, 1);
	free_client(c);
}

Test(rest, a_keep_nobody_took_lets_changes_go)
{
	struct memxd_client *c = mk_client();

	F.keep_refused[0] = F.keep_refused[1] = true;
	quiet_spell(c);
	cr_expect_gt(memxd_rest_step(c), 0, "tried again after another quiet spell");
	cr_expect_eq(F.keeps, 1);
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_BUSY);
	cr_expect_eq(F.wakes, 1);
	memxd_rest_end(c, "a write came");
	cr_expect_eq(F.drops[0] + F.drops[1], 0);
	free_client(c);
}

Test(rest, off_without_a_state_key_or_with_rest_after_0)
{
	struct memxd_client *c = mk_client();

	c->opt.state_key_id = 0;
	memxd_rest_teardown(c);
	memxd_rest_init(c);
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_OFF);
	quiet_spell(c);
	cr_expect_eq(memxd_rest_step(c), -1);
	cr_expect_eq(F.keeps, 0);
	c->opt.state_key_id = 2;
	c->opt.rest_after_s = 0;
	memxd_rest_init(c);
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_OFF);
	c->opt.rest_after_s = 1;
	c->opt.recovery_timeout_s = 0;
	memxd_rest_init(c);
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_OFF, "no lease, nothing to attach");
	free_client(c);
}

Test(rest, generations_run_out_quietly)
{
	struct memxd_client *c = mk_client();

	c->rest.seq = MEMX_STATE_SEQ_MAX - 1;
	cr_expect_eq(memxd_rest_next_gen(c), MEMX_STATE_GEN(3, MEMX_STATE_SEQ_MAX));
	cr_expect_eq(memxd_rest_next_gen(c), 0);
	cr_expect_eq(atomic_load(&c->rest.state), MEMXD_REST_OFF);
	free_client(c);
}
