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
 * is in flight, copy it (below), add the target as a live replica. When
 * moving, the old replica is then marked not live, and its grant is freed
 * once no read uses the slab. Only then is the slab MAPPED again: so a write
 * is never lost to a copy racing with it, and a read never hits freed memory.
 *
 * The copy is pipelined, so that it runs at the speed of the link rather than
 * at one round trip per piece: the bounce buffer has MEMXD_COPY_DEPTH slots
 * of MEMXD_COPY_CHUNK. Every free slot gets an RDMA READ of the next piece
 * from a live replica; when a READ completes, its slot's WRITE to the target
 * is posted; when that completes, the slot takes the next READ. Completions
 * come through the control CQ's pump (memxd_copy_wait), which keeps handling
 * the donors' messages meanwhile. A failed piece, a donor that is lost or a
 * piece that does not complete in MEMXD_MSG_TIMEOUT_MS ends the copy: nothing
 * more is posted, what is in flight is waited out (so no late READ lands in a
 * slot the next user of the bounce buffer has), and the slab is left as it
 * was; the target never becomes a replica unless every piece was written.
 * A slow piece is not a dead donor (a lossy link, a loaded host): the copy is
 * abandoned and counted, the next copies use pieces half as large (down to
 * MEMXD_COPY_PIECE_MIN, then they back off longer; copies that go through
 * double them back) (memxd_copy_slow), and while its
 * pieces are waited out the donors' liveness decides, by pings on their
 * control connections, as the heartbeat does. Only a donor that misses a ping,
 * fails a work request, or whose pieces stay stuck for MEMXD_COPY_STUCK_MS
 * while it answers, is declared lost.
 * Each copy has its own number in its work requests, so a late completion of
 * an abandoned copy is not mistaken for a piece of the next. Between slabs,
 * --rereplicate-rate leaves the link to the foreground.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "client/client.h"
#include "client/recovery_plan.h"
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

	return memxd_plan_wanted(c->opt.replicas, live);
}

uint64_t memxd_backlog(struct memxd_client *c)
{
	return memxd_plan_backlog(&c->map, c->opt.replicas);
}

/* The plan's questions about a donor of ours (recovery_plan.h). */
static bool donor_wants_out(uint32_t i, void *arg)
{
	struct memxd_client *c = arg;
	struct memxd_donor *d = &c->donor[i];

	return atomic_load(&d->state) == MEMXD_DONOR_DRAINING || d->evict_bytes;
}

static bool donor_usable(uint32_t i, void *arg)
{
	struct memxd_client *c = arg;

	return memxd_donor_usable(atomic_load(&c->donor[i].state));
}

/* ---- the pipelined copy of one slab ----------------------------------------- */

enum copy_slot_state {
	COPY_SLOT_FREE = 0,	/* takes the next READ */
	COPY_SLOT_READING,	/* READ from the source in flight */
	COPY_SLOT_READ,		/* holds its piece: its WRITE is to be posted */
	COPY_SLOT_WRITING,	/* WRITE to the target in flight */
};

struct slab_copy {
	struct memxd_rdma_sink sink;
	struct memxd_donor *src, *dst;
	uint64_t src_addr, dst_addr;
	uint32_t src_rkey, dst_rkey;
	uint64_t bytes;			/* the slab's */
	uint64_t next_off;		/* the next piece to read */
	uint32_t piece;			/* bytes per piece (c->copy_piece) */
	uint64_t written;		/* bytes whose WRITE completed */
	unsigned int in_flight;
	int status;			/* the first failure: the copy ends */
	struct copy_slot {
		enum copy_slot_state state;
		uint64_t off;		/* of its piece in the slab */
		uint32_t len;
		uint64_t posted_ns;	/* of its work request in flight */
	} slot[MEMXD_COPY_DEPTH];
};

/* The control CQ's pump hands us each completion of our pieces. */
static void copy_piece_done(struct memxd_rdma_sink *sink, unsigned int i, int status)
{
	struct slab_copy *cp = (struct slab_copy *)sink;
	struct copy_slot *sl;

	if (i >= MEMXD_COPY_DEPTH)
		return;
	sl = &cp->slot[i];
	if (sl->state != COPY_SLOT_READING && sl->state != COPY_SLOT_WRITING)
		return;		/* not ours to count */
	cp->in_flight--;
	if (status) {
		if (!cp->status)
			cp->status = status;
		sl->state = COPY_SLOT_FREE;
	} else if (sl->state == COPY_SLOT_READING) {
		sl->state = COPY_SLOT_READ;
	} else {
		cp->written += sl->len;
		sl->state = COPY_SLOT_FREE;
	}
}

