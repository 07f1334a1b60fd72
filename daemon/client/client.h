/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client engine's types: the volume, the donors as the client sees them,
 * the queue threads and their requests, and what each file of client/ offers
 * the others.
 */
#ifndef MEMXD_CLIENT_H
#define MEMXD_CLIENT_H

#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <memx/proto.h>
#include <memx/uapi.h>

#include "client/copysets.h"
#include "client/discards.h"
#include "client/idle.h"
#include "client/integrity.h"
#include "client/kbackend.h"
#include "client/kdev.h"
#include "client/mailbox.h"
#include "client/rest.h"
#include "client/samefill.h"
#include "client/slabmap.h"
#include "client/state.h"
#include "client/wrid.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/directory.h"
#include "common/dns_srv.h"
#include "common/limits.h"
#include "common/wire.h"
#include "mxv.h"

struct memxd_ctl;

#define MEMXD_DEFAULT_IO_DEADLINE_S	30	/* --io-deadline (memx.ko's own default) */
#define MEMXD_MAX_JOINS		4	/* joins in progress at once (--listen) */
#define MEMXD_HEARTBEAT_MS	1000	/* each donor answers a STATS this often */
/* Background copies move a slab this much at a time, through a slot of the bounce buffer. */
#define MEMXD_COPY_CHUNK	(1U << 20)
/*
 * Pieces of a copy in flight at once: the bounce buffer has this many slots of
 * a chunk. Two overlap each piece's WRITE with the next one's READ, which is
 * what the copy waited for; more only queued on Soft-RoCE and was slower there
 * (ci/bench-cluster: 8 took 94-117 s per GiB where 1 took 66-85). 1 MiB in
 * flight each way is far beyond a hardware link's bandwidth-delay product.
 */
#define MEMXD_COPY_DEPTH	2
/*
 * A copy abandoned as slow shrinks the pieces of the next ones, by half down
 * to this, before copies back off longer: on a lossy link (Soft-RoCE
 * retransmits the rest of a READ from the first packet lost) a small piece
 * completes where a large one stalls. Each copy that goes through doubles
 * them back, up to MEMXD_COPY_CHUNK.
 */
#define MEMXD_COPY_PIECE_MIN	(64U << 10)
/* --grant-pool: grants each live donor keeps ready for first writes (grants.c). */
#define MEMXD_DEFAULT_GRANT_POOL	2
#define MEMXD_DEFAULT_REST_AFTER_S	10	/* --rest-after (rest.c) */
#define MEMXD_MAX_REST_AFTER_S		86400
#define MEMXD_MAX_GRANT_POOL	16
/* A donor that refused a pool refill is not asked again for this long. */
#define MEMXD_POOL_RETRY_MS	1000
/*
 * Nor one that asked for memory back, from then until this long after; nor
 * one a discard just gave slabs back to: that memory goes back to the
 * cluster, as a discard means, not into our pool.
 */
#define MEMXD_POOL_PRESSED_MS	30000
#define MEMXD_BOUNCE_BYTES	((size_t)MEMXD_COPY_DEPTH * MEMXD_COPY_CHUNK)

enum memxd_donor_state {
	MEMXD_DONOR_LIVE = 1,	/* connected, takes slabs */
	MEMXD_DONOR_DEAD = 2,	/* lost: its replicas are gone */
	MEMXD_DONOR_FAILED = 3,	/* a queue saw its QP fail; the control thread will bury it */
	MEMXD_DONOR_DRAINING = 4,	/* leaving: takes no new slabs, its slabs move away */
	MEMXD_DONOR_LEFT = 5,	/* drained and disconnected */
};

/* Reads and writes may go to a donor in these states. */
static inline bool memxd_donor_usable(int state)
{
	return state == MEMXD_DONOR_LIVE || state == MEMXD_DONOR_DRAINING;
}

/*
 * A donor as the client sees it. Everything is written by the control thread,
 * before the donor is published in nr_donors, except state: queue threads
 * read it, and move LIVE or DRAINING to FAILED (memxd_donor_mark_failed).
 */
