// SPDX-License-Identifier: GPL-2.0
/* Slab map: geometry, splitting of I/O into per-slab extents, whole-slab discard ranges. */
#include <criterion/criterion.h>
#include <errno.h>

#include "client/slabmap.h"

#define MiB (1ULL << 20)

Test(slabmap, geometry_and_bad_sizes)
{
	struct memxd_slabmap map;

	cr_assert_eq(memxd_slabmap_init(&map, 10 * MiB, 4 * MiB), 0);
	cr_expect_eq(map.nr_slabs, 3, "a short last slab counts");
	cr_expect_eq(map.slab_shift, 22);
	for (uint64_t i = 0; i < map.nr_slabs; i++)
		cr_expect_eq(memxd_slab_state(&map.slabs[i]), MEMXD_SLAB_UNMAPPED);
	memxd_slabmap_fini(&map);
	cr_expect_eq(memxd_slabmap_init(&map, 0, 4 * MiB), -EINVAL);
	cr_expect_eq(memxd_slabmap_init(&map, 10 * MiB + 512, 4 * MiB), -EINVAL);
	cr_expect_eq(memxd_slabmap_init(&map, 10 * MiB, 3 * MiB), -EINVAL);
	cr_expect_eq(memxd_slabmap_init(&map, 10 * MiB, MiB / 2), -EINVAL);
}

Test(slabmap, extents_split_at_slab_boundaries)
{
	struct memxd_slabmap map;
	struct memxd_extent ext[4];

	cr_assert_eq(memxd_slabmap_init(&map, 16 * MiB, MiB), 0);
	cr_assert_eq(memxd_slabmap_extents(&map, 4096, 8192, ext, 4), 1);
	cr_expect_eq(ext[0].slab, 0);
	cr_expect_eq(ext[0].slab_offset, 4096);
	cr_expect_eq(ext[0].len, 8192);

	cr_assert_eq(memxd_slabmap_extents(&map, 3 * MiB - 4096, 3 * 4096, ext, 4), 2);
	cr_expect_eq(ext[0].slab, 2);
	cr_expect_eq(ext[0].slab_offset, MiB - 4096);
	cr_expect_eq(ext[0].len, 4096);
	cr_expect_eq(ext[0].buf_offset, 0);
	cr_expect_eq(ext[1].slab, 3);
	cr_expect_eq(ext[1].slab_offset, 0);
	cr_expect_eq(ext[1].len, 8192);
	cr_expect_eq(ext[1].buf_offset, 4096);

	cr_expect_eq(memxd_slabmap_extents(&map, MiB - 4096, (uint32_t)(2 * MiB + 8192), ext, 2),
		     -E2BIG);
	cr_expect_eq(memxd_slabmap_extents(&map, 16 * MiB - 4096, 8192, ext, 4), -EINVAL);
	cr_expect_eq(memxd_slabmap_extents(&map, 0, 0, ext, 4), -EINVAL);
	cr_expect_eq(memxd_slabmap_extents(&map, UINT64_MAX - 4095, 8192, ext, 4), -EINVAL);
	memxd_slabmap_fini(&map);
}

Test(slabmap, whole_slabs_of_a_discard)
{
	struct memxd_slabmap map;
	uint64_t first, end;

	cr_assert_eq(memxd_slabmap_init(&map, 10 * MiB, 4 * MiB), 0);
	cr_expect_not(memxd_slabmap_whole_slabs(&map, 4096, 4 * MiB, &first, &end));
	cr_assert(memxd_slabmap_whole_slabs(&map, 4 * MiB, 4 * MiB, &first, &end));
	cr_expect_eq(first, 1);
	cr_expect_eq(end, 2);
	cr_assert(memxd_slabmap_whole_slabs(&map, 4096, 10 * MiB - 4096, &first, &end));
	cr_expect_eq(first, 1);
	cr_expect_eq(end, 3, "the short last slab is whole when the range reaches the end");
	cr_expect_not(memxd_slabmap_whole_slabs(&map, 8 * MiB, 4 * MiB, &first, &end));
	memxd_slabmap_fini(&map);
}

