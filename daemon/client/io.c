// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: the life of a request in the engine, in its queue's
 * thread. Per tag (struct memxd_io, preallocated):
 *
 *   FREE -- memxd_io_start() -->
 *     WRITE, WRITE_ZEROES, DISCARD while the volume is at rest (rest.c)
 *                                    -> WAIT_REST until the control thread
 *                                       dropped the state it left on the
 *                                       donors; then as below
 *     FLUSH: done at once (writes complete only in donor memory);
 *     DISCARD: the slabs it covers whole are given back (mailbox), done;
 *       one being copied (scrub, repair) -> WAIT_SLAB until the copy ends;
 *     READ, WRITE, WRITE_ZEROES: cut into per-slab extents, then claimed:
 *       every slab usable            -> RDMA (work requests queued per donor)
 *       a slab being mapped (first
 *       write), migrated or freed    -> WAIT_SLAB (parked; the control thread
 *                                       wakes the queue, which restarts it)
 *       a slab lost, its mapping
 *       failed while we waited, or
 *       the wait passed half of
 *       --io-deadline                -> FREE with EIO
 *   RDMA -- memxd_io_wr_done() per completion -->
 *     a failed read moves on to the next replica (failover), a write stands
 *     if any replica took it; the donor of a failed work request is reported
 *     (mailbox); after the last completion -> FREE with the result.
 *
 * A finished tag's result goes into the queue's commit batch. A request
 * holds an in-flight count on each slab it uses (reads and writes apart)
 * from its claim to its end: the control thread waits for those to drain
 * before it copies or frees a replica (grants.c, recovery.c).
 * Zeros are returned only for slabs never written (or discarded), never in
 * place of lost data.
 *
 * Same-filled blocks (samefill.h): a WRITE whose every 4 KiB block is one
 * 64-bit value repeated is claimed like any write (its slabs mapped, its
 * blocks no longer discarded), then its blocks are marked and it finishes
 * with no work request: the donors keep their old bytes, which the CRC table
 * still describes (so reads, scrub and copies check them as before) and
 * which nobody returns while the mark stands. A write with some blocks
 * same-filled and others not (swap's requests are runs of pages the block
 * layer merged) sends only the others, one work request per run of them per
 * replica, at most MEMXD_MAX_WRS_PER_TAG: short gaps between runs are sent
 * too when there would be more. When it completes, its same-filled blocks
 * are marked, the others get their checksums and lose their marks; a write
 * stands if one replica took every work request of an extent. A READ whose every
 * block is marked is filled here, with no work request; any other read goes
 * to a donor, and its marked blocks are filled over what came back once its
 * last work request completed (after checksums and repairs used the donor's
 * bytes). DISCARD clears the marks of the blocks it covers whole (they hold
 * what the donors hold again: a discarded block's content is undefined until
 * written), and a slab given back loses its marks. Marks are set and cleared
 * before the tag is committed, so the next request sees them. Nothing here
 * allocates memory.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "common/log.h"

static void io_finish(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_io *io = &q->io[tag];

	if (io->result) {
		atomic_fetch_add_explicit(&q->stats.errors, 1, memory_order_relaxed);
	} else if (io->op == MEMX_OP_READ) {
		atomic_fetch_add_explicit(&q->stats.reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&q->stats.read_bytes, io->nr_bytes, memory_order_relaxed);
	} else if (io->op == MEMX_OP_WRITE) {
		atomic_fetch_add_explicit(&q->stats.writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&q->stats.write_bytes, io->nr_bytes, memory_order_relaxed);
	}
	memxd_dbg(MEMXD_DBG_IO, "queue %u tag %u: op %u at %llu, %u bytes: done (%d)", q->qid, tag,
		 io->op, (unsigned long long)io->offset, io->nr_bytes, io->result);
	q->results[q->nr_results].tag = tag;
	q->results[q->nr_results].result = io->result;
	q->nr_results++;
	io->state = MEMXD_IO_FREE;
	if (io->change_counted)
		atomic_fetch_add(&q->changes_done, 1);	/* its marks and checksums are in */
}

static void io_fail(struct memxd_io *io, int err)
{
	if (!io->result)
		io->result = err;
}

/*
 * Adds one RDMA work request for the len bytes at off in extent e of tag, to
 * replica slot k, to that donor's chain: what the request's op says, or op (a
 * repair writes a read's good data back).
 */
static int io_add_wr_range(struct memxd_queue *q, uint32_t tag, unsigned int e, unsigned int k,
			   const struct memxd_replica *rep, uint8_t op, uint32_t at, uint32_t len)
{
	struct memxd_io *io = &q->io[tag];
	struct memxd_io_ext *x = &io->ext[e];
	struct mxv_batch *b = q->batch[rep->donor];
	size_t off = (size_t)tag * q->kq.buf_stride + x->ext.buf_offset + at;
	uint64_t raddr = rep->remote_addr + x->ext.slab_offset + at;
	uint64_t wr_id = memxd_wrid_pack((struct memxd_wrid){ tag, e, k, rep->donor, rep->gen });
	int r;

	if (op != MEMX_OP_READ)
		atomic_fetch_add_explicit(&q->stats.rdma_write_bytes, len, memory_order_relaxed);
	if (op == MEMX_OP_WRITE_ZEROES)
		r = mxv_batch_write(b, q->zero_mr, 0, len, raddr, rep->rkey, wr_id, 0);
	else if (op == MEMX_OP_WRITE)
		r = mxv_batch_write(b, q->buf_mr, off, len, raddr, rep->rkey, wr_id, 0);
	else
		r = mxv_batch_read(b, q->buf_mr, off, len, raddr, rep->rkey, wr_id, 0);
	if (r)
		return r;
	x->tried |= 1U << k;
	x->pending++;
	io->pending++;
	q->outstanding++;
	return 0;
}

