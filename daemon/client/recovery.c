// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: background copying of slabs, in the control thread.
 *
 * Three kinds of work, one slab per step, at a bounded rate
 * (--rereplicate-rate bytes per second):
 *   1. a donor that is leaving (SIGTERM, memxctl donor drain): move each of
 *      its replicas to another donor, then free it there;
 *   2. a donor short of memory (EVICT): move slabs away until it got back
 *      what it asked for;
 *   3. re-replication: a slab with fewer live replicas than wanted (a donor
 *      died) gets a new copy on a donor that holds none of it.
 *
 * Moving or copying a slab: get a grant on the target, set the slab
 * MIGRATING (queue threads park new writes; reads go on), wait until no write
 * is in flight, copy it in 1 MiB pieces (RDMA READ from a live replica into
 * the bounce buffer, RDMA WRITE to the target), add the target as a live
 * replica. When moving, the old replica is then marked not live, and its
 * grant is freed once no read uses the slab. Only then is the slab MAPPED
 * again: so a write is never lost to a copy racing with it, and a read never
 * hits freed memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "client/client.h"
#include "common/log.h"

static unsigned int usable_donors(struct memxd_client *c)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		n += atomic_load(&c->donor[i].state) == MEMXD_DONOR_LIVE;
	return n;
}

/* Replicas a slab should have now: what was asked, as far as live donors allow. */
static unsigned int wanted_replicas(struct memxd_client *c)
{
	unsigned int live = usable_donors(c);

	return c->opt.replicas < live ? c->opt.replicas : live;
}

uint64_t memxd_backlog(struct memxd_client *c)
{
	uint64_t n = 0;

	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];
		uint32_t st = memxd_slab_state(slab);

		if ((st == MEMXD_SLAB_MAPPED || st == MEMXD_SLAB_MIGRATING) &&
		    memxd_slab_live_replicas(slab) < c->opt.replicas)
			n++;
	}
	return n;
}

static bool donor_wants_out(struct memxd_donor *d)
{
	return atomic_load(&d->state) == MEMXD_DONOR_DRAINING || d->evict_bytes;
}

/*
 * Ends a MIGRATING phase. A donor may have died meanwhile (its loss is
 * handled inside the copy's waits): no replica on it stays live, and a slab
 * left with none is lost, never republished as readable.
 */
void memxd_end_migration(struct memxd_client *c, struct memxd_slab *slab)
{
	for (uint32_t i = 0; i < slab->nr_replicas; i++)
		if (slab->replica[i].live &&
		    !memxd_donor_usable(atomic_load(&c->donor[slab->replica[i].donor].state)))
			atomic_store_explicit(&slab->replica[i].live, 0, memory_order_release);
	if (memxd_slab_live_replicas(slab)) {
		memxd_slab_publish(slab, MEMXD_SLAB_MAPPED);
	} else {
		atomic_fetch_sub(&c->slabs_mapped, 1);
		atomic_fetch_add(&c->slabs_lost, 1);
		memxd_slab_publish(slab, MEMXD_SLAB_LOST);
	}
	memxd_wake_queues(c);
}

/*
 * A leaving donor's replica with nowhere to go, while the slab has another
 * live one: drop it (the slab runs with one replica fewer until a donor
 * joins) rather than hold the donor back.
 */
static int drop_replica(struct memxd_client *c, uint64_t s, int from)
{
	struct memxd_slab *slab = &c->map.slabs[s];
	struct memxd_replica old = slab->replica[from];

	if (!memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_MIGRATING))
		return -EAGAIN;
	atomic_store_explicit(&slab->replica[from].live, 0, memory_order_release);
	if (memxd_slab_wait_idle(slab, true, true))
		memxd_free_grant(c, &old);
	memxd_warn("volume %s: slab %" PRIu64 " has no other donor to move to: running on %u "
		  "replica(s) while donor %s leaves or gives memory back", c->opt.name, s,
		  memxd_slab_live_replicas(slab), c->donor[old.donor].name);
	c->slabs_moved++;
	memxd_end_migration(c, slab);
	return 0;
}

/*
 * Copies slab s to a new donor, and drops its replica in slot `from` when
 * from >= 0 (a move). Returns 0 or -errno; on failure the slab is as it was.
 */