struct memxd_donor {
	unsigned int idx;
	char host[MEMXD_HOST_MAX];
	uint16_t port;
	char name[MEMXD_HOST_MAX + 8];	/* "host:port" for logs */
	_Atomic int state;		/* enum memxd_donor_state; control thread, queues: FAILED */
	/*
	 * Bumped each time the slot gets a new donor (donors.c reuses slots of
	 * dead or departed donors): replicas and work requests carry it, so
	 * nothing meant for an earlier occupant reaches this one.
	 */
	_Atomic uint32_t gen;
	struct mxv_conn *ctrl;		/* control messages (SEND/RECV) */
	/*
	 * The control thread's RDMA (recovery copies, scrub): a data connection,
	 * since only those reach the volume's memory at the donor.
	 */
	struct mxv_conn *copy;
	uint8_t ticket[MEMX_SECRET_LEN];	/* the donor's, for our data connections */
	uint32_t lease_s;		/* how long it keeps our grants if we vanish */
	uint32_t slabs_kept;		/* what it still held of ours when we connected */
	struct mxv_conn *data[MEMX_MAX_QUEUES];	/* one RDMA-only QP per queue */
	struct memxd_welcome_info welcome;
	uint64_t memory_free;		/* last figure the donor gave */
	uint32_t slabs;			/* slabs of ours it holds */
	bool rest_kept;			/* keeps our state at rest (rest.c) */
	uint64_t evict_bytes;		/* memory it asked back (pressure), not yet moved */
	/*
	 * Grants obtained ahead (--grant-pool, grants.c), bound to no slab yet:
	 * a first write takes one instead of waiting for an ALLOC_SLAB round
	 * trip. Fresh (zeros, nothing written). Each carries the slot's
	 * generation at its grant; none outlives the donor's connection.
	 */
	struct memxd_pooled_grant {
		uint64_t remote_addr;
		uint32_t rkey, handle, gen;
	} pool[MEMXD_MAX_GRANT_POOL];
	uint32_t nr_pooled;
	uint64_t pool_retry_ns;		/* no refill before this (it refused one) */
	/*
	 * A repair was granted past the room it reports for first mappings (its
	 * reserve beyond a quota): no pool there until it reports room again, so
	 * that first mappings stay held to the quota as without a pool.
	 */
	bool pool_off;
	uint8_t *msgbuf;		/* MEMXD_CTRL_RECVS receive slots, then one send slot */
	struct mxv_mr *msg_mr;
};

/*
 * What a donor says it has free, believed only as far as we can check it:
 * never more than it lends in all less what it holds of ours. A donor that
 * claims more would win every placement by power of two choices.
 */
static inline void memxd_donor_set_free(struct memxd_donor *d, uint64_t reported,
					uint64_t slab_bytes)
{
	uint64_t ours = ((uint64_t)d->slabs + d->nr_pooled) * slab_bytes;
	uint64_t most = d->welcome.memory_total > ours ? d->welcome.memory_total - ours : 0;

	d->memory_free = reported < most ? reported : most;
}

static inline uint32_t memxd_donor_gen(struct memxd_donor *d)
{
	return atomic_load_explicit(&d->gen, memory_order_acquire) & MEMXD_DONOR_GEN_MASK;
}

/*
 * A queue thread saw a work request to this donor fail: LIVE or DRAINING ->
 * FAILED, so that no more I/O goes there. True for the one caller that moved
 * it (it tells the control thread, which buries the donor: DEAD).
 */
static inline bool memxd_donor_mark_failed(struct memxd_donor *d)
{
	int expect = MEMXD_DONOR_LIVE;

	if (atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_FAILED))
		return true;
	expect = MEMXD_DONOR_DRAINING;
	return atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_FAILED);
}

/* Per-tag state of the request state machine (io.c). */
enum memxd_io_state {
	MEMXD_IO_FREE = 0,	/* not in the engine */
	MEMXD_IO_WAIT_SLAB,	/* parked until the control thread maps a slab */
	MEMXD_IO_WAIT_REST,	/* a change parked until the volume is no longer at rest */
	MEMXD_IO_RDMA,		/* work requests posted, `pending` completions to go */
};

/* The part of a request that falls in one slab, and how its replicas answered. */
struct memxd_io_ext {
	struct memxd_extent ext;
	uint8_t tried;		/* replicas tried (bit per replica slot) */
	uint8_t failed;		/* replicas a write's work request failed on (bit per slot) */
	uint8_t pending;	/* work requests in flight for this extent */
	uint8_t bad;		/* replicas whose data failed its checksum (reads) */
	uint8_t rereads;	/* reads repeated while a write to the slab was in flight */
	bool repairing;		/* a read's good data is being written over the bad copies */
	bool counted;		/* holds a reads/writes_inflight count on its slab */
};

