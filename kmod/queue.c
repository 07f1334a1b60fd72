// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko engine side of a hardware queue: submit, commit, timeout, abort,
 * mmap, poll. (The fd is bound to its queue by BIND_QUEUE in ctrl.c.)
 *
 * Theory of operation
 * -------------------
 * Each queue owns one area laid out as struct memx_queue_layout says: the
 * submission ring, desc[depth], then depth buffers of max_io_bytes. Its
 * pages are zeroed and charged to the memory cgroup of the process that
 * added the volume (memx_area_alloc()). A control fd bound with
 * MEMX_IO_BIND_QUEUE maps it (remap_vmalloc_range, MAP_SHARED, offset 0,
 * exactly total_bytes, never executable). The mapping is VM_DONTCOPY: a child
 * the engine forks gets no copy of the ring and buffers, and cannot keep the
 * file (and so the queue) alive through one after the engine dies.
 *
 * Per tag t (struct memx_io) the state is IDLE (kernel owns the tag) or OWNED
 * (the engine owns buffer t). Every transition out of OWNED is an
 * atomic_cmpxchg, so exactly one of commit, abort (engine death) and timeout
 * (dead queue, or a request withheld by fault injection) ends the request.
 *
 *   submit (queue_rq): the only REQ_OP_* -> MEMX_OP_* translation (FLUSH ends
 *       at once: no volatile cache), copy WRITE data to buffer t, fill
 *       desc[t], rq -> io, IDLE -> OWNED, append t to the ring under sq_lock
 *       with a release store of tail, wake the poller. Nothing is allocated.
 *   commit (ioctl):    OWNED -> IDLE, copy READ data out of buffer t, end rq.
 *   abort (death):     mark dead, then OWNED -> IDLE and fail every tag.
 * Submit re-checks "dead" after its cmpxchg and abort scans after setting
 * "dead" (both with full barriers), so a request racing with death is failed
 * by one of them and never stranded.
 *
 * Fault injection (fault.c; no-ops unless built in): fail_submit fails a
 * request before the engine sees it, fail_commit turns an engine's result
 * into -EIO, fail_timeout withholds a request from the engine (it stays OWNED
 * but never enters the ring) so blk-mq's timer expires and the timeout
 * handler ends it with BLK_STS_TIMEOUT: the engine never had its buffer.
 *
 * The kernel never trusts the shared area: it keeps its own tail, reads the
 * engine's head only for poll readiness, and never reads desc back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/blk-mq.h>

#include "memx.h"
#include "compat.h"

#define MEMX_COMMIT_CHUNK	16

/*
 * Commits and mmap use the queue area: an engine that is deposed
 * (recovery.c) must have none left running before its area is replaced.
 */
DEFINE_STATIC_SRCU(memx_commit_srcu);

/*
 * The queue area: zeroed pages charged to the caller's memory cgroup
 * (__GFP_ACCOUNT), vmap()ed with VM_USERMAP so that remap_vmalloc_range()
 * maps them to the engine. vmalloc_user() takes no gfp, and what it calls
 * (__vmalloc_node_range(..., VM_USERMAP, ...) on 6.1 and 6.12) is not
 * exported to modules; vmap() of our own pages is, as kernel/bpf/ringbuf.c
 * does it. __GFP_RETRY_MAYFAIL: a cgroup (or machine) that cannot hold the
 * area fails ADD_DEV with -ENOMEM instead of OOM-killing someone;
 * __GFP_NOWARN: no allocation-failure report for a size a caller chose.
 */
static int memx_area_alloc(struct memx_area *a, size_t bytes)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	unsigned int i, n = bytes >> PAGE_SHIFT;

	a->pages = kvcalloc(n, sizeof(*a->pages), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!a->pages)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (fatal_signal_pending(current))
			return -ENOMEM;
		a->pages[i] = alloc_page(gfp);
		if (!a->pages[i])
			return -ENOMEM;
		a->nr_pages = i + 1;
		cond_resched();
	}
	a->vaddr = vmap(a->pages, n, VM_MAP | VM_USERMAP, PAGE_KERNEL);
	return a->vaddr ? 0 : -ENOMEM;
}

/*
 * Accepts a half-built area. Pages an engine still maps live on: its
 * mapping holds a reference of its own on each (remap_vmalloc_range()).
 */