Test(slabmap, read_replica_skips_lost_ones)
{
	struct memxd_slab slab = { .nr_replicas = 2 };

	slab.replica[0] = (struct memxd_replica){ .donor = 4, .live = 0 };
	slab.replica[1] = (struct memxd_replica){ .donor = 7, .live = 1 };
	cr_assert_not_null(memxd_slab_read_replica(&slab));
	cr_expect_eq(memxd_slab_read_replica(&slab)->donor, 7);
	slab.replica[1].live = 0;
	cr_expect_null(memxd_slab_read_replica(&slab));
}

/* The transition table of slabmap.h, edge by edge: what may follow each state, and nothing else. */
Test(slabmap, state_edges)
{
	static const uint32_t allowed[][2] = {
		{ MEMXD_SLAB_UNMAPPED, MEMXD_SLAB_MAPPING },
		{ MEMXD_SLAB_MAPPING, MEMXD_SLAB_MAPPED },
		{ MEMXD_SLAB_MAPPING, MEMXD_SLAB_UNMAPPED },
		{ MEMXD_SLAB_MAPPED, MEMXD_SLAB_FREEING },
		{ MEMXD_SLAB_FREEING, MEMXD_SLAB_UNMAPPED },
		{ MEMXD_SLAB_FREEING, MEMXD_SLAB_MAPPED },
		{ MEMXD_SLAB_MAPPED, MEMXD_SLAB_MIGRATING },
		{ MEMXD_SLAB_MIGRATING, MEMXD_SLAB_MAPPED },
		{ MEMXD_SLAB_MIGRATING, MEMXD_SLAB_LOST },
		{ MEMXD_SLAB_MAPPED, MEMXD_SLAB_LOST },
		{ MEMXD_SLAB_LOST, MEMXD_SLAB_FREEING },
	};
	unsigned int nr_allowed = 0;

	for (uint32_t from = MEMXD_SLAB_UNMAPPED; from <= MEMXD_SLAB_FREEING; from++)
		for (uint32_t to = MEMXD_SLAB_UNMAPPED; to <= MEMXD_SLAB_FREEING; to++) {
			bool want = false;

			for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
				want |= allowed[i][0] == from && allowed[i][1] == to;
			cr_expect_eq(memxd_slab_edge(from, to), want, "%u -> %u", from, to);
			nr_allowed += memxd_slab_edge(from, to);
		}
	cr_expect_eq(nr_allowed, sizeof(allowed) / sizeof(allowed[0]));
}

/* A claim moves a slab only from the state it names, along an edge, and only once. */
Test(slabmap, claim_takes_a_slab_once)
{
	struct memxd_slab slab = { 0 };

	cr_expect_not(memxd_slab_claim(&slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_FREEING),
		      "an unmapped slab is not MAPPED");
	cr_expect_eq(memxd_slab_state(&slab), MEMXD_SLAB_UNMAPPED);
	cr_expect_not(memxd_slab_claim(&slab, MEMXD_SLAB_UNMAPPED, MEMXD_SLAB_LOST), "not an edge");
	cr_expect_eq(memxd_slab_state(&slab), MEMXD_SLAB_UNMAPPED);
	cr_assert(memxd_slab_claim(&slab, MEMXD_SLAB_UNMAPPED, MEMXD_SLAB_MAPPING));
	cr_expect_not(memxd_slab_claim(&slab, MEMXD_SLAB_UNMAPPED, MEMXD_SLAB_MAPPING),
		      "a second first write must wait, not map the slab again");
	memxd_slab_publish(&slab, MEMXD_SLAB_MAPPED);
	cr_assert(memxd_slab_claim(&slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_LOST));
	for (uint32_t to = MEMXD_SLAB_UNMAPPED; to < MEMXD_SLAB_FREEING; to++)
		cr_expect_not(memxd_slab_claim(&slab, MEMXD_SLAB_LOST, to),
			      "LOST leaves only by a whole-slab discard (-> %u)", to);
	cr_expect(memxd_slab_claim(&slab, MEMXD_SLAB_LOST, MEMXD_SLAB_FREEING));
}