/* The same for the whole extent. */
static int io_add_wr_op(struct memxd_queue *q, uint32_t tag, unsigned int e, unsigned int k,
			const struct memxd_replica *rep, uint8_t op)
{
	return io_add_wr_range(q, tag, e, k, rep, op, 0, q->io[tag].ext[e].ext.len);
}

static int io_add_wr(struct memxd_queue *q, uint32_t tag, unsigned int e, unsigned int k,
		     const struct memxd_replica *rep)
{
	return io_add_wr_op(q, tag, e, k, rep, q->io[tag].op);
}

/* Whether block i of a WRITE is same-filled and not sent. */
static bool io_sf_block(const struct memxd_io *io, uint32_t i)
{
	return io->sf_mask[i / 64] & (1ULL << (i % 64));
}

/*
 * The next run of blocks of extent x that a WRITE sends, from byte *pos of
 * the extent on: its offset and length in the extent. False when none is left.
 */
static bool io_next_run(const struct memxd_io *io, const struct memxd_io_ext *x, uint32_t *pos,
			uint32_t *at, uint32_t *len)
{
	uint32_t base = x->ext.buf_offset / MEMXD_SF_BLOCK;

	if (!io->sf_any) {
		if (*pos)
			return false;
		*at = 0;
		*len = x->ext.len;
		*pos = x->ext.len;
		return true;
	}
	while (*pos < x->ext.len && io_sf_block(io, base + *pos / MEMXD_SF_BLOCK))
		*pos += MEMXD_SF_BLOCK;
	if (*pos >= x->ext.len)
		return false;
	*at = *pos;
	while (*pos < x->ext.len && !io_sf_block(io, base + *pos / MEMXD_SF_BLOCK))
		*pos += MEMXD_SF_BLOCK;
	*len = *pos - *at;
	return true;
}

/* How many runs a WRITE sends, over all its extents. */
static unsigned int io_count_runs(const struct memxd_io *io)
{
	unsigned int n = 0;

	for (unsigned int e = 0; e < io->nr_ext; e++) {
		uint32_t pos = 0, at, len;

		while (io_next_run(io, &io->ext[e], &pos, &at, &len))
			n++;
	}
	return n;
}

static bool replica_usable(struct memxd_client *c, const struct memxd_replica *rep)
{
	return atomic_load_explicit(&rep->live, memory_order_acquire) &&
	       memxd_donor_usable(atomic_load(&c->donor[rep->donor].state));
}

/*
 * Posts a read of extent e from a replica not tried yet, preferring the
 * first usable one. Returns 0, or -EIO when no replica is left to try.
 */
static int io_read_ext(struct memxd_queue *q, uint32_t tag, unsigned int e)
{
	struct memxd_io_ext *x = &q->io[tag].ext[e];
	struct memxd_slab *slab = &q->c->map.slabs[x->ext.slab];

	for (uint32_t k = 0; k < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); k++) {
		const struct memxd_replica *rep = &slab->replica[k];

		if ((x->tried & (1U << k)) || !replica_usable(q->c, rep))
			continue;
		if (!io_add_wr(q, tag, e, k, rep))
			return 0;
		x->tried |= 1U << k;
	}
	return -EIO;
}

/* Drops the in-flight counts an I/O holds on its slabs. */
static void io_uncount(struct memxd_queue *q, struct memxd_io *io)
{
	for (unsigned int e = 0; e < io->nr_ext; e++) {
		struct memxd_slab *slab = &q->c->map.slabs[io->ext[e].ext.slab];

		if (!io->ext[e].counted)
			continue;
		if (io->op == MEMX_OP_READ)
			atomic_fetch_sub(&slab->reads_inflight, 1);
		else
			atomic_fetch_sub(&slab->writes_inflight, 1);
		io->ext[e].counted = false;
	}
}

/* Parks a tag until the control thread has mapped (or failed to map, or migrated) a slab. */
static void io_park(struct memxd_queue *q, uint32_t tag, uint64_t slab)
{
	struct memxd_io *io = &q->io[tag];

	if (io->state != MEMXD_IO_WAIT_SLAB || io->wait_slab != slab) {
		io->wait_gen = atomic_load(&q->c->fail_gen[slab]);
		io->parked_ns = memxd_now_ns();
	}
	io->state = MEMXD_IO_WAIT_SLAB;
	io->wait_slab = slab;
	q->waiting[q->nr_waiting++] = tag;
}