static void memx_area_free(struct memx_area *a)
{
	unsigned int i;

	if (a->vaddr)
		vunmap(a->vaddr);
	a->vaddr = NULL;
	for (i = 0; i < a->nr_pages; i++)
		__free_page(a->pages[i]);
	a->nr_pages = 0;
	kvfree(a->pages);
	a->pages = NULL;
}

static void memx_queue_use_area(struct memx_queue *mq)
{
	const struct memx_queue_layout *l = &mq->md->layout;

	mq->ring = mq->area.vaddr + l->ring_offset;
	mq->desc = mq->area.vaddr + l->desc_offset;
	mq->buf = mq->area.vaddr + l->buf_offset;
}

int memx_queue_alloc(struct memx_dev *md, struct memx_queue *mq, unsigned int id)
{
	const struct memx_queue_layout *l = &md->layout;
	int ret;

	mq->md = md;
	mq->id = id;
	mq->polled = id >= md->params.nr_queues - md->params.nr_poll_queues;
	spin_lock_init(&mq->sq_lock);
	init_waitqueue_head(&mq->wait);
	mq->ios = kcalloc(l->queue_depth, sizeof(*mq->ios), GFP_KERNEL_ACCOUNT);
	if (!mq->ios)
		return -ENOMEM;
	ret = memx_area_alloc(&mq->area, l->total_bytes);	/* total_bytes is page-aligned */
	if (ret)
		return ret;
	memx_queue_use_area(mq);
	return 0;
}

/*
 * A new area for the next engine of an orphaned volume whose last engine
 * may still be alive (it missed its deadline: stopped or hung), and so may
 * still have RDMA land in the old buffers or read them (recovery.c). The
 * old pages stay with that engine's mapping until it exits; the kernel and
 * the next engine use the new ones. No commit of the old engine runs any
 * more (the SRCU grace period below; its fds are stale since the orphaning),
 * and nothing is submitted (the queues are quiesced), so nobody in the
 * kernel still looks at the old area. Returns 0 or -ENOMEM (the old area
 * stays: the caller fails the attach, and the next one tries again).
 */
int memx_queue_renew_area(struct memx_queue *mq)
{
	struct memx_area fresh = {}, old;
	int ret;

	ret = memx_area_alloc(&fresh, mq->md->layout.total_bytes);
	if (ret) {
		memx_area_free(&fresh);
		return ret;
	}
	synchronize_srcu(&memx_commit_srcu);
	old = mq->area;
	mq->area = fresh;
	memx_queue_use_area(mq);
	mq->sq_tail = 0;	/* a zeroed ring */
	memx_area_free(&old);
	return 0;
}

/* Accepts a half-built queue. */
void memx_queue_free(struct memx_queue *mq)
{
	memx_area_free(&mq->area);
	kfree(mq->ios);
	mq->ios = NULL;
}

static u8 *memx_buf(struct memx_queue *mq, unsigned int tag)
{
	return mq->buf + (size_t)tag * mq->md->layout.buf_stride;
}

/*
 * queue_rq of hardware queue @mq: ends FLUSH at once, fails what the volume
 * does not take, else starts @rq and hands it to the engine.
 */