struct memxd_io {
	uint8_t state;		/* enum memxd_io_state */
	uint8_t op;		/* MEMX_OP_* from the descriptor */
	uint8_t nr_ext;
	uint32_t nr_bytes;
	uint64_t offset;
	uint32_t pending;	/* work requests not yet completed */
	int32_t result;		/* 0 or the first -errno seen */
	uint64_t wait_slab;	/* slab it waits for (WAIT_SLAB) */
	uint32_t wait_gen;	/* that slab's fail_gen when it started waiting */
	uint64_t parked_ns;	/* when it started waiting for that slab */
	struct memxd_io_ext ext[MEMXD_MAX_EXTENTS];
	/* WRITE: blocks (of the request) that are same-filled and not sent (io.c). */
	uint64_t sf_mask[MEMX_MAX_IO_BYTES / MEMXD_SF_BLOCK / 64];
	bool sf_any;		/* a bit of sf_mask is set */
	bool change_counted;	/* a change: counted in the queue's changes_started */
};

/* Written by the queue thread (relaxed), read by status.c in the control thread. */
struct memxd_queue_stats {
	_Atomic uint64_t reads, writes, read_bytes, write_bytes;
	_Atomic uint64_t flushes, discards, write_zeroes, errors, zero_reads;
	_Atomic uint64_t commits, wakeups, posts, arms;	/* system calls, to count them per request */
	_Atomic uint64_t failovers;	/* reads retried on another replica */
	_Atomic uint64_t checksum_errors;	/* blocks a donor returned wrong (integrity.h) */
	_Atomic uint64_t repairs;	/* bad copies rewritten from a good one */
	_Atomic uint64_t rdma_write_bytes;	/* bytes sent to donors by RDMA WRITE, every copy */
	/* Same-filled blocks (samefill.h): requests served without the network. */
	_Atomic uint64_t samefill_writes;	/* blocks written same-filled: recorded, not sent */
	_Atomic uint64_t samefill_reads;	/* blocks read from the record, no network */
	_Atomic uint64_t samefill_bytes_saved;	/* bytes those did not move, every copy */
};

struct memxd_client;

/*
 * One engine thread and the kernel queue it serves. Everything is set up by
 * the control thread before the thread starts and then belongs to the queue
 * thread, except: wake_pending (set by the control thread), stats (read by
 * it) and the per-donor batches' QPs (donors are added by the control thread
 * and published in the client's nr_donors).
 */
struct memxd_queue {
	struct memxd_client *c;
	unsigned int qid;
	bool volume_dead;		/* the kernel refused a commit: the volume died */
	struct memxd_kqueue kq;
	struct mxv_cq *cq;
	struct mxv_mr *buf_mr;		/* the per-tag buffers (kq.buf) */
	struct mxv_mr *zero_mr;		/* max_io_bytes of zeros for WRITE_ZEROES */
	void *zero_buf;
	struct mxv_batch *batch[MEMXD_MAX_DONORS];
	struct io_uring ring;
	int wake_fd;			/* eventfd: control thread -> this queue */
	uint32_t outstanding;		/* work requests in flight */
	bool cq_armed;
	_Atomic bool wake_pending;	/* control thread -> this queue: retry parked tags */
	struct memxd_io *io;		/* queue_depth */
	uint32_t *waiting;		/* tags in WAIT_SLAB or WAIT_REST */
	uint32_t nr_waiting;
	struct memx_io_result *results;	/* commit batch */
	uint32_t nr_results;
	struct memxd_queue_stats stats;
	/*
	 * For the control thread to know when no pass can still use what it is
	 * about to take away (a donor slot being reused): passes ends each pass,
	 * asleep is set while the thread waits between passes.
	 */
	_Atomic uint64_t passes;
	_Atomic bool asleep;
	/* Changes (writes, write-zeroes, discards) begun and finished: rest.c. */
	_Atomic uint64_t changes_started, changes_done;
	pthread_t thread;
	bool started;
};

#define MEMXD_DEFAULT_POLL_US	50
#define MEMXD_DEFAULT_SCRUB_RATE	(4ULL << 20)
#define MEMXD_DEFAULT_SCATTER_WIDTH	4
#define MEMXD_DEFAULT_RECOVERY_S	60
#define MEMXD_DEFAULT_DIR_WAIT_S	30
#define MEMXD_MAX_DIR_WAIT_S	3600
#define MEMXD_MAX_POLL_US	100000

