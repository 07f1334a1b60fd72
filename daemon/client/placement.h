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

#endif /* MEMXD_PLACEMENT_H */
