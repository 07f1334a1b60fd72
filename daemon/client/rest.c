// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: a volume at rest, its state on the donors.
 *
 * The state file (slab map, checksums, same-filled marks) lives on this
 * host, in /run. A detach leaves a sealed copy on the donors (handoff.c);
 * a host that dies leaves nothing, and the donors' bytes alone cannot tell
 * which blocks a same-filled write changed. So while nothing is written the
 * engine leaves the same sealed copy there too: once no change (write,
 * write-zeroes, discard) has begun for --rest-after and every slab is
 * settled, the control thread holds changes (a queue thread that sees
 * MEMXD_REST_HELD parks the change and mails us), checks that none began or
 * is still in flight, and keeps the state on every live donor holding a
 * slab, as generation MEMX_STATE_GEN(epoch, n). The volume is at rest: if
 * the host dies now, `memxd client --attach` on any host with the state key
 * takes the volume over with every block as it was.
 *
 * The first change after that waits while STATE_DROP tells each donor that
 * kept the state that it is stale: the donor frees it and remembers the
 * generation as a floor, which it tells any reader, so that a reader trusts
 * no copy at or below it (a donor that missed the drop, or replays an old
 * copy, loses to one that did not). A donor that does not answer the drop is
 * given up as lost. Then the parked changes go, and the state is again only
 * in /run until the next quiet spell. So the cost is one round trip to the
 * donors for the first write after each rest, and a sealed copy of the state
 * per rest. Changes to the slab map made by the control thread (a mapping, a
 * copy, a free) end the rest first as well (grants.c).
 *
 * Counting before looking (io.c) pairs with holding before counting (here):
 * either the queue thread sees the volume held, or we see its change.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/handoff.h"
#include "common/log.h"

void memxd_rest_init(struct memxd_client *c)
{
	struct memxd_rest *rs = &c->rest;
	bool on = c->opt.rest_after_s && c->opt.recovery_timeout_s && c->state_base &&
		  memxd_handoff_possible(c);

	/* Sealed at each rest into memory of its own: none is asked for later. */
	if (on) {
		rs->sealed = malloc(memxd_handoff_sealed_bytes(c));
		if (!rs->sealed) {
			memxd_warn("volume %s: no memory for its sealed state: it is not left on "
				   "the donors at rest", c->opt.name);
			on = false;
		}
	}
	atomic_store(&rs->state, on ? MEMXD_REST_BUSY : MEMXD_REST_OFF);
	rs->quiet_since_ns = memxd_now_ns();
}

void memxd_rest_teardown(struct memxd_client *c)
{
	free(c->rest.sealed);
	c->rest.sealed = NULL;
}

uint64_t memxd_rest_next_gen(struct memxd_client *c)
{
	struct memxd_rest *rs = &c->rest;

	if (rs->seq >= MEMX_STATE_SEQ_MAX) {
		if (atomic_exchange(&rs->state, MEMXD_REST_OFF) != MEMXD_REST_OFF)
			memxd_warn("volume %s: used every state generation of epoch %" PRIu64 ": "
				   "its state is no longer left on the donors at rest (the next "
				   "engine starts afresh)", c->opt.name, c->epoch);
		return 0;
	}
	rs->gen = MEMX_STATE_GEN(c->epoch, ++rs->seq);
	return rs->gen;
}

/* Changes begun and finished on every queue. */
static void count_changes(struct memxd_client *c, uint64_t *started, uint64_t *done)
{
	*started = *done = 0;
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		*done += atomic_load(&c->queue[q].changes_done);
		*started += atomic_load(&c->queue[q].changes_started);
	}
}

/*
 * Something to leave and nothing the control thread is in the middle of: a
 * live donor holds a slab (a volume never written has nothing to keep), no
 * slab moves, no donor leaves, no free waits.
 */
static bool settled(struct memxd_client *c)
{
	bool holds = false;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		holds |= c->donor[i].slabs && memxd_donor_usable(atomic_load(&c->donor[i].state));
	if (!holds)
		return false;
	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		uint32_t st = memxd_slab_state(&c->map.slabs[s]);

		if (st != MEMXD_SLAB_UNMAPPED && st != MEMXD_SLAB_MAPPED && st != MEMXD_SLAB_LOST)
			return false;
	}
	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (atomic_load(&c->donor[i].state) == MEMXD_DONOR_DRAINING)
			return false;
	return c->nr_deferred == 0;
}

static int ms_until(uint64_t now, uint64_t when)
{
	return when <= now ? 0 : (int)((when - now + MEMXD_NS_PER_MS - 1) / MEMXD_NS_PER_MS);
}

/* Changes go again (nothing is kept, or nothing was). */
static void release(struct memxd_client *c)
{
	struct memxd_rest *rs = &c->rest;

	rs->kept = false;
	rs->quiet_since_ns = memxd_now_ns();
	if (atomic_load(&rs->state) == MEMXD_REST_HELD)
		atomic_store(&rs->state, MEMXD_REST_BUSY);
	atomic_store(&rs->end_asked, false);
	memxd_wake_queues(c);
}