struct memxd_client_opts {
	char name[MEMXD_NAME_MAX];
	uint64_t size;
	uint64_t slab;
	unsigned int queues;
	unsigned int depth;
	unsigned int max_io;
	unsigned int replicas;		/* 0: 2 with two or more donors or --directory, else 1 */
	uint64_t rereplicate_rate;	/* bytes per second of background copying */
	unsigned int poll_us;		/* queue threads look for work this long before sleeping */
	unsigned int poll_queues;	/* queues for polled I/O, after the others */
	unsigned int nr_donors;
	char bind[MEMXD_HOST_MAX];
	char donor_host[MEMXD_MAX_DONORS][MEMXD_HOST_MAX];
	uint16_t donor_port[MEMXD_MAX_DONORS];
	char ctl_path[108];
	char listen_host[MEMXD_HOST_MAX];	/* --listen: donors may join here */
	bool no_checksum;		/* --no-checksum: no CRC32C per block */
	bool no_same_filled;		/* --no-same-filled: every block crosses the wire */
	bool attach;			/* --attach: a detached volume, from its state file */
	uint32_t state_key_id;		/* --state-key: seals the state left on donors; 0: none left */
	unsigned int rest_after_s;	/* --rest-after: quiet this long, the volume rests; 0: never */
	bool overcommit;		/* --overcommit: larger than the donors can hold */
	uint64_t scrub_rate;		/* --scrub-rate: bytes per second checked; 0: off */
	unsigned int scatter_width;	/* --scatter-width: copyset partners per donor */
	unsigned int grant_pool;	/* --grant-pool: grants kept ready per donor; 0: none */
	uint16_t listen_port;
	unsigned int io_deadline_s;	/* --io-deadline: memx.ko kills a volume stuck this long */
	unsigned int recovery_timeout_s;	/* --recovery-timeout: the volume outlives us this long */
	int kernel_backend;		/* --kernel-backend: enum memxd_kbackend_kind */
	struct memxd_trust trust;	/* --key-file, --insecure: the keys we hold */
	struct memxd_etcd_url dir_url;	/* --directory etcd://; host "" is none */
	struct memxd_srv_url dir_srv;	/* --directory srv://; name "" is none */
	unsigned int dir_wait_s;	/* --directory-wait: for enough listed donors, at start */
};

static inline bool memxd_client_has_directory(const struct memxd_client_opts *o)
{
	return o->dir_url.host[0] || o->dir_srv.name[0];
}

/* A donor the directory listed, and what we did about it (directory.c). */
struct memxd_dir_seen {
	struct memxd_dir_donor d;
	bool done;			/* ours (joined, or known already): nothing more to do */
	unsigned int failures;		/* joins that failed: the next waits longer */
	uint64_t retry_ns;		/* not before then */
};

/*
 * The engine. Written by the control thread (which runs main.c and every file
 * but queue.c and io.c) unless a field says otherwise; queue threads read
 * opt, map, donor[] and the counters, and write what their comments say.
 */
