// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: the memx.ko kernel backend (kbackend.h).
 *
 * memx.ko makes /dev/memxN and gives each queue one mapping: a submission
 * ring of tags, a descriptor per tag and a buffer per tag, which memx.ko
 * allocated and the engine registers as RDMA memory. New requests are read
 * from the ring (the queue fd polls readable when the engine sleeps);
 * results go back in batches, one MEMX_IO_COMMIT ioctl each. A volume with
 * a --recovery-timeout outlives its engine in memx.ko, and the next engine
 * of the same name takes it over (ADD_DEV with MEMX_ADD_ATTACH).
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "client/client.h"
#include "common/log.h"

static void memx_set_path(struct memxd_client *c)
{
	snprintf(c->dev_path, sizeof(c->dev_path), "/dev/memx%d", c->dev_id);
}

static int memx_create(struct memxd_client *c, bool *resume)
{
	struct memx_dev_params p = { 0 };
	int r;

	c->kfd = memxd_kdev_open();
	if (c->kfd < 0)
		return memxd_log_errno(c->kfd, "open %s (is memx.ko loaded?)", MEMXD_CONTROL_PATH);
	p.size_bytes = c->opt.size;
	p.flags = MEMX_F_DISCARD | MEMX_F_WRITE_ZEROES;
	p.nr_queues = c->opt.queues + c->opt.poll_queues;
	if (c->opt.poll_queues) {
		uint64_t features;

		r = memxd_kdev_features(c->kfd, &features);
		if (r)
			return memxd_log_errno(r, "ask memx.ko what it supports");
		if (!(features & MEMX_F_POLL_QUEUES))
			return memxd_log_errno(-EOPNOTSUPP, "this memx.ko has no polled queues "
					      "(--poll-queues)");
		p.flags |= MEMX_F_POLL_QUEUES;
		p.nr_poll_queues = c->opt.poll_queues;
	}
	p.queue_depth = c->opt.depth;
	p.max_io_bytes = c->opt.max_io;
	p.io_timeout_ms = c->opt.io_deadline_s * 1000;
	p.recovery_timeout_ms = c->opt.recovery_timeout_s * 1000;
	memcpy(p.name, c->opt.name, sizeof(c->opt.name) < sizeof(p.name) ?
	       sizeof(c->opt.name) : sizeof(p.name) - 1);
	p.dev_id = -1;
	if (*resume) {
		p.attach = MEMX_ADD_ATTACH;
		r = memxd_kdev_add(c->kfd, &p);
		if (!r) {
			memxd_info("volume %s: taking over /dev/memx%d from the engine before us",
				   c->opt.name, p.dev_id);
			c->resumed = true;
			c->dev_id = p.dev_id;
			c->nr_queues = p.nr_queues;
			memx_set_path(c);
			return memxd_state_own(c);
		}
		if (r != -ENOENT)
			return memxd_log_errno(r, "volume %s: take over the volume a dead engine left "
					       "in memx.ko", c->opt.name);
		if (!c->opt.attach)
			memxd_info("volume %s: memx.ko holds no volume of that name: the state a "
				   "past engine left is stale; starting a new volume", c->opt.name);
		*resume = false;
		p.attach = MEMX_ADD_NEW;
		p.dev_id = -1;
	}
	r = memxd_kdev_add(c->kfd, &p);
	if (r == -EEXIST)
		return memxd_log_errno(r, "create the volume in memx.ko: a volume named %s is "
				       "there already (one that waits for its engine, whose state "
				       "in %s is gone?)", c->opt.name, MEMXD_RUN_DIR);
	if (r)
		return memxd_log_errno(r, "create the volume in memx.ko");
	c->dev_id = p.dev_id;
	c->nr_queues = p.nr_queues;
	memx_set_path(c);
	return 0;
}

static int memx_start(struct memxd_client *c)
{
	int r = memxd_kdev_start(c->kfd, c->dev_id);

	if (r)
		return memxd_log_errno(r, "start %s", c->dev_path);
	return 0;
}

static int memx_remove(struct memxd_client *c, bool quiet)
{
	struct memx_dev_info info;
	int r;

	r = memxd_kdev_del(c->kfd, c->dev_id);
	if (quiet)
		return r;
	if (r == -EBUSY) {
		memxd_kdev_info(c->kfd, c->dev_id, &info);
		memxd_err("volume %s: %s is in use (%u openers: mounted or swap?); not "
			 "removing it, still serving. Unmount or swapoff it first.", c->opt.name,
			 c->dev_path, info.open_count);
		return r;
	}
	if (r)
		memxd_log_errno(r, "volume %s: remove %s", c->opt.name, c->dev_path);
	return r;
}

/*
 * Whether memx.ko took the volume from us while we live: we held requests on
 * a queue and finished none there within --io-deadline (we were stopped, or
 * hung somewhere), so it deposed us and holds the volume for the next engine
 * (RECOVERING), which may already serve it (our fds are stale: ENODEV). We
 * must not touch anything of the volume's again, not even to give its slabs
 * back: we leave at once, as a crash would, and the next engine takes over
 * (systemd restarts us; the donors fence what we left there).
 */