/*
 * Whether a tag has waited for this slab past half of --io-deadline: the
 * control thread, which maps and moves slabs, is stuck or far behind. The
 * request fails with EIO rather than wait on; the other half of the deadline
 * is memx.ko's, for an engine that finishes nothing at all.
 */
static bool io_wait_expired(struct memxd_queue *q, const struct memxd_io *io, uint64_t slab)
{
	uint64_t limit = (uint64_t)q->c->opt.io_deadline_s * MEMXD_NS_PER_MS * 500;

	if (io->state != MEMXD_IO_WAIT_SLAB || io->wait_slab != slab ||
	    memxd_now_ns() - io->parked_ns < limit)
		return false;
	memxd_err("queue %u: a %s at %llu waited %llu ms for slab %llu (the control thread is "
		  "stuck or far behind): failed with EIO", q->qid,
		  io->op == MEMX_OP_READ ? "read" : "write", (unsigned long long)io->offset,
		  (unsigned long long)((memxd_now_ns() - io->parked_ns) / MEMXD_NS_PER_MS),
		  (unsigned long long)slab);
	return true;
}

/* What claiming a request's slabs came to. */
enum io_claim {
	IO_CLAIM_GO,		/* every slab usable: issue the work requests */
	IO_CLAIM_PARKED,	/* a slab is being mapped, migrated or freed: wait for it */
	IO_CLAIM_FAILED,	/* a slab is lost, or could not be mapped: EIO */
};

/*
 * Takes the in-flight counts for every extent of a request and checks its
 * slabs can be used now. Counting before checking pairs with the control
 * thread, which changes a state before it waits for the count to drop.
 */
static enum io_claim io_claim_slabs(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_client *c = q->c;
	struct memxd_io *io = &q->io[tag];
	bool write = io->op != MEMX_OP_READ;

	for (unsigned int e = 0; e < io->nr_ext; e++) {
		uint64_t s = io->ext[e].ext.slab;
		struct memxd_slab *slab = &c->map.slabs[s];
		struct memxd_mail mail = { .type = MEMXD_MAIL_MAP_SLAB, .map.slab = s };
		uint32_t state;

		atomic_fetch_add(write ? &slab->writes_inflight : &slab->reads_inflight, 1);
		io->ext[e].counted = true;
		state = memxd_slab_state(slab);
		if (state == MEMXD_SLAB_MAPPED)
			continue;
		if (state == MEMXD_SLAB_LOST)
			return IO_CLAIM_FAILED;
		/* Reads of unwritten slabs are zeros; writes of zeros there are no-ops. */
		if (!write || (io->op == MEMX_OP_WRITE_ZEROES && state != MEMXD_SLAB_MIGRATING &&
				state != MEMXD_SLAB_FREEING))
			continue;
		io_uncount(q, io);
		if (state == MEMXD_SLAB_MAPPING || state == MEMXD_SLAB_MIGRATING ||
		    state == MEMXD_SLAB_FREEING) {
			if (io_wait_expired(q, io, s))
				return IO_CLAIM_FAILED;
			io_park(q, tag, s);
			return IO_CLAIM_PARKED;
		}
		/* Unmapped: if a mapping failed since we parked, give up. */
		if (io->state == MEMXD_IO_WAIT_SLAB && io->wait_slab == s &&
		    atomic_load(&c->fail_gen[s]) != io->wait_gen)
			return IO_CLAIM_FAILED;
		if (memxd_slab_claim(slab, MEMXD_SLAB_UNMAPPED, MEMXD_SLAB_MAPPING) &&
		    memxd_mailbox_post(&c->mailbox, &mail)) {
			memxd_slab_publish(slab, MEMXD_SLAB_UNMAPPED);
			return IO_CLAIM_FAILED;
		}
		io_park(q, tag, s);
		return IO_CLAIM_PARKED;
	}
	/* Counted in flight on every slab it writes: now its blocks are not discarded. */
	if (write)
		memxd_discards_clear(&c->discards, io->offset, io->nr_bytes);
	return IO_CLAIM_GO;
}

#define IO_NO_SLAB	UINT64_MAX

/*
 * Gives slab s, which we hold FREEING, back to its donors (mailbox): it reads
 * as zeros from now on. False when that could not be queued (it is MAPPED
 * again: a discard is advisory).
 */
static bool io_give_back(struct memxd_queue *q, uint64_t s)
{
	struct memxd_client *c = q->c;
	struct memxd_slab *slab = &c->map.slabs[s];
	struct memxd_mail mail = { .type = MEMXD_MAIL_FREE_SLAB, .free.slab = s };

	mail.free.nr_replicas = slab->nr_replicas;
	memcpy(mail.free.replica, slab->replica, sizeof(mail.free.replica));
	if (memxd_mailbox_post(&c->mailbox, &mail)) {
		memxd_slab_publish(slab, MEMXD_SLAB_MAPPED);
		return false;
	}
	atomic_fetch_sub(&c->slabs_mapped, 1);
	atomic_fetch_add_explicit(&c->slabs_given_back, 1, memory_order_relaxed);
	/* Mapped again, it will be fresh (zeroed) donor memory. */
	memxd_crc_zero(&c->crc, s * c->map.slab_bytes, c->map.slab_bytes);
	memxd_samefill_clear(&c->samefill, s * c->map.slab_bytes, c->map.slab_bytes);
	memxd_discards_reset_slab(&c->discards, s);
	memxd_slab_publish(slab, MEMXD_SLAB_UNMAPPED);
	return true;
}