static int copy_slab(struct memxd_client *c, uint64_t s, int from)
{
	struct memxd_slab *slab = &c->map.slabs[s];
	uint32_t exclude[MEMXD_MAX_REPLICAS], nr = slab->nr_replicas;
	struct memxd_replica target, *src = NULL;
	int nx = 0, slot = -1, r;

	for (uint32_t i = 0; i < nr; i++) {
		struct memxd_replica *rep = &slab->replica[i];

		if (!rep->live)
			continue;
		exclude[nx++] = rep->donor;
		/* Read from a donor that stays, if there is one. */
		if (memxd_donor_usable(atomic_load(&c->donor[rep->donor].state)) &&
		    (!src || (int)i != from))
			src = rep;
	}
	if (!src)
		return -ENODATA;
	/* A copy restores redundancy: donors let it into the room kept beyond quotas. */
	r = memxd_grant_slab(c, s, exclude, nx, true, &target);
	if (r == -ENOSPC && from >= 0 && memxd_slab_live_replicas(slab) > 1)
		return drop_replica(c, s, from);
	if (r)
		return r;
	for (uint32_t i = 0; i < MEMXD_MAX_REPLICAS && slot < 0; i++)
		if (i >= nr || !slab->replica[i].live)
			slot = (int)i;
	if (slot < 0 || !memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_MIGRATING)) {
		memxd_free_grant(c, &target);
		return -EAGAIN;
	}
	if (!memxd_slab_wait_idle(slab, false, true)) {
		r = -EBUSY;
		goto out_undo;
	}
	for (uint64_t off = 0; off < c->map.slab_bytes; off += MEMXD_COPY_CHUNK) {
		r = memxd_ctrl_rdma(c, &c->donor[src->donor], false, src->remote_addr + off,
				    src->rkey, MEMXD_COPY_CHUNK);
		if (!r)
			r = memxd_ctrl_rdma(c, &c->donor[target.donor], true,
					    target.remote_addr + off, target.rkey, MEMXD_COPY_CHUNK);
		if (r)
			goto out_undo;
	}
	c->copied_bytes += c->map.slab_bytes;
	/* Fields first, then live, then the count: readers check them in the other order. */
	target.live = 0;
	slab->replica[slot] = target;
	atomic_store_explicit(&slab->replica[slot].live, 1, memory_order_release);
	if ((uint32_t)slot >= nr)
		atomic_store_explicit(&slab->nr_replicas, (uint32_t)slot + 1, memory_order_release);
	if (from >= 0) {
		struct memxd_replica old = slab->replica[from];

		atomic_store_explicit(&slab->replica[from].live, 0, memory_order_release);
		if (memxd_slab_wait_idle(slab, true, false)) {
			memxd_free_grant(c, &old);
		} else {
			memxd_warn("volume %s: slab %" PRIu64 " stays busy; its old copy on %s is "
				  "freed when we disconnect", c->opt.name, s,
				  c->donor[old.donor].name);
		}
		c->slabs_moved++;
	} else {
		c->slabs_rereplicated++;
	}
	memxd_end_migration(c, slab);
	return 0;

out_undo:
	memxd_end_migration(c, slab);
	memxd_free_grant(c, &target);
	return r;
}

/* Finds one piece of work: *from is the slot to move away, or -1 to add a copy. */
static bool find_work(struct memxd_client *c, uint64_t *slab_out, int *from)
{
	unsigned int want = wanted_replicas(c);

	/* Leaving and pressured donors first: their memory is needed back. */
	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];

		if (memxd_slab_state(slab) != MEMXD_SLAB_MAPPED)
			continue;
		for (uint32_t i = 0; i < slab->nr_replicas; i++)
			if (slab->replica[i].live && donor_wants_out(&c->donor[slab->replica[i].donor])) {
				*slab_out = s;
				*from = (int)i;
				return true;
			}
	}
	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];

		if (memxd_slab_state(slab) == MEMXD_SLAB_MAPPED &&
		    memxd_slab_live_replicas(slab) < want) {
			*slab_out = s;
			*from = -1;
			return true;
		}
	}
	return false;
}

/* Draining donors that hold nothing more are let go. */
static void release_drained(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		int expect = MEMXD_DONOR_DRAINING;
		bool holds = false;

		if (atomic_load(&d->state) != MEMXD_DONOR_DRAINING)
			continue;
		for (uint64_t s = 0; s < c->map.nr_slabs && !holds; s++) {
			uint32_t st = memxd_slab_state(&c->map.slabs[s]);

			/* Replicas of unmapped (discarded) slabs are stale, their grants freed. */
			holds = (st == MEMXD_SLAB_MAPPED || st == MEMXD_SLAB_MIGRATING) &&
				memxd_slab_on_donor(&c->map.slabs[s], i);
		}
		if (holds || !atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_LEFT))
			continue;
		memxd_info("volume %s: donor %s drained: it holds none of our slabs; disconnecting",
			  c->opt.name, d->name);
		for (unsigned int q = 0; q < c->nr_queues; q++)
			mxv_conn_disconnect(d->data[q]);
		mxv_conn_disconnect(d->ctrl);
		d->slabs = 0;
	}
}

bool memxd_recovery_pending(struct memxd_client *c)
{
	uint64_t s;
	int from;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (atomic_load(&c->donor[i].state) == MEMXD_DONOR_DRAINING)
			return true;
	return find_work(c, &s, &from);
}

int memxd_recovery_step(struct memxd_client *c)
{
	uint64_t now = memxd_now_ns(), s;
	int from, r;

	release_drained(c);
	if (!find_work(c, &s, &from)) {
		for (unsigned int i = 0; i < c->nr_donors; i++)
			c->donor[i].evict_bytes = 0;	/* nothing left to move off them */
		return memxd_recovery_pending(c) ? 1000 : -1;
	}
	if (now < c->next_copy_ns)
		return (int)((c->next_copy_ns - now) / 1000000ULL) + 1;
	r = copy_slab(c, s, from);
	/* The rate limit holds whether the copy worked or not: failures must not spin. */
	c->next_copy_ns = memxd_now_ns() + c->map.slab_bytes * 1000000000ULL / c->opt.rereplicate_rate;
	if (r) {
		static uint64_t last_warn;

		if (now - last_warn > 5000000000ULL) {
			memxd_warn("volume %s: cannot %s slab %" PRIu64 " now: %s", c->opt.name,
				  from >= 0 ? "move" : "re-replicate", s, strerror(-r));
			last_warn = now;
		}
		if (from >= 0 && r == -ENOSPC)
			c->next_copy_ns += 1000000000ULL;	/* nowhere to go: retry slowly */
	} else if (from >= 0) {
		struct memxd_donor *d = &c->donor[c->map.slabs[s].replica[from].donor];

		d->evict_bytes = d->evict_bytes > c->map.slab_bytes ? d->evict_bytes - c->map.slab_bytes : 0;
		memxd_info("volume %s: moved slab %" PRIu64 " off donor %s (%u left there)",
			  c->opt.name, s, d->name, d->slabs);
	}
	return 0;
}