static void memx_leave_if_deposed(struct memxd_client *c, const struct memx_dev_info *info)
{
	struct memx_queue_layout l;

	if (info->state != MEMX_S_RECOVERING &&
	    (info->state != MEMX_S_LIVE || !c->nr_queues ||
	     ioctl(c->queue[0].kq.fd, MEMX_IO_GET_LAYOUT, &l) == 0 || errno != ENODEV))
		return;
	memxd_err("volume %s: memx.ko deposed this engine (it finished no request within "
		  "--io-deadline %u s) and keeps %s for the next one: leaving without touching "
		  "the volume", c->opt.name, c->opt.io_deadline_s, c->dev_path);
	memxd_log_stop();
	_exit(1);
}

/*
 * Whether memx.ko declared the volume dead: we made no progress within
 * --io-deadline while holding requests (stopped, or hung somewhere), and it
 * failed them (a volume with a recovery window is deposed instead: above).
 */
static bool memx_dead(struct memxd_client *c)
{
	struct memx_dev_info info;
	int r = memxd_kdev_info(c->kfd, c->dev_id, &info);

	if (!r)
		memx_leave_if_deposed(c, &info);

	/* A dead volume nobody holds open is removed at once: its id is gone. */
	if (r != -ENODEV && (r || info.state != MEMX_S_DEAD))
		return false;
	memxd_err("volume %s: memx.ko declared %s dead (no progress within "
		  "--io-deadline %u s, or a queue closed) and failed its requests: exiting",
		  c->opt.name, c->dev_path, c->opt.io_deadline_s);
	return true;
}

/* A queue thread's commit was refused: if we were deposed, we leave now. */
static void memx_queue_leave_if_deposed(struct memxd_client *c)
{
	struct memx_dev_info info;

	if (!memxd_kdev_info(c->kfd, c->dev_id, &info))
		memx_leave_if_deposed(c, &info);
}

static void memx_destroy(struct memxd_client *c)
{
	if (c->kfd >= 0)
		close(c->kfd);	/* closing the owner fd removes whatever is left */
	c->kfd = -1;
}

static int memx_queue_open(struct memxd_client *c, struct memxd_queue *q)
{
	struct memxd_kqueue *kq = &q->kq;
	int r = memxd_kqueue_open(kq, c->dev_id, q->qid);

	if (r)
		return memxd_log_errno(r, "queue %u: bind and map the kernel queue", q->qid);
	if (kq->layout.ring_entries < kq->layout.queue_depth ||
	    (kq->layout.ring_entries & (kq->layout.ring_entries - 1)))
		return memxd_log_errno(-EPROTO, "queue %u: memx.ko's ring does not fit", q->qid);
	kq->depth = kq->layout.queue_depth;
	kq->buf_stride = kq->layout.buf_stride;
	kq->poll_fd = kq->fd;
	return 0;
}

static void memx_queue_close(struct memxd_client *c, struct memxd_queue *q)
{
	(void)c;
	memxd_kqueue_close(&q->kq);
}

/*
 * Reads new tags from the kernel's submission ring. The ring is kernel ABI
 * (plain __u32 fields in <memx/uapi.h>, shared with memx.ko), so its fields
 * are read and written with GCC's __atomic builtins: the one place outside
 * C11's _Atomic in the engine.
 */
static unsigned int memx_take_requests(struct memxd_queue *q)
{
	struct memxd_kqueue *kq = &q->kq;
	struct memx_sq_ring *ring = kq->ring;
	uint32_t mask = kq->layout.ring_entries - 1;
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	unsigned int n = 0;

	while (kq->head != tail) {
		uint32_t tag = ring->tags[kq->head & mask];
		struct memx_io_desc d;

		kq->head++;
		n++;
		if (tag >= kq->depth) {
			memxd_err("queue %u: kernel handed out tag %u, out of range", q->qid, tag);
			continue;
		}
		memcpy(&d, &kq->desc[tag], sizeof(d));
		memxd_queue_new_request(q, tag, d.op, d.nr_bytes, d.offset);
	}
	/* Tell the kernel how far we read: it uses this only to answer poll(). */
	__atomic_store_n(&ring->head, kq->head, __ATOMIC_RELEASE);
	return n;
}

static int memx_commit(struct memxd_queue *q)
{
	return memxd_kqueue_commit(&q->kq, q->results, q->nr_results);
}

/*
 * MEMX_RING_F_AWAKE tells the kernel not to wake us for new requests: we
 * read the ring again before we sleep. The fence orders clearing it before
 * that last read of the ring (the kernel orders its tail before reading it).
 */
static void memx_set_awake(struct memxd_queue *q, bool awake)
{
	__atomic_store_n(&q->kq.ring->flags, awake ? MEMX_RING_F_AWAKE : 0, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
}

const struct memxd_kbackend memxd_kbackend_memx = {
	.name = "memx",
	/* Deferred task work keeps poll notifications from interrupting a polling thread. */
	.ring_flags = IORING_SETUP_COOP_TASKRUN,
	.create = memx_create,
	.start = memx_start,
	.remove = memx_remove,
	.dead = memx_dead,
	.leave_if_deposed = memx_queue_leave_if_deposed,
	.destroy = memx_destroy,
	.queue_open = memx_queue_open,
	.queue_close = memx_queue_close,
	.take_requests = memx_take_requests,
	.commit = memx_commit,
	.set_awake = memx_set_awake,
};