blk_status_t memx_queue_submit(struct memx_queue *mq, struct request *rq)
{
	const struct memx_queue_layout *l = &mq->md->layout;
	u64 flags = mq->md->params.flags;
	unsigned int tag = rq->tag;
	unsigned int bytes = blk_rq_bytes(rq);
	struct memx_io_desc *desc;
	struct memx_io *io;
	u8 op;

	if (memx_queue_is_dead(mq)) {
		rq->rq_flags |= RQF_QUIET;	/* the engine's death was logged once */
		return BLK_STS_IOERR;
	}

	switch (req_op(rq)) {
	case REQ_OP_FLUSH:
		/* No volatile cache: nothing to flush. */
		blk_mq_start_request(rq);
		blk_mq_end_request(rq, BLK_STS_OK);
		return BLK_STS_OK;
	case REQ_OP_READ:
		op = MEMX_OP_READ;
		break;
	case REQ_OP_WRITE:
		op = MEMX_OP_WRITE;
		break;
	case REQ_OP_DISCARD:
		if (!(flags & MEMX_F_DISCARD))
			return BLK_STS_NOTSUPP;
		op = MEMX_OP_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		if (!(flags & MEMX_F_WRITE_ZEROES))
			return BLK_STS_NOTSUPP;
		op = MEMX_OP_WRITE_ZEROES;
		break;
	default:
		return BLK_STS_NOTSUPP;
	}

	blk_mq_start_request(rq);
	if (WARN_ON_ONCE(tag >= l->queue_depth))
		return BLK_STS_IOERR;
	io = &mq->ios[tag];
	if (op == MEMX_OP_READ || op == MEMX_OP_WRITE) {
		if (unlikely(!bytes || bytes > l->buf_stride))
			return BLK_STS_IOERR;
	} else if (unlikely(!bytes || bytes > MEMX_MAX_DISCARD_BYTES)) {
		return BLK_STS_IOERR;
	}
	if (memx_fault_submit())
		return BLK_STS_IOERR;

	if (op == MEMX_OP_WRITE) {
		struct req_iterator iter;
		struct bio_vec bv;
		u8 *dst = memx_buf(mq, tag);

		rq_for_each_segment(bv, rq, iter) {
			memcpy_from_bvec(dst, &bv);
			dst += bv.bv_len;
		}
	}

	desc = &mq->desc[tag];
	WRITE_ONCE(desc->op, op);
	WRITE_ONCE(desc->reserved0, 0);
	WRITE_ONCE(desc->flags, 0);
	WRITE_ONCE(desc->nr_bytes, bytes);
	WRITE_ONCE(desc->offset, (u64)blk_rq_pos(rq) << SECTOR_SHIFT);

	io->rq = rq;
	io->warned = false;
	io->withheld = memx_fault_timeout();
	if (WARN_ON_ONCE(atomic_cmpxchg(&io->state, MEMX_IO_IDLE, MEMX_IO_OWNED) !=
			 MEMX_IO_IDLE))
		return BLK_STS_IOERR;
	if (unlikely(io->withheld))
		return BLK_STS_OK;	/* never in the ring: memx_queue_timeout() ends it */

	pr_devel("memx%d q%u: tag %u op %u off %llu len %u\n", mq->md->id, mq->id,
		 tag, op, (u64)blk_rq_pos(rq) << SECTOR_SHIFT, bytes);

	spin_lock(&mq->sq_lock);
	WRITE_ONCE(mq->ring->tags[mq->sq_tail & (l->ring_entries - 1)], tag);
	/* desc, buffer and the slot are visible before the new tail. */
	smp_store_release(&mq->ring->tail, mq->sq_tail + 1);
	WRITE_ONCE(mq->sq_tail, mq->sq_tail + 1);
	spin_unlock(&mq->sq_lock);

	smp_mb();	/* tail before the flag: pairs with the engine's barrier */
	if (!(READ_ONCE(mq->ring->flags) & MEMX_RING_F_AWAKE) && wq_has_sleeper(&mq->wait))
		wake_up_interruptible_poll(&mq->wait, EPOLLIN | EPOLLRDNORM);

	/*
	 * If the queue died while we were taking the tag, abort may have scanned
	 * before our cmpxchg: fail it here unless someone else already did.
	 */
	if (unlikely(memx_queue_is_dead(mq)) &&
	    atomic_cmpxchg(&io->state, MEMX_IO_OWNED, MEMX_IO_IDLE) == MEMX_IO_OWNED) {
		rq->rq_flags |= RQF_QUIET;
		return BLK_STS_IOERR;
	}
	return BLK_STS_OK;
}

enum blk_eh_timer_return memx_queue_timeout(struct memx_queue *mq, struct request *rq)
{
	struct memx_io *io = &mq->ios[rq->tag];