static int copy_post(struct memxd_client *c, struct slab_copy *cp, unsigned int i, bool write)
{
	struct copy_slot *sl = &cp->slot[i];
	int r = write ? memxd_copy_post(c, cp->dst, true, i, cp->sink.seq, cp->dst_addr + sl->off,
					cp->dst_rkey, sl->len)
		      : memxd_copy_post(c, cp->src, false, i, cp->sink.seq, cp->src_addr + sl->off,
					cp->src_rkey, sl->len);

	if (r)
		return r;
	sl->state = write ? COPY_SLOT_WRITING : COPY_SLOT_READING;
	sl->posted_ns = memxd_now_ns();
	cp->in_flight++;
	return 0;
}

/* Writes out the slots that hold a piece, then fills the free ones with READs. */
static int copy_post_ready(struct memxd_client *c, struct slab_copy *cp)
{
	int r;

	for (unsigned int i = 0; i < MEMXD_COPY_DEPTH; i++)
		if (cp->slot[i].state == COPY_SLOT_READ && (r = copy_post(c, cp, i, true)))
			return r;
	for (unsigned int i = 0; i < MEMXD_COPY_DEPTH && cp->next_off < cp->bytes; i++) {
		struct copy_slot *sl = &cp->slot[i];

		if (sl->state != COPY_SLOT_FREE)
			continue;
		sl->off = cp->next_off;
		sl->len = cp->bytes - sl->off < cp->piece ? (uint32_t)(cp->bytes - sl->off)
							  : cp->piece;
		r = copy_post(c, cp, i, false);
		if (r)
			return r;
		cp->next_off += sl->len;
	}
	return 0;
}

void memxd_copy_slow(struct memxd_client *c, struct memxd_donor *d, const char *what)
{
	uint64_t b = c->copy_backoff_ns * 2;

	/* Smaller pieces first, at the shortest wait; a longer wait once they are smallest. */
	if (memxd_copy_piece(c) > MEMXD_COPY_PIECE_MIN) {
		c->copy_piece = memxd_copy_piece(c) / 2;
		b = 0;
	}
	if (b < MEMXD_COPY_BACKOFF_MIN_MS * 1000000ULL)
		b = MEMXD_COPY_BACKOFF_MIN_MS * 1000000ULL;
	if (b > MEMXD_COPY_BACKOFF_MAX_MS * 1000000ULL)
		b = MEMXD_COPY_BACKOFF_MAX_MS * 1000000ULL;
	c->copy_backoff_ns = b;
	c->copy_retry_ns = memxd_now_ns() + b;
	c->copy_timeouts++;
	/*
	 * The slab goes back to the foreground now, not when the abandoned
	 * transfers drain: its writes would otherwise wait until they fail. Its
	 * grants stay: only this thread frees grants, after the drain.
	 */
	if (c->copy_hold) {
		struct memxd_slab *slab = c->copy_hold;

		c->copy_hold = NULL;
		memxd_end_migration(c, slab);
	}
	memxd_warn("volume %s: %s on the copy connection to donor %s took over %d ms: abandoned "
		   "(the donor stays, as long as it answers); copies wait %" PRIu64 " ms, in pieces "
		   "of %u KiB", c->opt.name, what, d->name, MEMXD_MSG_TIMEOUT_MS,
		   (uint64_t)(b / 1000000U), memxd_copy_piece(c) >> 10);
}

void memxd_transfer_went_through(struct memxd_client *c)
{
	c->copy_backoff_ns = 0;
	if (memxd_copy_piece(c) < MEMXD_COPY_CHUNK)
		c->copy_piece = memxd_copy_piece(c) * 2;
}

/* Liveness of the donors whose pieces are slow: a ping each (a silent one is lost). */
static void copy_ping_donors(struct memxd_client *c, struct slab_copy *cp)
{
	bool src = false, dst = false;

	for (unsigned int i = 0; i < MEMXD_COPY_DEPTH; i++) {
		src |= cp->slot[i].state == COPY_SLOT_READING;
		dst |= cp->slot[i].state == COPY_SLOT_WRITING;
	}
	if (src)
		memxd_copy_ping(c, cp->src, &cp->sink);
	if (dst && cp->in_flight)
		memxd_copy_ping(c, cp->dst, &cp->sink);
}

void memxd_serve_aside(struct memxd_client *c, struct memxd_rdma_sink *sink)
{
	if (!c->serve_aside || c->aside)
		return;
	c->aside = true;
	snprintf(c->aside_why, sizeof(c->aside_why), sink ? "waiting out a slow RDMA transfer "
		 "(up to %u s)" : "connecting a donor (up to %u s)",
		 (sink ? MEMXD_COPY_STUCK_MS : MEMXD_CM_TIMEOUT_MS) / 1000);
	c->aside_sink = sink;
	c->serve_aside(c);
	c->aside_sink = NULL;
	c->aside = false;
}

