/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client's map of a volume: the volume is cut into equal power-of-two
 * slabs; each slab is unmapped (never written: reads are zeros, no network)
 * or mapped to up to MEMX_MAX_REPLICAS replicas, each a (donor, remote
 * address, rkey) triple granted by that donor.
 *
 * Threads: the control thread alone changes a slab (mapping, freeing, marking
 * a replica lost); queue threads read it. A slab's replicas are written before
 * its state is published with release semantics, and read after an acquire
 * load of the state, so a queue thread never sees a half-written mapping.
 */
#ifndef MEMXD_SLABMAP_H
#define MEMXD_SLABMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Replica slots per slab: one more than the most copies (3), so a copy can be
 * added before the one it replaces is dropped. */
#define MEMX_MAX_REPLICAS	4
#define MEMX_MAX_COPIES		3

enum memx_slab_state {
	MEMX_SLAB_UNMAPPED = 0,	/* never written or discarded: reads are zeros */
	MEMX_SLAB_MAPPING,	/* a grant is being requested; writes wait */
	MEMX_SLAB_MAPPED,	/* replicas valid */
	MEMX_SLAB_LOST,		/* every replica gone: I/O fails with EIO */
	MEMX_SLAB_MIGRATING,	/* a replica is being copied: writes wait, reads go on */
	MEMX_SLAB_FREEING,	/* a queue thread is discarding it: writes wait, reads are zeros */
};

struct memx_replica {
	uint32_t donor;		/* index in the client's donor table */
	uint32_t rkey;
	uint32_t handle;	/* donor's grant id, for FREE_SLAB */
	uint32_t live;		/* 0 once the donor is gone */
	uint64_t remote_addr;
};

struct memx_slab {
	_Atomic uint32_t state;	/* enum memx_slab_state */
	/*
	 * I/O posted to this slab's replicas and not yet completed. A queue
	 * thread raises the count before it checks the state (and drops it if
	 * it backs off); the control thread changes the state, then waits for
	 * the count to fall to zero: so no write is in flight while a replica
	 * is copied, and no read while a replica is freed.
	 */
	_Atomic uint32_t writes_inflight;
	_Atomic uint32_t reads_inflight;
	uint32_t nr_replicas;	/* slots used in replica[]; a slot whose live is 0 is free */
	struct memx_replica replica[MEMX_MAX_REPLICAS];
};

struct memx_slabmap {
	uint64_t volume_bytes;
	uint64_t slab_bytes;
	unsigned int slab_shift;
	uint64_t nr_slabs;
	struct memx_slab *slabs;
};

/* A piece of an I/O that falls in one slab. */
struct memx_extent {
	uint64_t slab;		/* slab index */
	uint64_t slab_offset;	/* byte offset inside the slab */
	uint32_t len;		/* bytes */
	uint32_t buf_offset;	/* byte offset inside the I/O */
};

/*
 * Sets up a map for volume_bytes (> 0, multiple of 4096) in slabs of
 * slab_bytes (a power of two >= 1 MiB). Returns 0, -EINVAL or -ENOMEM.
 */
int memx_slabmap_init(struct memx_slabmap *map, uint64_t volume_bytes, uint64_t slab_bytes);
void memx_slabmap_fini(struct memx_slabmap *map);

/*
 * Splits [offset, offset + len) into per-slab extents (at most max). Returns
 * the number of extents, -EINVAL if the range is empty or leaves the volume,
 * -E2BIG if more than max would be needed.
 */
int memx_slabmap_extents(const struct memx_slabmap *map, uint64_t offset, uint32_t len,
			 struct memx_extent *ext, int max);

/*
 * The slabs that [offset, offset + len) covers whole: [*first, *end). Returns
 * true if there is at least one (DISCARD gives those back to donors).
 */
bool memx_slabmap_whole_slabs(const struct memx_slabmap *map, uint64_t offset, uint64_t len,
			      uint64_t *first, uint64_t *end);

static inline uint32_t memx_slab_state(const struct memx_slab *slab)
{
	return atomic_load_explicit(&slab->state, memory_order_acquire);
}

static inline void memx_slab_publish(struct memx_slab *slab, uint32_t state)
{
	atomic_store_explicit(&slab->state, state, memory_order_release);
}

/* The first live replica of a slab, or NULL. Read by queue threads after memx_slab_state(). */
const struct memx_replica *memx_slab_read_replica(const struct memx_slab *slab);

/* Live replicas of a slab. */
unsigned int memx_slab_live_replicas(const struct memx_slab *slab);

/* Whether a donor holds a live replica of a slab. */
bool memx_slab_on_donor(const struct memx_slab *slab, uint32_t donor);

#endif /* MEMXD_SLABMAP_H */
