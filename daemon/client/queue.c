// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: one thread per hardware queue.
 *
 * The thread owns its kernel queue (submission ring, descriptors, per-tag
 * buffers, all mapped from memx.ko), its RDMA CQ, one QP per donor and a
 * preallocated slot per tag. Each pass (queue_pass) it:
 *   1. reaps RDMA completions (wr_id = tag) and finishes tags whose last
 *      work request completed;
 *   2. reads every new tag from the submission ring and starts it: a READ of
 *      a never-written slab is zero-filled here, with no network; a WRITE to
 *      a slab not yet mapped parks the tag and asks the control thread for a
 *      grant; everything else becomes RDMA work requests, chained per donor;
 *   3. restarts parked tags when woken by the control thread;
 *   4. posts each donor's chain with one ibv_post_send;
 *   5. commits every finished tag with one MEMX_IO_COMMIT ioctl.
 * It passes again while passes find work, and for --poll-us after the last
 * one that did: requests and completions that come in that window cost no
 * wake-up and no system call. Then it sleeps in one io_uring_submit_and_wait
 * on three multishot polls: the kernel queue fd (new requests), the CQ's
 * completion channel, and an eventfd the control thread writes when a slab
 * was mapped (or when it is time to stop). While it is awake, the ring's
 * MEMX_RING_F_AWAKE flag spares the kernel the wake-up. A polled queue
 * (--poll-queues) is served the same way; only its submitters differ.
 * Nothing here allocates memory: all of it was allocated in setup.
 *
 * Errors: a failed work completion (peer gone, QP flushed after a disconnect)
 * fails its tag with EIO; a slab whose every replica is lost fails at once;
 * a write that no donor could take fails with EIO. Zeros are returned only for
 * slabs never written (or discarded), never in place of lost data.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "common/log.h"

#define QUEUE_WC_BATCH		32
#define UD_KQUEUE		1
#define UD_CQ			2
#define UD_WAKE			3

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
	q->results[q->nr_results].tag = tag;
	q->results[q->nr_results].result = io->result;
	q->nr_results++;
	io->state = MEMXD_IO_FREE;
}

static void io_fail(struct memxd_io *io, int err)
{
	if (!io->result)
		io->result = err;
}

/* Adds one RDMA work request for extent e of tag, to replica slot k, to that donor's chain. */
static int io_add_wr(struct memxd_queue *q, uint32_t tag, unsigned int e, unsigned int k,
		     const struct memx_replica *rep)
{
	struct memxd_io *io = &q->io[tag];
	struct memxd_io_ext *x = &io->ext[e];
	struct mxv_batch *b = q->batch[rep->donor];
	size_t off = (size_t)tag * q->kq.layout.buf_stride + x->ext.buf_offset;
	uint64_t raddr = rep->remote_addr + x->ext.slab_offset;
	uint64_t wr_id = memxd_wr_id(tag, e, k, rep->donor);
	int r;

	if (io->op == MEMX_OP_WRITE_ZEROES)
		r = mxv_batch_write(b, q->zero_mr, 0, x->ext.len, raddr, rep->rkey, wr_id, 0);
	else if (io->op == MEMX_OP_WRITE)
		r = mxv_batch_write(b, q->buf_mr, off, x->ext.len, raddr, rep->rkey, wr_id, 0);
	else
		r = mxv_batch_read(b, q->buf_mr, off, x->ext.len, raddr, rep->rkey, wr_id, 0);
	if (r)
		return r;
	x->tried |= 1U << k;
	x->pending++;
	io->pending++;
	q->outstanding++;
	return 0;
}

static bool replica_usable(struct memxd_client *c, const struct memx_replica *rep)
{
	return __atomic_load_n(&rep->live, __ATOMIC_ACQUIRE) &&
	       memxd_donor_usable(atomic_load(&c->donor[rep->donor].state));
}

/*
 * Posts a read of extent e from a replica not tried yet, preferring the
 * first usable one. Returns 0, or -EIO when no replica is left to try.
 */