/* The donor of the oldest piece in flight (the source when none is). */
static struct memxd_donor *copy_oldest_donor(const struct slab_copy *cp)
{
	const struct copy_slot *oldest = NULL;

	for (unsigned int i = 0; i < MEMXD_COPY_DEPTH; i++) {
		const struct copy_slot *sl = &cp->slot[i];

		if ((sl->state == COPY_SLOT_READING || sl->state == COPY_SLOT_WRITING) &&
		    (!oldest || sl->posted_ns < oldest->posted_ns))
			oldest = sl;
	}
	return oldest && oldest->state == COPY_SLOT_WRITING ? cp->dst : cp->src;
}

/* Stuck although the donors answer: the donor of the oldest piece in flight is lost. */
static void copy_blame_oldest(struct memxd_client *c, struct slab_copy *cp)
{
	if (cp->in_flight)
		memxd_donor_lost(c, copy_oldest_donor(cp),
				 "RDMA on the copy connection stuck although the donor answers");
}

/*
 * Copies cp->bytes from the source replica to the target, MEMXD_COPY_DEPTH
 * pieces in flight. Returns 0 once every piece is written, or -errno; either
 * way nothing of it is in flight any more (unless a donor never answered even
 * its disconnect: then the late completions carry a number nobody waits for).
 */
static int copy_pieces(struct memxd_client *c, struct slab_copy *cp)
{
	unsigned int stuck = 0, stuck_ms = 0, wait_ms;
	uint64_t slow_since = 0, last_ping = 0, last_aside = memxd_now_ns();

	cp->sink.seq = ++c->rdma_seq;
	cp->sink.done = copy_piece_done;
	for (;;) {
		uint64_t now;
		int r;

		if (!cp->status && (!memxd_donor_usable(atomic_load(&cp->src->state)) ||
				    !memxd_donor_usable(atomic_load(&cp->dst->state))))
			cp->status = -ECONNRESET;
		if (!cp->status && (r = copy_post_ready(c, cp)))
			cp->status = r;
		/*
		 * Slow: waited out a second at a time, the mailbox served between.
		 * Not slow but long (a slab in small pieces on a slow link, no
		 * piece past the timeout): the mailbox is served about once a
		 * second too, so that first writes parked for a slab are not
		 * starved by a copy that takes longer than their deadline.
		 */
		if (cp->in_flight && (slow_since || memxd_now_ns() - last_aside >=
				      MEMXD_ASIDE_WAIT_MS * 1000000ULL)) {
			memxd_serve_aside(c, &cp->sink);
			last_aside = memxd_now_ns();
		}
		if (!cp->in_flight)
			break;
		wait_ms = slow_since ? MEMXD_ASIDE_WAIT_MS : MEMXD_MSG_TIMEOUT_MS;
		r = memxd_copy_wait(c, &cp->sink, (int)wait_ms);
		now = memxd_now_ns();
		if (r == -ETIMEDOUT && !slow_since) {
			/* Slow: abandoned, not blamed; what is in flight is waited out. */
			slow_since = now;
			last_ping = now - MEMXD_MSG_TIMEOUT_MS * 1000000ULL;
			memxd_copy_slow(c, copy_oldest_donor(cp), "a slab copy");
			if (!cp->status)
				cp->status = r;
		}
		if (r == -ETIMEDOUT && memxd_donor_usable(atomic_load(&cp->src->state)) &&
		    memxd_donor_usable(atomic_load(&cp->dst->state))) {
			if (now - slow_since >= MEMXD_COPY_STUCK_MS * 1000000ULL) {
				copy_blame_oldest(c, cp);
			} else if (now - last_ping >= MEMXD_MSG_TIMEOUT_MS * 1000000ULL) {
				last_ping = now;
				copy_ping_donors(c, cp);
			}
		} else if (r == -ETIMEDOUT) {
			/* A donor is lost and its pieces still do not flush in 3 waits of 5 s: give up. */
			stuck_ms += wait_ms;
			if (stuck_ms >= 3 * MEMXD_MSG_TIMEOUT_MS)
				break;
		} else if (r) {
			if (!cp->status)
				cp->status = r;
			if (++stuck > 2)
				break;
		} else {
			stuck = stuck_ms = 0;
		}
	}
	if (!cp->status && cp->written != cp->bytes)
		cp->status = -EIO;
	return cp->status;
}

/*
 * Ends a MIGRATING phase. A donor may have died meanwhile (its loss is
 * handled inside the copy's waits): no replica on it stays live, and a slab
 * left with none is lost, never republished as readable.
 */
