/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel backend: how the engine gets block requests from the kernel and
 * gives results back. Two implementations, as ublksrv separates its targets:
 *   - memx.ko (kb_memx.c over kdev.c): a shared submission ring, descriptors
 *     and per-tag buffers mapped from the module, batched MEMX_IO_COMMIT;
 *   - the kernel's own ublk (ublk.c over ublk_ctrl.c): io_uring URING_CMD
 *     fetch and commit per tag, descriptors mapped from /dev/ublkcN, the
 *     per-tag buffers the engine's own memory (ublk's copy model).
 * Either way, each tag of a queue has a buffer that the engine registers as
 * RDMA memory; queue.c and io.c see only struct memxd_kqueue and the ops.
 */
#ifndef MEMXD_KBACKEND_H
#define MEMXD_KBACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <memx/uapi.h>

struct io_uring_cqe;
struct memxd_client;
struct memxd_queue;
struct ublksrv_io_desc;

/* --kernel-backend */
enum memxd_kbackend_kind {
	MEMXD_KBACKEND_AUTO = 0,	/* memx.ko if loaded, else ublk if there */
	MEMXD_KBACKEND_MEMX,
	MEMXD_KBACKEND_UBLK,
};

#define MEMXD_UBLK_CONTROL_PATH	"/dev/ublk-control"

/* Parses "auto", "memx" or "ublk". Returns 0 or -EINVAL. */
int memxd_kbackend_parse(const char *arg, int *kind);
const char *memxd_kbackend_kind_name(int kind);
/*
 * What --kernel-backend `wanted` means on a host where memx.ko's control
 * device and /dev/ublk-control do or do not exist: MEMXD_KBACKEND_MEMX or
 * _UBLK, and *why in words for the log. Auto prefers memx.ko (it has polled
 * queues), then ublk; with neither it takes memx.ko, whose
 * error then says to load it.
 */
int memxd_kbackend_choose(int wanted, bool memx_present, bool ublk_present, const char **why);

/*
 * User data of a queue ring's completions that the backend owns (ublk's
 * fetch/commit commands: this bit and the tag); queue.c's own are below it.
 */
#define MEMXD_UD_KBACKEND	(1ULL << 32)

/* One kernel queue, as its engine thread sees it. */
struct memxd_kqueue {
	/* Filled by queue_open, the same for every backend. */
	uint32_t depth;			/* tags 0..depth-1 */
	uint32_t buf_stride;		/* tag t's buffer at buf + t * buf_stride */
	uint8_t *buf;			/* registered as RDMA memory by queue.c */
	int poll_fd;			/* POLLIN: new requests to take; -1: they come as CQEs */

	/* memx.ko */
	int fd;
	struct memx_queue_layout layout;
	void *area;			/* the mmap, layout.total_bytes long */
	struct memx_sq_ring *ring;
	struct memx_io_desc *desc;
	uint32_t head;			/* next submission ring slot to read */

	/* ublk */
	const struct ublksrv_io_desc *iod;	/* per-tag descriptors, mapped read-only */
	size_t iod_bytes;
	void *own_buf;			/* the buffers, ours: freed by queue_close */
	uint32_t aborted;		/* tags whose fetch ublk aborted (the device stops) */
};

struct memxd_kbackend {
	const char *name;		/* "memx" or "ublk", as in status */
	unsigned int ring_flags;	/* io_uring setup flags the queue ring needs */

	/* Control thread. Each returns 0 or -errno and logs what failed. */
	/*
	 * Makes the volume (not started) and sets c->dev_id, c->nr_queues and
	 * c->dev_path. With *resume, first takes over the volume a dead engine
	 * left; clears *resume if there is none.
	 */
	int (*create)(struct memxd_client *c, bool *resume);
	/* The volume takes I/O once this returns (queue threads run). */
	int (*start)(struct memxd_client *c);
	/*
	 * Removes the block device; -EBUSY while mounted or swap. Says what
	 * failed unless quiet (at exit, where the volume may be dead already).
	 */
	int (*remove)(struct memxd_client *c, bool quiet);
	/* True when the kernel killed the volume: nothing can serve it any more. */
	bool (*dead)(struct memxd_client *c);
	/*
	 * Optional, from a queue thread whose commit the kernel refused: when
	 * the kernel deposed this engine (a successor may serve the volume
	 * already), leaves the process at once without touching anything.
	 */
	void (*leave_if_deposed)(struct memxd_client *c);
	/* Last, after every queue was closed: gives back what create took. */
	void (*destroy)(struct memxd_client *c);
	int (*queue_open)(struct memxd_client *c, struct memxd_queue *q);
	void (*queue_close)(struct memxd_client *c, struct memxd_queue *q);

	/* Queue thread. */
	/* Before the first pass: ublk hands every tag's FETCH to the kernel. */
	int (*queue_prime)(struct memxd_queue *q);
	/* Starts every new request found without a CQE; returns how many. */
	unsigned int (*take_requests)(struct memxd_queue *q);
	/* A CQE with MEMXD_UD_KBACKEND; returns 1 if it started a request. */
	unsigned int (*take_cqe)(struct memxd_queue *q, const struct io_uring_cqe *cqe);
	/* Gives q->results[0..nr_results) to the kernel. Returns how many or -errno. */
	int (*commit)(struct memxd_queue *q);
	/* Whether the kernel needs to wake us for a new request (memx.ko's flag). */
	void (*set_awake)(struct memxd_queue *q, bool awake);
};

extern const struct memxd_kbackend memxd_kbackend_memx;
extern const struct memxd_kbackend memxd_kbackend_ublk;

#endif /* MEMXD_KBACKEND_H */