int memxd_rest_step(struct memxd_client *c)
{
	struct memxd_rest *rs = &c->rest;
	uint64_t now = memxd_now_ns(), wait = (uint64_t)c->opt.rest_after_s * 1000 * MEMXD_NS_PER_MS;
	uint64_t started, done, t0;
	int n;

	if (atomic_load(&rs->state) != MEMXD_REST_BUSY)
		return -1;
	count_changes(c, &started, &done);
	if (started != rs->changes_seen) {
		rs->changes_seen = started;
		rs->quiet_since_ns = now;
	}
	if (now - rs->quiet_since_ns < wait)
		return ms_until(now, rs->quiet_since_ns + wait);
	if (started != done || !settled(c)) {
		rs->quiet_since_ns = now;	/* look again after another quiet spell */
		return ms_until(now, now + wait);
	}
	/* Hold changes, then make sure none began or is in flight (see the top). */
	atomic_store(&rs->state, MEMXD_REST_HELD);
	count_changes(c, &started, &done);
	if (started != rs->changes_seen || started != done) {
		release(c);
		return ms_until(now, now + wait);
	}
	t0 = memxd_now_ns();
	rs->storing = true;
	n = memxd_handoff_keep(c, memxd_rest_next_gen(c), rs->sealed, !rs->rests, "at rest");
	rs->storing = false;
	rs->last_keep_ms = (memxd_now_ns() - t0) / MEMXD_NS_PER_MS;
	if (n <= 0) {
		release(c);	/* none took it: try after another quiet spell */
		return atomic_load(&rs->state) == MEMXD_REST_OFF ? -1 : ms_until(now, now + wait);
	}
	rs->kept = true;
	rs->nr_kept = (uint32_t)n;
	rs->since_ns = memxd_now_ns();
	rs->rests++;
	if (rs->end_after_store) {
		rs->end_after_store = false;
		memxd_rest_end(c, "a change came while it was left");
	}
	return -1;
}

/* STATE_DROP on one donor: what it keeps of ours at or below gen is stale. */
static int drop_on(struct memxd_client *c, struct memxd_donor *d, uint64_t gen)
{
	struct memxd_msg_info req = { .type = MEMX_MSG_STATE_DROP }, reply;
	int r;

	memxd_handoff_tag(c, req.state.tag);
	req.state.epoch = gen;
	r = memxd_donor_call(c, d, &req, &reply);
	if (!r && (reply.type != MEMX_MSG_STATE_REPLY || reply.status ||
		   reply.state.epoch < gen))
		r = reply.status ? -(int)reply.status : -EPROTO;
	return r;
}

void memxd_rest_end(struct memxd_client *c, const char *why)
{
	struct memxd_rest *rs = &c->rest;
	unsigned int dropped = 0, failed = 0;
	uint64_t t0 = memxd_now_ns();

	if (atomic_load(&rs->state) != MEMXD_REST_HELD)
		return;
	if (rs->storing) {
		rs->end_after_store = true;	/* memxd_rest_step ends it once kept */
		return;
	}
	if (!rs->kept) {
		release(c);
		return;
	}
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		int r;

		if (!d->rest_kept)
			continue;
		d->rest_kept = false;
		if (!memxd_donor_usable(atomic_load(&d->state)))
			continue;	/* lost since: the others' floor outranks its copy */
		r = drop_on(c, d, rs->gen);
		if (!r) {
			dropped++;
			continue;
		}
		failed++;
		memxd_donor_lost(c, d, "it did not drop the volume's state at rest before a change");
	}
	rs->last_drop_ms = (memxd_now_ns() - t0) / MEMXD_NS_PER_MS;
	/* Said at the first end, then only in debug: a busy volume rests and wakes often. */
	if (!rs->ends++ || failed)
		memxd_info("volume %s: no longer at rest (%s): its state of generation %" PRIu64
			   ".%" PRIu64 " dropped on %u donor(s)%s in %" PRIu64 " ms", c->opt.name,
			   why, (uint64_t)MEMX_STATE_GEN_EPOCH(rs->gen), rs->gen & MEMX_STATE_SEQ_MAX,
			   dropped, failed ? " (the others did not answer: given up)" : "",
			   rs->last_drop_ms);
	else
		memxd_dbg(MEMXD_DBG_CTRL, "volume %s: no longer at rest (%s): generation %" PRIu64
			  ".%" PRIu64 " dropped on %u donor(s) in %" PRIu64 " ms", c->opt.name, why,
			  (uint64_t)MEMX_STATE_GEN_EPOCH(rs->gen), rs->gen & MEMX_STATE_SEQ_MAX,
			  dropped, rs->last_drop_ms);
	release(c);
}