static int io_read_ext(struct memxd_queue *q, uint32_t tag, unsigned int e)
{
	struct memxd_io_ext *x = &q->io[tag].ext[e];
	struct memx_slab *slab = &q->c->map.slabs[x->ext.slab];

	for (uint32_t k = 0; k < __atomic_load_n(&slab->nr_replicas, __ATOMIC_ACQUIRE); k++) {
		const struct memx_replica *rep = &slab->replica[k];

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
		struct memx_slab *slab = &q->c->map.slabs[io->ext[e].ext.slab];

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

	if (io->state != MEMXD_IO_WAIT_SLAB || io->wait_slab != slab)
		io->wait_gen = atomic_load(&q->c->fail_gen[slab]);
	io->state = MEMXD_IO_WAIT_SLAB;
	io->wait_slab = slab;
	q->waiting[q->nr_waiting++] = tag;
}

/*
 * Takes the in-flight counts for every extent of a request and checks its
 * slabs can be used now. Counting before checking pairs with the control
 * thread, which changes a state before it waits for the count to drop.
 * Returns 0 (go), 1 (parked: a slab is being mapped or migrated), or -EIO.
 */
static int io_claim_slabs(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_client *c = q->c;
	struct memxd_io *io = &q->io[tag];
	bool write = io->op != MEMX_OP_READ;

	for (unsigned int e = 0; e < io->nr_ext; e++) {
		uint64_t s = io->ext[e].ext.slab;
		struct memx_slab *slab = &c->map.slabs[s];
		struct memxd_mail mail = { .type = MEMXD_MAIL_MAP_SLAB, .map.slab = s };
		uint32_t state, expect = MEMX_SLAB_UNMAPPED;

		atomic_fetch_add(write ? &slab->writes_inflight : &slab->reads_inflight, 1);
		io->ext[e].counted = true;
		state = memx_slab_state(slab);
		if (state == MEMX_SLAB_MAPPED)
			continue;
		if (state == MEMX_SLAB_LOST)
			return -EIO;
		/* Reads of unwritten slabs are zeros; writes of zeros there are no-ops. */
		if (!write || (io->op == MEMX_OP_WRITE_ZEROES && state != MEMX_SLAB_MIGRATING &&
				state != MEMX_SLAB_FREEING))
			continue;
		io_uncount(q, io);
		if (state == MEMX_SLAB_MAPPING || state == MEMX_SLAB_MIGRATING ||
		    state == MEMX_SLAB_FREEING) {
			io_park(q, tag, s);
			return 1;
		}
		/* Unmapped: if a mapping failed since we parked, give up. */
		if (io->state == MEMXD_IO_WAIT_SLAB && io->wait_slab == s &&
		    atomic_load(&c->fail_gen[s]) != io->wait_gen)
			return -EIO;
		if (atomic_compare_exchange_strong(&slab->state, &expect, MEMX_SLAB_MAPPING) &&
		    memxd_mailbox_post(&c->mailbox, &mail)) {
			memx_slab_publish(slab, MEMX_SLAB_UNMAPPED);
			return -EIO;
		}
		io_park(q, tag, s);
		return 1;
	}
	return 0;
}

/* Gives whole slabs of a DISCARD (or a WRITE_ZEROES) back: they read as zeros from now on. */
static void io_release_slabs(struct memxd_queue *q, uint64_t offset, uint64_t len)
{
	struct memxd_client *c = q->c;
	uint64_t first, end;

	if (!memx_slabmap_whole_slabs(&c->map, offset, len, &first, &end))
		return;
	for (uint64_t s = first; s < end; s++) {
		struct memx_slab *slab = &c->map.slabs[s];
		struct memxd_mail mail = { .type = MEMXD_MAIL_FREE_SLAB, .free.slab = s };
		uint32_t expect = MEMX_SLAB_MAPPED;

		/* FREEING makes the slab ours: the control thread changes only MAPPED slabs. */
		if (!atomic_compare_exchange_strong(&slab->state, &expect, MEMX_SLAB_FREEING))
			continue;
		mail.free.nr_replicas = slab->nr_replicas;
		memcpy(mail.free.replica, slab->replica, sizeof(mail.free.replica));
		if (memxd_mailbox_post(&c->mailbox, &mail)) {
			/* No room to queue the free: keep the slab; discard is advisory. */
			memx_slab_publish(slab, MEMX_SLAB_MAPPED);
			continue;
		}
		atomic_fetch_sub(&c->slabs_mapped, 1);
		memx_slab_publish(slab, MEMX_SLAB_UNMAPPED);
	}
}

/* Says why a write failed, at most once a second per queue: a full cluster fails many. */
static void queue_warn_write_failed(struct memxd_queue *q, const struct memxd_io *io)
{
	static _Thread_local time_t last;
	time_t now = time(NULL);

	if (now == last)
		return;
	last = now;
	memx_err("volume %s: write of %u bytes at offset %llu failed with EIO: its slab is lost "
		 "or no donor could take it (see the control thread's log)", q->c->opt.name,
		 io->nr_bytes, (unsigned long long)io->offset);
}

/* Starts (or restarts, after a wait) the request of one tag. */
static void io_start(struct memxd_queue *q, uint32_t tag)
{
	struct memxd_client *c = q->c;
	struct memxd_io *io = &q->io[tag];
	struct memx_extent ext[MEMXD_MAX_EXTENTS];
	int n, r;

	switch (io->op) {
	case MEMX_OP_FLUSH:
		/* Writes complete only once in donor memory: there is no cache to flush. */
		atomic_fetch_add_explicit(&q->stats.flushes, 1, memory_order_relaxed);
		io_finish(q, tag);
		return;
	case MEMX_OP_DISCARD:
		atomic_fetch_add_explicit(&q->stats.discards, 1, memory_order_relaxed);
		io_release_slabs(q, io->offset, io->nr_bytes);
		io_finish(q, tag);
		return;
	case MEMX_OP_READ:
	case MEMX_OP_WRITE:
	case MEMX_OP_WRITE_ZEROES:
		break;
	default:
		io->result = -EOPNOTSUPP;
		io_finish(q, tag);
		return;
	}

	if (io->state != MEMXD_IO_WAIT_SLAB) {
		n = memx_slabmap_extents(&c->map, io->offset, io->nr_bytes, ext, MEMXD_MAX_EXTENTS);
		if (n < 0 || io->nr_bytes > q->kq.layout.buf_stride) {
			io->result = -EINVAL;
			io_finish(q, tag);
			return;
		}
		io->nr_ext = (uint8_t)n;
		for (int e = 0; e < n; e++)
			io->ext[e] = (struct memxd_io_ext){ .ext = ext[e] };
	}
	r = io_claim_slabs(q, tag);
	if (r > 0)
		return;
	if (r < 0) {
		io_uncount(q, io);
		if (io->op != MEMX_OP_READ)
			queue_warn_write_failed(q, io);
		io->result = r;
		io_finish(q, tag);
		return;
	}
	if (io->op == MEMX_OP_WRITE_ZEROES)
		atomic_fetch_add_explicit(&q->stats.write_zeroes, 1, memory_order_relaxed);

	io->state = MEMXD_IO_RDMA;
	io->pending = 0;
	for (unsigned int e = 0; e < io->nr_ext; e++) {
		struct memxd_io_ext *x = &io->ext[e];
		struct memx_slab *slab = &c->map.slabs[x->ext.slab];
		uint32_t state = memx_slab_state(slab);

		if (state != MEMX_SLAB_MAPPED && state != MEMX_SLAB_MIGRATING) {
			/* Never written: zeros, without the network (writes were mapped above). */
			if (io->op == MEMX_OP_READ) {
				memset(q->kq.buf + (size_t)tag * q->kq.layout.buf_stride +
				       x->ext.buf_offset, 0, x->ext.len);
				atomic_fetch_add_explicit(&q->stats.zero_reads, 1,
							  memory_order_relaxed);
			}
			continue;
		}
		if (io->op == MEMX_OP_READ) {
			if (io_read_ext(q, tag, e))
				io_fail(io, -EIO);
			continue;
		}
		/* Every usable replica gets the write; it stands if one of them took it. */
		for (uint32_t k = 0; k < __atomic_load_n(&slab->nr_replicas, __ATOMIC_ACQUIRE); k++)
			if (replica_usable(c, &slab->replica[k]) &&
			    io_add_wr(q, tag, e, k, &slab->replica[k]))
				io_fail(io, -EIO);
		if (!x->pending)
			io_fail(io, -EIO);
	}
	if (!io->pending) {
		io_uncount(q, io);
		io_finish(q, tag);
	}
}

/* Reads new tags from the kernel's submission ring. */
static void queue_take_requests(struct memxd_queue *q)
{
	struct memx_sq_ring *ring = q->kq.ring;
	uint32_t mask = q->kq.layout.ring_entries - 1;
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);

	while (q->head != tail) {
		uint32_t tag = ring->tags[q->head & mask];
		struct memxd_io *io;
		struct memx_io_desc d;

		q->head++;
		if (tag >= q->kq.layout.queue_depth || q->io[tag].state != MEMXD_IO_FREE) {
			memx_err("queue %u: kernel handed out tag %u twice or out of range", q->qid,
				 tag);
			continue;
		}
		memcpy(&d, &q->kq.desc[tag], sizeof(d));
		io = &q->io[tag];
		memset(io, 0, sizeof(*io));
		io->op = d.op;
		io->nr_bytes = d.nr_bytes;
		io->offset = d.offset;
		io_start(q, tag);
	}
	/* Tell the kernel how far we read: it uses this only to answer poll(). */
	__atomic_store_n(&ring->head, q->head, __ATOMIC_RELEASE);
}

