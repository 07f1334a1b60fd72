/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * memx kernel <-> engine ABI.
 *
 * Everything goes through one misc device, /dev/memx-control (root only).
 *
 * Volume lifetime:
 *   1. MEMX_CTRL_ADD_DEV on a control fd creates volume N (tag set, per-queue
 *      buffers) but no disk yet. That fd OWNS the volume: when it is closed
 *      (engine exit or death) the volume is marked dead, every request it holds
 *      or receives later fails with EIO, and it is removed once nobody has
 *      /dev/memxN open.
 *   2. For each hardware queue q the engine opens /dev/memx-control again and
 *      calls MEMX_IO_BIND_QUEUE: that fd now serves queue q of volume N. It
 *      mmaps the queue area (struct memx_queue_layout) and polls for POLLIN.
 *      Closing a bound queue fd while the volume is live fails that queue's
 *      in-flight and later requests with EIO.
 *   3. MEMX_CTRL_START_DEV on the owner fd adds /dev/memxN once every queue is
 *      bound.
 *   4. MEMX_CTRL_DEL_DEV on the owner fd removes the disk; refused with EBUSY
 *      while /dev/memxN is open (mounted, swapon, or any opener).
 *
 * Request path, per queue:
 *   - The kernel takes a request with tag t, copies WRITE data into buffer t,
 *     fills desc[t], appends t to the submission ring and wakes pollers.
 *   - The engine consumes ring entries from its own head to ring->tail (reading
 *     tail with acquire semantics), publishes its head (used by the kernel only
 *     for poll readiness), does the I/O on buffer t, and commits results in
 *     batches with MEMX_IO_COMMIT. The kernel copies READ data out of buffer t
 *     and ends the request.
 *   - Each tag is in the ring at most once, so the ring (ring_entries >= depth)
 *     never overflows and the kernel never reads the engine's head for safety,
 *     as long as the engine commits only tags it has read from the ring. A
 *     commit of a tag still unread ends that request early; blk-mq may then
 *     reuse the tag and append it again, and the engine loses ring entries
 *     (their requests wait for the engine's death). memx.ko stays safe; such
 *     an engine does not.
 *
 * Engine restart (recovery_timeout_ms > 0, a named volume): when the thread
 * group that owns or serves a LIVE volume exits or dies, the volume is not
 * killed but orphaned (MEMX_S_RECOVERING): /dev/memxN stays, its queues stop
 * dispatching, every request the dead engine held is taken back and queued
 * again, and nothing fails for up to recovery_timeout_ms. A new engine calls
 * ADD_DEV with attach = MEMX_ADD_ATTACH, the same name and the same geometry:
 * its fd becomes the owner of the same volume (same dev_id), it binds every
 * queue again (rings start empty: head = tail = 0) and START_DEV lets the
 * held requests through. If nobody attaches in time the volume dies as
 * without recovery (EIO, then removal). An engine that closes its fds while
 * it lives (not at exit) kills the volume as before. An engine that holds
 * requests on a queue and commits nothing there for io_timeout_ms (stopped,
 * hung) is deposed: the volume is orphaned as if it had died, and the next
 * engine's queue mappings are new memory (the deposed one keeps its old
 * pages, which nobody reads any more); without recovery the volume dies.
 * The fds of the engine that left are dead for good (COMMIT and GET_LAYOUT:
 * -ENODEV, poll: EPOLLERR|EPOLLHUP).
 *
 * Who may do what: ADD_DEV, BIND_QUEUE, START_DEV and DEL_DEV need
 * CAP_SYS_ADMIN (EPERM otherwise); only the thread group that added a volume
 * may bind its queues (EPERM). The queue mapping is never executable (EPERM
 * for PROT_EXEC) and not inherited by fork(); when the thread group that owns
 * a volume or serves a queue exits, the volume or queue dies at once, as on
 * the last close, even if a forked child still holds the fd. Queue buffers
 * are charged to the caller's memory cgroup: ADD_DEV fails with ENOMEM past
 * its limit.
 *
 * Polled queues (MEMX_F_POLL_QUEUES): queues nr_queues - nr_poll_queues and up
 * serve polled I/O (io_uring IOPOLL, preadv2 RWF_HIPRI) and nothing else; the
 * others serve everything else. An engine serves both kinds the same way: the
 * submitter spins instead of sleeping, and sees the completion as soon as the
 * engine commits it, with no wake-up.
 */
#ifndef MEMX_UAPI_H
#define MEMX_UAPI_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define MEMX_ABI_VERSION	2
#define MEMX_CONTROL_NAME	"memx-control"
#define MEMX_DISK_NAME		"memx"		/* /dev/memx<N> */

