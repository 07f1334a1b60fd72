/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a new slab goes: power of two choices among live donors by free
 * memory (Infiniswap): pick two distinct candidates at random, take the one
 * with more free memory. Replicas of one slab never share a donor.
 */
#ifndef MEMXD_PLACEMENT_H
#define MEMXD_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "client/copysets.h"

struct memxd_donor_load {
	bool live;		/* connected and taking slabs */
	uint64_t free_bytes;	/* last figure the donor reported, minus grants in flight */
};

/* A random source: returns a uniformly random 32-bit value. */
typedef uint32_t (*memxd_rand_fn)(void *arg);

/*
 * Chooses a donor for a slab of need bytes among n donors, skipping the
 * nr_exclude donors in exclude (those already holding a replica). Returns
 * the donor's index, or -ENOSPC when no live donor has room.
 */
int memxd_place(const struct memxd_donor_load *donors, int n, const uint32_t *exclude,
	       int nr_exclude, uint64_t need, memxd_rand_fn rnd, void *rnd_arg);

/*
 * How strict placement is, tier by tier (grants.c tries the strictest first,
 * then looser ones: a short slab is worse than a loose rule): both rules,
 * then zones alone, then copysets alone, then neither. Replicas never share
 * a zone while another zone has room; the host rule always holds.
 */
enum {
	MEMXD_PLACE_COPYSETS = 1 << 0,	/* complete a copyset with the replicas already there */
	MEMXD_PLACE_ZONES = 1 << 1,	/* avoid the replicas' zones */
};

/*
 * A client's donors as placement sees them: the engine (grants.c) answers
 * from its donor table, the simulator (sim/) from its cluster. Pure: no I/O.
 */
struct memxd_place_view {
	unsigned int nr_donors;
	uint64_t slab_bytes;
	bool repair;			/* a copy restoring redundancy: may use donors' reserve */
	/* Live, not giving memory back, and taking our slab size. */
	bool (*usable)(uint32_t d, void *arg);
	uint64_t (*free_bytes)(uint32_t d, void *arg);
	bool (*same_host)(uint32_t a, uint32_t b, void *arg);
	bool (*same_zone)(uint32_t a, uint32_t b, void *arg);	/* both in one named zone */
	void *arg;
	const struct memxd_copysets *copysets;
};

/*
 * Chooses the donor for a new replica of a slab whose replicas are on the
 * nr_exclude donors in exclude, never one of the nr_tried in tried (those
 * and donors that refused it), starting at tier *tier of the tiers above and
 * loosening it (*tier is left at the tier that found one) until a donor is
 * found. load is scratch of view->nr_donors entries. Returns the donor's
 * index or -ENOSPC.
 */
int memxd_place_replica(const struct memxd_place_view *view, const uint32_t *exclude,
		       int nr_exclude, const uint32_t *tried, int nr_tried, unsigned int *tier,
		       struct memxd_donor_load *load, memxd_rand_fn rnd, void *rnd_arg);

/*
 * How many more slabs of replicas copies each the donors can hold, replicas
 * of one slab on distinct donors, when donor i has room for slots[i] slabs:
 * the largest N with sum(min(slots[i], N)) >= replicas * N (a donor holds at
 * most one replica of each slab). replicas 0 counts as 1.
 */
uint64_t memxd_capacity_slabs(const uint64_t *slots, unsigned int n, unsigned int replicas);

#endif /* MEMXD_PLACEMENT_H */