/* Retries parked tags after the control thread mapped (or failed) slabs. */
static void queue_retry_waiting(struct memxd_queue *q)
{
	uint32_t n = q->nr_waiting;
	uint32_t tags[MEMX_MAX_DEPTH];

	memcpy(tags, q->waiting, n * sizeof(tags[0]));
	q->nr_waiting = 0;
	for (uint32_t i = 0; i < n; i++)
		io_start(q, tags[i]);
}

/*
 * A work request finished (ok) or failed. A failure means the QP to that
 * donor is in error: the donor is reported to the control thread, a read
 * moves on to another replica, and a write stands if another replica took it.
 */
static void queue_wr_done(struct memxd_queue *q, uint64_t wr_id, bool ok)
{
	struct memxd_client *c = q->c;
	uint32_t tag = (uint32_t)(wr_id & 0xffff);
	unsigned int e = (wr_id >> 16) & 0xf, d = (wr_id >> 24) & 0xff;
	struct memxd_io *io;
	struct memxd_io_ext *x;

	if (tag >= q->kq.layout.queue_depth || q->io[tag].state != MEMXD_IO_RDMA ||
	    e >= q->io[tag].nr_ext)
		return;
	io = &q->io[tag];
	x = &io->ext[e];
	q->outstanding--;
	io->pending--;
	x->pending--;
	if (ok) {
		x->ok++;
	} else {
		int expect = MEMXD_DONOR_LIVE;
		struct memxd_mail mail = { .type = MEMXD_MAIL_DONOR_FAILED, .donor_failed.donor = d };

		if (atomic_compare_exchange_strong(&c->donor[d].state, &expect, MEMXD_DONOR_FAILED) ||
		    (expect = MEMXD_DONOR_DRAINING,
		     atomic_compare_exchange_strong(&c->donor[d].state, &expect,
						    MEMXD_DONOR_FAILED)))
			memxd_mailbox_post(&c->mailbox, &mail);
		if (io->op == MEMX_OP_READ) {
			if (io_read_ext(q, tag, e) == 0)
				atomic_fetch_add_explicit(&q->stats.failovers, 1,
							  memory_order_relaxed);
			else
				io_fail(io, -EIO);
		}
	}
	if (!x->pending && io->op != MEMX_OP_READ && !x->ok)
		io_fail(io, -EIO);
	if (!io->pending) {
		io_uncount(q, io);
		io_finish(q, tag);
	}
}