/*
 * The slabs a DISCARD covers in part: its whole blocks are marked, and a slab
 * that is discarded all over by now (piece by piece, as swap does it) is given
 * back like a whole one, unless I/O is in flight on it: a write there means
 * a block is not discarded any more (it clears its bit before its data goes
 * out, after it counted itself in flight, so one of us sees the other).
 * Returns a slab discarded all over but being copied (the scrub, a repair, a
 * drain), so not given back yet, or IO_NO_SLAB: the caller waits for the copy
 * and runs the discard again, as for whole slabs (no later discard may come).
 */
static uint64_t io_release_discarded(struct memxd_queue *q, uint64_t offset, uint64_t len)
{
	struct memxd_client *c = q->c;
	uint64_t end = offset + len, busy = IO_NO_SLAB;

	for (uint64_t pos = offset; pos < end;) {
		uint64_t s = pos >> c->map.slab_shift;
		uint64_t slab_end = (s + 1) << c->map.slab_shift;
		uint64_t piece = (end < slab_end ? end : slab_end) - pos;
		struct memxd_slab *slab = &c->map.slabs[s];

		if (piece < c->map.slab_bytes && memxd_discards_mark(&c->discards, s, pos, piece)) {
			if (!memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_FREEING)) {
				if (busy == IO_NO_SLAB &&
				    memxd_slab_state(slab) == MEMXD_SLAB_MIGRATING)
					busy = s;
			} else if (atomic_load(&slab->writes_inflight) ||
				   atomic_load(&slab->reads_inflight) ||
				   !memxd_discards_whole(&c->discards, s)) {
				/*
				 * Looked at again once nothing is in flight: a write
				 * that ended before we looked cleared its bit before.
				 */
				memxd_slab_publish(slab, MEMXD_SLAB_MAPPED);	/* a later discard retries */
			} else {
				io_give_back(q, s);
			}
		}
		pos += piece;
	}
	return busy;
}

/*
 * Gives whole slabs of a DISCARD back: they read as zeros from now on.
 * Returns a slab that is being copied, so not given back yet, or IO_NO_SLAB.
 */
static uint64_t io_release_slabs(struct memxd_queue *q, uint64_t offset, uint64_t len)
{
	struct memxd_client *c = q->c;
	uint64_t first, end, busy = io_release_discarded(q, offset, len);

	if (!memxd_slabmap_whole_slabs(&c->map, offset, len, &first, &end))
		return busy;
	for (uint64_t s = first; s < end; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];

		/*
		 * FREEING makes the slab ours: the control thread changes only
		 * MAPPED slabs. A LOST one is given up too: its data is gone,
		 * and discarded it reads as zeros and takes writes again.
		 */
		if (memxd_slab_claim(slab, MEMXD_SLAB_LOST, MEMXD_SLAB_FREEING)) {
			memxd_crc_zero(&c->crc, s * c->map.slab_bytes, c->map.slab_bytes);
			memxd_samefill_clear(&c->samefill, s * c->map.slab_bytes,
					     c->map.slab_bytes);
			memxd_discards_reset_slab(&c->discards, s);
			atomic_fetch_sub(&c->slabs_lost, 1);
			memxd_slab_publish(slab, MEMXD_SLAB_UNMAPPED);
			continue;
		}
		if (!memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_FREEING)) {
			/* Being copied (scrub, repair, drain): it is freed once that ends. */
			if (busy == IO_NO_SLAB && memxd_slab_state(slab) == MEMXD_SLAB_MIGRATING)
				busy = s;
			continue;
		}
		io_give_back(q, s);
	}
	return busy;
}

/* True at most once a second per caller's clock: a failing cluster fails many requests. */
static bool once_a_second(time_t *last)
{
	time_t now = time(NULL);

	if (now == *last)
		return false;
	*last = now;
	return true;
}

/* Says why a write failed, at most once a second per queue. */
static void io_warn_write_failed(struct memxd_queue *q, const struct memxd_io *io)
{
	static _Thread_local time_t last;

	if (!once_a_second(&last))
		return;
	memxd_err("volume %s: write of %u bytes at offset %llu failed with EIO: its slab is lost "
		 "or no donor could take it (see the control thread's log)", q->c->opt.name,
		 io->nr_bytes, (unsigned long long)io->offset);
}

/* A DISCARD: the blocks it covers whole are not same-filled any more. */
static void io_discard_marks(struct memxd_queue *q, uint64_t offset, uint64_t len)
{
	uint64_t first = (offset + MEMXD_SF_BLOCK - 1) / MEMXD_SF_BLOCK;
	uint64_t end = (offset + len) / MEMXD_SF_BLOCK;

	if (first < end)
		memxd_samefill_clear(&q->c->samefill, first * MEMXD_SF_BLOCK,
				     (end - first) * MEMXD_SF_BLOCK);
}

