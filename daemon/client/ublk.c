// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: the kernel's own ublk as the kernel backend
 * (kbackend.h), for kernels that have ublk_drv and no memx.ko.
 *
 * The control thread makes the device over /dev/ublk-control (ublk_ctrl.c):
 * ADD_DEV (queues, depth, largest request), SET_PARAMS (4 KiB blocks, the
 * volume's size, discard and write-zeroes up to the largest request, as
 * io.c serves them), then opens /dev/ublkcN, whose mapping holds each
 * queue's per-tag descriptors (struct ublksrv_io_desc, read-only).
 *
 * Each queue thread hands every tag to the kernel with a FETCH_REQ, a
 * URING_CMD on its own io_uring (ublk wants a queue's commands from one
 * task), carrying the address of that tag's buffer in the engine's memory.
 * A request arrives as that command's completion; for a WRITE, ublk has
 * copied the bio's data into the buffer already. RDMA moves data between the
 * buffer and the donors, since the buffers are registered RDMA memory like
 * memx.ko's (no copy in userspace; ublk's one copy in the kernel). The result
 * goes back with COMMIT_AND_FETCH_REQ, which also hands the tag out again:
 * every finished tag of a pass in one io_uring_submit. A READ's data is
 * copied to the bio at that commit; a result that is not the full length
 * would make ublk retry the rest, so success commits the byte count and
 * failure a negative errno (-EIO), which fails the request: never wrong data.
 *
 * START_DEV returns once every queue fetched all its tags; /dev/ublkbN then
 * exists. SIGTERM: STOP_DEV (refused while the disk is held exclusively:
 * mounted or swap), which aborts the fetches still held; at exit, once the
 * queues closed their rings and mappings, DEL_DEV removes /dev/ublkcN.
 *
 * Engine restart (--recovery-timeout): the device is made with
 * UBLK_F_USER_RECOVERY and _REISSUE, so when the engine dies ublk holds its
 * requests, those the engine had taken included, and hands them again to the
 * next engine. The state file (state.c) keeps the device id; the next engine
 * of the volume finds the device there, START_USER_RECOVERY, fetches every
 * tag again and END_USER_RECOVERY, instead of ADD_DEV and START_DEV. The
 * window itself is kept by a forked keeper (ublk_window.c), since ublk has
 * no deadline of its own. Without --recovery-timeout, the dead engine's
 * device fails its I/O with EIO and the keeper deletes it.
 *
 * --io-deadline: ublk has none either, so a stopped or deadlocked engine
 * would hold its requests forever. Each queue thread counts, in a page
 * shared with the keeper, the requests it took and the results it
 * committed; the keeper SIGKILLs an engine that holds requests and finished
 * none for the deadline, and the recovery above follows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/client.h"
#include "client/ublk_ctrl.h"
#include "client/ublk_window.h"
#include "common/log.h"

struct memxd_ublk {
	struct memxd_ublk_ctrl ctrl;
	struct ublksrv_ctrl_dev_info info;
	int cdev_fd;			/* /dev/ublkcN: one opener at a time; all queues use it */
	struct memxd_ublk_keeper keeper;	/* deposes a stuck engine, ends the recovery window */
	bool added;
	bool stopped;
	bool recovering;		/* we took over a dead engine's device */
};

#define UBLK_RECOVERY_WAIT_MS	5000	/* for the dead engine's files to be closed */

#define UBLK_CDEV_WAIT_MS	2000	/* for devtmpfs to show /dev/ublkcN after ADD_DEV */
/*
 * As memx.ko's: io.c gives back only the slabs one DISCARD covers whole, so
 * a discard must be able to span slabs; its length still fits a u32.
 */
#define UBLK_MAX_DISCARD_BYTES	(1U << 30)

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

static int ublk_open_cdev(struct memxd_client *c, struct memxd_ublk *u)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/ublkc%d", c->dev_id);
	for (unsigned int ms = 0;; ms += 10) {
		u->cdev_fd = open(path, O_RDWR | O_CLOEXEC);
		if (u->cdev_fd >= 0)
			return 0;
		if (errno != ENOENT || ms >= UBLK_CDEV_WAIT_MS)
			return memxd_log_errno(-errno, "open %s", path);
		usleep(10000);
	}
}