/*
 * Posts each donor's chain with one ibv_post_send. A post that fails is
 * handled as failed completions, which may chain reads to other donors:
 * so go round until every chain is empty.
 */
static void queue_post_batches(struct memxd_queue *q)
{
	struct memxd_client *c = q->c;
	bool again = true;

	while (again) {
		again = false;
		unsigned int nr = __atomic_load_n(&c->nr_donors, __ATOMIC_ACQUIRE);

		for (unsigned int d = 0; d < nr; d++) {
			struct mxv_batch *b = q->batch[d];
			unsigned int left;
			int r;

			if (!mxv_batch_count(b))
				continue;
			r = mxv_batch_post(c->donor[d].data[q->qid], b, NULL);
			atomic_fetch_add_explicit(&q->stats.posts, 1, memory_order_relaxed);
			if (!r)
				continue;
			/* What was not posted is handled as a failed completion. */
			left = mxv_batch_count(b);
			for (unsigned int i = 0; i < left; i++)
				queue_wr_done(q, mxv_batch_wr_id(b, i), false);
			mxv_batch_reset(b);
			again = true;
		}
	}
}

static int queue_reap(struct memxd_queue *q)
{
	struct ibv_wc wc[QUEUE_WC_BATCH];
	int n, total = 0;

	do {
		n = mxv_cq_poll(q->cq, wc, QUEUE_WC_BATCH);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			/* Flush errors follow a disconnect: expected, not worth a line. */
			if (wc[i].status != IBV_WC_SUCCESS && wc[i].status != IBV_WC_WR_FLUSH_ERR)
				memx_warn("queue %u: tag %u: %s", q->qid,
					  (uint32_t)(wc[i].wr_id & 0xffff),
					  ibv_wc_status_str(wc[i].status));
			queue_wr_done(q, wc[i].wr_id, wc[i].status == IBV_WC_SUCCESS);
		}
		total += n;
	} while (n == QUEUE_WC_BATCH);
	return total;
}