/* Feature bits reported by GET_FEATURES and accepted in memx_dev_params.flags. */
#define MEMX_F_DISCARD		(1ULL << 0)	/* pass DISCARD to the engine */
#define MEMX_F_WRITE_ZEROES	(1ULL << 1)	/* pass WRITE_ZEROES (at most max_io_bytes each) to the engine */
#define MEMX_F_POLL_QUEUES	(1ULL << 2)	/* the last nr_poll_queues queues serve polled I/O */
#define MEMX_F_ALL		(MEMX_F_DISCARD | MEMX_F_WRITE_ZEROES | MEMX_F_POLL_QUEUES)

/* Limits the kernel enforces on memx_dev_params. */
#define MEMX_MAX_QUEUES		16
#define MEMX_MAX_DEPTH		256
#define MEMX_MIN_IO_BYTES	4096
#define MEMX_MAX_IO_BYTES	(1U << 20)
#define MEMX_BLOCK_SIZE		4096
#define MEMX_MAX_DEV_BYTES	(1ULL << 46)	/* 64 TiB */
#define MEMX_MAX_DEVS		64
#define MEMX_MIN_TIMEOUT_MS	1000
#define MEMX_MAX_TIMEOUT_MS	600000
#define MEMX_MAX_RECOVERY_MS	3600000	/* an hour */
#define MEMX_NAME_LEN		32	/* name[], with its NUL */

/* memx_dev_params.attach */
#define MEMX_ADD_NEW		0	/* a new volume */
#define MEMX_ADD_ATTACH		1	/* re-attach to the orphaned volume of this name */

/* Reported by MEMX_CTRL_GET_FEATURES. Written by the kernel. */
struct memx_features {
	__u32 abi_version;	/* MEMX_ABI_VERSION */
	__u32 max_queues;
	__u32 max_depth;
	__u32 max_io_bytes;
	__u64 features;		/* MEMX_F_* the kernel knows */
};

/* MEMX_CTRL_ADD_DEV argument. Written by the engine, dev_id and layout filled by the kernel. */
struct memx_dev_params {
	__u64 size_bytes;	/* multiple of MEMX_BLOCK_SIZE, > 0, <= MEMX_MAX_DEV_BYTES */
	__u64 flags;		/* MEMX_F_*, unknown bits rejected */
	__u32 nr_queues;	/* 1..MEMX_MAX_QUEUES */
	__u32 queue_depth;	/* 1..MEMX_MAX_DEPTH */
	__u32 max_io_bytes;	/* per-tag buffer, power of two, MIN..MAX_IO_BYTES */
	__u32 io_timeout_ms;	/* while it holds requests, the engine must commit one */
				/* within this, or the volume dies; 0 = default 30000 */
	__s32 dev_id;		/* in: -1 = any; out: N of /dev/memxN */
	__u32 nr_poll_queues;	/* MEMX_F_POLL_QUEUES: 1..nr_queues-1, else 0 */
	__u32 recovery_timeout_ms;	/* 0: the volume dies with its engine; else how long */
				/* it waits for a new one, 1000..MEMX_MAX_RECOVERY_MS; needs a name */
	__u32 attach;		/* MEMX_ADD_NEW or MEMX_ADD_ATTACH (dev_id must be -1) */
	char name[MEMX_NAME_LEN];	/* [A-Za-z0-9_.-], NUL-padded; "" = anonymous; */
				/* unique among volumes (-EEXIST) */
	__u64 reserved[4];	/* must be zero */
};

/* MEMX_CTRL_START_DEV / MEMX_CTRL_DEL_DEV / MEMX_CTRL_GET_INFO argument. */
struct memx_dev_info {
	__s32 dev_id;		/* in */
	__u32 state;		/* out: MEMX_S_* */
	__u32 nr_queues;	/* out */
	__u32 queue_depth;	/* out */
	__u32 max_io_bytes;	/* out */
	__u32 open_count;	/* out: openers of /dev/memxN */
	__u64 size_bytes;	/* out */
	char name[MEMX_NAME_LEN];	/* out: as ADD_DEV named it ("" = anonymous) */
	__u32 recovery_timeout_ms;	/* out: 0 = the volume dies with its engine */
	__u32 recovery_left_ms;	/* out, MEMX_S_RECOVERING: until requests fail */
	__u32 held_requests;	/* out, MEMX_INFO_F_HELD: MEMX_S_RECOVERING, the requests */
				/* that wait in memx.ko for the next engine; else 0 */
	__u32 info_flags;	/* out: MEMX_INFO_F_*, the out fields this memx.ko filled */
	__u64 reserved;		/* must be zero on input */
};

/*
 * GET_INFO grows into its reserved space: each out field added after ABI 2
 * comes with a bit in info_flags, so that a caller tells an older memx.ko
 * (which leaves both zero) from a value of zero. Like every out field they
 * are ignored on input: callers pass the last answer back (an older memx.ko
 * refuses them non-zero, but never returns them so). What is left of the
 * reserved space must be zero on input. Neither side needs the other's
 * version for that: MEMX_ABI_VERSION stays.
 */