struct memxd_client {
	struct memxd_client_opts opt;
	uint8_t volume_id[16];
	/* Made with the volume; proves to each donor that we own it (auth.h). */
	uint8_t volume_secret[MEMX_SECRET_LEN];
	uint64_t epoch;			/* ours: one more than the engine's we took over (AUTH) */
	void *state_base;		/* state.c: the file the next engine resumes from */
	bool resumed;			/* we took over a dead engine's volume */
	bool detached;			/* memxctl volume detach: leave, the donors keep it */
	size_t state_bytes;
	struct mxv_ctx *ctx;
	struct mxv_cq *ctrl_cq;
	struct mxv_listener *listener;	/* --listen */
	struct memxd_join {		/* join.c: a donor's knock, half-open */
		struct mxv_conn *conn;	/* NULL: free slot */
		char host[MEMXD_HOST_MAX];
		uint16_t port;		/* where the donor listens */
		uint64_t deadline_ns;
	} join[MEMXD_MAX_JOINS];
	/* Donors in donor[]; a donor is whole before it is counted (release). */
	_Atomic unsigned int nr_donors;
	struct memxd_donor donor[MEMXD_MAX_DONORS];
	struct memxd_slabmap map;	/* slab states: see slabmap.h for who writes */
	struct memxd_crcmap crc;	/* every block's CRC32C: queue threads */
	struct memxd_discards discards;	/* blocks discarded since written: queue threads */
	struct memxd_samefill samefill;	/* same-filled blocks, not on the donors: queue threads */
	_Atomic uint64_t slabs_given_back;	/* by discards, whole or piece by piece */
	/* Copysets over the live donors (grants.c), rebuilt when membership changes. */
	struct memxd_copysets copysets;
	uint64_t copysets_sig;
	bool copysets_built;
	bool copysets_zone_shared;	/* too few zones: said once (grants.c) */
	_Atomic uint32_t *fail_gen;	/* per slab: bumped when a mapping fails */
	_Atomic uint64_t slabs_mapped;	/* control thread; queue threads on DISCARD */
	_Atomic uint64_t slabs_lost;
	const struct memxd_kbackend *kb;	/* memx.ko or ublk (kbackend.h) */
	int kfd;			/* memx.ko: owner fd of the volume */
	struct memxd_ublk *ublk;	/* ublk: the device (ublk.c) */
	int dev_id;
	char dev_path[32];		/* the block device: /dev/memxN, /dev/ublkbN */
	bool removed;			/* the block device is gone (SIGTERM) */
	struct memxd_queue queue[MEMX_MAX_QUEUES];
	unsigned int nr_queues;
	struct memxd_mailbox mailbox;	/* queue threads -> control thread */
	_Atomic bool stopping;		/* control thread -> queue threads: leave */
	uint32_t rng;
	uint32_t seq;
	/* Background copying (recovery.c), control thread only. */
	void *bounce;			/* MEMXD_COPY_DEPTH slots of MEMXD_COPY_CHUNK */
	struct mxv_mr *bounce_mr;
	uint32_t rdma_seq;		/* numbers each copy and transfer (wr_id's seq) */
	uint64_t next_copy_ns;		/* rate limit: no copy before this time */
	uint64_t next_heartbeat_ns;
	uint64_t next_dead_check_ns;	/* main.c: when to ask memx.ko if the volume died */
	uint64_t next_status_ns;	/* main.c: when to rebuild systemd's STATUS= line */
	char status_line[192];		/* main.c: the STATUS= line last sent */
	bool capacity_warned;		/* capacity.c: the room's end was warned about */
	uint64_t watchdog_ns;		/* systemd's WatchdogSec (0: none); pinged every half */
	uint64_t next_watchdog_ns;
	uint64_t copied_bytes;
	uint64_t slabs_moved, slabs_rereplicated;
	/*
	 * recovery.c: where one burst of copying spent its time, logged once
	 * when there is nothing left to copy (first: when the burst began).
	 */
	struct memxd_copy_times {
		uint64_t first_ns, last_end_ns, slabs, grant_ns, idle_ns, copy_ns, gap_ns;
	} copy_times;
	/* Copies and scrub transfers abandoned as slow (recovery.c: memxd_copy_slow). */
	uint64_t copy_timeouts;
	uint64_t copy_backoff_ns;	/* the wait after the last slow one (0: none) */
	uint32_t copy_piece;		/* bytes a copy moves per piece now (0: MEMXD_COPY_CHUNK) */
	uint64_t copy_retry_ns;		/* no copy or scrub transfer before this time */
	/*
	 * The slab a copy or scrub holds MIGRATING while its transfers run; a
	 * slow one lets it go at once (memxd_copy_slow), so that writes parked
	 * on it do not time out while the abandoned transfers are waited out.
	 */
	struct memxd_slab *copy_hold;
	/*
	 * While an abandoned transfer is waited out (up to MEMXD_COPY_STUCK_MS)
	 * or a donor is being connected (up to MEMXD_CM_TIMEOUT_MS), the control
	 * thread still maps slabs for first writes: main.c's mailbox server, run
	 * aside (memxd_serve_aside; aside says it runs). Meanwhile aside_sink
	 * takes the waited-out transfer's completions, whoever pumps the CQ.
	 */
	void (*serve_aside)(struct memxd_client *c);
	/* memxctl alone, while one control message waits for a slow donor (donors.c). */
	void (*serve_ctl_aside)(struct memxd_client *c);
	bool looping;			/* the control loop runs: start-up is over */
	bool aside;
	char aside_why[MEMXD_HOST_MAX + 96];	/* what the control thread waits for, for memxctl */
	struct memxd_rdma_sink *aside_sink;	/* NULL while a donor is connected */
	struct memxd_ctl *ctl;		/* memxctl's socket, served aside too (NULL: none) */
	/*
	 * memxctl donor add, queued by its handler and connected from the
	 * control loop (main.c), where memxctl is served while it waits.
	 */
	struct memxd_ctl_add {
		enum { CTL_ADD_NONE, CTL_ADD_QUEUED, CTL_ADD_DONE } state;
		char host[MEMXD_HOST_MAX];
		uint16_t port;
		int result;		/* DONE: 0 or -errno */
	} ctl_add;
	/* The scrub (scrub.c), control thread only: where it is and what it found. */
	struct memxd_scrub {
		uint64_t slab, off;	/* the next chunk: slab, byte offset in it */
		uint32_t rep;		/* and replica slot */
		uint64_t next_ns;	/* rate limit */
		uint64_t passes, bytes, bad_blocks, repaired;
		uint64_t yielded;	/* steps left out because the machine was busy */
		unsigned int deferred;	/* of them in a row, now */
		struct memxd_idle load;	/* is the machine busy (idle.h) */
	} scrub;
	/* --directory (directory.c), control thread only but for dir's own thread. */
	struct memxd_dir *dir;
	uint64_t dir_gen;		/* the listing last acted on */
	struct memxd_dir_donor *dir_listed;	/* MEMXD_DIR_MAX_LISTED: a copy of it */
	struct memxd_dir_seen *dir_seen, *dir_seen_next;	/* MEMXD_DIR_MAX_LISTED each */
	unsigned int nr_dir_seen;
	uint64_t dir_joins;		/* donors joined because the directory listed them */
	/* The grant pool (grants.c), control thread only. */
	struct memxd_pool_stats {
		uint64_t taken;		/* grants a mapping or copy took from the pool */
		uint64_t slabs;		/* slabs mapped with every replica from the pool */
		uint64_t refills;	/* grants obtained for the pool */
		uint64_t dropped;	/* given back or forgotten: donor gone, leaving, pressed */
	} pool;
	struct memxd_rest rest;		/* rest.c */
	struct memxd_deferred_free {
		uint64_t slab;
		struct memxd_replica rep;
	} deferred[64];
	unsigned int nr_deferred;
};