static void queue_commit(struct memxd_queue *q)
{
	int r;

	if (!q->nr_results)
		return;
	r = memx_kqueue_commit(&q->kq, q->results, q->nr_results);
	if (r < 0 || (uint32_t)r != q->nr_results)
		memx_err("queue %u: commit of %u results took %d", q->qid, q->nr_results, r);
	atomic_fetch_add_explicit(&q->stats.commits, 1, memory_order_relaxed);
	q->nr_results = 0;
}

static int queue_arm_poll(struct memxd_queue *q, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud);
	return 0;
}

/*
 * Takes the io_uring completions (poll notifications) without a system call.
 * They only say which fd became ready: the work itself is found by looking at
 * the submission ring, the CQ and the wake flag directly.
 */
static void queue_take_notifications(struct memxd_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	bool cq_event = false, wake_event = false;
	uint64_t wake;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);

		seen++;
		cq_event |= ud == UD_CQ;
		wake_event |= ud == UD_WAKE;
		/* A multishot poll that stopped must be armed again. */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			queue_arm_poll(q, ud == UD_KQUEUE ? q->kq.fd :
				       ud == UD_CQ ? mxv_cq_fd(q->cq) : q->wake_fd, ud);
	}
	if (!seen)
		return;
	io_uring_cq_advance(&q->ring, seen);
	/* An event disarms the CQ: take it, so the next sleep arms it again. */
	if (cq_event && q->cq_armed) {
		mxv_cq_drain_events(q->cq);
		q->cq_armed = false;
	}
	if (wake_event && read(q->wake_fd, &wake, sizeof(wake)) < 0 && errno != EAGAIN)
		memx_warn("queue %u: eventfd read failed", q->qid);
}