/* What the block layer learns of the volume: io.c serves what this promises. */
static void ublk_fill_params(struct memxd_client *c, struct ublk_params *p)
{
	uint32_t max_sectors = c->opt.max_io >> 9;

	memset(p, 0, sizeof(*p));
	p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD;
	p->basic.logical_bs_shift = 12;
	p->basic.physical_bs_shift = 12;
	p->basic.io_min_shift = 12;
	p->basic.io_opt_shift = 12;
	p->basic.max_sectors = max_sectors;
	p->basic.dev_sectors = c->opt.size >> 9;
	p->discard.discard_granularity = MEMX_BLOCK_SIZE;
	p->discard.max_discard_sectors = UBLK_MAX_DISCARD_BYTES >> 9;
	/* Zeros are written from a buffer of max_io bytes, like any write. */
	p->discard.max_write_zeroes_sectors = max_sectors;
	p->discard.max_discard_segments = 1;
}

/*
 * Takes over the device a dead engine of this volume left: it must be
 * ublk's recoverable kind with our geometry. ublk accepts START_USER_RECOVERY
 * once the dead engine's files are closed, which may take a moment after its
 * death. Returns 0, -ENOENT (no such device: start a new volume) or -errno.
 */
static int ublk_take_over(struct memxd_client *c, struct memxd_ublk *u, uint32_t id)
{
	struct ublksrv_ctrl_dev_info info;
	int r;

	r = memxd_ublk_get_info(&u->ctrl, id, &info);
	if (r == -ENODEV)
		return -ENOENT;
	if (r)
		return memxd_log_errno(r, "ublk device %u: ask about it", id);
	if (!(info.flags & UBLK_F_USER_RECOVERY) || info.queue_depth != c->opt.depth ||
	    info.max_io_buf_bytes < c->opt.max_io) {
		memxd_info("volume %s: ublk device %u is not the one a dead engine of ours left",
			   c->opt.name, id);
		return -ENOENT;
	}
	for (unsigned int ms = 0;; ms += 100) {
		r = memxd_ublk_start_recovery(&u->ctrl, id);
		if (r != -EBUSY || ms >= UBLK_RECOVERY_WAIT_MS)
			break;
		usleep(100000);
	}
	if (r == -EINVAL)	/* not waiting for an engine: stopped, or never started */
		return -ENOENT;
	if (r)
		return memxd_log_errno(r, "ublk device %u: START_USER_RECOVERY", id);
	u->info = info;
	u->added = true;
	u->recovering = true;
	memxd_info("volume %s: taking over /dev/ublkb%u from the engine before us", c->opt.name,
		   id);
	return 0;
}

