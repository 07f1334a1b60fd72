/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version-specific API memx.ko uses, behind small helpers.
 * Built and tested against Debian 12's 6.1; the newer branches follow the
 * upstream changes named next to them and are the starting point for a port.
 *
 *   6.1   get_random_u32_below() (mainline 6.2; in 6.1.y stable, which
 *         dropped prandom_u32_max(): Debian's 6.1.0-x has only the former)
 *   6.3   vm_flags_set()/vm_flags_clear() (vma->vm_flags became const)
 *   6.5   block_device_operations open(gendisk, blk_mode_t) / release(gendisk)
 *   6.9   blk_mq_alloc_disk(set, lim, queuedata); queue_limits at alloc time
 *   6.11  write cache / rotational / add_random became queue_limits features
 *   6.12  no_llseek removed (a NULL .llseek after nonseekable_open is enough)
 *   6.14  BLK_MQ_F_SHOULD_MERGE removed (merging is the default)
 *   6.16  q->elevator and hctx->sched_tags under q->elevator_lock, not sysfs_lock
 */
#ifndef MEMX_COMPAT_H
#define MEMX_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/random.h>

/* Limits of a memx disk, applied by memx_alloc_disk(). */
struct memx_disk_limits {
	unsigned int block_size;		/* logical = physical = io_min = io_opt */
	unsigned int max_hw_sectors;
	unsigned short max_segments;
	unsigned int max_segment_size;
	unsigned int max_discard_sectors;	/* 0: no discard */
	unsigned int max_write_zeroes_sectors;	/* 0: no write zeroes */
	unsigned int discard_granularity;
};

static inline void memx_vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void memx_vm_flags_clear(struct vm_area_struct *vma, unsigned long flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/* A uniformly random number in [0, ceil). Not for cryptography. */
static inline u32 memx_random_below(u32 ceil)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
	return get_random_u32_below(ceil);
#else
	return prandom_u32_max(ceil);
#endif
}

/* file_operations.llseek for a nonseekable file. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define MEMX_NO_LLSEEK		NULL
#else
#define MEMX_NO_LLSEEK		no_llseek
#endif

/* Tag set flags. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 14, 0)
#define MEMX_TAG_SET_FLAGS	0
#else
#define MEMX_TAG_SET_FLAGS	BLK_MQ_F_SHOULD_MERGE
#endif

/*
 * block_device_operations open/release. Define the bodies as
 *   MEMX_BDEV_OPEN(fn)  { struct gendisk *disk = MEMX_BDEV_OPEN_DISK; ... }
 *   MEMX_BDEV_RELEASE(fn) { ... disk ... }
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define MEMX_BDEV_OPEN(fn)	int fn(struct gendisk *disk, blk_mode_t mode)
#define MEMX_BDEV_OPEN_DISK	(disk)
#define MEMX_BDEV_RELEASE(fn)	void fn(struct gendisk *disk)
#else
#define MEMX_BDEV_OPEN(fn)	int fn(struct block_device *bdev, fmode_t mode)
#define MEMX_BDEV_OPEN_DISK	(bdev->bd_disk)
#define MEMX_BDEV_RELEASE(fn)	void fn(struct gendisk *disk, fmode_t mode)
#endif

/*
 * Allocate a blk-mq disk on @set with limits @l, no volatile write cache,
 * non-rotational, no entropy contribution. Returns the disk or ERR_PTR.
 */
static inline struct gendisk *memx_alloc_disk(struct blk_mq_tag_set *set,
					      const struct memx_disk_limits *l,
					      void *queuedata)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	struct queue_limits lim = {
		.logical_block_size = l->block_size,
		.physical_block_size = l->block_size,
		.io_min = l->block_size,
		.io_opt = l->block_size,
		.max_hw_sectors = l->max_hw_sectors,
		.max_segments = l->max_segments,
		.max_segment_size = l->max_segment_size,
		.max_hw_discard_sectors = l->max_discard_sectors,
		.max_write_zeroes_sectors = l->max_write_zeroes_sectors,
		.discard_granularity = l->discard_granularity,
	};
	struct gendisk *disk;

	disk = blk_mq_alloc_disk(set, &lim, queuedata);
	if (IS_ERR(disk))
		return disk;
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
	blk_queue_write_cache(disk->queue, false, false);
	blk_queue_flag_set(QUEUE_FLAG_NONROT, disk->queue);
	blk_queue_flag_clear(QUEUE_FLAG_ADD_RANDOM, disk->queue);
#endif
	/* 6.11+: no BLK_FEAT_WRITE_CACHE/ROTATIONAL/ADD_RANDOM in lim.features. */
	return disk;
#else
	struct gendisk *disk;
	struct request_queue *q;

	disk = blk_mq_alloc_disk(set, queuedata);
	if (IS_ERR(disk))
		return disk;
	q = disk->queue;
	blk_queue_logical_block_size(q, l->block_size);
	blk_queue_physical_block_size(q, l->block_size);
	blk_queue_io_min(q, l->block_size);
	blk_queue_io_opt(q, l->block_size);
	blk_queue_max_hw_sectors(q, l->max_hw_sectors);
	blk_queue_max_segments(q, l->max_segments);
	blk_queue_max_segment_size(q, l->max_segment_size);
	if (l->max_discard_sectors) {
		blk_queue_max_discard_sectors(q, l->max_discard_sectors);
		q->limits.discard_granularity = l->discard_granularity;
	}
	if (l->max_write_zeroes_sectors)
		blk_queue_max_write_zeroes_sectors(q, l->max_write_zeroes_sectors);
	blk_queue_write_cache(q, false, false);
	blk_queue_flag_set(QUEUE_FLAG_NONROT, q);
	blk_queue_flag_clear(QUEUE_FLAG_ADD_RANDOM, q);
	return disk;
#endif
}

/*
 * How many requests @q made and has not ended (*n), counted as the tags in
 * use: the scheduler's when it has one (a request holds one from when it is
 * made to its end, the driver's tag only while dispatched), the driver's
 * else. struct blk_mq_tags is in <linux/blk-mq.h> since 5.16. The scheduler
 * and its tags change under q->sysfs_lock (up to 6.15): false when someone
 * holds it (a scheduler change, which waits for these very requests), so
 * that this never waits nor reads tags being freed.
 */
static inline bool memx_queue_requests(struct request_queue *q, unsigned int *n)
{
	struct blk_mq_hw_ctx *hctx;
	unsigned long i;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#error "port memx_queue_requests(): the scheduler's tags are under q->elevator_lock"
#endif
	if (!mutex_trylock(&q->sysfs_lock))
		return false;
	*n = 0;
	queue_for_each_hw_ctx(q, hctx, i) {
		struct blk_mq_tags *tags = q->elevator ? hctx->sched_tags : hctx->tags;

		if (tags)
			*n += sbitmap_weight(&tags->bitmap_tags.sb);
	}
	mutex_unlock(&q->sysfs_lock);
	return true;
}

#endif /* MEMX_COMPAT_H */