/*
 * donors.c: mxv_connect to the donor `name` (for the log), saying why it
 * failed: the donor's reject reason, or the connection manager's. 0 or -errno.
 */
int memxd_connect_to_donor(const char *name, const struct mxv_connect_param *p,
			   const struct mxv_qp_attr *attr, struct mxv_conn **out,
			   struct mxv_cm_result *res);
/* donors.c: the control channel to donors, used by grants.c and recovery.c. */
int memxd_donor_call(struct memxd_client *c, struct memxd_donor *d, struct memxd_msg_info *req,
		     struct memxd_msg_info *reply);
int memxd_ctrl_rdma(struct memxd_client *c, struct memxd_donor *d, bool write, uint64_t raddr,
		    uint32_t rkey, uint32_t len);
/* The same at bounce buffer offset off (off + len at most MEMXD_COPY_CHUNK). */
int memxd_ctrl_rdma_at(struct memxd_client *c, struct memxd_donor *d, bool write, uint32_t off,
		       uint64_t raddr, uint32_t rkey, uint32_t len);
/*
 * A pipelined copy's side of the control CQ (recovery.c): each RDMA
 * completion of copy `seq` is handed to done() with its bounce slot and 0 or
 * -ECONNRESET; everything else on the CQ is handled as usual meanwhile.
 */
struct memxd_rdma_sink {
	uint32_t seq;
	void (*done)(struct memxd_rdma_sink *sink, unsigned int slot, int status);
};
/*
 * Posts one piece of copy `seq`: an RDMA READ from the donor into bounce slot
 * `slot`, or a WRITE from it (len at most MEMXD_COPY_CHUNK). Does not wait.
 * Returns 0 or -errno.
 */
int memxd_copy_post(struct memxd_client *c, struct memxd_donor *d, bool write, unsigned int slot,
		    uint32_t seq, uint64_t raddr, uint32_t rkey, uint32_t len);
/*
 * Pumps the control CQ until at least one completion went to the sink.
 * Returns 0, -ETIMEDOUT when none came within timeout_ms, or -errno.
 */
int memxd_copy_wait(struct memxd_client *c, struct memxd_rdma_sink *sink, int timeout_ms);
/*
 * Liveness while a copy's pieces are slow: a STATS to the donor, the pieces'
 * completions handed to sink meanwhile. A donor that does not answer in
 * MEMXD_MSG_TIMEOUT_MS is lost (its connections flush). Returns 0 or -errno.
 */