static int ublk_create(struct memxd_client *c, bool *resume)
{
	struct memxd_ublk *u;
	struct ublk_params params;
	int64_t old_id = *resume ? memxd_state_kdev(c, MEMXD_KBACKEND_UBLK) : -1;
	int r;

	if (c->opt.poll_queues)
		return memxd_log_errno(-EOPNOTSUPP, "--poll-queues: ublk has no polled queues "
				      "(ublk_drv gives the block layer no poll queue map, so "
				      "polled I/O on /dev/ublkbN is refused; memx.ko has them: "
				      "--kernel-backend memx)");
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cdev_fd = -1;
	u->ctrl.fd = -1;
	u->keeper.fd = -1;
	c->ublk = u;
	/* First, while we hold nothing the keeper should not. */
	r = memxd_ublk_keeper_start(&u->keeper, c->opt.name, c->opt.io_deadline_s,
				    c->opt.recovery_timeout_s);
	if (r)
		return memxd_log_errno(r, "fork the volume's keeper (--io-deadline, recovery window)");
	r = memxd_ublk_ctrl_open(&u->ctrl);
	if (r)
		return memxd_log_errno(r, "open %s (modprobe ublk_drv?)", MEMXD_UBLK_CONTROL_PATH);
	if (*resume) {
		r = old_id >= 0 ? ublk_take_over(c, u, (uint32_t)old_id) : -ENOENT;
		if (r && r != -ENOENT)
			return r;
		if (!r) {
			c->resumed = true;
			goto opened;
		}
		memxd_info("volume %s: ublk holds no device a dead engine of ours left: the state "
			   "a past engine left is stale; starting a new volume", c->opt.name);
		*resume = false;
	}
	u->info.nr_hw_queues = (uint16_t)c->opt.queues;
	u->info.queue_depth = (uint16_t)c->opt.depth;
	u->info.max_io_buf_bytes = c->opt.max_io;
	u->info.dev_id = UINT32_MAX;
	u->info.flags = UBLK_F_CMD_IOCTL_ENCODE;
	/* Requests the dead engine held are handed again to the next: writes may repeat. */
	if (c->opt.recovery_timeout_s)
		u->info.flags |= UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE;
	r = memxd_ublk_add(&u->ctrl, &u->info);
	if (r)
		return memxd_log_errno(r, "create the volume in ublk (ADD_DEV)");
	u->added = true;
	if (u->info.queue_depth != c->opt.depth || u->info.max_io_buf_bytes < c->opt.max_io)
		return memxd_log_errno(-EPROTO, "ublk changed the depth (%u) or the largest "
				      "request (%u)", u->info.queue_depth,
				      u->info.max_io_buf_bytes);
	ublk_fill_params(c, &params);
	r = memxd_ublk_set_params(&u->ctrl, u->info.dev_id, &params);
	if (r)
		return memxd_log_errno(r, "ublk device %u: set its parameters", u->info.dev_id);
opened:
	c->dev_id = (int)u->info.dev_id;
	c->nr_queues = u->info.nr_hw_queues;
	if (c->nr_queues != c->opt.queues)
		memxd_info("volume %s: ublk gives %u queue(s), not %u (one per CPU at most)",
			   c->opt.name, c->nr_queues, c->opt.queues);
	snprintf(c->dev_path, sizeof(c->dev_path), "/dev/ublkb%d", c->dev_id);
	memxd_ublk_window_watch(&u->keeper, u->info.dev_id);
	memxd_state_note_kdev(c, MEMXD_KBACKEND_UBLK, u->info.dev_id);
	return ublk_open_cdev(c, u);
}

/* START_DEV, or END_USER_RECOVERY for a device taken over: it lets the held requests through. */
static int ublk_start(struct memxd_client *c)
{
	struct memxd_ublk *u = c->ublk;
	int r;

	if (u->recovering) {
		r = memxd_ublk_end_recovery(&u->ctrl, u->info.dev_id, getpid());
		if (r)
			return memxd_log_errno(r, "take over %s (END_USER_RECOVERY)", c->dev_path);
		return 0;
	}
	r = memxd_ublk_start(&u->ctrl, u->info.dev_id, getpid());
	if (r)
		return memxd_log_errno(r, "start %s (START_DEV)", c->dev_path);
	return 0;
}

/*
 * STOP_DEV removes the disk even while it is mounted: so first ask for it
 * exclusively, as mount and swapon hold it, and refuse if that fails.
 */
static int ublk_remove(struct memxd_client *c, bool quiet)
{
	struct memxd_ublk *u = c->ublk;
	int fd, r;

	if (u->stopped)
		return 0;
	fd = open(c->dev_path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0 && errno == EBUSY) {
		if (quiet)
			return -EBUSY;
		memxd_err("volume %s: %s is in use (mounted or swap?); not removing it, still "
			  "serving. Unmount or swapoff it first.", c->opt.name, c->dev_path);
		return -EBUSY;
	}
	if (fd >= 0)
		close(fd);
	r = memxd_ublk_stop(&u->ctrl, u->info.dev_id);
	if (r && quiet)
		return r;
	if (r)
		return memxd_log_errno(r, "volume %s: remove %s (STOP_DEV)", c->opt.name,
				       c->dev_path);
	u->stopped = true;
	return 0;
}

