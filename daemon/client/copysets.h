/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copysets (Cidon et al., ATC'13): which donors may hold the replicas of one
 * slab together. With replicas placed freely, nearly every pair of donors
 * shares some slab once a volume is large, and any two donors failing at
 * once lose data (ci/sim: 40% of pairs for 64 GiB on 64 donors, all of them
 * for 1 TiB). Here the donors are cut into groups of R (the replica count),
 * from ceil(W / (R - 1)) random permutations for a scatter width W: each
 * donor shares groups with about W others, and only a whole group failing
 * loses a slab. Placement keeps its power of two choices for the first
 * replica; the others must complete a group with the replicas already there
 * (grants.c), or, when no group can, go anywhere rather than leave the slab
 * short. Groups never put two donors of one host together. Pure logic: the
 * simulators (sim/) use it on thousands of donors.
 */
#ifndef MEMXD_COPYSETS_H
#define MEMXD_COPYSETS_H

#include <stdbool.h>
#include <stdint.h>

struct memxd_copysets {
	unsigned int size;	/* donors per group: the replica count */
	unsigned int nr;	/* groups */
	uint32_t *member;	/* nr * size donor ids */
};

/* Says whether two donors share a host (they may not share a group). */
typedef bool (*memxd_same_host_fn)(uint32_t a, uint32_t b, void *arg);

/*
 * Builds groups of size (2 or 3) over the n donors in ids, for scatter width
 * width, replacing what cs held. rnd as placement's. Returns 0 or -ENOMEM.
 * With size < 2, width 0 or fewer than size donors there are no groups
 * (every placement is allowed).
 */
int memxd_copysets_build(struct memxd_copysets *cs, const uint32_t *ids, unsigned int n,
			 unsigned int size, unsigned int width, memxd_same_host_fn same_host,
			 void *host_arg, uint32_t (*rnd)(void *), void *rnd_arg);
void memxd_copysets_fini(struct memxd_copysets *cs);

/* Whether cand and the nr_have donors in have are all in one group. */
bool memxd_copysets_allow(const struct memxd_copysets *cs, const uint32_t *have, int nr_have,
			  uint32_t cand);

#endif /* MEMXD_COPYSETS_H */