/* FLUSH and DISCARD need no RDMA, and an unknown op fails: true when the request is done. */
static bool io_start_local(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_io *io = &q->io[tag];
	uint64_t busy;

	switch (io->op) {
	case MEMX_OP_FLUSH:
		/* Writes complete only once in donor memory: there is no cache to flush. */
		atomic_fetch_add_explicit(&q->stats.flushes, 1, memory_order_relaxed);
		io_finish(q, tag);
		return true;
	case MEMX_OP_DISCARD:
		io_discard_marks(q, io->offset, io->nr_bytes);
		busy = io_release_slabs(q, io->offset, io->nr_bytes);
		/* Wait for a copy to end, unless that took half of --io-deadline: it is advisory. */
		if (busy != IO_NO_SLAB && !io_wait_expired(q, io, busy)) {
			io_park(q, tag, busy);
			return true;
		}
		atomic_fetch_add_explicit(&q->stats.discards, 1, memory_order_relaxed);
		io_finish(q, tag);
		return true;
	case MEMX_OP_READ:
	case MEMX_OP_WRITE:
	case MEMX_OP_WRITE_ZEROES:
		return false;
	default:
		io->result = -EOPNOTSUPP;
		io_finish(q, tag);
		return true;
	}
}

/* Cuts a request into its per-slab extents. False when it is out of range (finished, EINVAL). */
static bool io_split(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_io *io = &q->io[tag];
	struct memxd_extent ext[MEMXD_MAX_EXTENTS];
	int n;

	n = memxd_slabmap_extents(&q->c->map, io->offset, io->nr_bytes, ext, MEMXD_MAX_EXTENTS);
	if (n < 0 || io->nr_bytes > q->kq.buf_stride) {
		io->result = -EINVAL;
		io_finish(q, tag);
		return false;
	}
	io->nr_ext = (uint8_t)n;
	for (int e = 0; e < n; e++)
		io->ext[e] = (struct memxd_io_ext){ .ext = ext[e] };
	return true;
}

/*
 * Issues extent e of a claimed request: zeros for a read of a never-written
 * slab (no network), a read from one replica, or a write to every usable one
 * (it stands if one of them takes it).
 */
static void io_issue_ext(struct memxd_queue *q, uint32_t tag, unsigned int e)
{
	struct memxd_client *c = q->c;
	struct memxd_io *io = &q->io[tag];
	struct memxd_io_ext *x = &io->ext[e];
	struct memxd_slab *slab = &c->map.slabs[x->ext.slab];
	uint32_t state = memxd_slab_state(slab), at, len;

	if (state != MEMXD_SLAB_MAPPED && state != MEMXD_SLAB_MIGRATING) {
		/* Never written: zeros, without the network (writes were mapped when claimed). */
		if (io->op == MEMX_OP_READ) {
			memset(q->kq.buf + (size_t)tag * q->kq.buf_stride + x->ext.buf_offset,
			       0, x->ext.len);
			atomic_fetch_add_explicit(&q->stats.zero_reads, 1, memory_order_relaxed);
		}
		return;
	}
	if (io->op == MEMX_OP_READ) {
		if (io_read_ext(q, tag, e))
			io_fail(io, -EIO);
		return;
	}
	/* An extent all same-filled (the rest of the write is not) sends nothing. */
	if (!io_next_run(io, x, &(uint32_t){ 0 }, &at, &len))
		return;
	for (uint32_t k = 0; k < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); k++) {
		uint32_t pos = 0;

		if (!replica_usable(c, &slab->replica[k]))
			continue;
		while (io_next_run(io, x, &pos, &at, &len))
			if (io_add_wr_range(q, tag, e, k, &slab->replica[k], io->op, at, len))
				io_fail(io, -EIO);
	}
	if (!x->pending)
		io_fail(io, -EIO);
}

/* Bytes a write of extent e would have sent: once per usable replica. */
static uint64_t io_ext_wire_bytes(struct memxd_queue *q, const struct memxd_io_ext *x)
{
	struct memxd_slab *slab = &q->c->map.slabs[x->ext.slab];
	uint64_t n = 0;

	for (uint32_t k = 0; k < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); k++)
		if (replica_usable(q->c, &slab->replica[k]))
			n += x->ext.len;
	return n;
}

/*
 * A WRITE's same-filled blocks between blocks it sends, up to gap blocks
 * long, are sent after all: fewer runs, fewer work requests.
 */
static void io_sf_fill_gaps(struct memxd_io *io, uint32_t gap)
{
	for (unsigned int e = 0; e < io->nr_ext; e++) {
		uint32_t first = io->ext[e].ext.buf_offset / MEMXD_SF_BLOCK;
		uint32_t end = first + io->ext[e].ext.len / MEMXD_SF_BLOCK;

		for (uint32_t i = first; i < end;) {
			uint32_t j = i;

			if (!io_sf_block(io, i)) {
				i++;
				continue;
			}
			while (j < end && io_sf_block(io, j))
				j++;
			/* Interior: sent blocks on both sides, in the same extent. */
			if (i > first && j < end && j - i <= gap)
				for (uint32_t b = i; b < j; b++)
					io->sf_mask[b / 64] &= ~(1ULL << (b % 64));
			i = j;
		}
	}
}

