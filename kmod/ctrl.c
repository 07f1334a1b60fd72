// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko control commands and the volume registry: GET_FEATURES, ADD_DEV,
 * START_DEV, DEL_DEV, GET_INFO, BIND_QUEUE, and the volume lifetime.
 *
 * Theory of operation
 * -------------------
 * ADD_DEV validates a local copy of struct memx_dev_params, allocates the
 * volume (struct memx_dev) and one area per queue (queue.c; charged to the
 * caller's memory cgroup, allocated before memx_devs_lock is taken), takes
 * an id from memx_devs (an IDR, so ids are also looked up) and makes the
 * calling fd the owner, recording the caller's thread group. BIND_QUEUE looks
 * the volume up and makes the calling fd serve one of its queues (the queue
 * itself is queue.c's); only a thread of the owner's thread group may bind
 * (-EPERM), so no other process can take over a volume's queues before
 * START. (main.c requires CAP_SYS_ADMIN for both.) START_DEV (owner only,
 * every queue bound) adds /dev/memxN (blk.c). DEL_DEV (owner only) deletes
 * the disk unless it is open (-EBUSY), releases the id and marks the volume
 * dead so queue fds see EPOLLHUP. Every lookup in memx_devs is in this file.
 *
 * Death: when the owner fd is closed, memx_dev_kill() marks the volume dead and
 * fails every request the engine holds; remove_work (on memx_wq) then removes
 * the disk if nobody has it open, else the last close of /dev/memxN queues it
 * again. The volume memory lives until the last kref (see memx.h) is put.
 *
 * Locking: see memx_devs_lock below.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/ctype.h>
#include <linux/idr.h>
#include <linux/log2.h>
#include <linux/overflow.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "memx.h"

/*
 * memx_devs_lock (mutex) protects memx_devs, md->started/removed, queue
 * binding (mq->bound) and the role of a memx_file while it is set from NONE.
 * md->lock (spinlock) protects open_count/removing against the bdev
 * open/release paths, which run under disk->open_mutex and so must never take
 * memx_devs_lock (del_gendisk takes open_mutex under it).
 */
DEFINE_MUTEX(memx_devs_lock);
static DEFINE_IDR(memx_devs);	/* id -> struct memx_dev, under memx_devs_lock */

static void memx_dev_release(struct kref *ref)
{
	struct memx_dev *md = container_of(ref, struct memx_dev, ref);
	unsigned int i;

	for (i = 0; i < md->params.nr_queues; i++)
		memx_queue_free(&md->queues[i]);
	put_pid(md->owner_tgid);
	kfree(md);
}

void memx_dev_put(struct memx_dev *md)
{
	kref_put(&md->ref, memx_dev_release);
}

/* memx_devs_lock held; returns the volume without taking a reference. */
static struct memx_dev *memx_dev_find_locked(int id)
{
	lockdep_assert_held(&memx_devs_lock);
	if (id < 0 || id >= MEMX_MAX_DEVS)
		return NULL;
	return idr_find(&memx_devs, id);
}

/*
 * Mark the volume dead and fail every request the engine holds. Idempotent.
 * After this queue_rq fails at once, poll reports EPOLLERR|EPOLLHUP and
 * COMMIT returns -ENODEV.
 */
void memx_dev_kill(struct memx_dev *md)
{
	unsigned int i;

	WRITE_ONCE(md->dead, true);
	smp_mb();	/* pairs with the barrier in memx_queue_submit() */
	for (i = 0; i < md->params.nr_queues; i++)
		memx_queue_abort(&md->queues[i]);
}

/*
 * Delete the disk (if started), kill the volume and release its id.
 * memx_devs_lock held. Returns 0, or -EBUSY if /dev/memxN is open.
 * May drop the last reference: callers must hold their own.
 */
int memx_dev_remove(struct memx_dev *md)
{
	lockdep_assert_held(&memx_devs_lock);
	if (md->removed)
		return 0;
	if (md->started) {
		spin_lock(&md->lock);
		if (md->open_count) {
			spin_unlock(&md->lock);
			return -EBUSY;
		}
		md->removing = true;	/* refuse new opens */
		spin_unlock(&md->lock);
		memx_recovery_abandon(md);	/* held requests fail: del_gendisk waits for them */
		memx_blk_del_disk(md);	/* waits for in-flight I/O */
	}
	memx_dev_kill(md);
	md->removed = true;
	idr_remove(&memx_devs, md->id);
	pr_info("memx%d removed\n", md->id);
	memx_dev_put(md);	/* the registry's reference */
	return 0;
}

static void memx_dev_remove_work(struct work_struct *work)
{
	struct memx_dev *md = container_of(work, struct memx_dev, remove_work);

	mutex_lock(&memx_devs_lock);
	/* -EBUSY: the last close of /dev/memxN queues this again. */
	memx_dev_remove(md);
	mutex_unlock(&memx_devs_lock);
	memx_dev_put(md);	/* the work's reference */
}

void memx_dev_queue_remove(struct memx_dev *md)
{
	if (!queue_work(memx_wq, &md->remove_work))
		memx_dev_put(md);	/* already queued: it holds a ref */
}

/*
 * Whether @mf still speaks for its volume's engine: not when the engine it
 * belonged to has left (recovery.c). Checked under memx_devs_lock, where gen
 * moves.
 */
bool memx_file_current(struct memx_file *mf)
{
	bool cur;

	mutex_lock(&memx_devs_lock);
	cur = !memx_file_stale(mf);
	mutex_unlock(&memx_devs_lock);
	return cur;
}

/* The owner fd is being closed: the engine is gone or done. */
void memx_ctrl_owner_release(struct memx_file *mf)
{
	struct memx_dev *md = mf->md;

	if (!memx_file_current(mf))
		return;	/* an engine that left: the volume is someone else's now */
	if (!READ_ONCE(md->removed) && !READ_ONCE(md->dead))
		pr_warn("memx%d: owner closed, failing I/O and removing\n", md->id);
	memx_dev_kill(md);
	kref_get(&md->ref);
	memx_dev_queue_remove(md);
}

/*
 * The thread group that set @mf's role has exited (main.c's flush), though
 * copies of the fd may live on in its children: the engine is gone. Kill what
 * the fd owns or serves now, as its last close would. Idempotent; the last
 * close runs the same again.
 */
void memx_ctrl_flush(struct memx_file *mf)
{
	int role = smp_load_acquire(&mf->role);
	bool orphaned = false;

	/* A volume that outlives its engine waits for the next one (recovery.c). */
	if (role != MEMX_FILE_NONE) {
		mutex_lock(&memx_devs_lock);
		if (!memx_file_stale(mf) && memx_recovery_wanted(mf->md)) {
			memx_recovery_orphan(mf->md);
			orphaned = true;
		}
		mutex_unlock(&memx_devs_lock);
	}
	if (orphaned)
		return;	/* every fd of the engine that left is stale now */
	switch (role) {
	case MEMX_FILE_OWNER:
		memx_ctrl_owner_release(mf);
		break;
	case MEMX_FILE_QUEUE:
		memx_queue_release(mf);
		break;
	default:
		break;
	}
}

/* "" or [A-Za-z0-9_.-]+, NUL-terminated and NUL-padded within MEMX_NAME_LEN. */
static bool memx_name_valid(const char *name)
{
	unsigned int i, len = strnlen(name, MEMX_NAME_LEN);

	if (len == MEMX_NAME_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum(name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
			return false;
	for (; i < MEMX_NAME_LEN; i++)
		if (name[i])
			return false;
	return true;
}

/*
 * memx_devs_lock held: the volume named @name (not ""), or NULL. A dead one
 * waiting for its last opener to close lets its name go: a new engine may
 * make a new volume of that name meanwhile.
 */
static struct memx_dev *memx_dev_find_name_locked(const char *name)
{
	struct memx_dev *md;
	int id;

	lockdep_assert_held(&memx_devs_lock);
	idr_for_each_entry(&memx_devs, md, id)
		if (!READ_ONCE(md->dead) && !strncmp(md->params.name, name, MEMX_NAME_LEN))
			return md;
	return NULL;
}

/* Returns 0 or -errno; fills @l for valid params. */
static int memx_validate_params(const struct memx_dev_params *p,
				struct memx_queue_layout *l)
{
	u64 ring_bytes, desc_bytes, per_queue, total;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p->reserved); i++)
		if (p->reserved[i])
			return -EINVAL;
	if (p->flags & ~MEMX_F_ALL)
		return -EINVAL;
	if (!p->size_bytes || p->size_bytes > MEMX_MAX_DEV_BYTES ||
	    p->size_bytes % MEMX_BLOCK_SIZE)
		return -EINVAL;
	if (!p->nr_queues || p->nr_queues > MEMX_MAX_QUEUES)
		return -EINVAL;
	/* Polled I/O needs its own queues, and everything else at least one. */
	if ((p->flags & MEMX_F_POLL_QUEUES) ?
	    !p->nr_poll_queues || p->nr_poll_queues >= p->nr_queues : p->nr_poll_queues)
		return -EINVAL;
	if (!p->queue_depth || p->queue_depth > MEMX_MAX_DEPTH)
		return -EINVAL;
	if (p->max_io_bytes < MEMX_MIN_IO_BYTES || p->max_io_bytes > MEMX_MAX_IO_BYTES ||
	    !is_power_of_2(p->max_io_bytes))
		return -EINVAL;
	if (p->io_timeout_ms && (p->io_timeout_ms < MEMX_MIN_TIMEOUT_MS ||
				 p->io_timeout_ms > MEMX_MAX_TIMEOUT_MS))
		return -EINVAL;
	if (p->dev_id != -1 && (p->dev_id < 0 || p->dev_id >= MEMX_MAX_DEVS))
		return -EINVAL;
	if (!memx_name_valid(p->name))
		return -EINVAL;
	if (p->recovery_timeout_ms && (!p->name[0] || p->recovery_timeout_ms < MEMX_MIN_TIMEOUT_MS ||
				       p->recovery_timeout_ms > MEMX_MAX_RECOVERY_MS))
		return -EINVAL;
	if (p->attach != MEMX_ADD_NEW &&
	    (p->attach != MEMX_ADD_ATTACH || !p->name[0] || p->dev_id != -1))
		return -EINVAL;

	memset(l, 0, sizeof(*l));
	l->ring_entries = roundup_pow_of_two(p->queue_depth);
	l->queue_depth = p->queue_depth;
	ring_bytes = PAGE_ALIGN(sizeof(struct memx_sq_ring) +
				(u64)l->ring_entries * sizeof(__u32));
	desc_bytes = PAGE_ALIGN((u64)p->queue_depth * sizeof(struct memx_io_desc));
	l->ring_offset = 0;
	l->desc_offset = ring_bytes;
	l->buf_offset = ring_bytes + desc_bytes;
	l->buf_stride = p->max_io_bytes;
	per_queue = PAGE_ALIGN(l->buf_offset + (u64)p->queue_depth * p->max_io_bytes);
	l->total_bytes = per_queue;
	total = per_queue * p->nr_queues;
	if (total > (u64)memx_max_dev_mem_mb << 20)
		return -E2BIG;	/* raise module param max_dev_mem_mb */
	return 0;
}

static struct memx_dev *memx_dev_alloc(const struct memx_dev_params *p,
				       const struct memx_queue_layout *l)
{
	struct memx_dev *md;
	unsigned int i;

	md = kzalloc(struct_size(md, queues, p->nr_queues), GFP_KERNEL_ACCOUNT);
	if (!md)
		return NULL;
	kref_init(&md->ref);	/* the registry's reference */
	md->id = -1;
	md->params = *p;
	if (!md->params.io_timeout_ms)
		md->params.io_timeout_ms = MEMX_DEFAULT_TIMEOUT_MS;
	md->layout = *l;
	md->owner_tgid = get_pid(task_tgid(current));
	WRITE_ONCE(md->engine_pid, task_tgid_nr(current));
	spin_lock_init(&md->lock);
	INIT_WORK(&md->remove_work, memx_dev_remove_work);
	memx_recovery_init(md);
	for (i = 0; i < p->nr_queues; i++) {
		if (memx_queue_alloc(md, &md->queues[i], i))
			goto out_put;
	}
	return md;

out_put:
	memx_dev_put(md);	/* frees the queues allocated so far */
	return NULL;
}

/* @mf (role NONE) becomes the owner fd of @md, for md->owner_tgid. memx_devs_lock held. */
void memx_file_make_owner(struct memx_file *mf, struct memx_dev *md, struct file *file)
{
	lockdep_assert_held(&memx_devs_lock);
	md->owner = file;
	kref_get(&md->ref);	/* the owner fd's reference */
	mf->md = md;
	mf->gen = md->gen;
	mf->tgid = get_pid(md->owner_tgid);
	smp_store_release(&mf->role, MEMX_FILE_OWNER);
}

static bool memx_same_geometry(const struct memx_dev_params *a, const struct memx_dev_params *b)
{
	return a->size_bytes == b->size_bytes && a->flags == b->flags &&
	       a->nr_queues == b->nr_queues && a->queue_depth == b->queue_depth &&
	       a->max_io_bytes == b->max_io_bytes && a->nr_poll_queues == b->nr_poll_queues;
}

/*
 * ADD_DEV with MEMX_ADD_ATTACH: @mf becomes the owner of the orphaned volume
 * named p->name (recovery.c). -ENOENT: no such volume (or it died); -EBUSY:
 * its engine lives, or another one attached first; -EINVAL: not the same
 * geometry (size, flags, queues, depth, max_io).
 */
static long memx_ctrl_attach(struct memx_file *mf, struct file *file,
			     struct memx_dev_params *p, void __user *argp)
{
	struct memx_dev *md;
	int ret = 0;

	mutex_lock(&memx_devs_lock);
	if (mf->role != MEMX_FILE_NONE) {
		ret = -EBUSY;
		goto out_unlock;
	}
	md = memx_dev_find_name_locked(p->name);
	if (!md || md->removed || READ_ONCE(md->dead)) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!md->orphaned || md->owner) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (!memx_same_geometry(&md->params, p)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	p->dev_id = md->id;
	if (copy_to_user(argp, p, sizeof(*p))) {
		ret = -EFAULT;
		goto out_unlock;
	}
	ret = memx_recovery_adopt(md, mf, file);
	if (ret)
		goto out_unlock;
	/* The new engine's deadlines from now on. */
	md->params.io_timeout_ms = p->io_timeout_ms ?: MEMX_DEFAULT_TIMEOUT_MS;
	md->params.recovery_timeout_ms = p->recovery_timeout_ms;
out_unlock:
	mutex_unlock(&memx_devs_lock);
	return ret;
}

/*
 * MEMX_CTRL_ADD_DEV: 0 or -errno (-EBUSY if this fd already owns or serves,
 * -ENOMEM also when the caller's memory cgroup cannot hold the queue areas).
 */
long memx_ctrl_add_dev(struct memx_file *mf, struct file *file, void __user *argp)
{
	struct memx_dev_params p;
	struct memx_queue_layout l;
	struct memx_dev *md;
	int ret, id;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	ret = memx_validate_params(&p, &l);
	if (ret)
		return ret;
	if (smp_load_acquire(&mf->role) != MEMX_FILE_NONE)
		return -EBUSY;	/* early out; checked again under the lock */
	if (p.attach == MEMX_ADD_ATTACH)
		return memx_ctrl_attach(mf, file, &p, argp);

	/* Up to max_dev_mem_mb of pages: not under the registry lock. */
	md = memx_dev_alloc(&p, &l);
	if (!md)
		return -ENOMEM;

	mutex_lock(&memx_devs_lock);
	if (mf->role != MEMX_FILE_NONE) {
		ret = -EBUSY;	/* one volume per owner fd; bound fds serve */
		goto out_unlock;
	}
	if ((p.dev_id >= 0 && idr_find(&memx_devs, p.dev_id)) ||
	    (p.name[0] && memx_dev_find_name_locked(p.name))) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (p.dev_id >= 0)
		id = idr_alloc(&memx_devs, md, p.dev_id, p.dev_id + 1, GFP_KERNEL);
	else
		id = idr_alloc(&memx_devs, md, 0, MEMX_MAX_DEVS, GFP_KERNEL);
	if (id < 0) {
		ret = id;	/* -ENOSPC: MEMX_MAX_DEVS volumes exist */
		goto out_unlock;
	}
	md->id = id;
	p.dev_id = id;
	if (copy_to_user(argp, &p, sizeof(p))) {
		ret = -EFAULT;
		goto out_idr_remove;
	}
	memx_file_make_owner(mf, md, file);
	mutex_unlock(&memx_devs_lock);
	pr_info("memx%d added: %llu bytes, %u queues x %u, max_io %u\n", id,
		p.size_bytes, p.nr_queues, p.queue_depth, p.max_io_bytes);
	return 0;

out_idr_remove:
	idr_remove(&memx_devs, id);
out_unlock:
	mutex_unlock(&memx_devs_lock);
	memx_dev_put(md);	/* never published: frees it, outside the lock */
	return ret;
}

/*
 * MEMX_IO_BIND_QUEUE. Returns 0, -EFAULT, -EINVAL (reserved, dev_id or
 * queue_id out of range), -ENODEV (no such volume, or dead), -EPERM (the
 * caller is not in the thread group that added the volume), -EBUSY (this fd
 * already owns or serves, or the queue is already bound).
 */
long memx_ctrl_bind_queue(struct memx_file *mf, void __user *argp)
{
	struct memx_queue_bind b;
	struct memx_dev *md;
	struct memx_queue *mq;
	int ret = 0;

	if (copy_from_user(&b, argp, sizeof(b)))
		return -EFAULT;
	if (b.reserved || b.dev_id < 0 || b.dev_id >= MEMX_MAX_DEVS)
		return -EINVAL;

	mutex_lock(&memx_devs_lock);
	if (mf->role != MEMX_FILE_NONE) {
		ret = -EBUSY;
		goto out_unlock;
	}
	md = memx_dev_find_locked(b.dev_id);
	if (!md || READ_ONCE(md->dead)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (md->owner_tgid != task_tgid(current)) {
		ret = -EPERM;	/* only the engine that added the volume serves it */
		goto out_unlock;
	}
	if (b.queue_id >= md->params.nr_queues) {
		ret = -EINVAL;
		goto out_unlock;
	}
	mq = &md->queues[b.queue_id];
	if (mq->bound) {
		ret = -EBUSY;
		goto out_unlock;
	}
	WRITE_ONCE(mq->last_progress, jiffies);
	mq->bound = true;
	kref_get(&md->ref);	/* the queue fd's reference */
	mf->md = md;
	mf->mq = mq;
	mf->gen = md->gen;
	mf->tgid = get_pid(md->owner_tgid);
	smp_store_release(&mf->role, MEMX_FILE_QUEUE);
out_unlock:
	mutex_unlock(&memx_devs_lock);
	return ret;
}

/* memx_devs_lock held. */
static void memx_fill_info(struct memx_dev *md, struct memx_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	info->dev_id = md->id;
	if (md->removed || READ_ONCE(md->dead))
		info->state = MEMX_S_DEAD;
	else if (md->orphaned)
		info->state = MEMX_S_RECOVERING;
	else if (md->started)
		info->state = MEMX_S_LIVE;
	else
		info->state = MEMX_S_NEW;
	info->nr_queues = md->params.nr_queues;
	info->queue_depth = md->params.queue_depth;
	info->max_io_bytes = md->params.max_io_bytes;
	spin_lock(&md->lock);
	info->open_count = md->open_count;
	spin_unlock(&md->lock);
	info->size_bytes = md->params.size_bytes;
	memcpy(info->name, md->params.name, sizeof(info->name));
	info->recovery_timeout_ms = md->params.recovery_timeout_ms;
	if (md->orphaned && time_before(jiffies, md->recovery_deadline))
		info->recovery_left_ms = jiffies_to_msecs(md->recovery_deadline - jiffies);
	if (info->state != MEMX_S_RECOVERING)
		info->info_flags |= MEMX_INFO_F_HELD;	/* none held */
	else if (memx_recovery_held(md, &info->held_requests))
		info->info_flags |= MEMX_INFO_F_HELD;
}

/*
 * Copy in and check a memx_dev_info: reserved must be zero, dev_id in range
 * (-EINVAL); the out fields are ignored on input (callers pass back what the
 * last call filled in, new fields too).
 */
static int memx_get_info_arg(struct memx_dev_info *info, void __user *argp)
{
	if (copy_from_user(info, argp, sizeof(*info)))
		return -EFAULT;
	if (info->reserved)
		return -EINVAL;
	if (info->dev_id < 0 || info->dev_id >= MEMX_MAX_DEVS)
		return -EINVAL;
	return 0;
}

static int memx_ctrl_start(struct memx_dev *md)
{
	unsigned int i;
	int ret;

	if (md->started && !md->orphaned)
		return -EBUSY;
	if (READ_ONCE(md->dead))
		return -ENODEV;
	for (i = 0; i < md->params.nr_queues; i++) {
		if (!md->queues[i].bound)
			return -EAGAIN;	/* bind every queue first */
		if (READ_ONCE(md->queues[i].dead))
			return -EIO;	/* a queue fd was closed: re-ADD */
	}
	if (md->orphaned) {
		memx_recovery_resume(md);	/* a new engine took over: run the held requests */
		return 0;
	}
	ret = memx_blk_add_disk(md);
	if (ret) {
		pr_err_ratelimited("memx%d: cannot add disk: %d\n", md->id, ret);
		return ret;
	}
	pr_info("memx%d started\n", md->id);
	return 0;
}

/* START_DEV on @md: memx_devs_lock held, caller is the owner. */
static int memx_start_locked(struct memx_dev *md, struct memx_dev_info *info)
{
	int ret = memx_ctrl_start(md);

	memx_fill_info(md, info);
	return ret;
}

/* DEL_DEV on @md: memx_devs_lock held, caller is the owner. */
static int memx_del_locked(struct memx_dev *md, struct memx_dev_info *info)
{
	int ret;

	memx_fill_info(md, info);
	/* The owner fd holds a reference: md stays valid. */
	ret = memx_dev_remove(md);
	if (!ret)
		info->state = MEMX_S_DEAD;
	return ret;
}

static int memx_info_locked(struct memx_dev *md, struct memx_dev_info *info)
{
	memx_fill_info(md, info);
	return 0;
}

/*
 * The commands on a struct memx_dev_info: look the volume up (-ENODEV), check
 * that @mf owns it if @owner_only (-EBADFD), run @fn under memx_devs_lock and
 * copy the info back if it succeeded.
 */
static long memx_ctrl_dev_cmd(struct memx_file *mf, void __user *argp, bool owner_only,
			      int (*fn)(struct memx_dev *md, struct memx_dev_info *info))
{
	struct memx_dev_info info;
	struct memx_dev *md;
	int ret;

	ret = memx_get_info_arg(&info, argp);
	if (ret)
		return ret;

	mutex_lock(&memx_devs_lock);
	md = memx_dev_find_locked(info.dev_id);
	if (!md) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (owner_only &&
	    (smp_load_acquire(&mf->role) != MEMX_FILE_OWNER || mf->md != md ||
	     memx_file_stale(mf))) {
		ret = -EBADFD;	/* only the owner fd starts or deletes */
		goto out_unlock;
	}
	ret = fn(md, &info);
out_unlock:
	mutex_unlock(&memx_devs_lock);
	if (!ret && copy_to_user(argp, &info, sizeof(info)))
		ret = -EFAULT;
	return ret;
}

long memx_ctrl_start_dev(struct memx_file *mf, void __user *argp)
{
	return memx_ctrl_dev_cmd(mf, argp, true, memx_start_locked);
}

long memx_ctrl_del_dev(struct memx_file *mf, void __user *argp)
{
	return memx_ctrl_dev_cmd(mf, argp, true, memx_del_locked);
}

long memx_ctrl_get_info(struct memx_file *mf, void __user *argp)
{
	return memx_ctrl_dev_cmd(mf, argp, false, memx_info_locked);
}

long memx_ctrl_get_features(void __user *argp)
{
	struct memx_features f;

	memset(&f, 0, sizeof(f));
	f.abi_version = MEMX_ABI_VERSION;
	f.max_queues = MEMX_MAX_QUEUES;
	f.max_depth = MEMX_MAX_DEPTH;
	f.max_io_bytes = MEMX_MAX_IO_BYTES;
	f.features = MEMX_F_ALL;
	return copy_to_user(argp, &f, sizeof(f)) ? -EFAULT : 0;
}

void memx_ctrl_exit(void)
{
	/* Every volume has an open owner fd or a queued remove_work until removed. */
	WARN_ON(!idr_is_empty(&memx_devs));
	idr_destroy(&memx_devs);
}