/* One pass over every source of work; true if there was any. */
static bool queue_pass(struct memxd_queue *q)
{
	uint32_t head = q->head;
	bool busy;

	busy = queue_reap(q) > 0;
	queue_take_requests(q);
	busy |= q->head != head;
	if (atomic_exchange_explicit(&q->wake_pending, false, memory_order_acquire) &&
	    q->nr_waiting) {
		queue_retry_waiting(q);
		busy = true;
	}
	queue_post_batches(q);
	busy |= q->nr_results > 0;
	queue_commit(q);
	return busy;
}

/*
 * MEMX_RING_F_AWAKE tells the kernel not to wake us for new requests: we
 * read the ring again before we sleep. The fence orders clearing it before
 * that last read of the ring (the kernel orders its tail before reading it).
 */
static void queue_set_awake(struct memxd_queue *q, bool awake)
{
	__atomic_store_n(&q->kq.ring->flags, awake ? MEMX_RING_F_AWAKE : 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static uint64_t queue_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void queue_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * The queue thread. It works while there is work, then keeps looking for up
 * to poll_ns (--poll-us) before it sleeps: a request or a completion that
 * comes within that window is found with no wake-up and no system call,
 * which is most of the latency of a request at low queue depth. Sleeping
 * arms the CQ (only when work requests are in flight), looks once more, and
 * waits in io_uring for any of the three fds.
 */
static void *queue_thread(void *arg)
{
	struct memxd_queue *q = arg;
	struct memxd_client *c = q->c;
	uint64_t poll_ns = (uint64_t)c->opt.poll_us * 1000, spin_since = 0;
	unsigned int spins = 0;

	queue_set_awake(q, true);
	while (!atomic_load_explicit(&c->stopping, memory_order_relaxed)) {
		queue_take_notifications(q);
		if (queue_pass(q)) {
			spin_since = 0;
			continue;
		}
		if (poll_ns) {
			/* The clock may be a system call (HPET): read it now and then. */
			if (!spin_since)
				spin_since = queue_now_ns();
			if (++spins % 64 || queue_now_ns() - spin_since < poll_ns) {
				queue_cpu_relax();
				continue;
			}
		}
		/*
		 * Going to sleep. From here the kernel must wake us for a new
		 * request, and the CQ must raise an event for a completion: say
		 * so, then look once more, since either may have come just before.
		 */
		queue_set_awake(q, false);
		if (q->outstanding && !q->cq_armed) {
			if (mxv_cq_arm(q->cq) == 0)
				q->cq_armed = true;
			atomic_fetch_add_explicit(&q->stats.arms, 1, memory_order_relaxed);
		}
		if (queue_pass(q) ||
		    atomic_load_explicit(&q->wake_pending, memory_order_acquire)) {
			queue_set_awake(q, true);
			spin_since = 0;
			continue;
		}
		int r = io_uring_submit_and_wait(&q->ring, 1);

		if (r < 0 && r != -EINTR) {
			memx_log_errno(r, "queue %u: io_uring wait", q->qid);
			break;
		}
		queue_set_awake(q, true);
		atomic_fetch_add_explicit(&q->stats.wakeups, 1, memory_order_relaxed);
		spin_since = 0;
	}
	queue_set_awake(q, false);
	return NULL;
}

void memxd_wake_queues(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_queues; i++)
		memxd_queue_wake(&c->queue[i]);
}

/* Called by the control thread: the flag is the message, the eventfd the doorbell. */
void memxd_queue_wake(struct memxd_queue *q)
{
	uint64_t one = 1;

	atomic_store_explicit(&q->wake_pending, true, memory_order_release);
	if (write(q->wake_fd, &one, sizeof(one)) < 0)
		memx_warn("queue %u: eventfd write failed", q->qid);
}

/* Deferred task work (COOP_TASKRUN) keeps poll notifications from interrupting a polling thread. */
static int queue_ring_init(struct io_uring *ring)
{
	int r = io_uring_queue_init(8, ring, IORING_SETUP_COOP_TASKRUN);

	if (r == -EINVAL)	/* kernels before 5.19 */
		r = io_uring_queue_init(8, ring, 0);
	return r;
}

int memxd_queue_setup(struct memxd_client *c, struct memxd_queue *q, unsigned int qid)
{
	unsigned int depth = c->opt.depth;
	int r;

	q->c = c;
	q->qid = qid;
	q->wake_fd = -1;
	q->kq.fd = -1;
	r = memx_kqueue_open(&q->kq, c->dev_id, qid);
	if (r)
		return memx_log_errno(r, "queue %u: bind and map the kernel queue", qid);
	if (q->kq.layout.queue_depth != depth || q->kq.layout.buf_stride < c->opt.max_io ||
	    q->kq.layout.ring_entries < depth ||
	    (q->kq.layout.ring_entries & (q->kq.layout.ring_entries - 1)))
		return memx_log_errno(-EPROTO, "queue %u: kernel layout does not match", qid);
	r = mxv_mr_reg(c->ctx, q->kq.buf, (size_t)q->kq.layout.buf_stride * depth,
		       MXV_ACCESS_LOCAL_WRITE, &q->buf_mr);
	if (r)
		return memx_log_errno(r, "queue %u: register the kernel buffers", qid);
	q->zero_buf = calloc(1, c->opt.max_io);
	if (!q->zero_buf)
		return -ENOMEM;
	r = mxv_mr_reg(c->ctx, q->zero_buf, c->opt.max_io, 0, &q->zero_mr);
	if (r)
		return memx_log_errno(r, "queue %u: register the zero buffer", qid);
	/* Room for every tag's work requests to every donor. */
	r = mxv_cq_create(c->ctx, (int)(depth * MEMXD_MAX_EXTENTS * MEMX_MAX_REPLICAS + 64),
			  &q->cq);
	if (r)
		return memx_log_errno(r, "queue %u: create the CQ", qid);
	for (unsigned int d = 0; d < MEMXD_MAX_DONORS; d++) {
		r = mxv_batch_create(depth * MEMXD_MAX_EXTENTS, &q->batch[d]);
		if (r)
			return r;
	}
	q->io = calloc(depth, sizeof(*q->io));
	q->waiting = calloc(depth, sizeof(*q->waiting));
	q->results = calloc(depth, sizeof(*q->results));
	if (!q->io || !q->waiting || !q->results)
		return -ENOMEM;
	q->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->wake_fd < 0)
		return -errno;
	r = queue_ring_init(&q->ring);
	if (r)
		return memx_log_errno(r, "queue %u: io_uring setup", qid);
	if (queue_arm_poll(q, q->kq.fd, UD_KQUEUE) || queue_arm_poll(q, mxv_cq_fd(q->cq), UD_CQ) ||
	    queue_arm_poll(q, q->wake_fd, UD_WAKE))
		return -EBUSY;
	return 0;
}

int memxd_queue_start(struct memxd_queue *q)
{
	int r = pthread_create(&q->thread, NULL, queue_thread, q);

	if (r)
		return -r;
	q->started = true;
	return 0;
}

void memxd_queue_stop(struct memxd_queue *q)
{
	if (!q->started)
		return;
	memxd_queue_wake(q);
	pthread_join(q->thread, NULL);
	q->started = false;
}

void memxd_queue_teardown(struct memxd_queue *q)
{
	if (q->ring.ring_fd > 0)
		io_uring_queue_exit(&q->ring);
	if (q->wake_fd >= 0)
		close(q->wake_fd);
	q->wake_fd = -1;
	for (unsigned int d = 0; d < MEMXD_MAX_DONORS; d++)
		mxv_batch_destroy(q->batch[d]);
	mxv_mr_dereg(q->buf_mr);
	mxv_mr_dereg(q->zero_mr);
	free(q->zero_buf);
	free(q->io);
	free(q->waiting);
	free(q->results);
	memx_kqueue_close(&q->kq);
	/* The CQ goes last: connections on it are destroyed by the caller first. */
}
