/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a work request's wr_id carries, packed and unpacked in one place.
 *
 * Data path (queue CQs): the tag, the extent of the request, the replica
 * slot, and the donor the work request went to, with the generation of its
 * slot in the donor table: a replica slot may hold another donor, and a donor
 * slot another donor, by the time a late flush error comes back, and only the
 * donor that failed may be blamed.
 *
 * Control path (the control CQ): the donor, what kind of work request, and
 * which message slot or bounce buffer slot; RDMA work requests also carry
 * the number of the copy (or single transfer) they belong to, so that a late
 * completion of an abandoned one is never taken for the current one's.
 */
#ifndef MEMXD_WRID_H
#define MEMXD_WRID_H

#include <stdint.h>

#include <memx/uapi.h>

#include "client/slabmap.h"

#define MEMXD_MAX_DONORS	16
/* An I/O no larger than a slab touches at most two slabs. */
#define MEMXD_MAX_EXTENTS	2
/*
 * Work requests one request may have in flight to one donor: a write is cut
 * around its same-filled blocks into at most this many runs (io.c). QPs,
 * CQs and batches are sized for it.
 */
#define MEMXD_MAX_WRS_PER_TAG	8
_Static_assert(MEMXD_MAX_WRS_PER_TAG >= MEMXD_MAX_EXTENTS, "every extent needs a work request");

#define WRID_TAG_BITS	16
#define WRID_EXT_BITS	4
#define WRID_REP_BITS	4
#define WRID_DONOR_BITS	4
#define WRID_GEN_BITS	4

_Static_assert(MEMX_MAX_DEPTH <= 1U << WRID_TAG_BITS, "a tag must fit its wr_id field");
_Static_assert(MEMXD_MAX_EXTENTS <= 1U << WRID_EXT_BITS, "an extent must fit its wr_id field");
_Static_assert(MEMXD_MAX_REPLICAS <= 1U << WRID_REP_BITS, "a slot must fit its wr_id field");
_Static_assert(MEMXD_MAX_DONORS <= 1U << WRID_DONOR_BITS, "a donor must fit its wr_id field");
/* A donor slot's generation wraps at this: it tells an old occupant's late completions apart. */
#define MEMXD_DONOR_GEN_MASK	((1U << WRID_GEN_BITS) - 1)

struct memxd_wrid {
	uint32_t tag;
	unsigned int ext;	/* extent of the request */
	unsigned int rep;	/* replica slot of the slab */
	unsigned int donor;	/* index in the donor table */
	unsigned int gen;	/* that slot's generation when the replica was granted */
};

#define WRID_DONOR_SHIFT	(WRID_TAG_BITS + WRID_EXT_BITS + WRID_REP_BITS)
#define WRID_GEN_SHIFT		(WRID_DONOR_SHIFT + WRID_DONOR_BITS)

static inline uint64_t memxd_wrid_pack(struct memxd_wrid w)
{
	return (uint64_t)w.tag | (uint64_t)w.ext << WRID_TAG_BITS |
	       (uint64_t)w.rep << (WRID_TAG_BITS + WRID_EXT_BITS) |
	       (uint64_t)w.donor << WRID_DONOR_SHIFT |
	       (uint64_t)(w.gen & MEMXD_DONOR_GEN_MASK) << WRID_GEN_SHIFT;
}

static inline struct memxd_wrid memxd_wrid_unpack(uint64_t v)
{
	return (struct memxd_wrid){
		.tag = (uint32_t)(v & ((1U << WRID_TAG_BITS) - 1)),
		.ext = (unsigned int)(v >> WRID_TAG_BITS) & ((1U << WRID_EXT_BITS) - 1),
		.rep = (unsigned int)(v >> (WRID_TAG_BITS + WRID_EXT_BITS)) &
		       ((1U << WRID_REP_BITS) - 1),
		.donor = (unsigned int)(v >> WRID_DONOR_SHIFT) & ((1U << WRID_DONOR_BITS) - 1),
		.gen = (unsigned int)(v >> WRID_GEN_SHIFT) & MEMXD_DONOR_GEN_MASK,
	};
}

/* Control connections: what a completion on the control CQ is for. */
enum memxd_ctrl_wr_kind {
	MEMXD_CTRL_WR_RECV = 1,	/* a message from the donor, in receive slot `slot` */
	MEMXD_CTRL_WR_SEND = 2,	/* our request went out */
	MEMXD_CTRL_WR_RDMA = 3,	/* a background copy's READ or WRITE, in bounce slot `slot` */
};

struct memxd_ctrl_wrid {
	unsigned int donor;
	unsigned int kind;	/* enum memxd_ctrl_wr_kind */
	unsigned int slot;
	uint32_t seq;		/* MEMXD_CTRL_WR_RDMA: which copy or transfer (0 otherwise) */
};

_Static_assert(MEMXD_MAX_DONORS <= 1U << 16, "a donor must fit its control wr_id field");

static inline uint64_t memxd_ctrl_wrid_pack(struct memxd_ctrl_wrid w)
{
	return (uint64_t)w.seq << 32 | (uint64_t)(w.donor & 0xffff) << 16 |
	       (uint64_t)(w.kind & 0xff) << 8 | (w.slot & 0xff);
}

static inline struct memxd_ctrl_wrid memxd_ctrl_wrid_unpack(uint64_t v)
{
	return (struct memxd_ctrl_wrid){ .donor = (unsigned int)(v >> 16) & 0xffff,
					 .kind = (unsigned int)(v >> 8) & 0xff,
					 .slot = (unsigned int)v & 0xff,
					 .seq = (uint32_t)(v >> 32) };
}

#endif /* MEMXD_WRID_H */