static bool ublk_dead(struct memxd_client *c)
{
	struct ublksrv_ctrl_dev_info info;
	int r = memxd_ublk_get_info(&c->ublk->ctrl, c->ublk->info.dev_id, &info);

	if (r != -ENODEV && (r || info.state != UBLK_S_DEV_DEAD))
		return false;
	memxd_err("volume %s: ublk stopped %s (STOP_DEV from elsewhere?) and failed its "
		  "requests: exiting", c->opt.name, c->dev_path);
	c->ublk->stopped = true;
	return true;
}

static void ublk_destroy(struct memxd_client *c)
{
	struct memxd_ublk *u = c->ublk;
	int r;

	if (!u)
		return;
	/* A clean exit: the keeper has nothing to look after. */
	memxd_ublk_window_watch(&u->keeper, UINT32_MAX);
	memxd_ublk_keeper_stop(&u->keeper);
	/* DEL_DEV waits for /dev/ublkcN to be closed: every queue is gone by now. */
	if (u->cdev_fd >= 0)
		close(u->cdev_fd);
	if (u->added) {
		r = memxd_ublk_del(&u->ctrl, u->info.dev_id);
		if (r)
			memxd_log_errno(r, "volume %s: delete ublk device %d", c->opt.name,
					c->dev_id);
	}
	memxd_ublk_ctrl_close(&u->ctrl);
	free(u);
	c->ublk = NULL;
}

/* Where queue qid's descriptors are in /dev/ublkcN: ublk spaces queues for its largest depth. */
static off_t ublk_desc_offset(unsigned int qid)
{
	return UBLKSRV_CMD_BUF_OFFSET +
	       (off_t)qid * (off_t)page_round(UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc));
}

static int ublk_queue_open(struct memxd_client *c, struct memxd_queue *q)
{
	struct memxd_kqueue *kq = &q->kq;
	void *area;

	kq->depth = c->ublk->info.queue_depth;
	kq->buf_stride = c->opt.max_io;
	kq->poll_fd = -1;
	kq->iod_bytes = page_round(kq->depth * sizeof(struct ublksrv_io_desc));
	area = mmap(NULL, kq->iod_bytes, PROT_READ, MAP_SHARED | MAP_POPULATE, c->ublk->cdev_fd,
		    ublk_desc_offset(q->qid));
	if (area == MAP_FAILED)
		return memxd_log_errno(-errno, "queue %u: map ublk's descriptors", q->qid);
	kq->iod = area;
	/* Ours, locked by mlockall like the rest: RDMA and ublk's copies meet here. */
	kq->own_buf = aligned_alloc(4096, (size_t)kq->depth * kq->buf_stride);
	if (!kq->own_buf)
		return memxd_log_errno(-ENOMEM, "queue %u: tag buffers", q->qid);
	memset(kq->own_buf, 0, (size_t)kq->depth * kq->buf_stride);
	kq->buf = kq->own_buf;
	return 0;
}

static void ublk_queue_close(struct memxd_client *c, struct memxd_queue *q)
{
	struct memxd_kqueue *kq = &q->kq;

	(void)c;
	if (kq->iod)
		munmap((void *)kq->iod, kq->iod_bytes);
	kq->iod = NULL;
	free(kq->own_buf);
	kq->own_buf = NULL;
	kq->buf = NULL;
}

/* Queues FETCH_REQ or COMMIT_AND_FETCH_REQ for tag; false if the SQ is full. */
static bool ublk_queue_cmd(struct memxd_queue *q, uint32_t cmd_op, uint32_t tag, int32_t result)
{
	struct ublksrv_io_cmd cmd = {
		.q_id = (uint16_t)q->qid,
		.tag = (uint16_t)tag,
		.result = result,
		.addr = (uintptr_t)(q->kq.buf + (size_t)tag * q->kq.buf_stride),
	};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe)
		return false;
	memxd_ublk_prep_cmd(sqe, q->c->ublk->cdev_fd, cmd_op, &cmd, sizeof(cmd),
			    MEMXD_UD_KBACKEND | tag);
	return true;
}

static int ublk_queue_prime(struct memxd_queue *q)
{
	for (uint32_t tag = 0; tag < q->kq.depth; tag++)
		if (!ublk_queue_cmd(q, UBLK_U_IO_FETCH_REQ, tag, 0))
			return -EBUSY;	/* the ring was sized for every tag */
	return io_uring_submit(&q->ring) < 0 ? -EIO : 0;
}

