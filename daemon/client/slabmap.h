/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client's map of a volume: the volume is cut into equal power-of-two
 * slabs; each slab is unmapped (never written: reads are zeros, no network)
 * or mapped to up to MEMXD_MAX_REPLICAS replicas, each a (donor, remote
 * address, rkey) triple granted by that donor.
 *
 * Threads: a slab's replicas are written only by the thread that holds the
 * slab in a transient state (MAPPING, MIGRATING, FREEING) or, for a replica's
 * live flag, by the control thread; they are written before the state is
 * published with release semantics and read after an acquire load of the
 * state, so a queue thread never sees a half-written mapping.
 *
 * The state changes only through memxd_slab_claim() (a compare-and-swap: the
 * caller wins the slab) and memxd_slab_publish() (the winner lets it go), and
 * only along these edges:
 *
 *   from       to         who, why
 *   UNMAPPED   MAPPING    queue thread, first write (claim)              io.c
 *   MAPPING    MAPPED     control thread, grants in place                grants.c
 *   MAPPING    UNMAPPED   control thread, no donor took it; or queue
 *                         thread, the mailbox was full                   grants.c, io.c
 *   MAPPED     FREEING    queue thread, DISCARD of the whole slab (claim) io.c
 *   FREEING    UNMAPPED   queue thread, its grants are being given back  io.c
 *   FREEING    MAPPED     queue thread, the mailbox was full: kept       io.c
 *   MAPPED     MIGRATING  control thread, a copy or a drop (claim)       recovery.c
 *   MIGRATING  MAPPED     control thread, a live replica is left         recovery.c
 *   MIGRATING  LOST       control thread, none is left                   recovery.c
 *   MAPPED     LOST       control thread, the last replica's donor died
 *                         (claim)                                        donors.c
 *
 *   LOST       FREEING    queue thread, DISCARD of the whole slab: its
 *                         data is given up, it reads as zeros again (claim) io.c
 *                         or control thread, memxctl volume forget-lost  grants.c
 *
 * Until then a LOST slab fails every read and write with EIO.
 */
#ifndef MEMXD_SLABMAP_H
#define MEMXD_SLABMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Replica slots per slab: one more than the most copies (3), so a copy can be
 * added before the one it replaces is dropped. */
#define MEMXD_MAX_REPLICAS	4
#define MEMXD_MAX_COPIES		3

enum memxd_slab_state {
	MEMXD_SLAB_UNMAPPED = 0,	/* never written or discarded: reads are zeros */
	MEMXD_SLAB_MAPPING,	/* a grant is being requested; writes wait */
	MEMXD_SLAB_MAPPED,	/* replicas valid */
	MEMXD_SLAB_LOST,		/* every replica gone: I/O fails with EIO */
	MEMXD_SLAB_MIGRATING,	/* a replica is being copied: writes wait, reads go on */
	MEMXD_SLAB_FREEING,	/* a queue thread is discarding it: writes wait, reads are zeros */
};

struct memxd_replica {
	uint32_t donor;		/* index in the client's donor table */
	uint32_t rkey;
	uint32_t handle;	/* donor's grant id, for FREE_SLAB */
	_Atomic uint32_t live;	/* 0 once the donor is gone or the copy moved away */
	uint32_t gen;		/* the donor slot's generation when granted (donors.c) */
	uint64_t remote_addr;
};

struct memxd_slab {
	_Atomic uint32_t state;	/* enum memxd_slab_state */
	/*
	 * I/O posted to this slab's replicas and not yet completed. A queue
	 * thread raises the count before it checks the state (and drops it if
	 * it backs off); the control thread changes the state, then waits for
	 * the count to fall to zero: so no write is in flight while a replica
	 * is copied, and no read while a replica is freed.
	 */
	_Atomic uint32_t writes_inflight;
	_Atomic uint32_t reads_inflight;
	/* Slots used in replica[]; a slot whose live is 0 is free. Grows only. */
	_Atomic uint32_t nr_replicas;
	struct memxd_replica replica[MEMXD_MAX_REPLICAS];
};

struct memxd_slabmap {
	uint64_t volume_bytes;
	uint64_t slab_bytes;
	unsigned int slab_shift;
	uint64_t nr_slabs;
	struct memxd_slab *slabs;
	bool borrowed;		/* slabs lives in memory the map does not own (state.c) */
};

/* A piece of an I/O that falls in one slab. */
struct memxd_extent {
	uint64_t slab;		/* slab index */
	uint64_t slab_offset;	/* byte offset inside the slab */
	uint32_t len;		/* bytes */
	uint32_t buf_offset;	/* byte offset inside the I/O */
};

/*
 * Sets up a map for volume_bytes (> 0, multiple of 4096) in slabs of
 * slab_bytes (a power of two >= 1 MiB). Returns 0, -EINVAL or -ENOMEM.
 */
int memxd_slabmap_init(struct memxd_slabmap *map, uint64_t volume_bytes, uint64_t slab_bytes);
void memxd_slabmap_fini(struct memxd_slabmap *map);

/* From now on the entries live at slabs (nr_slabs of them, owned by the caller); NULL: none. */
void memxd_slabmap_borrow(struct memxd_slabmap *map, struct memxd_slab *slabs);

/*
 * Splits [offset, offset + len) into per-slab extents (at most max). Returns
 * the number of extents, -EINVAL if the range is empty or leaves the volume,
 * -E2BIG if more than max would be needed.
 */
int memxd_slabmap_extents(const struct memxd_slabmap *map, uint64_t offset, uint32_t len,
			 struct memxd_extent *ext, int max);

/*
 * The slabs that [offset, offset + len) covers whole: [*first, *end). Returns
 * true if there is at least one (DISCARD gives those back to donors).
 */
bool memxd_slabmap_whole_slabs(const struct memxd_slabmap *map, uint64_t offset, uint64_t len,
			      uint64_t *first, uint64_t *end);

static inline uint32_t memxd_slab_state(const struct memxd_slab *slab)
{
	return atomic_load_explicit(&slab->state, memory_order_acquire);
}

/* Whether a slab may go from one state to the other (the table above). */
bool memxd_slab_edge(uint32_t from, uint32_t to);

/* Moves a slab from `from` to `to` if it is in `from`: true when this caller did it. */
bool memxd_slab_claim(struct memxd_slab *slab, uint32_t from, uint32_t to);

/* The holder of a slab in a transient state moves it on (release: its writes first). */
void memxd_slab_publish(struct memxd_slab *slab, uint32_t state);

/*
 * Waits until no read (reads) and no write (writes) is in flight on a slab,
 * for at most MEMXD_SLAB_IDLE_WAIT_MS: a work request still using a replica
 * that is freed would put its QP in error. Returns true when idle. The caller
 * has first moved the slab to a state in which no new I/O of that kind starts.
 */
#define MEMXD_SLAB_IDLE_WAIT_MS	5000
bool memxd_slab_wait_idle(const struct memxd_slab *slab, bool reads, bool writes);

/* The first live replica of a slab, or NULL. Read by queue threads after memxd_slab_state(). */
const struct memxd_replica *memxd_slab_read_replica(const struct memxd_slab *slab);

/* Live replicas of a slab. */
unsigned int memxd_slab_live_replicas(const struct memxd_slab *slab);

/* Whether a donor holds a live replica of a slab. */
bool memxd_slab_on_donor(const struct memxd_slab *slab, uint32_t donor);

#endif /* MEMXD_SLABMAP_H */
