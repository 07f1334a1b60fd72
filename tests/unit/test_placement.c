// SPDX-License-Identifier: GPL-2.0
/* Placement: power of two choices on free memory; never a dead, full or excluded donor. */
#include <criterion/criterion.h>
#include <errno.h>

#include "placement.h"

static uint32_t xorshift(void *arg)
{
	uint32_t *s = arg;

	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

Test(placement, no_candidate_is_enospc)
{
	struct memx_donor_load d[3] = { { false, 1 << 30 }, { true, 100 }, { true, 1 << 30 } };
	uint32_t seed = 1, excl[1] = { 2 };

	cr_expect_eq(memx_place(d, 0, NULL, 0, 4096, xorshift, &seed), -ENOSPC);
	cr_expect_eq(memx_place(d, 3, excl, 1, 4096, xorshift, &seed), -ENOSPC);
}

Test(placement, never_dead_full_or_excluded)
{
	struct memx_donor_load d[5] = {
		{ true, 1ULL << 30 }, { false, 1ULL << 40 }, { true, 1 << 10 },
		{ true, 1ULL << 29 }, { true, 1ULL << 31 },
	};
	uint32_t seed = 12345, excl[1] = { 4 };

	for (int i = 0; i < 10000; i++) {
		int r = memx_place(d, 5, excl, 1, 1 << 20, xorshift, &seed);

		cr_assert(r == 0 || r == 3, "placed on donor %d", r);
	}
}

Test(placement, prefers_free_memory_and_balances)
{
	/* Equal donors: every donor gets a fair share of many placements. */
	struct memx_donor_load d[4];
	uint64_t count[4] = { 0 };
	uint32_t seed = 99;
	const uint64_t slab = 1 << 20;

	for (int i = 0; i < 4; i++)
		d[i] = (struct memx_donor_load){ true, 1000 * slab };
	for (int i = 0; i < 2000; i++) {
		int r = memx_place(d, 4, NULL, 0, slab, xorshift, &seed);

		cr_assert(r >= 0 && r < 4);
		d[r].free_bytes -= slab;
		count[r]++;
	}
	/* Two choices keep the spread tight: within 2 slabs of the mean here. */
	for (int i = 0; i < 4; i++)
		cr_expect(count[i] >= 498 && count[i] <= 502, "donor %d got %lu", i,
			  (unsigned long)count[i]);

	/* The emptier of two donors wins every time. */
	struct memx_donor_load two[2] = { { true, 10 * slab }, { true, 20 * slab } };

	for (int i = 0; i < 100; i++)
		cr_expect_eq(memx_place(two, 2, NULL, 0, slab, xorshift, &seed), 1);
}