/*
 * Finds a WRITE's same-filled blocks (sf_mask), cut so that the blocks it
 * sends make at most MEMXD_MAX_WRS_PER_TAG runs: small gaps are sent. Returns
 * how many blocks are left same-filled.
 */
static uint32_t io_sf_find(struct memxd_queue *q, struct memxd_io *io, const uint8_t *buf)
{
	uint32_t nb = io->nr_bytes / MEMXD_SF_BLOCK, n = 0;
	uint64_t v;

	memset(io->sf_mask, 0, sizeof(io->sf_mask));
	io->sf_any = false;
	if (q->c->opt.no_same_filled || io->nr_bytes % MEMXD_SF_BLOCK ||
	    nb > sizeof(io->sf_mask) * 8)
		return 0;
	for (uint32_t i = 0; i < nb; i++)
		if (memxd_samefill_detect(buf + (size_t)i * MEMXD_SF_BLOCK, &v)) {
			io->sf_mask[i / 64] |= 1ULL << (i % 64);
			n++;
		}
	if (!n || n == nb)
		return n;
	io->sf_any = true;
	for (uint32_t gap = 1; io_count_runs(io) > MEMXD_MAX_WRS_PER_TAG; gap++)
		io_sf_fill_gaps(io, gap);
	n = 0;
	for (unsigned int w = 0; w < sizeof(io->sf_mask) / sizeof(io->sf_mask[0]); w++)
		n += (uint32_t)__builtin_popcountll(io->sf_mask[w]);
	io->sf_any = n != 0;
	return n;
}

/*
 * A claimed WRITE whose every block is same-filled, or a READ whose every
 * block is marked: served from the table, no network. True when the request
 * is done. A WRITE with some blocks same-filled goes on without them (sf_mask).
 */
static bool io_same_filled(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_client *c = q->c;
	struct memxd_io *io = &q->io[tag];
	uint8_t *buf = q->kq.buf + (size_t)tag * q->kq.buf_stride;
	uint64_t saved = 0;

	if (io->op == MEMX_OP_WRITE) {
		if (io_sf_find(q, io, buf) != io->nr_bytes / MEMXD_SF_BLOCK)
			return false;	/* none, or some: sent around them */
		for (unsigned int e = 0; e < io->nr_ext; e++)
			saved += io_ext_wire_bytes(q, &io->ext[e]);
		memxd_samefill_mark(&c->samefill, io->offset, buf, io->nr_bytes);
		atomic_fetch_add_explicit(&q->stats.samefill_writes, io->nr_bytes / MEMXD_SF_BLOCK,
					  memory_order_relaxed);
	} else if (io->op == MEMX_OP_READ) {
		/* Marks are only ever on mapped slabs: the claim found none lost. */
		if (!atomic_load_explicit(&c->samefill.nr_marked, memory_order_relaxed) ||
		    !memxd_samefill_covers(&c->samefill, io->offset, io->nr_bytes))
			return false;
		memxd_samefill_fill(&c->samefill, io->offset, buf, io->nr_bytes);
		saved = io->nr_bytes;
		atomic_fetch_add_explicit(&q->stats.samefill_reads, io->nr_bytes / MEMXD_SF_BLOCK,
					  memory_order_relaxed);
	} else {
		return false;
	}
	atomic_fetch_add_explicit(&q->stats.samefill_bytes_saved, saved, memory_order_relaxed);
	io_uncount(q, io);
	io_finish(q, tag);
	return true;
}

/*
 * A change (WRITE, WRITE_ZEROES, DISCARD) while the volume is at rest waits
 * for the control thread to drop the state it left on the donors (rest.c),
 * at most half of --io-deadline, as a wait for a slab. Counted as begun
 * before it looks, which pairs with memxd_rest_step. True when it parked
 * (WAIT_REST) or failed.
 */
static bool io_wait_for_rest_end(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_client *c = q->c;
	struct memxd_io *io = &q->io[tag];
	uint64_t now, limit = (uint64_t)c->opt.io_deadline_s * MEMXD_NS_PER_MS * 500;

	if (io->op != MEMX_OP_WRITE && io->op != MEMX_OP_WRITE_ZEROES &&
	    io->op != MEMX_OP_DISCARD)
		return false;
	if (!io->change_counted) {
		atomic_fetch_add(&q->changes_started, 1);
		io->change_counted = true;
	}
	if (atomic_load(&c->rest.state) != MEMXD_REST_HELD) {
		if (io->state == MEMXD_IO_WAIT_REST)
			io->state = MEMXD_IO_FREE;	/* from the start, as a new request */
		return false;
	}
	now = memxd_now_ns();
	if (io->state != MEMXD_IO_WAIT_REST) {
		io->state = MEMXD_IO_WAIT_REST;
		io->parked_ns = now;
	} else if (now - io->parked_ns >= limit) {
		memxd_err("queue %u: a write at %llu waited %llu ms for the volume's state at rest "
			  "to be dropped on the donors (the control thread is stuck or far behind): "
			  "failed with EIO", q->qid, (unsigned long long)io->offset,
			  (unsigned long long)((now - io->parked_ns) / MEMXD_NS_PER_MS));
		io->result = -EIO;
		io_finish(q, tag);
		return true;
	}
	q->waiting[q->nr_waiting++] = tag;
	if (!atomic_exchange(&c->rest.end_asked, true)) {
		struct memxd_mail mail = { .type = MEMXD_MAIL_REST_END };

		if (memxd_mailbox_post(&c->mailbox, &mail))
			atomic_store(&c->rest.end_asked, false);	/* asked again at the retry */
	}
	return true;
}

