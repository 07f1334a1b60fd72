/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memx.ko private definitions: one struct memx_dev per volume, one
 * struct memx_queue per hardware queue, one struct memx_io per tag, the
 * per-open-file state of /dev/memx-control (struct memx_file), and the
 * functions the files share (each file's header says what it does).
 *
 * Lifetime (see include/memx/uapi.h for the user-visible side):
 *   md->ref is a kref. Holders: the registry (id in memx_devs, dropped by
 *   memx_dev_remove()), the owner fd, every bound queue fd, the started disk
 *   (dropped in memx_dev_remove() after put_disk) and a queued remove_work.
 *   Everything (queue areas, io arrays, md) is freed at the last put.
 */
#ifndef MEMX_KMOD_H
#define MEMX_KMOD_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/blk-mq.h>
#include <memx/uapi.h>

#define MEMX_DEFAULT_TIMEOUT_MS	30000
#define MEMX_MAX_DISCARD_BYTES	(1U << 30)	/* so desc.nr_bytes fits a u32 */

struct file;
struct gendisk;

/* Per-tag state; changed only with atomic_cmpxchg so one side completes. */
enum memx_io_state {
	MEMX_IO_IDLE = 0,	/* not handed to the engine: kernel owns the tag */
	MEMX_IO_OWNED = 1,	/* in the ring / being served: engine owns buffer[tag] */
};

struct memx_io {
	atomic_t state;			/* enum memx_io_state */
	bool warned;			/* timeout already reported for this request */
	bool withheld;			/* fault injection: kept out of the ring */
	struct request *rq;		/* valid while state == MEMX_IO_OWNED */
};

/* Zeroed pages vmap()ed for the kernel and mapped to the engine (queue.c). */
struct memx_area {
	void *vaddr;			/* layout.total_bytes */
	struct page **pages;		/* [nr_pages], charged to the allocator's memcg */
	unsigned int nr_pages;
};

struct memx_queue {
	struct memx_dev *md;
	unsigned int id;
	bool bound;			/* under memx_devs_lock; never reset */
	bool dead;			/* READ_ONCE/WRITE_ONCE: fail everything */
	bool polled;			/* serves polled I/O (HCTX_TYPE_POLL) */
	atomic_t polled_done;		/* requests ended since the last ->poll() */
	unsigned long last_progress;	/* jiffies: bound, or the engine's last commit */
	spinlock_t sq_lock;		/* serialises ring producers (queue_rq) */
	u32 sq_tail;			/* kernel's copy of ring->tail */
	wait_queue_head_t wait;		/* poll() of the bound fd */
	struct memx_area area;		/* ring, descriptors and buffers, in it: */
	struct memx_sq_ring *ring;
	struct memx_io_desc *desc;
	u8 *buf;
	struct memx_io *ios;		/* [depth] */
};

struct memx_dev {
	struct kref ref;
	int id;
	struct memx_dev_params params;	/* validated copy */
	struct memx_queue_layout layout;	/* same for every queue */
	struct file *owner;		/* identity only, never dereferenced */
	struct pid *owner_tgid;		/* ADD_DEV caller's thread group: binds queues */
	pid_t engine_pid;		/* its number (0: none), for sysfs; WRITE_ONCE */

	/* Under memx_devs_lock. */
	bool started;			/* disk added (until removed) */
	bool removed;			/* id released, disk deleted */

	/* Under lock (spinlock: taken from bdev open/release). */
	spinlock_t lock;
	unsigned int open_count;	/* openers of /dev/memxN */
	bool removing;			/* refuse new opens: disk is being deleted */

	bool dead;			/* READ_ONCE/WRITE_ONCE */

	/*
	 * Engine restart (recovery.c). Under memx_devs_lock, read with
	 * READ_ONCE elsewhere: orphaned while no engine serves a started
	 * volume (queues quiesced, recovery_work pending); gen counts the
	 * engines that left, so their fds (memx_file.gen) are told apart.
	 */
	bool orphaned;
	unsigned int gen;
	unsigned long recovery_deadline;	/* jiffies: when recovery_work fires */
	struct delayed_work recovery_work;
	/*
	 * The engine that left may be alive (deposed for missing its deadline)
	 * and still map the queue areas: the next engine gets new ones.
	 */
	bool areas_mapped_by_old;
	struct work_struct depose_work;	/* a queue's timeout found the engine stuck */

	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
	struct work_struct remove_work;

	struct memx_queue queues[];	/* [nr_queues] */
};

/* Role of a /dev/memx-control open file; set once, from NONE. */
enum memx_file_role {
	MEMX_FILE_NONE = 0,
	MEMX_FILE_OWNER,		/* did ADD_DEV: owns md */
	MEMX_FILE_QUEUE,		/* did BIND_QUEUE: serves mq */
};

struct memx_file {
	int role;			/* smp_store_release / smp_load_acquire */
	struct memx_dev *md;		/* set before role */
	struct memx_queue *mq;		/* MEMX_FILE_QUEUE only */
	struct pid *tgid;		/* set before role: thread group that set it */
	unsigned int gen;		/* md->gen when the role was set */
};

/* The engine this fd belonged to has left the volume (recovery.c): the fd is dead. */
static inline bool memx_file_stale(const struct memx_file *mf)
{
	return mf->gen != READ_ONCE(mf->md->gen);
}

/* main.c */
extern struct workqueue_struct *memx_wq;
extern unsigned int memx_max_dev_mem_mb;

/* ctrl.c: the registry (memx_devs, memx_devs_lock) and the control commands */
extern struct mutex memx_devs_lock;
int memx_dev_remove(struct memx_dev *md);	/* memx_devs_lock held */
void memx_ctrl_exit(void);
void memx_dev_put(struct memx_dev *md);
void memx_dev_queue_remove(struct memx_dev *md);	/* consumes a ref */
long memx_ctrl_get_features(void __user *argp);
long memx_ctrl_add_dev(struct memx_file *mf, struct file *file, void __user *argp);
long memx_ctrl_start_dev(struct memx_file *mf, void __user *argp);
long memx_ctrl_del_dev(struct memx_file *mf, void __user *argp);
long memx_ctrl_get_info(struct memx_file *mf, void __user *argp);
long memx_ctrl_bind_queue(struct memx_file *mf, void __user *argp);
void memx_ctrl_owner_release(struct memx_file *mf);
bool memx_file_current(struct memx_file *mf);
void memx_file_make_owner(struct memx_file *mf, struct memx_dev *md, struct file *file);
void memx_ctrl_flush(struct memx_file *mf);
void memx_dev_kill(struct memx_dev *md);

/* recovery.c: engine restart; every call with memx_devs_lock held */
void memx_recovery_init(struct memx_dev *md);
bool memx_recovery_wanted(struct memx_dev *md);
void memx_recovery_orphan(struct memx_dev *md);
int memx_recovery_adopt(struct memx_dev *md, struct memx_file *mf, struct file *file);
void memx_recovery_resume(struct memx_dev *md);
void memx_recovery_abandon(struct memx_dev *md);
bool memx_recovery_depose(struct memx_queue *mq);	/* from a timeout; no lock */
bool memx_recovery_held(struct memx_dev *md, u32 *held);	/* orphaned */

/* sysfs.c: /sys/block/memxN/memx/ */
extern const struct attribute_group *memx_disk_groups[];

/* blk.c */
int memx_blk_add_disk(struct memx_dev *md);
void memx_blk_del_disk(struct memx_dev *md);

/* queue.c */
int memx_queue_alloc(struct memx_dev *md, struct memx_queue *mq, unsigned int id);
void memx_queue_free(struct memx_queue *mq);
int memx_queue_renew_area(struct memx_queue *mq);
void memx_queue_abort(struct memx_queue *mq);
long memx_queue_get_layout(struct memx_file *mf, void __user *argp);
long memx_queue_commit(struct memx_file *mf, void __user *argp);
void memx_queue_release(struct memx_file *mf);
int memx_queue_mmap(struct memx_file *mf, struct vm_area_struct *vma);
__poll_t memx_queue_poll(struct memx_file *mf, struct file *file,
			 struct poll_table_struct *pt);
blk_status_t memx_queue_submit(struct memx_queue *mq, struct request *rq);
enum blk_eh_timer_return memx_queue_timeout(struct memx_queue *mq,
					    struct request *rq);

/*
 * fault.c: fault injection points, true when a fault should be injected.
 * Compiled in only when built with MEMX_FAULT_INJECTION (meson
 * -Dfault_injection=true; self-contained, no CONFIG_FAULT_INJECTION needed);
 * otherwise constant false, so callers need no #ifdef.
 */
#ifdef MEMX_FAULT_INJECTION
bool memx_fault_submit(void);	/* fail a request before the engine sees it */
bool memx_fault_commit(void);	/* turn an engine's result into -EIO */
bool memx_fault_timeout(void);	/* withhold a request so that it times out */
#else
static inline bool memx_fault_submit(void) { return false; }
static inline bool memx_fault_commit(void) { return false; }
static inline bool memx_fault_timeout(void) { return false; }
#endif

static inline bool memx_queue_is_dead(struct memx_queue *mq)
{
	return READ_ONCE(mq->dead) || READ_ONCE(mq->md->dead);
}

/*
 * Ends a request the engine held. A submitter spinning in memx_poll() on a
 * polled queue returns once it sees the count move.
 */
static inline void memx_end_request(struct memx_queue *mq, struct request *rq,
				    blk_status_t sts)
{
	blk_mq_end_request(rq, sts);
	if (mq->polled) {
		smp_mb__before_atomic();	/* the completion before the count */
		atomic_inc(&mq->polled_done);
	}
}

#endif /* MEMX_KMOD_H */
