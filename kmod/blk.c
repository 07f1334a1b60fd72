// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko block side: the blk-mq tag set, queue_rq, timeout, and the gendisk.
 *
 * Theory of operation
 * -------------------
 * START_DEV creates one tag set with nr_hw_queues = nr_queues (with a single
 * map blk-mq caps it at the number of CPUs; queues left without a CPU, there
 * or in a POLL map, stay idle) and
 * queue_depth = depth, so hardware queue q / tag t maps 1:1 onto queue q's
 * buffer t. queue_rq is memx_queue_submit() (queue.c), which translates the
 * request op and hands READ/WRITE/DISCARD/WRITE_ZEROES to the engine; FLUSH
 * completes at once because the disk has no volatile cache (data is in donor
 * memory once the engine commits).
 *
 * Polled I/O (MEMX_F_POLL_QUEUES): the tag set gets a POLL map over the last
 * nr_poll_queues queues. Their engine threads work like any other; the
 * submitter spins in memx_poll(), which only reports how many of the queue's
 * requests the engine ended since the last look (memx_end_request()).
 *
 * Timeouts: while the engine is alive a request is never taken back: its
 * buffer may still be the target of the engine's RDMA, so reusing the tag
 * could corrupt data. The engine bounds its own waits and commits -EIO; the
 * kernel only warns once per request and re-arms the timer. Once the queue or
 * volume is dead the request is failed (cmpxchg on the tag state, so a racing
 * commit or abort can't complete it twice).
 *
 * /dev/memxN openers are counted in open/release: DEL_DEV refuses (-EBUSY)
 * while any exist, a dead volume refuses new opens, and the last close of a
 * dead volume queues its removal.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>

#include "memx.h"
#include "compat.h"

static blk_status_t memx_queue_rq(struct blk_mq_hw_ctx *hctx,
				  const struct blk_mq_queue_data *bd)
{
	return memx_queue_submit(hctx->driver_data, bd->rq);
}

static enum blk_eh_timer_return memx_timeout(struct request *rq)
{
	return memx_queue_timeout(rq->mq_hctx->driver_data, rq);
}

static int memx_init_hctx(struct blk_mq_hw_ctx *hctx, void *driver_data,
			  unsigned int hctx_idx)
{
	struct memx_dev *md = driver_data;

	if (WARN_ON_ONCE(hctx_idx >= md->params.nr_queues))
		return -EINVAL;
	hctx->driver_data = &md->queues[hctx_idx];
	return 0;
}

/*
 * Default queues first, then the polled ones; no separate READ queues. A map
 * never spreads over more queues than there are CPUs: 6.12's
 * blk_mq_map_queues() (group_cpus_evenly()) warns if asked to, and the queues
 * past that would get no CPU anyway; they stay idle, as with a single map.
 */
static void memx_map_queues(struct blk_mq_tag_set *set)
{
	struct memx_dev *md = set->driver_data;
	unsigned int nr_poll = md->params.nr_poll_queues;
	unsigned int cpus = num_possible_cpus();

	set->map[HCTX_TYPE_DEFAULT].nr_queues = min(md->params.nr_queues - nr_poll, cpus);
	set->map[HCTX_TYPE_DEFAULT].queue_offset = 0;
	set->map[HCTX_TYPE_READ].nr_queues = 0;
	set->map[HCTX_TYPE_POLL].nr_queues = min(nr_poll, cpus);
	set->map[HCTX_TYPE_POLL].queue_offset = md->params.nr_queues - nr_poll;
	blk_mq_map_queues(&set->map[HCTX_TYPE_DEFAULT]);
	blk_mq_map_queues(&set->map[HCTX_TYPE_POLL]);
}

static int memx_poll(struct blk_mq_hw_ctx *hctx, struct io_comp_batch *iob)
{
	struct memx_queue *mq = hctx->driver_data;

	return atomic_xchg(&mq->polled_done, 0);
}

static const struct blk_mq_ops memx_mq_ops = {
	.queue_rq = memx_queue_rq,
	.timeout = memx_timeout,
	.init_hctx = memx_init_hctx,
};

static const struct blk_mq_ops memx_mq_poll_ops = {
	.queue_rq = memx_queue_rq,
	.timeout = memx_timeout,
	.init_hctx = memx_init_hctx,
	.map_queues = memx_map_queues,
	.poll = memx_poll,
};

static MEMX_BDEV_OPEN(memx_bdev_open)
{
	struct memx_dev *md = MEMX_BDEV_OPEN_DISK->private_data;
	int ret = 0;

	spin_lock(&md->lock);
	if (md->removing || READ_ONCE(md->dead))
		ret = -ENXIO;
	else
		md->open_count++;
	spin_unlock(&md->lock);
	return ret;
}

static MEMX_BDEV_RELEASE(memx_bdev_release)
{
	struct memx_dev *md = disk->private_data;
	bool last_dead;

	spin_lock(&md->lock);
	if (!WARN_ON_ONCE(!md->open_count))
		md->open_count--;
	last_dead = !md->open_count && READ_ONCE(md->dead);
	if (last_dead)
		kref_get(&md->ref);	/* for remove_work, before md can go */
	spin_unlock(&md->lock);
	if (last_dead)
		memx_dev_queue_remove(md);
}

static const struct block_device_operations memx_bdops = {
	.owner = THIS_MODULE,
	.open = memx_bdev_open,
	.release = memx_bdev_release,
};

/* START_DEV: memx_devs_lock held, every queue bound. Returns 0 or -errno. */
int memx_blk_add_disk(struct memx_dev *md)
{
	const struct memx_dev_params *p = &md->params;
	struct blk_mq_tag_set *set = &md->tag_set;
	struct memx_disk_limits lim = {
		.block_size = MEMX_BLOCK_SIZE,
		.max_hw_sectors = p->max_io_bytes >> SECTOR_SHIFT,
		.max_segments = USHRT_MAX,
		.max_segment_size = UINT_MAX,
		.discard_granularity = MEMX_BLOCK_SIZE,
	};
	struct gendisk *disk;
	int ret;

	if (p->flags & MEMX_F_DISCARD)
		lim.max_discard_sectors = MEMX_MAX_DISCARD_BYTES >> SECTOR_SHIFT;
	/*
	 * An engine writes zeros from a buffer of max_io_bytes, like any write:
	 * the block layer splits larger requests.
	 */
	if (p->flags & MEMX_F_WRITE_ZEROES)
		lim.max_write_zeroes_sectors = p->max_io_bytes >> SECTOR_SHIFT;

	memset(set, 0, sizeof(*set));
	set->nr_hw_queues = p->nr_queues;
	if (p->flags & MEMX_F_POLL_QUEUES) {
		set->ops = &memx_mq_poll_ops;
		set->nr_maps = HCTX_MAX_TYPES;
	} else {
		set->ops = &memx_mq_ops;
		set->nr_maps = 1;
	}
	set->queue_depth = p->queue_depth;
	set->numa_node = NUMA_NO_NODE;
	set->flags = MEMX_TAG_SET_FLAGS;
	set->driver_data = md;
	set->timeout = msecs_to_jiffies(p->io_timeout_ms);
	ret = blk_mq_alloc_tag_set(set);
	if (ret)
		return ret;

	disk = memx_alloc_disk(set, &lim, md);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto out_free_tag_set;
	}
	disk->fops = &memx_bdops;
	disk->private_data = md;
	disk->flags |= GENHD_FL_NO_PART;
	snprintf(disk->disk_name, DISK_NAME_LEN, MEMX_DISK_NAME "%d", md->id);
	set_capacity(disk, p->size_bytes >> SECTOR_SHIFT);

	md->disk = disk;
	md->started = true;
	kref_get(&md->ref);	/* the disk's reference, dropped by memx_blk_del_disk */
	ret = device_add_disk(NULL, disk, memx_disk_groups);	/* sysfs.c */
	if (ret)
		goto out_put_disk;
	return 0;

out_put_disk:
	md->started = false;
	md->disk = NULL;
	put_disk(disk);
	memx_dev_put(md);	/* not the last: the registry holds one */
out_free_tag_set:
	blk_mq_free_tag_set(set);
	return ret;
}

/* memx_devs_lock held, open_count == 0, new opens refused. */
void memx_blk_del_disk(struct memx_dev *md)
{
	del_gendisk(md->disk);
	put_disk(md->disk);
	blk_mq_free_tag_set(&md->tag_set);
	md->disk = NULL;
	md->started = false;
	memx_dev_put(md);	/* the disk's reference; the registry still holds one */
}