static uint8_t ublk_to_memx_op(uint8_t op)
{
	switch (op) {
	case UBLK_IO_OP_READ:
		return MEMX_OP_READ;
	case UBLK_IO_OP_WRITE:
		return MEMX_OP_WRITE;
	case UBLK_IO_OP_FLUSH:
		return MEMX_OP_FLUSH;
	case UBLK_IO_OP_DISCARD:
		return MEMX_OP_DISCARD;
	case UBLK_IO_OP_WRITE_ZEROES:
		return MEMX_OP_WRITE_ZEROES;
	default:
		return UINT8_MAX;	/* io.c fails it: EOPNOTSUPP */
	}
}

static unsigned int ublk_take_cqe(struct memxd_queue *q, const struct io_uring_cqe *cqe)
{
	uint32_t tag = (uint32_t)(cqe->user_data & 0xffff);
	struct ublksrv_io_desc d;
	uint64_t nr_bytes;
	uint8_t op;

	if (cqe->res == UBLK_IO_RES_ABORT) {
		/* The device stops (or the engine leaves): this tag gets no more requests. */
		q->kq.aborted++;
		memxd_dbg(MEMXD_DBG_QUEUE, "queue %u tag %u: ublk aborted the fetch", q->qid, tag);
		return 0;
	}
	if (cqe->res != UBLK_IO_RES_OK || tag >= q->kq.depth) {
		memxd_err("queue %u tag %u: ublk refused a command: %s", q->qid, tag,
			  strerror(cqe->res < 0 ? -cqe->res : EPROTO));
		return 0;
	}
	/* The kernel wrote the descriptor before it completed the fetch. */
	memcpy(&d, (const void *)&q->kq.iod[tag], sizeof(d));
	op = ublk_to_memx_op(ublksrv_get_op(&d));
	nr_bytes = (uint64_t)d.nr_sectors << 9;
	if (nr_bytes > UBLK_MAX_DISCARD_BYTES)
		op = UINT8_MAX;	/* past what SET_PARAMS allowed: failed, not cut short */
	atomic_fetch_add_explicit(&q->c->ublk->keeper.progress->q[q->qid].taken, 1,
				  memory_order_relaxed);
	memxd_queue_new_request(q, tag, op, (uint32_t)nr_bytes, d.start_sector << 9);
	return 1;
}

/*
 * One COMMIT_AND_FETCH per finished tag, all in one io_uring_submit. ublk
 * reads a READ's or WRITE's result as bytes done and retries a short one,
 * so success is the request's length.
 */
static int ublk_commit(struct memxd_queue *q)
{
	int r;

	for (uint32_t i = 0; i < q->nr_results; i++) {
		uint32_t tag = q->results[i].tag;
		int32_t res = q->results[i].result;

		if (!res && (q->io[tag].op == MEMX_OP_READ || q->io[tag].op == MEMX_OP_WRITE))
			res = (int32_t)q->io[tag].nr_bytes;
		if (!ublk_queue_cmd(q, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, res))
			return -EBUSY;	/* cannot be: one command per tag at most */
	}
	r = io_uring_submit(&q->ring);
	if (r < 0)
		return r;
	/* For the keeper: this engine makes progress (--io-deadline). */
	atomic_fetch_add_explicit(&q->c->ublk->keeper.progress->q[q->qid].done, q->nr_results,
				  memory_order_relaxed);
	return (int)q->nr_results;
}

const struct memxd_kbackend memxd_kbackend_ublk = {
	.name = "ublk",
	/*
	 * No COOP_TASKRUN: ublk hands a request to this thread as task work,
	 * which must interrupt a thread that polls in userspace (--poll-us).
	 */
	.ring_flags = IORING_SETUP_SQE128,
	.create = ublk_create,
	.start = ublk_start,
	.remove = ublk_remove,
	.dead = ublk_dead,
	.destroy = ublk_destroy,
	.queue_open = ublk_queue_open,
	.queue_close = ublk_queue_close,
	.queue_prime = ublk_queue_prime,
	.take_cqe = ublk_take_cqe,
	.commit = ublk_commit,
};