#define MEMX_INFO_F_HELD	(1U << 0)	/* held_requests is filled */

/* Volume states. */
#define MEMX_S_NEW	0	/* added, waiting for queues and START */
#define MEMX_S_LIVE	1	/* /dev/memxN takes I/O */
#define MEMX_S_DEAD	2	/* engine gone: every request fails with EIO */
#define MEMX_S_RECOVERING 3	/* engine gone: requests held until one attaches */

/* MEMX_IO_BIND_QUEUE argument: binds the calling fd to one queue. */
struct memx_queue_bind {
	__s32 dev_id;
	__u32 queue_id;
	__u64 reserved;		/* must be zero */
};

/*
 * Where things are in a queue's mmap (offset 0 of a bound queue fd, length
 * total_bytes). Reported by MEMX_IO_GET_LAYOUT; all offsets page aligned.
 */
struct memx_queue_layout {
	__u64 ring_offset;	/* struct memx_sq_ring */
	__u64 desc_offset;	/* struct memx_io_desc[depth] */
	__u64 buf_offset;	/* depth buffers of buf_stride bytes; tag t at t * buf_stride */
	__u64 buf_stride;	/* = max_io_bytes */
	__u64 total_bytes;
	__u32 ring_entries;	/* power of two >= depth */
	__u32 queue_depth;
};

/* Submission ring. tail written by the kernel, head and flags by the engine. */
struct memx_sq_ring {
	__u32 tail;		/* kernel: index of the next free slot (free-running) */
	__u32 pad0[15];
	__u32 head;		/* engine: index of the next slot it will read (free-running) */
	__u32 flags;		/* engine: MEMX_RING_F_* */
	__u32 pad1[14];
	__u32 tags[];		/* ring_entries slots, index & (ring_entries - 1) */
};

/*
 * The engine is running and reads the ring again before it sleeps, so the
 * kernel need not wake it. The engine clears it, then (full barrier) reads
 * tail before it sleeps; the kernel publishes tail, then (full barrier) reads
 * the flag: one of the two always sees the other.
 */
#define MEMX_RING_F_AWAKE	(1U << 0)

/* Operations in memx_io_desc.op. */
#define MEMX_OP_READ		0
#define MEMX_OP_WRITE		1
#define MEMX_OP_FLUSH		2
#define MEMX_OP_DISCARD		3
#define MEMX_OP_WRITE_ZEROES	4

/* One request, desc[tag]. Written by the kernel before the tag enters the ring. */
struct memx_io_desc {
	__u8 op;		/* MEMX_OP_* */
	__u8 reserved0;
	__u16 flags;		/* MEMX_IO_F_*, none yet */
	__u32 nr_bytes;		/* multiple of MEMX_BLOCK_SIZE (0 for FLUSH) */
	__u64 offset;		/* byte offset in the volume, multiple of MEMX_BLOCK_SIZE */
};

/* One result in a MEMX_IO_COMMIT batch. */
struct memx_io_result {
	__u32 tag;
	__s32 result;		/* 0 or -errno (-EIO, -ENOSPC, -EOPNOTSUPP, ...) */
};

/* MEMX_IO_COMMIT argument. Returns the number of results taken, or -errno. */
struct memx_io_commit {
	__u32 nr;		/* 1..queue_depth */
	__u32 reserved0;	/* must be zero */
	__u64 results;		/* user pointer to struct memx_io_result[nr] */
};

#define MEMX_IOC_MAGIC		'x'
#define MEMX_CTRL_GET_FEATURES	_IOR(MEMX_IOC_MAGIC, 0x00, struct memx_features)
#define MEMX_CTRL_ADD_DEV	_IOWR(MEMX_IOC_MAGIC, 0x01, struct memx_dev_params)
#define MEMX_CTRL_START_DEV	_IOWR(MEMX_IOC_MAGIC, 0x02, struct memx_dev_info)
#define MEMX_CTRL_DEL_DEV	_IOWR(MEMX_IOC_MAGIC, 0x03, struct memx_dev_info)
#define MEMX_CTRL_GET_INFO	_IOWR(MEMX_IOC_MAGIC, 0x04, struct memx_dev_info)
#define MEMX_IO_BIND_QUEUE	_IOW(MEMX_IOC_MAGIC, 0x10, struct memx_queue_bind)
#define MEMX_IO_GET_LAYOUT	_IOR(MEMX_IOC_MAGIC, 0x11, struct memx_queue_layout)
#define MEMX_IO_COMMIT		_IOW(MEMX_IOC_MAGIC, 0x12, struct memx_io_commit)

#endif /* MEMX_UAPI_H */