int memxd_copy_ping(struct memxd_client *c, struct memxd_donor *d, struct memxd_rdma_sink *sink);
/*
 * recovery.c: a copy or scrub transfer with donor d outlasted
 * MEMXD_MSG_TIMEOUT_MS (what: for the log): counted, copies back off, and
 * the slab in copy_hold is MAPPED again (its copy's result is not used).
 */
void memxd_copy_slow(struct memxd_client *c, struct memxd_donor *d, const char *what);
/* A copy or scrub transfer went through: no backoff, pieces grow back (doubled). */
void memxd_transfer_went_through(struct memxd_client *c);

/* The bytes a copy or scrub moves per piece now: MEMXD_COPY_CHUNK, less after slow ones. */
static inline uint32_t memxd_copy_piece(const struct memxd_client *c)
{
	return c->copy_piece ? c->copy_piece : MEMXD_COPY_CHUNK;
}
/*
 * recovery.c: while sink's abandoned transfers are waited out (or, sink
 * NULL, a donor is being connected), what the queue threads wait for (the
 * mailbox: slabs to map, slabs to free, failed donors) is served, so that a
 * slow link to one donor does not fail first writes parked for a slab. Not
 * nested: a no-op inside itself. The slow waits call it about once a second,
 * a connect every MXV_WAIT_HOOK_MS.
 */
void memxd_serve_aside(struct memxd_client *c, struct memxd_rdma_sink *sink);
/* Waits of at most this long while a slow transfer is waited out, the mailbox served between. */
#define MEMXD_ASIDE_WAIT_MS	1000
/* donors.c: the donor table, for main.c and status.c. */
int memxd_add_donor(struct memxd_client *c, const char *host, uint16_t port);
/*
 * Engine restart: the next donor slot is the dead engine's donor at host:port,
 * connected again; one that does not answer (or host "": unknown) keeps its
 * slot, DEAD, so that every replica's donor index still means what it meant.
 * Returns 0 or -errno.
 */
int memxd_restore_donor(struct memxd_client *c, const char *host, uint16_t port);
void memxd_donor_lost(struct memxd_client *c, struct memxd_donor *d, const char *why);
void memxd_donor_teardown(struct memxd_donor *d, unsigned int nr_queues);
struct memxd_donor *memxd_donor_by_addr(struct memxd_client *c, const char *arg);
void memxd_pump_ctrl(struct memxd_client *c);
void memxd_check_donors(struct memxd_client *c, const struct pollfd *pfd);

/* join.c: donors that join through --listen. */
void memxd_serve_join(struct memxd_client *c);
void memxd_advance_joins(struct memxd_client *c);
void memxd_joins_teardown(struct memxd_client *c);
void memxd_heartbeat(struct memxd_client *c);

/* directory.c: donors that --directory lists, joined as any donor that joins. */
int memxd_directory_start(struct memxd_client *c);
int memxd_directory_wait(struct memxd_client *c);
/* Control thread, each turn: joins the donors of a new listing that are not ours yet. */
void memxd_directory_join(struct memxd_client *c);
void memxd_directory_stop(struct memxd_client *c);

/* grants.c: slabs mapped and freed on donors, in the control thread. */
int memxd_grant_slab(struct memxd_client *c, uint64_t s, uint32_t *exclude, int nr_exclude,
		     bool repair, struct memxd_replica *out);
void memxd_free_grant(struct memxd_client *c, const struct memxd_replica *rep);
/* Rebuilds the copysets when the live donors changed (cheap when they did not). */
void memxd_copysets_refresh(struct memxd_client *c);
void memxd_map_slab(struct memxd_client *c, uint64_t s);
void memxd_free_discarded(struct memxd_client *c, const struct memxd_mail *mail);
void memxd_retry_deferred(struct memxd_client *c);
/*
 * The grant pool, control thread. prune: each turn, drops the pooled grants
 * of donors that are gone, leaving or pressed (given back where the donor
 * still answers), and those beyond what the volume can still use. refill:
 * when no mailbox message waits, one ALLOC_SLAB for the emptiest pool;
 * returns ms until the next refill is due (0: at once), or -1 if none.
 * give_back: every pooled grant freed (the engine stops, or detaches).
 * grants_pooled: held now, over every donor.
 */