	if (unlikely(io->withheld)) {
		/* Fault injection: the engine never saw it, so nothing can DMA. */
		if (atomic_cmpxchg(&io->state, MEMX_IO_OWNED, MEMX_IO_IDLE) == MEMX_IO_OWNED)
			memx_end_request(mq, rq, BLK_STS_TIMEOUT);
		return BLK_EH_DONE;
	}
	if (memx_queue_is_dead(mq)) {
		if (atomic_cmpxchg(&io->state, MEMX_IO_OWNED, MEMX_IO_IDLE) == MEMX_IO_OWNED) {
			rq->rq_flags |= RQF_QUIET;
			memx_end_request(mq, rq, BLK_STS_IOERR);
		}
		return BLK_EH_DONE;
	}
	if (READ_ONCE(mq->md->orphaned))
		return BLK_EH_RESET_TIMER;	/* being taken back for the next engine (recovery.c) */
	/*
	 * The engine holds this request past the deadline. If it committed
	 * something on this queue within the deadline, it is alive and this
	 * request waits on work of its own (a slab, a copy), which it bounds:
	 * wait on. If it committed nothing, it is stopped, hung or dead in all
	 * but name, and it holds the host's swap: it is deposed. A volume with
	 * a recovery window is orphaned for the next engine, with fresh buffers
	 * (recovery.c); any other dies as it would with the engine. Either way
	 * no buffer the deposed engine maps is used again, so an engine that
	 * wakes up later writes nowhere that matters, and its commits are
	 * refused.
	 */
	if (time_before(jiffies, READ_ONCE(mq->last_progress) +
			msecs_to_jiffies(mq->md->params.io_timeout_ms))) {
		if (!io->warned) {
			io->warned = true;
			pr_warn_ratelimited("memx%d q%u: tag %u not committed after %u ms; the engine is making progress, waiting\n",
					    mq->md->id, mq->id, rq->tag,
					    mq->md->params.io_timeout_ms);
		}
		return BLK_EH_RESET_TIMER;
	}
	if (memx_recovery_depose(mq))
		return BLK_EH_RESET_TIMER;	/* taken back with the others when orphaned */
	pr_err("memx%d q%u: the engine committed nothing for %u ms while holding requests: treating it as dead\n",
	       mq->md->id, mq->id, mq->md->params.io_timeout_ms);
	memx_dev_kill(mq->md);	/* ends this request too, with every other the engine held */
	return BLK_EH_DONE;
}

/* Mark the queue dead and fail every request the engine holds. Idempotent. */
void memx_queue_abort(struct memx_queue *mq)
{
	unsigned int tag, n = 0;

	WRITE_ONCE(mq->dead, true);
	smp_mb();	/* pairs with the dead re-check in memx_queue_submit() */
	for (tag = 0; tag < mq->md->layout.queue_depth; tag++) {
		struct memx_io *io = &mq->ios[tag];

		if (atomic_cmpxchg(&io->state, MEMX_IO_OWNED, MEMX_IO_IDLE) == MEMX_IO_OWNED) {
			io->rq->rq_flags |= RQF_QUIET;	/* counted below, not per request */
			memx_end_request(mq, io->rq, BLK_STS_IOERR);
			n++;
		}
	}
	if (n)
		pr_err_ratelimited("memx%d q%u: engine gone, failed %u requests\n",
				   mq->md->id, mq->id, n);
	wake_up_all(&mq->wait);
}

static blk_status_t memx_errno_to_status(int result)
{
	switch (result) {
	case 0:
		return BLK_STS_OK;
	case -ENOSPC:
		return BLK_STS_NOSPC;
	case -EOPNOTSUPP:
		return BLK_STS_NOTSUPP;
	default:
		return BLK_STS_IOERR;
	}
}

/* Returns 0 or -EINVAL (bad tag, tag not owned by the engine, bad result). */
static int memx_complete_one(struct memx_queue *mq, const struct memx_io_result *res)
{
	struct memx_io *io;
	struct request *rq;
	blk_status_t sts;
	int result = res->result;

	if (res->tag >= mq->md->layout.queue_depth)
		return -EINVAL;
	if (result > 0 || result < -MAX_ERRNO)
		return -EINVAL;
	io = &mq->ios[res->tag];
	if (atomic_cmpxchg(&io->state, MEMX_IO_OWNED, MEMX_IO_IDLE) != MEMX_IO_OWNED)
		return -EINVAL;
	rq = io->rq;
	WRITE_ONCE(mq->last_progress, jiffies);
	if (memx_fault_commit())
		result = -EIO;
	sts = memx_errno_to_status(result);
	if (sts == BLK_STS_OK && req_op(rq) == REQ_OP_READ) {
		struct req_iterator iter;
		struct bio_vec bv;
		const u8 *src = memx_buf(mq, res->tag);

		rq_for_each_segment(bv, rq, iter) {
			memcpy_to_bvec(&bv, src);
			src += bv.bv_len;
		}
	}
	pr_devel("memx%d q%u: tag %u done %d\n", mq->md->id, mq->id, res->tag, result);
	memx_end_request(mq, rq, sts);
	return 0;
}

/*
 * MEMX_IO_COMMIT. Returns the number of results taken (stops at the first bad
 * one), or -errno if none was: -EBADFD (not a bound queue fd), -EINVAL (nr,
 * reserved0, bad result), -EFAULT, -ENODEV (volume or queue dead: its
 * requests were already failed).
 */
