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
 * short. Groups never put two donors of one host together, nor two of one
 * zone (--zone, a rack) while the zones' sizes allow it: a group inside one
 * rack loses its slabs with the rack. With too few zones (one, or fewer than
 * R, or one holding more than 1/R of the donors) the fewest groups that must
 * share a zone do, and the caller says so (shared, zones, largest); placement
 * still keeps replicas apart while another zone has room (placement.h). Pure
 * logic: the simulators (sim/) use it on thousands of donors.
 */
#ifndef MEMXD_COPYSETS_H
#define MEMXD_COPYSETS_H

#include <stdbool.h>
#include <stdint.h>

struct memxd_copysets {
	unsigned int size;	/* donors per group: the replica count */
	unsigned int nr;	/* groups */
	uint32_t *member;	/* nr * size donor ids */
	/* What the last build saw, for the caller's log and status. */
	bool zoned;		/* some donor has a zone */
	unsigned int zones;	/* zones (a donor without one counts as its own) */
	unsigned int largest;	/* donors in the largest named zone */
	unsigned int shared;	/* groups with two donors of one zone: too few zones */
};

/*
 * Says whether two donors share a host, or a zone. For zones, same(a, a)
 * says whether a has one at all (a donor without a zone shares none).
 */
typedef bool (*memxd_same_fn)(uint32_t a, uint32_t b, void *arg);

/*
 * Builds groups of size (2 or 3) over the n donors in ids, for scatter width
 * width, replacing what cs held; same_host and same_zone (either may be
 * NULL: none shared) get arg. rnd as placement's. Returns 0 or -ENOMEM.
 * With size < 2, width 0 or fewer than size donors there are no groups
 * (every placement is allowed).
 */
int memxd_copysets_build(struct memxd_copysets *cs, const uint32_t *ids, unsigned int n,
			 unsigned int size, unsigned int width, memxd_same_fn same_host,
			 memxd_same_fn same_zone, void *arg, uint32_t (*rnd)(void *),
			 void *rnd_arg);
void memxd_copysets_fini(struct memxd_copysets *cs);

/* Whether cand and the nr_have donors in have are all in one group. */
bool memxd_copysets_allow(const struct memxd_copysets *cs, const uint32_t *have, int nr_have,
			  uint32_t cand);

#endif /* MEMXD_COPYSETS_H */
