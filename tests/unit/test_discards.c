// SPDX-License-Identifier: GPL-2.0
/* The discarded-block map (client/discards.h): when is a slab discarded all over? */
#include <criterion/criterion.h>
#include <errno.h>

#include "client/discards.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)

static struct memxd_discards d;

static void setup(void)
{
	/* 10 MiB volume in 4 MiB slabs: slabs 0 and 1 whole, slab 2 half. */
	cr_assert_eq(memxd_discards_init(&d, 10 * MiB, 22), 0);
}

static void teardown(void)
{
	memxd_discards_fini(&d);
}

TestSuite(discards, .init = setup, .fini = teardown);

Test(discards, a_slab_discarded_piece_by_piece)
{
	for (int i = 0; i < 3; i++)
		cr_expect_not(memxd_discards_mark(&d, 1, 4 * MiB + i * MiB, MiB), "piece %d", i);
	cr_expect(memxd_discards_mark(&d, 1, 7 * MiB, MiB), "the last piece completes it");
	cr_expect_not(memxd_discards_mark(&d, 0, 0, MiB), "the slab next to it is not");
}

Test(discards, a_write_in_between_keeps_the_slab)
{
	memxd_discards_mark(&d, 0, 0, 2 * MiB);
	memxd_discards_clear(&d, 512 * KiB, 4 * KiB);	/* one block written again */
	cr_expect_not(memxd_discards_mark(&d, 0, 2 * MiB, 2 * MiB));
	cr_expect(memxd_discards_mark(&d, 0, 512 * KiB, 4 * KiB), "discarded again, it is whole");
}

Test(discards, only_blocks_covered_whole_count)
{
	/* 1 byte short at each end: the first and last blocks are not covered. */
	cr_expect_not(memxd_discards_mark(&d, 0, 1, 4 * MiB - 2));
	cr_expect_not(memxd_discards_mark(&d, 0, 0, 4 * KiB - 1));
	cr_expect_not(memxd_discards_mark(&d, 0, 0, 4 * KiB), "the first block: the last is left");
	cr_expect_not(memxd_discards_mark(&d, 0, 0, 0));
	cr_expect(memxd_discards_mark(&d, 0, 4 * MiB - 4 * KiB, 4 * KiB), "and the last");
}

Test(discards, a_write_touching_a_block_in_part_clears_it)
{
	memxd_discards_mark(&d, 0, 0, 4 * MiB - 4 * KiB);
	memxd_discards_clear(&d, 4 * MiB - 8 * KiB + 100, 1);	/* inside the last discarded block */
	cr_expect_not(memxd_discards_mark(&d, 0, 4 * MiB - 4 * KiB, 4 * KiB));
}

Test(discards, reset_and_the_short_last_slab)
{
	cr_expect(memxd_discards_mark(&d, 1, 4 * MiB, 4 * MiB));
	memxd_discards_reset_slab(&d, 1);
	cr_expect_not(memxd_discards_mark(&d, 1, 4 * MiB, MiB), "a remapped slab starts clean");
	/* Slab 2 is half outside the volume: never given back piece by piece. */
	cr_expect_not(memxd_discards_mark(&d, 2, 8 * MiB, 2 * MiB));
	memxd_discards_clear(&d, 9 * MiB, 4 * MiB);	/* past the end: no harm */
}

Test(discards, slabs_under_256_blocks_are_refused)
{
	struct memxd_discards small;

	cr_expect_eq(memxd_discards_init(&small, 4 * MiB, 19), -EINVAL);
}