/*
 * Starts the request of one tag, or restarts it after it waited for a slab
 * (WAIT_SLAB keeps its extents) or for the end of a rest (WAIT_REST): to
 * RDMA, to WAIT_SLAB or WAIT_REST, or finished (FREE).
 */
void memxd_io_start(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_io *io = &q->io[tag];

	if (io_wait_for_rest_end(q, tag))
		return;
	if (io_start_local(q, tag))
		return;
	if (io->state != MEMXD_IO_WAIT_SLAB && !io_split(q, tag))
		return;
	switch (io_claim_slabs(q, tag)) {
	case IO_CLAIM_PARKED:
		memxd_dbg(MEMXD_DBG_IO, "queue %u tag %u: waits for slab %llu", q->qid, tag,
			 (unsigned long long)io->wait_slab);
		return;
	case IO_CLAIM_FAILED:
		io_uncount(q, io);
		if (io->op != MEMX_OP_READ)
			io_warn_write_failed(q, io);
		io->result = -EIO;
		io_finish(q, tag);
		return;
	case IO_CLAIM_GO:
		break;
	}
	if (io_same_filled(q, tag))
		return;
	if (io->op == MEMX_OP_WRITE_ZEROES)
		atomic_fetch_add_explicit(&q->stats.write_zeroes, 1, memory_order_relaxed);
	io->state = MEMXD_IO_RDMA;
	io->pending = 0;
	for (unsigned int e = 0; e < io->nr_ext; e++)
		io_issue_ext(q, tag, e);
	if (!io->pending) {
		io_uncount(q, io);
		io_finish(q, tag);
	}
}

/* Where extent e of a tag lies: in the volume, and in the tag's buffer. */
static uint64_t ext_volume_offset(const struct memxd_client *c, const struct memxd_io_ext *x)
{
	return x->ext.slab * c->map.slab_bytes + x->ext.slab_offset;
}

static uint8_t *ext_buf(struct memxd_queue *q, uint32_t tag, const struct memxd_io_ext *x)
{
	return q->kq.buf + (size_t)tag * q->kq.buf_stride + x->ext.buf_offset;
}

/* Says which block failed its checksum, at most once a second per queue. */
static void io_warn_bad_block(struct memxd_queue *q, uint64_t where, unsigned int donor)
{
	static _Thread_local time_t last;

	if (!once_a_second(&last))
		return;
	memxd_err("volume %s: block at %llu read from donor %s failed its checksum: reading "
		  "another replica, and rewriting this one from it", q->c->opt.name,
		  (unsigned long long)where, q->c->donor[donor].name);
}

/*
 * Checks what a replica returned for extent e against the blocks' CRC32C.
 * A write to the same slab still in flight may be overlapping this read (the
 * block layer allows either data): then read the same replica again, a few
 * times, before calling it corrupt. Returns true when the data is good.
 */
static bool io_read_good(struct memxd_queue *q, uint32_t tag, unsigned int e,
			 const struct memxd_wrid *id)
{
	struct memxd_client *c = q->c;
	struct memxd_io_ext *x = &q->io[tag].ext[e];
	int64_t bad = memxd_crc_check(&c->crc, ext_volume_offset(c, x), ext_buf(q, tag, x),
				      x->ext.len);

	if (bad < 0)
		return true;
	if (atomic_load(&c->map.slabs[x->ext.slab].writes_inflight) && x->rereads < 8) {
		x->rereads++;
		x->tried &= (uint8_t)~(1U << id->rep);	/* the same replica once more */
		return false;
	}
	x->bad |= (uint8_t)(1U << id->rep);
	atomic_fetch_add_explicit(&q->stats.checksum_errors, 1, memory_order_relaxed);
	io_warn_bad_block(q, (uint64_t)bad, id->donor);
	return false;
}

/* A read's data is good now: write it back over the replicas that returned bad data. */
static void io_repair_ext(struct memxd_queue *q, uint32_t tag, unsigned int e)
{
	struct memxd_io_ext *x = &q->io[tag].ext[e];
	struct memxd_slab *slab = &q->c->map.slabs[x->ext.slab];

	x->repairing = true;
	for (uint32_t k = 0; k < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); k++)
		if ((x->bad & (1U << k)) && replica_usable(q->c, &slab->replica[k]))
			io_add_wr_op(q, tag, e, k, &slab->replica[k], MEMX_OP_WRITE);
}

/*
 * A WRITE sent around its same-filled blocks completed: those are marked (the
 * donors keep their old bytes and checksums), the others get their checksums
 * and lose any mark.
 */