void memxd_end_migration(struct memxd_client *c, struct memxd_slab *slab)
{
	if (memxd_plan_settle(slab, donor_usable, c)) {
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
	struct memxd_replica target, *src;
	struct slab_copy cp;
	int nx = 0, slot = -1, r;

	uint64_t t0, t1, t2;

	r = memxd_plan_copy_source(slab, from, donor_usable, c, exclude, &nx);
	if (r < 0)
		return r;
	src = &slab->replica[r];
	/* A copy restores redundancy: donors let it into the room kept beyond quotas. */
	t0 = memxd_now_ns();
	r = memxd_grant_slab(c, s, exclude, nx, true, &target);
	t1 = memxd_now_ns();
	c->copy_times.grant_ns += t1 - t0;
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
	c->copy_hold = slab;
	if (!memxd_slab_wait_idle(slab, false, true)) {
		r = -EBUSY;
		goto out_undo;
	}
	t2 = memxd_now_ns();
	c->copy_times.idle_ns += t2 - t1;
	cp = (struct slab_copy){
		.src = &c->donor[src->donor], .src_addr = src->remote_addr, .src_rkey = src->rkey,
		.dst = &c->donor[target.donor], .dst_addr = target.remote_addr,
		.dst_rkey = target.rkey, .bytes = c->map.slab_bytes, .piece = memxd_copy_piece(c),
	};
	r = copy_pieces(c, &cp);
	c->copy_times.copy_ns += memxd_now_ns() - t2;
	if (r)
		goto out_undo;
	c->copy_hold = NULL;
	memxd_transfer_went_through(c);
	c->copied_bytes += c->map.slab_bytes;
	c->copy_times.slabs++;
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
	/* Unless a slow copy gave the slab back already (it may be another's by now). */
	if (c->copy_hold == slab) {
		c->copy_hold = NULL;
		memxd_end_migration(c, slab);
	}
	memxd_free_grant(c, &target);
	return r;
}

/* Finds one piece of work: *from is the slot to move away, or -1 to add a copy. */
static bool find_work(struct memxd_client *c, uint64_t *slab_out, int *from)
{
	return memxd_plan_find_work(&c->map, wanted_replicas(c), donor_wants_out, c, slab_out, from);
}

/* Draining donors that hold nothing more are let go. */
static void release_drained(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		int expect = MEMXD_DONOR_DRAINING;

		if (atomic_load(&d->state) != MEMXD_DONOR_DRAINING)
			continue;
		if (memxd_plan_donor_holds(&c->map, i) || !atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_LEFT))
			continue;
		memxd_pool_drop(c, d);	/* its lease would keep them */
		memxd_info("volume %s: donor %s drained: it holds none of our slabs; disconnecting",
			  c->opt.name, d->name);
		for (unsigned int q = 0; q < c->nr_queues; q++)
			mxv_conn_disconnect(d->data[q]);
		mxv_conn_disconnect(d->ctrl);
		d->slabs = 0;
	}
}

/*
 * Once nothing is left to copy: where the burst's time went, so that what
 * limits repair (the copies themselves, the grants, waiting for writes to
 * drain, the time between slabs) can be read off a log.
 */
static void log_copy_times(struct memxd_client *c, uint64_t now)
{
	struct memxd_copy_times *t = &c->copy_times;
	double total = (double)(now - t->first_ns) / 1e9;

	if (!t->first_ns)
		return;
	if (t->slabs)
		memxd_info("volume %s: copied %" PRIu64 " slab(s) of %" PRIu64 " MiB in %.1f s: "
			  "%.1f s copying, %.1f s in grants, %.1f s waiting for writes, %.1f s "
			  "between slabs", c->opt.name, t->slabs, c->map.slab_bytes >> 20, total,
			  t->copy_ns / 1e9, t->grant_ns / 1e9, t->idle_ns / 1e9, t->gap_ns / 1e9);
	*t = (struct memxd_copy_times){ 0 };
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
		log_copy_times(c, now);
		return memxd_recovery_pending(c) ? 1000 : -1;
	}
	if (now < c->next_copy_ns)
		return (int)((c->next_copy_ns - now) / 1000000ULL) + 1;
	if (now < c->copy_retry_ns)	/* backing off after a slow copy */
		return (int)((c->copy_retry_ns - now) / 1000000ULL) + 1;
	if (!c->copy_times.first_ns)
		c->copy_times.first_ns = now;
	/* From the last copy's end (the rate limit, the loop) to this one's start. */
	if (c->copy_times.slabs && c->copy_times.last_end_ns)
		c->copy_times.gap_ns += now - c->copy_times.last_end_ns;
	r = copy_slab(c, s, from);
	c->copy_times.last_end_ns = memxd_now_ns();
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
