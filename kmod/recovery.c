// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko engine restart: a volume outlives its engine for a while.
 *
 * Theory of operation
 * -------------------
 * A started, named volume with recovery_timeout_ms > 0 whose engine exits or
 * dies (main.c's flush of an fd at the exit of the thread group that owns or
 * serves it) is orphaned instead of killed (memx_recovery_orphan()):
 *   1. the disk's queues are quiesced: queue_rq is no longer called, so new
 *      requests wait in blk-mq;
 *   2. every tag the dead engine held (OWNED) is taken back with the same
 *      cmpxchg as commit and abort, and its request is put back on blk-mq's
 *      requeue list (as ublk does for UBLK_F_USER_RECOVERY): it will be
 *      handed out again, from scratch, to the next engine. The dead engine's
 *      RDMA into those buffers ended with its queue pairs, before any new
 *      engine exists, and the kernel copies nothing into a buffer until the
 *      queues run again;
 *   3. each ring is reset to empty, the queues are unbound, gen moves on so
 *      the old engine's fds are dead for good, and recovery_work is armed.
 * A new engine attaches (ADD_DEV with MEMX_ADD_ATTACH and the same name and
 * geometry: memx_recovery_adopt()), binds every queue and calls START_DEV,
 * which runs memx_recovery_resume(): the timer is cancelled and the queues
 * run, the held requests first. If the timer fires first the volume is
 * killed and removed as it would have been without recovery.
 *
 * An engine that is alive but stuck (a queue holds requests and the engine
 * committed nothing on it for io_timeout_ms: stopped, hung, deadlocked) is
 * deposed the same way (memx_recovery_depose(), from the queue's timeout):
 * it is orphaned while it still exists. It may still map the queue areas and
 * have RDMA in flight into them, or wake up later and post more, so the next
 * engine gets new areas (memx_queue_renew_area() at attach) and the old pages
 * live on with the old engine's mapping until it exits; its fds are stale, so
 * it can commit nothing. What it can still reach on the network (its queue
 * pairs to the donors) the next engine fences at each donor.
 *
 * An orphaned volume has no owner fd; the pending recovery_work holds a
 * reference on the volume and one on the module, so the module cannot be
 * unloaded with an orphan left (main.c relies on every volume having an
 * owner fd or a queued work).
 *
 * Every function here runs with memx_devs_lock held, but the work.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/pid.h>

#include "memx.h"
#include "compat.h"

/* Only the exit of an engine that served a live volume orphans it. */
bool memx_recovery_wanted(struct memx_dev *md)
{
	lockdep_assert_held(&memx_devs_lock);
	return md->params.recovery_timeout_ms && md->params.name[0] && md->started &&
	       !md->removed && !READ_ONCE(md->dead);
}

/* Take back every request the engine of @mq held and requeue it; returns how many. */
static unsigned int memx_recovery_take_back(struct memx_queue *mq)
{
	const struct memx_queue_layout *l = &mq->md->layout;
	unsigned int tag, n = 0;

	for (tag = 0; tag < l->queue_depth; tag++) {
		struct memx_io *io = &mq->ios[tag];

		if (atomic_cmpxchg(&io->state, MEMX_IO_OWNED, MEMX_IO_IDLE) == MEMX_IO_OWNED) {
			blk_mq_requeue_request(io->rq, false);
			n++;
		}
	}
	/* Quiesced and every tag idle: nobody produces; the next engine starts at 0. */
	spin_lock(&mq->sq_lock);
	mq->sq_tail = 0;
	WRITE_ONCE(mq->ring->tail, 0);
	WRITE_ONCE(mq->ring->head, 0);
	WRITE_ONCE(mq->ring->flags, 0);
	spin_unlock(&mq->sq_lock);
	wake_up_all(&mq->wait);	/* the old engine's pollers, if any, see EPOLLHUP */
	return n;
}

void memx_recovery_orphan(struct memx_dev *md)
{
	unsigned int i, held = 0;
	bool first = !md->orphaned;

	lockdep_assert_held(&memx_devs_lock);
	/* The leaving engine's fds are stale from here on (memx_file_stale()). */
	WRITE_ONCE(md->gen, md->gen + 1);
	md->owner = NULL;
	WRITE_ONCE(md->engine_pid, 0);
	for (i = 0; i < md->params.nr_queues; i++)
		md->queues[i].bound = false;
	if (!first) {
		/* An engine attached but left before START: wait on for the next. */
		pr_warn("memx%d: the attaching engine left; still waiting\n", md->id);
		return;
	}
	WRITE_ONCE(md->orphaned, true);
	blk_mq_quiesce_queue(md->disk->queue);	/* waits for queue_rq calls in flight */
	for (i = 0; i < md->params.nr_queues; i++)
		held += memx_recovery_take_back(&md->queues[i]);
	__module_get(THIS_MODULE);	/* the work's, dropped at its end or on cancel */
	kref_get(&md->ref);
	md->recovery_deadline = jiffies + msecs_to_jiffies(md->params.recovery_timeout_ms);
	queue_delayed_work(memx_wq, &md->recovery_work,
			   msecs_to_jiffies(md->params.recovery_timeout_ms));
	pr_warn("memx%d (%s): engine gone; holding %u request(s) for up to %u ms for a new engine\n",
		md->id, md->params.name, held, md->params.recovery_timeout_ms);
}

/* Called from a queue's timeout: whether the stuck engine is (being) deposed. */
bool memx_recovery_depose(struct memx_queue *mq)
{
	struct memx_dev *md = mq->md;

	if (!READ_ONCE(md->params.recovery_timeout_ms) || !md->params.name[0])
		return false;
	kref_get(&md->ref);
	if (!queue_work(memx_wq, &md->depose_work))
		memx_dev_put(md);	/* already on its way; not the last reference */
	return true;
}

static void memx_recovery_depose_work(struct work_struct *work)
{
	struct memx_dev *md = container_of(work, struct memx_dev, depose_work);

	mutex_lock(&memx_devs_lock);
	if (md->orphaned || md->removed || READ_ONCE(md->dead)) {
		/* Left, or already handled: nothing to do. */
	} else if (memx_recovery_wanted(md)) {
		pr_err("memx%d (%s): the engine committed nothing for %u ms while holding requests: deposing it\n",
		       md->id, md->params.name, md->params.io_timeout_ms);
		md->areas_mapped_by_old = true;
		memx_recovery_orphan(md);
	} else {
		pr_err("memx%d: the engine committed nothing for %u ms while holding requests: treating it as dead\n",
		       md->id, md->params.io_timeout_ms);
		memx_dev_kill(md);
	}
	mutex_unlock(&memx_devs_lock);
	memx_dev_put(md);
}

/*
 * ADD_DEV with MEMX_ADD_ATTACH of @md (orphaned, geometry checked). Returns 0,
 * or -ENOMEM when new queue areas were needed and could not be had (the
 * volume waits on for the next attach).
 */
int memx_recovery_adopt(struct memx_dev *md, struct memx_file *mf, struct file *file)
{
	unsigned int i;
	int ret;

	lockdep_assert_held(&memx_devs_lock);
	if (md->areas_mapped_by_old) {
		for (i = 0; i < md->params.nr_queues; i++) {
			ret = memx_queue_renew_area(&md->queues[i]);
			if (ret)
				return ret;	/* the renewed ones are as good as the old */
		}
		md->areas_mapped_by_old = false;
	}
	put_pid(md->owner_tgid);
	md->owner_tgid = get_pid(task_tgid(current));
	WRITE_ONCE(md->engine_pid, task_tgid_nr(current));
	memx_file_make_owner(mf, md, file);
	pr_info("memx%d (%s): a new engine attached\n", md->id, md->params.name);
	return 0;
}

/*
 * The requests an orphaned volume holds for the next engine: those taken
 * back from the engine that left and those made since, all waiting behind
 * the quiesced queues. false when it cannot be told now (compat.h).
 */
bool memx_recovery_held(struct memx_dev *md, u32 *held)
{
	unsigned int n;

	lockdep_assert_held(&memx_devs_lock);
	if (!md->orphaned || !md->disk || !memx_queue_requests(md->disk->queue, &n))
		return false;
	*held = n;
	return true;
}

static void memx_recovery_unquiesce(struct memx_dev *md)
{
	blk_mq_unquiesce_queue(md->disk->queue);
	blk_mq_kick_requeue_list(md->disk->queue);
}

/* START_DEV of an orphaned volume whose queues are bound again. */
void memx_recovery_resume(struct memx_dev *md)
{
	unsigned int i;

	lockdep_assert_held(&memx_devs_lock);
	for (i = 0; i < md->params.nr_queues; i++)
		WRITE_ONCE(md->queues[i].last_progress, jiffies);
	WRITE_ONCE(md->orphaned, false);
	if (cancel_delayed_work(&md->recovery_work)) {
		memx_dev_put(md);	/* not the last: the registry holds one */
		module_put(THIS_MODULE);
	}	/* else the work runs, sees !orphaned and drops them */
	memx_recovery_unquiesce(md);
	pr_info("memx%d (%s): resumed by the new engine\n", md->id, md->params.name);
}

/*
 * Give up on an orphaned volume (no-op for others): kill it and let the held
 * requests through, to fail with EIO. The disk can then be deleted.
 */
void memx_recovery_abandon(struct memx_dev *md)
{
	lockdep_assert_held(&memx_devs_lock);
	if (!md->orphaned)
		return;
	WRITE_ONCE(md->orphaned, false);
	memx_dev_kill(md);
	memx_recovery_unquiesce(md);
	if (cancel_delayed_work(&md->recovery_work)) {
		memx_dev_put(md);	/* not the last: the caller holds one */
		module_put(THIS_MODULE);
	}
}

static void memx_recovery_expire(struct work_struct *work)
{
	struct memx_dev *md = container_of(to_delayed_work(work), struct memx_dev,
					   recovery_work);

	mutex_lock(&memx_devs_lock);
	if (md->orphaned) {
		pr_err("memx%d (%s): no engine attached within %u ms: failing I/O and removing\n",
		       md->id, md->params.name, md->params.recovery_timeout_ms);
		memx_dev_remove(md);	/* abandons; -EBUSY: the last close of /dev/memxN removes it */
		memx_recovery_abandon(md);	/* when it was open */
	}
	mutex_unlock(&memx_devs_lock);
	memx_dev_put(md);
	module_put(THIS_MODULE);
}

void memx_recovery_init(struct memx_dev *md)
{
	INIT_DELAYED_WORK(&md->recovery_work, memx_recovery_expire);
	INIT_WORK(&md->depose_work, memx_recovery_depose_work);
}