void memxd_pool_prune(struct memxd_client *c);
/*
 * After a take-over's resume (prune.c): each donor that kept more grants than
 * the map names there is told which are ours (CLAIM) and frees the rest
 * (PRUNE): the dead engine's pooled and half-mapped grants.
 */
void memxd_prune_leftovers(struct memxd_client *c);
int memxd_pool_refill(struct memxd_client *c);
void memxd_pool_drop(struct memxd_client *c, struct memxd_donor *d);
void memxd_pool_give_back(struct memxd_client *c);
static inline uint64_t memxd_pool_held(const struct memxd_client *c)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		n += c->donor[i].nr_pooled;
	return n;
}
/*
 * memxctl volume forget-lost: every LOST slab (all its replicas gone) is
 * given up, as a discard of it would: it reads as zeros and takes writes
 * again. Returns how many.
 */
uint64_t memxd_forget_lost(struct memxd_client *c);

/* recovery.c: re-replication, drain and eviction, one slab per step. */
uint64_t memxd_backlog(struct memxd_client *c);
/* Does one step of background work; returns ms until the next is due, or -1 if none. */
int memxd_recovery_step(struct memxd_client *c);
bool memxd_recovery_pending(struct memxd_client *c);
/*
 * Ends a MIGRATING phase (a copy, a drop, a scrub): replicas on donors that
 * died meanwhile are no longer live, and the slab is MAPPED again, or LOST if
 * none is left. Wakes the queues.
 */
void memxd_end_migration(struct memxd_client *c, struct memxd_slab *slab);

/* scrub.c: one chunk of the scrub per step; returns ms until the next, or -1 if off. */
int memxd_scrub_step(struct memxd_client *c);

/*
 * remove.c: memxctl volume remove NAME. Raises SIGTERM in this process when
 * NAME is our volume, so that the signal's path removes it (or refuses while
 * it is open); answers into out (len bytes) what was done. Returns 0 or -errno.
 */
int memxd_client_ctl_remove(struct memxd_client *c, const char *name, char *out, size_t len);

/* opts.c */
void memxd_client_usage(FILE *f);
int memxd_client_parse(int argc, char **argv, struct memxd_client_opts *o);

/* status.c: answers memxctl. */
int memxd_client_status(struct memxd_client *c, bool json, bool slabs, char *out, size_t len);

/* capacity.c: what the donors can still hold of the volume (control thread). */
struct memxd_capacity {
	unsigned int replicas;		/* copies a new slab gets with the donors live now */
	uint64_t room_slabs;		/* new slabs the live donors have room for */
	uint64_t unmapped_slabs;	/* slabs not written yet */
	uint64_t shortfall_bytes;	/* of the unmapped slabs, what finds no room */
};
void memxd_capacity(struct memxd_client *c, struct memxd_capacity *cap);
/* A new volume the donors cannot hold: -ENOSPC, said why, unless --overcommit. */
int memxd_capacity_check(struct memxd_client *c);
/* Once a second: warns as the room of a volume that cannot be held whole nears its end. */
void memxd_capacity_watch(struct memxd_client *c);
const char *memxd_donor_state_name(int s);

/* io.c: the request state machine, in the queue thread. */
void memxd_io_start(struct memxd_queue *q, uint32_t tag);
void memxd_io_wr_done(struct memxd_queue *q, uint64_t wr_id, bool ok);

/* queue.c */
int memxd_queue_setup(struct memxd_client *c, struct memxd_queue *q, unsigned int qid);
int memxd_queue_start(struct memxd_queue *q);
void memxd_queue_stop(struct memxd_queue *q);
void memxd_queue_teardown(struct memxd_queue *q);
void memxd_queue_wake(struct memxd_queue *q);
/* Queue thread, from the kernel backend: tag has a new request; starts it (io.c). */
void memxd_queue_new_request(struct memxd_queue *q, uint32_t tag, uint8_t op, uint32_t nr_bytes,
			     uint64_t offset);
void memxd_wake_queues(struct memxd_client *c);
/*
 * Control thread: waits (up to timeout_ms) until every queue thread has
 * finished the pass it was in, or is asleep between passes, so that no pass
 * begun before the call still uses what the caller is about to take away.
 * Returns true when that is so.
 */
bool memxd_queues_quiesce(struct memxd_client *c, unsigned int timeout_ms);

int memxd_client_main(int argc, char **argv);

#endif /* MEMXD_CLIENT_H */