static void io_record_split_write(struct memxd_queue *q, struct memxd_io *io, const uint8_t *buf)
{
	struct memxd_client *c = q->c;
	uint64_t blocks = 0, saved = 0;

	for (unsigned int e = 0; e < io->nr_ext; e++) {
		struct memxd_io_ext *x = &io->ext[e];
		uint32_t first = x->ext.buf_offset / MEMXD_SF_BLOCK;
		uint32_t end = first + x->ext.len / MEMXD_SF_BLOCK, n = 0;
		uint64_t copies = x->tried ? (uint64_t)__builtin_popcount(x->tried & ~x->failed) :
				  io_ext_wire_bytes(q, x) / x->ext.len;

		for (uint32_t i = first; i < end; i++) {
			uint64_t at = io->offset + (uint64_t)i * MEMXD_SF_BLOCK;
			const uint8_t *b = buf + (size_t)i * MEMXD_SF_BLOCK;

			if (io_sf_block(io, i)) {
				memxd_samefill_mark(&c->samefill, at, b, MEMXD_SF_BLOCK);
				n++;
			} else {
				memxd_crc_record(&c->crc, at, b, MEMXD_SF_BLOCK);
				memxd_samefill_clear(&c->samefill, at, MEMXD_SF_BLOCK);
			}
		}
		blocks += n;
		saved += (uint64_t)n * MEMXD_SF_BLOCK * copies;
	}
	atomic_fetch_add_explicit(&q->stats.samefill_writes, blocks, memory_order_relaxed);
	atomic_fetch_add_explicit(&q->stats.samefill_bytes_saved, saved, memory_order_relaxed);
}

/*
 * A request ends well, before the tag is committed: a write's blocks get
 * their new checksums and hold the donors' bytes again (no mark), but for
 * the same-filled ones it did not send; a read's marked blocks are filled
 * over what the donor returned for them.
 */
static void io_record_checksums(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_io *io = &q->io[tag];
	uint8_t *buf = q->kq.buf + (size_t)tag * q->kq.buf_stride;

	if (io->result)
		return;
	if (io->op == MEMX_OP_WRITE && io->sf_any) {
		io_record_split_write(q, io, buf);
		return;
	}
	if (io->op == MEMX_OP_WRITE)
		memxd_crc_record(&q->c->crc, io->offset, buf, io->nr_bytes);
	else if (io->op == MEMX_OP_WRITE_ZEROES)
		memxd_crc_zero(&q->c->crc, io->offset, io->nr_bytes);
	if (!atomic_load_explicit(&q->c->samefill.nr_marked, memory_order_relaxed))
		return;
	if (io->op == MEMX_OP_READ)
		memxd_samefill_fill(&q->c->samefill, io->offset, buf, io->nr_bytes);
	else
		memxd_samefill_clear(&q->c->samefill, io->offset, io->nr_bytes);
}

/*
 * A work request finished (ok) or failed. A failure means the QP to that
 * donor is in error: the donor is reported to the control thread, a read
 * moves on to another replica, and a write stands if another replica took it.
 */
void memxd_io_wr_done(struct memxd_queue *q, uint64_t wr_id, bool ok)
{
	struct memxd_client *c = q->c;
	struct memxd_wrid id = memxd_wrid_unpack(wr_id);
	uint32_t tag = id.tag;
	unsigned int e = id.ext, d = id.donor;
	struct memxd_io *io;
	struct memxd_io_ext *x;

	if (tag >= q->kq.depth || q->io[tag].state != MEMXD_IO_RDMA ||
	    e >= q->io[tag].nr_ext)
		return;
	io = &q->io[tag];
	x = &io->ext[e];
	q->outstanding--;
	io->pending--;
	x->pending--;
	if (!ok) {
		struct memxd_mail mail = { .type = MEMXD_MAIL_DONOR_FAILED,
					   .donor_failed = { .donor = d, .gen = id.gen } };

		/*
		 * The first queue to see the failure tells the control thread. A
		 * late completion of an earlier occupant of the slot blames nobody.
		 */
		if (id.gen == memxd_donor_gen(&c->donor[d]) && memxd_donor_mark_failed(&c->donor[d]))
			memxd_mailbox_post(&c->mailbox, &mail);
		if (io->op != MEMX_OP_READ)
			x->failed |= (uint8_t)(1U << id.rep);
	} else if (x->repairing) {
		atomic_fetch_add_explicit(&q->stats.repairs, 1, memory_order_relaxed);
	}
	if (io->op == MEMX_OP_READ && !x->repairing) {
		if (ok && io_read_good(q, tag, e, &id)) {
			if (x->bad)
				io_repair_ext(q, tag, e);
		} else {
			memxd_dbg(MEMXD_DBG_IO, "queue %u tag %u: read from donor %u %s, trying "
				  "another replica", q->qid, tag, d, ok ? "was bad" : "failed");
			if (io_read_ext(q, tag, e) == 0)
				atomic_fetch_add_explicit(&q->stats.failovers, 1,
							  memory_order_relaxed);
			else
				io_fail(io, -EIO);
		}
	}
	/*
	 * A write stands if one replica took every work request of the extent
	 * (a write cut around same-filled blocks sends several).
	 */
	if (!x->pending && io->op != MEMX_OP_READ && !(x->tried & (uint8_t)~x->failed))
		io_fail(io, -EIO);
	if (!io->pending) {
		io_record_checksums(q, tag);
		io_uncount(q, io);
		io_finish(q, tag);
	}
}