long memx_queue_commit(struct memx_file *mf, void __user *argp)
{
	struct memx_io_result res[MEMX_COMMIT_CHUNK];
	struct memx_io_result __user *ures;
	struct memx_io_commit c;
	struct memx_queue *mq;
	unsigned int done = 0, n, i;
	int ret = 0, idx;

	if (smp_load_acquire(&mf->role) != MEMX_FILE_QUEUE)
		return -EBADFD;
	mq = mf->mq;
	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.reserved0 || !c.nr || c.nr > mq->md->layout.queue_depth)
		return -EINVAL;
	idx = srcu_read_lock(&memx_commit_srcu);
	if (memx_queue_is_dead(mq) || memx_file_stale(mf)) {
		srcu_read_unlock(&memx_commit_srcu, idx);
		return -ENODEV;
	}
	ures = u64_to_user_ptr(c.results);

	while (done < c.nr) {
		n = min_t(unsigned int, c.nr - done, MEMX_COMMIT_CHUNK);
		if (copy_from_user(res, ures + done, n * sizeof(res[0]))) {
			ret = -EFAULT;
			break;
		}
		for (i = 0; i < n; i++) {
			ret = memx_complete_one(mq, &res[i]);
			if (ret)
				break;
			done++;
		}
		if (ret)
			break;
	}
	srcu_read_unlock(&memx_commit_srcu, idx);
	if (ret && !done)
		pr_devel("memx%d q%u: commit rejected: %d\n", mq->md->id, mq->id, ret);
	return done ? done : ret;
}

/* MEMX_IO_GET_LAYOUT: 0, -EBADFD (not a bound queue fd) or -EFAULT. */
long memx_queue_get_layout(struct memx_file *mf, void __user *argp)
{
	if (smp_load_acquire(&mf->role) != MEMX_FILE_QUEUE)
		return -EBADFD;
	if (memx_file_stale(mf))
		return -ENODEV;
	return copy_to_user(argp, &mf->md->layout, sizeof(mf->md->layout)) ? -EFAULT : 0;
}

/* The bound fd is being closed (engine exit or death): the queue is dead. */
void memx_queue_release(struct memx_file *mf)
{
	struct memx_queue *mq = mf->mq;

	if (!memx_file_current(mf))
		return;	/* an engine that left: the queue serves another one now */
	if (!READ_ONCE(mq->md->dead))
		pr_warn_ratelimited("memx%d q%u: queue fd closed, failing its I/O\n",
				    mq->md->id, mq->id);
	memx_queue_abort(mq);
}

/*
 * Offset 0, exactly total_bytes, MAP_SHARED, on a bound fd; else -EINVAL.
 * PROT_EXEC: -EPERM. The mapping can never become executable (no
 * VM_MAYEXEC: mprotect(PROT_EXEC) fails with EACCES), is not copied into a
 * forked child (VM_DONTCOPY), cannot grow (VM_DONTEXPAND) and is left out of
 * core dumps (VM_DONTDUMP).
 */
int memx_queue_mmap(struct memx_file *mf, struct vm_area_struct *vma)
{
	struct memx_queue *mq;
	int idx, ret;

	if (smp_load_acquire(&mf->role) != MEMX_FILE_QUEUE)
		return -EINVAL;
	mq = mf->mq;
	if (vma->vm_pgoff != 0 ||
	    vma->vm_end - vma->vm_start != mq->md->layout.total_bytes ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	memx_vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	memx_vm_flags_clear(vma, VM_MAYEXEC);
	/* As a commit: the area of a current engine, never one being replaced. */
	idx = srcu_read_lock(&memx_commit_srcu);
	ret = memx_file_stale(mf) ? -EINVAL : remap_vmalloc_range(vma, mq->area.vaddr, 0);
	srcu_read_unlock(&memx_commit_srcu, idx);
	return ret;
}

__poll_t memx_queue_poll(struct memx_file *mf, struct file *file,
			 struct poll_table_struct *pt)
{
	struct memx_queue *mq;

	if (smp_load_acquire(&mf->role) != MEMX_FILE_QUEUE)
		return EPOLLERR;
	mq = mf->mq;
	poll_wait(file, &mq->wait, pt);
	smp_mb();	/* waiter queued before reading tail; pairs with wq_has_sleeper */
	if (memx_queue_is_dead(mq) || memx_file_stale(mf))
		return EPOLLERR | EPOLLHUP;
	if (READ_ONCE(mq->sq_tail) != READ_ONCE(mq->ring->head))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}
