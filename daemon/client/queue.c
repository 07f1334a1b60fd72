// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: one thread per hardware queue.
 *
 * The thread owns its kernel queue (kbackend.h: memx.ko's submission ring,
 * or ublk's fetch commands; descriptors and per-tag buffers either way), its
 * RDMA CQ, one QP per donor and a preallocated slot per tag. Each pass
 * (queue_pass) it:
 *   1. reaps RDMA completions (wrid.h says what each wr_id carries) and
 *      hands each to its request (io.c), which finishes when its last work
 *      request completed;
 *   2. takes every new request from the kernel backend and starts it
 *      (io.c): a READ of a never-written slab is zero-filled, with no network;
 *      a WRITE to a slab not yet mapped parks the tag and asks the control
 *      thread for a grant; everything else becomes RDMA work requests,
 *      chained per donor;
 *   3. restarts parked tags when woken by the control thread;
 *   4. posts each donor's chain with one ibv_post_send;
 *   5. commits every finished tag with one system call (MEMX_IO_COMMIT, or
 *      one io_uring_submit of ublk's COMMIT_AND_FETCH commands).
 * It passes again while passes find work, and for --poll-us after the last
 * one that did: requests and completions that come in that window cost no
 * wake-up and no system call. Then it sleeps in one io_uring_submit_and_wait
 * on multishot polls: the kernel queue fd (memx.ko: new requests), the CQ's
 * completion channel, and an eventfd the control thread writes when a slab
 * was mapped (or when it is time to stop); with ublk, new requests are
 * completions of the same ring. While it is awake, memx.ko's
 * MEMX_RING_F_AWAKE flag spares the kernel the wake-up. A polled queue
 * (--poll-queues) is served the same way; only its submitters differ.
 * Nothing here allocates memory: all of it was allocated in setup.
 *
 * Errors are the request's business (io.c): a failed read moves on to
 * another replica, a write stands if any replica took it, a lost slab fails
 * at once with EIO.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client/client.h"
#include "common/log.h"

#define QUEUE_WC_BATCH		32
#define UD_KQUEUE		1
#define UD_CQ			2
#define UD_WAKE			3
/* Takes a new request of the kernel backend, at a tag it handed out. */
void memxd_queue_new_request(struct memxd_queue *q, uint32_t tag, uint8_t op, uint32_t nr_bytes,
			     uint64_t offset)
{
	struct memxd_io *io;

	if (tag >= q->kq.depth || q->io[tag].state != MEMXD_IO_FREE) {
		memxd_err("queue %u: kernel handed out tag %u twice or out of range", q->qid, tag);
		return;
	}
	io = &q->io[tag];
	memset(io, 0, sizeof(*io));
	io->op = op;
	io->nr_bytes = nr_bytes;
	io->offset = offset;
	memxd_io_start(q, tag);
}

/* Retries parked tags after the control thread mapped (or failed) slabs. */
static void queue_retry_waiting(struct memxd_queue *q)
{
	uint32_t n = q->nr_waiting;
	uint32_t tags[MEMX_MAX_DEPTH];

	memcpy(tags, q->waiting, n * sizeof(tags[0]));
	q->nr_waiting = 0;
	for (uint32_t i = 0; i < n; i++)
		memxd_io_start(q, tags[i]);
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
		unsigned int nr = atomic_load_explicit(&c->nr_donors, memory_order_acquire);

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
				memxd_io_wr_done(q, mxv_batch_wr_id(b, i), false);
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
				memxd_warn("queue %u: tag %u: %s", q->qid,
					  (uint32_t)(wc[i].wr_id & 0xffff),
					  ibv_wc_status_str(wc[i].status));
			memxd_io_wr_done(q, wc[i].wr_id, wc[i].status == IBV_WC_SUCCESS);
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
	r = q->c->kb->commit(q);
	if (r == -ENODEV) {
		/*
		 * Deposed (we were stopped or hung past --io-deadline): leave at
		 * once from here, not when the control thread gets to it, which
		 * may be busy for seconds with connections the donors fenced.
		 */
		if (!q->volume_dead && q->c->kb->leave_if_deposed)
			q->c->kb->leave_if_deposed(q->c);
		/* Its requests were failed already; the control thread sees it and exits. */
		if (!q->volume_dead)
			memxd_err("queue %u: the kernel refused our results: the volume is dead",
				  q->qid);
		q->volume_dead = true;
	} else if (r < 0 || (uint32_t)r != q->nr_results) {
		memxd_err("queue %u: commit of %u results took %d", q->qid, q->nr_results, r);
	}
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
static unsigned int queue_take_notifications(struct memxd_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0, taken = 0;
	bool cq_event = false, wake_event = false;
	uint64_t wake;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);

		seen++;
		if (ud & MEMXD_UD_KBACKEND) {
			taken += q->c->kb->take_cqe(q, cqe);
			continue;
		}
		cq_event |= ud == UD_CQ;
		wake_event |= ud == UD_WAKE;
		/* A multishot poll that stopped must be armed again. */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			queue_arm_poll(q, ud == UD_KQUEUE ? q->kq.poll_fd :
				       ud == UD_CQ ? mxv_cq_fd(q->cq) : q->wake_fd, ud);
	}
	if (!seen)
		return 0;
	io_uring_cq_advance(&q->ring, seen);
	/* An event disarms the CQ: take it, so the next sleep arms it again. */
	if (cq_event && q->cq_armed) {
		mxv_cq_drain_events(q->cq);
		q->cq_armed = false;
	}
	if (wake_event && read(q->wake_fd, &wake, sizeof(wake)) < 0 && errno != EAGAIN)
		memxd_warn("queue %u: eventfd read failed", q->qid);
	return taken;
}

/* One pass over every source of work; true if there was any. */
static bool queue_pass(struct memxd_queue *q)
{
	bool busy;

	busy = queue_reap(q) > 0;
	if (q->c->kb->take_requests)
		busy |= q->c->kb->take_requests(q) > 0;
	if (atomic_exchange_explicit(&q->wake_pending, false, memory_order_acquire) &&
	    q->nr_waiting) {
		queue_retry_waiting(q);
		busy = true;
	}
	queue_post_batches(q);
	busy |= q->nr_results > 0;
	queue_commit(q);
	atomic_fetch_add_explicit(&q->passes, 1, memory_order_release);
	return busy;
}

/* Whether the kernel must wake us for a new request (memx.ko's ring flag). */
static void queue_set_awake(struct memxd_queue *q, bool awake)
{
	if (q->c->kb->set_awake)
		q->c->kb->set_awake(q, awake);
}

static inline void queue_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#define QUEUE_PARKED_CHECK_MS	250	/* how often a sleeping queue looks at its parked tags */

/*
 * A queue thread that cannot go on would leave the tags it owns owned
 * forever, and the programs that wait on them hung. It takes the engine down
 * instead: memx.ko then fails what the engine held (the engine's death).
 */
static _Noreturn void queue_fatal(struct memxd_queue *q, int err, const char *what)
{
	memxd_err("queue %u: %s: %s; the engine cannot serve this queue and stops",
		  q->qid, what, strerror(-err));
	memxd_log_stop();	/* the line above reaches the log */
	abort();
}

/*
 * Sleeps in io_uring until a request, a completion or a wake-up. With tags
 * parked, wakes at least every QUEUE_PARKED_CHECK_MS to retry them, so that
 * a wait past its deadline ends even if the control thread never wakes us.
 */
static int queue_sleep(struct memxd_queue *q)
{
	struct __kernel_timespec ts = { .tv_nsec = QUEUE_PARKED_CHECK_MS * MEMXD_NS_PER_MS };
	struct io_uring_cqe *cqe;
	int r;

	if (!q->nr_waiting)
		return io_uring_submit_and_wait(&q->ring, 1);
	r = io_uring_submit_and_wait_timeout(&q->ring, &cqe, 1, &ts, NULL);
	if (r == -ETIME)
		atomic_store_explicit(&q->wake_pending, true, memory_order_release);
	return r;
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
	char name[16];
	int r;

	/* Named, so that per-thread CPU (/proc, top -H, perf) tells the queues apart. */
	snprintf(name, sizeof(name), "memxd-q%u", q->qid);
	pthread_setname_np(pthread_self(), name);
	r = c->kb->queue_prime ? c->kb->queue_prime(q) : 0;
	if (r)
		queue_fatal(q, r, "hand the kernel our tags");
	queue_set_awake(q, true);
	while (!atomic_load_explicit(&c->stopping, memory_order_relaxed)) {
		bool took = queue_take_notifications(q) > 0;

		if (queue_pass(q) || took) {
			spin_since = 0;
			continue;
		}
		if (poll_ns) {
			/* The clock may be a system call (HPET): read it now and then. */
			if (!spin_since)
				spin_since = memxd_now_ns();
			if (++spins % 64 || memxd_now_ns() - spin_since < poll_ns) {
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
		memxd_dbg(MEMXD_DBG_QUEUE, "queue %u: sleeps, %u work requests in flight, %u parked",
			 q->qid, q->outstanding, q->nr_waiting);
		atomic_store(&q->asleep, true);
		r = queue_sleep(q);

		atomic_store(&q->asleep, false);
		if (r < 0 && r != -EINTR && r != -ETIME)
			queue_fatal(q, r, "io_uring wait");
		queue_set_awake(q, true);
		memxd_dbg(MEMXD_DBG_QUEUE, "queue %u: woken", q->qid);
		atomic_fetch_add_explicit(&q->stats.wakeups, 1, memory_order_relaxed);
		spin_since = 0;
	}
	queue_set_awake(q, false);
	return NULL;
}

bool memxd_queues_quiesce(struct memxd_client *c, unsigned int timeout_ms)
{
	uint64_t seen[MEMX_MAX_QUEUES];
	uint64_t deadline = memxd_now_ns() + timeout_ms * MEMXD_NS_PER_MS;

	for (unsigned int i = 0; i < c->nr_queues; i++)
		seen[i] = atomic_load(&c->queue[i].passes);
	for (;;) {
		unsigned int done = 0;

		for (unsigned int i = 0; i < c->nr_queues; i++) {
			struct memxd_queue *q = &c->queue[i];

			done += !q->started || atomic_load(&q->asleep) ||
				atomic_load(&q->passes) != seen[i];
		}
		if (done == c->nr_queues)
			return true;
		if (memxd_now_ns() >= deadline)
			return false;
		usleep(100);
	}
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
		memxd_warn("queue %u: eventfd write failed", q->qid);
}

/*
 * Room for the three polls and, with ublk, one command per tag: every tag
 * holds one fetch or commit in the kernel at a time, so the CQ cannot overflow.
 */
static int queue_ring_init(struct memxd_queue *q)
{
	unsigned int entries = 8, flags = q->c->kb->ring_flags;
	int r;

	while (entries < q->kq.depth + 8)
		entries <<= 1;
	r = io_uring_queue_init(entries, &q->ring, flags);
	if (r == -EINVAL && (flags & IORING_SETUP_COOP_TASKRUN))	/* kernels before 5.19 */
		r = io_uring_queue_init(entries, &q->ring, flags & ~IORING_SETUP_COOP_TASKRUN);
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
	q->kq.poll_fd = -1;
	r = c->kb->queue_open(c, q);
	if (r)
		return r;
	if (q->kq.depth != depth || q->kq.buf_stride < c->opt.max_io)
		return memxd_log_errno(-EPROTO, "queue %u: kernel layout does not match", qid);
	r = mxv_mr_reg(c->ctx, q->kq.buf, (size_t)q->kq.buf_stride * depth,
		       MXV_ACCESS_LOCAL_WRITE, &q->buf_mr);
	if (r)
		return memxd_log_errno(r, "queue %u: register the kernel buffers", qid);
	q->zero_buf = calloc(1, c->opt.max_io);
	if (!q->zero_buf)
		return -ENOMEM;
	r = mxv_mr_reg(c->ctx, q->zero_buf, c->opt.max_io, 0, &q->zero_mr);
	if (r)
		return memxd_log_errno(r, "queue %u: register the zero buffer", qid);
	/* Room for every tag's work requests to every donor. */
	r = mxv_cq_create(c->ctx, (int)(depth * MEMXD_MAX_WRS_PER_TAG * MEMXD_MAX_REPLICAS + 64),
			  &q->cq);
	if (r)
		return memxd_log_errno(r, "queue %u: create the CQ", qid);
	for (unsigned int d = 0; d < MEMXD_MAX_DONORS; d++) {
		r = mxv_batch_create(depth * MEMXD_MAX_WRS_PER_TAG, &q->batch[d]);
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
	r = queue_ring_init(q);
	if (r)
		return memxd_log_errno(r, "queue %u: io_uring setup", qid);
	if ((q->kq.poll_fd >= 0 && queue_arm_poll(q, q->kq.poll_fd, UD_KQUEUE)) ||
	    queue_arm_poll(q, mxv_cq_fd(q->cq), UD_CQ) ||
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
	if (q->c)
		q->c->kb->queue_close(q->c, q);
	/* The CQ goes last: connections on it are destroyed by the caller first. */
}

